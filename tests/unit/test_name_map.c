/*
 * test_name_map.c - the name map of transparent mode (shim/name_map.c):
 * addresses to names, bounded, TTL-limited, which name wins when an
 * address has several, MX host names, and what a relayed DNS answer
 * teaches (answers built with ldns as a resolver would send them).
 * Times are the test's own milliseconds.
 */
#include "config.h"

#include <arpa/inet.h>
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
#include "shim/name_map.h"

#define T0	1000000		/* ms: an arbitrary start */
#define ID	0x4242

/* ip - an address in text */
static struct nm_addr
ip(const char *text)
{
	struct nm_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET6, text, a.a) == 1)
		a.family = AF_INET6;
	else {
		assert_int_equal(inet_pton(AF_INET, text, a.a), 1);
		a.family = AF_INET;
	}
	return a;
}

/* find - the name for addr (client, prefer_mx), or "" */
static const char *
find(struct name_map *m, const char *addr, const char *client, bool mx,
    uint64_t now, enum nm_kind *kind)
{
	static char name[DNS_NAME_MAX];
	struct nm_addr a = ip(addr), c;
	enum nm_kind k;

	if (client != NULL)
		c = ip(client);
	k = name_map_find(m, &a, client != NULL ? &c : NULL, mx, now, name,
	    sizeof(name));
	if (kind != NULL)
		*kind = k;
	assert_true((k == NM_NONE) == (name[0] == '\0'));
	return name;
}

static void
add(struct name_map *m, const char *addr, const char *name, uint32_t ttl,
    const char *asker, uint64_t now)
{
	struct nm_addr a = ip(addr), k;

	if (asker != NULL)
		k = ip(asker);
	name_map_add(m, &a, name, ttl, asker != NULL ? &k : NULL, now);
}

static void
addresses_to_names(void **state)
{
	struct name_map *m = name_map_new(64);
	enum nm_kind k;

	(void)state;
	assert_non_null(m);
	add(m, "192.0.2.1", "mx.example.org", 300, NULL, T0);
	add(m, "2001:db8::25", "mx.example.org", 300, NULL, T0);
	assert_string_equal(find(m, "192.0.2.1", NULL, false, T0, &k),
	    "mx.example.org");
	assert_int_equal(k, NM_ADDR);
	assert_string_equal(find(m, "2001:db8::25", NULL, false, T0, NULL),
	    "mx.example.org");
	/* Other addresses, and the same bytes in the other family. */
	assert_string_equal(find(m, "192.0.2.2", NULL, false, T0, &k), "");
	assert_int_equal(k, NM_NONE);
	assert_string_equal(find(m, "::c000:201", NULL, false, T0, NULL), "");
	name_map_free(m);
}

static void
ttl_limits(void **state)
{
	struct name_map *m = name_map_new(64);

	(void)state;
	add(m, "192.0.2.1", "a.test", 300, NULL, T0);
	assert_string_equal(find(m, "192.0.2.1", NULL, false,
	    T0 + 299999, NULL), "a.test");
	assert_string_equal(find(m, "192.0.2.1", NULL, false,
	    T0 + 300000, NULL), "");
	/* Expired entries are dropped, not just hidden. */
	{
		size_t n;

		name_map_count(m, &n, NULL);
		assert_int_equal(n, 0);
	}
	/* A TTL of 0 or 5 still lives NAME_MAP_TTL_MIN: the client connects
	 * after the answer. */
	add(m, "192.0.2.2", "b.test", 0, NULL, T0);
	assert_string_equal(find(m, "192.0.2.2", NULL, false,
	    T0 + NAME_MAP_TTL_MIN * 1000 - 1, NULL), "b.test");
	assert_string_equal(find(m, "192.0.2.2", NULL, false,
	    T0 + NAME_MAP_TTL_MIN * 1000, NULL), "");
	/* A week is a day. */
	add(m, "192.0.2.3", "c.test", 7 * 86400, NULL, T0);
	assert_string_equal(find(m, "192.0.2.3", NULL, false,
	    T0 + (uint64_t)NAME_MAP_TTL_MAX * 1000 - 1, NULL), "c.test");
	assert_string_equal(find(m, "192.0.2.3", NULL, false,
	    T0 + (uint64_t)NAME_MAP_TTL_MAX * 1000, NULL), "");
	/* Learning again extends the life. */
	add(m, "192.0.2.4", "d.test", 300, NULL, T0);
	add(m, "192.0.2.4", "d.test", 300, NULL, T0 + 200000);
	assert_string_equal(find(m, "192.0.2.4", NULL, false,
	    T0 + 400000, NULL), "d.test");
	name_map_free(m);
}

