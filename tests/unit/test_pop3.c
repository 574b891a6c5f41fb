/*
 * test_pop3.c - the POP3 plugin (plugins/pop3.c, pop3_relay.c,
 * pop3_resp.c): talking a server up to TLS with CAPA and STLS, and the
 * relay after it, run through the real session core against scripted
 * peers (harness.c), plus the response parser alone.
 *
 * Each session test checks the record (result, reason, TLS details), what
 * the legacy client received and what the upstream peer received.  The
 * negotiation cases follow the attack catalogue's section 6
 * (STARTTLS-ATTACKS.md): STLS stripped or refused, no CAPA, response
 * injection after +OK, error greetings, stale capabilities.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugins/pop3_resp.h"
#include "shim/conf.h"
#include "shim/result.h"
#include "tests/unit/harness.h"

#define WAIT	10000		/* ms for a session record */
#define POP3	"protocol = pop3\n"

/* The upstream's side of the negotiation.  The greeting carries an APOP
 * timestamp that must never reach the client. */
#define GREET		P_SEND("+OK POP3 mx.test ready " \
			    "<1896.697170952@mx.test>\r\n")
#define ASK_CAPA	P_EXPECT("CAPA\r\n")
#define OFFER_TLS	P_SEND("+OK Capability list follows\r\nTOP\r\n" \
			    "USER\r\nSASL PLAIN\r\nRESP-CODES\r\nSTLS\r\n" \
			    "PIPELINING\r\nUIDL\r\n.\r\n")
#define NO_OFFER	P_SEND("+OK Capability list follows\r\nTOP\r\n" \
			    "USER\r\nSASL PLAIN\r\nUIDL\r\n.\r\n")
#define ASK_TLS		P_EXPECT("STLS\r\n")
#define GO_TLS		P_SEND("+OK Begin TLS negotiation\r\n")
/* Inside TLS the list differs (catalogue PC-09): only this one counts. */
#define CAPA_TLS	P_SEND("+OK\r\nTOP\r\nUSER\r\n" \
			    "SASL SCRAM-SHA-256 PLAIN\r\nPIPELINING\r\n" \
			    "UIDL\r\n.\r\n")
#define TO_TLS(cert)	GREET, ASK_CAPA, OFFER_TLS, ASK_TLS, GO_TLS, \
			P_TLS(cert), ASK_CAPA, CAPA_TLS
#define TLS_UP		TO_TLS(H_CERT_GOOD)
#define TLS_SVC		POP3 "security = verify\n"
/* A server without STLS under may: relayed in plaintext. */
#define PLAIN_UP	GREET, ASK_CAPA, NO_OFFER
#define PLAIN_SVC	POP3 "security = may\n"

#define SIGN_OFF	"+OK mx.test signing off\r\n"
#define PEER_QUIT	P_EXPECT("QUIT\r\n"), P_SEND(SIGN_OFF), P_CLOSE()

/* tlshim's own greeting, nothing of the server's, and its refusal */
#define GREETING	"+OK tlshim ready\r\n"
#define REFUSED		"-ERR [SYS/TEMP] tlshim: "

/* ---------------------------------------------------------- helpers */

/* multi - a multi-line response, status line to ".\r\n", into buf */
static const char *
multi(struct harness *h, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (;;) {
		const char *l = h_line(h, WAIT);
		size_t k;

		if (l == NULL)
			fail_msg("client: response cut short after \"%s\"",
			    buf);
		k = strlen(l);
		if (n + k + 1 > len)
			fail_msg("response too long for the test's buffer");
		memcpy(buf + n, l, k + 1);
		n += k;
		if (n == k && strncmp(l, "-ERR", 4) == 0)
			return buf;		/* one line */
		if (strcmp(l, ".\r\n") == 0)
			return buf;
	}
}

static void
expect_multi(struct harness *h, const char *want)
{
	char buf[8192];

	assert_string_equal(multi(h, buf, sizeof(buf)), want);
}

/* ------------------------------------------------- STLS, full session */

/* A message whose lines look like commands and status lines, and one
 * that is dot-stuffed: relayed as they are, never interpreted. */
#define MESSAGE "Subject: test\r\n" \
	"\r\n" \
	"STLS\r\n" \
	"USER x\r\n" \
	"+OK not a status\r\n" \
	"..stuffed\r\n" \
	"-ERR nor this\r\n" \
	".\r\n"

static void
stls_verify_full_session(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("USER alice\r\n"), P_SEND("+OK alice\r\n"),
		P_EXPECT("PASS secret\r\n"),
		P_SEND("+OK maildrop has 1 message (120 octets)\r\n"),
		P_EXPECT("STAT\r\n"), P_SEND("+OK 1 120\r\n"),
		P_EXPECT("RETR 1\r\n"),
		/* The body over two records: its end is found across
		 * reads. */
		P_SEND("+OK 120 octets\r\nSubject: test\r\n\r\nSTLS\r\n"),
		P_SEND("USER x\r\n+OK not a status\r\n..stuffed\r\n"
		    "-ERR nor this\r\n.\r\n"),
		PEER_QUIT, P_END
	};
	const struct outcome *o;
	const struct h_conn *c;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "USER alice\r\n");
	h_expect(h, "+OK alice\r\n");
	h_send(h, "PASS secret\r\n");
	h_expect(h, "+OK maildrop has 1 message");
	h_send(h, "STAT\r\n");
	h_expect(h, "+OK 1 120\r\n");
	h_send(h, "RETR 1\r\n");
	expect_multi(h, "+OK 120 octets\r\n" MESSAGE);
	/* Back to commands: STLS is answered here again. */
	h_send(h, "STLS\r\n");
	h_expect(h, "-ERR tlshim: STLS is not available");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	o = h_finish(h, RES_TLS);
	assert_int_equal(o->auth, AUTH_PKIX);
	assert_true(o->starttls_offered);
	assert_string_equal(o->reason, "");
	assert_string_equal(o->cert_sha256, h_cert_sha256(H_CERT_GOOD));
	h_assert_prefix(o->tls_version, "TLS1.");
	/* Before TLS only tlshim's CAPA and STLS; inside TLS a new CAPA,
	 * then the client's commands, and no credential ever in clear. */
	c = h_peer_conn(h, 0);
	assert_int_equal((int)c->tls_at, (int)strlen("CAPA\r\nSTLS\r\n"));
	assert_memory_equal(c->text.p, "CAPA\r\nSTLS\r\n", c->tls_at);
	assert_string_equal(h_peer_tls_text(h, 0), "CAPA\r\nUSER alice\r\n"
	    "PASS secret\r\nSTAT\r\nRETR 1\r\nQUIT\r\n");
	h_assert_not_has(c->raw.p, "alice");
}

