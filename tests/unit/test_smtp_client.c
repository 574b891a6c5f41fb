/*
 * test_smtp_client.c - the SMTP plugin talking a server up to TLS, run
 * through the real session core against scripted peers (harness.c).
 *
 * Each test checks three things: the session's record (result, reason,
 * TLS details), what the legacy client received, and what the upstream
 * peer received.  The cases follow the attack catalogue's section 2
 * (STARTTLS-ATTACKS.md): stripping, refusal, nonsense codes, response
 * injection, overlong and malformed replies, certificate failures.
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

#define WAIT	10000		/* ms for a session record */

/* The upstream's side of the negotiation, with P_SMTP_* (harness.h): an
 * EHLO reply that offers more than STARTTLS, or does not offer it. */
#define OFFER		"250-mx.test\r\n250-PIPELINING\r\n" \
			"250-SIZE 10240000\r\n250 STARTTLS\r\n"
#define OFFER_TLS	P_SEND(OFFER)
#define NO_OFFER	P_SEND("250-mx.test\r\n250-PIPELINING\r\n" \
			    "250 SIZE 10240000\r\n")
#define TO_TLS(cert)	P_SMTP_TO_TLS_EHLO(OFFER, cert)

/* The upstream's side of one mail transaction relayed for the client
 * (see client_mail). */
#define PEER_MAIL \
	P_EXPECT("EHLO client.test\r\n"), \
	P_SEND("250-mx.test greets client.test\r\n250 8BITMIME\r\n"), \
	P_EXPECT("MAIL FROM:<a@client.test>\r\n"), \
	P_SEND("250 2.1.0 Ok\r\n"), \
	P_EXPECT("RCPT TO:<b@mx.test>\r\n"), \
	P_SEND("250 2.1.5 Ok\r\n"), \
	P_EXPECT("DATA\r\n"), \
	P_SEND("354 End data with <CR><LF>.<CR><LF>\r\n"), \
	P_EXPECT("Subject: test\r\n"), \
	P_EXPECT("\r\n"), \
	P_EXPECT("Hello.\r\n"), \
	P_EXPECT(".\r\n"), \
	P_SEND("250 2.0.0 Ok: queued as 4711\r\n"), \
	P_SMTP_QUIT

/* client_mail_greeted - the legacy client, greeted, sends one message */
static void
client_mail_greeted(struct harness *h)
{
	h_send(h, "EHLO client.test\r\n");
	h_expect(h, "250-mx.test greets client.test\r\n");
	h_expect(h, "250 8BITMIME\r\n");
	h_send(h, "MAIL FROM:<a@client.test>\r\n");
	h_expect(h, "250 2.1.0 Ok\r\n");
	h_send(h, "RCPT TO:<b@mx.test>\r\n");
	h_expect(h, "250 2.1.5 Ok\r\n");
	h_send(h, "DATA\r\n");
	h_expect(h, "354 ");
	h_send(h, "Subject: test\r\n\r\nHello.\r\n.\r\n");
	h_expect(h, "250 2.0.0 Ok: queued as 4711\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
}

/* client_mail - the legacy client sends one message through tlshim */
static void
client_mail(struct harness *h)
{
	h_greeted(h, H_SMTP_GREETING);
	client_mail_greeted(h);
}

/* ------------------------------------------------- STARTTLS not offered */

static void
no_starttls_may_relays_plaintext(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, NO_OFFER, PEER_MAIL, P_END
	};
	const struct outcome *o;

	h_start(h, "security = may\n", script);
	client_mail(h);
	o = h_result(h, RES_PLAINTEXT);
	h_assert_has(o->reason, "STARTTLS not offered");
	assert_false(o->starttls_offered);
	h_assert_no_tls(o);
	h_assert_peer_ok(h);
	/* The peer saw tlshim's EHLO, then the client's conversation, and
	 * no STARTTLS in between. */
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "STARTTLS");
	assert_int_equal(h_peer_nconn(h), 1);
}

