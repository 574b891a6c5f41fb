/*
 * test_smtp_relay.c - the SMTP relay (plugins/smtp_relay.c) through the
 * real session core, with a scripted upstream peer (harness.c).
 *
 * The relay forwards bytes exactly, except for what tlshim promises to
 * handle itself: the EHLO reply loses STARTTLS (and AUTH when credentials
 * would cross in cleartext), the client's STARTTLS is answered locally,
 * AUTH is answered locally on a cleartext leg.  These tests check those
 * exceptions, that local answers keep the order of pipelined replies, and
 * that message content (DATA, BDAT) is never interpreted.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shim/result.h"
#include "tests/unit/harness.h"

#define WAIT	10000		/* ms for a session record */

/* Negotiation: TLS with a good certificate under verify... */
#define TLS_UP		P_SMTP_TO_TLS_EHLO("250-mx.test\r\n250-SIZE 1000\r\n" \
			    "250-AUTH PLAIN\r\n250 STARTTLS\r\n", H_CERT_GOOD)
#define TLS_SVC		"security = verify\n"
/* ... or plaintext with no negotiation at all (security = none). */
#define PLAIN_UP	P_SMTP_GREET
#define PLAIN_SVC	"security = none\n"

/* tlshim's whole greeting line */
#define GREETING	H_SMTP_GREETING " tlshim\r\n"

/* reply - one whole reply (all its lines) into buf */
static const char *
reply(struct harness *h, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (;;) {
		const char *l = h_line(h, 5000);
		size_t k;

		if (l == NULL)
			fail_msg("client: reply cut short after \"%s\"", buf);
		k = strlen(l);
		if (n + k + 1 > len)
			fail_msg("reply too long for the test's buffer");
		memcpy(buf + n, l, k + 1);
		n += k;
		if (k < 4 || l[3] != '-')
			return buf;
	}
}

/* expect_reply - the next whole reply is exactly want */
static void
expect_reply(struct harness *h, const char *want)
{
	char buf[4096];

	assert_string_equal(reply(h, buf, sizeof(buf)), want);
}

/* An OpenSSL server (Postfix) sends its TLS 1.3 session tickets when it
 * first has something to say, often in the same segment as the reply.
 * GnuTLS answers "again" after the ticket; the reply after it must still
 * be read, not left waiting for bytes that never come. */
static void
ticket_and_reply_in_one_segment(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("EHLO client.test\r\n"),
		P_TICKET_SEND("250-mx.test\r\n250 SIZE 1000\r\n"),
		P_EXPECT("NOOP\r\n"),
		P_TICKET_SEND("250 2.0.0 Ok\r\n"),
		P_SMTP_QUIT, P_END
	};
	const struct outcome *o;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "EHLO client.test\r\n");
	h_expect(h, "250-mx.test\r\n");
	h_expect(h, "250 SIZE 1000\r\n");
	h_send(h, "NOOP\r\n");
	h_expect(h, "250 2.0.0 Ok\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	o = h_finish(h, RES_TLS);
	assert_string_equal(o->tls_version, "TLS1.3");
}

/* A client that talks before its greeting (here, during the upstream's
 * slow negotiation) has its bytes kept and relayed in order once the
 * relay starts. */
static void
early_client_bytes_relayed(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SLEEP(200), PLAIN_UP,
		P_EXPECT("EHLO early.test\r\n"),
		P_SEND("250 mx.test\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, PLAIN_SVC, script);
	h_connect(h);
	h_send(h, "EHLO early.test\r\n");
	h_expect(h, GREETING);
	h_expect(h, "250 mx.test\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_PLAINTEXT);
}

/* More than SESS_EARLY_MAX bytes before the greeting: refused, bounded. */
static void
early_client_flood_refused(void **state)
{
	struct harness *h = *state;
	/* The server never greets: the flood comes while tlshim waits. */
	static const struct h_step script[] = {
		P_SLEEP(300), P_DRAIN(), P_END
	};
	static char flood[8192];
	const struct outcome *o;

	memset(flood, 'A', sizeof(flood));
	h_start(h, PLAIN_SVC, script);
	h_connect(h);
	usleep(100 * 1000);		/* let tlshim reach the server */
	h_sendn(h, flood, sizeof(flood));
	h_expect(h, "421 4.7.0 tlshim: client sent more than");
	o = h_result(h, RES_FAILED);
	h_assert_has(o->reason, "before its greeting");
	assert_true(h_peer_wait(h, WAIT));
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "AAAA");
}

/* A client that leaves while the upstream is negotiated ends the session
 * there and then: nothing is relayed, the record says why. */
static void
client_gone_during_negotiation(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SLEEP(300), PLAIN_UP, P_DRAIN(), P_END
	};
	const struct outcome *o;

	h_start(h, PLAIN_SVC, script);
	h_connect(h);
	h_close(h);
	o = h_result(h, RES_FAILED);
	h_assert_has(o->reason, "client closed the connection before the "
	    "relay started");
	assert_int_equal((int)o->bytes_out, 0);
}

