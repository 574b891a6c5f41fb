/*
 * test_vcache.c - the cache of certificate verdicts (tls_vcache.c): on its
 * own, with certificates made here, then through the real session core
 * against a scripted peer (harness.c) that makes every handshake a full
 * one.
 *
 * What must hold: a verdict is found again only for the same chain, the
 * same trust store and the same reference identity; it is not used before
 * it was made nor once the first certificate of the chain (or its trust
 * anchor) expired, nor after TLS_VCACHE_MAX_AGE; the cache never holds more
 * than TLS_VCACHE_MAX verdicts and forgets the least recently used first;
 * and a session verified from the cache is recorded exactly as one
 * verified in full, refusals and their reasons included.
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
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "shim/result.h"
#include "shim/tls_vcache.h"
#include "tests/unit/harness.h"

#define WAIT	10000		/* ms for a session record */
#define DAY	86400

/* ------------------------------------------------- certificates here */

static void
ok(int rc)
{
	if (rc < 0)
		fail_msg("GnuTLS: %s", gnutls_strerror(rc));
}

/* make_crt - a certificate for key expiring at expires, issued by issuer
 * (NULL: self-signed, a CA) */
static gnutls_x509_crt_t
make_crt(gnutls_x509_privkey_t key, const char *dn, time_t expires,
    gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key)
{
	gnutls_x509_crt_t c;
	unsigned char serial = (unsigned char)(expires & 0x7f) | 1, id[64];
	size_t idlen = sizeof(id);
	const char *errpos;

	ok(gnutls_x509_crt_init(&c));
	ok(gnutls_x509_crt_set_version(c, 3));
	ok(gnutls_x509_crt_set_serial(c, &serial, 1));
	ok(gnutls_x509_crt_set_activation_time(c, time(NULL) - DAY));
	ok(gnutls_x509_crt_set_expiration_time(c, expires));
	ok(gnutls_x509_crt_set_dn(c, dn, &errpos));
	ok(gnutls_x509_crt_set_key(c, key));
	ok(gnutls_x509_crt_set_basic_constraints(c, issuer == NULL, -1));
	ok(gnutls_x509_crt_get_key_id(c, 0, id, &idlen));
	ok(gnutls_x509_crt_set_subject_key_id(c, id, idlen));
	if (issuer != NULL) {
		idlen = sizeof(id);
		ok(gnutls_x509_crt_get_subject_key_id(issuer, id, &idlen,
		    NULL));
		ok(gnutls_x509_crt_set_authority_key_id(c, id, idlen));
	}
	ok(gnutls_x509_crt_sign2(c, issuer != NULL ? issuer : c,
	    issuer_key != NULL ? issuer_key : key, GNUTLS_DIG_SHA256, 0));
	return c;
}

static gnutls_datum_t
der(gnutls_x509_crt_t c)
{
	gnutls_datum_t d;

	ok(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &d));
	return d;
}

/* A chain of made-up bytes: the key only hashes them. */
static gnutls_datum_t
blob(const char *s)
{
	gnutls_datum_t d = { (unsigned char *)(uintptr_t)s,
	    (unsigned)strlen(s) };

	return d;
}

static struct tls_vkey
key_of(const char *c0, const char *c1, uint64_t store, const char *name,
    bool is_ip)
{
	gnutls_datum_t chain[2] = { blob(c0), blob(c1 != NULL ? c1 : "") };
	struct tls_vkey k;

	assert_true(tls_vcache_key(&k, chain, c1 != NULL ? 2 : 1, store, name,
	    is_ip));
	return k;
}

static bool
same(struct tls_vkey a, struct tls_vkey b)
{
	return memcmp(a.d, b.d, sizeof(a.d)) == 0;
}

/* -------------------------------------------------------- the cache */

