/*
 * test_linebuf.c - the bounded line buffer: lines, limits, storage, and
 * the bytes left over after a line (what the STARTTLS check relies on).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shim/linebuf.h"

/* feed - append a whole string, which must fit */
static void
feed(struct linebuf *lb, const char *s)
{
	assert_int_equal(lb_append(lb, s, strlen(s)), strlen(s));
}

/* expect_line - the next line must be exactly want */
static void
expect_line(struct linebuf *lb, const char *want)
{
	char	*line = NULL;
	size_t	 len = 0;

	assert_int_equal(lb_next(lb, &line, &len), LB_LINE);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(line, want, len);
	assert_int_equal(line[len], '\0');	/* NUL after the LF */
	assert_string_equal(line, want);
}

/* expect_res - lb_next must say res (LB_MORE or LB_TOOBIG) */
static void
expect_res(struct linebuf *lb, enum lb_res res)
{
	char	*line;
	size_t	 len;

	assert_int_equal(lb_next(lb, &line, &len), res);
}

static void
empty_buffer_holds_no_storage(void **state)
{
	struct linebuf lb;

	(void)state;
	lb_init(&lb, 16);
	assert_null(lb.buf);
	assert_int_equal(lb.cap, 16);
	assert_int_equal(lb_pending(&lb), 0);
	assert_int_equal(lb_space(&lb), 16);
	expect_res(&lb, LB_MORE);
	assert_null(lb.buf);
	assert_int_equal(lb_append(&lb, "x", 0), 0);
	assert_null(lb.buf);	/* nothing to store, nothing allocated */
	lb_clear(&lb);
	assert_null(lb.buf);
}

