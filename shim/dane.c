/*
 * dane.c - DANE authentication of a server's certificate chain against a
 * DNSSEC-secure TLSA RRset (RFC 6698, 7671, 7672), with GnuTLS alone.
 *
 * libgnutls-dane is not used: its dane_verify_crt_raw() never links a
 * DANE-TA match to the leaf's issuer chain (anyone holding the public TA
 * certificate gets through), takes no reference name and has no digest
 * agility (FIELD-NOTES.md, "DNS and DANE").  Here matching is done on the
 * DER bytes with gnutls_hash_fast(), and a DANE-TA chain is verified by a
 * GnuTLS trust list that holds nothing but the one matched trust anchor.
 *
 * Decisions, each with its reason:
 *
 *  - Usable records: DANE-TA(2) and DANE-EE(3); PKIX-TA(0) and PKIX-EE(1)
 *    are unusable for SMTP (RFC 7672 3.1.3), and tlshim has no use for
 *    them elsewhere.  Selectors Cert(0) and SPKI(1); matching types
 *    Full(0) (non-empty data), SHA2-256(1) (32 bytes) and SHA2-512(2)
 *    (64 bytes).  Anything else is skipped, never counted as a mismatch,
 *    so that "all unusable" (encrypt, do not authenticate: RFC 7672 2.2.3)
 *    stays apart from "no match" (refuse).
 *
 *  - Digest agility (RFC 7671 9, as OpenSSL's DANE code that Postfix
 *    uses does it): for each usage and selector, only the records of the
 *    strongest digest present are used, SHA2-512 over SHA2-256.  Full(0)
 *    records are not digests and are always used: they cannot be
 *    weakened by a broken hash, and RFC 7671 9 leaves them out of the
 *    ordering.  So {right 3 1 1, wrong 3 1 2} fails: the 3 1 1 is
 *    ignored, as an attacker able to forge SHA2-256 would want it used.
 *
 *  - DANE-EE(3): the leaf alone, its DER (selector 0) or the DER of its
 *    SubjectPublicKeyInfo (selector 1), taken as the bytes the server sent
 *    and not re-encoded; names and dates are not checked (RFC 7671 5.1).
 *
 *  - DANE-TA(2): the record must match a certificate above the leaf in
 *    the chain as sent (RFC 7671 5.2.2: the server must send its TA), and
 *    the leaf must verify up to that certificate with a trust list that
 *    holds only it: signatures and CA constraints by GnuTLS, then the
 *    validity dates of every certificate on the path, anchor included,
 *    at now, then the leaf's name against any of the reference names
 *    (GNUTLS_DT_DNS_HOSTNAME: DNS SANs, a wildcard in the left-most label,
 *    CN only without DNS SANs; RFC 7672 3.2.3).  Certificates above the
 *    matched one play no part.
 *    The leaf is not its own trust anchor when the server sent more than
 *    the leaf (OpenSSL, and so Postfix, match DANE-TA only above depth 0;
 *    a record for the leaf is what DANE-EE is for).  A self-issued leaf
 *    sent alone and matched by a 2 x x record is taken as its own trust
 *    anchor (RFC 7671 5.2: the chain then is the TA), dates and names
 *    still checked.
 *    RFC 7671 5.2 lets a server leave out a TA that the TLSA record
 *    carries whole: a 2 0 0 certificate not in the chain becomes the
 *    anchor of the whole chain, and a 2 1 0 key not in the chain is
 *    accepted when it signed the topmost certificate the server sent
 *    (RFC 7671 5.2.3), that certificate then anchoring the path.  A digest
 *    (2 x 1, 2 x 2) of a certificate or key absent from the chain gives
 *    nothing to check a signature with and fails.
 *
 *  - Bounds: the first DANE_CHAIN_MAX certificates and the first
 *    DNS_RR_MAX records; a certificate GnuTLS cannot read ends the chain
 *    there (a leaf it cannot read fails the whole check).
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "shim/dane.h"
#include "shim/text.h"

#define U_TA		2	/* DANE-TA */
#define U_EE		3	/* DANE-EE */
#define SIG_MAX		2048	/* bytes of a certificate signature: RSA 16384 */
#define REASON_MAX	192