/* The key names the chain, the trust store and the identity, whole. */
static void
key_names_everything(void **state)
{
	struct tls_vkey k = key_of("leaf", "ca", 7, "mx.test", false);
	gnutls_datum_t none = { NULL, 0 };
	struct tls_vkey x;

	(void)state;
	assert_true(same(k, key_of("leaf", "ca", 7, "mx.test", false)));
	assert_false(same(k, key_of("leaf", "ca", 7, "mx2.test", false)));
	assert_false(same(k, key_of("leaf", "ca", 8, "mx.test", false)));
	assert_false(same(k, key_of("leaf", "cb", 7, "mx.test", false)));
	assert_false(same(k, key_of("leaf", NULL, 7, "mx.test", false)));
	assert_false(same(k, key_of("ca", "leaf", 7, "mx.test", false)));
	/* The same text as a name and as an address is not the same. */
	assert_false(same(key_of("leaf", NULL, 7, "127.0.0.1", false),
	    key_of("leaf", NULL, 7, "127.0.0.1", true)));
	/* Where one certificate ends is part of the key. */
	assert_false(same(key_of("lea", "fca", 7, "mx.test", false), k));
	assert_false(tls_vcache_key(&x, &none, 0, 7, "mx.test", false));
}

static void
hit_and_misses(void **state)
{
	struct tls_vkey k = key_of("leaf", "ca", 1, "mx.test", false);
	unsigned status = 12345;
	uint64_t hits, misses;

	(void)state;
	tls_vcache_clear();
	assert_false(tls_vcache_get(&k, 1000, &status));
	assert_int_equal(status, 12345);
	tls_vcache_put(&k, 0, 1000, 1000 + DAY);
	assert_int_equal(tls_vcache_count(), 1);
	assert_true(tls_vcache_get(&k, 1001, &status));
	assert_int_equal(status, 0);
	/* Another name, another store, another chain. */
	assert_false(tls_vcache_get((struct tls_vkey[]){ key_of("leaf", "ca",
	    1, "other.test", false) }, 1001, &status));
	assert_false(tls_vcache_get((struct tls_vkey[]){ key_of("leaf", "ca",
	    2, "mx.test", false) }, 1001, &status));
	assert_false(tls_vcache_get((struct tls_vkey[]){ key_of("leaf2", "ca",
	    1, "mx.test", false) }, 1001, &status));
	/* A failure is a verdict too, kept with its reasons. */
	k = key_of("leaf", "ca", 1, "other.test", false);
	tls_vcache_put(&k, GNUTLS_CERT_INVALID | GNUTLS_CERT_UNEXPECTED_OWNER,
	    1000, 1000 + DAY);
	assert_true(tls_vcache_get(&k, 1002, &status));
	assert_int_equal(status, GNUTLS_CERT_INVALID |
	    GNUTLS_CERT_UNEXPECTED_OWNER);
	/* A newer verdict replaces the old one. */
	tls_vcache_put(&k, 0, 1003, 1000 + DAY);
	assert_true(tls_vcache_get(&k, 1004, &status));
	assert_int_equal(status, 0);
	assert_int_equal(tls_vcache_count(), 2);
	tls_vcache_stats(&hits, &misses);
	assert_int_equal(hits, 3);
	assert_int_equal(misses, 4);
	tls_vcache_clear();
	assert_int_equal(tls_vcache_count(), 0);
}

/* The time is checked on every hit. */
static void
expiry_rechecked(void **state)
{
	struct tls_vkey k = key_of("leaf", NULL, 1, "mx.test", false);
	struct tls_vkey k2 = key_of("leaf", NULL, 2, "mx.test", false);
	unsigned status;

	(void)state;
	tls_vcache_clear();
	tls_vcache_put(&k, 0, 1000, 1100);
	assert_true(tls_vcache_get(&k, 1099, &status));
	assert_false(tls_vcache_get(&k, 1100, &status));
	/* Dropped when found outlived. */
	assert_int_equal(tls_vcache_count(), 0);
	assert_false(tls_vcache_get(&k, 1050, &status));
	/* The clock went back before the verdict was made. */
	tls_vcache_put(&k, 0, 1000, 1100);
	assert_false(tls_vcache_get(&k, 999, &status));
	/* Never beyond TLS_VCACHE_MAX_AGE, however long the chain lives. */
	tls_vcache_put(&k, 0, 1000, 1000 + 365 * DAY);
	assert_true(tls_vcache_get(&k, 1000 + TLS_VCACHE_MAX_AGE - 1,
	    &status));
	assert_false(tls_vcache_get(&k, 1000 + TLS_VCACHE_MAX_AGE, &status));
	/* A chain already expired is not kept at all. */
	tls_vcache_put(&k2, GNUTLS_CERT_EXPIRED, 1000, 1000);
	tls_vcache_put(&k2, GNUTLS_CERT_EXPIRED, 1000, 900);
	assert_int_equal(tls_vcache_count(), 0);
}

