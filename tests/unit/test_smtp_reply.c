/*
 * test_smtp_reply.c - the SMTP reply parser (plugins/smtp_reply.c) alone:
 * single and multi-line replies, every way a line can be malformed, the
 * line-count bound, EHLO keyword matching and sanitizing peer text.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/smtp_reply.h"

/* feed - one line (a C string) into r; text and why as parsed */
static enum smtp_rp
feedn(struct smtp_reply *r, const char *line, size_t len, const char **text,
    size_t *textlen, const char **why)
{
	return smtp_reply_line(r, line, len, text, textlen, why);
}

static enum smtp_rp
feed(struct smtp_reply *r, const char *line, const char **text,
    size_t *textlen, const char **why)
{
	return feedn(r, line, strlen(line), text, textlen, why);
}

/* expect_error - line (after the lines in before) is refused, with a
 * reason containing want */
static void
expect_error_n(const char *const *before, const char *line, size_t len,
    const char *want)
{
	struct smtp_reply r;
	const char *text = NULL, *why = NULL;
	size_t textlen = 0;

	smtp_reply_reset(&r);
	for (size_t i = 0; before != NULL && before[i] != NULL; i++)
		assert_int_equal(feed(&r, before[i], &text, &textlen, &why),
		    SRP_MORE);
	assert_int_equal(feedn(&r, line, len, &text, &textlen, &why),
	    SRP_ERROR);
	assert_non_null(why);
	if (strstr(why, want) == NULL)
		fail_msg("reason \"%s\" does not contain \"%s\"", why, want);
}

static void
expect_error(const char *line, const char *want)
{
	expect_error_n(NULL, line, strlen(line), want);
}

static void
single_line(void **state)
{
	struct smtp_reply r;
	const char *text, *why = "x";
	size_t textlen;

	(void)state;
	smtp_reply_reset(&r);
	assert_int_equal(r.code, 0);
	assert_int_equal(feed(&r, "220 mx.test ESMTP\r\n", &text, &textlen,
	    &why), SRP_DONE);
	assert_null(why);
	assert_int_equal(r.code, 220);
	assert_int_equal(r.nlines, 1);
	assert_true(r.done);
	assert_int_equal(textlen, strlen("mx.test ESMTP"));
	assert_memory_equal(text, "mx.test ESMTP", textlen);
	assert_string_equal(r.first, "220 mx.test ESMTP");
}

static void
multi_line(void **state)
{
	struct smtp_reply r;
	const char *text, *why;
	size_t textlen;

	(void)state;
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250-mx.test\r\n", &text, &textlen, &why),
	    SRP_MORE);
	assert_false(r.done);
	assert_int_equal(r.code, 250);
	assert_int_equal(feed(&r, "250-PIPELINING\r\n", &text, &textlen,
	    &why), SRP_MORE);
	assert_memory_equal(text, "PIPELINING", textlen);
	assert_int_equal(textlen, 10);
	assert_int_equal(feed(&r, "250 STARTTLS\r\n", &text, &textlen, &why),
	    SRP_DONE);
	assert_memory_equal(text, "STARTTLS", textlen);
	assert_int_equal(r.nlines, 3);
	assert_true(r.done);
	/* The first line names the reply. */
	assert_string_equal(r.first, "250-mx.test");
}

/* After a complete reply, the next line starts a new one. */
static void
next_reply_starts_fresh(void **state)
{
	struct smtp_reply r;
	const char *text, *why;
	size_t textlen;

	(void)state;
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250-a\r\n", &text, &textlen, &why),
	    SRP_MORE);
	assert_int_equal(feed(&r, "250 b\r\n", &text, &textlen, &why),
	    SRP_DONE);
	/* A different code is fine now. */
	assert_int_equal(feed(&r, "354 go\r\n", &text, &textlen, &why),
	    SRP_DONE);
	assert_int_equal(r.code, 354);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.first, "354 go");
}

static void
code_only(void **state)
{
	struct smtp_reply r;
	const char *text, *why;
	size_t textlen = 99;

	(void)state;
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250\r\n", &text, &textlen, &why),
	    SRP_DONE);
	assert_int_equal(r.code, 250);
	assert_int_equal(textlen, 0);
	/* A hyphen with nothing after it continues the reply. */
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250-\r\n", &text, &textlen, &why),
	    SRP_MORE);
	assert_int_equal(textlen, 0);
	assert_int_equal(feed(&r, "250 \r\n", &text, &textlen, &why),
	    SRP_DONE);
	assert_int_equal(textlen, 0);
}