/* One certificate of the chain, with what records are matched against. */
struct dcert {
	gnutls_x509_crt_t	 crt;
	gnutls_datum_t		 sel[2];	/* [selector]: DER, SPKI (into
						 * the DER the caller gave) */
	gnutls_datum_t		 tbs;		/* signed part, into the DER */
	uint8_t			 sha256[2][32];	/* [selector] */
	uint8_t			 sha512[2][64];
};

/* What one dane_verify() call knows. */
struct dctx {
	struct dcert		 c[DANE_CHAIN_MAX];
	size_t			 n;
	const char *const	*ref;
	size_t			 nref;
	time_t			 now;
	unsigned		 failed;	/* bit k: chain[k] was tried as
						 * the anchor and failed (the
						 * same anchor fails the same
						 * way for another record) */
	char			 ta_why[REASON_MAX];	/* first DANE-TA failure */
	int			 ta_level;	/* 2: a match that failed its
						 * checks, 1: a lesser note */
};

/* ta_note - keep the first DANE-TA failure of the strongest level */
static void __attribute__((format(printf, 3, 4)))
ta_note(struct dctx *d, int level, const char *fmt, ...)
{
	va_list ap;

	if (level <= d->ta_level)
		return;
	d->ta_level = level;
	va_start(ap, fmt);
	vsnprintf(d->ta_why, sizeof(d->ta_why), fmt, ap);
	va_end(ap);
}

/* triple - "2 0 1" for a record, in a caller's buffer of 12 bytes */
static const char *
triple(const struct dns_tlsa *t, char buf[12])
{
	snprintf(buf, 12, "%u %u %u", t->usage, t->selector, t->mtype);
	return buf;
}

/*
 * der_tlv - the DER element at p[0..avail): its tag, header and content
 * lengths.  False unless it is well formed and fits: one-byte tags and
 * definite lengths of at most four bytes, all a certificate uses.
 */
static bool
der_tlv(const uint8_t *p, size_t avail, uint8_t *tag, size_t *hdr,
    size_t *len)
{
	size_t h = 2, l, nb, i;

	if (avail < 2 || (p[0] & 0x1f) == 0x1f)
		return false;
	if (p[1] < 0x80)
		l = p[1];
	else {
		nb = p[1] & 0x7f;
		if (nb == 0 || nb > 4 || avail < 2 + nb)
			return false;
		for (l = 0, i = 0; i < nb; i++)
			l = l << 8 | p[2 + i];
		h += nb;
	}
	if (l > avail - h)
		return false;
	*tag = p[0];
	*hdr = h;
	*len = l;
	return true;
}

/*
 * cert_parts - find, in a certificate's DER, the TBSCertificate (what the
 * issuer signed) and the SubjectPublicKeyInfo, as the exact bytes sent:
 * TLSA data is computed over those (RFC 6698 2.1.2), and re-encoding a
 * key could change them.
 */
static bool
cert_parts(const gnutls_datum_t *der, gnutls_datum_t *tbs,
    gnutls_datum_t *spki)
{
	const uint8_t *p = der->data;
	size_t avail = der->size, h, l;
	uint8_t tag;
	int i;

	/* Certificate ::= SEQUENCE { tbsCertificate, ... } */
	if (!der_tlv(p, avail, &tag, &h, &l) || tag != 0x30)
		return false;
	p += h;
	avail = l;
	if (!der_tlv(p, avail, &tag, &h, &l) || tag != 0x30)
		return false;
	tbs->data = (unsigned char *)p;
	tbs->size = (unsigned)(h + l);
	p += h;
	avail = l;
	/* TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
	 * signature, issuer, validity, subject, subjectPublicKeyInfo, ... } */
	if (!der_tlv(p, avail, &tag, &h, &l))
		return false;
	if (tag == 0xa0) {
		p += h + l;
		avail -= h + l;
	}
	for (i = 0; i < 5; i++) {
		if (!der_tlv(p, avail, &tag, &h, &l))
			return false;
		p += h + l;
		avail -= h + l;
	}
	if (!der_tlv(p, avail, &tag, &h, &l) || tag != 0x30)
		return false;
	spki->data = (unsigned char *)p;
	spki->size = (unsigned)(h + l);
	return true;
}