static void
no_starttls_encrypt_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, NO_OFFER, P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;
	const char *got;

	h_start(h, "security = encrypt\n", script);
	got = h_refused(h, H_SMTP_REFUSED);
	h_assert_has(got, "STARTTLS not offered");
	o = h_result(h, RES_REFUSED);
	h_assert_has(o->reason, "STARTTLS not offered");
	h_assert_has(o->reason, "security = encrypt requires TLS");
	assert_false(o->starttls_offered);
	h_assert_peer_ok(h);
	h_assert_peer_nothing_after(h, "QUIT\r\n");
}

static void
no_starttls_verify_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, NO_OFFER, P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;

	h_start(h, "security = verify\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_REFUSED);
	h_assert_has(o->reason, "security = verify requires TLS");
	h_assert_peer_ok(h);
}

/* STARTTLS in lower case, with parameters after it, still counts. */
static void
starttls_keyword_case_insensitive(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO,
		P_SEND("250-mx.test\r\n250-starttls\r\n250 SIZE 1000\r\n"),
		P_SMTP_ASK_TLS, P_SMTP_GO_TLS, P_TLS(H_CERT_GOOD), PEER_MAIL,
		P_END
	};
	const struct outcome *o;

	h_start(h, "security = verify\n", script);
	client_mail(h);
	o = h_result(h, RES_TLS);
	assert_true(o->starttls_offered);
	h_assert_peer_ok(h);
}

/* "STARTTLSX" is another extension: no STARTTLS offered. */
static void
starttls_lookalike_not_offered(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO,
		P_SEND("250-mx.test\r\n250-STARTTLSX\r\n250 X-STARTTLS\r\n"),
		P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;

	h_start(h, "security = encrypt\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_REFUSED);
	assert_false(o->starttls_offered);
	h_assert_peer_ok(h);
}

/* ------------------------------------------- STARTTLS refused by code */

/* refused_starttls - the server offers STARTTLS and answers it with
 * reply; may goes on in plaintext on the same connection, encrypt
 * refuses */
static void
refused_starttls(struct harness *h, const char *reply, bool may)
{
	const struct h_step may_script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SENDS(reply), PEER_MAIL, P_END
	};
	const struct h_step enc_script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SENDS(reply), P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;
	char code[4];

	snprintf(code, sizeof(code), "%s", reply);
	h_start(h, may ? "security = may\n" : "security = encrypt\n",
	    may ? may_script : enc_script);
	if (may)
		client_mail(h);
	else
		h_assert_has(h_refused(h, H_SMTP_REFUSED), code);
	o = h_result(h, may ? RES_PLAINTEXT : RES_REFUSED);
	h_assert_has(o->reason, "refused it");
	h_assert_has(o->reason, code);
	if (!may)
		h_assert_has(o->reason, "requires TLS");
	assert_true(o->starttls_offered);
	h_assert_no_tls(o);
	h_assert_peer_ok(h);
	assert_int_equal(h_peer_nconn(h), 1);
	if (!may)
		h_assert_peer_nothing_after(h, "QUIT\r\n");
}

static void
starttls_454_may(void **state)
{
	refused_starttls(*state, "454 4.7.0 TLS not available due to "
	    "temporary reason\r\n", true);
}

static void
starttls_454_encrypt(void **state)
{
	refused_starttls(*state, "454 4.7.0 TLS not available due to "
	    "temporary reason\r\n", false);
}

static void
starttls_502_may(void **state)
{
	refused_starttls(*state, "502 5.5.1 Command not implemented\r\n",
	    true);
}

static void
starttls_502_encrypt(void **state)
{
	refused_starttls(*state, "502 5.5.1 Command not implemented\r\n",
	    false);
}

static void
starttls_554_may(void **state)
{
	refused_starttls(*state, "554 5.7.0 no TLS for you\r\n", true);
}

static void
starttls_554_encrypt(void **state)
{
	refused_starttls(*state, "554 5.7.0 no TLS for you\r\n", false);
}