/* The client's CAPA is relayed inside TLS, and the server's answer there
 * loses only STLS: USER and SASL stay, the leg is TLS. */
static void
capa_in_tls_filtered(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, ASK_CAPA,
		P_SEND("+OK\r\nTOP\r\nUSER\r\nSTLS\r\nSASL SCRAM-SHA-256\r\n"
		    "stls\r\nSTLSX\r\nPIPELINING\r\n.\r\n"),
		PEER_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "CAPA\r\n");
	expect_multi(h, "+OK\r\nTOP\r\nUSER\r\nSASL SCRAM-SHA-256\r\n"
	    "STLSX\r\nPIPELINING\r\n.\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	h_finish(h, RES_TLS);
}

/* The client's STLS is answered here, never sent on. */
static void
client_stls_answered_locally(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("NOOP\r\n"), P_SEND("+OK\r\n"),
		PEER_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "STLS\r\n");
	h_expect(h, "-ERR tlshim: STLS is not available on this connection, "
	    "the upstream connection is already TLS\r\n");
	h_send(h, "stls\r\n");
	h_expect(h, "-ERR tlshim: STLS");
	h_send(h, "NOOP\r\n");
	h_expect(h, "+OK\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	h_finish(h, RES_TLS);
	assert_string_equal(h_peer_tls_text(h, 0), "CAPA\r\nNOOP\r\nQUIT\r\n");
}

/* ------------------------------------------------------ STLS missing */

/* PC-01 under may: plaintext, recorded; credentials answered here, and
 * the relayed CAPA invites none. */
static void
stls_missing_may_plaintext(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP, ASK_CAPA,
		P_SEND("+OK\r\nTOP\r\nUSER\r\nSASL PLAIN LOGIN\r\nSTLS\r\n"
		    "RESP-CODES\r\nsasl CRAM-MD5\r\nUSERX\r\nUIDL\r\n.\r\n"),
		PEER_QUIT, P_END
	};
	const struct outcome *o;

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "CAPA\r\n");
	expect_multi(h, "+OK\r\nTOP\r\nRESP-CODES\r\nUSERX\r\nUIDL\r\n.\r\n");
	h_send(h, "USER alice\r\n");
	h_expect(h, "-ERR [AUTH] tlshim: encryption required");
	h_send(h, "PASS secret\r\n");
	h_expect(h, "-ERR [AUTH] tlshim: encryption required");
	h_send(h, "APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n");
	h_expect(h, "-ERR [AUTH] ");
	h_send(h, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	h_expect(h, "-ERR [AUTH] ");
	h_send(h, "auth\r\n");
	h_expect(h, "-ERR [AUTH] ");
	/* No login can succeed on this leg, so nothing but CAPA and QUIT
	 * is relayed: not even a command that carries no credentials. */
	h_send(h, "STAT\r\n");
	h_expect(h, "-ERR [AUTH] ");
	h_send(h, "STLS\r\n");
	h_expect(h, "-ERR tlshim: STLS is not available on this connection"
	    "\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	o = h_finish(h, RES_PLAINTEXT);
	assert_false(o->starttls_offered);
	h_assert_no_tls(o);
	/* Every cause, once, in order. */
	assert_string_equal(o->reason, "STLS not offered by server; refused "
	    "credentials: the upstream connection is not TLS");
	assert_string_equal(h_peer_text(h, 0), "CAPA\r\nCAPA\r\nQUIT\r\n");
}

static void
stls_missing_encrypt_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP, P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;
	const char *got;

	h_start(h, POP3 "security = encrypt\n", script);
	got = h_refused(h, REFUSED);
	assert_string_equal(got, "-ERR [SYS/TEMP] tlshim: STLS not offered "
	    "by server; security = encrypt requires TLS\r\n");
	o = h_finish(h, RES_REFUSED);
	assert_false(o->starttls_offered);
	h_assert_no_tls(o);
	h_assert_peer_nothing_after(h, "CAPA\r\nQUIT\r\n");
}

/* The default level of protocol = pop3 is encrypt (RFC 8314 5.2): no
 * security key, no STLS, refused. */
static void
default_level_is_encrypt(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP, P_EXPECT("QUIT\r\n"), P_END
	};
	static const char text[] = "[pop]\nprotocol = pop3\n"
	    "listen = 127.0.0.1:10110\nupstream = pop.example.net\n";
	struct conf_error err;
	struct conf *c;
	const struct outcome *o;

	c = conf_parse(text, sizeof(text) - 1, "test", &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(c->services[0].level, LEV_ENCRYPT);
	assert_int_equal(c->services[0].upstream_port, 110);
	conf_unref(c);

	h_start(h, POP3, script);
	h_assert_has(h_refused(h, REFUSED), "security = encrypt requires TLS");
	o = h_finish(h, RES_REFUSED);
	h_assert_has(o->reason, "STLS not offered by server");
}

