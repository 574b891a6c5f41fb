/*
 * test_dane.c - DANE matching (shim/dane.c) on fixed certificates: which
 * records are usable, every usage, selector and matching type, digest
 * agility, DANE-EE's indifference to names and dates, DANE-TA's chain,
 * date and name checks (and the rogue chains that must fail), bare-key
 * trust anchors, the bounds on records and chain length, and the record
 * and format helpers.
 *
 * The certificates are the committed PEM files of tests/unit/data/dane
 * (made once by make-certs.sh there).  The expected TLSA data is computed
 * here by another path than dane.c's: the SPKI through GnuTLS's
 * gnutls_pubkey_export2(), where dane.c takes the bytes out of the DER.
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
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "shim/dane.h"

/* 2030-01-01 00:00:00 UTC: the fixed certificates are valid 2024-2099,
 * the expired one 2020-2021. */
#define NOW		((time_t)1893456000)
#define Y2010		((time_t)1262304000)
#define Y2100		((time_t)4102444800)

enum cert_id { ROOT, INTER, MXA, B, EXPIRED, SELF, ROGUE_CA, ROGUE_LEAF,
	TWIN_CA, TWIN_LEAF, LEAF_ISSUED, NCERTS };
static const char *const cert_file[NCERTS] = { "root.pem", "inter.pem",
	"mx-a.pem", "b.pem", "expired.pem", "selfsigned.pem", "rogue-ca.pem",
	"rogue-leaf.pem", "twin-ca.pem", "twin-leaf.pem", "leaf-issued.pem" };

static gnutls_datum_t der[NCERTS];	/* each certificate, DER */
static gnutls_datum_t spki[NCERTS];	/* its SubjectPublicKeyInfo, DER */

/* data_dir - the folder of the PEM files: $top_srcdir's, or the one
 * beside this source file */
static void
data_dir(char *buf, size_t len)
{
	const char *top = getenv("top_srcdir");
	const char *slash;

	if (top != NULL && *top != '\0') {
		snprintf(buf, len, "%s/tests/unit/data/dane", top);
		return;
	}
	slash = strrchr(__FILE__, '/');
	snprintf(buf, len, "%.*s/data/dane",
	    slash != NULL ? (int)(slash - __FILE__) : 1,
	    slash != NULL ? __FILE__ : ".");
}

/* load - the certificates and their SPKIs, once for all tests */
static int
load(void **state)
{
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t key;
	gnutls_datum_t pem;
	char dir[1024], path[1200];
	int i;

	(void)state;
	data_dir(dir, sizeof(dir));
	for (i = 0; i < NCERTS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, cert_file[i]);
		if (gnutls_load_file(path, &pem) < 0) {
			fprintf(stderr, "# cannot read %s\n", path);
			return -1;
		}
		if (gnutls_pem_base64_decode2("CERTIFICATE", &pem,
		    &der[i]) < 0)
			return -1;
		gnutls_free(pem.data);
		if (gnutls_x509_crt_init(&crt) < 0 ||
		    gnutls_x509_crt_import(crt, &der[i],
		    GNUTLS_X509_FMT_DER) < 0 ||
		    gnutls_pubkey_init(&key) < 0 ||
		    gnutls_pubkey_import_x509(key, crt, 0) < 0 ||
		    gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER,
		    &spki[i]) < 0)
			return -1;
		gnutls_pubkey_deinit(key);
		gnutls_x509_crt_deinit(crt);
	}
	return 0;
}

static int
unload(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NCERTS; i++) {
		gnutls_free(der[i].data);
		gnutls_free(spki[i].data);
	}
	return 0;
}

/* rec - the TLSA record (usage, selector, mtype) for certificate id */
static void
rec(struct dns_tlsa *t, unsigned usage, unsigned sel, unsigned mtype,
    enum cert_id id)
{
	const gnutls_datum_t *d = sel == 0 ? &der[id] : &spki[id];

	memset(t, 0, sizeof(*t));
	t->usage = (uint8_t)usage;
	t->selector = (uint8_t)sel;
	t->mtype = (uint8_t)mtype;
	switch (mtype) {
	case 1:
		assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, d->data,
		    d->size, t->data), 0);
		t->len = 32;
		break;
	case 2:
		assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA512, d->data,
		    d->size, t->data), 0);
		t->len = 64;
		break;
	default:
		assert_true(d->size <= sizeof(t->data));
		memcpy(t->data, d->data, d->size);
		t->len = (uint16_t)d->size;
	}
}

/* spoil - make a record's data wrong (its last byte) */
static void
spoil(struct dns_tlsa *t)
{
	t->data[t->len - 1] ^= 0x5a;
}

/* verify - dane_verify on a chain of fixed certificates, one refname */
static enum auth
verify_at(const enum cert_id *ids, size_t nchain, const struct dns_tlsa *t,
    size_t n, const char *ref, time_t now, char *why, size_t whylen)
{
	gnutls_datum_t chain[16];
	const char *refs[1] = { ref };
	size_t i;

	assert_true(nchain <= 16);
	for (i = 0; i < nchain; i++)
		chain[i] = der[ids[i]];
	return dane_verify(chain, nchain, t, n, refs, ref != NULL ? 1 : 0,
	    now, why, whylen);
}