/* nonsense_starttls - only 220 starts TLS; a 2xx/3xx other than 220, or
 * 421, leaves the server in an unknown state: fail, even under may */
static void
nonsense_starttls(struct harness *h, const char *reply)
{
	const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SENDS(reply), P_END
	};
	const struct outcome *o;
	char code[4];

	snprintf(code, sizeof(code), "%s", reply);
	h_start(h, "security = may\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_FAILED);
	h_assert_has(o->reason, "unexpected reply to STARTTLS");
	h_assert_has(o->reason, code);
	h_assert_no_tls(o);
	h_assert_peer_ok(h);
	/* Nothing of the client's reached the server. */
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "client.test");
	assert_int_equal(h_peer_nconn(h), 1);
}

static void
starttls_354_failed(void **state)
{
	nonsense_starttls(*state, "354 do something else\r\n");
}

static void
starttls_250_failed(void **state)
{
	nonsense_starttls(*state, "250 2.0.0 Ok\r\n");
}

static void
starttls_421_failed(void **state)
{
	nonsense_starttls(*state, "421 4.3.2 shutting down\r\n");
}

/* ----------------------------------------------- response injection */

/* SC-06: the reply after 220 arrives in the same read.  Even under may,
 * this is an attack, not a reason to go on in plaintext; the peer gets
 * no ClientHello and no QUIT. */
static void
injection_same_read(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SEND("220 2.0.0 Ready to start TLS\r\n"
		    "250-mx.test\r\n250 AUTH LOGIN\r\n"),
		P_END
	};
	const struct outcome *o;
	const char *got;

	h_start(h, "security = may\n", script);
	got = h_refused(h, H_SMTP_REFUSED);
	h_assert_has(got, "injection");
	o = h_result(h, RES_ATTACK);
	h_assert_has(o->reason, "response injection");
	assert_int_equal(o->auth, AUTH_NONE);
	assert_string_equal(o->tls_version, "");
	h_assert_peer_ok(h);
	h_assert_peer_nothing_after(h, "STARTTLS\r\n");
	assert_int_equal(h_peer_nconn(h), 1);
}

/* Even one byte after the 220 in the same read is refused. */
static void
injection_one_byte(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SEND("220 2.0.0 Ready to start TLS\r\nX"),
		P_END
	};
	const struct outcome *o;

	h_start(h, "security = encrypt\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_ATTACK);
	h_assert_has(o->reason, "1 bytes after");
	h_assert_peer_ok(h);
	h_assert_peer_nothing_after(h, "STARTTLS\r\n");
}

/* The injected reply in a segment of its own, after the ClientHello
 * went out (SC-06 and SC-10: plaintext where TLS should be). */
static void
injection_separate_segment(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SMTP_GO_TLS, P_WAIT_DATA(),
		P_SEND("250-mx.test\r\n250 AUTH LOGIN\r\n"),
		P_END
	};
	const struct outcome *o;

	h_start(h, "security = may\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_ATTACK);
	h_assert_has(o->reason, "response injection");
	h_assert_has(o->reason, "TLS handshake should be");
	assert_int_equal(o->auth, AUTH_NONE);
	h_assert_peer_ok(h);
	/* No QUIT after an attack, and no plaintext retry. */
	h_assert_not_has(h_peer_after(h, 0, "STARTTLS\r\n"), "QUIT");
	assert_int_equal(h_peer_nconn(h), 1);
}

/* The same injection cut into pieces smaller than a reply code: one
 * digit where a TLS record should start is enough to tell. */
static void
injection_split_segment(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SMTP_GO_TLS, P_WAIT_DATA(),
		P_SEND("2"), P_SLEEP(50), P_SEND("50 AUTH LOGIN\r\n"),
		P_END
	};
	const struct outcome *o;

	h_start(h, "security = may\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_ATTACK);
	h_assert_has(o->reason, "response injection");
	/* Not mistaken for a failed handshake: no plaintext retry. */
	assert_int_equal(h_peer_nconn(h), 1);
}