/* dcert_load - read one DER certificate into c; false if GnuTLS cannot */
static bool
dcert_load(struct dcert *c, const gnutls_datum_t *der)
{
	int s;

	if (gnutls_x509_crt_init(&c->crt) < 0) {
		c->crt = NULL;
		return false;
	}
	if (gnutls_x509_crt_import(c->crt, der, GNUTLS_X509_FMT_DER) < 0 ||
	    !cert_parts(der, &c->tbs, &c->sel[1]))
		goto bad;
	c->sel[0] = *der;
	for (s = 0; s < 2; s++) {
		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, c->sel[s].data,
		    c->sel[s].size, c->sha256[s]) < 0 ||
		    gnutls_hash_fast(GNUTLS_DIG_SHA512, c->sel[s].data,
		    c->sel[s].size, c->sha512[s]) < 0)
			goto bad;
	}
	return true;
bad:
	gnutls_x509_crt_deinit(c->crt);
	c->crt = NULL;
	return false;
}

/* dane_usable - is this record one tlshim can use? */
bool
dane_usable(const struct dns_tlsa *t)
{
	if (t->usage != U_TA && t->usage != U_EE)
		return false;
	if (t->selector > 1)
		return false;
	switch (t->mtype) {
	case 0:
		return t->len > 0 && t->len <= DNS_TLSA_DATA_MAX;
	case 1:
		return t->len == 32;
	case 2:
		return t->len == 64;
	default:
		return false;
	}
}

/* dane_count_usable - how many of n records are usable */
size_t
dane_count_usable(const struct dns_tlsa *t, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (dane_usable(&t[i]))
			k++;
	return k;
}

/*
 * strongest - digest agility (RFC 7671 9): best[usage - 2][selector] is
 * the strongest digest type among the usable records, 0 when none.
 */
static void
strongest(const struct dns_tlsa *t, size_t n, uint8_t best[2][2])
{
	size_t i;

	memset(best, 0, 4);
	for (i = 0; i < n; i++) {
		if (!dane_usable(&t[i]) || t[i].mtype == 0)
			continue;
		if (t[i].mtype > best[t[i].usage - U_TA][t[i].selector])
			best[t[i].usage - U_TA][t[i].selector] = t[i].mtype;
	}
}

/* considered - usable and not outranked by a stronger digest */
static bool
considered(const struct dns_tlsa *t, uint8_t best[2][2])
{
	return dane_usable(t) &&
	    (t->mtype == 0 || t->mtype == best[t->usage - U_TA][t->selector]);
}

/* matches - does the record match certificate c? */
static bool
matches(const struct dns_tlsa *t, const struct dcert *c)
{
	const gnutls_datum_t *d = &c->sel[t->selector];

	switch (t->mtype) {
	case 0:
		return d->size == t->len && memcmp(d->data, t->data, t->len) == 0;
	case 1:
		return memcmp(c->sha256[t->selector], t->data, 32) == 0;
	case 2:
		return memcmp(c->sha512[t->selector], t->data, 64) == 0;
	}
	return false;
}

/* date_problem - "expired", "not yet valid" or NULL for a certificate */
static const char *
date_problem(gnutls_x509_crt_t crt, time_t now)
{
	time_t from = gnutls_x509_crt_get_activation_time(crt);
	time_t until = gnutls_x509_crt_get_expiration_time(crt);

	if (from == (time_t)-1 || until == (time_t)-1)
		return "without readable dates";
	if (now < from)
		return "not yet valid";
	if (now > until)
		return "expired";
	return NULL;
}

/* chain_problem - a few words for GnuTLS verification status bits */
static const char *
chain_problem(unsigned status)
{
	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
		return "the leaf does not chain to the matched certificate";
	if (status & GNUTLS_CERT_SIGNATURE_FAILURE)
		return "bad signature in the chain";
	if (status & (GNUTLS_CERT_SIGNER_NOT_CA |
	    GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE))
		return "an issuer in the chain may not issue certificates";
	if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
		return "insecure signature algorithm in the chain";
	if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
		return "certificate purpose does not allow a TLS server";
	return "chain not verified";
}

/* names - "a.test or mx.a.test" for the reference names */
static void
names(const struct dctx *d, char *buf, size_t len)
{
	size_t i, w = 0;
	int r;

	buf[0] = '\0';
	for (i = 0; i < d->nref && w < len; i++) {
		if (d->ref[i] == NULL || d->ref[i][0] == '\0')
			continue;
		r = snprintf(buf + w, len - w, "%s%s", w ? " or " : "",
		    d->ref[i]);
		if (r < 0)
			break;
		w += (size_t)r;
	}
}