/* ---------------------------------------------------- EHLO filtering */

/* ehlo_case - the server's post-negotiation EHLO reply is srv; the
 * client must see cli */
static void
ehlo_case(struct harness *h, bool tls, const char *svc_extra,
    const char *srv, const char *cli)
{
	char svc[256];
	const struct h_step tls_script[] = {
		TLS_UP, P_EXPECT("EHLO client.test\r\n"), P_SENDS(srv),
		P_SMTP_QUIT, P_END
	};
	const struct h_step plain_script[] = {
		PLAIN_UP, P_EXPECT("EHLO client.test\r\n"), P_SENDS(srv),
		P_SMTP_QUIT, P_END
	};

	snprintf(svc, sizeof(svc), "%s%s", tls ? TLS_SVC : PLAIN_SVC,
	    svc_extra);
	h_start(h, svc, tls ? tls_script : plain_script);
	h_greeted(h, GREETING);
	h_send(h, "EHLO client.test\r\n");
	expect_reply(h, cli);
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, tls ? RES_TLS : RES_PLAINTEXT);
}

/* Inside TLS: STARTTLS goes, AUTH stays; the pre-TLS list (SIZE 1000,
 * AUTH PLAIN) is never what the client sees (catalogue SC-08). */
static void
ehlo_tls_drops_starttls(void **state)
{
	ehlo_case(*state, true, "",
	    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
	    "250-STARTTLS\r\n250-AUTH SCRAM-SHA-256 PLAIN\r\n250 8BITMIME\r\n",
	    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
	    "250-AUTH SCRAM-SHA-256 PLAIN\r\n250 8BITMIME\r\n");
}

static void
ehlo_tls_drops_last_line(void **state)
{
	ehlo_case(*state, true, "",
	    "250-mx.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
	    "250-mx.test\r\n250 AUTH PLAIN\r\n");
}

static void
ehlo_tls_only_name_left(void **state)
{
	ehlo_case(*state, true, "",
	    "250-mx.test says hello\r\n250 starttls\r\n",
	    "250 mx.test says hello\r\n");
}

static void
ehlo_tls_single_line(void **state)
{
	ehlo_case(*state, true, "", "250 mx.test\r\n", "250 mx.test\r\n");
}

/* A rejected EHLO is relayed as it is. */
static void
ehlo_rejected_relayed(void **state)
{
	ehlo_case(*state, true, "",
	    "550-5.7.1 not you\r\n550 5.7.1 STARTTLS\r\n",
	    "550-5.7.1 not you\r\n550 5.7.1 STARTTLS\r\n");
}

/* In cleartext with cleartext_auth = no (the default), AUTH goes too,
 * in both spellings. */
static void
ehlo_plain_drops_auth(void **state)
{
	ehlo_case(*state, false, "",
	    "250-mx.test\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=LOGIN\r\n"
	    "250-STARTTLS\r\n250 SIZE 1000\r\n",
	    "250-mx.test\r\n250 SIZE 1000\r\n");
}

static void
ehlo_plain_drops_auth_last(void **state)
{
	ehlo_case(*state, false, "",
	    "250-mx.test\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n",
	    "250-mx.test\r\n250 SIZE 1000\r\n");
}

/* AUTHX is not AUTH. */
static void
ehlo_plain_keeps_lookalikes(void **state)
{
	ehlo_case(*state, false, "",
	    "250-mx.test\r\n250-AUTHX\r\n250-STARTTLSX\r\n250 X-AUTH\r\n",
	    "250-mx.test\r\n250-AUTHX\r\n250-STARTTLSX\r\n250 X-AUTH\r\n");
}

static void
ehlo_plain_cleartext_auth_keeps_auth(void **state)
{
	ehlo_case(*state, false, "cleartext_auth = yes\n",
	    "250-mx.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n",
	    "250-mx.test\r\n250 AUTH PLAIN LOGIN\r\n");
}

