/*
 * test_imap.c - the IMAP plugin, outbound, through the real core against
 * scripted servers: STARTTLS with an unpredictable tag, the fresh
 * CAPABILITY inside TLS, tlshim's own greeting, PREAUTH, refusals in
 * IMAP's words, injection, literals, and credentials that never cross in
 * cleartext.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shim/result.h"
#include "tests/unit/harness.h"

#define WAIT	10000		/* ms for a session record */

#define IMAP		"protocol = imap\n"
#define GREET_TLS	P_SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS " \
			    "LOGINDISABLED] Dovecot ready.\r\n")
#define ASK_TLS		P_EXPECT_CMD("STARTTLS\r\n")
#define GO_TLS		P_SEND("$T OK Begin TLS negotiation now.\r\n")
#define CAPA_TLS	P_EXPECT_CMD("CAPABILITY\r\n"), \
			P_SEND("* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN " \
			    "COMPRESS=DEFLATE IDLE\r\n$T OK done.\r\n")
#define TLS_UP		GREET_TLS, ASK_TLS, GO_TLS, P_TLS(H_CERT_GOOD), CAPA_TLS
#define LOGGED_OUT	"* BYE Logging out\r\nz OK Logout completed.\r\n"
#define BYE		P_EXPECT("z LOGOUT\r\n"), P_SEND(LOGGED_OUT), P_CLOSE()
/* tlshim's refusal, in IMAP's words */
#define REFUSED		"* BYE [UNAVAILABLE] tlshim: "

/* The whole good path: STARTTLS, a fresh CAPABILITY inside TLS, tlshim's
 * greeting from it (no STARTTLS, LOGINDISABLED or COMPRESS), then LOGIN
 * and a FETCH whose literal holds command-like lines, relayed untouched. */
static void
starttls_verify(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("a1 LOGIN alice secret\r\n"),
		P_SEND("a1 OK Logged in\r\n"),
		P_EXPECT("a2 FETCH 1 BODY[]\r\n"),
		P_SEND("* 1 FETCH (BODY[] {40}\r\n"
		    "a3 STARTTLS\r\nb LOGIN x y\r\n* CAPABIL"
		    ")\r\na2 OK Fetch completed.\r\n"),
		BYE, P_END
	};
	const struct outcome *o;

	h_start(h, IMAP "security = verify\n", script);
	h_greeted(h, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN IDLE] "
	    "tlshim ready\r\n");
	h_send(h, "a1 LOGIN alice secret\r\n");
	h_expect(h, "a1 OK Logged in\r\n");
	h_send(h, "a2 FETCH 1 BODY[]\r\n");
	h_expect(h, "* 1 FETCH (BODY[] {40}\r\n");
	h_expect(h, "a3 STARTTLS\r\n");
	h_expect(h, "b LOGIN x y\r\n");
	h_expect(h, "* CAPABIL)\r\n");
	h_expect(h, "a2 OK Fetch completed.\r\n");
	h_quit(h, "z LOGOUT\r\n", LOGGED_OUT);
	o = h_finish(h, RES_TLS);
	assert_int_equal(o->auth, AUTH_PKIX);
	assert_true(o->starttls_offered);
	h_assert_prefix(o->tls_version, "TLS1.");
	assert_string_equal(o->protocol, "imap");
	/* The password went inside TLS only: nothing before the handshake
	 * but our STARTTLS. */
	{
		const struct h_conn *c = h_peer_conn(h, 0);
		char clear[256];

		assert_true(c->tls);
		assert_true(c->tls_at < sizeof(clear));
		memcpy(clear, c->text.p, c->tls_at);
		clear[c->tls_at] = '\0';
		h_assert_not_has(clear, "secret");
		h_assert_not_has(clear, "LOGIN");
		h_assert_has(c->text.p + c->tls_at, "a1 LOGIN alice secret");
	}
}

