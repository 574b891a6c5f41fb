/*
 * dns_answer.c - what tlshim takes from a DNS answer (dns_answer_parse).
 *
 * ldns does the wire format: each record of an answer that matters is
 * read by ldns_wire2rr().  The answer is not given to ldns_wire2pkt()
 * whole, because ldns 1.8 is more lenient than a resolver client should be: it
 * does not check that a record's data ends where its RDLENGTH says (an A
 * record with five bytes of data shifts every record after it), it reads
 * names inside RDATA against the end of the message rather than of the
 * record, and it follows up to 65535 compression pointers in one name.
 * So this file frames the message itself (header, sections, owner names,
 * RDLENGTH), checks every name it reads with the strict name_check(), and
 * then has ldns read each record it uses bounded by that record's end,
 * with every byte of its RDATA accounted for.
 *
 * Only three parts of an answer are ever used: records of the asked type
 * and CNAMEs in the answer section, SOAs in the authority section (for the
 * negative TTL), and the OPT record (for the extended rcode).  Everything
 * else is framed, so that a message that does not add up is refused, and
 * otherwise ignored.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ldns/ldns.h>

#include "shim/dns_msg.h"
#include "shim/text.h"

#define HDR_LEN		12
#define F_QR		0x8000
#define F_TC		0x0200
#define F_AD		0x0020
#define OPCODE(f)	(((f) >> 11) & 0xf)
#define RCODE(f)	((f) & 0xf)

#define RCODE_NOERROR	0
#define RCODE_SERVFAIL	2
#define RCODE_NXDOMAIN	3
#define CLASS_IN	1
#define TYPE_SOA	6
#define TYPE_OPT	41

/* Pointers followed in one name: a name has at most 127 labels, and a
 * legitimate pointer always leads to at least one label. */
#define PTR_MAX		127
/* RFC 2181 section 8: a TTL with the top bit set is to be taken as 0. */
#define TTL_SANE_MAX	0x7fffffffU

/* The answer being read. */
struct msg {
	const uint8_t	*wire;
	size_t		 len;
	size_t		 pos;		/* next byte to frame */
	char		*err;
	size_t		 errlen;
	ldns_rr_list	*an;		/* answer records read: asked type
					 * and CNAME, class IN */
	ldns_rr_list	*soa;		/* SOAs of the authority section */
	unsigned	 nopt;		/* OPT records seen */
	uint8_t		 ext_rcode;	/* upper 8 bits of the rcode (OPT) */
};

/* One record as framed from the wire, before ldns reads it. */
struct frame {
	size_t		 start;		/* its owner name */
	size_t		 rdata;		/* its first byte of RDATA */
	size_t		 end;		/* just past its RDATA */
	uint16_t	 type, class;
	uint32_t	 ttl;
};

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* sane_ttl - the TTL to believe (RFC 2181 section 8) */
static uint32_t
sane_ttl(uint32_t ttl)
{
	return ttl > TTL_SANE_MAX ? 0 : ttl;
}

/*
 * name_check - is there a well-formed name at pos?  Everything read,
 * pointers followed, lies below limit; no pointer into the header; at most
 * PTR_MAX pointers (more is a loop); only label types 0 and 3 (the others
 * were never deployed, RFC 6891 section 5); at most 255 bytes once
 * uncompressed.  *end is where the name ends in place.  Returns NULL, or
 * what is wrong.
 */
static const char *
name_check(const uint8_t *wire, size_t limit, size_t pos, size_t *end)
{
	size_t total = 1, to;
	unsigned ptrs = 0;
	bool jumped = false;
	uint8_t c;

	for (;;) {
		if (pos >= limit)
			return "name runs past its end";
		c = wire[pos];
		if (c == 0) {
			if (!jumped)
				*end = pos + 1;
			return NULL;
		}
		if ((c & 0xc0) == 0xc0) {
			if (pos + 2 > limit)
				return "name runs past its end";
			if (!jumped)
				*end = pos + 2;
			jumped = true;
			to = (size_t)(c & 0x3f) << 8 | wire[pos + 1];
			if (to < HDR_LEN || to >= limit)
				return "bad compression pointer";
			if (++ptrs > PTR_MAX)
				return "compression pointer loop";
			pos = to;
			continue;
		}
		if ((c & 0xc0) != 0)
			return "unknown label type";
		if (pos + 1 + c > limit)
			return "name runs past its end";
		if ((total += 1 + (size_t)c) > LDNS_MAX_DOMAINLEN)
			return "name longer than 255 bytes";
		pos += 1 + (size_t)c;
	}
}