#define WHY_LEN	256
#define CHAIN(...)	(const enum cert_id[]){ __VA_ARGS__ }, \
	sizeof((const enum cert_id[]){ __VA_ARGS__ }) / sizeof(enum cert_id)

/* expect - verify must give want, and why must contain needle
 * (DANE_TEST_VERBOSE=1 in the environment prints every why) */
#define expect(want, needle, chain, t, n, ref) do {			\
	char why_[WHY_LEN];						\
	enum auth got_ = verify_at(chain, (t), (n), (ref), NOW, why_,	\
	    sizeof(why_));						\
	if (getenv("DANE_TEST_VERBOSE") != NULL)			\
		printf("# line %d: %s: %s\n", __LINE__, auth_name(got_),	\
		    why_);						\
	if (got_ != (want) || strstr(why_, (needle)) == NULL)		\
		fail_msg("line %d: got %s \"%s\", wanted %s \"%s\"",	\
		    __LINE__, auth_name(got_), why_, auth_name(want),	\
		    (needle));						\
} while (0)

static void
usable_records(void **state)
{
	static const struct {
		unsigned u, s, m, len;
		bool ok;
	} cases[] = {
		{ 3, 1, 1, 32, true }, { 3, 0, 1, 32, true },
		{ 3, 1, 2, 64, true }, { 3, 0, 2, 64, true },
		{ 3, 1, 0, 91, true }, { 3, 0, 0, 700, true },
		{ 2, 1, 1, 32, true }, { 2, 0, 1, 32, true },
		{ 2, 1, 2, 64, true }, { 2, 0, 0, 1, true },
		{ 0, 0, 1, 32, false }, { 1, 1, 1, 32, false },
		{ 4, 1, 1, 32, false }, { 255, 1, 1, 32, false },
		{ 3, 2, 1, 32, false }, { 3, 255, 1, 32, false },
		{ 3, 1, 3, 32, false }, { 3, 1, 255, 32, false },
		{ 3, 1, 1, 31, false }, { 3, 1, 1, 33, false },
		{ 3, 1, 1, 64, false }, { 3, 1, 2, 32, false },
		{ 3, 1, 2, 63, false }, { 3, 1, 2, 65, false },
		{ 3, 1, 0, 0, false }, { 2, 0, 0, 0, false },
	};
	struct dns_tlsa *t;
	size_t i, n = sizeof(cases) / sizeof(cases[0]), k = 0;

	(void)state;
	t = calloc(n, sizeof(*t));
	assert_non_null(t);
	for (i = 0; i < n; i++) {
		t[i].usage = (uint8_t)cases[i].u;
		t[i].selector = (uint8_t)cases[i].s;
		t[i].mtype = (uint8_t)cases[i].m;
		t[i].len = (uint16_t)cases[i].len;
		if (dane_usable(&t[i]) != cases[i].ok)
			fail_msg("%u %u %u len %u: usable=%d", cases[i].u,
			    cases[i].s, cases[i].m, cases[i].len,
			    !cases[i].ok);
		k += cases[i].ok;
	}
	assert_int_equal(dane_count_usable(t, n), k);
	assert_int_equal(dane_count_usable(t, 0), 0);
	free(t);
}

/* Every selector and matching type, as DANE-EE on the leaf and as
 * DANE-TA on the intermediate. */
static void
every_combination(void **state)
{
	struct dns_tlsa t;
	char why[WHY_LEN], want[WHY_LEN];
	unsigned s, m;

	(void)state;
	for (s = 0; s < 2; s++) {
		for (m = 0; m < 3; m++) {
			rec(&t, 3, s, m, MXA);
			dane_format(&t, want, sizeof(want));
			assert_int_equal(verify_at(CHAIN(MXA, INTER), &t, 1,
			    "mx.a.test", NOW, why, sizeof(why)), AUTH_DANE_EE);
			assert_string_equal(why, want);

			rec(&t, 2, s, m, INTER);
			dane_format(&t, want, sizeof(want));
			assert_int_equal(verify_at(CHAIN(MXA, INTER), &t, 1,
			    "mx.a.test", NOW, why, sizeof(why)), AUTH_DANE_TA);
			assert_string_equal(why, want);

			/* The ECDSA leaf too (the one above is RSA). */
			rec(&t, 3, s, m, B);
			assert_int_equal(verify_at(CHAIN(B, INTER), &t, 1,
			    "b.test", NOW, why, sizeof(why)), AUTH_DANE_EE);
		}
	}
}

