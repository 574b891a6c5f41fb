/*
 * test_dns_msg.c - DNS queries and answers on the wire (shim/dns_msg.c)
 * alone: the query we send, whether an answer is ours, what each rcode
 * means, CNAME chains, TTLs, the data of each record type, and every way
 * a message can be broken.
 *
 * Answers are built here the way a resolver would send them, with ldns
 * (pkt_new/add/wire), or byte by byte (struct raw) where ldns would refuse
 * to write something that broken.  With DNS_MSG_CORPUS=DIR in the
 * environment, the answers marked with seed() are also written to DIR as
 * inputs for tests/fuzz/fuzz_dns_answer (one byte naming the query, the
 * two-byte ID, the message): that is how tests/fuzz/corpus/dns_answer was
 * made.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "shim/dns_msg.h"

#define ID	0x1234

/* The queries of the fuzz target, in its order (seed() writes the index). */
enum q { Q_A, Q_MX, Q_SRV, Q_TLSA };
static const struct {
	const char	*name;
	uint16_t	 type;
} qs[] = {
	[Q_A] = { "mx1.example.test", DNS_T_A },
	[Q_MX] = { "example.test", DNS_T_MX },
	[Q_SRV] = { "_imaps._tcp.example.test", DNS_T_SRV },
	[Q_TLSA] = { "_25._tcp.mx1.example.test", DNS_T_TLSA },
};

/* seed - with DNS_MSG_CORPUS set, keep the message as a fuzz input */
static void
seed(const char *file, enum q q, const uint8_t *w, size_t len)
{
	const char *dir = getenv("DNS_MSG_CORPUS");
	char path[1024];
	uint8_t pre[3] = { (uint8_t)q, ID >> 8, ID & 0xff };
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.bin", dir, file);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(pre, 1, 3, f), 3);
	assert_int_equal(fwrite(w, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* ------------------------------------------------ answers built by ldns */

/* pkt_new - an answer to (qname, qtype) with the given rcode, RD RA set */
static ldns_pkt *
pkt_new(const char *qname, uint16_t qtype, uint8_t rcode)
{
	ldns_pkt *p;

	p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), qtype,
	    LDNS_RR_CLASS_IN, LDNS_QR | LDNS_RD | LDNS_RA);
	assert_non_null(p);
	ldns_pkt_set_id(p, ID);
	ldns_pkt_set_rcode(p, rcode);
	return p;
}

static ldns_pkt *
pkt_q(enum q q, uint8_t rcode)
{
	return pkt_new(qs[q].name, qs[q].type, rcode);
}

/* add - one record, in zone file syntax, to a section */
static void
add(ldns_pkt *p, ldns_pkt_section sec, const char *text)
{
	ldns_rr *rr = NULL;
	ldns_status st;

	st = ldns_rr_new_frm_str(&rr, text, 3600, NULL, NULL);
	if (st != LDNS_STATUS_OK)
		fail_msg("%s: %s", text, ldns_get_errorstr_by_id(st));
	assert_true(ldns_pkt_push_rr(p, sec, rr));
}

#define AN(p, t)	add((p), LDNS_SECTION_ANSWER, (t))
#define NS(p, t)	add((p), LDNS_SECTION_AUTHORITY, (t))

/* add_tlsa - a TLSA record with len bytes of data, all equal to fill */
static void
add_tlsa(ldns_pkt *p, const char *owner, uint8_t usage, uint8_t sel,
    uint8_t mtype, size_t len, uint8_t fill)
{
	ldns_rr *rr = ldns_rr_new();
	uint8_t *data = malloc(len);

	assert_non_null(rr);
	assert_non_null(data);
	memset(data, fill, len);
	ldns_rr_set_owner(rr, ldns_dname_new_frm_str(owner));
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TLSA);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, 300);
	ldns_rr_push_rdf(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, usage));
	ldns_rr_push_rdf(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, sel));
	ldns_rr_push_rdf(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, mtype));
	ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_HEX, len,
	    data));
	free(data);
	assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr));
}

