/*
 * fuzz_imap_resp.c - libFuzzer target for the IMAP response parsing.
 *
 * The input is what a hostile server sends, cut into lines by the real
 * line buffer (capped at IMAP_LINE_MAX as in the relay).  Each line goes
 * through imap_resp_parse(), imap_literal() and, for capability lists,
 * imap_caps_filter().  Beyond what the sanitizers catch, the target checks
 * the parsers' promises: pointers handed back lie inside the line, a tag
 * is NUL-terminated and short, a literal is never larger than
 * IMAP_LITERAL_MAX, and a filtered list never shows STARTTLS or COMPRESS
 * and fits its buffer.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugins/imap_parse.h"
#include "shim/linebuf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

static void
check_inside(const char *p, size_t n, const char *line, size_t len)
{
	if (p == NULL) {
		CHECK(n == 0);
		return;
	}
	CHECK(p >= line && p + n <= line + len);
}

static void
check_filter(const char *caps, size_t len)
{
	static const unsigned flags[] = { 0, CAPF_TLS, CAPF_NOAUTH };
	char out[256];

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		size_t n = imap_caps_filter(caps, len, flags[i], out,
		    sizeof(out));

		CHECK(n < sizeof(out) && out[n] == '\0');
		CHECK(!imap_cap_has(out, n, "STARTTLS"));
		CHECK(strncasecmp(out, "COMPRESS=", 9) != 0 &&
		    strcasestr(out, " COMPRESS=") == NULL);
		if (flags[i] == CAPF_TLS)
			CHECK(!imap_cap_has(out, n, "LOGINDISABLED"));
	}
}

static void
one_line(const char *line, size_t len)
{
	struct imap_resp r;
	uint64_t lit = 0;
	int rc;

	imap_resp_parse(line, len, &r);
	CHECK(strlen(r.tag) < IMAP_TAG_MAX);
	check_inside(r.atom, r.atomlen, line, len);
	check_inside(r.code, r.codelen, line, len);
	check_inside(r.text, r.textlen, line, len);
	rc = imap_literal(line, len, &lit);
	CHECK(rc >= -1 && rc <= 1);
	if (rc == 1)
		CHECK(lit <= IMAP_LITERAL_MAX);
	if (r.text != NULL)
		check_filter(r.text, r.textlen);
	if (r.code != NULL)
		check_filter(r.code, r.codelen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linebuf lb;
	const char *p = (const char *)data;
	char *line;
	size_t linelen, n;

	lb_init(&lb, 4096);
	while (size > 0) {
		n = lb_append(&lb, p, size);
		p += n;
		size -= n;
		for (;;) {
			enum lb_res r = lb_next(&lb, &line, &linelen);

			if (r == LB_MORE)
				break;
			if (r == LB_TOOBIG) {
				lb_clear(&lb);
				break;
			}
			one_line(line, linelen);
		}
		if (n == 0)
			break;
	}
	lb_clear(&lb);
	return 0;
}