static void
bounded(void **state)
{
	struct name_map *m = name_map_new(8);
	char addr[32], name[32];
	size_t n;

	(void)state;
	for (int i = 0; i < 20; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		snprintf(name, sizeof(name), "h%d.test", i);
		add(m, addr, name, 300, NULL, T0 + (uint64_t)i);
		name_map_count(m, &n, NULL);
		assert_true(n <= 8);
	}
	/* The eight learned last are there, the others made room. */
	for (int i = 0; i < 20; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		snprintf(name, sizeof(name), "h%d.test", i);
		assert_string_equal(find(m, addr, NULL, false, T0 + 100, NULL),
		    i >= 12 ? name : "");
	}
	/* Learning an old one again makes it the newest: the next new one
	 * pushes out h13, not h12. */
	add(m, "198.51.100.12", "h12.test", 300, NULL, T0 + 200);
	add(m, "198.51.100.99", "h99.test", 300, NULL, T0 + 201);
	assert_string_equal(find(m, "198.51.100.12", NULL, false, T0 + 300,
	    NULL), "h12.test");
	assert_string_equal(find(m, "198.51.100.13", NULL, false, T0 + 300,
	    NULL), "");
	/* Many names for one address fill the map too, never more. */
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "shared%d.test", i);
		add(m, "203.0.113.1", name, 300, NULL, T0 + 400);
	}
	name_map_count(m, &n, NULL);
	assert_int_equal(n, 8);
	assert_string_equal(find(m, "203.0.113.1", NULL, false, T0 + 500,
	    NULL), "shared29.test");
	name_map_free(m);
}

static void
which_name_wins(void **state)
{
	struct name_map *m = name_map_new(64);
	enum nm_kind k;

	(void)state;
	/* Two clients asked for two names of one (shared) address. */
	add(m, "192.0.2.7", "mail.one.test", 300, "10.0.0.2", T0);
	add(m, "192.0.2.7", "mail.two.test", 300, "10.0.0.3", T0 + 1);
	assert_string_equal(find(m, "192.0.2.7", "10.0.0.2", false, T0 + 2,
	    NULL), "mail.one.test");
	assert_string_equal(find(m, "192.0.2.7", "10.0.0.3", false, T0 + 2,
	    NULL), "mail.two.test");
	/* Another client: the newest. */
	assert_string_equal(find(m, "192.0.2.7", "10.0.0.9", false, T0 + 2,
	    NULL), "mail.two.test");
	assert_string_equal(find(m, "192.0.2.7", NULL, false, T0 + 2, NULL),
	    "mail.two.test");
	/* For SMTP an MX host name is preferred over a newer name... */
	name_map_add_mx(m, "mail.one.test", 300, T0 + 3);
	assert_string_equal(find(m, "192.0.2.7", "10.0.0.9", true, T0 + 4,
	    &k), "mail.one.test");
	assert_int_equal(k, NM_MX);
	/* ...but not over the client's own question, and only for SMTP. */
	assert_string_equal(find(m, "192.0.2.7", "10.0.0.3", true, T0 + 4,
	    &k), "mail.two.test");
	assert_int_equal(k, NM_ADDR);
	assert_string_equal(find(m, "192.0.2.7", "10.0.0.9", false, T0 + 4,
	    &k), "mail.two.test");
	/* The MX mark expires on its own (the addresses learned again
	 * meanwhile): then the newest name wins again. */
	add(m, "192.0.2.7", "mail.one.test", 300, "10.0.0.2", T0 + 250000);
	add(m, "192.0.2.7", "mail.two.test", 300, "10.0.0.3", T0 + 250001);
	assert_string_equal(find(m, "192.0.2.7", "10.0.0.9", true,
	    T0 + 300002, &k), "mail.one.test");
	assert_string_equal(find(m, "192.0.2.7", "10.0.0.9", true,
	    T0 + 300003, &k), "mail.two.test");
	assert_int_equal(k, NM_ADDR);
	name_map_free(m);
}

/* ------------------------------------------------------- from answers */

/* answer - the wire answer to (qname, qtype) with records rr[] (NULL
 * ended) in the answer section; *len set; free() it */