/* Bounded, least recently used first out. */
static void
bounded(void **state)
{
	char leaf[32];
	struct tls_vkey k;
	unsigned status;

	(void)state;
	tls_vcache_clear();
	for (int i = 0; i < TLS_VCACHE_MAX; i++) {
		snprintf(leaf, sizeof(leaf), "leaf%d", i);
		k = key_of(leaf, NULL, 1, "mx.test", false);
		tls_vcache_put(&k, 0, 1000, 5000);
	}
	assert_int_equal(tls_vcache_count(), TLS_VCACHE_MAX);
	/* leaf0 is used now: leaf1 becomes the least recently used. */
	k = key_of("leaf0", NULL, 1, "mx.test", false);
	assert_true(tls_vcache_get(&k, 1001, &status));
	for (int i = 0; i < 10; i++) {
		snprintf(leaf, sizeof(leaf), "new%d", i);
		k = key_of(leaf, NULL, 1, "mx.test", false);
		tls_vcache_put(&k, 0, 1000, 5000);
		assert_int_equal(tls_vcache_count(), TLS_VCACHE_MAX);
	}
	k = key_of("leaf0", NULL, 1, "mx.test", false);
	assert_true(tls_vcache_get(&k, 1002, &status));
	for (int i = 1; i <= 10; i++) {
		snprintf(leaf, sizeof(leaf), "leaf%d", i);
		k = key_of(leaf, NULL, 1, "mx.test", false);
		assert_false(tls_vcache_get(&k, 1002, &status));
	}
	for (int i = 11; i < TLS_VCACHE_MAX; i += 97) {
		snprintf(leaf, sizeof(leaf), "leaf%d", i);
		k = key_of(leaf, NULL, 1, "mx.test", false);
		assert_true(tls_vcache_get(&k, 1002, &status));
	}
	k = key_of("new9", NULL, 1, "mx.test", false);
	assert_true(tls_vcache_get(&k, 1002, &status));
	tls_vcache_clear();
}

/* A verdict holds until the first certificate of the chain, or an anchor
 * that issued one of them, expires. */
