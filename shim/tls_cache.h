/*
 * tls_cache.h - a bounded, process-wide cache of TLS sessions to resume
 * toward upstream servers, with what their full handshake established.
 *
 * An entry is one session's data (gnutls_session_get_data2: for TLS 1.3 a
 * ticket and its secret) filed under a key that names the upstream and the
 * verification requirements it was obtained under (tls.c builds it), with
 * the verdict of the full handshake that first authenticated the server.
 * A resumed TLS 1.3 session carries no certificate, so that verdict is what
 * the resumed session reports.
 *
 * Entries are copies, handed out once: tls_cache_take() removes what it
 * returns, because a TLS 1.3 ticket is meant for one use (RFC 8446 C.4)
 * and many servers refuse a replay.  One mutex guards everything; it is
 * taken once per handshake and per ticket, never per byte, so every
 * worker thread shares the one cache.
 */
#ifndef TLSHIM_TLS_CACHE_H
#define TLSHIM_TLS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim/result.h"

#define TLS_CACHE_MAX		1024	/* entries over all upstreams */
/* Tickets are single-use: a busy upstream needs one per concurrent new
 * session to resume them all (the bench runs 128 at once). */
#define TLS_CACHE_PER_KEY	256	/* entries for one upstream and class */
#define TLS_CACHE_MAX_AGE	3600	/* seconds, whatever a ticket allows */
#define TLS_CACHE_KEY_MAX	400	/* bytes of a key, NUL included */

/* What the full handshake's verification found. */
struct tls_verdict {
	uint64_t	 verified_ms;		/* when: tls_cache_clock_ms() */
	enum auth	 auth;			/* pkix or untrusted */
	char		 cert_sha256[65];
	char		 spki_sha256[65];
	char		 why[256];		/* why not authenticated, or "" */
};

/*
 * tls_cache_put - keep a copy of len bytes of session data under key, for
 * lifetime seconds at most (0 keeps nothing), and never beyond
 * TLS_CACHE_MAX_AGE after the verification (v->verified_ms): a verdict is
 * reused for an hour at most, however often its sessions are resumed.
 * The oldest entry of the key goes when it has TLS_CACHE_PER_KEY, the
 * oldest of all when the cache is full.  False when nothing was kept.
 */
bool		tls_cache_put(const char *key, const void *data, size_t len,
		    const struct tls_verdict *, unsigned lifetime);
/*
 * tls_cache_take - the newest live entry under key, removed from the
 * cache: *data (free it with tls_cache_data_free), *len and *v.  False
 * when there is none.
 */
bool		tls_cache_take(const char *key, void **data, size_t *len,
		    struct tls_verdict *v);
/* tls_cache_clock_ms - the cache's clock (monotonic), for verified_ms */
uint64_t	tls_cache_clock_ms(void);
/* tls_cache_data_free - wipe and free what tls_cache_take returned */
void		tls_cache_data_free(void *data, size_t len);
/* tls_cache_count - entries held now, expired ones included */
size_t		tls_cache_count(void);
/* tls_cache_clear - forget everything (tests, and shutdown) */
void		tls_cache_clear(void);

#endif