/* rr_frame - frame the record (or question) at m->pos: owner name
 * checked, fixed fields read, RDATA inside the message.  m->pos moves
 * past it. */
static bool
rr_frame(struct msg *m, bool question, const char *where, unsigned i,
    struct frame *f)
{
	const char *why;
	size_t p = 0;

	f->start = m->pos;
	if ((why = name_check(m->wire, m->len, m->pos, &p)) != NULL) {
		say_into(m->err, m->errlen, "%s %u: %s", where, i, why);
		return false;
	}
	if (p + (question ? 4 : 10) > m->len) {
		say_into(m->err, m->errlen, "%s %u: cut short", where, i);
		return false;
	}
	f->type = get16(m->wire + p);
	f->class = get16(m->wire + p + 2);
	if (question) {
		f->ttl = 0;
		f->rdata = f->end = p + 4;
	} else {
		f->ttl = get32(m->wire + p + 4);
		f->rdata = p + 10;
		f->end = f->rdata + get16(m->wire + p + 8);
		if (f->end > m->len) {
			say_into(m->err, m->errlen, "%s %u: record data runs past "
			    "the end of the message", where, i);
			return false;
		}
	}
	m->pos = f->end;
	return true;
}

/* rdata_names - check the names inside the RDATA of the types we read,
 * and that they and the fixed fields fill RDLENGTH exactly */
static const char *
rdata_names(const uint8_t *wire, const struct frame *f)
{
	size_t at, end = 0;
	const char *why;

	switch (f->type) {
	case DNS_T_CNAME:
		at = f->rdata;
		break;
	case DNS_T_MX:
		at = f->rdata + 2;
		break;
	case DNS_T_SRV:
		at = f->rdata + 6;
		break;
	case TYPE_SOA:
		/* MNAME, then RNAME, then five 32-bit numbers. */
		if ((why = name_check(wire, f->end, f->rdata, &end)) != NULL)
			return why;
		if ((why = name_check(wire, f->end, end, &end)) != NULL)
			return why;
		return end + 20 == f->end ? NULL :
		    "record data of the wrong length";
	default:
		return NULL;
	}
	if (at >= f->end)
		return "record data of the wrong length";
	if ((why = name_check(wire, f->end, at, &end)) != NULL)
		return why;
	return end == f->end ? NULL : "record data of the wrong length";
}

/* rr_shape - does the record read by ldns have the fields of its type? */
static bool
rr_shape(const ldns_rr *rr)
{
	size_t n = ldns_rr_rd_count(rr);

	switch (ldns_rr_get_type(rr)) {
	case DNS_T_A:
		return n == 1 && ldns_rdf_size(ldns_rr_rdf(rr, 0)) == 4;
	case DNS_T_AAAA:
		return n == 1 && ldns_rdf_size(ldns_rr_rdf(rr, 0)) == 16;
	case DNS_T_CNAME:
		return n == 1;
	case DNS_T_MX:
		return n == 2 && ldns_rdf_size(ldns_rr_rdf(rr, 0)) == 2;
	case DNS_T_SRV:
		return n == 4;
	case DNS_T_TLSA:
		/* The fourth field is absent when the data is empty. */
		return n == 3 || n == 4;
	case TYPE_SOA:
		return n == 7 && ldns_rdf_size(ldns_rr_rdf(rr, 6)) == 4;
	default:
		return true;
	}
}

/* rr_read - have ldns read the framed record, bounded by its own end, and
 * check that every byte of its RDATA went into the fields of its type */