static uint8_t *
answer(const char *qname, uint16_t qtype, uint8_t rcode, bool tc,
    const char *const *rr, size_t *len)
{
	ldns_pkt *p;
	uint8_t *w = NULL;

	p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), qtype,
	    LDNS_RR_CLASS_IN, LDNS_QR | LDNS_RD | LDNS_RA);
	assert_non_null(p);
	ldns_pkt_set_id(p, ID);
	ldns_pkt_set_rcode(p, rcode);
	ldns_pkt_set_tc(p, tc);
	for (; rr != NULL && *rr != NULL; rr++) {
		ldns_rr *r = NULL;

		assert_int_equal(ldns_rr_new_frm_str(&r, *rr, 0, NULL, NULL),
		    LDNS_STATUS_OK);
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, r));
	}
	assert_int_equal(ldns_pkt2wire(&w, p, len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return w;
}

static void
learn_from_answers(void **state)
{
	static const char *const a_rr[] = {
		"mx-ee.dane.test. 300 IN A 192.0.2.25",
		"mx-ee.dane.test. 300 IN A 192.0.2.26", NULL };
	static const char *const aaaa_rr[] = {
		"mx-ee.dane.test. 300 IN AAAA 2001:db8::25", NULL };
	static const char *const cname_rr[] = {
		"alias.test. 300 IN CNAME real.test.",
		"real.test. 60 IN A 192.0.2.80", NULL };
	static const char *const mx_rr[] = {
		"dane.test. 300 IN MX 10 MX-EE.dane.test.",
		"dane.test. 300 IN MX 20 backup.dane.test.", NULL };
	static const char *const other_rr[] = {
		"elsewhere.test. 300 IN A 192.0.2.99", NULL };
	struct name_map *m = name_map_new(64);
	struct nm_addr asker = ip("10.0.0.2");
	enum nm_kind k;
	uint8_t *w;
	size_t len, naddr, nmx;

	(void)state;
	w = answer("mx-ee.dane.test", DNS_T_A, 0, false, a_rr, &len);
	assert_int_equal(name_map_learn(m, w, len, ID, "mx-ee.dane.test",
	    DNS_T_A, &asker, T0), 2);
	/* The answer to another question, or with another ID, teaches
	 * nothing. */
	assert_int_equal(name_map_learn(m, w, len, ID + 1, "mx-ee.dane.test",
	    DNS_T_A, &asker, T0), 0);
	assert_int_equal(name_map_learn(m, w, len, ID, "other.dane.test",
	    DNS_T_A, &asker, T0), 0);
	assert_int_equal(name_map_learn(m, w, len, ID, "mx-ee.dane.test",
	    DNS_T_AAAA, &asker, T0), 0);
	free(w);
	assert_string_equal(find(m, "192.0.2.25", NULL, false, T0, NULL),
	    "mx-ee.dane.test");
	assert_string_equal(find(m, "192.0.2.26", NULL, false, T0, NULL),
	    "mx-ee.dane.test");

	w = answer("mx-ee.dane.test", DNS_T_AAAA, 0, false, aaaa_rr, &len);
	assert_int_equal(name_map_learn(m, w, len, ID, "mx-ee.dane.test",
	    DNS_T_AAAA, &asker, T0), 1);
	free(w);
	assert_string_equal(find(m, "2001:db8::25", NULL, false, T0, NULL),
	    "mx-ee.dane.test");

	/* Through a CNAME: the name the client asked for, with the chain's
	 * smallest TTL (60 s, so gone at 60 s). */
	w = answer("alias.test", DNS_T_A, 0, false, cname_rr, &len);
	assert_int_equal(name_map_learn(m, w, len, ID, "alias.test", DNS_T_A,
	    &asker, T0), 1);
	free(w);
	assert_string_equal(find(m, "192.0.2.80", NULL, false, T0 + 59999,
	    NULL), "alias.test");
	assert_string_equal(find(m, "192.0.2.80", NULL, false, T0 + 60000,
	    NULL), "");

	/* MX: the hosts are marked, in lower case. */
	w = answer("dane.test", DNS_T_MX, 0, false, mx_rr, &len);
	assert_int_equal(name_map_learn(m, w, len, ID, "dane.test", DNS_T_MX,
	    &asker, T0), 2);
	free(w);
	assert_string_equal(find(m, "192.0.2.25", NULL, true, T0, &k),
	    "mx-ee.dane.test");
	assert_int_equal(k, NM_MX);
	name_map_count(m, &naddr, &nmx);
	assert_int_equal(nmx, 2);

	/* Records of another owner (no CNAME leads there), NXDOMAIN, a
	 * truncated answer, another type: nothing. */
	w = answer("mx-ee.dane.test", DNS_T_A, 0, false, other_rr, &len);
	assert_int_equal(name_map_learn(m, w, len, ID, "mx-ee.dane.test",
	    DNS_T_A, &asker, T0), 0);
	free(w);
	assert_string_equal(find(m, "192.0.2.99", NULL, false, T0, NULL), "");
	w = answer("gone.test", DNS_T_A, 3, false, NULL, &len);
	assert_int_equal(name_map_learn(m, w, len, ID, "gone.test", DNS_T_A,
	    &asker, T0), 0);
	free(w);
	w = answer("mx-ee.dane.test", DNS_T_A, 0, true, NULL, &len);
	assert_int_equal(name_map_learn(m, w, len, ID, "mx-ee.dane.test",
	    DNS_T_A, &asker, T0), 0);
	free(w);
	assert_int_equal(name_map_learn(m, (const uint8_t *)"\x42\x42", 2, ID,
	    "mx-ee.dane.test", DNS_T_A, &asker, T0), 0);
	/* 192.0.2.25, .26, 2001:db8::25; alias.test's has expired. */
	name_map_count(m, &naddr, NULL);
	assert_int_equal(naddr, 3);
	name_map_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addresses_to_names),
		cmocka_unit_test(ttl_limits),
		cmocka_unit_test(bounded),
		cmocka_unit_test(which_name_wins),
		cmocka_unit_test(learn_from_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