static void
lines_come_out_one_by_one(void **state)
{
	struct linebuf lb;

	(void)state;
	lb_init(&lb, 64);
	feed(&lb, "250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
	assert_non_null(lb.buf);
	expect_line(&lb, "250-mx.test\r\n");
	assert_int_equal(lb_pending(&lb), 30);
	expect_line(&lb, "250-PIPELINING\r\n");
	expect_line(&lb, "250 STARTTLS\r\n");
	assert_int_equal(lb_pending(&lb), 0);
	/* The last line stays readable until the next call, which then
	 * releases the storage. */
	expect_res(&lb, LB_MORE);
	assert_null(lb.buf);
	assert_int_equal(lb_space(&lb), 64);
	lb_clear(&lb);
}

static void
partial_line_waits_for_its_lf(void **state)
{
	struct linebuf lb;
	const char *msg = "220 mx.test ESMTP ready\r\n";

	(void)state;
	lb_init(&lb, 64);
	/* One byte at a time: a line appears only with its LF. */
	for (size_t i = 0; msg[i] != '\0'; i++) {
		assert_int_equal(lb_append(&lb, msg + i, 1), 1);
		if (msg[i + 1] != '\0')
			expect_res(&lb, LB_MORE);
	}
	expect_line(&lb, msg);
	expect_res(&lb, LB_MORE);
	/* Bare LF is a line end too; CR alone is not. */
	feed(&lb, "a\rb\nc");
	expect_line(&lb, "a\rb\n");
	expect_res(&lb, LB_MORE);
	assert_int_equal(lb_pending(&lb), 1);
	feed(&lb, "\n");
	expect_line(&lb, "c\n");
	lb_clear(&lb);
}

static void
bytes_after_a_line_are_kept_intact(void **state)
{
	struct linebuf lb;
	char *line, *line2;
	size_t len, len2;

	(void)state;
	/* An attacker's bytes right after "220 go ahead": the terminating
	 * NUL of the first line must not eat the first injected byte, and
	 * lb_pending() must count all of them. */
	lb_init(&lb, 64);
	feed(&lb, "220 go ahead\r\n250 injected\r\n");
	assert_int_equal(lb_next(&lb, &line, &len), LB_LINE);
	assert_string_equal(line, "220 go ahead\r\n");
	assert_int_equal(lb_pending(&lb), 14);
	assert_int_equal(lb_next(&lb, &line2, &len2), LB_LINE);
	assert_string_equal(line2, "250 injected\r\n");
	assert_int_equal(len2, 14);
	/* Without an LF the leftover is still counted. */
	feed(&lb, "220 ok\r\nX");
	expect_line(&lb, "220 ok\r\n");
	assert_int_equal(lb_pending(&lb), 1);
	lb_clear(&lb);
	assert_null(lb.buf);
	assert_int_equal(lb_pending(&lb), 0);
}

static void
too_long_line_is_refused(void **state)
{
	struct linebuf lb;

	(void)state;
	lb_init(&lb, 16);
	/* No LF and over the capacity: only cap bytes are taken. */
	assert_int_equal(lb_append(&lb, "EHLO aaaaaaaaaaaaaaaaaaaaa", 26), 16);
	assert_int_equal(lb_space(&lb), 0);
	assert_int_equal(lb_append(&lb, "a", 1), 0);
	expect_res(&lb, LB_TOOBIG);
	expect_res(&lb, LB_TOOBIG);		/* it stays so */
	lb_clear(&lb);
	assert_null(lb.buf);
	/* One byte under the capacity without an LF: just not done yet. */
	feed(&lb, "123456789012345");
	expect_res(&lb, LB_MORE);
	lb_clear(&lb);
}

static void
line_of_exactly_cap_bytes_fits(void **state)
{
	struct linebuf lb;

	(void)state;
	lb_init(&lb, 8);
	feed(&lb, "123456\r\n");		/* 8 bytes, LF included */
	assert_int_equal(lb_space(&lb), 0);
	expect_line(&lb, "123456\r\n");
	expect_res(&lb, LB_MORE);
	assert_null(lb.buf);
	/* The same right after a consumed line, in the same storage. */
	feed(&lb, "a\n");
	assert_int_equal(lb_append(&lb, "1234567\n", 8), 6);
	expect_line(&lb, "a\n");
	assert_int_equal(lb_append(&lb, "7\n", 2), 2);
	expect_line(&lb, "1234567\n");
	lb_clear(&lb);
}

static void
consumed_space_is_reused(void **state)
{
	struct linebuf lb;
	char want[16];

	(void)state;
	lb_init(&lb, 10);
	/* Many lines through a small buffer, with a partial line always
	 * pending, so the data must be moved to the front to fit. */
	feed(&lb, "l0");
	for (int i = 0; i < 100; i++) {
		char next[8];

		snprintf(next, sizeof(next), "\nl%d", (i + 1) % 10);
		feed(&lb, next);
		snprintf(want, sizeof(want), "l%d\n", i % 10);
		expect_line(&lb, want);
		assert_int_equal(lb_pending(&lb), 2);
		assert_int_equal(lb_space(&lb), 8);
	}
	lb_clear(&lb);
}

static void
partial_append_when_full(void **state)
{
	struct linebuf lb;

	(void)state;
	lb_init(&lb, 12);
	assert_int_equal(lb_append(&lb, "abc\ndefgh\nijklmn\n", 17), 12);
	assert_int_equal(lb_space(&lb), 0);
	expect_line(&lb, "abc\n");
	assert_int_equal(lb_space(&lb), 4);
	/* The caller appends the rest it still holds, as far as it fits. */
	assert_int_equal(lb_append(&lb, "klmn\n", 5), 4);
	expect_line(&lb, "defgh\n");
	expect_res(&lb, LB_MORE);
	assert_int_equal(lb_append(&lb, "\n", 1), 1);
	expect_line(&lb, "ijklmn\n");
	expect_res(&lb, LB_MORE);
	assert_null(lb.buf);
	lb_clear(&lb);
}

static void
binary_bytes_pass_through(void **state)
{
	struct linebuf lb;
	static const char data[] = { 'a', '\0', '\xff', '\r', '\n', 'b', '\n' };
	char *line;
	size_t len;

	(void)state;
	lb_init(&lb, 32);
	assert_int_equal(lb_append(&lb, data, sizeof(data)), sizeof(data));
	assert_int_equal(lb_next(&lb, &line, &len), LB_LINE);
	assert_int_equal(len, 5);		/* the NUL is just a byte */
	assert_memory_equal(line, data, 5);
	assert_int_equal(line[5], '\0');
	expect_line(&lb, "b\n");
	lb_clear(&lb);
}

static void
clear_drops_content(void **state)
{
	struct linebuf lb;

	(void)state;
	lb_init(&lb, 32);
	feed(&lb, "one\ntwo");
	lb_clear(&lb);
	assert_null(lb.buf);
	assert_int_equal(lb_pending(&lb), 0);
	assert_int_equal(lb_space(&lb), 32);
	expect_res(&lb, LB_MORE);
	/* Usable again after a clear. */
	feed(&lb, "three\n");
	expect_line(&lb, "three\n");
	lb_clear(&lb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_buffer_holds_no_storage),
		cmocka_unit_test(lines_come_out_one_by_one),
		cmocka_unit_test(partial_line_waits_for_its_lf),
		cmocka_unit_test(bytes_after_a_line_are_kept_intact),
		cmocka_unit_test(too_long_line_is_refused),
		cmocka_unit_test(line_of_exactly_cap_bytes_fits),
		cmocka_unit_test(consumed_space_is_reused),
		cmocka_unit_test(partial_append_when_full),
		cmocka_unit_test(binary_bytes_pass_through),
		cmocka_unit_test(clear_drops_content),
	};

	/* TAP whether or not the harness sets CMOCKA_MESSAGE_OUTPUT. */
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("linebuf", tests, NULL, NULL);
}