static ldns_rr *
rr_read(struct msg *m, const struct frame *f, ldns_pkt_section sec,
    const char *where, unsigned i)
{
	ldns_rr *rr = NULL;
	size_t pos = f->start;
	const char *why;
	ldns_status st;

	if ((why = rdata_names(m->wire, f)) == NULL) {
		st = ldns_wire2rr(&rr, m->wire, f->end, &pos, sec);
		if (st != LDNS_STATUS_OK) {
			/* The names were checked: what is left is fixed
			 * fields that do not fit in RDLENGTH. */
			rr = NULL;
			why = st == LDNS_STATUS_PACKET_OVERFLOW ?
			    "record data of the wrong length" :
			    ldns_get_errorstr_by_id(st);
		} else if (pos != f->end || !rr_shape(rr))
			why = "record data of the wrong length";
	}
	if (why != NULL) {
		say_into(m->err, m->errlen, "%s %u (type %u): %s", where, i,
		    f->type, why);
		if (rr != NULL)
			ldns_rr_free(rr);
		return NULL;
	}
	return rr;
}

/* keep - add rr to list; false (rr freed) when out of memory */
static bool
keep(struct msg *m, ldns_rr_list *list, ldns_rr *rr)
{
	if (ldns_rr_list_push_rr(list, rr))
		return true;
	ldns_rr_free(rr);
	say_into(m->err, m->errlen, "out of memory");
	return false;
}

/*
 * sections - frame every record after the question, read with ldns the
 * ones that may be used, and take the extended rcode from the OPT record.
 */
static bool
sections(struct msg *m, uint16_t qtype)
{
	static const char *const where[3] = { "answer record",
	    "authority record", "additional record" };
	struct frame f;
	ldns_rr *rr;
	unsigned s, i, count;

	for (s = 0; s < 3; s++) {
		count = get16(m->wire + 6 + 2 * s);
		for (i = 0; i < count; i++) {
			if (!rr_frame(m, false, where[s], i, &f))
				return false;
			if (s == 2 && f.type == TYPE_OPT) {
				/* RFC 6891 6.1.1: one OPT at most. */
				if (++m->nopt > 1) {
					say_into(m->err, m->errlen, "more than one "
					    "OPT record");
					return false;
				}
				m->ext_rcode = (uint8_t)(f.ttl >> 24);
				continue;
			}
			if (f.class != CLASS_IN)
				continue;
			if (s == 0 && (f.type == qtype ||
			    f.type == DNS_T_CNAME)) {
				if ((rr = rr_read(m, &f, LDNS_SECTION_ANSWER,
				    where[s], i)) == NULL ||
				    !keep(m, m->an, rr))
					return false;
			} else if (s == 1 && f.type == TYPE_SOA) {
				if ((rr = rr_read(m, &f,
				    LDNS_SECTION_AUTHORITY, where[s], i)) ==
				    NULL || !keep(m, m->soa, rr))
					return false;
			}
		}
	}
	return true;
}

/* fold - ASCII lower case of one byte of a name in wire form (label
 * length bytes are below 64, so folding never changes them) */
static uint8_t
fold(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* name_under - is name zone itself or below it?  Both are uncompressed
 * wire names from ldns; zone must equal a tail of name that starts at a
 * label, case ignored. */
static bool
name_under(const ldns_rdf *name, const ldns_rdf *zone)
{
	const uint8_t *p = ldns_rdf_data(name), *z = ldns_rdf_data(zone);
	size_t n = ldns_rdf_size(name), zn = ldns_rdf_size(zone), at = 0, i;

	while (n - at > zn && at < n && p[at] != 0)
		at += 1 + (size_t)p[at];
	if (at > n || n - at != zn)
		return false;
	for (i = 0; i < zn; i++)
		if (fold(p[at + i]) != fold(z[i]))
			return false;
	return true;
}

/* name_eq - the same domain name, case ignored */
static bool
name_eq(const ldns_rdf *a, const ldns_rdf *b)
{
	return ldns_rdf_size(a) == ldns_rdf_size(b) && name_under(a, b);
}

/* name_out - a name in presentation form (ldns escapes odd bytes), lower
 * case, without the final dot: "" for the root.  False when it does not
 * fit. */
static bool
name_out(const ldns_rdf *dn, char *out, size_t outlen)
{
	char *s;
	size_t n, i;

	if ((s = ldns_rdf2str(dn)) == NULL)
		return false;
	n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n >= outlen) {
		free(s);
		return false;
	}
	for (i = 0; i < n; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' +
		    'a') : s[i];
	out[n] = '\0';
	free(s);
	return true;
}