static void
until_earliest_expiry(void **state)
{
	time_t now = time(NULL);
	gnutls_x509_privkey_t cak = h_make_key(), ik = h_make_key(),
	    lk = h_make_key();
	/* The anchor lives 20 days, the intermediate 30, the leaf 10. */
	gnutls_x509_crt_t ca = make_crt(cak, "CN=anchor", now + 20 * DAY,
	    NULL, NULL);
	gnutls_x509_crt_t mid = make_crt(ik, "CN=intermediate",
	    now + 30 * DAY, ca, cak);
	gnutls_x509_crt_t leaf = make_crt(lk, "CN=mx.test", now + 10 * DAY,
	    mid, ik);
	gnutls_x509_crt_t leaf2 = make_crt(lk, "CN=mx.test", now + 90 * DAY,
	    mid, ik);
	gnutls_datum_t chain[2] = { der(leaf), der(mid) };
	gnutls_datum_t chain2[2] = { der(leaf2), der(mid) };
	gnutls_datum_t junk = blob("not a certificate");
	gnutls_datum_t ca_der = der(ca);
	gnutls_x509_trust_list_t tl;
	gnutls_x509_crt_t anchors[1];

	(void)state;
	ok(gnutls_x509_trust_list_init(&tl, 0));
	/* As a CA file gives it: a certificate made here has no raw DN
	 * yet, by which a trust list finds issuers. */
	ok(gnutls_x509_crt_init(&anchors[0]));
	ok(gnutls_x509_crt_import(anchors[0], &ca_der, GNUTLS_X509_FMT_DER));
	/* Without the trust list: the certificates sent alone. */
	assert_int_equal(tls_vcache_until(chain, 2, NULL),
	    gnutls_x509_crt_get_expiration_time(leaf));
	assert_int_equal(tls_vcache_until(chain2, 2, NULL),
	    gnutls_x509_crt_get_expiration_time(mid));
	assert_int_equal(tls_vcache_until(chain2, 1, NULL),
	    gnutls_x509_crt_get_expiration_time(leaf2));
	/* The anchor of the intermediate expires first. */
	assert_int_equal(gnutls_x509_trust_list_add_cas(tl, anchors, 1, 0),
	    1);
	assert_int_equal(tls_vcache_until(chain, 2, tl),
	    gnutls_x509_crt_get_expiration_time(leaf));
	assert_int_equal(tls_vcache_until(chain2, 2, tl),
	    gnutls_x509_crt_get_expiration_time(ca));
	assert_int_equal(tls_vcache_until(&junk, 1, tl), 0);
	/* The trust list owns the anchor now. */
	gnutls_x509_trust_list_deinit(tl, 1);
	gnutls_free(ca_der.data);
	gnutls_x509_crt_deinit(ca);
	gnutls_free(chain[0].data);
	gnutls_free(chain[1].data);
	gnutls_free(chain2[0].data);
	gnutls_free(chain2[1].data);
	gnutls_x509_crt_deinit(mid);
	gnutls_x509_crt_deinit(leaf);
	gnutls_x509_crt_deinit(leaf2);
	gnutls_x509_privkey_deinit(cak);
	gnutls_x509_privkey_deinit(ik);
	gnutls_x509_privkey_deinit(lk);
}

/* hammer - one of several threads putting and getting at once */
static void *
hammer(void *arg)
{
	int id = (int)(intptr_t)arg;
	char leaf[32];
	struct tls_vkey k;
	unsigned status;

	for (int i = 0; i < 5000; i++) {
		snprintf(leaf, sizeof(leaf), "leaf%d", (i * 7 + id) % 1500);
		k = key_of(leaf, NULL, 1, "mx.test", false);
		if (tls_vcache_get(&k, 1000, &status)) {
			if (status != 0)
				abort();
		} else
			tls_vcache_put(&k, 0, 1000, 2000);
	}
	return NULL;
}

static void
threads(void **state)
{
	pthread_t t[4];

	(void)state;
	tls_vcache_clear();
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer,
		    (void *)(intptr_t)i), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(tls_vcache_count(), TLS_VCACHE_MAX);
	tls_vcache_clear();
}

/* -------------------------------------------------- through sessions */

/* client_quit - the legacy client is greeted and says QUIT */
static void
client_quit(struct harness *h)
{
	h_greeted(h, H_SMTP_GREETING);
	h_quit(h, "QUIT\r\n", H_SMTP_BYE);
}

/* stats_since - hits and misses since *h0, *m0 */
static void
assert_stats(uint64_t h0, uint64_t m0, uint64_t hits, uint64_t misses)
{
	uint64_t h, m;

	tls_vcache_stats(&h, &m);
	assert_int_equal(h - h0, hits);
	assert_int_equal(m - m0, misses);
}

/* The second full handshake with the same server takes the first one's
 * verdict, and is recorded the same. */