/* A greeting whose list lacks STARTTLS may be stale: ask CAPABILITY. */
static void
greeting_without_starttls_asks(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SEND("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		P_EXPECT_CMD("CAPABILITY\r\n"),
		P_SEND("* CAPABILITY IMAP4rev1 STARTTLS\r\n$T OK done\r\n"),
		ASK_TLS, GO_TLS, P_TLS(H_CERT_GOOD), CAPA_TLS,
		BYE, P_END
	};

	h_start(h, IMAP "security = verify\n", script);
	h_greeted(h, "* OK [CAPABILITY ");
	h_quit(h, "z LOGOUT\r\n", LOGGED_OUT);
	h_finish(h, RES_TLS);
}

/* No STARTTLS: encrypt (the default) refuses in IMAP's words. */
static void
no_starttls_default_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
		P_EXPECT_CMD("CAPABILITY\r\n"),
		P_SEND("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n$T OK done\r\n"),
		P_DRAIN(), P_END
	};
	const struct outcome *o;
	const char *got;

	h_start(h, IMAP, script);
	got = h_refused(h, REFUSED);
	h_assert_has(got, "STARTTLS not offered");
	o = h_finish(h, RES_REFUSED);
	h_assert_has(o->reason, "security = encrypt requires TLS");
	assert_false(o->starttls_offered);
}

/* No STARTTLS under may: plaintext, LOGIN answered here, never relayed;
 * the greeting says LOGINDISABLED and hides AUTH=. */
static void
no_starttls_may_plaintext(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE] ready\r\n"),
		P_EXPECT_CMD("CAPABILITY\r\n"),
		P_SEND("* CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE\r\n"
		    "$T OK done\r\n"),
		P_EXPECT("a2 NOOP\r\n"), P_SEND("a2 OK NOOP done\r\n"),
		P_EXPECT("a5 CAPABILITY\r\n"),
		P_SEND("* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n"
		    "a5 OK done\r\n"),
		BYE, P_END
	};
	const struct outcome *o;

	h_start(h, IMAP "security = may\n", script);
	h_greeted(h, "* OK [CAPABILITY IMAP4rev1 IDLE LOGINDISABLED] tlshim "
	    "ready\r\n");
	h_send(h, "a1 LOGIN alice secret\r\n");
	h_expect(h, "a1 NO [PRIVACYREQUIRED] tlshim: ");
	h_send(h, "a2 NOOP\r\n");
	h_expect(h, "a2 OK NOOP done\r\n");
	/* A synchronizing literal of a refused command never comes. */
	h_send(h, "a3 LOGIN {5}\r\n");
	h_expect(h, "a3 NO [PRIVACYREQUIRED] ");
	h_send(h, "a4 AUTHENTICATE PLAIN\r\n");
	h_expect(h, "a4 NO [PRIVACYREQUIRED] ");
	h_send(h, "a5 CAPABILITY\r\n");
	h_expect(h, "* CAPABILITY IMAP4rev1 LOGINDISABLED\r\n");
	h_expect(h, "a5 OK done\r\n");
	h_send(h, "a6 STARTTLS\r\n");
	h_expect(h, "a6 NO tlshim: ");
	h_quit(h, "z LOGOUT\r\n", LOGGED_OUT);
	o = h_finish(h, RES_PLAINTEXT);
	h_assert_has(o->reason, "STARTTLS not offered by server");
	h_assert_has(o->reason, "refused LOGIN");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "secret");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "LOGIN");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "AUTHENTICATE");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "a6");
}

/* A client that sends credentials without waiting (a literal after a
 * refused LOGIN, SASL data after a refused AUTHENTICATE) or other
 * commands that need a login gets nothing relayed in cleartext. */
