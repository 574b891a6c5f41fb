/*
 * test_resume.c - TLS session resumption toward upstreams: the bounded
 * cache on its own (tls_cache.c), then the real session core against a
 * scripted peer that sends tickets as servers do (harness.c, H_TICKETS)
 * and says whether each handshake resumed.
 *
 * What must hold: a resumed session is recorded with what the full
 * handshake's verification found (a TLS 1.3 resumption carries no
 * certificate); a ticket obtained under one verification requirement is
 * never offered under another, in either direction; a ticket is offered
 * once; a server that refuses the ticket gets a full handshake, verified.
 *
 * The cache is process-wide: every test starts by clearing it.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "shim/result.h"
#include "shim/tls_cache.h"
#include "tests/unit/harness.h"

#define WAIT	10000		/* ms for a session record */

/* --------------------------------------------------------- the cache */

static struct tls_verdict
verdict(enum auth a, const char *cert)
{
	struct tls_verdict v;

	memset(&v, 0, sizeof(v));
	v.verified_ms = tls_cache_clock_ms();
	v.auth = a;
	snprintf(v.cert_sha256, sizeof(v.cert_sha256), "%s", cert);
	return v;
}

/* take_str - take key's newest entry as a string, or NULL */
static char *
take_str(const char *key, struct tls_verdict *v)
{
	struct tls_verdict dummy;
	void *data;
	size_t len;
	char *s;

	if (!tls_cache_take(key, &data, &len, v != NULL ? v : &dummy))
		return NULL;
	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, data, len);
	s[len] = '\0';
	tls_cache_data_free(data, len);
	return s;
}

static void
put_str(const char *key, const char *data, unsigned life)
{
	struct tls_verdict v = verdict(AUTH_PKIX, "c0ffee");

	assert_true(tls_cache_put(key, data, strlen(data), &v, life));
}

static void
cache_take_once(void **state)
{
	struct tls_verdict v = verdict(AUTH_UNTRUSTED, "ab12"), got;
	char *s;

	(void)state;
	tls_cache_clear();
	snprintf(v.why, sizeof(v.why), "certificate not verified");
	assert_true(tls_cache_put("mx.test 25 mx.test noauth 1", "ticket", 6,
	    &v, 600));
	assert_null(take_str("mx.test 25 mx.test pkix 1", NULL));
	assert_null(take_str("mx.test 587 mx.test noauth 1", NULL));
	assert_null(take_str("mx.test 25 mx.test noauth 2", NULL));
	s = take_str("mx.test 25 mx.test noauth 1", &got);
	assert_non_null(s);
	assert_string_equal(s, "ticket");
	free(s);
	assert_int_equal(got.auth, AUTH_UNTRUSTED);
	assert_string_equal(got.cert_sha256, "ab12");
	assert_string_equal(got.why, "certificate not verified");
	assert_int_equal(got.verified_ms, v.verified_ms);
	/* Handed out once. */
	assert_null(take_str("mx.test 25 mx.test noauth 1", NULL));
	assert_int_equal(tls_cache_count(), 0);
}

static void
cache_bounded(void **state)
{
	char key[64];
	char *s;

	(void)state;
	tls_cache_clear();
	for (int i = 0; i < TLS_CACHE_MAX + 10; i++) {
		snprintf(key, sizeof(key), "host%d.test 25 - pkix 1", i);
		put_str(key, key, 600);
		assert_true(tls_cache_count() <= TLS_CACHE_MAX);
	}
	assert_int_equal(tls_cache_count(), TLS_CACHE_MAX);
	/* The oldest went first. */
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "host%d.test 25 - pkix 1", i);
		assert_null(take_str(key, NULL));
	}
	snprintf(key, sizeof(key), "host%d.test 25 - pkix 1", 10);
	assert_non_null(s = take_str(key, NULL));
	free(s);
	snprintf(key, sizeof(key), "host%d.test 25 - pkix 1",
	    TLS_CACHE_MAX + 9);
	assert_non_null(s = take_str(key, NULL));
	assert_string_equal(s, key);
	free(s);
	assert_int_equal(tls_cache_count(), TLS_CACHE_MAX - 2);
	tls_cache_clear();
	assert_int_equal(tls_cache_count(), 0);
}