static void
verified_once(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_GOOD), P_SMTP_QUIT,
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_GOOD), P_SMTP_QUIT,
		P_END
	};
	const struct outcome *o0, *o1;

	tls_vcache_clear();
	h_start(h, "security = verify\n", script);
	client_quit(h);
	o0 = h_outcome_n(h, 0, WAIT);
	h_assert_result(o0, RES_TLS);
	assert_int_equal(o0->auth, AUTH_PKIX);
	assert_stats(0, 0, 0, 1);
	assert_int_equal(tls_vcache_count(), 1);
	client_quit(h);
	o1 = h_outcome_n(h, 1, WAIT);
	h_assert_result(o1, RES_TLS);
	assert_false(o1->resumed);
	assert_int_equal(o1->auth, AUTH_PKIX);
	assert_string_equal(o1->cert_sha256, h_cert_sha256(H_CERT_GOOD));
	assert_string_equal(o1->spki_sha256, o0->spki_sha256);
	assert_string_equal(o1->reason, o0->reason);
	assert_stats(0, 0, 1, 1);
	h_assert_peer_ok(h);
	assert_false(h_peer_conn(h, 1)->resumed);
}

/* A refusal from the cache is the refusal a full verification makes. */
static void
refused_twice(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_WRONG_NAME), P_SMTP_REFUSED,
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_WRONG_NAME), P_SMTP_REFUSED,
		P_END
	};
	const struct outcome *o0, *o1;

	tls_vcache_clear();
	h_start(h, "security = verify\n", script);
	h_refused_port(h, 0, H_SMTP_REFUSED);
	o0 = h_outcome_n(h, 0, WAIT);
	h_assert_result(o0, RES_REFUSED);
	h_assert_has(o0->reason, "127.0.0.1");
	h_refused_port(h, 0, H_SMTP_REFUSED);
	o1 = h_outcome_n(h, 1, WAIT);
	h_assert_result(o1, RES_REFUSED);
	assert_string_equal(o1->reason, o0->reason);
	assert_int_equal(o1->auth, o0->auth);
	assert_stats(0, 0, 1, 1);
	h_assert_peer_ok(h);
}

/* encrypt goes on unauthenticated, from the cache as in full. */
static void
untrusted_twice(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_SELF_SIGNED), P_SMTP_QUIT,
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_SELF_SIGNED), P_SMTP_QUIT,
		P_END
	};
	const struct outcome *o0, *o1;

	tls_vcache_clear();
	h_start(h, "security = encrypt\n", script);
	client_quit(h);
	client_quit(h);
	o0 = h_outcome_n(h, 0, WAIT);
	o1 = h_outcome_n(h, 1, WAIT);
	h_assert_result(o0, RES_TLS);
	h_assert_result(o1, RES_TLS);
	assert_int_equal(o0->auth, AUTH_UNTRUSTED);
	assert_int_equal(o1->auth, AUTH_UNTRUSTED);
	h_assert_has(o0->reason, "not verified");
	assert_string_equal(o1->reason, o0->reason);
	assert_stats(0, 0, 1, 1);
	h_assert_peer_ok(h);
}

/* An expired chain is verified in full every time: its verdict is over
 * before it is made. */
static void
expired_not_kept(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_SMTP_TO_TLS(H_CERT_EXPIRED), P_SMTP_REFUSED,
		P_ACCEPT(), P_SMTP_TO_TLS(H_CERT_EXPIRED), P_SMTP_REFUSED,
		P_END
	};
	const struct outcome *o0, *o1;

	tls_vcache_clear();
	h_start(h, "security = verify\n", script);
	h_refused_port(h, 0, H_SMTP_REFUSED);
	h_refused_port(h, 0, H_SMTP_REFUSED);
	o0 = h_outcome_n(h, 0, WAIT);
	o1 = h_outcome_n(h, 1, WAIT);
	h_assert_result(o0, RES_REFUSED);
	h_assert_has(o0->reason, "expired");
	assert_string_equal(o1->reason, o0->reason);
	assert_stats(0, 0, 0, 2);
	assert_int_equal(tls_vcache_count(), 0);
	h_assert_peer_ok(h);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_names_everything),
		cmocka_unit_test(hit_and_misses),
		cmocka_unit_test(expiry_rechecked),
		cmocka_unit_test(bounded),
		cmocka_unit_test(until_earliest_expiry),
		cmocka_unit_test(threads),
		T(verified_once),
		T(refused_twice),
		T(untrusted_twice),
		T(expired_not_kept),
	};
#undef T
	int rc;

	h_main_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	tls_vcache_clear();
	h_main_done();
	return rc;
}