/*
 * ta_check - verify the leaf up to chain[top] with anchor (DER) as the
 * only trust anchor: signatures, then dates of chain[0..top] and of the
 * anchor, then the leaf's name.  On failure, notes why in d.
 */
static bool
ta_check(struct dctx *d, size_t top, const gnutls_datum_t *anchor,
    const char *rec)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t ta = NULL, path[DANE_CHAIN_MAX];
	gnutls_typed_vdata_st vd;
	unsigned flags, status, bad = 0;
	bool name_ok = false, ok = false;
	const char *p;
	char nb[128];
	size_t i;
	int rc;

	if (d->nref == 0) {
		ta_note(d, 2, "DANE-TA: no reference name to check the leaf");
		return false;
	}
	if (gnutls_x509_crt_init(&ta) < 0)
		goto err;
	if (gnutls_x509_crt_import(ta, anchor, GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(ta);
		ta_note(d, 2, "DANE-TA: the %s anchor is not a certificate",
		    rec);
		return false;
	}
	if (gnutls_x509_trust_list_init(&tl, 0) < 0) {
		gnutls_x509_crt_deinit(ta);
		goto err;
	}
	/* The list owns ta from here on. */
	if (gnutls_x509_trust_list_add_cas(tl, &ta, 1, 0) != 1) {
		gnutls_x509_crt_deinit(ta);
		goto err;
	}
	for (i = 0; i <= top; i++)
		path[i] = d->c[i].crt;

	/* Dates are checked below against the caller's now, not by GnuTLS
	 * against the clock. */
	flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
	    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;
	for (i = 0; i < d->nref && !name_ok; i++) {
		if (d->ref[i] == NULL || d->ref[i][0] == '\0')
			continue;
		vd.type = GNUTLS_DT_DNS_HOSTNAME;
		vd.data = (unsigned char *)(uintptr_t)d->ref[i];
		vd.size = (unsigned)strlen(d->ref[i]);
		rc = gnutls_x509_trust_list_verify_crt2(tl, path, top + 1, &vd,
		    1, flags, &status, NULL);
		if (rc < 0)
			goto err;
		name_ok = status == 0;
		/* Anything but the name is wrong: no other name can help. */
		if (!name_ok && ((status & ~(GNUTLS_CERT_INVALID |
		    GNUTLS_CERT_UNEXPECTED_OWNER)) != 0 ||
		    (status & GNUTLS_CERT_UNEXPECTED_OWNER) == 0)) {
			bad = status;
			break;
		}
	}
	if (bad != 0) {
		ta_note(d, 2, "DANE-TA: %s (%s)", chain_problem(bad), rec);
		goto out;
	}
	for (i = 0; i <= top; i++) {
		if ((p = date_problem(d->c[i].crt, d->now)) == NULL)
			continue;
		if (i == 0)
			ta_note(d, 2, "DANE-TA: certificate %s", p);
		else
			ta_note(d, 2, "DANE-TA: CA certificate %s (depth %zu)",
			    p, i);
		goto out;
	}
	if ((p = date_problem(ta, d->now)) != NULL) {
		ta_note(d, 2, "DANE-TA: trust anchor %s (%s)", p, rec);
		goto out;
	}
	if (!name_ok) {
		names(d, nb, sizeof(nb));
		ta_note(d, 2, "DANE-TA: leaf name does not match %s", nb);
		goto out;
	}
	ok = true;
	goto out;
err:
	ta_note(d, 2, "DANE-TA: GnuTLS could not verify the chain (%s)", rec);
out:
	if (tl != NULL)
		gnutls_x509_trust_list_deinit(tl, 1);
	return ok;
}

/* key_signed - did the public key in spki (DER) sign certificate c? */
static bool
key_signed(const struct dns_tlsa *t, const struct dcert *c)
{
	gnutls_pubkey_t key;
	gnutls_datum_t spki, sig;
	uint8_t sigbuf[SIG_MAX];
	size_t siglen = sizeof(sigbuf);
	int alg;
	bool ok = false;

	spki.data = (unsigned char *)(uintptr_t)t->data;
	spki.size = t->len;
	if (gnutls_pubkey_init(&key) < 0)
		return false;
	if (gnutls_pubkey_import(key, &spki, GNUTLS_X509_FMT_DER) < 0)
		goto out;
	if ((alg = gnutls_x509_crt_get_signature_algorithm(c->crt)) < 0 ||
	    gnutls_x509_crt_get_signature(c->crt, (char *)sigbuf,
	    &siglen) < 0)
		goto out;
	sig.data = sigbuf;
	sig.size = (unsigned)siglen;
	ok = gnutls_pubkey_verify_data2(key, (gnutls_sign_algorithm_t)alg, 0,
	    &c->tbs, &sig) >= 0;
out:
	gnutls_pubkey_deinit(key);
	return ok;
}

