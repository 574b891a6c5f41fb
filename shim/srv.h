/*
 * srv.h - the order in which to try the targets of SRV records (RFC 2782).
 *
 * upstream.c gathers the records of one or more SRV lookups (tls = auto
 * asks two labels, XEP-0368) into one set; srv_order() says which to try
 * first.  Kept apart so that the ordering can be tested on its own.
 */
#ifndef TLSHIM_SRV_H
#define TLSHIM_SRV_H

#include <stddef.h>
#include <stdint.h>

#include "shim/conf.h"
#include "shim/dns_msg.h"

/* One SRV record, with what the lookup that found it said. */
struct srv_rec {
	char			 target[DNS_NAME_MAX];	/* "" for "." */
	uint16_t		 port;
	uint16_t		 prio;
	uint16_t		 weight;
	enum tls_mode		 tls;	/* what its label asks for */
	enum dnssec_state	 src;	/* DNSSEC state of its RRset */
};

/*
 * srv_order - the records of r[0..n) in the order to try them: lowest
 * priority first, and within one priority a random order in which each
 * record comes first with a chance proportional to its weight (a weight
 * of 0 still has a small chance, RFC 2782).  Records whose target is "."
 * are left out.  Writes at most max indexes into order and returns how
 * many it wrote.
 */
size_t	srv_order(const struct srv_rec *r, size_t n, size_t *order,
	    size_t max);

#endif