/* text is optional. */
static void
text_optional(void **state)
{
	struct smtp_reply r;
	const char *why;

	(void)state;
	smtp_reply_reset(&r);
	assert_int_equal(smtp_reply_line(&r, "250 ok\r\n", 8, NULL, NULL,
	    &why), SRP_DONE);
}

static void
extreme_codes(void **state)
{
	struct smtp_reply r;
	const char *text, *why;
	size_t textlen;

	(void)state;
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "200 x\r\n", &text, &textlen, &why),
	    SRP_DONE);
	assert_int_equal(r.code, 200);
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "559 x\r\n", &text, &textlen, &why),
	    SRP_DONE);
	assert_int_equal(r.code, 559);
}

static void
mismatched_codes(void **state)
{
	static const char *const b1[] = { "250-mx.test\r\n", NULL };
	static const char *const b2[] = { "250-a\r\n", "250-b\r\n", NULL };

	(void)state;
	expect_error_n(b1, "251 STARTTLS\r\n", 14, "mismatched codes");
	expect_error_n(b2, "550 no\r\n", 8, "mismatched codes");
	expect_error_n(b1, "250x\r\n", 6, "space or hyphen");
}

static void
bad_codes(void **state)
{
	(void)state;
	expect_error("600 x\r\n", "reply code");
	expect_error("199 x\r\n", "reply code");
	expect_error("099 x\r\n", "reply code");
	expect_error("2x0 x\r\n", "reply code");
	expect_error("25x x\r\n", "reply code");
	expect_error("260 x\r\n", "reply code");	/* 2nd digit 0-5 */
	expect_error("25\r\n", "reply code");
	expect_error("\r\n", "reply code");
	expect_error(" 250 x\r\n", "reply code");
	expect_error("+OK x\r\n", "reply code");
	expect_error("2500 x\r\n", "space or hyphen");
	expect_error("250_x\r\n", "space or hyphen");
	expect_error("250\tx\r\n", "space or hyphen");
}

static void
missing_crlf(void **state)
{
	(void)state;
	expect_error("250 ok", "CRLF");
	expect_error("250 ok\n", "CRLF");
	expect_error("250 ok\r", "CRLF");
	expect_error("250 ok\n\r", "CRLF");
	expect_error("\n", "CRLF");
	expect_error_n(NULL, "", 0, "CRLF");
}

static void
bare_cr_or_lf_inside(void **state)
{
	(void)state;
	expect_error("250 o\rk\r\n", "bare CR or LF");
	expect_error("250 o\nk\r\n", "bare CR or LF");
	expect_error("250 ok\r\r\n", "bare CR or LF");
	expect_error("250-a\r\n250 b\r\n", "bare CR or LF");
}

static void
nul_inside(void **state)
{
	static const char a[] = "250 o\0k\r\n", b[] = "250 ok\0\r\n";

	expect_error_n(NULL, a, sizeof(a) - 1, "NUL");
	expect_error_n(NULL, b, sizeof(b) - 1, "NUL");
	(void)state;
}