/* A plaintext server behind tls = implicit is a mistake, not an attack:
 * refused as a failed handshake, with a hint. */
static void
implicit_tls_plaintext_server(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_END
	};
	const struct outcome *o;

	h_start(h, "tls = implicit\nsecurity = may\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_REFUSED);
	h_assert_has(o->reason, "server answered in plaintext");
	assert_int_equal(h_peer_nconn(h), 1);
}

/* ------------------------------------------------ malformed replies */

/* failed_negotiation - the script makes the negotiation fail under may;
 * the client gets 421, the record says failed with why in the reason */
static void
failed_negotiation(struct harness *h, const struct h_step *script,
    const char *why)
{
	const struct outcome *o;

	h_start(h, "security = may\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_FAILED);
	h_assert_has(o->reason, why);
	h_assert_no_tls(o);
	/* No relay was attempted: nothing of the client's reached it. */
	if (h_peer_wait(h, WAIT))
		h_assert_not_has(h_peer_conn(h, 0)->text.p, "client.test");
}

/* FAILED_NEGOTIATION - the test called name: the server's steps (after
 * why) make the negotiation fail, and the reason says why.  Many cases
 * differ in nothing else, so each reads as one row of a table. */
#define FAILED_NEGOTIATION(name, why, ...)				\
static void								\
name(void **state)							\
{									\
	static const struct h_step script[] = { __VA_ARGS__, P_END };	\
									\
	failed_negotiation(*state, script, (why));			\
}

static void
overlong_greeting_line(void **state)
{
	struct harness *h = *state;
	size_t n = 64 * 1024;
	char *big = malloc(n);

	assert_non_null(big);
	memcpy(big, "220 ", 4);
	memset(big + 4, 'A', n - 4);	/* and never a line end */
	{
		const struct h_step script[] = { P_SENDN(big, n), P_END };

		h_start(h, "security = may\n", script);
	}
	free(big);
	{
		const struct outcome *o;

		h_refused(h, H_SMTP_REFUSED);
		o = h_result(h, RES_FAILED);
		h_assert_has(o->reason, "line longer than 2048 bytes");
		assert_false(o->starttls_offered);
	}
}

/* A 2049-byte line (CRLF included) is one too many; 2048 is fine. */
static void
greeting_line_limit(void **state)
{
	struct harness *h = *state;
	char ok[2049], bad[2050];

	memcpy(ok, "220 ", 4);
	memset(ok + 4, 'a', 2042);
	memcpy(ok + 2046, "\r\n", 3);		/* 2048 bytes */
	memcpy(bad, "220 ", 4);
	memset(bad + 4, 'a', 2043);
	memcpy(bad + 2047, "\r\n", 3);		/* 2049 bytes */
	{
		const struct h_step script[] = {
			P_SENDS(ok), P_SMTP_EHLO,
			P_SENDS("250-mx.test\r\n"), P_SENDS(bad), P_END
		};
		const struct outcome *o;

		h_start(h, "security = may\n", script);
		h_refused(h, H_SMTP_REFUSED);
		o = h_result(h, RES_FAILED);
		h_assert_has(o->reason, "line longer than 2048");
		h_assert_peer_ok(h);
	}
}

FAILED_NEGOTIATION(bare_lf_greeting, "not terminated by CRLF",
    P_SEND("220 mx.test ESMTP\n"))

FAILED_NEGOTIATION(bare_lf_in_ehlo_reply, "not terminated by CRLF",
    P_SMTP_GREET, P_SMTP_EHLO, P_SEND("250-mx.test\n250 STARTTLS\r\n"))

FAILED_NEGOTIATION(bare_cr_in_greeting, "bare CR or LF",
    P_SEND("220 mx.test\r250 STARTTLS\r\n"))

FAILED_NEGOTIATION(mismatched_codes_ehlo, "mismatched codes",
    P_SMTP_GREET, P_SMTP_EHLO, P_SEND("250-mx.test\r\n251 STARTTLS\r\n"))

FAILED_NEGOTIATION(mismatched_codes_greeting, "mismatched codes",
    P_SEND("220-mx.test\r\n221 ESMTP\r\n"))

FAILED_NEGOTIATION(bad_code_in_ehlo_reply, "does not start with a reply code",
    P_SMTP_GREET, P_SMTP_EHLO, P_SEND("2x0 mx.test\r\n"))

static void
too_many_ehlo_lines(void **state)
{
	struct harness *h = *state;
	char *many = malloc(300 * 16 + 32);
	size_t n = 0;

	assert_non_null(many);
	for (int i = 0; i < 300; i++)
		n += (size_t)sprintf(many + n, "250-X-EXT%d\r\n", i);
	{
		const struct h_step script[] = {
			P_SMTP_GREET, P_SMTP_EHLO, P_SENDN(many, n), P_END
		};

		failed_negotiation(h, script, "too many lines");
	}
	free(many);
}

/* --------------------------------------------------- EHLO and greeting */

static void
ehlo_500_may_plaintext(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO,
		P_SEND("500 5.5.1 Command unrecognized\r\n"),
		/* The client's own EHLO and HELO, in plaintext. */
		P_EXPECT("EHLO client.test\r\n"),
		P_SEND("500 5.5.1 Command unrecognized\r\n"),
		P_EXPECT("HELO client.test\r\n"),
		P_SEND("250 mx.test\r\n"),
		P_EXPECT("QUIT\r\n"), P_SEND("221 Bye\r\n"), P_CLOSE(),
		P_END
	};
	const struct outcome *o;

	h_start(h, "security = may\n", script);
	h_greeted(h, H_SMTP_GREETING);
	h_send(h, "EHLO client.test\r\n");
	h_expect(h, "500 5.5.1");
	h_send(h, "HELO client.test\r\n");
	h_expect(h, "250 mx.test\r\n");
	h_quit(h, "QUIT\r\n", "221 Bye");
	o = h_result(h, RES_PLAINTEXT);
	h_assert_has(o->reason, "server rejected EHLO");
	h_assert_has(o->reason, "500 5.5.1");
	assert_false(o->starttls_offered);
	h_assert_peer_ok(h);
}