/* tls = implicit takes the POP3S port by default. */
static void
implicit_port_is_995(void **state)
{
	static const char text[] = "[pop]\nprotocol = pop3\ntls = implicit\n"
	    "listen = 127.0.0.1:10110\nupstream = pop.example.net\n";
	struct conf_error err;
	struct conf *c;

	(void)state;
	c = conf_parse(text, sizeof(text) - 1, "test", &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(c->services[0].upstream_port, 995);
	conf_unref(c);
}

/* A lookalike is not STLS. */
static void
stls_lookalike_not_offered(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA,
		P_SEND("+OK\r\nSTLSX\r\nX-STLS\r\nUSER STLS\r\n.\r\n"),
		P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;

	h_start(h, POP3 "security = encrypt\n", script);
	h_refused(h, REFUSED);
	o = h_finish(h, RES_REFUSED);
	assert_false(o->starttls_offered);
	h_assert_has(o->reason, "STLS not offered");
}

/* The keyword is case-insensitive (RFC 2449 6). */
static void
stls_keyword_case_insensitive(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA, P_SEND("+OK\r\nuser\r\nstls\r\n.\r\n"),
		ASK_TLS, GO_TLS, P_TLS(H_CERT_GOOD), ASK_CAPA, CAPA_TLS,
		PEER_QUIT, P_END
	};
	const struct outcome *o;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	o = h_finish(h, RES_TLS);
	assert_true(o->starttls_offered);
}

/* ------------------------------------------ STLS refused, CAPA absent */

/* PC-02: -ERR to STLS under encrypt: refused with the server's words. */
static void
stls_refused_encrypt(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA, OFFER_TLS, ASK_TLS,
		P_SEND("-ERR STARTTLS not supported.\r\n"),
		P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;

	h_start(h, POP3 "security = encrypt\n", script);
	h_assert_has(h_refused(h, REFUSED), "server refused STLS: STARTTLS not "
	    "supported.");
	o = h_finish(h, RES_REFUSED);
	assert_true(o->starttls_offered);
	assert_string_equal(o->reason, "server refused STLS: STARTTLS not "
	    "supported.; security = encrypt requires TLS");
	h_assert_no_tls(o);
}

/* ... and under may: plaintext, with the refusal on record. */
static void
stls_refused_may_plaintext(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA, OFFER_TLS, ASK_TLS,
		P_SEND("-ERR [IN-USE] not now\r\n"),
		P_EXPECT("CAPA\r\n"), P_SEND("+OK\r\nTOP\r\n.\r\n"),
		PEER_QUIT, P_END
	};
	const struct outcome *o;

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "CAPA\r\n");
	h_expect(h, "+OK\r\n");
	h_expect(h, "TOP\r\n");
	h_expect(h, ".\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	o = h_finish(h, RES_PLAINTEXT);
	assert_true(o->starttls_offered);
	assert_string_equal(o->reason, "server refused STLS: [IN-USE] not now");
}

/* Anything but +OK or -ERR to STLS: the server's state is unknown. */
static void
stls_nonsense_failed(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA, OFFER_TLS, ASK_TLS,
		P_SEND("220 go ahead\r\n"), P_END
	};
	const struct outcome *o;

	h_start(h, PLAIN_SVC, script);
	h_refused(h, REFUSED);
	o = h_finish(h, RES_FAILED);
	h_assert_has(o->reason, "unexpected response to STLS");
}

/* PC-03: -ERR to CAPA means STLS cannot be discovered. */
static void
no_capa_encrypt_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA, P_SEND("-ERR unknown command\r\n"),
		P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;

	h_start(h, POP3 "security = encrypt\n", script);
	h_assert_has(h_refused(h, REFUSED), "no CAPA");
	o = h_finish(h, RES_REFUSED);
	assert_string_equal(o->reason, "server has no CAPA (-ERR unknown "
	    "command), so STLS cannot be discovered; security = encrypt "
	    "requires TLS");
	h_assert_peer_nothing_after(h, "CAPA\r\nQUIT\r\n");
}

static void
no_capa_may_plaintext(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA, P_SEND("-ERR unknown command\r\n"),
		PEER_QUIT, P_END
	};
	const struct outcome *o;

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "STAT\r\n");
	h_expect(h, "-ERR [AUTH] ");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	o = h_finish(h, RES_PLAINTEXT);
	h_assert_has(o->reason, "server has no CAPA");
}

/* Inside TLS a -ERR to CAPA is no reason to stop: the client asks its
 * own. */
static void
no_capa_in_tls_ready(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA, OFFER_TLS, ASK_TLS, GO_TLS, P_TLS(H_CERT_GOOD),
		ASK_CAPA, P_SEND("-ERR not inside TLS either\r\n"),
		PEER_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	h_finish(h, RES_TLS);
}

/* A capability list is bounded. */
static void
too_many_capa_lines(void **state)
{
	struct harness *h = *state;
	char *many = malloc(300 * 16 + 32);
	size_t n = 0;
	const struct outcome *o;

	assert_non_null(many);
	n += (size_t)sprintf(many, "+OK\r\n");
	for (int i = 0; i < 300; i++)
		n += (size_t)sprintf(many + n, "X-CAP%d\r\n", i);
	{
		const struct h_step script[] = {
			GREET, ASK_CAPA, P_SENDN(many, n), P_END
		};

		h_start(h, PLAIN_SVC, script);
	}
	free(many);
	h_refused(h, REFUSED);
	o = h_result(h, RES_FAILED);
	h_assert_has(o->reason, "too many lines in the capability list");
}

/* ------------------------------------------------ response injection */

/* PC-04: the injected CAPA answer arrives in the same read as +OK.  Even
 * under may this is an attack, not a reason to go on in plaintext. */
