/*
 * dns_msg.h - DNS messages on the wire: the query tlshim sends and what it
 * takes from an answer.  Pure functions over bytes (ldns does the wire
 * format), no sockets, no clock: dns.c sends and caches, this file decides
 * what an answer says.
 *
 * An answer is accepted only when it is the answer to this query: same ID,
 * QR set, opcode QUERY, one question equal to ours (name compared without
 * case, type, class IN).  Anything else is DNS_E_MISMATCH and the caller
 * keeps waiting for the real answer (a spoofed or stale datagram is not an
 * error of the resolver).
 */
#ifndef TLSHIM_DNS_MSG_H
#define TLSHIM_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Query types tlshim asks for (RFC 1035, 3596, 2782, 6698). */
#define DNS_T_A		1
#define DNS_T_CNAME	5
#define DNS_T_MX	15
#define DNS_T_AAAA	28
#define DNS_T_SRV	33
#define DNS_T_TLSA	52

#define DNS_NAME_MAX	256	/* presentation form, with the final NUL */
#define DNS_CNAME_MAX	8	/* CNAME links followed in one answer */
#define DNS_RR_MAX	64	/* records kept from one answer (the rest
				 * are ignored; for TLSA, see dane.h) */
#define DNS_TLSA_DATA_MAX 2048	/* a full certificate (matching type 0) */

/* What one lookup found. */
enum dns_status {
	DNS_OK = 0,		/* records of the asked type (n > 0) */
	DNS_NODATA,		/* the name exists, no records of that type */
	DNS_NXDOMAIN,		/* the name does not exist */
	DNS_SERVFAIL,		/* the resolver failed (bogus under DNSSEC) */
	DNS_REFUSED,		/* REFUSED, NOTIMP, FORMERR, other rcodes */
	DNS_TIMEOUT,		/* no answer from any resolver (dns.c) */
	DNS_MALFORMED,		/* an answer that cannot be used (see err) */
	DNS_STATUS_LAST
};
const char	*dns_status_name(enum dns_status);

/* DNSSEC state of one lookup, in DESIGN.md's vocabulary. */
enum dnssec_state {
	DNSSEC_UNKNOWN = 0,	/* no lookup made: the empty field */
	DNSSEC_SECURE,
	DNSSEC_INSECURE,
	DNSSEC_BOGUS,
	DNSSEC_INDETERMINATE,	/* no trusted validation available */
	DNSSEC_LAST
};
/* dnssec_name - "secure", ...; "" for DNSSEC_UNKNOWN */
const char	*dnssec_name(enum dnssec_state);
/* dnssec_weakest - the weaker of two states (bogus < indeterminate <
 * insecure < secure; unknown counts as nothing) */
enum dnssec_state dnssec_weakest(enum dnssec_state, enum dnssec_state);

struct dns_tlsa {
	uint8_t		 usage, selector, mtype;
	uint16_t	 len;
	uint8_t		 data[DNS_TLSA_DATA_MAX];
};

/* One record of the asked type, with names in presentation form, lower
 * case, without the final dot. */
struct dns_rr {
	uint32_t	 ttl;
	union {
		struct {			/* A, AAAA */
			int	 family;	/* AF_INET or AF_INET6 */
			uint8_t	 addr[16];
		} a;
		struct {			/* MX */
			uint16_t pref;
			char	 host[DNS_NAME_MAX];
		} mx;
		struct {			/* SRV */
			uint16_t prio, weight, port;
			char	 target[DNS_NAME_MAX];
		} srv;
		struct dns_tlsa tlsa;		/* TLSA */
	} u;
};

/*
 * The parsed answer.  On DNS_OK, rr[0..n) hold the records of the asked
 * type found at the end of the CNAME chain (owner names checked: records
 * of other owners are ignored).  ttl is the smallest TTL of the chain and
 * the records; for NXDOMAIN and NODATA it is the negative TTL (RFC 2308:
 * the SOA's MINIMUM bounded by the SOA record's TTL; 0 when no SOA came).
 */
struct dns_answer {
	enum dns_status	 status;
	bool		 ad;		/* AD bit (meaningful only when the
					 * resolver is trusted: dns.c) */
	bool		 tc;		/* truncated: ask again over TCP */
	uint16_t	 rcode;
	uint32_t	 ttl;
	char		 cname[DNS_NAME_MAX];	/* end of the chain, "" if none */
	size_t		 n;
	struct dns_rr	*rr;		/* n records, malloc'd: see
					 * dns_answer_free() */
};

/* dns_answer_free - release a->rr (a itself belongs to the caller) */
void		 dns_answer_free(struct dns_answer *a);
/* dns_answer_copy - deep copy (for the cache); false when out of memory */
bool		 dns_answer_copy(struct dns_answer *dst,
		    const struct dns_answer *src);

/*
 * dns_query_build - the wire query for name and type: RD set, EDNS0 with a
 * 1232-byte UDP size and the DO bit when dnssec_ok (so a validating
 * resolver reports AD).  *wire is malloc'd; returns false with err filled
 * for a name that is not a valid domain name.
 */
bool		 dns_query_build(const char *name, uint16_t type, uint16_t id,
		    bool dnssec_ok, uint8_t **wire, size_t *len,
		    char *err, size_t errlen);

/*
 * dns_answer_parse - what the answer in wire[0..len) says about the query
 * (id, name, type).  Returns DNS_OK or DNS_E_MISMATCH (not our answer:
 * ignore it and keep waiting) or DNS_E_BAD (ours but unusable, with err:
 * treat as DNS_MALFORMED).  A truncated answer (TC) is DNS_E_OK with
 * a->tc set and nothing else filled in (a->status is DNS_MALFORMED, so
 * that a caller who forgets tc fails safe).  CNAME loops and chains longer
 * than DNS_CNAME_MAX are DNS_MALFORMED.  *a is overwritten, not freed; it
 * holds memory (dns_answer_free) only after DNS_E_OK; otherwise it is
 * zeroed with status DNS_MALFORMED.
 */
enum dns_parse_rc { DNS_E_OK = 0, DNS_E_MISMATCH, DNS_E_BAD };
enum dns_parse_rc dns_answer_parse(const uint8_t *wire, size_t len,
		    uint16_t id, const char *name, uint16_t type,
		    struct dns_answer *a, char *err, size_t errlen);

/* dns_name_normalize - lower case, no final dot, checked for length and
 * label syntax; false when name is not a host/domain name */
bool		 dns_name_normalize(const char *name, char *out, size_t outlen);

#endif