static void
cache_per_key_newest_first(void **state)
{
	const char *key = "mx.test 25 mx.test pkix 7";
	char data[16], *s;

	(void)state;
	tls_cache_clear();
	for (int i = 0; i < TLS_CACHE_PER_KEY + 3; i++) {
		snprintf(data, sizeof(data), "t%d", i);
		put_str(key, data, 600);
	}
	put_str("other.test 25 other.test pkix 7", "x", 600);
	assert_int_equal(tls_cache_count(), TLS_CACHE_PER_KEY + 1);
	for (int i = TLS_CACHE_PER_KEY + 2; i >= 3; i--) {
		snprintf(data, sizeof(data), "t%d", i);
		assert_non_null(s = take_str(key, NULL));
		assert_string_equal(s, data);
		free(s);
	}
	assert_null(take_str(key, NULL));
	assert_int_equal(tls_cache_count(), 1);
	tls_cache_clear();
}

static void
cache_expiry(void **state)
{
	struct tls_verdict old = verdict(AUTH_PKIX, "c0ffee");
	struct timespec ts = { 1, 100 * 1000 * 1000 };

	(void)state;
	tls_cache_clear();
	/* Lifetime 0: "do not keep" (RFC 8446 4.6.1). */
	assert_false(tls_cache_put("k 1 - pkix 1", "t", 1, &old, 0));
	/* A verdict an hour old is not reused, whatever the ticket says. */
	old.verified_ms -= (uint64_t)TLS_CACHE_MAX_AGE * 1000;
	assert_false(tls_cache_put("k 1 - pkix 1", "t", 1, &old, 7 * 86400));
	assert_int_equal(tls_cache_count(), 0);
	/* An entry past its ticket's lifetime is gone. */
	put_str("k 2 - pkix 1", "t", 1);
	put_str("k 3 - pkix 1", "t", 600);
	nanosleep(&ts, NULL);
	assert_null(take_str("k 2 - pkix 1", NULL));
	free(take_str("k 3 - pkix 1", NULL));
	assert_int_equal(tls_cache_count(), 0);
}

/* hammer - one of several threads putting and taking at once */
static void *
hammer(void *arg)
{
	int id = (int)(intptr_t)arg;
	char key[64], *s;

	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "h%d.test 25 - pkix %d", i % 97,
		    id % 2);
		put_str(key, key, 600);
		if ((s = take_str(key, NULL)) != NULL) {
			if (strcmp(s, key) != 0)
				abort();
			free(s);
		}
	}
	return NULL;
}

static void
cache_threads(void **state)
{
	pthread_t t[4];

	(void)state;
	tls_cache_clear();
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer,
		    (void *)(intptr_t)i), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_true(tls_cache_count() <= TLS_CACHE_MAX);
	tls_cache_clear();
}

/* -------------------------------------------------- through sessions */

/* client_quit - the legacy client, on port (0: the first service's), is
 * greeted and says QUIT */
static void
client_quit(struct harness *h, int port)
{
	h_greeted_port(h, port, H_SMTP_GREETING);
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
}

static void
assert_full_tls(const struct outcome *o, enum auth a, enum h_cert cert)
{
	h_assert_result(o, RES_TLS);
	assert_false(o->resumed);
	assert_int_equal(o->auth, a);
	assert_string_equal(o->cert_sha256, h_cert_sha256(cert));
}

/* The first session verifies in full; the next ones resume, each with a
 * ticket the one before received, and are recorded as the first. */
