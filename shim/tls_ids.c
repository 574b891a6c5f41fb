/*
 * tls_ids.c - does a certificate name what we meant to reach?
 *
 * Reference identities of RFC 6125 (and 9525): a DNS-ID is checked by
 * GnuTLS (wildcards in the left-most label, the subject's CN only when
 * there is no dNSName at all); an SRV-ID (RFC 4985 SRVName,
 * "_xmpp-client.example.org") and an XmppAddr (RFC 6120 13.7.1.4, the
 * id-on-xmppAddr otherName) are compared here, as GnuTLS hands them over
 * decoded, without case and without wildcards.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "shim/tls.h"

#define SAN_MAX		512	/* bytes of a name; longer never match */
#define SANS_MAX	100	/* subjectAltNames looked at */

/* same_name - two domain names, without case and a final dot */
static bool
same_name(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen > 0 && a[alen - 1] == '.')
		alen--;
	if (blen > 0 && b[blen - 1] == '.')
		blen--;
	return alen == blen && alen > 0 && strncasecmp(a, b, alen) == 0;
}

/* san_match - one subjectAltName of type against id */
static bool
san_match(int type, const char *v, size_t len, const struct tls_refid *id)
{
	/* A NUL inside a name is an old trick to make "a.example\0.evil"
	 * look like "a.example" to C strings. */
	if (memchr(v, '\0', len) != NULL)
		return false;
	switch (id->type) {
	case TLS_ID_SRV:
		return type == GNUTLS_SAN_OTHERNAME_SRV &&
		    same_name(v, len, id->name);
	case TLS_ID_XMPP:
		/* A domain's XmppAddr is the bare domain, no local part or
		 * resource. */
		return type == GNUTLS_SAN_OTHERNAME_XMPP &&
		    memchr(v, '@', len) == NULL && memchr(v, '/', len) ==
		    NULL && same_name(v, len, id->name);
	case TLS_ID_DNS:
		break;
	}
	return false;
}

int
tls_ids_match(const gnutls_datum_t *leaf, const struct tls_refid *ids,
    size_t n)
{
	gnutls_x509_crt_t crt;
	int found = -1;

	if (gnutls_x509_crt_init(&crt) < 0)
		return -1;
	if (gnutls_x509_crt_import(crt, leaf, GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		return -1;
	}
	for (size_t i = 0; i < n && found < 0; i++) {
		if (ids[i].type == TLS_ID_DNS) {
			if (gnutls_x509_crt_check_hostname2(crt, ids[i].name,
			    0) != 0)
				found = (int)i;
			continue;
		}
		for (unsigned seq = 0; seq < SANS_MAX && found < 0; seq++) {
			char v[SAN_MAX];
			size_t len = sizeof(v);
			int type = gnutls_x509_crt_get_subject_alt_name(crt,
			    seq, v, &len, NULL);

			if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
				break;
			if (type < 0 || len >= sizeof(v))
				continue;
			if (san_match(type, v, len, &ids[i]))
				found = (int)i;
		}
	}
	gnutls_x509_crt_deinit(crt);
	return found;
}