static void
wrong_digests(void **state)
{
	struct dns_tlsa t;
	char want[64];
	unsigned s, m;

	(void)state;
	for (s = 0; s < 2; s++) {
		for (m = 0; m < 3; m++) {
			rec(&t, 3, s, m, MXA);
			spoil(&t);
			snprintf(want, sizeof(want), "no TLSA record matched "
			    "the leaf (3 %u %u)", s, m);
			expect(AUTH_NONE, want, CHAIN(MXA, INTER), &t, 1,
			    "mx.a.test");
			/* (a spoiled 2 x 0 is another trust anchor: see
			 * ta_bare_key) */
			if (m == 0)
				continue;
			rec(&t, 2, s, m, INTER);
			spoil(&t);
			snprintf(want, sizeof(want), "DANE-TA: no certificate "
			    "of the chain matched (2 %u %u)", s, m);
			expect(AUTH_NONE, want, CHAIN(MXA, INTER), &t, 1,
			    "mx.a.test");
		}
	}
	/* A record for another certificate altogether. */
	rec(&t, 3, 1, 1, B);
	expect(AUTH_NONE, "no TLSA record matched the leaf (3 1 1)",
	    CHAIN(MXA, INTER), &t, 1, "mx.a.test");
}

/* PKIX-TA/EE records, even right ones, and unknown parameters are
 * unusable: with nothing else, no authentication. */
static void
unusable_only(void **state)
{
	struct dns_tlsa t[5];

	(void)state;
	rec(&t[0], 0, 1, 1, INTER);
	rec(&t[1], 1, 1, 1, MXA);
	rec(&t[2], 3, 1, 1, MXA);
	t[2].usage = 4;
	rec(&t[3], 3, 1, 1, MXA);
	t[3].mtype = 3;
	rec(&t[4], 3, 1, 1, MXA);
	t[4].selector = 2;
	assert_int_equal(dane_count_usable(t, 5), 0);
	expect(AUTH_NONE, "no usable TLSA records", CHAIN(MXA, INTER), t, 5,
	    "mx.a.test");
	expect(AUTH_NONE, "no usable TLSA records", CHAIN(MXA, INTER), t, 0,
	    "mx.a.test");
}

/* Unknown records beside a good one are skipped, not counted as a
 * mismatch. */
static void
unknown_beside_good(void **state)
{
	struct dns_tlsa t[5];

	(void)state;
	rec(&t[0], 3, 1, 1, MXA);
	t[0].usage = 255;
	rec(&t[1], 3, 1, 1, MXA);
	t[1].mtype = 255;
	rec(&t[2], 1, 1, 1, MXA);
	rec(&t[3], 3, 1, 1, MXA);
	t[3].len = 31;			/* malformed: unusable */
	rec(&t[4], 3, 1, 1, MXA);
	assert_int_equal(dane_count_usable(t, 5), 1);
	expect(AUTH_DANE_EE, "3 1 1 ", CHAIN(MXA, INTER), t, 5, "mx.a.test");
	/* A malformed SHA2-512 record must not hide a good SHA2-256 one. */
	rec(&t[0], 3, 1, 2, MXA);
	t[0].len = 32;
	expect(AUTH_DANE_EE, "3 1 1 ", CHAIN(MXA, INTER), t, 5, "mx.a.test");
}

static void
agility(void **state)
{
	struct dns_tlsa t[2];

	(void)state;
	/* {right 3 1 1, wrong 3 1 2}: SHA2-512 outranks, and is wrong. */
	rec(&t[0], 3, 1, 1, MXA);
	rec(&t[1], 3, 1, 2, MXA);
	spoil(&t[1]);
	expect(AUTH_NONE, "no TLSA record matched the leaf (3 1 2)",
	    CHAIN(MXA, INTER), t, 2, "mx.a.test");
	expect(AUTH_NONE, "(3 1 2)", CHAIN(MXA, INTER), &t[0], 2,
	    "mx.a.test");
	/* the other order in the RRset */
	rec(&t[0], 3, 1, 2, MXA);
	spoil(&t[0]);
	rec(&t[1], 3, 1, 1, MXA);
	expect(AUTH_NONE, "(3 1 2)", CHAIN(MXA, INTER), t, 2, "mx.a.test");
	/* {wrong 3 1 1, right 3 1 2}, both orders */
	rec(&t[0], 3, 1, 1, MXA);
	spoil(&t[0]);
	rec(&t[1], 3, 1, 2, MXA);
	expect(AUTH_DANE_EE, "3 1 2 ", CHAIN(MXA, INTER), t, 2, "mx.a.test");
	rec(&t[0], 3, 1, 2, MXA);
	rec(&t[1], 3, 1, 1, MXA);
	spoil(&t[1]);
	expect(AUTH_DANE_EE, "3 1 2 ", CHAIN(MXA, INTER), t, 2, "mx.a.test");
	/* Full(0) is no digest: always used. */
	rec(&t[0], 3, 1, 0, MXA);
	rec(&t[1], 3, 1, 2, MXA);
	spoil(&t[1]);
	expect(AUTH_DANE_EE, "3 1 0 ", CHAIN(MXA, INTER), t, 2, "mx.a.test");
	/* Agility is per usage and selector. */
	rec(&t[0], 3, 0, 1, MXA);
	rec(&t[1], 3, 1, 2, MXA);
	spoil(&t[1]);
	expect(AUTH_DANE_EE, "3 0 1 ", CHAIN(MXA, INTER), t, 2, "mx.a.test");
	rec(&t[0], 2, 0, 1, INTER);
	rec(&t[1], 3, 0, 2, MXA);
	spoil(&t[1]);
	expect(AUTH_DANE_TA, "2 0 1 ", CHAIN(MXA, INTER), t, 2, "mx.a.test");
	/* and applies to DANE-TA too */
	rec(&t[0], 2, 0, 1, INTER);
	rec(&t[1], 2, 0, 2, INTER);
	spoil(&t[1]);
	expect(AUTH_NONE, "(2 0 2)", CHAIN(MXA, INTER), t, 2, "mx.a.test");
}

