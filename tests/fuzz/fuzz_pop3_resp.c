/*
 * fuzz_pop3_resp.c - libFuzzer target for the POP3 response parser.
 *
 * The input is what a hostile server sends.  It is cut into lines by the
 * real line buffer (shim/linebuf.h, capped at POP3_LINE_MAX as in the
 * session core's negotiation), and each line goes both to pop3_status()
 * and to a capability list parser, as the plugin feeds them.  Beyond what
 * the sanitizers catch, the target checks the parser's promises: an
 * accepted line ends in CRLF and has no other CR, LF or NUL; its
 * indicator is what the result says; the text handed back is the rest of
 * the line; a capability list never has more than POP3_CAPA_MAX_LINES
 * lines and ends only at ".\r\n"; keyword matching agrees with its
 * definition; reasons and the keyword list are printable.  A broken
 * promise is an abort(), which the fuzzer and the replay driver both
 * report.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugins/pop3.h"
#include "plugins/pop3_resp.h"
#include "shim/linebuf.h"
#include "shim/text.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

/* check_printable - a NUL-terminated string of printable ASCII */
static void
check_printable(const char *s, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && s[i] != '\0'; i++)
		CHECK(s[i] >= 0x20 && s[i] < 0x7f);
	CHECK(i < cap);
}

/* well_formed - CRLF at the end only, no NUL */
static void
check_well_formed(const char *line, size_t len)
{
	CHECK(len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n');
	CHECK(memchr(line, '\r', len - 2) == NULL);
	CHECK(memchr(line, '\n', len - 2) == NULL);
	CHECK(memchr(line, '\0', len - 2) == NULL);
}

/* check_keyword - pop3_capa_keyword() agrees with its definition */
static bool
check_keyword(const char *line, size_t len, const char *kw)
{
	size_t k = strlen(kw);
	bool want;

	if (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n')
		len -= 2;
	if (len >= 1 && line[0] == '.') {
		line++;
		len--;
	}
	want = len >= k && strncasecmp(line, kw, k) == 0 &&
	    (len == k || line[k] == ' ');
	return want;
}

/* check_status - what pop3_status() says about one line */
static void
check_status(const char *line, size_t len)
{
	const char *text = NULL, *why = NULL;
	size_t textlen = 0, skip;
	enum pop3_st st;

	st = pop3_status(line, len, &text, &textlen, &why);
	if (st == POP3_BAD) {
		CHECK(why != NULL && why[0] != '\0');
		check_printable(why, 200);
		return;
	}
	CHECK(why == NULL);
	check_well_formed(line, len);
	switch (st) {
	case POP3_OK:
		CHECK(len >= 5 && memcmp(line, "+OK", 3) == 0);
		skip = 3;
		break;
	case POP3_ERR:
		CHECK(len >= 6 && memcmp(line, "-ERR", 4) == 0);
		skip = 4;
		break;
	case POP3_CONT:
		CHECK(line[0] == '+');
		/* Never an "+OK" status taken for a continuation. */
		CHECK(!(len >= 5 && memcmp(line, "+OK", 3) == 0 &&
		    (len == 5 || line[3] == ' ')));
		skip = 1;
		break;
	default:
		abort();
	}
	/* The indicator stands alone or is followed by a space, and the
	 * text is the rest of the line without CRLF. */
	CHECK(len - 2 == skip || line[skip] == ' ');
	CHECK(text >= line + skip && text <= line + len - 2);
	CHECK(text + textlen == line + len - 2);
}

/* check_capa - feed one line to a capability list being read */
static void
check_capa(struct pop3_capa *c, const char *line, size_t len)
{
	struct pop3_capa before = *c;
	const char *why = NULL;
	enum pop3_cp cp;

	cp = pop3_capa_line(c, line, len, &why);
	if (cp == PCP_ERROR) {
		CHECK(why != NULL && why[0] != '\0');
		check_printable(why, 200);
		/* The session would end here; start a new list. */
		pop3_capa_reset(c);
		return;
	}
	CHECK(why == NULL);
	check_well_formed(line, len);
	if (cp == PCP_DONE) {
		CHECK(pop3_is_end(line, len));
		CHECK(len == 3 && memcmp(line, ".\r\n", 3) == 0);
		CHECK(c->done && c->nlines == before.nlines);
		pop3_capa_reset(c);
		return;
	}
	CHECK(cp == PCP_MORE);
	CHECK(!pop3_is_end(line, len));
	CHECK(c->nlines == before.nlines + 1);
	CHECK(c->nlines >= 1 && c->nlines <= POP3_CAPA_MAX_LINES);
	/* Flags are only ever set, and only by their keyword. */
	CHECK(c->stls == (before.stls || check_keyword(line, len, "STLS")));
	CHECK(c->user == (before.user || check_keyword(line, len, "USER")));
	CHECK(c->sasl == (before.sasl || check_keyword(line, len, "SASL")));
	check_printable(c->list, sizeof(c->list));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t left = size;
	struct linebuf lb;
	struct pop3_capa c;
	char clean[64];

	lb_init(&lb, POP3_LINE_MAX);
	pop3_capa_reset(&c);
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
				CHECK(lb_pending(&lb) >= POP3_LINE_MAX);
				lb_clear(&lb);
				pop3_capa_reset(&c);
				break;
			}
			CHECK(len >= 1 && len <= POP3_LINE_MAX);
			CHECK(line[len - 1] == '\n' && line[len] == '\0');
			check_status(line, len);
			check_capa(&c, line, len);
			CHECK(pop3_capa_keyword(line, len, "STLS") ==
			    check_keyword(line, len, "STLS"));
			CHECK(pop3_capa_keyword(line, len, "SASL") ==
			    check_keyword(line, len, "SASL"));
		}
	}
	/* A last line without LF is never a status or capability line. */
	if (lb_pending(&lb) > 0) {
		const char *why;

		CHECK(pop3_status(lb.buf + lb.r, lb_pending(&lb), NULL, NULL,
		    &why) == POP3_BAD);
		pop3_capa_reset(&c);
		CHECK(pop3_capa_line(&c, lb.buf + lb.r, lb_pending(&lb),
		    &why) == PCP_ERROR);
	}
	lb_clear(&lb);

	/* Peer text made printable stays printable and bounded. */
	text_clean(clean, sizeof(clean), (const char *)data, size);
	check_printable(clean, sizeof(clean));
	return 0;
}