static void
ehlo_500_encrypt_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO,
		P_SEND("500 5.5.1 Command unrecognized\r\n"),
		P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;

	h_start(h, "security = encrypt\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_REFUSED);
	h_assert_has(o->reason, "server rejected EHLO");
	h_assert_has(o->reason, "requires TLS");
	h_assert_peer_ok(h);
	h_assert_peer_nothing_after(h, "QUIT\r\n");
}

/* A 4xx to EHLO is neither "not ESMTP" nor success. */
FAILED_NEGOTIATION(ehlo_421_failed, "421 4.3.2 going down",
    P_SMTP_GREET, P_SMTP_EHLO, P_SEND("421 4.3.2 going down\r\n"))

FAILED_NEGOTIATION(greeting_554_failed,
    "did not greet with 220: 554 5.3.2 no service here",
    P_SEND("554 5.3.2 no service here\r\n"))

/* Peer text in a reason is sanitized: no control characters. */
static void
greeting_text_sanitized(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SEND("554 bad\x01\x7f" "text\r\n"), P_END
	};
	const struct outcome *o;
	const char *got;

	h_start(h, "security = may\n", script);
	got = h_refused(h, H_SMTP_REFUSED);
	h_assert_not_has(got, "\x01");
	o = h_result(h, RES_FAILED);
	h_assert_has(o->reason, "554 bad??text");
}

static void
level_none_never_asks(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, PEER_MAIL, P_END
	};
	const struct outcome *o;

	h_start(h, "security = none\n", script);
	client_mail(h);
	o = h_result(h, RES_PLAINTEXT);
	h_assert_has(o->reason, "security = none");
	h_assert_peer_ok(h);
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "shim.test");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "STARTTLS");
}