/* DANE-EE ignores names and dates (RFC 7671 5.1). */
static void
ee_ignores_names_and_dates(void **state)
{
	struct dns_tlsa t;
	char why[WHY_LEN];

	(void)state;
	rec(&t, 3, 1, 1, EXPIRED);
	expect(AUTH_DANE_EE, "3 1 1", CHAIN(EXPIRED, INTER), &t, 1,
	    "mx.a.test");
	rec(&t, 3, 0, 1, SELF);
	expect(AUTH_DANE_EE, "3 0 1", CHAIN(SELF), &t, 1, "mx.a.test");
	rec(&t, 3, 1, 1, B);
	expect(AUTH_DANE_EE, "3 1 1", CHAIN(B, INTER), &t, 1, "mx.a.test");
	expect(AUTH_DANE_EE, "3 1 1", CHAIN(B), &t, 1, NULL);
	assert_int_equal(verify_at(CHAIN(B, INTER), &t, 1, "mx.a.test",
	    Y2100, why, sizeof(why)), AUTH_DANE_EE);
	/* Only the leaf counts for DANE-EE. */
	rec(&t, 3, 1, 1, INTER);
	expect(AUTH_NONE, "matched the leaf (3 1 1)", CHAIN(MXA, INTER), &t,
	    1, "mx.a.test");
}

static void
ta_good_chains(void **state)
{
	struct dns_tlsa t;

	(void)state;
	rec(&t, 2, 0, 1, INTER);
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(MXA, INTER), &t, 1, "mx.a.test");
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(MXA, INTER, ROOT), &t, 1,
	    "mx.a.test");
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(B, INTER), &t, 1, "b.test");
	/* the wildcard SAN *.mx.a.test, and a name without case */
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(MXA, INTER), &t, 1,
	    "x.mx.a.test");
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(MXA, INTER), &t, 1, "MX.A.Test");
	/* the root as TA, by certificate and by key */
	rec(&t, 2, 0, 1, ROOT);
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(MXA, INTER, ROOT), &t, 1,
	    "mx.a.test");
	rec(&t, 2, 1, 2, ROOT);
	expect(AUTH_DANE_TA, "2 1 2", CHAIN(MXA, INTER, ROOT), &t, 1,
	    "mx.a.test");
}

/* Any one of the reference names will do. */
static void
ta_refnames(void **state)
{
	struct dns_tlsa t;
	gnutls_datum_t chain[2] = { der[B], der[INTER] };
	const char *refs[3] = { "mx.a.test", "a.test", "b.test" };
	char why[WHY_LEN];

	(void)state;
	rec(&t, 2, 0, 1, INTER);
	assert_int_equal(dane_verify(chain, 2, &t, 1, refs, 3, NOW, why,
	    sizeof(why)), AUTH_DANE_TA);
	assert_int_equal(dane_verify(chain, 2, &t, 1, refs, 2, NOW, why,
	    sizeof(why)), AUTH_NONE);
	assert_string_equal(why,
	    "DANE-TA: leaf name does not match mx.a.test or a.test");
	/* Empty names are skipped; past DANE_REFNAMES_MAX, none is read. */
	{
		const char *odd[6] = { NULL, "", "mx.a.test", "a.test",
		    "x.test", "b.test" };

		assert_int_equal(dane_verify(chain, 2, &t, 1, odd, 6, NOW,
		    why, sizeof(why)), AUTH_NONE);
		assert_string_equal(why, "DANE-TA: leaf name does not match "
		    "mx.a.test or a.test");
		assert_int_equal(dane_verify(chain, 2, &t, 1, odd + 2, 4,
		    NOW, why, sizeof(why)), AUTH_DANE_TA);
	}
	/* No name to check: DANE-TA cannot pass. */
	assert_int_equal(dane_verify(chain, 2, &t, 1, NULL, 0, NOW, why,
	    sizeof(why)), AUTH_NONE);
	assert_string_equal(why, "DANE-TA: no reference name to check the "
	    "leaf");
}

static void
ta_wrong_name(void **state)
{
	struct dns_tlsa t;

	(void)state;
	rec(&t, 2, 0, 1, INTER);
	expect(AUTH_NONE, "DANE-TA: leaf name does not match mx.a.test",
	    CHAIN(B, INTER), &t, 1, "mx.a.test");
	expect(AUTH_NONE, "DANE-TA: leaf name does not match a.test",
	    CHAIN(MXA, INTER), &t, 1, "a.test");
	/* the wildcard covers one label only */
	expect(AUTH_NONE, "does not match y.x.mx.a.test", CHAIN(MXA, INTER),
	    &t, 1, "y.x.mx.a.test");
	/* several records for the same anchor: the same answer */
	{
		struct dns_tlsa two[3];

		rec(&two[0], 2, 0, 1, INTER);
		rec(&two[1], 2, 1, 1, INTER);
		rec(&two[2], 2, 1, 0, INTER);
		expect(AUTH_NONE, "DANE-TA: leaf name does not match "
		    "mx.a.test", CHAIN(B, INTER), two, 3, "mx.a.test");
		expect(AUTH_DANE_TA, "2 0 1", CHAIN(B, INTER), two, 3,
		    "b.test");
	}
}

