/*
 * dane.h - DANE authentication of a server certificate chain against a
 * TLSA RRset (RFC 6698, 7671, 7672), done with GnuTLS alone.
 *
 * The caller has already decided that the RRset is DNSSEC-secure; this
 * file only decides which records are usable and whether the chain the
 * server presented matches them.
 */
#ifndef TLSHIM_DANE_H
#define TLSHIM_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <gnutls/gnutls.h>

#include "shim/dns_msg.h"
#include "shim/result.h"

#define DANE_REFNAMES_MAX	4
#define DANE_CHAIN_MAX		10	/* certificates of a chain considered:
					 * the leaf and nine above it; the rest
					 * are ignored */

/* dane_usable - is this record one tlshim can use?  Usages DANE-TA(2)
 * and DANE-EE(3) only (PKIX-TA/EE are unusable for SMTP, RFC 7672
 * 3.1.3), selectors 0 and 1, matching types 0, 1 and 2 with the right
 * data length. */
bool		 dane_usable(const struct dns_tlsa *);
/* dane_count_usable - how many of n records are usable */
size_t		 dane_count_usable(const struct dns_tlsa *, size_t n);

/*
 * dane_verify - authenticate chain[0..nchain) (DER, the server's leaf
 * first, as it was sent) against the usable records of tlsa[0..n).
 *
 * DANE-EE(3): the leaf's certificate or SPKI matches; names and validity
 * dates are not checked (RFC 7671 5.1).  DANE-TA(2): a certificate of the
 * chain (or, for a bare public key, the key that signed the top of the
 * chain) matches, the leaf chains up to it with valid signatures and dates
 * at now, and the leaf carries one of refnames[0..nref) (RFC 7672 3.2.2:
 * the TLSA base domain and, with MX, the MX host name).  Digest algorithm
 * agility (RFC 7671 9): for each usage and selector, only the records of
 * the strongest matching type present are used.
 *
 * At most DANE_CHAIN_MAX certificates and DNS_RR_MAX records are looked
 * at.  DANE-TA never takes the leaf as its own trust anchor, except a
 * self-issued leaf sent alone; a DANE-TA record carrying the full
 * certificate (2 0 0) or key (2 1 0) of a CA the server did not send
 * anchors the chain if that CA signed its top certificate (RFC 7671 5.2).
 *
 * Returns AUTH_DANE_EE or AUTH_DANE_TA with why holding the record that
 * matched (as dane_format writes it), or AUTH_NONE with why saying in
 * words what did not match (for the session record).
 */
enum auth	 dane_verify(const gnutls_datum_t *chain, size_t nchain,
		    const struct dns_tlsa *tlsa, size_t n,
		    const char *const *refnames, size_t nref, time_t now,
		    char *why, size_t whylen);

/*
 * dane_record_for - the TLSA record to publish for a certificate: usage 3
 * (or 2 for a CA certificate), selector 1, matching type 1, as "3 1 1
 * <hex>" in out.  False with why on a certificate GnuTLS cannot read.
 */
bool		 dane_record_for(const gnutls_datum_t *der, unsigned usage,
		    char *out, size_t outlen, char *why, size_t whylen);
/* dane_record_make - the same with any selector (0 or 1) and matching
 * type (0, 1 or 2); usage 2 or 3 only.  Full data (type 0) needs an out
 * of twice the certificate's size; false with why if out is too small. */
bool		 dane_record_make(const gnutls_datum_t *der, unsigned usage,
		    unsigned selector, unsigned mtype, char *out, size_t outlen,
		    char *why, size_t whylen);

/* dane_format - "3 1 1 abcd..." for the record (data abbreviated past
 * 32 bytes for full certificates), for logs and the session record */
void		 dane_format(const struct dns_tlsa *, char *out, size_t outlen);

#endif