/* ------------------------------------------------------- TLS and certs */

static void
verify_good_cert(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TO_TLS(H_CERT_GOOD), PEER_MAIL, P_END
	};
	const struct outcome *o;
	const struct h_conn *c;

	h_start(h, "security = verify\n", script);
	client_mail(h);
	o = h_result(h, RES_TLS);
	assert_int_equal(o->auth, AUTH_PKIX);
	assert_true(o->starttls_offered);
	h_assert_prefix(o->tls_version, "TLS1.");
	assert_true(o->cipher[0] != '\0');
	assert_string_equal(o->cert_sha256, h_cert_sha256(H_CERT_GOOD));
	assert_int_equal(strlen(o->spki_sha256), 64);
	assert_string_equal(o->reason, "");
	assert_string_equal(o->addr, "127.0.0.1");
	h_assert_peer_ok(h);
	/* The first command inside TLS is the client's own EHLO. */
	c = h_peer_conn(h, 0);
	assert_true(c->tls);
	h_assert_prefix(c->text.p + c->tls_at, "EHLO client.test\r\n");
	h_assert_not_has(c->text.p + c->tls_at, "shim.test");
}

/* refused_after_tls - verification fails under verify: the client gets
 * 421 naming the problem, the server gets QUIT inside TLS */
static void
refused_after_tls(struct harness *h, enum h_cert cert, const char *why)
{
	const struct h_step script[] = {
		TO_TLS(cert), P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;
	const char *got;

	h_start(h, "security = verify\n", script);
	got = h_refused(h, H_SMTP_REFUSED);
	h_assert_has(got, why);
	o = h_result(h, RES_REFUSED);
	assert_int_equal(o->auth, AUTH_UNTRUSTED);
	h_assert_has(o->reason, why);
	h_assert_prefix(o->tls_version, "TLS1.");
	assert_string_equal(o->cert_sha256, h_cert_sha256(cert));
	h_assert_peer_ok(h);
	assert_true(h_peer_conn(h, 0)->tls);
}

static void
verify_wrong_name_refused(void **state)
{
	struct harness *h = *state;

	refused_after_tls(h, H_CERT_WRONG_NAME, "127.0.0.1");
	h_assert_has(h_outcome(h, WAIT)->reason, "name");
}

static void
verify_self_signed_refused(void **state)
{
	refused_after_tls(*state, H_CERT_SELF_SIGNED, "not verified");
}

static void
verify_expired_refused(void **state)
{
	refused_after_tls(*state, H_CERT_EXPIRED, "expired");
}

/* untrusted_ok - TLS without authentication is what may and encrypt ask
 * for; it is recorded as untrusted, with why */
static void
untrusted_ok(struct harness *h, const char *svc, enum h_cert cert)
{
	const struct h_step script[] = { TO_TLS(cert), PEER_MAIL, P_END };
	const struct outcome *o;

	h_start(h, svc, script);
	client_mail(h);
	o = h_result(h, RES_TLS);
	assert_int_equal(o->auth, AUTH_UNTRUSTED);
	h_assert_has(o->reason, "not verified");
	h_assert_prefix(o->tls_version, "TLS1.");
	assert_string_equal(o->cert_sha256, h_cert_sha256(cert));
	h_assert_peer_ok(h);
}

static void
encrypt_self_signed_untrusted(void **state)
{
	untrusted_ok(*state, "security = encrypt\n", H_CERT_SELF_SIGNED);
}

static void
may_wrong_name_untrusted(void **state)
{
	untrusted_ok(*state, "security = may\n", H_CERT_WRONG_NAME);
}

/* A good certificate is still only "pkix" when it verifies; under may
 * it is recorded as such too. */
static void
may_good_cert_pkix(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TO_TLS(H_CERT_GOOD), PEER_MAIL, P_END
	};
	const struct outcome *o;

	h_start(h, "security = may\n", script);
	client_mail(h);
	o = h_result(h, RES_TLS);
	assert_int_equal(o->auth, AUTH_PKIX);
	h_assert_peer_ok(h);
}