/* owned - is rr of type, owned by name? */
static bool
owned(const ldns_rr *rr, uint16_t type, const ldns_rdf *name)
{
	return ldns_rr_get_type(rr) == type && name_eq(ldns_rr_owner(rr), name);
}

/*
 * follow - walk the CNAME chain from the query name through the answer
 * section: *end is the name whose records answer the query, *ttl the
 * smallest TTL of the links.  A name that has records of the asked type
 * ends the chain.  Two different CNAMEs for one name, a loop or more than
 * DNS_CNAME_MAX links make the answer unusable.
 */
static bool
follow(struct msg *m, const ldns_rdf *qname, uint16_t type,
    const ldns_rdf **end, uint32_t *ttl, struct dns_answer *a)
{
	const ldns_rdf *seen[DNS_CNAME_MAX + 1], *cur = qname, *target;
	const ldns_rr *rr, *link;
	size_t i, n = ldns_rr_list_rr_count(m->an);
	unsigned hops = 0, j;

	seen[0] = qname;
	for (;;) {
		link = NULL;
		for (i = 0; i < n; i++) {
			rr = ldns_rr_list_rr(m->an, i);
			if (owned(rr, type, cur))
				goto done;
			if (!owned(rr, DNS_T_CNAME, cur))
				continue;
			if (link != NULL && !name_eq(ldns_rr_rdf(link, 0),
			    ldns_rr_rdf(rr, 0))) {
				say_into(m->err, m->errlen, "two CNAMEs for one "
				    "name");
				return false;
			}
			link = rr;
		}
		if (link == NULL || type == DNS_T_CNAME)
			break;
		target = ldns_rr_rdf(link, 0);
		for (j = 0; j <= hops; j++) {
			if (name_eq(seen[j], target)) {
				say_into(m->err, m->errlen, "CNAME loop");
				return false;
			}
		}
		if (hops == DNS_CNAME_MAX) {
			say_into(m->err, m->errlen, "CNAME chain longer than %d "
			    "links", DNS_CNAME_MAX);
			return false;
		}
		seen[++hops] = target;
		if (sane_ttl(ldns_rr_ttl(link)) < *ttl)
			*ttl = sane_ttl(ldns_rr_ttl(link));
		cur = target;
	}
done:
	if (hops > 0 && !name_out(cur, a->cname, sizeof(a->cname))) {
		say_into(m->err, m->errlen, "CNAME target too long");
		return false;
	}
	*end = cur;
	return true;
}

/* negative_ttl - RFC 2308 section 5: the smallest of the SOA's TTL and
 * its MINIMUM, over the SOAs of a zone that holds name; 0 with none */
static uint32_t
negative_ttl(const struct msg *m, const ldns_rdf *name)
{
	size_t i, n = ldns_rr_list_rr_count(m->soa);
	uint32_t ttl = UINT32_MAX, t, min;
	const ldns_rr *soa;

	for (i = 0; i < n; i++) {
		soa = ldns_rr_list_rr(m->soa, i);
		if (!name_under(name, ldns_rr_owner(soa)))
			continue;	/* another zone's: not about name */
		t = sane_ttl(ldns_rr_ttl(soa));
		min = sane_ttl(get32(ldns_rdf_data(ldns_rr_rdf(soa, 6))));
		if (min < t)
			t = min;
		if (t < ttl)
			ttl = t;
	}
	return ttl == UINT32_MAX ? 0 : ttl;
}