static void
eager_credentials_stay_home(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
		P_EXPECT_CMD("CAPABILITY\r\n"),
		P_SEND("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n$T OK done\r\n"),
		P_EXPECT("a4 ID NIL\r\n"), P_SEND("* ID NIL\r\na4 OK ID\r\n"),
		BYE, P_END
	};

	h_start(h, IMAP "security = may\n", script);
	h_greeted(h, "* OK [CAPABILITY ");
	h_send(h, "a1 LOGIN alice {6}\r\nsecret\r\n");
	h_expect(h, "a1 NO [PRIVACYREQUIRED] ");
	h_expect(h, "* BAD tlshim: ");
	h_send(h, "a2 AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n");
	h_expect(h, "a2 NO [PRIVACYREQUIRED] ");
	h_expect(h, "* BAD tlshim: ");
	h_send(h, "a3 SELECT INBOX\r\n");
	h_expect(h, "a3 NO [PRIVACYREQUIRED] ");
	h_send(h, "a4 ID NIL\r\n");
	h_expect(h, "* ID NIL\r\n");
	h_expect(h, "a4 OK ID\r\n");
	h_quit(h, "z LOGOUT\r\n", LOGGED_OUT);
	h_finish(h, RES_PLAINTEXT);
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "secret");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "AGFsaWNl");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "SELECT");
}

/* cleartext_auth = yes lets LOGIN through in plaintext, on purpose. */
static void
cleartext_auth_yes(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
		P_EXPECT_CMD("CAPABILITY\r\n"),
		P_SEND("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n$T OK done\r\n"),
		P_EXPECT("a1 LOGIN alice secret\r\n"),
		P_SEND("a1 OK Logged in\r\n"),
		BYE, P_END
	};

	h_start(h, IMAP "security = may\ncleartext_auth = yes\n", script);
	h_greeted(h, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] tlshim ready\r\n");
	h_send(h, "a1 LOGIN alice secret\r\n");
	h_expect(h, "a1 OK Logged in\r\n");
	h_quit(h, "z LOGOUT\r\n", LOGGED_OUT);
	h_finish(h, RES_PLAINTEXT);
}

static void
starttls_refused(struct harness *h, const char *level, const char *answer,
    enum result r)
{
	struct h_step script[] = {
		GREET_TLS, ASK_TLS, P_SENDS(answer), P_DRAIN(), P_END
	};
	char svc[128];
	const struct outcome *o;

	snprintf(svc, sizeof(svc), IMAP "security = %s\n", level);
	h_start(h, svc, script);
	if (r == RES_REFUSED) {
		h_refused(h, REFUSED);
	} else {
		h_greeted(h, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] tlshim "
		    "ready\r\n");
		h_close(h);
	}
	o = h_result(h, r);
	h_assert_has(o->reason, "server refused STARTTLS");
	assert_true(o->starttls_offered);
}

static void
starttls_no_encrypt(void **state)
{
	starttls_refused(*state, "encrypt", "$T NO not now\r\n", RES_REFUSED);
}

static void
starttls_bad_encrypt(void **state)
{
	starttls_refused(*state, "encrypt", "$T BAD no\r\n", RES_REFUSED);
}

static void
starttls_no_may(void **state)
{
	starttls_refused(*state, "may", "$T NO not now\r\n", RES_PLAINTEXT);
}

/* failed_neg - the script breaks the negotiation: BYE, failed, reason */
static void
failed_neg(struct harness *h, const struct h_step *script, enum result r,
    const char *why)
{
	const struct outcome *o;

	h_start(h, IMAP "security = may\n", script);
	h_refused(h, REFUSED);
	o = h_result(h, r);
	h_assert_has(o->reason, why);
}

/* Only the tagged OK starts TLS: a continuation request is an error. */
static void
starttls_continuation(void **state)
{
	static const struct h_step script[] = {
		GREET_TLS, ASK_TLS, P_SEND("+ go on\r\n"), P_DRAIN(), P_END
	};
	failed_neg(*state, script, RES_FAILED, "continuation request");
}