static void
injection_same_read(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA, OFFER_TLS, ASK_TLS,
		P_SEND("+OK Begin fake TLS negotiation now.\r\n"
		    "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n"),
		P_END
	};
	const struct outcome *o;

	h_start(h, PLAIN_SVC, script);
	h_assert_has(h_refused(h, REFUSED), "injection");
	o = h_finish(h, RES_ATTACK);
	h_assert_has(o->reason, "response injection");
	h_assert_no_tls(o);
	/* No ClientHello, no QUIT after an attack, no retry. */
	h_assert_peer_nothing_after(h, "STLS\r\n");
	assert_int_equal(h_peer_nconn(h), 1);
}

/* The injected answer in a segment of its own, after the ClientHello
 * went out: plaintext where the TLS handshake should be. */
static void
injection_separate_segment(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA, OFFER_TLS, ASK_TLS, GO_TLS, P_WAIT_DATA(),
		P_SEND("+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n"),
		P_END
	};
	const struct outcome *o;

	h_start(h, PLAIN_SVC, script);
	h_refused(h, REFUSED);
	o = h_result(h, RES_ATTACK);
	h_assert_has(o->reason, "response injection");
	assert_int_equal(o->auth, AUTH_NONE);
	h_assert_peer_ok(h);
	/* No QUIT after an attack, and no plaintext retry. */
	h_assert_not_has(h_peer_after(h, 0, "STLS\r\n"), "QUIT");
	assert_int_equal(h_peer_nconn(h), 1);
}

/* --------------------------------------------------------- greetings */

/* failed_negotiation - the script makes the negotiation fail; the client
 * gets -ERR [SYS/TEMP], the record says failed with why */
static const struct outcome *
failed_negotiation(struct harness *h, const char *svc,
    const struct h_step *script, const char *why)
{
	const struct outcome *o;

	h_start(h, svc, script);
	h_refused(h, REFUSED);
	o = h_result(h, RES_FAILED);
	h_assert_has(o->reason, why);
	h_assert_no_tls(o);
	return o;
}

/* The greeting is one line: more lines before tlshim said anything are
 * answers to commands never sent.  Refused, never relayed, and tlshim
 * never sends CAPA. */
static void
greeting_garbage_lines(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SEND("+OK POP3 ready\r\n+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
		P_DRAIN(), P_END
	};

	failed_negotiation(h, PLAIN_SVC, script, "multi-line garbage in the "
	    "greeting");
	assert_true(h_peer_wait(h, WAIT));
	h_assert_not_has(h_peer_text(h, 0), "CAPA");
}

/* PC-08: an error greeting is a failure, with the server's words; no
 * command is sent. */
static void
greeting_err_failed(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SEND("-ERR [SYS/TEMP] try later\r\n"), P_DRAIN(), P_END
	};
	const struct outcome *o;

	o = failed_negotiation(h, PLAIN_SVC, script, "server greeted with "
	    "-ERR: [SYS/TEMP] try later");
	assert_true(h_peer_wait(h, WAIT));
	h_assert_not_has(h_peer_text(h, 0), "CAPA");
	(void)o;
}

/* Peer text reaches the client and the record sanitized. */
static void
greeting_err_sanitized(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SEND("-ERR bad\x01text\x7f here\r\n"), P_DRAIN(), P_END
	};
	const char *got;

	h_start(h, PLAIN_SVC, script);
	got = h_refused(h, REFUSED);
	h_assert_has(got, "bad?text? here");
	h_assert_has(h_outcome(h, WAIT)->reason, "bad?text? here");
}

static void
greeting_smtp_failed(void **state)
{
	static const struct h_step script[] = {
		P_SEND("220 mx.test ESMTP\r\n"), P_DRAIN(), P_END
	};

	failed_negotiation(*state, PLAIN_SVC, script, "greeting is not +OK");
}

static void
greeting_bare_lf_failed(void **state)
{
	static const struct h_step script[] = {
		P_SEND("+OK ready\n"), P_DRAIN(), P_END
	};

	failed_negotiation(*state, PLAIN_SVC, script,
	    "not terminated by CRLF");
}

static void
greeting_lowercase_failed(void **state)
{
	static const struct h_step script[] = {
		P_SEND("+ok ready\r\n"), P_DRAIN(), P_END
	};

	failed_negotiation(*state, PLAIN_SVC, script, "greeting is not +OK");
}

/* A greeting line over the negotiation limit (1024) fails, bounded. */
static void
greeting_overlong_failed(void **state)
{
	struct harness *h = *state;
	size_t n = 8192;
	char *big = malloc(n);

	assert_non_null(big);
	memcpy(big, "+OK ", 4);
	memset(big + 4, 'A', n - 4);	/* and never a line end */
	{
		const struct h_step script[] = {
			P_SENDN(big, n), P_DRAIN(), P_END
		};

		failed_negotiation(h, PLAIN_SVC, script, "longer than 1024");
	}
	free(big);
}

/* security = none: no CAPA, no STLS; the greeting is all. */
static void
level_none_never_asks(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, P_EXPECT("STAT\r\n"), P_SEND("+OK 0 0\r\n"),
		PEER_QUIT, P_END
	};
	const struct outcome *o;

	/* Plaintext on purpose: with cleartext_auth = yes the whole
	 * conversation is relayed. */
	h_start(h, POP3 "security = none\ncleartext_auth = yes\n", script);
	h_greeted(h, GREETING);
	h_send(h, "STAT\r\n");
	h_expect(h, "+OK 0 0\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	o = h_finish(h, RES_PLAINTEXT);
	assert_string_equal(o->reason, "security = none");
	assert_string_equal(h_peer_text(h, 0), "STAT\r\nQUIT\r\n");
}

/* ------------------------------------------------------ implicit TLS */