/* wire - the packet as sent (p is freed) */
static uint8_t *
wire(ldns_pkt *p, size_t *len)
{
	uint8_t *w = NULL;

	assert_int_equal(ldns_pkt2wire(&w, p, len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return w;
}

/* parse_w - parse w as the answer to query q; an unaccepted answer must
 * say why and hold nothing */
static enum dns_parse_rc
parse_w(const uint8_t *w, size_t len, enum q q, struct dns_answer *a,
    char *err)
{
	enum dns_parse_rc rc;

	strcpy(err, "untouched");
	rc = dns_answer_parse(w, len, ID, qs[q].name, qs[q].type, a, err,
	    256);
	if (rc == DNS_E_OK) {
		if (a->status != DNS_MALFORMED && strcmp(err, "") != 0)
			fail_msg("err \"%s\" on success", err);
	} else {
		if (err[0] == '\0' || strcmp(err, "untouched") == 0)
			fail_msg("no reason given for rc %d", rc);
		assert_int_equal(a->status, DNS_MALFORMED);
		assert_int_equal(a->n, 0);
		assert_null(a->rr);
	}
	return rc;
}

/* parse_pkt - build p (freed), optionally seed it, parse it */
static enum dns_parse_rc
parse_pkt(ldns_pkt *p, enum q q, const char *seedname, struct dns_answer *a,
    char *err)
{
	enum dns_parse_rc rc;
	size_t len;
	uint8_t *w = wire(p, &len);

	if (seedname != NULL)
		seed(seedname, q, w, len);
	rc = parse_w(w, len, q, a, err);
	free(w);
	return rc;
}

/* expect_bad - the message is ours but unusable, err containing want */
static void
expect_bad_w(const uint8_t *w, size_t len, enum q q, const char *want)
{
	struct dns_answer a;
	char err[256];

	assert_int_equal(parse_w(w, len, q, &a, err), DNS_E_BAD);
	if (want != NULL && strstr(err, want) == NULL)
		fail_msg("err \"%s\" does not contain \"%s\"", err, want);
}

static void
expect_bad(ldns_pkt *p, enum q q, const char *want)
{
	size_t len;
	uint8_t *w = wire(p, &len);

	expect_bad_w(w, len, q, want);
	free(w);
}

/* ------------------------------------------------ answers built by hand */

struct raw {
	uint8_t	 b[4096];
	size_t	 n;
};

static void
r8(struct raw *r, unsigned v)
{
	assert_true(r->n < sizeof(r->b));
	r->b[r->n++] = (uint8_t)v;
}

static void
r16(struct raw *r, unsigned v)
{
	r8(r, v >> 8);
	r8(r, v & 0xff);
}

static void
r32(struct raw *r, uint32_t v)
{
	r16(r, v >> 16);
	r16(r, v & 0xffff);
}

static void
rbytes(struct raw *r, const void *p, size_t n)
{
	assert_true(r->n + n <= sizeof(r->b));
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

/* rname - a name, uncompressed */
static void
rname(struct raw *r, const char *name)
{
	while (*name != '\0') {
		size_t l = strcspn(name, ".");

		r8(r, (unsigned)l);
		rbytes(r, name, l);
		name += l;
		if (*name == '.')
			name++;
	}
	r8(r, 0);
}

/* rstart - header and question of an answer to q (owner pointer for
 * records: 0xc00c) */
static void
rstart(struct raw *r, enum q q, unsigned flags, unsigned an, unsigned ns,
    unsigned ar)
{
	r->n = 0;
	r16(r, ID);
	r16(r, flags);
	r16(r, 1);
	r16(r, an);
	r16(r, ns);
	r16(r, ar);
	rname(r, qs[q].name);
	r16(r, qs[q].type);
	r16(r, 1);
}

/* rrec - a record owned by the question name, with rdlength as given
 * (which may lie about the n bytes of data that follow) */
static void
rrec(struct raw *r, unsigned type, uint32_t ttl, unsigned rdlength,
    const void *data, size_t n)
{
	r16(r, 0xc00c);
	r16(r, type);
	r16(r, 1);
	r32(r, ttl);
	r16(r, rdlength);
	rbytes(r, data, n);
}

#define FLAGS_ANSWER	0x8180		/* QR RD RA, NOERROR */

/* ---------------------------------------------------------------- tests */

static void
query_build(void **state)
{
	uint8_t *w;
	size_t len;
	char err[128];
	ldns_pkt *p;
	ldns_rr *q;

	(void)state;
	for (int dnssec = 0; dnssec <= 1; dnssec++) {
		assert_true(dns_query_build("MX1.Example.TEST.", DNS_T_TLSA,
		    0xbeef, dnssec, &w, &len, err, sizeof(err)));
		assert_non_null(w);
		/* Header: our ID, RD only (no QR, opcode QUERY, no AD, CD). */
		assert_int_equal(w[0] << 8 | w[1], 0xbeef);
		assert_int_equal(w[2] << 8 | w[3], 0x0100);
		assert_int_equal(w[4] << 8 | w[5], 1);	/* QDCOUNT */
		assert_int_equal(w[6] << 8 | w[7], 0);
		assert_int_equal(w[8] << 8 | w[9], 0);
		assert_int_equal(w[10] << 8 | w[11], 1);	/* OPT */
		assert_int_equal(ldns_wire2pkt(&p, w, len), LDNS_STATUS_OK);
		q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
		{
			char *s = ldns_rdf2str(ldns_rr_owner(q));

			/* Sent lower case. */
			assert_string_equal(s, "mx1.example.test.");
			free(s);
		}
		assert_int_equal(ldns_rr_get_type(q), DNS_T_TLSA);
		assert_int_equal(ldns_rr_get_class(q), LDNS_RR_CLASS_IN);
		assert_int_equal(ldns_pkt_edns_udp_size(p), 1232);
		assert_int_equal(ldns_pkt_edns_do(p), dnssec);
		assert_int_equal(ldns_pkt_edns_version(p), 0);
		ldns_pkt_free(p);
		free(w);
	}
	/* _25._tcp labels are names too. */
	assert_true(dns_query_build("_25._tcp.mx1.example.test", DNS_T_TLSA,
	    1, true, &w, &len, err, sizeof(err)));
	free(w);
}

static void
query_build_refuses(void **state)
{
	static const char *const bad[] = { "", ".", "a..b", ".a", "-a.test",
	    "a-.test", "a b.test", "a\\.test", "a.test..", "\xc3\xa9.test",
	    "a*.test", NULL };
	char label64[80], err[128];
	uint8_t *w = (uint8_t *)"x";
	size_t len = 9;

	(void)state;
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".test");
	for (size_t i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		if (dns_query_build(bad[i], DNS_T_A, 1, false, &w, &len, err,
		    sizeof(err)))
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_null(w);
		assert_int_equal(len, 0);
		assert_true(err[0] != '\0');
	}
	assert_false(dns_query_build(label64, DNS_T_A, 1, false, &w, &len, err,
	    sizeof(err)));
	assert_false(dns_query_build("a.test", 0, 1, false, &w, &len, err,
	    sizeof(err)));
	assert_null(w);
}

static void
name_normalize(void **state)
{
	char out[DNS_NAME_MAX], name[300], small[6];

	(void)state;
	assert_true(dns_name_normalize("Example.COM.", out, sizeof(out)));
	assert_string_equal(out, "example.com");
	assert_true(dns_name_normalize("_25._TCP.mx-1.example", out,
	    sizeof(out)));
	assert_string_equal(out, "_25._tcp.mx-1.example");
	assert_true(dns_name_normalize("localhost", out, sizeof(out)));
	assert_string_equal(out, "localhost");
	assert_false(dns_name_normalize(NULL, out, sizeof(out)));
	assert_false(dns_name_normalize("..", out, sizeof(out)));
	assert_false(dns_name_normalize("a.-b", out, sizeof(out)));

	/* Labels of 63 bytes, not 64. */
	memset(name, 'x', 63);
	strcpy(name + 63, ".test");
	assert_true(dns_name_normalize(name, out, sizeof(out)));
	memset(name, 'x', 64);
	strcpy(name + 64, ".test");
	assert_false(dns_name_normalize(name, out, sizeof(out)));

	/* Names of 253 bytes (254 with the final dot), not 254. */
	for (size_t i = 0; i < 253; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0';
	assert_true(dns_name_normalize(name, out, sizeof(out)));
	assert_int_equal(strlen(out), 253);
	name[253] = '.';
	name[254] = '\0';
	assert_true(dns_name_normalize(name, out, sizeof(out)));
	assert_int_equal(strlen(out), 253);
	name[253] = 'b';
	assert_false(dns_name_normalize(name, out, sizeof(out)));

	/* The output must fit; it may be the input. */
	assert_false(dns_name_normalize("abcdef", small, sizeof(small)));
	assert_true(dns_name_normalize("ABCDE", small, sizeof(small)));
	assert_string_equal(small, "abcde");
	strcpy(name, "MiXeD.Test.");
	assert_true(dns_name_normalize(name, name, sizeof(name)));
	assert_string_equal(name, "mixed.test");
}

static void
answer_a(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p = pkt_q(Q_A, LDNS_RCODE_NOERROR);
	static const uint8_t one[4] = { 192, 0, 2, 1 }, two[4] = { 192, 0, 2,
	    2 };

	(void)state;
	AN(p, "mx1.example.test. 300 IN A 192.0.2.1");
	AN(p, "mx1.example.test. 120 IN A 192.0.2.2");
	NS(p, "example.test. 3600 IN NS ns.example.test.");
	add(p, LDNS_SECTION_ADDITIONAL, "ns.example.test. 3600 IN A 192.0.2.53");
	assert_int_equal(parse_pkt(p, Q_A, "a", &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_OK);
	assert_false(a.tc);
	assert_false(a.ad);
	assert_int_equal(a.rcode, 0);
	assert_string_equal(a.cname, "");
	assert_int_equal(a.n, 2);
	assert_int_equal(a.ttl, 120);
	assert_int_equal(a.rr[0].u.a.family, AF_INET);
	assert_memory_equal(a.rr[0].u.a.addr, one, 4);
	assert_int_equal(a.rr[0].ttl, 300);
	assert_memory_equal(a.rr[1].u.a.addr, two, 4);
	assert_int_equal(a.rr[1].ttl, 120);
	dns_answer_free(&a);
	assert_null(a.rr);
	assert_int_equal(a.n, 0);
	dns_answer_free(&a);		/* twice is harmless */
}

static void
answer_aaaa_ad(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p = pkt_new("mx1.example.test", DNS_T_AAAA, 0);
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	size_t len;
	uint8_t *w;

	(void)state;
	ldns_pkt_set_ad(p, true);
	AN(p, "mx1.example.test. 60 IN AAAA 2001:db8::1");
	w = wire(p, &len);
	assert_int_equal(dns_answer_parse(w, len, ID, "mx1.example.test",
	    DNS_T_AAAA, &a, err, sizeof(err)), DNS_E_OK);
	free(w);
	assert_int_equal(a.status, DNS_OK);
	assert_true(a.ad);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.rr[0].u.a.family, AF_INET6);
	assert_memory_equal(a.rr[0].u.a.addr, want, 16);
	assert_int_equal(a.ttl, 60);
	dns_answer_free(&a);
}

/* expect_mismatch - p is not the answer to query q */
static void
expect_mismatch(ldns_pkt *p, enum q q)
{
	struct dns_answer a;
	char err[256];

	AN(p, "mx1.example.test. 300 IN A 192.0.2.1");
	assert_int_equal(parse_pkt(p, q, NULL, &a, err), DNS_E_MISMATCH);
	assert_false(a.tc);
}

static void
mismatch(void **state)
{
	ldns_pkt *p;
	struct raw r;

	(void)state;
	p = pkt_q(Q_A, 0);
	ldns_pkt_set_id(p, ID + 1);
	expect_mismatch(p, Q_A);
	p = pkt_q(Q_A, 0);
	ldns_pkt_set_qr(p, false);		/* a query, not an answer */
	expect_mismatch(p, Q_A);
	p = pkt_q(Q_A, 0);
	ldns_pkt_set_opcode(p, LDNS_PACKET_STATUS);
	expect_mismatch(p, Q_A);
	expect_mismatch(pkt_new("mx2.example.test", DNS_T_A, 0), Q_A);
	expect_mismatch(pkt_new("mx1.example.test.example",  DNS_T_A, 0),
	    Q_A);
	expect_mismatch(pkt_new("mx1.example.test", DNS_T_AAAA, 0), Q_A);
	p = ldns_pkt_query_new(ldns_dname_new_frm_str("mx1.example.test"),
	    DNS_T_A, LDNS_RR_CLASS_CH, LDNS_QR);
	ldns_pkt_set_id(p, ID);
	expect_mismatch(p, Q_A);

	/* No question, and two questions (the second one ours). */
	p = pkt_q(Q_A, 0);
	ldns_rr_list_deep_free(ldns_pkt_question(p));
	ldns_pkt_set_question(p, ldns_rr_list_new());
	ldns_pkt_set_qdcount(p, 0);
	expect_mismatch(p, Q_A);
	r.n = 0;
	r16(&r, ID);
	r16(&r, FLAGS_ANSWER);
	r16(&r, 2);
	r16(&r, 0);
	r16(&r, 0);
	r16(&r, 0);
	rname(&r, "other.test");
	r16(&r, DNS_T_A);
	r16(&r, 1);
	rname(&r, qs[Q_A].name);
	r16(&r, DNS_T_A);
	r16(&r, 1);
	{
		struct dns_answer a;
		char err[256];

		assert_int_equal(parse_w(r.b, r.n, Q_A, &a, err),
		    DNS_E_MISMATCH);
	}
}

/* The question's name matches without regard to case, and so do owners
 * and CNAME targets. */
static void
names_ignore_case(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p = pkt_new("MX1.Example.TEST", DNS_T_A, 0);

	(void)state;
	AN(p, "Mx1.EXAMPLE.test. 300 IN CNAME Host.Example.Test.");
	AN(p, "HOST.example.TEST. 200 IN A 192.0.2.7");
	assert_int_equal(parse_pkt(p, Q_A, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.cname, "host.example.test");
	assert_int_equal(a.ttl, 200);
	dns_answer_free(&a);
}

static void
rcodes(void **state)
{
	static const struct {
		uint8_t		rcode;
		enum dns_status	status;
	} t[] = {
		{ LDNS_RCODE_FORMERR, DNS_REFUSED },
		{ LDNS_RCODE_SERVFAIL, DNS_SERVFAIL },
		{ LDNS_RCODE_NOTIMPL, DNS_REFUSED },
		{ LDNS_RCODE_REFUSED, DNS_REFUSED },
		{ LDNS_RCODE_YXDOMAIN, DNS_REFUSED },
		{ LDNS_RCODE_NOTAUTH, DNS_REFUSED },
		{ 15, DNS_REFUSED },
	};
	struct dns_answer a;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ldns_pkt *p = pkt_q(Q_TLSA, t[i].rcode);

		ldns_pkt_set_ad(p, true);
		/* Whatever else came, the rcode decides. */
		add_tlsa(p, qs[Q_TLSA].name, 3, 1, 1, 32, 0xaa);
		assert_int_equal(parse_pkt(p, Q_TLSA, t[i].rcode ==
		    LDNS_RCODE_SERVFAIL ? "servfail" : NULL, &a, err),
		    DNS_E_OK);
		assert_int_equal(a.status, t[i].status);
		assert_int_equal(a.rcode, t[i].rcode);
		assert_true(a.ad);
		assert_int_equal(a.n, 0);
		assert_null(a.rr);
	}
}

/* An OPT record carries the upper bits of the rcode (RFC 6891 6.1.3). */
static void
extended_rcode(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p = pkt_q(Q_A, 0);

	(void)state;
	ldns_pkt_set_edns_udp_size(p, 1232);
	ldns_pkt_set_edns_extended_rcode(p, 1);		/* BADVERS = 16 */
	assert_int_equal(parse_pkt(p, Q_A, "badvers", &a, err), DNS_E_OK);
	assert_int_equal(a.rcode, 16);
	assert_int_equal(a.status, DNS_REFUSED);

	/* An OPT with nothing unusual changes nothing. */
	p = pkt_q(Q_A, 0);
	ldns_pkt_set_edns_udp_size(p, 1232);
	ldns_pkt_set_edns_do(p, true);
	AN(p, "mx1.example.test. 300 IN A 192.0.2.1");
	assert_int_equal(parse_pkt(p, Q_A, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.status, DNS_OK);
	dns_answer_free(&a);
}

#define SOA(zone, ttl, min) zone " " #ttl " IN SOA ns." zone " " \
	"hostmaster." zone " 2024010101 7200 3600 1209600 " #min

static void
nodata(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p;

	(void)state;
	/* SOA TTL 300, MINIMUM 60: 60 (RFC 2308 5). */
	p = pkt_q(Q_TLSA, 0);
	NS(p, SOA("example.test.", 300, 60));
	assert_int_equal(parse_pkt(p, Q_TLSA, "nodata", &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_NODATA);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.ttl, 60);
	assert_int_equal(a.n, 0);
	assert_null(a.rr);

	/* SOA TTL 30, MINIMUM 3600: 30. */
	p = pkt_q(Q_TLSA, 0);
	NS(p, SOA("example.test.", 30, 3600));
	assert_int_equal(parse_pkt(p, Q_TLSA, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_NODATA);
	assert_int_equal(a.ttl, 30);

	/* Records of other types, other owners or another class are not
	 * records of the asked type for the name. */
	p = pkt_q(Q_A, 0);
	AN(p, "mx1.example.test. 300 IN AAAA 2001:db8::1");
	AN(p, "mx2.example.test. 300 IN A 192.0.2.2");
	AN(p, "mx1.example.test. 300 CH A 192.0.2.3");
	AN(p, "example.test. 300 IN A 192.0.2.4");
	NS(p, SOA("example.test.", 300, 120));
	assert_int_equal(parse_pkt(p, Q_A, "nodata-other-records", &a, err),
	    DNS_E_OK);
	assert_int_equal(a.status, DNS_NODATA);
	assert_int_equal(a.n, 0);
	assert_int_equal(a.ttl, 120);
}

static void
nxdomain(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p;

	(void)state;
	p = pkt_q(Q_A, LDNS_RCODE_NXDOMAIN);
	NS(p, SOA("example.test.", 900, 300));
	assert_int_equal(parse_pkt(p, Q_A, "nxdomain", &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_NXDOMAIN);
	assert_int_equal(a.rcode, 3);
	assert_int_equal(a.ttl, 300);
	assert_string_equal(a.cname, "");

	/* No SOA: nothing says how long to remember it. */
	p = pkt_q(Q_A, LDNS_RCODE_NXDOMAIN);
	assert_int_equal(parse_pkt(p, Q_A, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_NXDOMAIN);
	assert_int_equal(a.ttl, 0);

	/* Another zone's SOA is not about this name; the root's is. */
	p = pkt_q(Q_A, LDNS_RCODE_NXDOMAIN);
	NS(p, SOA("other.test.", 900, 900));
	NS(p, SOA("mx1.example.test.sub.", 900, 900));
	assert_int_equal(parse_pkt(p, Q_A, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.ttl, 0);
	p = pkt_q(Q_A, LDNS_RCODE_NXDOMAIN);
	NS(p, SOA("other.test.", 10, 10));
	NS(p, ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. "
	    "1 1800 900 604800 86400");
	assert_int_equal(parse_pkt(p, Q_A, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.ttl, 86400);
	/* Two SOAs of zones above: the smaller TTL. */
	p = pkt_q(Q_A, LDNS_RCODE_NXDOMAIN);
	NS(p, SOA("test.", 500, 500));
	NS(p, SOA("Example.Test.", 400, 450));
	assert_int_equal(parse_pkt(p, Q_A, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.ttl, 400);

	/* NXDOMAIN with records of the name is a contradiction. */
	p = pkt_q(Q_A, LDNS_RCODE_NXDOMAIN);
	AN(p, "mx1.example.test. 300 IN A 192.0.2.1");
	expect_bad(p, Q_A, "NXDOMAIN");
}

static void
truncated(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p;
	struct raw r;

	(void)state;
	p = pkt_q(Q_MX, 0);
	ldns_pkt_set_tc(p, true);
	ldns_pkt_set_ad(p, true);
	AN(p, "example.test. 300 IN MX 10 mx1.example.test.");
	assert_int_equal(parse_pkt(p, Q_MX, "tc", &a, err), DNS_E_OK);
	assert_true(a.tc);
	assert_int_equal(a.n, 0);
	assert_null(a.rr);
	assert_false(a.ad);
	assert_int_equal(a.status, DNS_MALFORMED);

	/* Cut in the middle of a record: still just "ask again". */
	rstart(&r, Q_A, FLAGS_ANSWER | 0x0200, 3, 0, 0);
	rrec(&r, DNS_T_A, 300, 4, "\xc0\x00\x02\x01", 4);
	r16(&r, 0xc00c);
	r8(&r, 0);
	assert_int_equal(parse_w(r.b, r.n, Q_A, &a, err), DNS_E_OK);
	assert_true(a.tc);
	assert_int_equal(a.n, 0);

	/* But it must still be the answer to our question. */
	p = pkt_new("other.example.test", DNS_T_MX, 0);
	ldns_pkt_set_tc(p, true);
	assert_int_equal(parse_pkt(p, Q_MX, NULL, &a, err), DNS_E_MISMATCH);
	assert_false(a.tc);
	p = pkt_q(Q_MX, 0);
	ldns_pkt_set_tc(p, true);
	ldns_pkt_set_id(p, ID ^ 0x8000);
	assert_int_equal(parse_pkt(p, Q_MX, NULL, &a, err), DNS_E_MISMATCH);
	assert_false(a.tc);
}

static void
cname_chain(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p = pkt_q(Q_A, 0);
	static const uint8_t want[4] = { 192, 0, 2, 25 };

	(void)state;
	/* Out of order, with records of unrelated owners around: a CNAME
	 * that is not on the chain and an address for another name. */
	AN(p, "b.example.test. 3600 IN CNAME c.example.test.");
	AN(p, "decoy.example.test. 60 IN CNAME evil.test.");
	AN(p, "evil.test. 5 IN A 198.51.100.66");
	AN(p, "c.example.test. 900 IN A 192.0.2.25");
	AN(p, "mx1.example.test. 1800 IN CNAME b.example.test.");
	AN(p, "mx2.example.test. 1 IN A 198.51.100.67");
	assert_int_equal(parse_pkt(p, Q_A, "cname-chain", &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_OK);
	assert_string_equal(a.cname, "c.example.test");
	assert_int_equal(a.n, 1);
	assert_memory_equal(a.rr[0].u.a.addr, want, 4);
	assert_int_equal(a.ttl, 900);
	dns_answer_free(&a);

	/* A short link sets the TTL. */
	p = pkt_q(Q_A, 0);
	AN(p, "mx1.example.test. 30 IN CNAME c.example.test.");
	AN(p, "c.example.test. 900 IN A 192.0.2.25");
	assert_int_equal(parse_pkt(p, Q_A, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.ttl, 30);
	dns_answer_free(&a);

	/* A chain whose end has no answer here, and records of an owner
	 * that is not the end of the chain, are not the answer. */
	p = pkt_q(Q_A, 0);
	AN(p, "mx1.example.test. 300 IN CNAME c.example.test.");
	AN(p, "d.example.test. 300 IN A 192.0.2.26");
	assert_int_equal(parse_pkt(p, Q_A, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_NODATA);
	assert_string_equal(a.cname, "c.example.test");
	assert_int_equal(a.n, 0);
}

/* chain - mx1 -> l1 -> ... -> l<links-1> -> end, and end's A record */
static ldns_pkt *
chain(int links, bool loop)
{
	ldns_pkt *p = pkt_q(Q_A, 0);
	char rr[200], from[64], to[64];

	snprintf(from, sizeof(from), "mx1.example.test.");
	for (int i = 1; i <= links; i++) {
		if (loop && i == links)
			snprintf(to, sizeof(to), "l1.example.test.");
		else if (i == links)
			snprintf(to, sizeof(to), "end.example.test.");
		else
			snprintf(to, sizeof(to), "l%d.example.test.", i);
		snprintf(rr, sizeof(rr), "%s 300 IN CNAME %s", from, to);
		AN(p, rr);
		snprintf(from, sizeof(from), "%s", to);
	}
	AN(p, "end.example.test. 300 IN A 192.0.2.1");
	return p;
}

static void
cname_limits(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p;

	(void)state;
	assert_int_equal(parse_pkt(chain(DNS_CNAME_MAX, false), Q_A, NULL, &a,
	    err), DNS_E_OK);
	assert_int_equal(a.status, DNS_OK);
	assert_string_equal(a.cname, "end.example.test");
	dns_answer_free(&a);
	expect_bad(chain(DNS_CNAME_MAX + 1, false), Q_A, "longer");

	/* Loops: to itself, back to the query name, further down. */
	p = pkt_q(Q_A, 0);
	AN(p, "mx1.example.test. 300 IN CNAME MX1.example.test.");
	expect_bad(p, Q_A, "loop");
	p = pkt_q(Q_A, 0);
	AN(p, "mx1.example.test. 300 IN CNAME b.example.test.");
	AN(p, "b.example.test. 300 IN CNAME mx1.example.test.");
	{
		size_t len;
		uint8_t *w = wire(p, &len);

		seed("cname-loop", Q_A, w, len);
		expect_bad_w(w, len, Q_A, "loop");
		free(w);
	}
	expect_bad(chain(4, true), Q_A, "loop");

	/* One name, two CNAMEs to different places. */
	p = pkt_q(Q_A, 0);
	AN(p, "mx1.example.test. 300 IN CNAME b.example.test.");
	AN(p, "mx1.example.test. 300 IN CNAME c.example.test.");
	AN(p, "b.example.test. 300 IN A 192.0.2.1");
	expect_bad(p, Q_A, "two CNAMEs");
}

/* NXDOMAIN and NODATA at the end of a chain are about its last name. */
static void
negative_after_cname(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p;

	(void)state;
	p = pkt_q(Q_A, LDNS_RCODE_NXDOMAIN);
	AN(p, "mx1.example.test. 100 IN CNAME gone.other.test.");
	NS(p, SOA("other.test.", 300, 120));
	NS(p, SOA("example.test.", 5, 5));	/* not the zone of the end */
	assert_int_equal(parse_pkt(p, Q_A, "cname-nxdomain", &a, err),
	    DNS_E_OK);
	assert_int_equal(a.status, DNS_NXDOMAIN);
	assert_string_equal(a.cname, "gone.other.test");
	assert_int_equal(a.ttl, 100);

	p = pkt_q(Q_A, 0);
	AN(p, "mx1.example.test. 600 IN CNAME v6only.other.test.");
	AN(p, "v6only.other.test. 600 IN AAAA 2001:db8::6");
	NS(p, SOA("other.test.", 300, 60));
	assert_int_equal(parse_pkt(p, Q_A, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_NODATA);
	assert_string_equal(a.cname, "v6only.other.test");
	assert_int_equal(a.ttl, 60);
}

/* TTLs with the top bit set count as 0 (RFC 2181 8). */
static void
ttl_top_bit(void **state)
{
	struct dns_answer a;
	char err[256];
	struct raw r;

	(void)state;
	rstart(&r, Q_A, FLAGS_ANSWER, 2, 0, 0);
	rrec(&r, DNS_T_A, 0x80000000U, 4, "\xc0\x00\x02\x01", 4);
	rrec(&r, DNS_T_A, 0x7fffffffU, 4, "\xc0\x00\x02\x02", 4);
	assert_int_equal(parse_w(r.b, r.n, Q_A, &a, err), DNS_E_OK);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.rr[0].ttl, 0);
	assert_int_equal(a.rr[1].ttl, 0x7fffffffU);
	assert_int_equal(a.ttl, 0);
	dns_answer_free(&a);
}

static void
answer_mx(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p = pkt_q(Q_MX, 0);

	(void)state;
	AN(p, "example.test. 3600 IN MX 10 MX1.Example.TEST.");
	AN(p, "example.test. 1200 IN MX 20 mx2.example.test.");
	add(p, LDNS_SECTION_ADDITIONAL, "mx1.example.test. 3600 IN A 192.0.2.1");
	assert_int_equal(parse_pkt(p, Q_MX, "mx", &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.rr[0].u.mx.pref, 10);
	assert_string_equal(a.rr[0].u.mx.host, "mx1.example.test");
	assert_int_equal(a.rr[1].u.mx.pref, 20);
	assert_string_equal(a.rr[1].u.mx.host, "mx2.example.test");
	assert_int_equal(a.ttl, 1200);
	dns_answer_free(&a);

	/* RFC 7505 null MX: the root, kept as "". */
	p = pkt_q(Q_MX, 0);
	AN(p, "example.test. 3600 IN MX 0 .");
	assert_int_equal(parse_pkt(p, Q_MX, "null-mx", &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.rr[0].u.mx.pref, 0);
	assert_string_equal(a.rr[0].u.mx.host, "");
	dns_answer_free(&a);
}

static void
answer_srv(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p = pkt_q(Q_SRV, 0);

	(void)state;
	AN(p, "_imaps._tcp.example.test. 600 IN SRV 5 10 993 "
	    "Imap.Example.Test.");
	AN(p, "_imaps._tcp.example.test. 600 IN SRV 0 0 0 .");
	assert_int_equal(parse_pkt(p, Q_SRV, "srv", &a, err), DNS_E_OK);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.rr[0].u.srv.prio, 5);
	assert_int_equal(a.rr[0].u.srv.weight, 10);
	assert_int_equal(a.rr[0].u.srv.port, 993);
	assert_string_equal(a.rr[0].u.srv.target, "imap.example.test");
	/* RFC 2782: "." means the service is not available here. */
	assert_int_equal(a.rr[1].u.srv.port, 0);
	assert_string_equal(a.rr[1].u.srv.target, "");
	dns_answer_free(&a);
}

static void
answer_tlsa(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p = pkt_q(Q_TLSA, 0);
	uint8_t want[DNS_TLSA_DATA_MAX];

	(void)state;
	ldns_pkt_set_ad(p, true);
	AN(p, "_25._tcp.mx1.example.test. 300 IN TLSA 3 1 1 "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	add_tlsa(p, qs[Q_TLSA].name, 2, 0, 2, 64, 0x5a);
	assert_int_equal(parse_pkt(p, Q_TLSA, "tlsa", &a, err), DNS_E_OK);
	assert_int_equal(a.status, DNS_OK);
	assert_true(a.ad);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.rr[0].u.tlsa.usage, 3);
	assert_int_equal(a.rr[0].u.tlsa.selector, 1);
	assert_int_equal(a.rr[0].u.tlsa.mtype, 1);
	assert_int_equal(a.rr[0].u.tlsa.len, 32);
	assert_int_equal(a.rr[0].u.tlsa.data[0], 0x00);
	assert_int_equal(a.rr[0].u.tlsa.data[1], 0x11);
	assert_int_equal(a.rr[0].u.tlsa.data[31], 0xff);
	assert_int_equal(a.rr[1].u.tlsa.usage, 2);
	assert_int_equal(a.rr[1].u.tlsa.selector, 0);
	assert_int_equal(a.rr[1].u.tlsa.mtype, 2);
	assert_int_equal(a.rr[1].u.tlsa.len, 64);
	memset(want, 0x5a, 64);
	assert_memory_equal(a.rr[1].u.tlsa.data, want, 64);
	dns_answer_free(&a);

	/* Data of DNS_TLSA_DATA_MAX bytes is kept; longer records are
	 * left out and the others kept. */
	p = pkt_q(Q_TLSA, 0);
	add_tlsa(p, qs[Q_TLSA].name, 3, 0, 0, DNS_TLSA_DATA_MAX + 1, 1);
	add_tlsa(p, qs[Q_TLSA].name, 3, 0, 0, DNS_TLSA_DATA_MAX, 2);
	add_tlsa(p, qs[Q_TLSA].name, 3, 1, 1, 32, 3);
	assert_int_equal(parse_pkt(p, Q_TLSA, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.rr[0].u.tlsa.len, DNS_TLSA_DATA_MAX);
	memset(want, 2, sizeof(want));
	assert_memory_equal(a.rr[0].u.tlsa.data, want, DNS_TLSA_DATA_MAX);
	assert_int_equal(a.rr[1].u.tlsa.len, 32);
	assert_int_equal(a.rr[1].u.tlsa.data[0], 3);
	dns_answer_free(&a);

	/* Only records too long to keep: not "no TLSA records". */
	p = pkt_q(Q_TLSA, 0);
	add_tlsa(p, qs[Q_TLSA].name, 3, 0, 0, DNS_TLSA_DATA_MAX + 1, 1);
	expect_bad(p, Q_TLSA, "longer than");
}

/* Names with bytes outside LDH come out escaped, as ldns presents them
 * (so they can never pass for a host name); too long to present is bad. */
static void
odd_names(void **state)
{
	struct dns_answer a;
	char err[256];
	struct raw r;
	uint8_t label[61];

	(void)state;
	rstart(&r, Q_MX, FLAGS_ANSWER, 1, 0, 0);
	r16(&r, 0xc00c);
	r16(&r, DNS_T_MX);
	r16(&r, 1);
	r32(&r, 300);
	r16(&r, 2 + 8 + 2);
	r16(&r, 5);
	rbytes(&r, "\x03" "A b\x03x.Y", 8);
	r16(&r, 0xc00c);
	assert_int_equal(parse_w(r.b, r.n, Q_MX, &a, err), DNS_E_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.rr[0].u.mx.host, "a\\032b.x\\.y.example.test");
	dns_answer_free(&a);

	/* Four labels of 60 control bytes: 240 bytes, 960 characters. */
	rstart(&r, Q_MX, FLAGS_ANSWER, 1, 0, 0);
	r16(&r, 0xc00c);
	r16(&r, DNS_T_MX);
	r16(&r, 1);
	r32(&r, 300);
	r16(&r, 2 + 4 * 61 + 1);
	r16(&r, 5);
	label[0] = 60;
	memset(label + 1, 1, 60);
	for (int i = 0; i < 4; i++)
		rbytes(&r, label, sizeof(label));
	r8(&r, 0);
	expect_bad_w(r.b, r.n, Q_MX, "too long");
}

static void
rr_limit(void **state)
{
	struct dns_answer a;
	char err[256];
	ldns_pkt *p = pkt_q(Q_A, 0);
	char rr[100];

	(void)state;
	for (int i = 0; i < DNS_RR_MAX + 6; i++) {
		/* The records past the limit have the smallest TTL: they
		 * are not used, so they do not count. */
		snprintf(rr, sizeof(rr), "mx1.example.test. %d IN A 10.0.%d.%d",
		    i < DNS_RR_MAX ? 1000 + i : 5, i / 256, i % 256);
		AN(p, rr);
	}
	assert_int_equal(parse_pkt(p, Q_A, NULL, &a, err), DNS_E_OK);
	assert_int_equal(a.n, DNS_RR_MAX);
	assert_int_equal(a.ttl, 1000);
	assert_int_equal(a.rr[DNS_RR_MAX - 1].u.a.addr[3], DNS_RR_MAX - 1);
	dns_answer_free(&a);
}

/* Every cut of a complete answer is refused, never read as less. */
static void
short_reads(void **state)
{
	ldns_pkt *p = pkt_q(Q_MX, 0);
	size_t len;
	uint8_t *w, *big;
	struct dns_answer a;
	char err[256];

	(void)state;
	AN(p, "example.test. 300 IN CNAME mail.example.test.");
	AN(p, "mail.example.test. 300 IN MX 10 mx1.example.test.");
	NS(p, "example.test. 300 IN NS ns.example.test.");
	add(p, LDNS_SECTION_ADDITIONAL, "mx1.example.test. 300 IN A 192.0.2.1");
	ldns_pkt_set_edns_udp_size(p, 1232);
	w = wire(p, &len);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut + 1);	/* exact size for ASan */

		memcpy(copy, w, cut);
		expect_bad_w(copy, cut, Q_MX, NULL);
		free(copy);
	}
	expect_bad_w(w, 1, Q_MX, "1 bytes");
	expect_bad_w(w, 11, Q_MX, "header");
	/* Bytes after the last record are ignored. */
	assert_non_null(big = malloc(len + 3));
	memcpy(big, w, len);
	memcpy(big + len, "xyz", 3);
	assert_int_equal(parse_w(big, len + 3, Q_MX, &a, err), DNS_E_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.rr[0].u.mx.host, "mx1.example.test");
	dns_answer_free(&a);
	free(big);
	free(w);
}

static void
bad_pointers(void **state)
{
	struct raw r;
	size_t at;

	(void)state;
	/* Owner pointing past the end. */
	rstart(&r, Q_A, FLAGS_ANSWER, 1, 0, 0);
	r16(&r, 0xc000 | 0x3fff);
	r16(&r, DNS_T_A);
	r16(&r, 1);
	r32(&r, 300);
	r16(&r, 4);
	r32(&r, 0xc0000201);
	expect_bad_w(r.b, r.n, Q_A, "compression pointer");

	/* Pointing at itself. */
	rstart(&r, Q_A, FLAGS_ANSWER, 1, 0, 0);
	at = r.n;
	r16(&r, 0xc000 | (unsigned)at);
	r16(&r, DNS_T_A);
	r16(&r, 1);
	r32(&r, 300);
	r16(&r, 4);
	r32(&r, 0xc0000201);
	seed("pointer-loop", Q_A, r.b, r.n);
	expect_bad_w(r.b, r.n, Q_A, "loop");

	/* A label, then back to that label: a loop that grows. */
	rstart(&r, Q_A, FLAGS_ANSWER, 1, 0, 0);
	at = r.n;
	r8(&r, 1);
	r8(&r, 'x');
	r16(&r, 0xc000 | (unsigned)at);
	r16(&r, DNS_T_A);
	r16(&r, 1);
	r32(&r, 300);
	r16(&r, 4);
	r32(&r, 0xc0000201);
	expect_bad_w(r.b, r.n, Q_A, NULL);

	/* Into the header. */
	rstart(&r, Q_A, FLAGS_ANSWER, 1, 0, 0);
	rrec(&r, DNS_T_A, 300, 4, "\xc0\x00\x02\x01", 4);
	r.b[12 + strlen(qs[Q_A].name) + 2 + 4] = 0xc0;
	r.b[12 + strlen(qs[Q_A].name) + 2 + 4 + 1] = 0x02;
	expect_bad_w(r.b, r.n, Q_A, "compression pointer");

	/* In the data: an MX host pointing forward past its record. */
	rstart(&r, Q_MX, FLAGS_ANSWER, 1, 0, 0);
	rrec(&r, DNS_T_MX, 300, 4, "\x00\x0a\xc0\xff", 4);
	r32(&r, 0);
	expect_bad_w(r.b, r.n, Q_MX, "compression pointer");

	/* In the question. */
	r.n = 0;
	r16(&r, ID);
	r16(&r, FLAGS_ANSWER);
	r16(&r, 1);
	r16(&r, 0);
	r16(&r, 0);
	r16(&r, 0);
	r16(&r, 0xc00c);
	r16(&r, DNS_T_A);
	r16(&r, 1);
	expect_bad_w(r.b, r.n, Q_A, "loop");

	/* Label types 01 and 10 (RFC 6891 retired them). */
	rstart(&r, Q_A, FLAGS_ANSWER, 1, 0, 0);
	r8(&r, 0x41);
	r8(&r, 0);
	r16(&r, DNS_T_A);
	r16(&r, 1);
	r32(&r, 300);
	r16(&r, 4);
	r32(&r, 0xc0000201);
	expect_bad_w(r.b, r.n, Q_A, "label type");
}

static void
bad_rdata(void **state)
{
	struct raw r;
	static const uint8_t name_mx1[] =
	    "\x03mx1\x07" "example\x04test";	/* + its NUL: 18 bytes */

	(void)state;
	/* A with 3, 5 and 0 bytes; AAAA with 4. */
	rstart(&r, Q_A, FLAGS_ANSWER, 1, 0, 0);
	rrec(&r, DNS_T_A, 300, 3, "\xc0\x00\x02", 3);
	expect_bad_w(r.b, r.n, Q_A, "wrong length");
	rstart(&r, Q_A, FLAGS_ANSWER, 2, 0, 0);
	rrec(&r, DNS_T_A, 300, 5, "\xc0\x00\x02\x01\x00", 5);
	rrec(&r, DNS_T_A, 300, 4, "\xc0\x00\x02\x02", 4);
	seed("a-rdlength-5", Q_A, r.b, r.n);
	expect_bad_w(r.b, r.n, Q_A, "wrong length");
	rstart(&r, Q_A, FLAGS_ANSWER, 1, 0, 0);
	rrec(&r, DNS_T_A, 300, 0, "", 0);
	expect_bad_w(r.b, r.n, Q_A, "wrong length");
	rstart(&r, Q_A, FLAGS_ANSWER, 1, 0, 0);
	r16(&r, 0xc00c);
	r16(&r, DNS_T_A);
	r16(&r, 1);
	r32(&r, 300);
	r16(&r, 4);
	r16(&r, 0xc000);		/* data cut short by the end */
	expect_bad_w(r.b, r.n, Q_A, "past the end");

	/* An A record of an owner we would ignore is still checked. */
	rstart(&r, Q_A, FLAGS_ANSWER, 1, 0, 0);
	rname(&r, "other.test");
	r16(&r, DNS_T_A);
	r16(&r, 1);
	r32(&r, 300);
	r16(&r, 6);
	rbytes(&r, "\xc0\x00\x02\x01\x00\x00", 6);
	expect_bad_w(r.b, r.n, Q_A, "wrong length");

	/* MX: no host; a host that runs past RDLENGTH; trailing bytes. */
	rstart(&r, Q_MX, FLAGS_ANSWER, 1, 0, 0);
	rrec(&r, DNS_T_MX, 300, 2, "\x00\x0a", 2);
	expect_bad_w(r.b, r.n, Q_MX, "wrong length");
	rstart(&r, Q_MX, FLAGS_ANSWER, 1, 0, 0);
	r16(&r, 0xc00c);
	r16(&r, DNS_T_MX);
	r16(&r, 1);
	r32(&r, 300);
	r16(&r, 6);
	r16(&r, 10);
	rbytes(&r, name_mx1, sizeof(name_mx1));
	expect_bad_w(r.b, r.n, Q_MX, NULL);
	rstart(&r, Q_MX, FLAGS_ANSWER, 1, 0, 0);
	r16(&r, 0xc00c);
	r16(&r, DNS_T_MX);
	r16(&r, 1);
	r32(&r, 300);
	r16(&r, 2 + sizeof(name_mx1) + 1);
	r16(&r, 10);
	rbytes(&r, name_mx1, sizeof(name_mx1));
	r8(&r, 0);
	expect_bad_w(r.b, r.n, Q_MX, "wrong length");

	/* CNAME with a byte after its name; SRV without a target. */
	rstart(&r, Q_A, FLAGS_ANSWER, 1, 0, 0);
	rrec(&r, DNS_T_CNAME, 300, 3, "\xc0\x0c\x00", 3);
	expect_bad_w(r.b, r.n, Q_A, "wrong length");
	rstart(&r, Q_SRV, FLAGS_ANSWER, 1, 0, 0);
	rrec(&r, DNS_T_SRV, 300, 6, "\x00\x01\x00\x01\x03\xe1", 6);
	expect_bad_w(r.b, r.n, Q_SRV, "wrong length");

	/* TLSA with two bytes; a SOA short of its numbers. */
	rstart(&r, Q_TLSA, FLAGS_ANSWER, 1, 0, 0);
	rrec(&r, DNS_T_TLSA, 300, 2, "\x03\x01", 2);
	expect_bad_w(r.b, r.n, Q_TLSA, "wrong length");
	rstart(&r, Q_TLSA, FLAGS_ANSWER, 0, 1, 0);
	rrec(&r, 6, 300, 2 + 16, "\x00\x00" "0123456789abcdef", 18);
	expect_bad_w(r.b, r.n, Q_TLSA, "wrong length");

	/* Two OPT records. */
	rstart(&r, Q_A, FLAGS_ANSWER, 0, 0, 2);
	for (int i = 0; i < 2; i++) {
		r8(&r, 0);
		r16(&r, 41);
		r16(&r, 1232);
		r32(&r, 0);
		r16(&r, 0);
	}
	expect_bad_w(r.b, r.n, Q_A, "OPT");
}

/* Random bytes, and random damage to real answers: no crash, no leak,
 * and the promises of parse_w() hold (under the sanitizers in CI). */
static void
garbage(void **state)
{
	uint32_t x = 12345;
	struct dns_answer a;
	char err[256];
	uint8_t buf[600], *w;
	size_t len;
	ldns_pkt *p = pkt_q(Q_MX, 0);
	int ok = 0, bad = 0, other = 0;

	(void)state;
	AN(p, "example.test. 300 IN CNAME mail.example.test.");
	AN(p, "mail.example.test. 300 IN MX 10 mx1.example.test.");
	AN(p, "mail.example.test. 300 IN MX 20 mx2.example.test.");
	NS(p, SOA("example.test.", 300, 60));
	w = wire(p, &len);
	assert_true(len <= sizeof(buf));
	for (int i = 0; i < 20000; i++) {
		size_t n;
		enum q q = (enum q)(i % 4);

		x = x * 1103515245 + 12345;
		if (i % 2 == 0) {
			n = (x >> 8) % sizeof(buf);
			for (size_t j = 0; j < n; j++) {
				x = x * 1103515245 + 12345;
				buf[j] = (uint8_t)(x >> 16);
			}
			if (n >= 2) {
				buf[0] = ID >> 8;
				buf[1] = ID & 0xff;
			}
			q = Q_A;
		} else {
			n = len;
			memcpy(buf, w, len);
			for (int k = 0; k < 1 + i % 4; k++) {
				x = x * 1103515245 + 12345;
				buf[12 + (x >> 8) % (len - 12)] = (uint8_t)(x >>
				    20);
			}
			q = Q_MX;
		}
		switch (parse_w(buf, n, q, &a, err)) {
		case DNS_E_OK:
			ok++;
			dns_answer_free(&a);
			break;
		case DNS_E_BAD:
			bad++;
			break;
		default:
			other++;
			break;
		}
	}
	free(w);
	/* Both kinds of input were exercised. */
	assert_true(ok > 100);
	assert_true(bad > 100);
	assert_true(other > 100);
}

static void
copy_and_free(void **state)
{
	struct dns_answer a, c, z;
	char err[256];
	ldns_pkt *p = pkt_q(Q_MX, 0);

	(void)state;
	AN(p, "example.test. 300 IN CNAME mail.example.test.");
	AN(p, "mail.example.test. 300 IN MX 10 mx1.example.test.");
	AN(p, "mail.example.test. 200 IN MX 20 mx2.example.test.");
	assert_int_equal(parse_pkt(p, Q_MX, NULL, &a, err), DNS_E_OK);
	assert_true(dns_answer_copy(&c, &a));
	assert_ptr_not_equal(c.rr, a.rr);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.ttl, 200);
	assert_int_equal(c.status, DNS_OK);
	assert_string_equal(c.cname, "mail.example.test");
	assert_memory_equal(c.rr, a.rr, 2 * sizeof(*a.rr));
	/* Independent: changing one leaves the other. */
	strcpy(c.rr[0].u.mx.host, "changed");
	assert_string_equal(a.rr[0].u.mx.host, "mx1.example.test");
	dns_answer_free(&a);
	assert_string_equal(c.rr[1].u.mx.host, "mx2.example.test");
	dns_answer_free(&c);

	/* An answer without records copies without memory. */
	p = pkt_q(Q_MX, LDNS_RCODE_NXDOMAIN);
	NS(p, SOA("example.test.", 300, 60));
	assert_int_equal(parse_pkt(p, Q_MX, NULL, &a, err), DNS_E_OK);
	memset(&z, 0xff, sizeof(z));
	assert_true(dns_answer_copy(&z, &a));
	assert_null(z.rr);
	assert_int_equal(z.n, 0);
	assert_int_equal(z.status, DNS_NXDOMAIN);
	assert_int_equal(z.ttl, 60);
	dns_answer_free(&z);
	dns_answer_free(&a);
	dns_answer_free(NULL);
}

static void
state_names(void **state)
{
	(void)state;
	assert_string_equal(dns_status_name(DNS_OK), "ok");
	assert_string_equal(dns_status_name(DNS_NODATA), "nodata");
	assert_string_equal(dns_status_name(DNS_NXDOMAIN), "nxdomain");
	assert_string_equal(dns_status_name(DNS_SERVFAIL), "servfail");
	assert_string_equal(dns_status_name(DNS_REFUSED), "refused");
	assert_string_equal(dns_status_name(DNS_TIMEOUT), "timeout");
	assert_string_equal(dns_status_name(DNS_MALFORMED), "malformed");
	assert_string_equal(dns_status_name(DNS_STATUS_LAST), "unknown");
	assert_string_equal(dnssec_name(DNSSEC_UNKNOWN), "");
	assert_string_equal(dnssec_name(DNSSEC_SECURE), "secure");
	assert_string_equal(dnssec_name(DNSSEC_INSECURE), "insecure");
	assert_string_equal(dnssec_name(DNSSEC_BOGUS), "bogus");
	assert_string_equal(dnssec_name(DNSSEC_INDETERMINATE),
	    "indeterminate");
}

static void
weakest(void **state)
{
	/* Strongest first; unknown is no lookup and weighs nothing. */
	static const enum dnssec_state order[] = { DNSSEC_SECURE,
	    DNSSEC_INSECURE, DNSSEC_INDETERMINATE, DNSSEC_BOGUS };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < 4; j++) {
			enum dnssec_state w = order[i > j ? i : j];

			assert_int_equal(dnssec_weakest(order[i], order[j]), w);
		}
		assert_int_equal(dnssec_weakest(order[i], DNSSEC_UNKNOWN),
		    order[i]);
		assert_int_equal(dnssec_weakest(DNSSEC_UNKNOWN, order[i]),
		    order[i]);
	}
	assert_int_equal(dnssec_weakest(DNSSEC_UNKNOWN, DNSSEC_UNKNOWN),
	    DNSSEC_UNKNOWN);
	assert_int_equal(dnssec_weakest(DNSSEC_SECURE, DNSSEC_LAST),
	    DNSSEC_BOGUS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(query_build),
		cmocka_unit_test(query_build_refuses),
		cmocka_unit_test(name_normalize),
		cmocka_unit_test(answer_a),
		cmocka_unit_test(answer_aaaa_ad),
		cmocka_unit_test(mismatch),
		cmocka_unit_test(names_ignore_case),
		cmocka_unit_test(rcodes),
		cmocka_unit_test(extended_rcode),
		cmocka_unit_test(nodata),
		cmocka_unit_test(nxdomain),
		cmocka_unit_test(truncated),
		cmocka_unit_test(cname_chain),
		cmocka_unit_test(cname_limits),
		cmocka_unit_test(negative_after_cname),
		cmocka_unit_test(ttl_top_bit),
		cmocka_unit_test(answer_mx),
		cmocka_unit_test(answer_srv),
		cmocka_unit_test(answer_tlsa),
		cmocka_unit_test(odd_names),
		cmocka_unit_test(rr_limit),
		cmocka_unit_test(short_reads),
		cmocka_unit_test(bad_pointers),
		cmocka_unit_test(bad_rdata),
		cmocka_unit_test(garbage),
		cmocka_unit_test(copy_and_free),
		cmocka_unit_test(state_names),
		cmocka_unit_test(weakest),
	};

	if (getenv("CMOCKA_MESSAGE_OUTPUT") == NULL)
		cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