static void
ta_dates(void **state)
{
	struct dns_tlsa t;
	char why[WHY_LEN];

	(void)state;
	rec(&t, 2, 0, 1, INTER);
	expect(AUTH_NONE, "DANE-TA: certificate expired",
	    CHAIN(EXPIRED, INTER), &t, 1, "mx.a.test");
	assert_int_equal(verify_at(CHAIN(MXA, INTER), &t, 1, "mx.a.test",
	    Y2010, why, sizeof(why)), AUTH_NONE);
	assert_string_equal(why, "DANE-TA: certificate not yet valid");
	assert_int_equal(verify_at(CHAIN(MXA, INTER), &t, 1, "mx.a.test",
	    Y2100, why, sizeof(why)), AUTH_NONE);
	assert_string_equal(why, "DANE-TA: certificate expired");
	/* now is the caller's: in 2020 the expired leaf was good */
	assert_int_equal(verify_at(CHAIN(EXPIRED, INTER), &t, 1, "mx.a.test",
	    (time_t)1600000000, why, sizeof(why)), AUTH_NONE);
	assert_string_equal(why, "DANE-TA: CA certificate not yet valid "
	    "(depth 1)");
}

/* FIELD-NOTES' attack: a leaf from a rogue CA, the rogue CA, and the real
 * TA certificate appended.  And a rogue that copies the intermediate's
 * name. */
static void
ta_rogue_chains(void **state)
{
	struct dns_tlsa t;

	(void)state;
	rec(&t, 2, 0, 1, INTER);
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(ROGUE_LEAF, ROGUE_CA, INTER),
	    &t, 1, "mx.a.test");
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(ROGUE_LEAF, INTER), &t, 1,
	    "mx.a.test");
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(TWIN_LEAF, TWIN_CA, INTER), &t,
	    1, "mx.a.test");
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(TWIN_LEAF, INTER), &t, 1,
	    "mx.a.test");
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(TWIN_LEAF, INTER, ROOT), &t, 1,
	    "mx.a.test");
	rec(&t, 2, 1, 1, INTER);
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(ROGUE_LEAF, ROGUE_CA, INTER),
	    &t, 1, "mx.a.test");
	rec(&t, 2, 0, 1, ROOT);
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(ROGUE_LEAF, ROGUE_CA, INTER,
	    ROOT), &t, 1, "mx.a.test");
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(TWIN_LEAF, TWIN_CA, ROOT), &t,
	    1, "mx.a.test");
	/* A certificate issued by a leaf of the TA: the leaf is no CA. */
	expect(AUTH_NONE, "DANE-TA: an issuer in the chain may not issue "
	    "certificates (2 0 1)", CHAIN(LEAF_ISSUED, B, INTER, ROOT), &t, 1,
	    "mx.a.test");
	rec(&t, 2, 0, 1, INTER);
	expect(AUTH_NONE, "DANE-TA: an issuer in the chain may not issue "
	    "certificates (2 0 1)", CHAIN(LEAF_ISSUED, B, INTER), &t, 1,
	    "mx.a.test");
	/* The rogue chain verifies under its own CA: the fixtures are sound. */
	rec(&t, 2, 0, 1, ROGUE_CA);
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(ROGUE_LEAF, ROGUE_CA), &t, 1,
	    "mx.a.test");
	rec(&t, 2, 0, 1, TWIN_CA);
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(TWIN_LEAF, TWIN_CA), &t, 1,
	    "mx.a.test");
}

/* The TA must be in the chain the server sent, and above the leaf. */
static void
ta_not_in_chain(void **state)
{
	struct dns_tlsa t;

	(void)state;
	rec(&t, 2, 0, 1, ROOT);
	expect(AUTH_NONE, "DANE-TA: no certificate of the chain matched "
	    "(2 0 1)", CHAIN(MXA, INTER), &t, 1, "mx.a.test");
	rec(&t, 2, 0, 1, INTER);
	expect(AUTH_NONE, "DANE-TA: no certificate of the chain matched "
	    "(2 0 1)", CHAIN(MXA), &t, 1, "mx.a.test");
	/* a TA record for the leaf itself, with CAs after it */
	rec(&t, 2, 0, 1, MXA);
	expect(AUTH_NONE, "DANE-TA: the 2 0 1 record matches the leaf",
	    CHAIN(MXA, INTER), &t, 1, "mx.a.test");
	expect(AUTH_NONE, "DANE-TA: the 2 0 1 record matches the leaf",
	    CHAIN(MXA), &t, 1, "mx.a.test");	/* not self-issued */
}

/* A self-issued leaf sent alone is its own trust anchor; names and dates
 * still apply. */