static void
verify_resumed(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_GOOD), P_SMTP_QUIT,
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_GOOD), P_SMTP_QUIT,
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_GOOD), P_SMTP_QUIT,
		P_END
	};
	const struct outcome *o0, *o;
	char line[1536];

	tls_cache_clear();
	h_start_opt(h, "security = verify\n", script, H_TICKETS);
	client_quit(h, 0);
	o0 = h_outcome_n(h, 0, WAIT);
	assert_full_tls(o0, AUTH_PKIX, H_CERT_GOOD);
	assert_int_equal(strlen(o0->spki_sha256), 64);
	assert_true(tls_cache_count() >= 1);
	for (int i = 1; i <= 2; i++) {
		client_quit(h, 0);
		o = h_outcome_n(h, i, WAIT);
		h_assert_result(o, RES_TLS);
		assert_true(o->resumed);
		assert_int_equal(o->auth, AUTH_PKIX);
		assert_string_equal(o->cert_sha256, h_cert_sha256(H_CERT_GOOD));
		assert_string_equal(o->spki_sha256, o0->spki_sha256);
		assert_string_equal(o->reason, "");
		h_assert_prefix(o->tls_version, "TLS1.3");
		outcome_format(o, line, sizeof(line));
		h_assert_has(line, " resumed=yes ");
	}
	outcome_format(o0, line, sizeof(line));
	h_assert_has(line, " resumed=no ");
	h_assert_peer_ok(h);
	assert_false(h_peer_conn(h, 0)->resumed);
	assert_true(h_peer_conn(h, 1)->resumed);
	assert_true(h_peer_conn(h, 2)->resumed);
}

/* One ticket per session, sent late, with the server's last reply: each
 * session uses the ticket the one before got, once, and keeps its own. */
static void
ticket_chain(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_GOOD), P_EXPECT("QUIT\r\n"),
		P_TICKET_SEND(H_SMTP_BYE), P_CLOSE(),
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_GOOD), P_EXPECT("QUIT\r\n"),
		P_TICKET_SEND(H_SMTP_BYE), P_CLOSE(),
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_GOOD), P_EXPECT("QUIT\r\n"),
		P_TICKET_SEND(H_SMTP_BYE), P_CLOSE(),
		P_END
	};
	const struct outcome *o;

	tls_cache_clear();
	h_start(h, "security = verify\n", script);	/* no H_TICKETS */
	client_quit(h, 0);
	assert_full_tls(h_outcome_n(h, 0, WAIT), AUTH_PKIX, H_CERT_GOOD);
	assert_int_equal(tls_cache_count(), 1);
	for (int i = 1; i <= 2; i++) {
		client_quit(h, 0);
		o = h_outcome_n(h, i, WAIT);
		h_assert_result(o, RES_TLS);
		assert_true(o->resumed);
		assert_int_equal(o->auth, AUTH_PKIX);
		assert_string_equal(o->cert_sha256, h_cert_sha256(H_CERT_GOOD));
		/* Taken, and replaced by the new one. */
		assert_int_equal(tls_cache_count(), 1);
	}
	h_assert_peer_ok(h);
	assert_true(h_peer_conn(h, 1)->resumed);
	assert_true(h_peer_conn(h, 2)->resumed);
}

/* An unauthenticated session resumed reports untrusted and why, as its
 * full handshake did. */
static void
encrypt_resumed_untrusted(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_SELF_SIGNED), P_SMTP_QUIT,
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_SELF_SIGNED), P_SMTP_QUIT,
		P_END
	};
	const struct outcome *o0, *o1;

	tls_cache_clear();
	h_start_opt(h, "security = encrypt\n", script, H_TICKETS);
	client_quit(h, 0);
	o0 = h_outcome_n(h, 0, WAIT);
	assert_full_tls(o0, AUTH_UNTRUSTED, H_CERT_SELF_SIGNED);
	h_assert_has(o0->reason, "not verified");
	client_quit(h, 0);
	o1 = h_outcome_n(h, 1, WAIT);
	h_assert_result(o1, RES_TLS);
	assert_true(o1->resumed);
	assert_int_equal(o1->auth, AUTH_UNTRUSTED);
	assert_string_equal(o1->cert_sha256, o0->cert_sha256);
	assert_string_equal(o1->reason, o0->reason);
	h_assert_peer_ok(h);
	assert_true(h_peer_conn(h, 1)->resumed);
}

