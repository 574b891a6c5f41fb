/*
 * test_io.c - the write path of shim/io.c through the real session core,
 * with a scripted upstream peer (harness.c): what a session writes while
 * it handles one read is gathered and sent at once, writes too big to
 * gather go straight out, and what the kernel does not take waits in the
 * queue that drives backpressure.
 *
 * What must hold, whatever the mix: every byte arrives, once, in order,
 * both ways; a slow reader pauses the other side instead of growing the
 * queue without bound.
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

#include "shim/result.h"
#include "tests/unit/harness.h"

/* body - lines of every length from 1 to 997 bytes, then the end of
 * data: record boundaries and read boundaries fall anywhere */
static char *
body(size_t lines, size_t *len)
{
	char *b = malloc(lines * 1000 + 8);
	size_t n = 0;

	assert_non_null(b);
	for (size_t i = 0; i < lines; i++) {
		size_t k = 1 + (i * 7919) % 997;

		for (size_t j = 0; j < k; j++)
			b[n + j] = (char)('a' + (i + j) % 26);
		memcpy(b + n + k, "\r\n", 2);
		n += k + 2;
	}
	memcpy(b + n, ".\r\n", 4);
	*len = n + 3;
	return b;
}

/* message - the client sends a message of lines lines; the peer must get
 * it exactly (the steps are the harness's own copy) */
static void
message(struct harness *h, bool tls, size_t lines, int peer_sleep_ms)
{
	size_t n;
	char *b = body(lines, &n);
	const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_GOOD),
		P_EXPECT("DATA\r\n"), P_SEND("354 go\r\n"),
		P_SLEEP(peer_sleep_ms),
		{ H_EXPECT_DATA, b, n, 0 },
		P_SEND("250 2.0.0 queued\r\n"),
		P_SMTP_QUIT, P_END
	};
	const struct h_step plain[] = {
		P_SMTP_GREET,
		P_EXPECT("DATA\r\n"), P_SEND("354 go\r\n"),
		P_SLEEP(peer_sleep_ms),
		{ H_EXPECT_DATA, b, n, 0 },
		P_SEND("250 2.0.0 queued\r\n"),
		P_SMTP_QUIT, P_END
	};
	const struct outcome *o;

	h_start(h, tls ? "security = verify\n" : "security = none\n",
	    tls ? script : plain);
	free(b);
	h_greeted(h, H_SMTP_GREETING);
	h_send(h, "DATA\r\n");
	h_expect(h, "354 go");
	b = body(lines, &n);
	h_sendn(h, b, n);
	free(b);
	h_expect(h, "250 2.0.0 queued\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	o = h_result(h, tls ? RES_TLS : RES_PLAINTEXT);
	assert_int_equal(o->bytes_out, strlen("DATA\r\nQUIT\r\n") + n);
	h_assert_peer_ok(h);
}

/* Inside TLS every read becomes several records, gathered into one
 * write; the peer reads as fast as it can. */
static void
tls_message_fast_reader(void **state)
{
	message(*state, true, 4000, 0);
}

/* The same while the peer does not read for a while: the gathered
 * writes meet a full socket buffer and queue, the client side pauses. */
static void
tls_message_slow_reader(void **state)
{
	message(*state, true, 4000, 700);
}

/* In plaintext a read is relayed as one write, too big to gather. */
static void
plain_message_slow_reader(void **state)
{
	message(*state, false, 4000, 700);
}

/* Server replies in several records that arrive together reach the
 * client whole and in order (the up side's writes to the client are
 * gathered too). */
static void
tls_replies_in_one_read(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_GOOD),
		P_EXPECT("NOOP\r\n"),
		P_SEND("250-one\r\n"), P_SEND("250-two\r\n"),
		P_SEND("250-three\r\n"), P_SEND("250 four\r\n"),
		P_EXPECT("NOOP\r\n"), P_SEND("250 five\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, "security = verify\n", script);
	h_greeted(h, H_SMTP_GREETING);
	/* The peer sends the four lines as four records, back to back. */
	h_send(h, "NOOP\r\n");
	h_expect(h, "250-one\r\n");
	h_expect(h, "250-two\r\n");
	h_expect(h, "250-three\r\n");
	h_expect(h, "250 four\r\n");
	h_send(h, "NOOP\r\n");
	h_expect(h, "250 five\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_TLS);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	const struct CMUnitTest tests[] = {
		T(tls_message_fast_reader),
		T(tls_message_slow_reader),
		T(plain_message_slow_reader),
		T(tls_replies_in_one_read),
	};
#undef T
	int rc;

	h_main_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	h_main_done();
	return rc;
}