static void
ta_self_issued(void **state)
{
	struct dns_tlsa t;

	(void)state;
	rec(&t, 2, 0, 1, SELF);
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(SELF), &t, 1, "mx.a.test");
	expect(AUTH_NONE, "DANE-TA: leaf name does not match b.test",
	    CHAIN(SELF), &t, 1, "b.test");
	expect(AUTH_NONE, "matches the leaf", CHAIN(SELF, INTER), &t, 1,
	    "mx.a.test");
	rec(&t, 2, 1, 0, SELF);
	expect(AUTH_DANE_TA, "2 1 0", CHAIN(SELF), &t, 1, "mx.a.test");
}

/* Trust anchors the server did not send, carried whole in DNS. */
static void
ta_bare_key(void **state)
{
	struct dns_tlsa t;
	uint8_t *key;

	(void)state;
	/* 2 1 0: the key that signed the top certificate */
	rec(&t, 2, 1, 0, ROOT);
	expect(AUTH_DANE_TA, "2 1 0", CHAIN(MXA, INTER), &t, 1, "mx.a.test");
	rec(&t, 2, 1, 0, INTER);
	expect(AUTH_DANE_TA, "2 1 0", CHAIN(MXA), &t, 1, "mx.a.test");
	expect(AUTH_DANE_TA, "2 1 0", CHAIN(B), &t, 1, "b.test");
	expect(AUTH_NONE, "DANE-TA: leaf name does not match mx.a.test",
	    CHAIN(B), &t, 1, "mx.a.test");
	expect(AUTH_NONE, "DANE-TA: certificate expired", CHAIN(EXPIRED), &t,
	    1, "mx.a.test");
	rec(&t, 2, 1, 0, ROGUE_CA);
	expect(AUTH_NONE, "DANE-TA: the 2 1 0 key did not sign the top",
	    CHAIN(MXA, INTER), &t, 1, "mx.a.test");
	rec(&t, 2, 1, 0, ROOT);
	expect(AUTH_NONE, "DANE-TA: the 2 1 0 key did not sign the top",
	    CHAIN(ROGUE_LEAF, ROGUE_CA), &t, 1, "mx.a.test");
	expect(AUTH_NONE, "DANE-TA: the 2 1 0 key did not sign the top",
	    CHAIN(TWIN_LEAF, TWIN_CA), &t, 1, "mx.a.test");
	/* signed, but the chain under it does not hold */
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(TWIN_LEAF, INTER), &t, 1,
	    "mx.a.test");
	/* a key that is not DER: nothing signed by it */
	t.data[0] ^= 0xff;
	expect(AUTH_NONE, "did not sign", CHAIN(MXA, INTER), &t, 1,
	    "mx.a.test");
	/* 2 0 0: the whole certificate */
	rec(&t, 2, 0, 0, ROOT);
	expect(AUTH_DANE_TA, "2 0 0", CHAIN(MXA, INTER), &t, 1, "mx.a.test");
	rec(&t, 2, 0, 0, INTER);
	expect(AUTH_DANE_TA, "2 0 0", CHAIN(MXA), &t, 1, "mx.a.test");
	rec(&t, 2, 0, 0, ROGUE_CA);
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(MXA, INTER), &t, 1, "mx.a.test");
	/* A trust anchor's own signature plays no part (RFC 5280 6.1.1: a
	 * TA is a name and a key): the root with its signature spoiled still
	 * anchors, a root with its key spoiled does not. */
	rec(&t, 2, 0, 0, ROOT);
	spoil(&t);
	expect(AUTH_DANE_TA, "2 0 0", CHAIN(MXA, INTER), &t, 1, "mx.a.test");
	rec(&t, 2, 0, 0, ROOT);
	key = memmem(t.data, t.len, spki[ROOT].data, spki[ROOT].size);
	assert_non_null(key);
	key[spki[ROOT].size / 2] ^= 0x01;	/* inside the RSA modulus */
	expect(AUTH_NONE, "DANE-TA: bad signature in the chain (2 0 0)",
	    CHAIN(MXA, INTER), &t, 1, "mx.a.test");
	rec(&t, 2, 0, 0, ROOT);
	expect(AUTH_NONE, "DANE-TA: ", CHAIN(ROGUE_LEAF, ROGUE_CA), &t, 1,
	    "mx.a.test");
	/* a digest of a key the server did not send cannot be checked */
	rec(&t, 2, 1, 1, ROOT);
	expect(AUTH_NONE, "DANE-TA: no certificate of the chain matched "
	    "(2 1 1)", CHAIN(MXA, INTER), &t, 1, "mx.a.test");
}

/* Both usages in one RRset. */
static void
ee_and_ta(void **state)
{
	struct dns_tlsa t[2];

	(void)state;
	rec(&t[0], 3, 1, 1, MXA);
	spoil(&t[0]);
	rec(&t[1], 2, 0, 1, INTER);
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(MXA, INTER), t, 2, "mx.a.test");
	spoil(&t[1]);
	expect(AUTH_NONE, "no TLSA record matched the chain (3 1 1, 2 0 1)",
	    CHAIN(MXA, INTER), t, 2, "mx.a.test");
	/* a TA failure says more than "no match" */
	rec(&t[1], 2, 0, 1, INTER);
	expect(AUTH_NONE, "DANE-TA: leaf name does not match a.test",
	    CHAIN(MXA, INTER), t, 2, "a.test");
	/* a good DANE-EE wins whatever the TA says */
	rec(&t[0], 3, 1, 1, B);
	expect(AUTH_DANE_EE, "3 1 1", CHAIN(B, INTER), t, 2, "mx.a.test");
}