/* Replies split anywhere across segments are put back together. */
static void
ehlo_split_segments(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("EHLO client.test\r\n"),
		P_SEND("250-mx.te"), P_SLEEP(50), P_SEND("st\r\n250-STA"),
		P_SLEEP(50), P_SEND("RTTLS\r\n250 SIZE 1\r"), P_SLEEP(50),
		P_SEND("\n"), P_SMTP_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "EHLO client.test\r\n");
	expect_reply(h, "250-mx.test\r\n250 SIZE 1\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_TLS);
}

/* ------------------------------------------------- local answers */

static void
client_starttls_answered_locally_tls(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("NOOP\r\n"), P_SEND("250 2.0.0 Ok\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "STARTTLS\r\n");
	h_expect(h, "502 5.5.1 ");
	h_send(h, "starttls\r\n");
	h_expect(h, "502 5.5.1 ");
	h_send(h, "NOOP\r\n");
	h_expect(h, "250 2.0.0 Ok\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_TLS);
	assert_string_equal(h_peer_tls_text(h, 0), "NOOP\r\nQUIT\r\n");
}

static void
client_starttls_answered_locally_plain(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP, P_EXPECT("NOOP\r\n"), P_SEND("250 2.0.0 Ok\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "STARTTLS\r\n");
	h_expect(h, "502 5.5.1 tlshim: STARTTLS is not available");
	h_send(h, "NOOP\r\n");
	h_expect(h, "250 2.0.0 Ok\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_PLAINTEXT);
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "STARTTLS");
}

/* A client that sends its SASL data without waiting for 334 gets no
 * credential relayed: unknown lines stay home on a cleartext leg. */
static void
eager_sasl_data_stays_home(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP, P_EXPECT("NOOP\r\n"), P_SEND("250 2.0.0 Ok\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\nNOOP\r\n");
	h_expect(h, "538 5.7.11 ");
	h_expect(h, "500 5.5.1 tlshim: ");
	h_expect(h, "500 5.5.1 tlshim: ");
	h_expect(h, "250 2.0.0 Ok\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_PLAINTEXT);
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "YWxpY2U=");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "c2VjcmV0");
}

static void
auth_plain_refused_locally(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP, P_EXPECT("NOOP\r\n"), P_SEND("250 2.0.0 Ok\r\n"),
		P_SMTP_QUIT, P_END
	};
	const struct outcome *o;

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	h_expect(h, "538 5.7.11 ");
	h_send(h, "auth login\r\n");
	h_expect(h, "538 5.7.11 ");
	h_send(h, "NOOP\r\n");
	h_expect(h, "250 2.0.0 Ok\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	o = h_finish(h, RES_PLAINTEXT);
	/* The reason keeps every cause, in order: why the leg is
	 * cleartext, then the refused credentials (once, not per AUTH). */
	assert_string_equal(o->reason, "security = none; refused AUTH: the "
	    "upstream connection is not TLS");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "AGFsaWNl");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "AUTH");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "auth");
}

