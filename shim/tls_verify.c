/*
 * tls_verify.c - the server's certificate checked after the handshake:
 * the chain against the service's CA store and the name (or address) the
 * session wanted, through the verdict cache so that the same chain is not
 * verified again for every session while its verdict holds.
 *
 * Done after the handshake, by us, so that a failure is said in words and
 * handled per security level instead of ending as a handshake error.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "shim/tls.h"
#include "shim/tls_int.h"
#include "shim/tls_vcache.h"

/* stapled - the server sent an OCSP response for one of its n
 * certificates: the verification then depends on it as well */
static bool
stapled(struct tls_conn *t, unsigned n)
{
	gnutls_datum_t resp;

	for (unsigned i = 0; i < n; i++)
		if (gnutls_ocsp_status_request_get2(t->gs, i, &resp) == 0)
			return true;
	return false;
}

/* verify_peers - GnuTLS's verification of the chain and of host (NULL:
 * the chain alone): its status bits in *status, or a GnuTLS error */
static int
verify_peers(struct tls_conn *t, const char *host,
    const gnutls_typed_vdata_st *ip, unsigned *status)
{
	if (ip != NULL)
		return gnutls_certificate_verify_peers(t->gs,
		    (gnutls_typed_vdata_st *)ip, 1, status);
	return gnutls_certificate_verify_peers3(t->gs, host, status);
}

/* verify_cached - verify_peers through the verdict cache (tls_vcache.c):
 * a chain already verified with these credentials for this host (or, host
 * NULL, for no name: its key's name is then "", which no host is) is not
 * verified again while its verdict holds */
static int
verify_cached(struct tls_conn *t, const char *host, bool is_ip,
    const gnutls_typed_vdata_st *ip, unsigned *status)
{
	const gnutls_datum_t *certs;
	gnutls_x509_trust_list_t tl = NULL;
	struct tls_vkey key;
	unsigned n = 0;
	time_t now = time(NULL);
	int rc;

	certs = gnutls_certificate_get_peers(t->gs, &n);
	if (stapled(t, n) ||
	    !tls_vcache_key(&key, certs, n, t->client->id,
	    host != NULL ? host : "", is_ip))
		return verify_peers(t, host, ip, status);
	if (tls_vcache_get(&key, now, status))
		return 0;
	if ((rc = verify_peers(t, host, ip, status)) < 0)
		return rc;
	/* A certificate not valid yet may be soon: not kept. */
	if (!(*status & GNUTLS_CERT_NOT_ACTIVATED)) {
		gnutls_certificate_get_trust_list(t->client->cred, &tl);
		tls_vcache_put(&key, *status, now,
		    tls_vcache_until(certs, n, tl));
	}
	return 0;
}

bool
tls_conn_verify(struct tls_conn *t, const char *host, bool is_ip, char *why,
    size_t whylen)
{
	gnutls_typed_vdata_st data;
	unsigned char ip[16];
	unsigned status = 0;
	gnutls_datum_t text;
	int rc;

	if (!t->client->have_ca) {
		snprintf(why, whylen, "no CA store to verify the certificate");
		return false;
	}
	if (gnutls_certificate_get_peers(t->gs, NULL) == NULL) {
		snprintf(why, whylen, "server sent no certificate");
		return false;
	}
	if (is_ip) {
		/* An address literal is checked against the certificate's
		 * IP addresses (RFC 9525 6.2.1), never against names. */
		memset(&data, 0, sizeof(data));
		data.type = GNUTLS_DT_IP_ADDRESS;
		data.data = ip;
		if (inet_pton(AF_INET, host, ip) == 1)
			data.size = 4;
		else if (inet_pton(AF_INET6, host, ip) == 1)
			data.size = 16;
		else {
			snprintf(why, whylen, "bad address %s", host);
			return false;
		}
	}
	rc = verify_cached(t, host, is_ip, is_ip ? &data : NULL, &status);
	if (rc < 0) {
		snprintf(why, whylen, "verification error: %s",
		    gnutls_strerror(rc));
		return false;
	}
	if (status == 0)
		return true;
	if (gnutls_certificate_verification_status_print(status,
	    GNUTLS_CRT_X509, &text, 0) == 0) {
		snprintf(why, whylen, "certificate not verified for %s: %s",
		    host, text.data);
		gnutls_free(text.data);
	} else
		snprintf(why, whylen, "certificate not verified for %s", host);
	return false;
}

/* tls_conn_verify_ids - the chain alone with GnuTLS (no name: it takes
 * one DNS name only), then the names with tls_ids_match() */
bool
tls_conn_verify_ids(struct tls_conn *t, const struct tls_refid *ids,
    size_t n, char *why, size_t whylen)
{
	const gnutls_datum_t *certs;
	unsigned status = 0, ncerts = 0;
	gnutls_datum_t text;
	int rc;

	if (!t->client->have_ca) {
		snprintf(why, whylen, "no CA store to verify the certificate");
		return false;
	}
	if ((certs = gnutls_certificate_get_peers(t->gs, &ncerts)) == NULL ||
	    ncerts == 0) {
		snprintf(why, whylen, "server sent no certificate");
		return false;
	}
	if ((rc = verify_cached(t, NULL, false, NULL, &status)) < 0) {
		snprintf(why, whylen, "verification error: %s",
		    gnutls_strerror(rc));
		return false;
	}
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &text, 0) == 0) {
			snprintf(why, whylen, "certificate not verified: %s",
			    text.data);
			gnutls_free(text.data);
		} else
			snprintf(why, whylen, "certificate not verified");
		return false;
	}
	if (n == 0 || tls_ids_match(&certs[0], ids, n) < 0) {
		snprintf(why, whylen, "certificate not verified for %s: it "
		    "does not name it", n > 0 ? ids[0].name : "?");
		return false;
	}
	return true;
}
