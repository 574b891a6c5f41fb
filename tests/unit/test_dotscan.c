/*
 * test_dotscan.c - the CRLF.CRLF scanner against a plain reference, on
 * random content of CR, LF, dots and letters fed in random pieces, and on
 * the cases that matter by name.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/dotscan.h"

/* ref_end - bytes of content up to and including the end marker, the
 * start of content counting as after CRLF; -1 when there is none */
static long
ref_end(const char *c, size_t n)
{
	char t[128];

	memcpy(t, "\r\n", 2);
	memcpy(t + 2, c, n);
	for (size_t i = 0; i + 5 <= n + 2; i++)
		if (memcmp(t + i, "\r\n.\r\n", 5) == 0)
			return (long)(i + 3);
	return -1;
}

/* scan - feed c in pieces of at most piece bytes (0: random) */
static long
scan(const char *c, size_t n, size_t piece)
{
	struct dotscan d;
	size_t pos = 0;

	dotscan_reset(&d);
	while (pos < n) {
		size_t chunk = piece > 0 ? piece : 1 + (size_t)rand() % (n - pos);
		bool end;
		size_t k;

		if (chunk > n - pos)
			chunk = n - pos;
		k = dotscan_feed(&d, c + pos, chunk, &end);
		pos += k;
		if (end)
			return (long)pos;
		assert_int_equal(k, chunk);
	}
	return -1;
}

static void
named_cases(void **state)
{
	static const struct { const char *c; long end; } cases[] = {
		{ ".\r\n", 3 },				/* empty content */
		{ "a\r\n.\r\n", 6 },
		{ "a\r\n..\r\n.\r\n", 10 },		/* a stuffed dot first */
		{ "a\n.\n", -1 },			/* bare LF: not an end */
		{ "a\n.\r\n", -1 },
		{ "a\r\n.\n", -1 },
		{ "a.\r\n", -1 },
		{ "a\r\r\n.\r\nrest", 7 },
		{ "Mr. Smith.\r\n.\r\nQUIT\r\n", 15 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].c);

		assert_int_equal(ref_end(cases[i].c, n), cases[i].end);
		for (size_t piece = 0; piece <= n; piece++)
			assert_int_equal(scan(cases[i].c, n, piece),
			    cases[i].end);
	}
}

static void
random_against_reference(void **state)
{
	static const char alphabet[] = "\r\n.x";
	char c[64];

	(void)state;
	srand(7);
	for (int iter = 0; iter < 200000; iter++) {
		size_t n = (size_t)rand() % 40;

		for (size_t i = 0; i < n; i++)
			c[i] = alphabet[rand() % 4];
		assert_int_equal(scan(c, n, 0), ref_end(c, n));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(named_cases),
		cmocka_unit_test(random_against_reference),
	};

	return cmocka_run_group_tests_name("dotscan", tests, NULL, NULL);
}