static void
auth_plain_relayed_with_cleartext_auth(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP,
		P_EXPECT("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
		P_SEND("235 2.7.0 Authentication successful\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, PLAIN_SVC "cleartext_auth = yes\n", script);
	h_greeted(h, GREETING);
	h_send(h, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	h_expect(h, "235 2.7.0");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_PLAINTEXT);
}

/* Inside TLS, a SASL exchange is relayed; its responses are credentials,
 * never commands, even when they read like one. */
static void
auth_login_relayed_in_tls(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("AUTH LOGIN\r\n"), P_SEND("334 VXNlcm5hbWU6\r\n"),
		P_EXPECT("STARTTLS\r\n"), P_SEND("334 UGFzc3dvcmQ6\r\n"),
		P_EXPECT("AUTH PLAIN\r\n"),
		P_SEND("535 5.7.8 Authentication credentials invalid\r\n"),
		P_EXPECT("NOOP\r\n"), P_SEND("250 2.0.0 Ok\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "AUTH LOGIN\r\n");
	h_expect(h, "334 VXNlcm5hbWU6\r\n");
	h_send(h, "STARTTLS\r\n");		/* a "username" */
	h_expect(h, "334 UGFzc3dvcmQ6\r\n");
	h_send(h, "AUTH PLAIN\r\n");		/* a "password" */
	h_expect(h, "535 5.7.8");
	/* The exchange is over: commands are commands again. */
	h_send(h, "STARTTLS\r\n");
	h_expect(h, "502 5.5.1");
	h_send(h, "NOOP\r\n");
	h_expect(h, "250 2.0.0 Ok\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_TLS);
}

/* ------------------------------------------------ reply order */

/* A local answer waits for the replies to the commands before it. */
static void
pipelined_local_answers_keep_order(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("MAIL FROM:<a@client.test>\r\n"),
		P_EXPECT("RCPT TO:<b@mx.test>\r\n"),
		P_EXPECT("NOOP\r\n"),
		P_SLEEP(150),
		P_SEND("250 2.1.0 Ok\r\n"), P_SLEEP(100),
		P_SEND("250 2.1.5 Ok\r\n"), P_SLEEP(100),
		P_SEND("250 2.0.0 noop\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "MAIL FROM:<a@client.test>\r\nSTARTTLS\r\n"
	    "RCPT TO:<b@mx.test>\r\nSTARTTLS\r\nNOOP\r\n");
	h_expect(h, "250 2.1.0 Ok\r\n");
	h_expect(h, "502 5.5.1 ");
	h_expect(h, "250 2.1.5 Ok\r\n");
	h_expect(h, "502 5.5.1 ");
	h_expect(h, "250 2.0.0 noop\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_TLS);
	assert_string_equal(h_peer_tls_text(h, 0),
	    "MAIL FROM:<a@client.test>\r\nRCPT TO:<b@mx.test>\r\nNOOP\r\n"
	    "QUIT\r\n");
}

static void
pipelined_auth_refusal_keeps_order(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP,
		P_EXPECT("MAIL FROM:<a@client.test>\r\n"),
		P_EXPECT("RCPT TO:<b@mx.test>\r\n"),
		P_SLEEP(150),
		P_SEND("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "MAIL FROM:<a@client.test>\r\nAUTH PLAIN AGFsaWNl\r\n"
	    "RCPT TO:<b@mx.test>\r\n");
	h_expect(h, "250 2.1.0 Ok\r\n");
	h_expect(h, "538 5.7.11 ");
	h_expect(h, "250 2.1.5 Ok\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_PLAINTEXT);
}

/* An EHLO in the middle of a pipeline is still filtered, and its
 * neighbours' replies are not. */
static void
pipelined_ehlo_filtered(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("RSET\r\n"), P_EXPECT("EHLO client.test\r\n"),
		P_EXPECT("NOOP\r\n"),
		P_SEND("250 2.0.0 reset\r\n250-mx.test\r\n250-STARTTLS\r\n"
		    "250 STARTTLS\r\n250-2.0.0 noop\r\n250 STARTTLS\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "RSET\r\nEHLO client.test\r\nNOOP\r\n");
	expect_reply(h, "250 2.0.0 reset\r\n");
	expect_reply(h, "250 mx.test\r\n");
	expect_reply(h, "250-2.0.0 noop\r\n250 STARTTLS\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_TLS);
}

/* More local answers waiting than tlshim keeps is an error that ends the
 * session, not unbounded memory. */
static void
too_many_pending_local_answers(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("NOOP\r\n"), P_END
	};
	const struct outcome *o;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "NOOP\r\nSTARTTLS\r\nSTARTTLS\r\nSTARTTLS\r\nSTARTTLS\r\n"
	    "STARTTLS\r\nSTARTTLS\r\n");
	(void)h_read_all(h, WAIT, NULL);
	o = h_result(h, RES_TLS);
	h_assert_has(o->reason, "pipelined too many");
}

/* ------------------------------------------------ message content */

#define BODY \
	"From: a@client.test\r\n" \
	"Subject: tricky\r\n" \
	"\r\n" \
	"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n" \
	"STARTTLS\r\n" \
	"EHLO evil\r\n" \
	"DATA\r\n" \
	"BDAT 1000 LAST\r\n" \
	"..a dot-stuffed line\r\n" \
	".not the end\r\n" \
	" .\r\n" \
	"x\r.\r\n" \
	"a very long line without a line end of its own" \
	"...............................................\r\n" \
	".\r\n"

/* data_case - DATA with content that looks like commands, on a TLS or
 * cleartext leg; after it, commands are interpreted again */
static void
data_case(struct harness *h, bool tls)
{
	const struct h_step tls_script[] = {
		TLS_UP,
		P_EXPECT("MAIL FROM:<a@client.test>\r\n"), P_SEND("250 Ok\r\n"),
		P_EXPECT("RCPT TO:<b@mx.test>\r\n"), P_SEND("250 Ok\r\n"),
		P_EXPECT("DATA\r\n"), P_SEND("354 go\r\n"),
		P_EXPECT_DATA(BODY), P_SEND("250 2.0.0 queued\r\n"),
		P_SMTP_QUIT, P_END
	};
	const struct h_step plain_script[] = {
		PLAIN_UP,
		P_EXPECT("MAIL FROM:<a@client.test>\r\n"), P_SEND("250 Ok\r\n"),
		P_EXPECT("RCPT TO:<b@mx.test>\r\n"), P_SEND("250 Ok\r\n"),
		P_EXPECT("DATA\r\n"), P_SEND("354 go\r\n"),
		P_EXPECT_DATA(BODY), P_SEND("250 2.0.0 queued\r\n"),
		P_SMTP_QUIT, P_END
	};
	const struct outcome *o;

	h_start(h, tls ? TLS_SVC : PLAIN_SVC, tls ? tls_script : plain_script);
	h_greeted(h, GREETING);
	h_send(h, "MAIL FROM:<a@client.test>\r\n");
	h_expect(h, "250 Ok");
	h_send(h, "RCPT TO:<b@mx.test>\r\n");
	h_expect(h, "250 Ok");
	h_send(h, "DATA\r\n");
	h_expect(h, "354 go");
	h_send(h, BODY);
	h_expect(h, "250 2.0.0 queued\r\n");
	/* Back in command mode: these are answered by tlshim. */
	h_send(h, "STARTTLS\r\n");
	h_expect(h, "502 5.5.1");
	if (!tls) {
		h_send(h, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
		h_expect(h, "538 5.7.11");
	}
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	o = h_finish(h, tls ? RES_TLS : RES_PLAINTEXT);
	assert_string_equal(o->reason, tls ? "" : "security = none; refused "
	    "AUTH: the upstream connection is not TLS");
	h_assert_not_has(h_peer_conn(h, 0)->text.p, "AUTH PLAIN AGFsaWNl"
	    "AHNlY3JldA==\r\nQUIT");
}

static void
data_content_untouched_tls(void **state)
{
	data_case(*state, true);
}

static void
data_content_untouched_plain(void **state)
{
	data_case(*state, false);
}

/* The end of content split over several reads is still found, and
 * nothing before it is taken for its end. */
static void
data_end_split_across_reads(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP,
		P_EXPECT("DATA\r\n"), P_SEND("354 go\r\n"),
		P_EXPECT_DATA("line one\r\n.\rx\r\nSTARTTLS\r\n\r\n.\r\n"),
		P_SEND("250 2.0.0 queued\r\n"),
		P_EXPECT("NOOP\r\n"), P_SEND("250 Ok\r\n"),
		P_SMTP_QUIT, P_END
	};
	static const char *const parts[] = {
		"line one\r", "\n.", "\rx\r\n", "STARTTLS\r\n\r", "\n", ".",
		"\r", "\n"
	};

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "DATA\r\n");
	h_expect(h, "354 go");
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		h_send(h, parts[i]);
		usleep(30 * 1000);
	}
	h_expect(h, "250 2.0.0 queued\r\n");
	h_send(h, "STARTTLS\r\n");
	h_expect(h, "502 5.5.1");
	h_send(h, "NOOP\r\n");
	h_expect(h, "250 Ok\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_PLAINTEXT);
}

/* DATA refused: there is no content, the next line is a command. */
static void
data_refused_back_to_commands(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("DATA\r\n"), P_SEND("554 5.5.1 no valid recipients\r\n"),
		P_EXPECT("RSET\r\n"), P_SEND("250 2.0.0 Ok\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "DATA\r\n");
	h_expect(h, "554 5.5.1");
	h_send(h, "STARTTLS\r\n");
	h_expect(h, "502 5.5.1");
	h_send(h, "RSET\r\n");
	h_expect(h, "250 2.0.0 Ok\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_TLS);
	assert_string_equal(h_peer_tls_text(h, 0), "DATA\r\nRSET\r\nQUIT\r\n");
}

/* RFC 2920: content and its end may be pipelined with the commands after
 * it.  The reply to the end of data must come before the local answer to
 * the STARTTLS that follows it. */
static void
pipelined_after_data_end_keeps_order(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("DATA\r\n"), P_SEND("354 go\r\n"),
		P_EXPECT("body\r\n"), P_EXPECT(".\r\n"),
		P_SLEEP(150),
		P_SEND("250 2.0.0 queued\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "DATA\r\n");
	h_expect(h, "354 go");
	h_send(h, "body\r\n.\r\nSTARTTLS\r\n");
	h_expect(h, "250 2.0.0 queued\r\n");
	h_expect(h, "502 5.5.1");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_TLS);
}

/* The same with an EHLO after the end of data: its reply must still be
 * filtered. */
static void
pipelined_ehlo_after_data_end_filtered(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("DATA\r\n"), P_SEND("354 go\r\n"),
		P_EXPECT("body\r\n"), P_EXPECT(".\r\n"),
		P_EXPECT("EHLO client.test\r\n"),
		P_SEND("250 2.0.0 queued\r\n"),
		P_SEND("250-mx.test\r\n250-STARTTLS\r\n250 SIZE 1\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "DATA\r\n");
	h_expect(h, "354 go");
	h_send(h, "body\r\n.\r\nEHLO client.test\r\n");
	expect_reply(h, "250 2.0.0 queued\r\n");
	expect_reply(h, "250-mx.test\r\n250 SIZE 1\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_TLS);
}

/* A second transaction pipelined after the end of the first message
 * (RFC 2920 3.1: content may be the first "command" of a group).  The
 * second message's content must be relayed untouched, like the first. */
static void
pipelined_second_message_content_untouched(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP,
		P_EXPECT("DATA\r\n"), P_SEND("354 go\r\n"),
		P_EXPECT("one\r\n"), P_EXPECT(".\r\n"),
		P_EXPECT("MAIL FROM:<a@client.test>\r\n"),
		P_EXPECT("RCPT TO:<b@mx.test>\r\n"),
		P_EXPECT("DATA\r\n"),
		P_SEND("250 2.0.0 queued as 1\r\n250 2.1.0 Ok\r\n"
		    "250 2.1.5 Ok\r\n354 go\r\n"),
		P_EXPECT_DATA("STARTTLS\r\nAUTH PLAIN AGFsaWNl\r\n.\r\n"),
		P_SEND("250 2.0.0 queued as 2\r\n"),
		P_SMTP_QUIT, P_END
	};

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "DATA\r\n");
	h_expect(h, "354 go");
	h_send(h, "one\r\n.\r\nMAIL FROM:<a@client.test>\r\n"
	    "RCPT TO:<b@mx.test>\r\nDATA\r\n");
	h_expect(h, "250 2.0.0 queued as 1\r\n");
	h_expect(h, "250 2.1.0 Ok\r\n");
	h_expect(h, "250 2.1.5 Ok\r\n");
	h_expect(h, "354 go\r\n");
	h_send(h, "STARTTLS\r\nAUTH PLAIN AGFsaWNl\r\n.\r\n");
	h_expect(h, "250 2.0.0 queued as 2\r\n");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_PLAINTEXT);
}

/* BDAT chunks are relayed by their size, whatever they contain. */
#define CHUNK1	"STARTTLS\r\nAUTH PLAIN AGFsaWNl\r\n.\r\n"	/* 34 */
#define CHUNK2	"EHLO x\r\n"					/* 8 */

static void
bdat_relayed_by_size(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP,
		P_EXPECT("MAIL FROM:<a@client.test>\r\n"), P_SEND("250 Ok\r\n"),
		P_EXPECT("RCPT TO:<b@mx.test>\r\n"), P_SEND("250 Ok\r\n"),
		P_EXPECT("BDAT 34\r\n"), P_EXPECT_DATA(CHUNK1),
		P_SEND("250 2.0.0 34 octets\r\n"),
		P_EXPECT("BDAT 8 LAST\r\n"), P_EXPECT_DATA(CHUNK2),
		P_SEND("250 2.0.0 queued\r\n"),
		P_EXPECT("NOOP\r\n"), P_SEND("250 Ok\r\n"),
		P_SMTP_QUIT, P_END
	};

	assert_int_equal(strlen(CHUNK1), 34);
	assert_int_equal(strlen(CHUNK2), 8);
	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "MAIL FROM:<a@client.test>\r\n");
	h_expect(h, "250 Ok");
	h_send(h, "RCPT TO:<b@mx.test>\r\n");
	h_expect(h, "250 Ok");
	/* The first chunk split over reads, the second with the command
	 * after it in the same write. */
	h_send(h, "BDAT 34\r\nSTARTTLS\r\nAUTH");
	usleep(30 * 1000);
	h_send(h, " PLAIN AGFsaWNl\r\n.\r\n");
	h_expect(h, "250 2.0.0 34 octets");
	h_send(h, "BDAT 8 LAST\r\n" CHUNK2 "STARTTLS\r\n");
	h_expect(h, "250 2.0.0 queued");
	h_expect(h, "502 5.5.1");
	h_send(h, "NOOP\r\n");
	h_expect(h, "250 Ok");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	h_finish(h, RES_PLAINTEXT);
}

/* ------------------------------------------------ limits and ends */

static void
command_line_limit(void **state)
{
	struct harness *h = *state;
	char *ok = malloc(8193), *bad = malloc(8194);
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT("NOOP aaaaaaaa"), P_SEND("250 Ok\r\n"),
		P_END
	};
	const struct outcome *o;
	const char *rest;

	assert_non_null(ok);
	assert_non_null(bad);
	/* 8192 bytes with CRLF: the longest line relayed. */
	memcpy(ok, "NOOP ", 5);
	memset(ok + 5, 'a', 8185);
	memcpy(ok + 8190, "\r\n", 3);
	/* 8193 bytes: one too many. */
	memcpy(bad, "NOOP ", 5);
	memset(bad + 5, 'b', 8186);
	memcpy(bad + 8191, "\r\n", 3);
	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_sendn(h, ok, 8192);
	h_expect(h, "250 Ok\r\n");
	h_sendn(h, bad, 8193);
	free(ok);
	free(bad);
	rest = h_read_all(h, WAIT, NULL);
	assert_string_equal(rest, "500 5.5.2 tlshim: line too long\r\n");
	h_close(h);
	o = h_result(h, RES_TLS);
	h_assert_has(o->reason, "longer than 8192 bytes");
	h_assert_peer_ok(h);
	/* Not one byte of the long line reached the server. */
	h_assert_not_has(h_peer_tls_text(h, 0), "bbbb");
}

static void
server_reply_line_limit(void **state)
{
	struct harness *h = *state;
	char *big = malloc(4096);

	assert_non_null(big);
	memcpy(big, "250 ", 4);
	memset(big + 4, 'z', 4096 - 4);
	{
		const struct h_step script[] = {
			TLS_UP, P_EXPECT("NOOP\r\n"), P_SENDN(big, 4096),
			P_END
		};

		h_start(h, TLS_SVC, script);
	}
	free(big);
	{
		const struct outcome *o;

		h_greeted(h, GREETING);
		h_send(h, "NOOP\r\n");
		h_assert_not_has(h_read_all(h, WAIT, NULL), "zzzz");
		h_close(h);
		o = h_result(h, RES_TLS);
		h_assert_has(o->reason, "longer than 2048 bytes");
	}
}

/* A reply no command asked for (a 421 before the server closes) is
 * relayed; the server's close ends the session. */
static void
unsolicited_421_relayed(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_SLEEP(50), P_SEND("421 4.3.2 shutting down\r\n"),
		P_CLOSE(), P_END
	};
	const char *all;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	all = h_read_all(h, WAIT, NULL);
	assert_string_equal(all, "421 4.3.2 shutting down\r\n");
	h_close(h);
	h_finish(h, RES_TLS);
}

/* bytes_out counts what the client sent, bytes_in what the server sent
 * during the relay (not the negotiation). */
static void
bytes_counted(void **state)
{
	struct harness *h = *state;
	static const char c1[] = "EHLO client.test\r\n";
	static const char c2[] = "STARTTLS\r\n";		/* local */
	static const char c3[] = "QUIT\r\n";
	static const char s1[] = "250-mx.test\r\n250 STARTTLS\r\n";
	static const char s2[] = "221 2.0.0 Bye\r\n";
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("EHLO client.test\r\n"), P_SEND(s1),
		P_EXPECT("QUIT\r\n"), P_SEND(s2), P_CLOSE(), P_END
	};
	const struct outcome *o;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, c1);
	expect_reply(h, "250 mx.test\r\n");
	h_send(h, c2);
	h_expect(h, "502 ");
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	o = h_finish(h, RES_TLS);
	assert_int_equal(o->bytes_out, strlen(c1) + strlen(c2) + strlen(c3));
	assert_int_equal(o->bytes_in, strlen(s1) + strlen(s2));
}

