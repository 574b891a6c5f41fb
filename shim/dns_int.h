/*
 * dns_int.h - what the DNS client's files share (dns.c, dns_net.c,
 * dns_cache.c, dns_sys.c) and what the unit test reaches below the public
 * API: the shared answer record, the per-loop cache with an explicit
 * clock, the /etc/hosts table, and the client's own structures.  Not for
 * the rest of tlshim: use dns.h.
 */
#ifndef TLSHIM_DNS_INT_H
#define TLSHIM_DNS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "shim/dns.h"
#include "shim/dns_msg.h"

#define DNS_ERR_MAX		160	/* dns_rec.err */
#define DNS_CACHE_BUCKETS	4096	/* hash chains: DNS_CACHE_MAX / 1 */
#define DNS_UDP_BUF		65536	/* the largest datagram */

/*
 * One finished lookup, shared read-only by the cache and by every request
 * it answers: reference counted, freed with its last reference.  The
 * status is ans.status (DNS_TIMEOUT included: dns.c sets it).
 */
struct dns_rec {
	unsigned		 refs;
	enum dnssec_state	 dnssec;
	bool			 from_hosts;
	struct dns_answer	 ans;
	char			 err[DNS_ERR_MAX];
};

/* dns_rec_new - an empty record (status DNS_OK, n = 0) with one
 * reference, or NULL when memory ran out */
struct dns_rec	*dns_rec_new(void);
struct dns_rec	*dns_rec_ref(struct dns_rec *);
void		 dns_rec_unref(struct dns_rec *);

/*
 * The cache: (normalized name, type) -> record, for at most DNS_CACHE_MAX
 * entries, the least recently used evicted first.  Times are milliseconds
 * on any monotonic clock the caller chooses (dns.c: uv_now()); an entry
 * is dropped when it is found expired.
 */
struct dns_cache;
struct dns_cache *dns_cache_new(void);
void		 dns_cache_free(struct dns_cache *);
/* dns_cache_get - the live record for name/type (a borrowed reference),
 * or NULL */
struct dns_rec	*dns_cache_get(struct dns_cache *, const char *name,
		    uint16_t type, uint64_t now);
/* dns_cache_put - keep rec (takes a reference of its own) for ttl
 * seconds, capped at DNS_TTL_MAX; ttl 0 keeps nothing */
void		 dns_cache_put(struct dns_cache *, const char *name,
		    uint16_t type, struct dns_rec *, uint32_t ttl,
		    uint64_t now);
size_t		 dns_cache_count(const struct dns_cache *);

/* The hosts table, read once (dns_client_new) and then only searched. */
struct dns_hosts;
/* dns_hosts_load - path's entries; a missing or unreadable file is an
 * empty table (as for the system resolver); NULL only when memory ran
 * out */
struct dns_hosts *dns_hosts_load(const char *path);
void		 dns_hosts_free(struct dns_hosts *);
/*
 * dns_hosts_find - the answer hosts gives for name/type: NULL when the
 * name is not in it (ask DNS) or type is neither A nor AAAA.  A name
 * listed only with addresses of the other family is DNS_NODATA: the file
 * knows the name, as getaddrinfo() treats it.  *oom is set when the
 * record could not be made.
 */
struct dns_rec	*dns_hosts_find(const struct dns_hosts *, const char *name,
		    uint16_t type, bool *oom);
size_t		 dns_hosts_count(const struct dns_hosts *);

/* ------------------------------------------------- the client's insides */

/*
 * dns.c keeps the requests, the queries' state and the cache; dns_net.c
 * moves one query's bytes (UDP, TCP) and reports back through
 * dns_query_reply(), dns_query_next() and dns_query_handle_closed().
 */

/* A circular list with a head node: unlinking needs no head. */
struct dlink {
	struct dlink	*prev, *next;
};

struct dns_udp;		/* dns_net.c's */
struct dns_tcp;

/* One (name, type) being asked, shared by every request for it: see
 * dns.c for who frees it and when. */
struct dns_query {
	struct dlink		 link;		/* c->queries, until done */
	struct dlink		 waiters;	/* struct dns_req */
	struct dns_client	*c;
	uv_timer_t		 timer;		/* the current try */
	struct dns_udp		*udp;		/* NULL when none is open */
	struct dns_tcp		*tcp;
	unsigned		 handles;	/* not yet closed, timer too */
	bool			 done;
	uint16_t		 type, id;
	uint8_t			*wire;
	size_t			 wlen;
	unsigned		 try, ntries;
	bool			 failed[DNS_MAX_RESOLVERS];
	struct dns_rec		*fail;		/* the last failure answer */
	char			 name[DNS_NAME_MAX];
};

/* One per loop (dns.h). */
struct dns_client {
	uv_loop_t		*loop;
	struct dns_settings	 set;
	char			 res_name[DNS_MAX_RESOLVERS][64];
	bool			 trusted;
	bool			 closing;
	unsigned		 alive;		/* idle + queries not freed */
	uv_idle_t		 idle;		/* runs on_ready */
	struct dlink		 ready;		/* requests to call back */
	struct dlink		 drain;		/* being called back now */
	struct dlink		 queries;	/* in flight */
	struct dns_cache	*cache;
	struct dns_hosts	*hosts;
	struct dns_rec		*oom;		/* the answer when memory ran
						 * out for a better one */
	uint8_t			 rbuf[DNS_UDP_BUF]; /* a datagram at a time */
};

/* dns_net.c: the transport of a query's current try. */
/* dns_net_udp_ask - send the query to resolver res over UDP: on q's
 * socket when it is connected to res, else on a new one (a new random
 * source port); 0 or a libuv error */
int		 dns_net_udp_ask(struct dns_query *, size_t res);
/* dns_net_tcp_ask - ask res again over TCP (closing the UDP socket) */
int		 dns_net_tcp_ask(struct dns_query *, size_t res);
/* dns_net_close_tcp - drop the TCP connection, if any */
void		 dns_net_close_tcp(struct dns_query *);
/* dns_net_close - close q's sockets */
void		 dns_net_close(struct dns_query *);

/* dns.c, for dns_net.c. */
/* dns_query_reply - an answer from res, whole (over TCP, without the
 * length prefix) */
void		 dns_query_reply(struct dns_query *, size_t res,
		    const uint8_t *wire, size_t len, bool tcp);
/* dns_query_next - the current try ended without an answer */
void		 dns_query_next(struct dns_query *);
/* dns_query_handle_closed - one of q's handles is closed */
void		 dns_query_handle_closed(struct dns_query *);

#endif
