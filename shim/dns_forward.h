/*
 * dns_forward.h - the DNS forwarder of transparent mode (dns_listen).
 *
 * The LAN (or the host) uses it as its resolver.  It relays each query,
 * over UDP or TCP as it came, to the configured resolvers and relays the
 * answer back unchanged (only the message ID is its own on the way up, so
 * that a spoofed answer must guess it), and teaches the name map what the
 * answer says (name_map_learn): which names the addresses a client is
 * about to connect to have.  It runs on the first worker's loop.
 *
 * Bounded: DNS_FWD_INFLIGHT_MAX queries in flight (more are dropped, the
 * client asks again), DNS_FWD_TCP_MAX TCP clients, DNS_FWD_TCP_PENDING
 * queries in flight per TCP client, DNS_FWD_TCP_IDLE_MS idle per TCP
 * client.  A query no resolver answers gets SERVFAIL; a query that is not
 * a plain QUERY with one question gets NOTIMP or FORMERR.
 */
#ifndef TLSHIM_DNS_FORWARD_H
#define TLSHIM_DNS_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "shim/dns.h"

#define DNS_FWD_LISTEN_MAX	4
#define DNS_FWD_INFLIGHT_MAX	512
#define DNS_FWD_TCP_MAX		64
#define DNS_FWD_TCP_PENDING	16
#define DNS_FWD_TCP_IDLE_MS	10000

struct conf;
struct name_map;
struct server;
struct dns_fwd;

/* Counters, for the log and the tests. */
struct dns_fwd_stats {
	uint64_t	 queries;	/* accepted from clients */
	uint64_t	 answered;	/* relayed back from a resolver */
	uint64_t	 failed;	/* answered SERVFAIL: no resolver */
	uint64_t	 refused;	/* answered FORMERR or NOTIMP */
	uint64_t	 dropped;	/* over a bound, or not a query */
	uint64_t	 learned;	/* name map entries added */
};

/*
 * dns_fwd_new - listen (UDP and TCP) on each of addr[0..n) and forward to
 * set's resolvers (filled in: dns_settings_resolvers), teaching map
 * (may be NULL).  NULL with err when a socket cannot be bound.
 */
struct dns_fwd	*dns_fwd_new(uv_loop_t *, const struct sockaddr_storage *addr,
		    size_t n, const struct dns_settings *set,
		    struct name_map *map, char *err, size_t errlen);
/* dns_fwd_addr - where listener i is bound (its port when 0 was
 * asked: TCP has the same); 0 or a libuv error */
int		 dns_fwd_addr(struct dns_fwd *, size_t i,
		    struct sockaddr_storage *);
/* dns_fwd_set_resolvers - forward to these from now on (a reload) */
void		 dns_fwd_set_resolvers(struct dns_fwd *,
		    const struct dns_settings *);
/* dns_fwd_close - stop: close every socket, drop what is in flight; the
 * forwarder is freed once its handles are closed.  NULL is fine. */
void		 dns_fwd_close(struct dns_fwd *);
/* dns_fwd_stats - a copy of the counters (any thread) */
void		 dns_fwd_stats(struct dns_fwd *, struct dns_fwd_stats *);

/*
 * The daemon's forwarder (dns_forward_srv.c): the first worker runs the
 * one conf's dns_listen asks for.  dns_fwd_apply starts it, keeps it when
 * a reload leaves dns_listen alone, restarts or stops it otherwise; false
 * with err when it cannot listen, or when a resolver it would forward to
 * is itself (a loop).  Other workers do nothing.
 */
bool		 dns_fwd_apply(struct server *, const struct conf *,
		    char *err, size_t errlen);
void		 dns_fwd_stop(struct server *);

#endif
