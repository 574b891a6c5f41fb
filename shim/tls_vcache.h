/*
 * tls_vcache.h - a bounded, process-wide cache of certificate verdicts:
 * what GnuTLS found when it verified a chain, so that the next full
 * handshake with the same server does not check the same signatures again.
 *
 * A verdict is filed under a key that names everything the verification
 * depends on: the chain as the server sent it (every certificate, in
 * order), the trust store and verification profile it was checked with
 * (the credentials' id, new for every configuration loaded), and the
 * reference identity (a name, or an address literal).  Sessions that
 * carry a stapled OCSP response are not cached (tls.c): the verdict would
 * depend on it too.
 *
 * A verdict holds from the time it was made until the first certificate
 * of the chain, or the trust anchor that issued one of them, expires, and
 * an hour at most; the time is checked on every hit.  The cache keeps
 * TLS_VCACHE_MAX verdicts and forgets the least recently used first.  One
 * mutex guards it, taken once per full handshake, so every worker thread
 * shares the one cache.
 *
 * The server still proves that it holds the certificate's key in every
 * handshake (TLS 1.3 CertificateVerify, a TLS 1.2 key exchange signature):
 * GnuTLS checks that inside the handshake, and nothing here skips it.
 */
#ifndef TLSHIM_TLS_VCACHE_H
#define TLSHIM_TLS_VCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define TLS_VCACHE_MAX		1024	/* verdicts over all servers */
#define TLS_VCACHE_MAX_AGE	3600	/* seconds a verdict is reused */

struct tls_vkey {
	unsigned char	 d[32];		/* SHA-256 of what it names */
};

/*
 * tls_vcache_key - the key of one verification: the n certificates the
 * server sent (DER), the trust store they are checked against (store, a
 * tls_client id) and the reference identity (an address literal when
 * is_ip).  False when it cannot be made (n is 0, the hash failed).
 */
bool	tls_vcache_key(struct tls_vkey *, const gnutls_datum_t *certs,
	    unsigned n, uint64_t store, const char *name, bool is_ip);
/*
 * tls_vcache_get - the verdict kept under key, if it still holds at now:
 * *status is the GnuTLS verification status it had (0: verified).
 */
bool	tls_vcache_get(const struct tls_vkey *, time_t now, unsigned *status);
/*
 * tls_vcache_put - keep status under key, made at now, holding until
 * until (exclusive) and TLS_VCACHE_MAX_AGE at most.  Nothing is kept
 * when until is not after now.
 */
void	tls_vcache_put(const struct tls_vkey *, unsigned status, time_t now,
	    time_t until);
/*
 * tls_vcache_until - when a verdict on this chain stops holding: the
 * earliest expiry of the n certificates and of the trust anchors in tl
 * that issued any of them.  0 when a certificate cannot be read.
 */
time_t	tls_vcache_until(const gnutls_datum_t *certs, unsigned n,
	    gnutls_x509_trust_list_t tl);
/* tls_vcache_count - verdicts held now, outlived ones included */
size_t	tls_vcache_count(void);
/* tls_vcache_stats - lookups that found a verdict, and that did not */
void	tls_vcache_stats(uint64_t *hits, uint64_t *misses);
/* tls_vcache_clear - forget every verdict (tests) */
void	tls_vcache_clear(void);

#endif