static void
line_count_bound(void **state)
{
	struct smtp_reply r;
	const char *text, *why;
	size_t textlen;

	(void)state;
	/* 200 lines are fine: 199 continuations and a last line. */
	smtp_reply_reset(&r);
	for (int i = 0; i < SMTP_REPLY_MAX_LINES - 1; i++)
		assert_int_equal(feed(&r, "250-x\r\n", &text, &textlen, &why),
		    SRP_MORE);
	assert_int_equal(feed(&r, "250 x\r\n", &text, &textlen, &why),
	    SRP_DONE);
	assert_int_equal(r.nlines, SMTP_REPLY_MAX_LINES);
	/* The 201st line is refused, whether it would end or not. */
	smtp_reply_reset(&r);
	for (int i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		assert_int_equal(feed(&r, "250-x\r\n", &text, &textlen, &why),
		    SRP_MORE);
	assert_int_equal(feed(&r, "250-x\r\n", &text, &textlen, &why),
	    SRP_ERROR);
	assert_non_null(strstr(why, "too many lines"));
	smtp_reply_reset(&r);
	for (int i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		(void)feed(&r, "250-x\r\n", &text, &textlen, &why);
	assert_int_equal(feed(&r, "250 x\r\n", &text, &textlen, &why),
	    SRP_ERROR);
}

/* The first line is kept for reasons, bounded and printable only. */
static void
first_line_sanitized(void **state)
{
	struct smtp_reply r;
	const char *text, *why;
	size_t textlen;
	char line[400];

	(void)state;
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "554 a\x01\x7f\xff" "b\x1b[31m\r\n", &text,
	    &textlen, &why), SRP_DONE);
	assert_string_equal(r.first, "554 a???b?[31m");

	memcpy(line, "554 ", 4);
	memset(line + 4, 'x', 300);
	memcpy(line + 304, "\r\n", 3);
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, line, &text, &textlen, &why), SRP_DONE);
	assert_int_equal(strlen(r.first), sizeof(r.first) - 1);
	assert_int_equal(textlen, 300);
}

#define KW(text, kw)	smtp_ehlo_keyword((text), strlen(text), (kw))

static void
ehlo_keyword(void **state)
{
	(void)state;
	assert_true(KW("STARTTLS", "STARTTLS"));
	assert_true(KW("starttls", "STARTTLS"));
	assert_true(KW("StartTLS", "STARTTLS"));
	assert_false(KW("STARTTLSX", "STARTTLS"));
	assert_false(KW("STARTTL", "STARTTLS"));
	assert_false(KW("X-STARTTLS", "STARTTLS"));
	assert_false(KW(" STARTTLS", "STARTTLS"));
	assert_false(KW("", "STARTTLS"));
	assert_true(KW("STARTTLS param", "STARTTLS"));
	assert_true(KW("AUTH PLAIN", "AUTH"));
	assert_true(KW("AUTH PLAIN LOGIN CRAM-MD5", "AUTH"));
	assert_true(KW("AUTH=LOGIN", "AUTH"));
	assert_true(KW("auth=login plain", "AUTH"));
	assert_true(KW("AUTH", "AUTH"));
	assert_false(KW("AUTHX", "AUTH"));
	assert_false(KW("AUTH-X", "AUTH"));
	assert_false(KW("AUT", "AUTH"));
	/* Only the first len bytes count. */
	assert_true(smtp_ehlo_keyword("STARTTLSX", 8, "STARTTLS"));
	assert_false(smtp_ehlo_keyword("STARTTLS", 7, "STARTTLS"));
}

/* The text handed back is the line's own, for keyword matching. */
static void
text_for_keywords(void **state)
{
	struct smtp_reply r;
	const char *text, *why;
	size_t textlen;

	(void)state;
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250-mx.test\r\n", &text, &textlen, &why),
	    SRP_MORE);
	assert_false(smtp_ehlo_keyword(text, textlen, "STARTTLS"));
	assert_int_equal(feed(&r, "250-STARTTLS\r\n", &text, &textlen, &why),
	    SRP_MORE);
	assert_true(smtp_ehlo_keyword(text, textlen, "STARTTLS"));
	assert_int_equal(feed(&r, "250 AUTH=LOGIN\r\n", &text, &textlen,
	    &why), SRP_DONE);
	assert_true(smtp_ehlo_keyword(text, textlen, "AUTH"));
	assert_false(smtp_ehlo_keyword(text, textlen, "STARTTLS"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_line),
		cmocka_unit_test(multi_line),
		cmocka_unit_test(next_reply_starts_fresh),
		cmocka_unit_test(code_only),
		cmocka_unit_test(text_optional),
		cmocka_unit_test(extreme_codes),
		cmocka_unit_test(mismatched_codes),
		cmocka_unit_test(bad_codes),
		cmocka_unit_test(missing_crlf),
		cmocka_unit_test(bare_cr_or_lf_inside),
		cmocka_unit_test(nul_inside),
		cmocka_unit_test(line_count_bound),
		cmocka_unit_test(first_line_sanitized),
		cmocka_unit_test(ehlo_keyword),
		cmocka_unit_test(text_for_keywords),
	};

	if (getenv("CMOCKA_MESSAGE_OUTPUT") == NULL)
		cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