static void
implicit_tls(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_TLS(H_CERT_GOOD), GREET, ASK_CAPA, CAPA_TLS,
		P_EXPECT("USER alice\r\n"), P_SEND("+OK\r\n"),
		P_EXPECT("PASS secret\r\n"), P_SEND("+OK logged in\r\n"),
		PEER_QUIT, P_END
	};
	const struct outcome *o;
	const struct h_conn *c;

	h_start(h, POP3 "tls = implicit\nsecurity = verify\n", script);
	h_greeted(h, GREETING);
	h_send(h, "USER alice\r\n");
	h_expect(h, "+OK\r\n");
	h_send(h, "PASS secret\r\n");
	h_expect(h, "+OK logged in\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	o = h_finish(h, RES_TLS);
	assert_int_equal(o->auth, AUTH_PKIX);
	assert_string_equal(o->reason, "");
	c = h_peer_conn(h, 0);
	assert_true(c->tls);
	assert_int_equal((int)c->tls_at, 0);
	assert_string_equal(c->text.p, "CAPA\r\nUSER alice\r\nPASS secret\r\n"
	    "QUIT\r\n");
}

static void
implicit_tls_wrong_name_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_TLS(H_CERT_WRONG_NAME), P_DRAIN(), P_END
	};
	const struct outcome *o;

	h_start(h, POP3 "tls = implicit\nsecurity = verify\n", script);
	h_refused(h, REFUSED);
	o = h_result(h, RES_REFUSED);
	assert_int_equal(o->auth, AUTH_UNTRUSTED);
}

/* ------------------------------------------------- cleartext_auth */

/* cleartext_auth = yes: the operator allows credentials in the clear;
 * USER and PASS go through, and CAPA keeps USER and SASL (not STLS). */
static void
cleartext_auth_yes_relays(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP, ASK_CAPA,
		P_SEND("+OK\r\nUSER\r\nSASL PLAIN\r\nSTLS\r\n.\r\n"),
		P_EXPECT("USER alice\r\n"), P_SEND("+OK\r\n"),
		P_EXPECT("PASS secret\r\n"), P_SEND("+OK logged in\r\n"),
		PEER_QUIT, P_END
	};
	const struct outcome *o;

	h_start(h, PLAIN_SVC "cleartext_auth = yes\n", script);
	h_greeted(h, GREETING);
	h_send(h, "CAPA\r\n");
	expect_multi(h, "+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n");
	h_send(h, "USER alice\r\n");
	h_expect(h, "+OK\r\n");
	h_send(h, "PASS secret\r\n");
	h_expect(h, "+OK logged in\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	o = h_finish(h, RES_PLAINTEXT);
	assert_string_equal(o->reason, "STLS not offered by server");
}

/* ------------------------------------------------------------- SASL */

/* Inside TLS a SASL exchange is relayed; its lines are credentials,
 * never commands, even when they read like one. */
static void
auth_relayed_in_tls(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("AUTH LOGIN\r\n"), P_SEND("+ VXNlcm5hbWU6\r\n"),
		P_EXPECT("STLS\r\n"), P_SEND("+ UGFzc3dvcmQ6\r\n"),
		P_EXPECT("USER x\r\n"), P_SEND("-ERR [AUTH] invalid\r\n"),
		P_EXPECT("AUTH\r\n"),
		P_SEND("+OK\r\nPLAIN\r\nSCRAM-SHA-256\r\n.\r\n"),
		P_EXPECT("AUTH PLAIN\r\n"), P_SEND("+ \r\n"),
		P_EXPECT("AGFsaWNlAHNlY3JldA==\r\n"), P_SEND("+OK welcome\r\n"),
		PEER_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "AUTH LOGIN\r\n");
	h_expect(h, "+ VXNlcm5hbWU6\r\n");
	h_send(h, "STLS\r\n");			/* a "username" */
	h_expect(h, "+ UGFzc3dvcmQ6\r\n");
	h_send(h, "USER x\r\n");		/* a "password" */
	h_expect(h, "-ERR [AUTH] invalid\r\n");
	/* The exchange is over: commands are commands again. */
	h_send(h, "STLS\r\n");
	h_expect(h, "-ERR tlshim: STLS");
	/* AUTH alone lists mechanisms, multi-line. */
	h_send(h, "AUTH\r\n");
	expect_multi(h, "+OK\r\nPLAIN\r\nSCRAM-SHA-256\r\n.\r\n");
	h_send(h, "AUTH PLAIN\r\n");
	h_expect(h, "+ \r\n");
	h_send(h, "AGFsaWNlAHNlY3JldA==\r\n");
	h_expect(h, "+OK welcome\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	h_finish(h, RES_TLS);
}

/* A SASL continuation with no AUTH running is not POP3. */
static void
continuation_without_auth(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("NOOP\r\n"), P_SEND("+ c2VjcmV0\r\n"),
		P_DRAIN(), P_END
	};
	const struct outcome *o;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "NOOP\r\n");
	h_assert_not_has(h_read_all(h, WAIT, NULL), "c2VjcmV0");
	h_close(h);
	o = h_result(h, RES_TLS);
	h_assert_has(o->reason, "SASL continuation with no AUTH");
}

/* ------------------------------------------------ multi-line responses */

/* LIST and UIDL with an argument are one line, without one multi-line;
 * -ERR to a multi-line command is one line; TOP is multi-line. */