static void
starttls_wrong_tag(void **state)
{
	static const struct h_step script[] = {
		GREET_TLS, ASK_TLS, P_SEND("a1 OK Begin TLS\r\n"), P_DRAIN(),
		P_END
	};
	failed_neg(*state, script, RES_FAILED, "tag tlshim did not send");
}

/* IC-06: data after the tagged OK in the same read is injection. */
static void
injection_same_read(void **state)
{
	static const struct h_step script[] = {
		GREET_TLS, ASK_TLS,
		P_SEND("$T OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"),
		P_DRAIN(), P_END
	};
	failed_neg(*state, script, RES_ATTACK, "response injection");
}

static void
injection_separate_segment(void **state)
{
	static const struct h_step script[] = {
		GREET_TLS, ASK_TLS, GO_TLS, P_WAIT_DATA(),
		P_SEND("* BYE close the connection please.\r\n"),
		P_DRAIN(), P_END
	};
	failed_neg(*state, script, RES_ATTACK, "response injection");
}

/* Untagged data before the tagged OK is dropped, never relayed; TLS
 * goes on and the client sees only the post-TLS list. */
static void
untagged_before_ok_dropped(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		GREET_TLS, ASK_TLS,
		P_SEND("* CAPABILITY IMAP4rev1 AUTH=EVIL\r\n"
		    "* OK [ALERT] click here\r\n"),
		GO_TLS, P_TLS(H_CERT_GOOD), CAPA_TLS,
		BYE, P_END
	};
	const char *greet;

	h_start(h, IMAP "security = verify\n", script);
	greet = h_greeted(h, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN "
	    "IDLE] tlshim ready\r\n");
	h_assert_not_has(greet, "EVIL");
	h_quit(h, "z LOGOUT\r\n", LOGGED_OUT);
	h_finish(h, RES_TLS);
}

/* IC-01: PREAUTH in plaintext cannot be upgraded.  encrypt refuses... */
static void
preauth_refused(void **state)
{
	static const struct h_step script[] = {
		P_SEND("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"),
		P_DRAIN(), P_END
	};
	struct harness *h = *state;
	const struct outcome *o;

	h_start(h, IMAP, script);
	h_refused(h, REFUSED);
	o = h_result(h, RES_REFUSED);
	h_assert_has(o->reason, "PREAUTH");
}

/* ... and may relays it in plaintext, saying so to the client. */
static void
preauth_may_plaintext(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SEND("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"),
		BYE, P_END
	};
	const struct outcome *o;

	h_start(h, IMAP "security = may\n", script);
	h_greeted(h, "* PREAUTH [CAPABILITY IMAP4rev1 LOGINDISABLED] tlshim: "
	    "preauthenticated by the server, relayed in plaintext\r\n");
	h_quit(h, "z LOGOUT\r\n", LOGGED_OUT);
	o = h_finish(h, RES_PLAINTEXT);
	h_assert_has(o->reason, "PREAUTH");
}

static void
bye_greeting(void **state)
{
	static const struct h_step script[] = {
		P_SEND("* BYE too busy\r\n"), P_DRAIN(), P_END
	};
	failed_neg(*state, script, RES_FAILED, "server refused the session");
}

static void
overlong_line(void **state)
{
	static char big[9000];
	struct h_step script[] = {
		P_SENDN(big, sizeof(big)), P_DRAIN(), P_END
	};

	memset(big, 'A', sizeof(big));
	memcpy(big, "* OK ", 5);
	failed_neg(*state, script, RES_FAILED, "line longer than");
}

/* IC-09 and IC-15: no literal is taken during negotiation. */
static void
literal_in_negotiation(void **state)
{
	static const struct h_step script[] = {
		P_SEND("* OK {4294967295}\r\n"), P_DRAIN(), P_END
	};
	failed_neg(*state, script, RES_FAILED, "literal during negotiation");
}

/* In the relay a literal is streamed by count; an absurd one ends the
 * session instead of being believed. */
