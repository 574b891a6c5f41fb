/*
 * tls_peer.c - what the session record says of the server: TLS version,
 * cipher, group, and of its certificate the SHA-256 of it and of its key,
 * its subject, issuer and expiry.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "shim/result.h"
#include "shim/text.h"
#include "shim/tls.h"
#include "shim/tls_int.h"

/*
 * What hash_peer derives from a leaf certificate, for the few leaves this
 * thread saw last: the next session with the same server (a resumed one
 * carries the certificate too) copies them instead of parsing the
 * certificate again, which costs as much as a tenth of a resumption.
 * Found by the SHA-256 of the whole certificate, computed anyway.
 */
#define LEAF_MEMO	4

struct leaf_facts {
	unsigned char	 sha256[32];
	bool		 set;
	char		 spki_sha256[65];
	char		 subject[256];
	char		 issuer[256];
	time_t		 expires;
};

static __thread struct leaf_facts leaf_memo[LEAF_MEMO];
static __thread unsigned leaf_memo_next;

/* leaf_parse - the facts of a leaf, from its DER; false if unreadable */
static bool
leaf_parse(const gnutls_datum_t *der, struct leaf_facts *f)
{
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t pk;
	gnutls_datum_t spki = { NULL, 0 }, dn = { NULL, 0 };
	unsigned char d[32];

	if (gnutls_x509_crt_init(&crt) < 0)
		return false;
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) != 0) {
		gnutls_x509_crt_deinit(crt);
		return false;
	}
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
		snprintf(f->subject, sizeof(f->subject), "%.*s",
		    (int)dn.size, (const char *)dn.data);
		gnutls_free(dn.data);
	}
	if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) == 0) {
		snprintf(f->issuer, sizeof(f->issuer), "%.*s",
		    (int)dn.size, (const char *)dn.data);
		gnutls_free(dn.data);
	}
	f->expires = gnutls_x509_crt_get_expiration_time(crt);
	if (f->expires == (time_t)-1)
		f->expires = 0;
	if (gnutls_pubkey_init(&pk) == 0) {
		if (gnutls_pubkey_import_x509(pk, crt, 0) == 0 &&
		    gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, &spki) == 0) {
			if (gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data,
			    spki.size, d) == 0)
				(void)text_hex(f->spki_sha256,
				    sizeof(f->spki_sha256), d, sizeof(d));
			gnutls_free(spki.data);
		}
		gnutls_pubkey_deinit(pk);
	}
	gnutls_x509_crt_deinit(crt);
	return true;
}

/* hash_peer - SHA-256 of the leaf certificate and of its SPKI, and the
 * names and date a person checks first */
static void
hash_peer(struct tls_conn *t, struct outcome *o)
{
	const gnutls_datum_t *certs;
	unsigned n = 0;
	unsigned char d[32];
	struct leaf_facts *f = NULL, fresh;

	if ((certs = gnutls_certificate_get_peers(t->gs, &n)) == NULL || n == 0)
		return;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[0].data, certs[0].size,
	    d) != 0)
		return;
	(void)text_hex(o->cert_sha256, sizeof(o->cert_sha256), d, sizeof(d));
	for (unsigned i = 0; i < LEAF_MEMO && f == NULL; i++)
		if (leaf_memo[i].set &&
		    memcmp(leaf_memo[i].sha256, d, sizeof(d)) == 0)
			f = &leaf_memo[i];
	if (f == NULL) {
		memset(&fresh, 0, sizeof(fresh));
		if (!leaf_parse(&certs[0], &fresh))
			return;
		memcpy(fresh.sha256, d, sizeof(d));
		fresh.set = true;
		f = &leaf_memo[leaf_memo_next++ % LEAF_MEMO];
		*f = fresh;
	}
	snprintf(o->spki_sha256, sizeof(o->spki_sha256), "%s",
	    f->spki_sha256);
	snprintf(o->cert_subject, sizeof(o->cert_subject), "%s", f->subject);
	snprintf(o->cert_issuer, sizeof(o->cert_issuer), "%s", f->issuer);
	o->cert_expires = f->expires;
}

/* tls_conn_peer_chain - the certificates the server sent, leaf first */
const gnutls_datum_t *
tls_conn_peer_chain(struct tls_conn *t, size_t *n)
{
	unsigned int count = 0;
	const gnutls_datum_t *chain;

	chain = gnutls_certificate_get_peers(t->gs, &count);
	*n = chain != NULL ? count : 0;
	return chain;
}

void
tls_conn_describe(struct tls_conn *t, struct outcome *o)
{
	const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(t->gs));
	const char *c = gnutls_ciphersuite_get(t->gs);
	const char *g = gnutls_group_get_name(gnutls_group_get(t->gs));

	snprintf(o->tls_version, sizeof(o->tls_version), "%s", v ? v : "");
	snprintf(o->cipher, sizeof(o->cipher), "%s", c ? c : "");
	snprintf(o->group, sizeof(o->group), "%s", g ? g : "");
	hash_peer(t, o);
}