static void
multi_line_kinds(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("LIST\r\n"), P_SEND("+OK 2 messages\r\n1 120\r\n"
		    "2 200\r\n.\r\n"),
		P_EXPECT("LIST 2\r\n"), P_SEND("+OK 2 200\r\n"),
		P_EXPECT("UIDL\r\n"), P_SEND("+OK\r\n1 whqtswO00WBw418f9t5JxYwZ"
		    "\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n"),
		P_EXPECT("UIDL 1\r\n"), P_SEND("+OK 1 whqtswO00WBw418f9t5JxYwZ"
		    "\r\n"),
		P_EXPECT("RETR 9\r\n"), P_SEND("-ERR no such message\r\n"),
		P_EXPECT("TOP 1 0\r\n"), P_SEND("+OK\r\nSubject: x\r\n\r\n"
		    ".\r\n"),
		P_EXPECT("LIST 9\r\n"), P_SEND("-ERR no such message\r\n"),
		PEER_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "LIST\r\n");
	expect_multi(h, "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n");
	h_send(h, "LIST 2\r\n");
	h_expect(h, "+OK 2 200\r\n");
	h_send(h, "UIDL\r\n");
	expect_multi(h, "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n"
	    "2 QhdPYR:00WBw1Ph7x7\r\n.\r\n");
	h_send(h, "UIDL 1\r\n");
	h_expect(h, "+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n");
	h_send(h, "RETR 9\r\n");
	h_expect(h, "-ERR no such message\r\n");
	h_send(h, "TOP 1 0\r\n");
	expect_multi(h, "+OK\r\nSubject: x\r\n\r\n.\r\n");
	h_send(h, "LIST 9\r\n");
	h_expect(h, "-ERR no such message\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	h_finish(h, RES_TLS);
}

/* The end of a body split over several reads, and a status line split
 * anywhere, are put back together. */
static void
split_segments(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("RETR 1\r\n"),
		P_SEND("+O"), P_SLEEP(30), P_SEND("K 9 octets\r"), P_SLEEP(30),
		P_SEND("\nline\r\n\r"), P_SLEEP(30), P_SEND("\n."), P_SLEEP(30),
		P_SEND("\r"), P_SLEEP(30), P_SEND("\n+OK 1 9\r\n"),
		P_EXPECT("STAT\r\n"),
		PEER_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	/* STAT pipelined behind RETR; its answer came early, in the same
	 * segment as the body's end (a server may do that). */
	h_send(h, "RETR 1\r\nSTAT\r\n");
	expect_multi(h, "+OK 9 octets\r\nline\r\n\r\n.\r\n");
	h_expect(h, "+OK 1 9\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	h_finish(h, RES_TLS);
}

/* A big message through TLS while the client waits before reading: the
 * client side's queue fills, tlshim stops reading the server until it
 * drains (so memory stays bounded), and every byte arrives in order,
 * dot-stuffed lines and all, never interpreted. */
static void
bulk_retr(void **state)
{
	struct harness *h = *state;
	size_t lines = 60000, n = 0;
	char *body = malloc(lines * 100 + 64);
	const char *all;
	size_t got;
	const struct outcome *o;

	assert_non_null(body);
	n += (size_t)sprintf(body, "+OK %zu octets\r\n", lines * 100);
	for (size_t i = 0; i < lines; i++) {
		int k = snprintf(body + n, 100, i % 7 == 0 ? "..%06zu " :
		    "%06zu ", i);

		memset(body + n + k, 'a' + (char)(i % 26), (size_t)(98 - k));
		memcpy(body + n + 98, "\r\n", 2);
		n += 100;
	}
	memcpy(body + n, ".\r\n+OK mx.test signing off\r\n", 29);
	n += 28;
	{
		const struct h_step script[] = {
			TLS_UP, P_EXPECT("RETR 1\r\n"), P_EXPECT("QUIT\r\n"),
			P_SENDN(body, n), P_CLOSE(), P_END
		};
		struct timespec t0, t1;

		h_start(h, TLS_SVC, script);
		h_greeted(h, GREETING);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		h_send(h, "RETR 1\r\nQUIT\r\n");
		usleep(300 * 1000);
		all = h_read_all(h, WAIT, &got);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_int_equal(got, n);
		assert_memory_equal(all, body, n);
		/* 6 MB on loopback: well under a few seconds even under the
		 * sanitizers. */
		assert_true(t1.tv_sec - t0.tv_sec < 8);
	}
	free(body);
	h_close(h);
	o = h_finish(h, RES_TLS);
	assert_int_equal((int)o->bytes_in, (int)n);
	assert_int_equal((int)o->bytes_out, (int)strlen("RETR 1\r\nQUIT\r\n"));
}

/* --------------------------------------------------------- reply order */

/* Local answers wait for the responses to the commands before them. */
static void
pipelined_local_answers_keep_order(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("STAT\r\n"), P_EXPECT("LIST\r\n"),
		P_EXPECT("NOOP\r\n"),
		P_SLEEP(150),
		P_SEND("+OK 2 320\r\n"), P_SLEEP(100),
		P_SEND("+OK\r\n1 120\r\n"), P_SLEEP(50),
		P_SEND("2 200\r\n.\r\n"),
		P_SLEEP(100), P_SEND("+OK noop\r\n"),
		PEER_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "STAT\r\nSTLS\r\nLIST\r\nSTLS\r\nNOOP\r\n");
	h_expect(h, "+OK 2 320\r\n");
	h_expect(h, "-ERR tlshim: STLS");
	expect_multi(h, "+OK\r\n1 120\r\n2 200\r\n.\r\n");
	h_expect(h, "-ERR tlshim: STLS");
	h_expect(h, "+OK noop\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	h_finish(h, RES_TLS);
	assert_string_equal(h_peer_tls_text(h, 0),
	    "CAPA\r\nSTAT\r\nLIST\r\nNOOP\r\nQUIT\r\n");
}

/* In the clear, refused credentials take their turn too (RFC 2449
 * PIPELINING: responses in the order of the commands). */
/* A client that sends its credentials without waiting for an answer
 * (SASL data after a refused AUTH, a PASS with a leading blank) still
 * gets nothing relayed in cleartext. */
static void
eager_credentials_stay_home(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP, PEER_QUIT, P_END
	};

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "AUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n PASS secret\r\n");
	h_expect(h, "-ERR [AUTH] ");
	h_expect(h, "-ERR [AUTH] ");
	h_expect(h, "-ERR [AUTH] ");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	h_finish(h, RES_PLAINTEXT);
	h_assert_not_has(h_peer_text(h, 0), "AGFsaWNl");
	h_assert_not_has(h_peer_text(h, 0), "secret");
}