/* The records looked at are bounded by DNS_RR_MAX, all of them. */
static void
many_records(void **state)
{
	struct dns_tlsa *t;
	size_t i;

	(void)state;
	t = calloc(DNS_RR_MAX + 1, sizeof(*t));
	assert_non_null(t);
	for (i = 0; i < DNS_RR_MAX + 1; i++) {
		rec(&t[i], 3, 1, 1, B);
		t[i].data[0] = (uint8_t)i;
	}
	rec(&t[59], 3, 1, 1, MXA);		/* record 60 of 64 */
	expect(AUTH_DANE_EE, "3 1 1", CHAIN(MXA, INTER), t, DNS_RR_MAX,
	    "mx.a.test");
	rec(&t[59], 3, 1, 1, B);
	t[59].data[0] = 59;
	rec(&t[DNS_RR_MAX - 1], 2, 0, 1, INTER);	/* record 64 */
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(MXA, INTER), t, DNS_RR_MAX,
	    "mx.a.test");
	/* record 65 is not read */
	rec(&t[DNS_RR_MAX - 1], 3, 1, 1, B);
	rec(&t[DNS_RR_MAX], 3, 1, 1, MXA);
	expect(AUTH_NONE, "no TLSA record matched the leaf (3 1 1)",
	    CHAIN(MXA, INTER), t, DNS_RR_MAX + 1, "mx.a.test");
	free(t);
}

/* Chains of one, three and more certificates; at most DANE_CHAIN_MAX. */
static void
chain_lengths(void **state)
{
	struct dns_tlsa t;

	(void)state;
	rec(&t, 3, 1, 1, MXA);
	expect(AUTH_DANE_EE, "3 1 1", CHAIN(MXA), &t, 1, "mx.a.test");
	expect(AUTH_DANE_EE, "3 1 1", CHAIN(MXA, INTER, ROOT), &t, 1,
	    "mx.a.test");
	rec(&t, 2, 1, 1, INTER);
	expect(AUTH_DANE_TA, "2 1 1", CHAIN(MXA, INTER, ROOT), &t, 1,
	    "mx.a.test");
	/* unrelated certificates in between are not on the path */
	rec(&t, 2, 0, 1, ROOT);
	expect(AUTH_DANE_TA, "2 0 1", CHAIN(MXA, INTER, B, B, B, B, B, B, B,
	    ROOT), &t, 1, "mx.a.test");
	/* the eleventh certificate is not considered */
	expect(AUTH_NONE, "DANE-TA: no certificate of the chain matched",
	    CHAIN(MXA, INTER, B, B, B, B, B, B, B, B, ROOT), &t, 1,
	    "mx.a.test");
	assert_int_equal(DANE_CHAIN_MAX, 10);
}

static void
bad_chains(void **state)
{
	struct dns_tlsa t;
	gnutls_datum_t chain[2], junk = { (unsigned char *)"\x30\x03\x02\x01",
	    4 };
	const char *ref = "mx.a.test";
	char why[WHY_LEN];

	(void)state;
	rec(&t, 3, 1, 1, MXA);
	assert_int_equal(dane_verify(NULL, 0, &t, 1, &ref, 1, NOW, why,
	    sizeof(why)), AUTH_NONE);
	assert_string_equal(why, "the server sent no certificate");
	chain[0] = junk;
	assert_int_equal(dane_verify(chain, 1, &t, 1, &ref, 1, NOW, why,
	    sizeof(why)), AUTH_NONE);
	assert_string_equal(why, "cannot read the server certificate");
	/* An unreadable certificate ends the chain; the leaf still counts. */
	chain[0] = der[MXA];
	chain[1] = junk;
	assert_int_equal(dane_verify(chain, 2, &t, 1, &ref, 1, NOW, why,
	    sizeof(why)), AUTH_DANE_EE);
	rec(&t, 2, 0, 1, INTER);
	assert_int_equal(dane_verify(chain, 2, &t, 1, &ref, 1, NOW, why,
	    sizeof(why)), AUTH_NONE);
	/* why may be absent */
	assert_int_equal(dane_verify(chain, 2, &t, 1, &ref, 1, NOW, NULL, 0),
	    AUTH_NONE);
}

