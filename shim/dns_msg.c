/*
 * dns_msg.c - the DNS query tlshim sends, names, and the small things
 * around an answer (names of states, copying and freeing).  Reading an
 * answer is dns_answer.c's job.
 *
 * ldns writes the query: one question, class IN, RD, and an OPT record
 * (EDNS0, RFC 6891) that offers a 1232-byte UDP size and, when DNSSEC is
 * wanted, sets DO so that a validating resolver reports AD.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "shim/dns_msg.h"

/* The EDNS0 UDP size of DNS Flag Day 2020: no IP fragmentation. */
#define EDNS_UDP_SIZE	1232

static const char *const status_names[DNS_STATUS_LAST] = {
	"ok", "nodata", "nxdomain", "servfail", "refused", "timeout",
	"malformed"
};
static const char *const dnssec_names[DNSSEC_LAST] = {
	"", "secure", "insecure", "bogus", "indeterminate"
};
/* Strength, for dnssec_weakest(): the lower, the weaker. */
static const int dnssec_rank[DNSSEC_LAST] = {
	[DNSSEC_UNKNOWN] = -1, [DNSSEC_BOGUS] = 0,
	[DNSSEC_INDETERMINATE] = 1, [DNSSEC_INSECURE] = 2,
	[DNSSEC_SECURE] = 3
};

/* dns_status_name - "ok", "nxdomain", ... */
const char *
dns_status_name(enum dns_status s)
{
	return (unsigned)s < DNS_STATUS_LAST ? status_names[s] : "unknown";
}

/* dnssec_name - "secure", ...; "" for DNSSEC_UNKNOWN */
const char *
dnssec_name(enum dnssec_state s)
{
	return (unsigned)s < DNSSEC_LAST ? dnssec_names[s] : "bogus";
}

/* dnssec_weakest - the weaker of two states.  A value outside the enum
 * counts as bogus: whatever produced it cannot be trusted. */
enum dnssec_state
dnssec_weakest(enum dnssec_state a, enum dnssec_state b)
{
	if ((unsigned)a >= DNSSEC_LAST || (unsigned)b >= DNSSEC_LAST)
		return DNSSEC_BOGUS;
	if (a == DNSSEC_UNKNOWN)
		return b;
	if (b == DNSSEC_UNKNOWN)
		return a;
	return dnssec_rank[a] <= dnssec_rank[b] ? a : b;
}

/* dns_answer_free - release a->rr (a itself belongs to the caller) */
void
dns_answer_free(struct dns_answer *a)
{
	if (a == NULL)
		return;
	free(a->rr);
	a->rr = NULL;
	a->n = 0;
}

/* dns_answer_copy - deep copy (for the cache); false when out of memory,
 * with dst untouched */
bool
dns_answer_copy(struct dns_answer *dst, const struct dns_answer *src)
{
	struct dns_rr *rr = NULL;

	if (src->n > 0) {
		if ((rr = calloc(src->n, sizeof(*rr))) == NULL)
			return false;
		memcpy(rr, src->rr, src->n * sizeof(*rr));
	}
	*dst = *src;
	dst->rr = rr;
	return true;
}

/*
 * dns_name_normalize - lower case, no final dot, checked: labels of 1 to
 * 63 letters, digits, hyphens (not first or last) and underscores (for
 * _25._tcp and _imaps._tcp labels), 253 bytes in all.  The root is not a
 * name one looks up.  out may be name itself.
 */
bool
dns_name_normalize(const char *name, char *out, size_t outlen)
{
	char buf[DNS_NAME_MAX];
	size_t n, i, label = 0;

	if (name == NULL)
		return false;
	n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_NAME_MAX - 3 || n + 1 > outlen)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return false;
			label = 0;
			buf[i] = c;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return false;
		if ((c == '-' && label == 0) || ++label > 63)
			return false;
		buf[i] = c;
	}
	if (label == 0 || name[n - 1] == '-')
		return false;		/* "a.." or "a-" */
	memcpy(out, buf, n);
	out[n] = '\0';
	return true;
}

/*
 * dns_query_build - the wire query: one question, class IN, RD set, an
 * OPT record with a 1232-byte UDP size, and DO when dnssec_ok.  The name
 * goes out normalized (lower case).
 */
bool
dns_query_build(const char *name, uint16_t type, uint16_t id, bool dnssec_ok,
    uint8_t **wire, size_t *len, char *err, size_t errlen)
{
	char norm[DNS_NAME_MAX];
	ldns_rdf *dn;
	ldns_pkt *pkt;
	ldns_status st;

	*wire = NULL;
	*len = 0;
	if (!dns_name_normalize(name, norm, sizeof(norm))) {
		snprintf(err, errlen, "not a domain name (labels of letters, "
		    "digits, '-' and '_', up to 63 bytes, 253 in all)");
		return false;
	}
	if (type == 0) {
		snprintf(err, errlen, "query type 0");
		return false;
	}
	if ((dn = ldns_dname_new_frm_str(norm)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	/* On failure ldns_pkt_query_new() has not taken dn. */
	if ((pkt = ldns_pkt_query_new(dn, type, LDNS_RR_CLASS_IN,
	    LDNS_RD)) == NULL) {
		ldns_rdf_deep_free(dn);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	ldns_pkt_set_id(pkt, id);
	ldns_pkt_set_edns_udp_size(pkt, EDNS_UDP_SIZE);
	ldns_pkt_set_edns_do(pkt, dnssec_ok);
	st = ldns_pkt2wire(wire, pkt, len);
	ldns_pkt_free(pkt);
	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "%s", ldns_get_errorstr_by_id(st));
		return false;
	}
	return true;
}