/* Half-close: the client sends QUIT and its FIN at once; the server's
 * reply still reaches it, and the session ends cleanly as TLS. */
static void
half_close_client_first(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("QUIT\r\n"), P_SLEEP(100),
		P_SEND("221 2.0.0 Bye\r\n"), P_CLOSE(), P_END
	};
	const struct outcome *o;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "QUIT\r\n");
	h_shutdown_wr(h);
	assert_string_equal(h_read_all(h, WAIT, NULL), "221 2.0.0 Bye\r\n");
	h_close(h);
	o = h_finish(h, RES_TLS);
	assert_string_equal(o->reason, "");
	assert_int_equal(o->auth, AUTH_PKIX);
	/* The peer saw the end of the stream after QUIT: tlshim passed the
	 * client's half-close on. */
	assert_true(h_peer_conn(h, 0)->eof);
}

/* The server closes first; the client still gets everything, then EOF;
 * the session ends when the client closes too. */
static void
half_close_server_first(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		PLAIN_UP, P_SMTP_QUIT, P_END
	};
	const struct outcome *o;

	h_start(h, PLAIN_SVC, script);
	h_greeted(h, GREETING);
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
	o = h_finish(h, RES_PLAINTEXT);
	assert_string_equal(o->reason, "security = none");
}