static void
pipelined_refusals_keep_order(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP, ASK_CAPA, ASK_CAPA, P_SLEEP(150),
		P_SEND("+OK\r\nTOP\r\nUSER\r\nPIPELINING\r\n.\r\n"),
		P_SLEEP(100), P_SEND("+OK\r\nUIDL\r\n.\r\n"),
		PEER_QUIT, P_END
	};

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "CAPA\r\nUSER alice\r\nPASS secret\r\nCAPA\r\n");
	expect_multi(h, "+OK\r\nTOP\r\nPIPELINING\r\n.\r\n");
	h_expect(h, "-ERR [AUTH] ");
	h_expect(h, "-ERR [AUTH] ");
	expect_multi(h, "+OK\r\nUIDL\r\n.\r\n");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	h_finish(h, RES_PLAINTEXT);
	h_assert_not_has(h_peer_text(h, 0), "alice");
	h_assert_not_has(h_peer_text(h, 0), "secret");
}

/* ---------------------------------------------------- limits and ends */

static void
command_line_limit(void **state)
{
	struct harness *h = *state;
	char ok[1025], bad[1026];
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("NOOP aaaa"), P_SEND("+OK\r\n"), P_END
	};
	const struct outcome *o;

	/* 1024 bytes with CRLF: the longest command relayed. */
	memcpy(ok, "NOOP ", 5);
	memset(ok + 5, 'a', 1017);
	memcpy(ok + 1022, "\r\n", 3);
	/* 1025 bytes: one too many. */
	memcpy(bad, "NOOP ", 5);
	memset(bad + 5, 'b', 1018);
	memcpy(bad + 1023, "\r\n", 3);
	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_sendn(h, ok, 1024);
	h_expect(h, "+OK\r\n");
	h_sendn(h, bad, 1025);
	assert_string_equal(h_read_all(h, WAIT, NULL),
	    "-ERR tlshim: line too long\r\n");
	h_close(h);
	o = h_finish(h, RES_TLS);
	h_assert_has(o->reason, "longer than 1024 bytes");
	/* Not one byte of the long line reached the server. */
	h_assert_not_has(h_peer_tls_text(h, 0), "bbbb");
}

/* A long line without its end is refused as soon as it is too long,
 * without waiting for the rest. */
static void
command_line_limit_unterminated(void **state)
{
	struct harness *h = *state;
	static char flood[4096];
	static const struct h_step script[] = { TLS_UP, P_DRAIN(), P_END };
	const struct outcome *o;

	memset(flood, 'U', sizeof(flood));
	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_sendn(h, flood, sizeof(flood));
	assert_string_equal(h_read_all(h, WAIT, NULL),
	    "-ERR tlshim: line too long\r\n");
	h_close(h);
	o = h_result(h, RES_TLS);
	h_assert_has(o->reason, "longer than 1024 bytes");
}

/* A response no command asked for (an -ERR before the server closes) is
 * relayed; the server's close ends the session. */
static void
unsolicited_err_relayed(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_SLEEP(50),
		P_SEND("-ERR autologout, idle too long\r\n"),
		P_CLOSE(), P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	assert_string_equal(h_read_all(h, WAIT, NULL),
	    "-ERR autologout, idle too long\r\n");
	h_close(h);
	h_finish(h, RES_TLS);
}

/* What is not a status line ends the session, and is not relayed. */
static void
bad_status_line_ends(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("STAT\r\n"), P_SEND("* OK IMAP4rev1\r\n"),
		P_DRAIN(), P_END
	};
	const struct outcome *o;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "STAT\r\n");
	h_assert_not_has(h_read_all(h, WAIT, NULL), "IMAP");
	h_close(h);
	o = h_result(h, RES_TLS);
	h_assert_has(o->reason, "does not start with +OK or -ERR");
}

/* bytes_out counts what the client sent, bytes_in what the server sent
 * during the relay (not the negotiation, not tlshim's local answers). */
static void
bytes_counted(void **state)
{
	struct harness *h = *state;
	static const char c1[] = "STAT\r\n";
	static const char c2[] = "STLS\r\n";		/* local */
	static const char c3[] = "QUIT\r\n";
	static const char s1[] = "+OK 0 0\r\n";
	static const char s2[] = "+OK mx.test signing off\r\n";
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("STAT\r\n"), P_SEND(s1),
		P_EXPECT("QUIT\r\n"), P_SEND(s2), P_CLOSE(), P_END
	};
	const struct outcome *o;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, c1);
	h_expect(h, s1);
	h_send(h, c2);
	h_expect(h, "-ERR ");
	h_quit(h, "QUIT\r\n", SIGN_OFF);
	o = h_finish(h, RES_TLS);
	assert_int_equal(o->bytes_out, strlen(c1) + strlen(c2) + strlen(c3));
	assert_int_equal(o->bytes_in, strlen(s1) + strlen(s2));
}

/* Extra bytes after the CAPA answer inside TLS would reach the client
 * as the answer to its first command. */
static void
extra_after_capa_in_tls(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET, ASK_CAPA, OFFER_TLS, ASK_TLS, GO_TLS, P_TLS(H_CERT_GOOD),
		ASK_CAPA, P_SEND("+OK\r\nUSER\r\n.\r\n+OK extra\r\n"),
		P_DRAIN(), P_END
	};
	const struct outcome *o;

	h_start(h, TLS_SVC, script);
	h_refused(h, REFUSED);
	o = h_result(h, RES_FAILED);
	h_assert_has(o->reason, "unexpected bytes");
}

/* ------------------------------------------------ the parser, alone */

