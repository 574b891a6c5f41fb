/*
 * tls_int.h - what tls.c and its neighbours (tls_verify.c, tls_peer.c)
 * share about a session and its credentials; nothing else sees inside.
 */
#ifndef TLSHIM_TLS_INT_H
#define TLSHIM_TLS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include "shim/tls.h"
#include "shim/tls_cache.h"

struct tls_client {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t	 prio;
	unsigned		 refs;
	bool			 have_ca;
	char			*ca_file;
	/* Unique in the process, never reused: cached sessions name the
	 * trust they were verified with by it, so that what a reload
	 * brings (another CA file, or the same one changed) starts afresh
	 * instead of inheriting verdicts made with the old one. */
	uint64_t		 id;
};

struct tls_conn {
	gnutls_session_t	 gs;
	struct tls_client	*client;
	tls_push_fn		 push;
	void			*ctx;
	const char		*in;		/* ciphertext not yet pulled */
	size_t			 inlen;
	bool			 starved;	/* pull found no input */
	int			 err;		/* last GnuTLS error */
	char			 errtext[160];
	char			*sni;		/* NULL for address literals */
	/* Resumption; key is "" when this session is not cached. */
	char			 key[TLS_CACHE_KEY_MAX];
	bool			 offered;	/* a cached session was set */
	bool			 keep;		/* verdict known: keep tickets */
	bool			 ticket_new;	/* one arrived, not yet kept */
	unsigned		 ticket_life;	/* its lifetime, seconds */
	struct tls_verdict	 verdict;	/* the offered's, then ours */
};

#endif