/* A big message through TLS while the server does not read for a while:
 * backpressure pauses the client side, and every byte arrives in order. */
static void
large_message_backpressure(void **state)
{
	struct harness *h = *state;
	size_t lines = 3000, n = 0;
	char *body = malloc(lines * 1000 + 8);

	assert_non_null(body);
	for (size_t i = 0; i < lines; i++) {
		int k = snprintf(body + n, 1000, "%06zu ", i);

		memset(body + n + k, 'a' + (char)(i % 26), (size_t)(998 - k));
		memcpy(body + n + 998, "\r\n", 2);
		n += 1000;
	}
	memcpy(body + n, ".\r\n", 4);
	n += 3;
	{
		const struct h_step script[] = {
			TLS_UP,
			P_EXPECT("DATA\r\n"), P_SEND("354 go\r\n"),
			P_SLEEP(500),
			{ H_EXPECT_DATA, body, n, 0 },
			P_SEND("250 2.0.0 queued\r\n"),
			P_SMTP_QUIT, P_END
		};
		const struct outcome *o;

		h_start(h, TLS_SVC, script);
		h_greeted(h, GREETING);
		h_send(h, "DATA\r\n");
		h_expect(h, "354 go");
		h_sendn(h, body, n);
		free(body);
		h_expect(h, "250 2.0.0 queued\r\n");
		h_quit(h, "QUIT\r\n", H_SMTP_BYE);
		o = h_finish(h, RES_TLS);
		assert_int_equal(o->bytes_out, strlen("DATA\r\nQUIT\r\n") + n);
	}
}