/* rr_fill - one record's data; false when a name does not fit */
static bool
rr_fill(const ldns_rr *rr, struct dns_rr *out)
{
	const uint8_t *d0 = ldns_rdf_data(ldns_rr_rdf(rr, 0));

	out->ttl = sane_ttl(ldns_rr_ttl(rr));
	switch (ldns_rr_get_type(rr)) {
	case DNS_T_A:
		out->u.a.family = AF_INET;
		memcpy(out->u.a.addr, d0, 4);
		return true;
	case DNS_T_AAAA:
		out->u.a.family = AF_INET6;
		memcpy(out->u.a.addr, d0, 16);
		return true;
	case DNS_T_MX:
		out->u.mx.pref = get16(d0);
		return name_out(ldns_rr_rdf(rr, 1), out->u.mx.host,
		    sizeof(out->u.mx.host));
	case DNS_T_SRV:
		out->u.srv.prio = get16(d0);
		out->u.srv.weight = get16(ldns_rdf_data(ldns_rr_rdf(rr, 1)));
		out->u.srv.port = get16(ldns_rdf_data(ldns_rr_rdf(rr, 2)));
		return name_out(ldns_rr_rdf(rr, 3), out->u.srv.target,
		    sizeof(out->u.srv.target));
	case DNS_T_TLSA:
		out->u.tlsa.usage = d0[0];
		out->u.tlsa.selector = ldns_rdf_data(ldns_rr_rdf(rr, 1))[0];
		out->u.tlsa.mtype = ldns_rdf_data(ldns_rr_rdf(rr, 2))[0];
		if (ldns_rr_rd_count(rr) == 4) {
			out->u.tlsa.len =
			    (uint16_t)ldns_rdf_size(ldns_rr_rdf(rr, 3));
			memcpy(out->u.tlsa.data,
			    ldns_rdf_data(ldns_rr_rdf(rr, 3)),
			    out->u.tlsa.len);
		}
		return true;
	default:
		return true;		/* the TTL is all we know of it */
	}
}

/* too_long - a TLSA record whose data we do not keep */
static bool
too_long(const ldns_rr *rr)
{
	return ldns_rr_get_type(rr) == DNS_T_TLSA &&
	    ldns_rr_rd_count(rr) == 4 &&
	    ldns_rdf_size(ldns_rr_rdf(rr, 3)) > DNS_TLSA_DATA_MAX;
}

/*
 * conclude - NOERROR or NXDOMAIN: follow the chain and take the records of
 * the asked type owned by its last name, up to DNS_RR_MAX of them.
 */
static bool
conclude(struct msg *m, const ldns_rdf *qname, uint16_t type,
    struct dns_answer *a)
{
	const ldns_rdf *end = NULL;
	const ldns_rr *rr;
	uint32_t ttl = UINT32_MAX;
	size_t i, n = ldns_rr_list_rr_count(m->an), want = 0, dropped = 0;

	if (!follow(m, qname, type, &end, &ttl, a))
		return false;
	for (i = 0; i < n; i++) {
		rr = ldns_rr_list_rr(m->an, i);
		if (!owned(rr, type, end))
			continue;
		if (too_long(rr))
			dropped++;
		else if (want < DNS_RR_MAX)
			want++;
	}
	if (want > 0 && a->rcode == RCODE_NXDOMAIN) {
		say_into(m->err, m->errlen, "NXDOMAIN with records");
		return false;
	}
	if (want == 0 && dropped > 0) {
		/* Not NODATA: the records exist, we cannot hold them. */
		say_into(m->err, m->errlen, "every TLSA record is longer than %d "
		    "bytes", DNS_TLSA_DATA_MAX);
		return false;
	}
	if (want == 0) {
		a->status = a->rcode == RCODE_NXDOMAIN ? DNS_NXDOMAIN :
		    DNS_NODATA;
		a->ttl = negative_ttl(m, end);
		if (ttl < a->ttl)
			a->ttl = ttl;
		return true;
	}
	if ((a->rr = calloc(want, sizeof(*a->rr))) == NULL) {
		say_into(m->err, m->errlen, "out of memory");
		return false;
	}
	for (i = 0; i < n && a->n < want; i++) {
		rr = ldns_rr_list_rr(m->an, i);
		if (!owned(rr, type, end) || too_long(rr))
			continue;
		if (!rr_fill(rr, &a->rr[a->n])) {
			say_into(m->err, m->errlen, "record %zu: name too long",
			    i);
			return false;
		}
		if (a->rr[a->n].ttl < ttl)
			ttl = a->rr[a->n].ttl;
		a->n++;
	}
	a->status = DNS_OK;
	a->ttl = ttl;
	return true;
}