/* The TLS alert a server sends when it cannot agree on anything. */
#define ALERT_HANDSHAKE_FAILURE	"\x15\x03\x03\x00\x02\x02\x28"

/* A handshake that fails with an alert: may retries in plaintext on a
 * second connection, and says so. */
static void
handshake_alert_may_retries_plaintext(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SMTP_GO_TLS, P_WAIT_DATA(),
		P_SEND(ALERT_HANDSHAKE_FAILURE), P_DRAIN(),
		P_ACCEPT(), P_SMTP_GREET, PEER_MAIL, P_END
	};
	const struct outcome *o;

	h_start(h, "security = may\n", script);
	client_mail(h);
	o = h_result(h, RES_PLAINTEXT);
	h_assert_has(o->reason, "TLS handshake failed");
	h_assert_has(o->reason, "retried in plaintext");
	assert_int_equal(o->auth, AUTH_NONE);
	assert_string_equal(o->tls_version, "");
	h_assert_peer_ok(h);
	assert_int_equal(h_peer_nconn(h), 2);
	/* The retry asks for nothing: no EHLO of tlshim's, no STARTTLS. */
	h_assert_prefix(h_peer_conn(h, 1)->text.p, "EHLO client.test\r\n");
	h_assert_not_has(h_peer_conn(h, 1)->text.p, "STARTTLS");
}

static void
handshake_alert_encrypt_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SMTP_GO_TLS, P_WAIT_DATA(),
		P_SEND(ALERT_HANDSHAKE_FAILURE), P_DRAIN(), P_END
	};
	const struct outcome *o;
	const char *got;

	h_start(h, "security = encrypt\n", script);
	got = h_refused(h, H_SMTP_REFUSED);
	h_assert_has(got, "TLS handshake failed");
	o = h_result(h, RES_REFUSED);
	h_assert_has(o->reason, "TLS handshake failed");
	h_assert_peer_ok(h);
	assert_int_equal(h_peer_nconn(h), 1);
}

/* The peer closes right after its 220: the handshake cannot happen.
 * Under may that is a handshake failure like any other, and the session
 * is retried in plaintext on a second connection. */
static void
close_after_220_may_retries_plaintext(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SMTP_GO_TLS, P_CLOSE(),
		P_ACCEPT(), P_SMTP_GREET, PEER_MAIL, P_END
	};
	const struct outcome *o;

	h_start(h, "security = may\n", script);
	client_mail(h);
	o = h_result(h, RES_PLAINTEXT);
	h_assert_has(o->reason, "retried in plaintext");
	h_assert_peer_ok(h);
	assert_int_equal(h_peer_nconn(h), 2);
}

static void
close_after_220_encrypt_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_GREET, P_SMTP_EHLO, OFFER_TLS, P_SMTP_ASK_TLS,
		P_SMTP_GO_TLS, P_CLOSE(), P_END
	};
	const struct outcome *o;

	h_start(h, "security = encrypt\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_outcome(h, WAIT);
	if (o->result != RES_REFUSED && o->result != RES_FAILED)
		fail_msg("result=%s", result_name(o->result));
	assert_int_equal(o->auth, AUTH_NONE);
	h_assert_peer_ok(h);
	assert_int_equal(h_peer_nconn(h), 1);
}

static void
implicit_tls(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_TLS(H_CERT_GOOD), P_SMTP_GREET, PEER_MAIL, P_END
	};
	const struct outcome *o;
	const struct h_conn *c;

	h_start(h, "tls = implicit\nsecurity = verify\n", script);
	client_mail(h);
	o = h_result(h, RES_TLS);
	assert_int_equal(o->auth, AUTH_PKIX);
	h_assert_prefix(o->tls_version, "TLS1.");
	assert_string_equal(o->cert_sha256, h_cert_sha256(H_CERT_GOOD));
	h_assert_peer_ok(h);
	/* Inside TLS from the first byte; the client's EHLO comes first. */
	c = h_peer_conn(h, 0);
	assert_true(c->tls);
	assert_int_equal(c->tls_at, 0);
	h_assert_prefix(c->text.p, "EHLO client.test\r\n");
}