/* idle_timeout ends a quiet session; the result stays what it was. */
static void
idle_timeout_ends_session(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = { TLS_UP, P_END };
	const struct outcome *o;

	h_start(h, TLS_SVC "idle_timeout = 300ms\n", script);
	h_greeted(h, GREETING);
	assert_true(h_eof(h, 5000));
	h_close(h);
	o = h_result(h, RES_TLS);
	h_assert_has(o->reason, "idle");
}

/* The server resets the connection in the middle: the session ends, the
 * record says why. */
static void
server_reset_during_relay(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT("NOOP\r\n"), P_RESET(), P_END
	};
	const struct outcome *o;

	h_start(h, TLS_SVC, script);
	h_greeted(h, GREETING);
	h_send(h, "NOOP\r\n");
	assert_string_equal(h_read_all(h, WAIT, NULL), "");
	h_close(h);
	o = h_result(h, RES_TLS);
	h_assert_has(o->reason, "server connection");
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	const struct CMUnitTest tests[] = {
		T(ehlo_tls_drops_starttls),
		T(ehlo_tls_drops_last_line),
		T(ehlo_tls_only_name_left),
		T(ehlo_tls_single_line),
		T(ehlo_rejected_relayed),
		T(ehlo_plain_drops_auth),
		T(ehlo_plain_drops_auth_last),
		T(ehlo_plain_keeps_lookalikes),
		T(ehlo_plain_cleartext_auth_keeps_auth),
		T(ehlo_split_segments),
		T(client_starttls_answered_locally_tls),
		T(client_starttls_answered_locally_plain),
		T(auth_plain_refused_locally),
		T(auth_plain_relayed_with_cleartext_auth),
		T(auth_login_relayed_in_tls),
		T(pipelined_local_answers_keep_order),
		T(pipelined_auth_refusal_keeps_order),
		T(pipelined_ehlo_filtered),
		T(too_many_pending_local_answers),
		T(data_content_untouched_tls),
		T(data_content_untouched_plain),
		T(data_end_split_across_reads),
		T(data_refused_back_to_commands),
		T(pipelined_after_data_end_keeps_order),
		T(pipelined_ehlo_after_data_end_filtered),
		T(pipelined_second_message_content_untouched),
		T(bdat_relayed_by_size),
		T(command_line_limit),
		T(server_reply_line_limit),
		T(unsolicited_421_relayed),
		T(bytes_counted),
		T(half_close_client_first),
		T(half_close_server_first),
		T(large_message_backpressure),
		T(idle_timeout_ends_session),
		T(server_reset_during_relay),
		T(ticket_and_reply_in_one_segment),
		T(eager_sasl_data_stays_home),
		T(early_client_bytes_relayed),
		T(early_client_flood_refused),
		T(client_gone_during_negotiation),
	};
#undef T
	int rc;

	h_main_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	h_main_done();
	return rc;
}
