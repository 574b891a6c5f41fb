/*
 * name_map.h - which names the local DNS answers gave for which
 * addresses, so that transparent mode knows the name of the server a
 * redirected client meant (the name a plaintext client never sends).
 *
 * The DNS forwarder (dns_forward.c) feeds it every answer it relays: an
 * A or AAAA answer maps each address to the name the client asked for; an
 * MX answer marks its hosts as MX hosts, the names RFC 7672 takes as TLSA
 * base domains for SMTP.  A transparent session looks its original
 * destination up here.
 *
 * The map is bounded (the oldest entry makes room) and every entry lives
 * for its record's TTL, at least NAME_MAP_TTL_MIN seconds (a client
 * connects after the answer, sometimes a little after its TTL) and at
 * most NAME_MAP_TTL_MAX.  One address may have several names (shared
 * hosting, several MX names): a lookup prefers a name the connecting
 * client itself asked for, then, for SMTP, an MX host name, then the name
 * learned last.
 *
 * Every worker reads it and the forwarder writes it, behind one mutex
 * held for a hash lookup at a time.  Times are milliseconds on the
 * monotonic clock (name_map_now()); tests pass their own.
 */
#ifndef TLSHIM_NAME_MAP_H
#define TLSHIM_NAME_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NAME_MAP_MAX		4096	/* addresses to names, the default */
#define NAME_MAP_TTL_MIN	60	/* seconds an entry lives at least */
#define NAME_MAP_TTL_MAX	86400	/* and at most */

/* An address without a port: family AF_INET (a[0..4)) or AF_INET6. */
struct nm_addr {
	int		 family;	/* 0: none */
	uint8_t		 a[16];
};

/* What a lookup found. */
enum nm_kind {
	NM_NONE = 0,		/* no name known for the address */
	NM_ADDR,		/* a name an A or AAAA answer gave */
	NM_MX			/* that name is also an MX host */
};

struct name_map;

/* name_map_new - an empty map of at most max addresses-to-names (and as
 * many MX host names); NULL when out of memory */
struct name_map	*name_map_new(size_t max);
void		 name_map_free(struct name_map *);

/* name_map_add - name (normalized: lower case, no final dot) has address
 * addr, for ttl seconds from now, as the client asker (NULL: unknown) was
 * told */
void		 name_map_add(struct name_map *, const struct nm_addr *addr,
		    const char *name, uint32_t ttl,
		    const struct nm_addr *asker, uint64_t now);
/* name_map_add_mx - host is the MX host of some domain, for ttl seconds */
void		 name_map_add_mx(struct name_map *, const char *host,
		    uint32_t ttl, uint64_t now);
/*
 * name_map_learn - what one relayed answer teaches: wire[0..len) is the
 * answer to the question (id, qname, qtype) exactly as the resolver sent
 * it (checked with dns_answer_parse: another answer teaches nothing).
 * Returns the number of entries added or refreshed.
 */
size_t		 name_map_learn(struct name_map *, const uint8_t *wire,
		    size_t len, uint16_t id, const char *qname,
		    uint16_t qtype, const struct nm_addr *asker,
		    uint64_t now);
/*
 * name_map_find - the best name for addr: one client asked for first,
 * then (prefer_mx) an MX host name, then the newest.  Copies it into
 * name and says what it is; NM_NONE (name "") when none is alive.
 */
enum nm_kind	 name_map_find(struct name_map *, const struct nm_addr *addr,
		    const struct nm_addr *client, bool prefer_mx,
		    uint64_t now, char *name, size_t namelen);
/* name_map_count - live and expired entries held: addresses, MX hosts */
void		 name_map_count(struct name_map *, size_t *naddr,
		    size_t *nmx);

/* nm_addr_from - the address of a socket address (its port dropped);
 * false for another family */
bool		 nm_addr_from(struct nm_addr *, const struct sockaddr *);
/* name_map_now - milliseconds on the monotonic clock */
uint64_t	 name_map_now(void);

/* The process's map, shared by the forwarder and every worker: made once
 * (name_map_global_init), never freed while the process runs. */
struct name_map	*name_map_global(void);
bool		 name_map_global_init(void);

#endif