static void
implicit_tls_wrong_name_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_TLS(H_CERT_WRONG_NAME), P_END
	};
	const struct outcome *o;

	h_start(h, "tls = implicit\nsecurity = verify\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_REFUSED);
	h_assert_has(o->reason, "127.0.0.1");
}

/* ------------------------------------------------- connection trouble */

FAILED_NEGOTIATION(peer_closes_during_negotiation,
    "server closed the connection",
    P_SMTP_GREET, P_SMTP_EHLO, P_CLOSE())

FAILED_NEGOTIATION(peer_closes_before_greeting, "server closed the connection",
    P_CLOSE())

static void
connect_refused(void **state)
{
	struct harness *h = *state;
	const struct outcome *o;
	const char *got;

	h_start_opt(h, "security = may\n", NULL, H_NO_PEER);
	got = h_refused(h, H_SMTP_REFUSED);
	h_assert_has(got, "cannot connect");
	o = h_result(h, RES_FAILED);
	h_assert_has(o->reason, "cannot connect to 127.0.0.1");
	h_assert_has(o->reason, "refused");
	assert_false(o->starttls_offered);
}

static void
negotiation_timeout(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = { P_END };	/* silent */
	const struct outcome *o;

	h_start(h, "security = may\nhandshake_timeout = 500ms\n", script);
	h_refused(h, H_SMTP_REFUSED);
	o = h_result(h, RES_FAILED);
	h_assert_has(o->reason, "timed out");
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	const struct CMUnitTest tests[] = {
		T(no_starttls_may_relays_plaintext),
		T(no_starttls_encrypt_refused),
		T(no_starttls_verify_refused),
		T(starttls_keyword_case_insensitive),
		T(starttls_lookalike_not_offered),
		T(starttls_454_may),
		T(starttls_454_encrypt),
		T(starttls_502_may),
		T(starttls_502_encrypt),
		T(starttls_554_may),
		T(starttls_554_encrypt),
		T(starttls_354_failed),
		T(starttls_250_failed),
		T(starttls_421_failed),
		T(injection_same_read),
		T(injection_one_byte),
		T(injection_separate_segment),
		T(injection_split_segment),
		T(implicit_tls_plaintext_server),
		T(overlong_greeting_line),
		T(greeting_line_limit),
		T(bare_lf_greeting),
		T(bare_lf_in_ehlo_reply),
		T(bare_cr_in_greeting),
		T(mismatched_codes_ehlo),
		T(mismatched_codes_greeting),
		T(bad_code_in_ehlo_reply),
		T(too_many_ehlo_lines),
		T(ehlo_500_may_plaintext),
		T(ehlo_500_encrypt_refused),
		T(ehlo_421_failed),
		T(greeting_554_failed),
		T(greeting_text_sanitized),
		T(level_none_never_asks),
		T(verify_good_cert),
		T(verify_wrong_name_refused),
		T(verify_self_signed_refused),
		T(verify_expired_refused),
		T(encrypt_self_signed_untrusted),
		T(may_wrong_name_untrusted),
		T(may_good_cert_pkix),
		T(handshake_alert_may_retries_plaintext),
		T(handshake_alert_encrypt_refused),
		T(close_after_220_may_retries_plaintext),
		T(close_after_220_encrypt_refused),
		T(implicit_tls),
		T(implicit_tls_wrong_name_refused),
		T(peer_closes_during_negotiation),
		T(peer_closes_before_greeting),
		T(connect_refused),
		T(negotiation_timeout),
	};
#undef T
	int rc;

	h_main_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	h_main_done();
	return rc;
}
