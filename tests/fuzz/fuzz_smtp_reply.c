/*
 * fuzz_smtp_reply.c - libFuzzer target for the SMTP reply parser.
 *
 * The input is what a hostile server sends.  It is cut into lines by the
 * real line buffer (shim/linebuf.h, capped at SMTP_LINE_MAX as in the
 * session core), and each line goes to smtp_reply_line() as the plugin
 * feeds it.  Beyond what the sanitizers catch, the target checks the
 * parser's promises: an accepted line ends in CRLF and has no other CR,
 * LF or NUL; its code is 200..559 and the same on every line of a reply;
 * a reply never has more than SMTP_REPLY_MAX_LINES lines; the text handed
 * back lies inside the line; reasons are printable.  A broken promise is
 * an abort(), which the fuzzer and the replay driver both report.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugins/smtp_reply.h"
#include "shim/linebuf.h"
#include "shim/text.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

/* printable - a NUL-terminated string of printable ASCII */
static void
check_printable(const char *s, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && s[i] != '\0'; i++)
		CHECK(s[i] >= 0x20 && s[i] < 0x7f);
	CHECK(i < cap);
}

/* check_keyword - smtp_ehlo_keyword() agrees with its definition */
static void
check_keyword(const char *text, size_t len, const char *kw)
{
	size_t k = strlen(kw);
	bool want = len >= k && strncasecmp(text, kw, k) == 0 &&
	    (len == k || text[k] == ' ' || text[k] == '=');

	CHECK(smtp_ehlo_keyword(text, len, kw) == want);
}

/* check_line - feed one line and check what the parser says about it */
static void
check_line(struct smtp_reply *r, const char *line, size_t len)
{
	const char *text = NULL, *why = NULL;
	size_t textlen = 0;
	bool fresh = r->done || r->nlines == 0;
	unsigned before = fresh ? 0 : r->nlines;
	int prev = r->code;
	enum smtp_rp rc;
	int code;

	rc = smtp_reply_line(r, line, len, &text, &textlen, &why);
	if (rc == SRP_ERROR) {
		CHECK(why != NULL && why[0] != '\0');
		check_printable(why, 200);
		/* The session would end here; go on with a new reply. */
		smtp_reply_reset(r);
		return;
	}
	CHECK(rc == SRP_MORE || rc == SRP_DONE);
	CHECK(why == NULL);
	/* The line itself is well formed. */
	CHECK(len >= 5 && line[len - 2] == '\r' && line[len - 1] == '\n');
	CHECK(memchr(line, '\r', len - 2) == NULL);
	CHECK(memchr(line, '\n', len - 2) == NULL);
	CHECK(memchr(line, '\0', len - 2) == NULL);
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	CHECK(code >= 200 && code <= 559);
	CHECK(r->code == code);
	if (!fresh)
		CHECK(code == prev);
	CHECK(r->nlines == before + 1);
	CHECK(r->nlines >= 1 && r->nlines <= SMTP_REPLY_MAX_LINES);
	check_printable(r->first, sizeof(r->first));
	/* The text is the rest of the line, without CRLF. */
	CHECK(text >= line + 3 && text + textlen == line + len - 2);
	if (rc == SRP_MORE) {
		CHECK(!r->done && line[3] == '-');
	} else {
		CHECK(r->done);
		CHECK(len == 5 || line[3] == ' ');
	}
	check_keyword(text, textlen, "STARTTLS");
	check_keyword(text, textlen, "AUTH");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t left = size;
	struct linebuf lb;
	struct smtp_reply r;
	char clean[64];

	lb_init(&lb, SMTP_LINE_MAX);
	smtp_reply_reset(&r);
	while (left > 0) {
		size_t n = lb_append(&lb, p, left);

		p += n;
		left -= n;
		for (;;) {
			char *line;
			size_t len;
			enum lb_res res = lb_next(&lb, &line, &len);

			if (res == LB_MORE)
				break;
			if (res == LB_TOOBIG) {
				/* The session would end; start over. */
				CHECK(lb_pending(&lb) >= SMTP_LINE_MAX);
				lb_clear(&lb);
				smtp_reply_reset(&r);
				break;
			}
			CHECK(len >= 1 && len <= SMTP_LINE_MAX);
			CHECK(line[len - 1] == '\n' && line[len] == '\0');
			check_line(&r, line, len);
		}
	}
	/* A last line without LF is never a reply line. */
	if (lb_pending(&lb) > 0) {
		const char *why;

		CHECK(smtp_reply_line(&r, lb.buf + lb.r, lb_pending(&lb), NULL,
		    NULL, &why) == SRP_ERROR);
	}
	lb_clear(&lb);

	/* Peer text made printable stays printable and bounded. */
	text_clean(clean, sizeof(clean), (const char *)data, size);
	check_printable(clean, sizeof(clean));
	return 0;
}