/* question - the one question is ours: name (case ignored), type, IN */
static enum dns_parse_rc
question(struct msg *m, const ldns_rdf *qname, uint16_t type)
{
	struct frame f;
	ldns_rr *q = NULL;
	size_t pos;
	ldns_status st;
	bool same;

	m->pos = HDR_LEN;
	if (!rr_frame(m, true, "question", 0, &f))
		return DNS_E_BAD;
	pos = f.start;
	if ((st = ldns_wire2rr(&q, m->wire, f.end, &pos,
	    LDNS_SECTION_QUESTION)) != LDNS_STATUS_OK) {
		say_into(m->err, m->errlen, "question: %s",
		    ldns_get_errorstr_by_id(st));
		return DNS_E_BAD;
	}
	same = f.type == type && f.class == CLASS_IN &&
	    name_eq(ldns_rr_owner(q), qname);
	ldns_rr_free(q);
	if (!same) {
		say_into(m->err, m->errlen, "answer to another question");
		return DNS_E_MISMATCH;
	}
	return DNS_E_OK;
}

/*
 * dns_answer_parse - what the answer says about our query.  The header's
 * ID is checked first, so that a datagram that is not ours is never
 * called bad; a message too short to carry an ID is bad.
 */
enum dns_parse_rc
dns_answer_parse(const uint8_t *wire, size_t len, uint16_t id,
    const char *name, uint16_t type, struct dns_answer *a, char *err,
    size_t errlen)
{
	struct msg m = { .wire = wire, .len = len, .err = err,
	    .errlen = errlen };
	char norm[DNS_NAME_MAX];
	ldns_rdf *qname = NULL;
	enum dns_parse_rc rc;
	uint16_t flags;

	memset(a, 0, sizeof(*a));
	a->status = DNS_MALFORMED;
	say_into(err, errlen, "%s", "");
	if (len < 2) {
		say_into(err, errlen, "message of %zu bytes", len);
		return DNS_E_BAD;
	}
	if (get16(wire) != id) {
		say_into(err, errlen, "ID %u, not %u", get16(wire), id);
		return DNS_E_MISMATCH;
	}
	if (len < HDR_LEN) {
		say_into(err, errlen, "message of %zu bytes, shorter than a header",
		    len);
		return DNS_E_BAD;
	}
	flags = get16(wire + 2);
	if ((flags & F_QR) == 0 || OPCODE(flags) != 0) {
		say_into(err, errlen, "not a response to a query");
		return DNS_E_MISMATCH;
	}
	if (get16(wire + 4) != 1) {
		say_into(err, errlen, "%u questions", get16(wire + 4));
		return DNS_E_MISMATCH;
	}
	if (!dns_name_normalize(name, norm, sizeof(norm)) ||
	    (qname = ldns_dname_new_frm_str(norm)) == NULL) {
		say_into(err, errlen, "query name is not a domain name");
		return DNS_E_BAD;
	}
	if ((rc = question(&m, qname, type)) != DNS_E_OK)
		goto out;
	if (flags & F_TC) {
		/* Only the header and question can be trusted to be whole;
		 * status stays DNS_MALFORMED for a caller that forgets tc. */
		a->tc = true;
		goto out;
	}
	rc = DNS_E_BAD;
	if ((m.an = ldns_rr_list_new()) == NULL ||
	    (m.soa = ldns_rr_list_new()) == NULL) {
		say_into(err, errlen, "out of memory");
		goto out;
	}
	if (!sections(&m, type))
		goto out;
	a->ad = (flags & F_AD) != 0;
	a->rcode = (uint16_t)(m.ext_rcode << 4 | RCODE(flags));
	switch (a->rcode) {
	case RCODE_NOERROR:
	case RCODE_NXDOMAIN:
		if (!conclude(&m, qname, type, a))
			goto out;
		break;
	case RCODE_SERVFAIL:
		a->status = DNS_SERVFAIL;
		break;
	default:
		a->status = DNS_REFUSED;
		break;
	}
	rc = DNS_E_OK;
out:
	if (rc == DNS_E_BAD) {
		dns_answer_free(a);
		memset(a, 0, sizeof(*a));
		a->status = DNS_MALFORMED;
	}
	if (m.an != NULL)
		ldns_rr_list_deep_free(m.an);
	if (m.soa != NULL)
		ldns_rr_list_deep_free(m.soa);
	ldns_rdf_deep_free(qname);
	return rc;
}