/*
 * two_services - [smtp-out] with svc1 and [smtp-two] with svc2, both to
 * the one peer, with the one ca_file (so one struct tls_client: only the
 * level tells their sessions apart).  *port2 is [smtp-two]'s listen port.
 */
static void
two_services(struct harness *h, const char *svc1, const char *svc2,
    const struct h_step *script, int *port2)
{
	char text[1024];
	int peer = h_free_port(), two = h_free_port();

	if (peer < 0 || two < 0 || peer == two)
		fail_msg("no free ports");
	/* The harness adds defaults only for keys no section sets. */
	snprintf(text, sizeof(text),
	    "protocol = smtp\nupstream = 127.0.0.1:%d\nhelo_name = shim.test\n"
	    "%s\n"
	    "[smtp-two]\nprotocol = smtp\nlisten = 127.0.0.1:%d\n"
	    "upstream = 127.0.0.1:%d\nhelo_name = shim.test\n"
	    "connect_timeout = 3s\nhandshake_timeout = 8s\n"
	    "idle_timeout = 20s\n%s", peer, svc1, two, peer, svc2);
	h_use_peer_port(h, peer);
	h_start_opt(h, text, script, H_TICKETS);
	*port2 = two;
}

/* A ticket from an encrypt session (certificate not verified) is never
 * offered by a verify session to the same upstream: that one does a full
 * handshake and verifies, and here refuses. */
static void
encrypt_ticket_not_for_verify(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_SELF_SIGNED), P_SMTP_QUIT,
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_SELF_SIGNED), P_SMTP_REFUSED,
		P_END
	};
	const struct outcome *o;
	int verify_port;

	tls_cache_clear();
	two_services(h, "security = encrypt\n", "security = verify\n",
	    script, &verify_port);
	client_quit(h, 0);
	o = h_outcome_n(h, 0, WAIT);
	assert_full_tls(o, AUTH_UNTRUSTED, H_CERT_SELF_SIGNED);
	assert_true(tls_cache_count() >= 1);
	h_refused_port(h, verify_port, H_SMTP_REFUSED);
	o = h_outcome_n(h, 1, WAIT);
	h_assert_result(o, RES_REFUSED);
	assert_false(o->resumed);
	assert_string_equal(o->service, "smtp-two");
	assert_int_equal(o->auth, AUTH_UNTRUSTED);
	h_assert_has(o->reason, "not verified");
	h_assert_peer_ok(h);
	assert_false(h_peer_conn(h, 1)->resumed);
	/* The encrypt ticket is still there, for encrypt sessions. */
	assert_true(tls_cache_count() >= 1);
}

/* Nor the other way round: a verify ticket is not offered by an encrypt
 * session, which verifies afresh and records what it finds. */
static void
verify_ticket_not_for_encrypt(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_GOOD), P_SMTP_QUIT,
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_SELF_SIGNED), P_SMTP_QUIT,
		P_END
	};
	const struct outcome *o;
	int encrypt_port;

	tls_cache_clear();
	two_services(h, "security = verify\n", "security = encrypt\n",
	    script, &encrypt_port);
	client_quit(h, 0);
	o = h_outcome_n(h, 0, WAIT);
	assert_full_tls(o, AUTH_PKIX, H_CERT_GOOD);
	client_quit(h, encrypt_port);
	o = h_outcome_n(h, 1, WAIT);
	assert_full_tls(o, AUTH_UNTRUSTED, H_CERT_SELF_SIGNED);
	assert_string_equal(o->service, "smtp-two");
	h_assert_peer_ok(h);
	assert_false(h_peer_conn(h, 1)->resumed);
}

/* The server forgot its ticket key: the ticket is refused, the handshake
 * is a full one, and its certificate is verified (here: refused), not
 * taken on the word of the cache. */
