/*
 * test_text.c - the small text helpers: a peer's text made printable,
 * hex, and the optional error text.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "shim/text.h"

static void
clean_printable(void **state)
{
	char out[8];

	(void)state;
	text_clean(out, sizeof(out), "abc\tdef", 7);
	assert_string_equal(out, "abc?def");
	text_clean(out, sizeof(out), "a\x01\x7f\xff" "bcdefgh", 11);
	assert_string_equal(out, "a???bcd");
	text_clean(out, sizeof(out), "a\0b", 3);	/* NUL is a byte */
	assert_string_equal(out, "a?b");
}

/* A peer's CR or LF must never end a line of ours: the copy stops. */
static void
clean_stops_at_line_end(void **state)
{
	char out[8];

	(void)state;
	text_clean(out, sizeof(out), "ab\r\ncd", 6);
	assert_string_equal(out, "ab");
	text_clean(out, sizeof(out), "ab\ncd", 5);
	assert_string_equal(out, "ab");
	text_clean(out, sizeof(out), "\rabc", 4);
	assert_string_equal(out, "");
}

static void
clean_bounds(void **state)
{
	char out[8];

	(void)state;
	text_clean(out, sizeof(out), "abcdefghijkl", 12);
	assert_string_equal(out, "abcdefg");
	text_clean(out, sizeof(out), "abcdefghijkl", 3);	/* len counts */
	assert_string_equal(out, "abc");
	text_clean(out, 1, "abc", 3);
	assert_string_equal(out, "");
	out[0] = 'z';
	text_clean(out, 0, "abc", 3);		/* nothing written */
	assert_int_equal(out[0], 'z');
}

static void
hex_whole_and_cut(void **state)
{
	const unsigned char b[] = { 0x00, 0x0f, 0xa5, 0xff };
	char out[9], small[6];

	(void)state;
	assert_true(text_hex(out, sizeof(out), b, sizeof(b)));
	assert_string_equal(out, "000fa5ff");
	/* Room for two bytes and the NUL: cut, said, still terminated. */
	assert_false(text_hex(small, sizeof(small), b, sizeof(b)));
	assert_string_equal(small, "000f");
	assert_true(text_hex(out, sizeof(out), b, 0));
	assert_string_equal(out, "");
	small[0] = 'z';
	assert_false(text_hex(small, 0, b, 1));
	assert_int_equal(small[0], 'z');
}

static void
say_into_optional(void **state)
{
	char why[8];

	(void)state;
	say_into(why, sizeof(why), "%s %d", "error", 42);
	assert_string_equal(why, "error 4");		/* truncated */
	say_into(NULL, 100, "%s", "nobody asked");	/* no crash */
	why[0] = 'z';
	say_into(why, 0, "%s", "no room");
	assert_int_equal(why[0], 'z');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_printable),
		cmocka_unit_test(clean_stops_at_line_end),
		cmocka_unit_test(clean_bounds),
		cmocka_unit_test(hex_whole_and_cut),
		cmocka_unit_test(say_into_optional),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