static void
huge_literal_in_relay(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("a1 FETCH 1 BODY[]\r\n"),
		P_SEND("* 1 FETCH (BODY[] {99999999999999999999}\r\n"),
		P_DRAIN(), P_END
	};
	const struct outcome *o;

	h_start(h, IMAP "security = verify\n", script);
	h_greeted(h, "* OK [CAPABILITY ");
	h_send(h, "a1 FETCH 1 BODY[]\r\n");
	(void)h_read_all(h, WAIT, NULL);
	o = h_finish(h, RES_TLS);
	h_assert_has(o->reason, "oversized literal");
}

/* The client's STARTTLS and COMPRESS are answered here, inside TLS. */
static void
client_starttls_and_compress(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("a3 NOOP\r\n"), P_SEND("a3 OK done\r\n"),
		BYE, P_END
	};

	h_start(h, IMAP "security = verify\n", script);
	h_greeted(h, "* OK [CAPABILITY ");
	h_send(h, "a1 STARTTLS\r\n");
	h_expect(h, "a1 BAD tlshim: ");
	h_send(h, "a2 COMPRESS DEFLATE\r\n");
	h_expect(h, "a2 NO tlshim: ");
	h_send(h, "a3 NOOP\r\n");
	h_expect(h, "a3 OK done\r\n");
	h_quit(h, "z LOGOUT\r\n", LOGGED_OUT);
	h_finish(h, RES_TLS);
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "COMPRESS DEFLATE");
}

/* An APPEND's synchronizing literal flows after the server's "+", and
 * its content is never read as commands. */
static void
append_literal(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("a1 APPEND INBOX {26}\r\n"),
		P_SEND("+ Ready for literal data\r\n"),
		P_EXPECT_DATA("a9 STARTTLS\r\nb9 COMPRESS\r\n"),
		P_EXPECT("\r\n"),
		P_SEND("a1 OK Append completed.\r\n"),
		BYE, P_END
	};

	h_start(h, IMAP "security = verify\n", script);
	h_greeted(h, "* OK [CAPABILITY ");
	h_send(h, "a1 APPEND INBOX {26}\r\n");
	h_expect(h, "+ Ready for literal data\r\n");
	h_send(h, "a9 STARTTLS\r\nb9 COMPRESS\r\n\r\n");
	h_expect(h, "a1 OK Append completed.\r\n");
	h_quit(h, "z LOGOUT\r\n", LOGGED_OUT);
	h_finish(h, RES_TLS);
}

/* Implicit TLS (993): the greeting comes inside TLS. */
static void
implicit_tls(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_TLS(H_CERT_GOOD),
		P_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
		BYE, P_END
	};
	const struct outcome *o;

	h_start(h, IMAP "tls = implicit\nsecurity = verify\n", script);
	h_greeted(h, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] tlshim ready\r\n");
	h_quit(h, "z LOGOUT\r\n", LOGGED_OUT);
	o = h_finish(h, RES_TLS);
	assert_int_equal(o->auth, AUTH_PKIX);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	const struct CMUnitTest tests[] = {
		T(starttls_verify),
		T(greeting_without_starttls_asks),
		T(no_starttls_default_refused),
		T(no_starttls_may_plaintext),
		T(eager_credentials_stay_home),
		T(cleartext_auth_yes),
		T(starttls_no_encrypt),
		T(starttls_bad_encrypt),
		T(starttls_no_may),
		T(starttls_continuation),
		T(starttls_wrong_tag),
		T(injection_same_read),
		T(injection_separate_segment),
		T(untagged_before_ok_dropped),
		T(preauth_refused),
		T(preauth_may_plaintext),
		T(bye_greeting),
		T(overlong_line),
		T(literal_in_negotiation),
		T(huge_literal_in_relay),
		T(client_starttls_and_compress),
		T(append_literal),
		T(implicit_tls),
	};
#undef T
	int rc;

	h_main_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	h_main_done();
	return rc;
}