/* ta_try - one DANE-TA record against the chain */
static bool
ta_try(struct dctx *d, const struct dns_tlsa *t)
{
	gnutls_datum_t data;
	char rec[12];
	size_t k, top = d->n - 1;
	bool matched = false;

	triple(t, rec);
	for (k = 1; k < d->n; k++) {
		if (!matches(t, &d->c[k]))
			continue;
		matched = true;
		if (!(d->failed & 1u << k) &&
		    ta_check(d, k, &d->c[k].sel[0], rec))
			return true;
		d->failed |= 1u << k;
	}
	if (matched)
		return false;

	if (matches(t, &d->c[0])) {
		if (d->n == 1 && gnutls_x509_crt_check_issuer(d->c[0].crt,
		    d->c[0].crt)) {
			if (!(d->failed & 1u) &&
			    ta_check(d, 0, &d->c[0].sel[0], rec))
				return true;
			d->failed |= 1u;
			return false;
		}
		ta_note(d, 1, "DANE-TA: the %s record matches the leaf, "
		    "not a CA certificate", rec);
		return false;
	}
	if (t->mtype != 0)
		return false;		/* a digest of something not sent */

	/* The whole TA is in DNS (RFC 7671 5.2, 5.2.3). */
	if (t->selector == 0) {
		data.data = (unsigned char *)(uintptr_t)t->data;
		data.size = t->len;
		return ta_check(d, top, &data, rec);
	}
	if (!key_signed(t, &d->c[top])) {
		ta_note(d, 1, "DANE-TA: the %s key did not sign the top of "
		    "the chain", rec);
		return false;
	}
	return ta_check(d, top, &d->c[top].sel[0], rec);
}

/* seen_add - list a record's parameters once in "(3 1 1, 2 0 1)" */
static void
seen_add(char *buf, size_t len, const struct dns_tlsa *t)
{
	char rec[12];
	size_t w = strlen(buf);

	triple(t, rec);
	if (strstr(buf, rec) != NULL || w + strlen(rec) + 3 >= len)
		return;
	snprintf(buf + w, len - w, "%s%s", w ? ", " : "", rec);
}

/* dane_verify - authenticate a chain against a TLSA RRset */
enum auth
dane_verify(const gnutls_datum_t *chain, size_t nchain,
    const struct dns_tlsa *tlsa, size_t n, const char *const *refnames,
    size_t nref, time_t now, char *why, size_t whylen)
{
	struct dctx d;
	uint8_t best[2][2];
	char ee_seen[64] = "", ta_seen[64] = "";
	enum auth res = AUTH_NONE;
	size_t i;

	memset(&d, 0, sizeof(d));
	d.ref = refnames;
	d.nref = refnames != NULL ? nref : 0;
	if (d.nref > DANE_REFNAMES_MAX)
		d.nref = DANE_REFNAMES_MAX;
	d.now = now;
	if (n > DNS_RR_MAX)
		n = DNS_RR_MAX;
	if (nchain > DANE_CHAIN_MAX)
		nchain = DANE_CHAIN_MAX;
	if (nchain == 0 || chain == NULL) {
		say_into(why, whylen, "the server sent no certificate");
		return AUTH_NONE;
	}
	for (d.n = 0; d.n < nchain; d.n++)
		if (!dcert_load(&d.c[d.n], &chain[d.n]))
			break;
	if (d.n == 0) {
		say_into(why, whylen, "cannot read the server certificate");
		return AUTH_NONE;
	}
	if (dane_count_usable(tlsa, n) == 0) {
		say_into(why, whylen, "no usable TLSA records");
		goto out;
	}
	strongest(tlsa, n, best);

	/* DANE-EE first: one comparison each, and the recommended form. */
	for (i = 0; i < n; i++) {
		if (tlsa[i].usage != U_EE || !considered(&tlsa[i], best))
			continue;
		if (matches(&tlsa[i], &d.c[0])) {
			dane_format(&tlsa[i], why, whylen);
			res = AUTH_DANE_EE;
			goto out;
		}
		seen_add(ee_seen, sizeof(ee_seen), &tlsa[i]);
	}
	for (i = 0; i < n; i++) {
		if (tlsa[i].usage != U_TA || !considered(&tlsa[i], best))
			continue;
		if (ta_try(&d, &tlsa[i])) {
			dane_format(&tlsa[i], why, whylen);
			res = AUTH_DANE_TA;
			goto out;
		}
		seen_add(ta_seen, sizeof(ta_seen), &tlsa[i]);
	}

	if (d.ta_level == 2 || (d.ta_level == 1 && ee_seen[0] == '\0'))
		say_into(why, whylen, "%s", d.ta_why);
	else if (ee_seen[0] != '\0' && ta_seen[0] != '\0')
		say_into(why, whylen, "no TLSA record matched the chain (%s, %s)",
		    ee_seen, ta_seen);
	else if (ee_seen[0] != '\0')
		say_into(why, whylen, "no TLSA record matched the leaf (%s)",
		    ee_seen);
	else
		say_into(why, whylen, "DANE-TA: no certificate of the chain "
		    "matched (%s)", ta_seen);
out:
	for (i = 0; i < d.n; i++)
		gnutls_x509_crt_deinit(d.c[i].crt);
	return res;
}

