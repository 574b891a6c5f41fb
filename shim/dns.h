/*
 * dns.h - tlshim's asynchronous DNS client: one per event loop.
 *
 * Queries go to the configured resolvers (or /etc/resolv.conf's) over
 * libuv UDP, again over TCP when an answer is truncated, with a timeout
 * per attempt, trying each resolver in turn.  Answers are cached per loop
 * for their TTL (positive and negative), so nothing is shared between
 * workers and no lock is taken.  Address lookups honour /etc/hosts first,
 * as the system resolver does; such answers are insecure.
 *
 * DNSSEC: tlshim does not validate.  With dnssec = trust-ad it believes a
 * resolver's AD bit only when that resolver is on loopback (the path to
 * it cannot be tampered with); SERVFAIL from it is bogus.  Otherwise every
 * answer is indeterminate.
 */
#ifndef TLSHIM_DNS_H
#define TLSHIM_DNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "shim/dns_msg.h"

#define DNS_MAX_RESOLVERS	3
#define DNS_CACHE_MAX		4096	/* entries per loop */
#define DNS_TTL_MAX		86400	/* cap on cached TTLs, seconds */

enum dnssec_mode { DNSSEC_MODE_TRUST_AD = 0, DNSSEC_MODE_OFF };

struct dns_settings {
	struct sockaddr_storage	 resolver[DNS_MAX_RESOLVERS];
	size_t			 nresolvers;	/* 0: read resolv_conf */
	enum dnssec_mode	 dnssec;
	unsigned		 timeout_ms;	/* per attempt; 0: 2000 */
	unsigned		 attempts;	/* per resolver; 0: 2 */
	const char		*resolv_conf;	/* NULL: /etc/resolv.conf */
	const char		*hosts;		/* NULL: /etc/hosts, "": none */
};

/*
 * dns_settings_resolvers - fill s->resolver from resolv_conf's nameserver
 * lines (port 53) when none were configured.  False with err when there
 * is none at all.
 */
bool		 dns_settings_resolvers(struct dns_settings *s, char *err,
		    size_t errlen);
/* dns_settings_trusted - would AD from these resolvers be believed? */
bool		 dns_settings_trusted(const struct dns_settings *s);

/* The result handed to a lookup's callback; valid only during the call. */
struct dns_result {
	const char		*name;		/* as asked, normalized */
	uint16_t		 type;
	enum dns_status		 status;
	enum dnssec_state	 dnssec;
	const struct dns_answer	*answer;	/* rr, cname, ttl (as received,
						 * also when cached); never
						 * NULL */
	bool			 from_hosts;	/* /etc/hosts answered */
	bool			 cached;
	const char		*err;		/* "" or what went wrong */
};

struct dns_client;
struct dns_req;
typedef void	(*dns_cb)(void *arg, const struct dns_result *);

/* dns_client_new - a client on loop with a copy of settings; resolvers
 * must already be filled in (dns_settings_resolvers).  The hosts file is
 * read here, once: make clients before their loop runs. */
struct dns_client *dns_client_new(uv_loop_t *, const struct dns_settings *,
		    char *err, size_t errlen);
/* dns_client_close - cancel what is pending (callbacks are not called;
 * every dns_req is gone) and free the client once its handles are
 * closed.  Safe inside a lookup's callback; NULL is fine. */
void		 dns_client_close(struct dns_client *);

/*
 * dns_lookup - ask for name/type; cb is called exactly once, later (never
 * from inside dns_lookup, even for a cached answer), unless the request is
 * cancelled first.  NULL (with cb never called) only when name is not a
 * valid name or memory ran out: err says which.
 */
struct dns_req	*dns_lookup(struct dns_client *, const char *name,
		    uint16_t type, dns_cb cb, void *arg, char *err,
		    size_t errlen);
/* dns_cancel - the callback will not be called; req is gone.  Inside
 * req's own callback it does nothing (req goes when the callback
 * returns); another request may be cancelled from any callback. */
void		 dns_cancel(struct dns_req *);

#endif