static void
ticket_refused_verified_again(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_GOOD), P_SMTP_QUIT,
		P_NEW_TICKET_KEY(),
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_WRONG_NAME), P_SMTP_REFUSED,
		P_END
	};
	const struct outcome *o;
	size_t kept;

	tls_cache_clear();
	h_start_opt(h, "security = verify\n", script, H_TICKETS);
	client_quit(h, 0);
	assert_full_tls(h_outcome_n(h, 0, WAIT), AUTH_PKIX, H_CERT_GOOD);
	kept = tls_cache_count();
	assert_true(kept >= 1);
	h_refused_port(h, 0, H_SMTP_REFUSED);
	o = h_outcome_n(h, 1, WAIT);
	h_assert_result(o, RES_REFUSED);
	assert_false(o->resumed);
	assert_int_equal(o->auth, AUTH_UNTRUSTED);
	assert_string_equal(o->cert_sha256, h_cert_sha256(H_CERT_WRONG_NAME));
	h_assert_has(o->reason, "127.0.0.1");
	h_assert_peer_ok(h);
	assert_false(h_peer_conn(h, 1)->resumed);
	/* The ticket offered is gone; the refused session kept none. */
	assert_int_equal(tls_cache_count(), kept - 1);
}

/* ... and with a good certificate the full handshake passes, and its new
 * ticket serves the next session. */
static void
ticket_refused_full_handshake(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_GOOD), P_SMTP_QUIT,
		P_NEW_TICKET_KEY(),
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_GOOD), P_SMTP_QUIT,
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_GOOD), P_SMTP_QUIT,
		P_END
	};
	const struct outcome *o;

	tls_cache_clear();
	h_start_opt(h, "security = verify\n", script, H_TICKETS);
	client_quit(h, 0);
	assert_full_tls(h_outcome_n(h, 0, WAIT), AUTH_PKIX, H_CERT_GOOD);
	client_quit(h, 0);
	assert_full_tls(h_outcome_n(h, 1, WAIT), AUTH_PKIX, H_CERT_GOOD);
	client_quit(h, 0);
	o = h_outcome_n(h, 2, WAIT);
	h_assert_result(o, RES_TLS);
	assert_true(o->resumed);
	assert_int_equal(o->auth, AUTH_PKIX);
	h_assert_peer_ok(h);
	assert_false(h_peer_conn(h, 1)->resumed);
	assert_true(h_peer_conn(h, 2)->resumed);
}

/* Implicit TLS resumes the same way. */
static void
implicit_resumed(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_TLS(H_CERT_GOOD), P_SMTP_GREET, P_SMTP_QUIT,
		P_ACCEPT(), P_TLS(H_CERT_GOOD), P_SMTP_GREET, P_SMTP_QUIT,
		P_END
	};
	const struct outcome *o;

	tls_cache_clear();
	h_start_opt(h, "tls = implicit\nsecurity = verify\n", script,
	    H_TICKETS);
	client_quit(h, 0);
	assert_full_tls(h_outcome_n(h, 0, WAIT), AUTH_PKIX, H_CERT_GOOD);
	client_quit(h, 0);
	o = h_outcome_n(h, 1, WAIT);
	h_assert_result(o, RES_TLS);
	assert_true(o->resumed);
	assert_int_equal(o->auth, AUTH_PKIX);
	assert_string_equal(o->cert_sha256, h_cert_sha256(H_CERT_GOOD));
	h_assert_peer_ok(h);
	assert_true(h_peer_conn(h, 1)->resumed);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cache_take_once),
		cmocka_unit_test(cache_bounded),
		cmocka_unit_test(cache_per_key_newest_first),
		cmocka_unit_test(cache_expiry),
		cmocka_unit_test(cache_threads),
		T(verify_resumed),
		T(ticket_chain),
		T(encrypt_resumed_untrusted),
		T(encrypt_ticket_not_for_verify),
		T(verify_ticket_not_for_encrypt),
		T(ticket_refused_verified_again),
		T(ticket_refused_full_handshake),
		T(implicit_resumed),
	};
#undef T
	int rc;

	h_main_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	tls_cache_clear();
	h_main_done();
	return rc;
}