static void
parser_status(void **state)
{
	const char *text, *why;
	size_t tl;

	(void)state;
	assert_int_equal(pop3_status("+OK\r\n", 5, &text, &tl, &why), POP3_OK);
	assert_int_equal(tl, 0);
	assert_int_equal(pop3_status("+OK hi\r\n", 8, &text, &tl, &why),
	    POP3_OK);
	assert_int_equal(tl, 2);
	assert_memory_equal(text, "hi", 2);
	assert_int_equal(pop3_status("-ERR\r\n", 6, &text, &tl, &why),
	    POP3_ERR);
	assert_int_equal(pop3_status("-ERR [AUTH] no\r\n", 16, &text, &tl,
	    &why), POP3_ERR);
	assert_memory_equal(text, "[AUTH] no", 9);
	assert_int_equal(pop3_status("+ \r\n", 4, &text, &tl, &why),
	    POP3_CONT);
	assert_int_equal(pop3_status("+\r\n", 3, &text, &tl, &why), POP3_CONT);
	assert_int_equal(pop3_status("+ abc=\r\n", 8, &text, &tl, &why),
	    POP3_CONT);
	assert_memory_equal(text, "abc=", 4);
	assert_int_equal(pop3_status("+OKAY\r\n", 7, &text, &tl, &why),
	    POP3_BAD);
	assert_int_equal(pop3_status("-ERRx\r\n", 7, &text, &tl, &why),
	    POP3_BAD);
	assert_int_equal(pop3_status("+ok\r\n", 5, &text, &tl, &why), POP3_BAD);
	assert_int_equal(pop3_status("+OK\n", 4, &text, &tl, &why), POP3_BAD);
	h_assert_has(why, "CRLF");
	assert_int_equal(pop3_status("+OK a\rb\r\n", 9, &text, &tl, &why),
	    POP3_BAD);
	h_assert_has(why, "bare CR");
	assert_int_equal(pop3_status("+OK a\0b\r\n", 9, &text, &tl, &why),
	    POP3_BAD);
	h_assert_has(why, "NUL");
	assert_int_equal(pop3_status("", 0, &text, &tl, &why), POP3_BAD);
}

static void
parser_capa(void **state)
{
	struct pop3_capa c;
	const char *why;
	static const char *const lines[] = {
		"TOP\r\n", "user\r\n", "SASL PLAIN LOGIN\r\n", "Stls\r\n",
		"PIPELINING\r\n", "..dotted\r\n", "\r\n", NULL
	};

	(void)state;
	pop3_capa_reset(&c);
	for (size_t i = 0; lines[i] != NULL; i++)
		assert_int_equal(pop3_capa_line(&c, lines[i], strlen(lines[i]),
		    &why), PCP_MORE);
	assert_int_equal(pop3_capa_line(&c, ".\r\n", 3, &why), PCP_DONE);
	assert_true(c.stls && c.user && c.sasl && c.pipelining);
	assert_int_equal(c.nlines, 7);
	assert_string_equal(c.list, "TOP user SASL Stls PIPELINING .dotted");
	assert_int_equal(pop3_capa_line(&c, "X\r\n", 3, &why), PCP_ERROR);

	pop3_capa_reset(&c);
	assert_int_equal(pop3_capa_line(&c, "STLSX\r\n", 7, &why), PCP_MORE);
	assert_int_equal(pop3_capa_line(&c, "X-STLS\r\n", 8, &why), PCP_MORE);
	assert_false(c.stls);
	assert_int_equal(pop3_capa_line(&c, "TOP\n", 4, &why), PCP_ERROR);

	pop3_capa_reset(&c);
	for (int i = 0; i < POP3_CAPA_MAX_LINES; i++)
		assert_int_equal(pop3_capa_line(&c, "X\r\n", 3, &why),
		    PCP_MORE);
	assert_int_equal(pop3_capa_line(&c, "X\r\n", 3, &why), PCP_ERROR);
	h_assert_has(why, "too many");

	assert_true(pop3_capa_keyword("STLS", 4, "STLS"));
	assert_true(pop3_capa_keyword("sasl PLAIN\r\n", 12, "SASL"));
	assert_false(pop3_capa_keyword("SASLX\r\n", 7, "SASL"));
	assert_false(pop3_capa_keyword("SAS\r\n", 5, "SASL"));
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	const struct CMUnitTest tests[] = {
		T(stls_verify_full_session),
		T(capa_in_tls_filtered),
		T(client_stls_answered_locally),
		T(stls_missing_may_plaintext),
		T(stls_missing_encrypt_refused),
		T(default_level_is_encrypt),
		cmocka_unit_test(implicit_port_is_995),
		T(stls_lookalike_not_offered),
		T(stls_keyword_case_insensitive),
		T(stls_refused_encrypt),
		T(stls_refused_may_plaintext),
		T(stls_nonsense_failed),
		T(no_capa_encrypt_refused),
		T(no_capa_may_plaintext),
		T(no_capa_in_tls_ready),
		T(too_many_capa_lines),
		T(injection_same_read),
		T(injection_separate_segment),
		T(greeting_garbage_lines),
		T(greeting_err_failed),
		T(greeting_err_sanitized),
		T(greeting_smtp_failed),
		T(greeting_bare_lf_failed),
		T(greeting_lowercase_failed),
		T(greeting_overlong_failed),
		T(level_none_never_asks),
		T(implicit_tls),
		T(implicit_tls_wrong_name_refused),
		T(cleartext_auth_yes_relays),
		T(auth_relayed_in_tls),
		T(continuation_without_auth),
		T(multi_line_kinds),
		T(split_segments),
		T(bulk_retr),
		T(pipelined_local_answers_keep_order),
		T(pipelined_refusals_keep_order),
		T(eager_credentials_stay_home),
		T(command_line_limit),
		T(command_line_limit_unterminated),
		T(unsolicited_err_relayed),
		T(bad_status_line_ends),
		T(bytes_counted),
		T(extra_after_capa_in_tls),
		cmocka_unit_test(parser_status),
		cmocka_unit_test(parser_capa),
	};
#undef T
	int rc;

	h_main_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	h_main_done();
	return rc;
}