/* dane_format - "3 1 1 abcd..." for logs and the session record */
void
dane_format(const struct dns_tlsa *t, char *out, size_t outlen)
{
	size_t len = t->len, w;
	int r;

	if (out == NULL || outlen == 0)
		return;
	r = snprintf(out, outlen, "%u %u %u", t->usage, t->selector,
	    t->mtype);
	if (r < 0 || (size_t)r + 1 >= outlen || len == 0)
		return;
	w = (size_t)r;
	out[w++] = ' ';
	/* A full certificate or key is long and says little in a log. */
	if (t->mtype == 0 && len > 32)
		len = 32;
	if (text_hex(out + w, outlen - w, t->data, len) && len < t->len)
		snprintf(out + w + 2 * len, outlen - w - 2 * len, "...");
}

/* dane_record_make - the TLSA record to publish for a certificate */
bool
dane_record_make(const gnutls_datum_t *der, unsigned usage,
    unsigned selector, unsigned mtype, char *out, size_t outlen,
    char *why, size_t whylen)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t tbs, spki;
	const gnutls_datum_t *d;
	uint8_t md[64];
	const uint8_t *data;
	size_t len;
	int r;

	if ((usage != U_TA && usage != U_EE) || selector > 1 || mtype > 2) {
		say_into(why, whylen, "no such TLSA record: %u %u %u", usage,
		    selector, mtype);
		return false;
	}
	if (gnutls_x509_crt_init(&crt) < 0) {
		say_into(why, whylen, "out of memory");
		return false;
	}
	r = gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER);
	gnutls_x509_crt_deinit(crt);
	if (r < 0 || !cert_parts(der, &tbs, &spki)) {
		say_into(why, whylen, "not a certificate GnuTLS can read: %s",
		    r < 0 ? gnutls_strerror(r) : "bad DER");
		return false;
	}
	d = selector == 0 ? der : &spki;
	data = d->data;
	len = d->size;
	if (mtype != 0) {
		len = mtype == 1 ? 32 : 64;
		if (gnutls_hash_fast(mtype == 1 ? GNUTLS_DIG_SHA256 :
		    GNUTLS_DIG_SHA512, d->data, d->size, md) < 0) {
			say_into(why, whylen, "hashing failed");
			return false;
		}
		data = md;
	}
	r = snprintf(out, outlen, "%u %u %u ", usage, selector, mtype);
	if (r < 0 || (size_t)r >= outlen ||
	    !text_hex(out + r, outlen - (size_t)r, data, len)) {
		say_into(why, whylen, "output buffer too small");
		return false;
	}
	return true;
}

/* dane_record_for - "3 1 1 <hex>" (or "2 1 1") for a certificate */
bool
dane_record_for(const gnutls_datum_t *der, unsigned usage, char *out,
    size_t outlen, char *why, size_t whylen)
{
	return dane_record_make(der, usage, 1, 1, out, outlen, why, whylen);
}