/* dane_record_for and dane_record_make against the test's own digests */
static void
record_for(void **state)
{
	struct dns_tlsa t;
	char out[300], want[300], why[WHY_LEN];
	gnutls_datum_t junk = { (unsigned char *)"junk", 4 };
	unsigned s, m;
	size_t i;

	(void)state;
	rec(&t, 3, 1, 1, MXA);
	assert_true(dane_record_for(&der[MXA], 3, out, sizeof(out), why,
	    sizeof(why)));
	dane_format(&t, want, sizeof(want));
	assert_string_equal(out, want);
	assert_int_equal(strlen(out), 6 + 64);
	rec(&t, 2, 1, 1, INTER);
	assert_true(dane_record_for(&der[INTER], 2, out, sizeof(out), why,
	    sizeof(why)));
	dane_format(&t, want, sizeof(want));
	assert_string_equal(out, want);
	for (s = 0; s < 2; s++) {
		for (m = 1; m < 3; m++) {
			rec(&t, 3, s, m, B);
			assert_true(dane_record_make(&der[B], 3, s, m, out,
			    sizeof(out), why, sizeof(why)));
			dane_format(&t, want, sizeof(want));
			assert_string_equal(out, want);
		}
	}
	/* Full data: the whole SPKI in hex. */
	{
		char big[2 * DNS_TLSA_DATA_MAX + 16];

		assert_true(dane_record_make(&der[B], 3, 1, 0, big,
		    sizeof(big), why, sizeof(why)));
		assert_int_equal(strlen(big), 6 + 2 * spki[B].size);
		for (i = 0; i < spki[B].size; i++) {
			unsigned v;

			assert_int_equal(sscanf(big + 6 + 2 * i, "%2x", &v),
			    1);
			assert_int_equal(v, spki[B].data[i]);
		}
	}
	assert_false(dane_record_for(&junk, 3, out, sizeof(out), why,
	    sizeof(why)));
	assert_non_null(strstr(why, "not a certificate"));
	assert_false(dane_record_for(&der[MXA], 1, out, sizeof(out), why,
	    sizeof(why)));
	assert_string_equal(why, "no such TLSA record: 1 1 1");
	assert_false(dane_record_make(&der[MXA], 3, 2, 1, out, sizeof(out),
	    why, sizeof(why)));
	assert_false(dane_record_make(&der[MXA], 3, 1, 3, out, sizeof(out),
	    why, sizeof(why)));
	assert_false(dane_record_for(&der[MXA], 3, out, 40, why,
	    sizeof(why)));
	assert_string_equal(why, "output buffer too small");
	assert_int_equal(strlen(out), 38);
}

static void
format(void **state)
{
	struct dns_tlsa t;
	char out[300], small[12];
	size_t i;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.usage = 3;
	t.selector = 1;
	t.mtype = 1;
	t.len = 32;
	for (i = 0; i < 32; i++)
		t.data[i] = (uint8_t)(i * 8 + 1);
	dane_format(&t, out, sizeof(out));
	assert_string_equal(out, "3 1 1 01091119212931394149515961697179"
	    "81899199a1a9b1b9c1c9d1d9e1e9f1f9");
	t.mtype = 2;
	t.len = 64;
	dane_format(&t, out, sizeof(out));
	assert_int_equal(strlen(out), 6 + 128);
	/* full data is cut after 32 bytes */
	rec(&t, 2, 0, 0, ROOT);
	dane_format(&t, out, sizeof(out));
	assert_int_equal(strlen(out), 6 + 64 + 3);
	assert_string_equal(out + 6 + 64, "...");
	assert_int_equal(strncmp(out, "2 0 0 30", 8), 0);
	/* 32 bytes of full data are shown whole */
	t.len = 32;
	dane_format(&t, out, sizeof(out));
	assert_int_equal(strlen(out), 6 + 64);
	/* small buffers: cut, terminated, never overrun */
	memset(small, 'x', sizeof(small));
	dane_format(&t, small, 9);
	assert_string_equal(small, "2 0 0 30");
	assert_int_equal(small[9], 'x');
	dane_format(&t, small, 4);
	assert_string_equal(small, "2 0");
	dane_format(&t, small, 1);
	assert_string_equal(small, "");
	dane_format(&t, NULL, 0);
	/* unusable records are shown as they are */
	t.usage = 200;
	t.selector = 7;
	t.mtype = 9;
	t.len = 0;
	dane_format(&t, out, sizeof(out));
	assert_string_equal(out, "200 7 9");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(usable_records),
		cmocka_unit_test(every_combination),
		cmocka_unit_test(wrong_digests),
		cmocka_unit_test(unusable_only),
		cmocka_unit_test(unknown_beside_good),
		cmocka_unit_test(agility),
		cmocka_unit_test(ee_ignores_names_and_dates),
		cmocka_unit_test(ta_good_chains),
		cmocka_unit_test(ta_refnames),
		cmocka_unit_test(ta_wrong_name),
		cmocka_unit_test(ta_dates),
		cmocka_unit_test(ta_rogue_chains),
		cmocka_unit_test(ta_not_in_chain),
		cmocka_unit_test(ta_self_issued),
		cmocka_unit_test(ta_bare_key),
		cmocka_unit_test(ee_and_ta),
		cmocka_unit_test(many_records),
		cmocka_unit_test(chain_lengths),
		cmocka_unit_test(bad_chains),
		cmocka_unit_test(record_for),
		cmocka_unit_test(format),
	};

	if (getenv("CMOCKA_MESSAGE_OUTPUT") == NULL)
		cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("dane", tests, load, unload);
}
