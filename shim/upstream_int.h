/*
 * upstream_int.h - the plan of one session's way to its upstream, shared
 * by upstream.c (targets, addresses, TLSA, connecting), upstream_route.c
 * (MX and SRV routing) and upstream_tls.c (what TLS asks of the target).
 */
#ifndef TLSHIM_UPSTREAM_INT_H
#define TLSHIM_UPSTREAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "shim/conf.h"
#include "shim/dns.h"
#include "shim/srv.h"

struct session;

#define UP_TARGETS_MAX	10	/* MX hosts or SRV targets tried */
#define UP_ADDRS_MAX	8	/* addresses tried per target */
#define UP_SRV_MAX	64	/* SRV records kept, over every label */

struct up_target {
	char			 host[DNS_NAME_MAX];
	uint16_t		 port;
	bool			 is_ip;
	/* With tls = auto: the mode the SRV label that named it asks for
	 * (XEP-0368); otherwise the service's applies. */
	enum tls_mode		 tls;
	/* DNSSEC state of the MX or SRV RRset that named this target;
	 * unknown for a configured host (the configuration is trusted). */
	enum dnssec_state	 src;
};

struct upstream_plan {
	struct up_target	 t[UP_TARGETS_MAX];
	size_t			 nt, cur;
	struct dns_req		*req[2];	/* lookups in flight */
	unsigned		 pending;
	/* The current target's addresses, IPv6 and IPv4 interleaved. */
	struct sockaddr_storage	 addr[UP_ADDRS_MAX];
	size_t			 naddr, acur;
	struct sockaddr_storage	 got6[UP_ADDRS_MAX], got4[UP_ADDRS_MAX];
	size_t			 n6, n4;
	enum dnssec_state	 addr_sec;	/* weakest of A and AAAA */
	bool			 addr_failed;	/* a lookup failed outright */
	enum dnssec_state	 dnssec;	/* weakest so far, for the record */
	char			 addr_err[128];
	/* Where the address lookups' CNAME chain ended, "" if none: with a
	 * secure chain its TLSA records come first (RFC 7671 7). */
	char			 cname[DNS_NAME_MAX];
	bool			 tlsa_at_cname;	/* the lookup in flight */
	/* The TLSA base domain of the records in use: the SNI (RFC 7672
	 * 8.1).  "" when none are. */
	char			 tlsa_base[DNS_NAME_MAX];
	/* Its TLSA records, when they are secure and decide the level. */
	struct dns_tlsa		*tlsa;
	size_t			 ntlsa;
	/* SRV routing: the records of every label asked, until all are in
	 * (UP_SRV_MAX of them, on the heap). */
	struct srv_rec		*srv;
	size_t			 nsrv;
	enum dnssec_state	 srv_sec;	/* weakest of the answers */
	bool			 srv_dot;	/* "." : service not offered */
	char			 srv_err[300];	/* a lookup that failed */
	char			 srv_domain[DNS_NAME_MAX];
	char			 srv_qname[DNS_NAME_MAX + 32];
	/* Transparent mode: the client's original destination, the one
	 * address connected to (transparent.c). */
	struct sockaddr_storage	 only;
	bool			 has_only;
};

/* upstream_start_target - resolve the current target, or refuse if none
 * is left (upstream.c) */
void		 upstream_start_target(struct session *);
/* upstream_lookup - ask the session's DNS client into slot (0 or 1);
 * false after refusing the session */
bool		 upstream_lookup(struct session *, size_t slot, const char *name,
		    uint16_t type, dns_cb cb);
/* upstream_lookup_error - a failed lookup in words */
const char	*upstream_lookup_error(const struct dns_result *);
/* upstream_note_dnssec - fold one lookup's state into the session record */
void		 upstream_note_dnssec(struct session *, enum dnssec_state);

/* upstream_route_mx - the targets are domain's MX hosts (upstream_route.c) */
void		 upstream_route_mx(struct session *, const char *domain);
/* upstream_route_srv - the targets are domain's SRV targets for the
 * session's protocol */
void		 upstream_route_srv(struct session *, const char *domain);

#endif
