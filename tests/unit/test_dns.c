/*
 * test_dns.c - the asynchronous DNS client (shim/dns.c) against scripted
 * DNS servers on 127.0.0.1 (dnsserver.c), on a real libuv loop.
 *
 * Each test runs its own loop and client; the servers log every query,
 * so a test asserts both what the client reported and what went over the
 * wire (how many queries, UDP or TCP, the DO bit, source ports).  The
 * teardown closes the client and requires the loop to end with every
 * handle closed.  Timeouts are short (ATTEMPT_MS) so the whole program
 * runs in a few seconds.
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
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "shim/dns.h"
#include "shim/dns_int.h"
#include "shim/log.h"
#include "tests/unit/dnsserver.h"

#define ATTEMPT_MS	150	/* timeout per attempt in these tests */
/* Where a test tells "at once" from "after a timeout": far apart, so a
 * loaded machine (sanitizers, parallel CI) cannot blur them.  Costs
 * nothing when the code is right. */
#define SLOW_MS		4000
#define WAIT_MS		5000	/* the longest any callback may take */
#define MAX_GOT		16

#define SOA	"test. 300 IN SOA ns.test. admin.test. 1 3600 600 86400 60"
#define TLSA_HEX \
	"8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1"

struct t;

/* What one lookup's callback got, and what it should do then. */
struct got {
	struct t		*t;
	struct dns_req		*req;
	int			 calls;
	uint64_t		 at;		/* loop time of the call */
	enum dns_status		 status;
	enum dnssec_state	 dnssec;
	struct dns_answer	 ans;		/* a copy */
	bool			 from_hosts, cached;
	uint16_t		 type;
	char			 name[DNS_NAME_MAX];
	char			 err[DNS_ERR_MAX];
	struct got		*cancel;	/* cancel its request */
	bool			 close;		/* close the client */
};

struct t {
	uv_loop_t		 loop;
	uv_timer_t		 tick;		/* keeps uv_run turning */
	struct dnsserver	*ds[2];
	struct dns_settings	 s;
	struct dns_client	*c;
	struct got		*got[MAX_GOT];
	int			 ngot;
	char			 dir[64];	/* for test files */
	char			 path[2][128];
};

/* ------------------------------------------------------------- fixture */

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_int_equal(uv_loop_init(&t->loop), 0);
	assert_int_equal(uv_timer_init(&t->loop, &t->tick), 0);
	t->s.dnssec = DNSSEC_MODE_TRUST_AD;
	t->s.timeout_ms = ATTEMPT_MS;
	t->s.attempts = 2;
	t->s.hosts = "";		/* not this machine's /etc/hosts */
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_dns.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;
	int i;

	dns_client_close(t->c);
	uv_close((uv_handle_t *)&t->tick, NULL);
	/* Every handle must close: the loop ends, and closes cleanly. */
	assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	for (i = 0; i < 2; i++) {
		ds_stop(t->ds[i]);
		if (t->path[i][0] != '\0')
			unlink(t->path[i]);
	}
	rmdir(t->dir);
	for (i = 0; i < t->ngot; i++) {
		/* A callback is called once at most. */
		assert_true(t->got[i]->calls <= 1);
		dns_answer_free(&t->got[i]->ans);
		free(t->got[i]);
	}
	free(t);
	return 0;
}

/* ------------------------------------------------------------- helpers */

/* serve - start server i with rules; it becomes the next resolver */
static struct dnsserver *
serve(struct t *t, int i, const struct ds_rule *rules, size_t n)
{
	assert_non_null(t->ds[i] = ds_start(rules, n));
	ds_addr(t->ds[i], &t->s.resolver[t->s.nresolvers++]);
	return t->ds[i];
}

/* client - the client on the test's loop with t->s */
static void
client(struct t *t)
{
	char err[256];

	if ((t->c = dns_client_new(&t->loop, &t->s, err, sizeof(err))) ==
	    NULL)
		fail_msg("dns_client_new: %s", err);
}

/* write_file - a test file i with text; returns its path */
static const char *
write_file(struct t *t, int i, const char *text)
{
	FILE *f;

	snprintf(t->path[i], sizeof(t->path[i]), "%s/file%d", t->dir, i);
	assert_non_null(f = fopen(t->path[i], "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return t->path[i];
}

static void
on_result(void *arg, const struct dns_result *r)
{
	struct got *g = arg;

	if (++g->calls > 1)
		return;
	g->at = uv_now(&g->t->loop);
	g->status = r->status;
	g->dnssec = r->dnssec;
	assert_non_null(r->answer);
	assert_true(dns_answer_copy(&g->ans, r->answer));
	g->from_hosts = r->from_hosts;
	g->cached = r->cached;
	g->type = r->type;
	snprintf(g->name, sizeof(g->name), "%s", r->name);
	snprintf(g->err, sizeof(g->err), "%s", r->err);
	if (g->cancel != NULL)
		dns_cancel(g->cancel->req);
	if (g->close) {
		dns_client_close(g->t->c);
		g->t->c = NULL;
	}
}

/* got_new - an empty record of a callback, freed by the teardown */
static struct got *
got_new(struct t *t)
{
	struct got *g;

	assert_true(t->ngot < MAX_GOT);
	assert_non_null(g = calloc(1, sizeof(*g)));
	g->t = t;
	t->got[t->ngot++] = g;
	return g;
}

/* lookup - ask; the callback must not have run yet when this returns */
static struct got *
lookup(struct t *t, const char *name, uint16_t type)
{
	struct got *g = got_new(t);
	char err[256];

	if ((g->req = dns_lookup(t->c, name, type, on_result, g, err,
	    sizeof(err))) == NULL)
		fail_msg("dns_lookup %s: %s", name, err);
	assert_int_equal(g->calls, 0);
	return g;
}

static void
tick(uv_timer_t *h)
{
	(void)h;
}

/* run_until - turn the loop until *calls >= want (calls NULL: never) or
 * ms have passed */
static void
run_until(struct t *t, const int *calls, int want, unsigned ms)
{
	uint64_t end;

	uv_update_time(&t->loop);
	end = uv_now(&t->loop) + ms;
	uv_timer_start(&t->tick, tick, 5, 5);
	while ((calls == NULL || *calls < want) && uv_now(&t->loop) < end)
		uv_run(&t->loop, UV_RUN_ONCE);
	uv_timer_stop(&t->tick);
}

/* wait_for - the callback of g must come */
static void
wait_for(struct t *t, struct got *g)
{
	run_until(t, &g->calls, 1, WAIT_MS);
	if (g->calls == 0)
		fail_msg("no callback within %d ms", WAIT_MS);
}

/* ask - lookup and wait for the answer */
static struct got *
ask(struct t *t, const char *name, uint16_t type)
{
	struct got *g = lookup(t, name, type);

	wait_for(t, g);
	return g;
}

/* now_ms - the loop's clock, updated */
static uint64_t
now_ms(struct t *t)
{
	uv_update_time(&t->loop);
	return uv_now(&t->loop);
}

/* assert_addr - record i of g is the address text */
static void
assert_addr(const struct got *g, size_t i, const char *text)
{
	uint8_t want[16] = { 0 };
	int family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;

	assert_true(i < g->ans.n);
	assert_int_equal(inet_pton(family, text, want), 1);
	assert_int_equal(g->ans.rr[i].u.a.family, family);
	assert_memory_equal(g->ans.rr[i].u.a.addr, want,
	    family == AF_INET ? 4 : 16);
}

/* assert_status - with the error text in the message when it differs */
#define assert_status(g, want) do {					\
	if ((g)->status != (want))					\
		fail_msg("status %s (%s), wanted %s",			\
		    dns_status_name((g)->status), (g)->err,		\
		    dns_status_name(want));				\
} while (0)

#define N(rules)	(sizeof(rules) / sizeof((rules)[0]))

/* Answers most tests use. */
static const struct ds_rule std_rules[] = {
	{ .name = "a.test", .type = DNS_T_A, .flags = DS_AD, .an = {
	    "a.test. 300 IN A 192.0.2.1", "a.test. 300 IN A 192.0.2.2" } },
	{ .name = "a.test", .type = DNS_T_AAAA, .flags = DS_AD, .an = {
	    "a.test. 300 IN AAAA 2001:db8::1" } },
	{ .name = "a.test", .type = DNS_T_MX, .flags = DS_AD,
	    .ns = { SOA } },
	{ .name = "insecure.test", .type = DNS_T_A, .an = {
	    "insecure.test. 300 IN A 192.0.2.3" } },
	{ .name = "mail.test", .type = DNS_T_MX, .flags = DS_AD, .an = {
	    "mail.test. 300 IN MX 20 MX2.mail.test.",
	    "mail.test. 300 IN MX 10 mx1.mail.test." } },
	{ .name = "_imaps._tcp.mail.test", .type = DNS_T_SRV, .flags = DS_AD,
	    .an = { "_imaps._tcp.mail.test. 300 IN SRV 0 5 993 "
	    "imap.mail.test." } },
	{ .name = "_25._tcp.mx1.mail.test", .type = DNS_T_TLSA,
	    .flags = DS_AD, .an = { "_25._tcp.mx1.mail.test. 300 IN TLSA "
	    "3 1 1 " TLSA_HEX } },
	{ .name = "www.test", .type = DNS_T_A, .flags = DS_AD, .an = {
	    "www.test. 300 IN CNAME a.test.",
	    "a.test. 200 IN A 192.0.2.1" } },
	{ .name = "gone.test", .rcode = 3, .flags = DS_AD, .ns = { SOA } },
	{ .name = "fail.test", .rcode = 2 },
	{ .name = "short.test", .type = DNS_T_A, .flags = DS_AD, .an = {
	    "short.test. 1 IN A 192.0.2.9" } },
	{ .name = "slow.test", .type = DNS_T_A, .delay_ms = 100, .an = {
	    "slow.test. 300 IN A 192.0.2.10" } },
	{ .name = "slow2.test", .type = DNS_T_A, .delay_ms = 80, .an = {
	    "slow2.test. 300 IN A 192.0.2.12" } },
	{ .name = "late.test", .type = DNS_T_A, .delay_ms = ATTEMPT_MS + 60,
	    .an = { "late.test. 300 IN A 192.0.2.13" } },
	{ .name = "decoys.test", .type = DNS_T_A, .flags = DS_DECOYS, .an = {
	    "decoys.test. 300 IN A 192.0.2.11" } },
};

/* ------------------------------------------------------ record types */

static void
a_records_secure(void **state)
{
	struct t *t = *state;
	struct ds_query q;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "A.Test.", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_string_equal(g->name, "a.test");
	assert_int_equal(g->type, DNS_T_A);
	assert_int_equal(g->dnssec, DNSSEC_SECURE);
	assert_false(g->cached);
	assert_false(g->from_hosts);
	assert_string_equal(g->err, "");
	assert_int_equal(g->ans.n, 2);
	assert_addr(g, 0, "192.0.2.1");
	assert_addr(g, 1, "192.0.2.2");
	assert_int_equal(g->ans.ttl, 300);
	/* What was sent: one UDP query, recursion desired, EDNS0 with DO
	 * (the resolver is trusted: it should tell AD). */
	assert_int_equal(ds_count(t->ds[0]), 1);
	assert_true(ds_query(t->ds[0], 0, &q));
	assert_string_equal(q.name, "a.test");
	assert_int_equal(q.type, DNS_T_A);
	assert_false(q.tcp);
	assert_true(q.rd);
	assert_true(q.edns);
	assert_true(q.do_bit);
}

static void
aaaa_record(void **state)
{
	struct t *t = *state;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "a.test", DNS_T_AAAA);
	assert_status(g, DNS_OK);
	assert_int_equal(g->ans.n, 1);
	assert_addr(g, 0, "2001:db8::1");
}

static void
mx_records(void **state)
{
	struct t *t = *state;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "mail.test", DNS_T_MX);
	assert_status(g, DNS_OK);
	assert_int_equal(g->dnssec, DNSSEC_SECURE);
	assert_int_equal(g->ans.n, 2);
	assert_int_equal(g->ans.rr[0].u.mx.pref, 20);
	assert_string_equal(g->ans.rr[0].u.mx.host, "mx2.mail.test");
	assert_int_equal(g->ans.rr[1].u.mx.pref, 10);
	assert_string_equal(g->ans.rr[1].u.mx.host, "mx1.mail.test");
}

static void
srv_record(void **state)
{
	struct t *t = *state;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "_imaps._tcp.mail.test", DNS_T_SRV);
	assert_status(g, DNS_OK);
	assert_int_equal(g->ans.n, 1);
	assert_int_equal(g->ans.rr[0].u.srv.prio, 0);
	assert_int_equal(g->ans.rr[0].u.srv.weight, 5);
	assert_int_equal(g->ans.rr[0].u.srv.port, 993);
	assert_string_equal(g->ans.rr[0].u.srv.target, "imap.mail.test");
}

static void
tlsa_record(void **state)
{
	struct t *t = *state;
	static const uint8_t want[32] = { 0x8c, 0xb0, 0xfc, 0x6c, 0x52, 0x75,
	    0x06, 0xa0, 0x53, 0xf4, 0xf1, 0x4c, 0x84, 0x64, 0xbe, 0xbb, 0xd6,
	    0xde, 0xde, 0x27, 0x38, 0xd1, 0x14, 0x68, 0xdd, 0x95, 0x3d, 0x7d,
	    0x6a, 0x30, 0x21, 0xf1 };
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "_25._tcp.mx1.mail.test", DNS_T_TLSA);
	assert_status(g, DNS_OK);
	assert_int_equal(g->dnssec, DNSSEC_SECURE);
	assert_int_equal(g->ans.n, 1);
	assert_int_equal(g->ans.rr[0].u.tlsa.usage, 3);
	assert_int_equal(g->ans.rr[0].u.tlsa.selector, 1);
	assert_int_equal(g->ans.rr[0].u.tlsa.mtype, 1);
	assert_int_equal(g->ans.rr[0].u.tlsa.len, 32);
	assert_memory_equal(g->ans.rr[0].u.tlsa.data, want, 32);
}

static void
cname_followed(void **state)
{
	struct t *t = *state;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "www.test", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_string_equal(g->ans.cname, "a.test");
	assert_int_equal(g->ans.n, 1);
	assert_addr(g, 0, "192.0.2.1");
	assert_int_equal(g->ans.ttl, 200);	/* the smallest of the chain */
}

static void
nodata(void **state)
{
	struct t *t = *state;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "a.test", DNS_T_MX);
	assert_status(g, DNS_NODATA);
	assert_int_equal(g->ans.n, 0);
	assert_int_equal(g->dnssec, DNSSEC_SECURE);
	assert_int_equal(g->ans.ttl, 60);
}

static void
invalid_name_refused_at_once(void **state)
{
	struct t *t = *state;
	char err[256] = "";

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	assert_null(dns_lookup(t->c, "bad name.test", DNS_T_A, on_result,
	    NULL, err, sizeof(err)));
	assert_string_not_equal(err, "");
	assert_null(dns_lookup(t->c, "a..test", DNS_T_A, on_result, NULL,
	    err, sizeof(err)));
	assert_int_equal(ds_count(t->ds[0]), 0);
}

/* -------------------------------------------------------------- DNSSEC */

static void
ad_clear_is_insecure(void **state)
{
	struct t *t = *state;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "insecure.test", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_int_equal(g->dnssec, DNSSEC_INSECURE);
}

static void
servfail_from_trusted_is_bogus(void **state)
{
	struct t *t = *state;
	struct got *g, *g2;

	serve(t, 0, std_rules, N(std_rules));
	serve(t, 1, std_rules, N(std_rules));
	client(t);
	g = ask(t, "fail.test", DNS_T_A);
	assert_status(g, DNS_SERVFAIL);
	assert_int_equal(g->dnssec, DNSSEC_BOGUS);
	assert_string_not_equal(g->err, "");
	/* Bogus from a validating resolver: no shopping for another. */
	assert_int_equal(ds_count(t->ds[0]), 1);
	assert_int_equal(ds_count(t->ds[1]), 0);
	/* And not cached: the next lookup asks again. */
	g2 = ask(t, "fail.test", DNS_T_A);
	assert_status(g2, DNS_SERVFAIL);
	assert_false(g2->cached);
	assert_int_equal(ds_count(t->ds[0]), 2);
}

static void
off_is_indeterminate(void **state)
{
	struct t *t = *state;
	struct ds_query q;
	struct got *g;

	t->s.dnssec = DNSSEC_MODE_OFF;
	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "a.test", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_int_equal(g->dnssec, DNSSEC_INDETERMINATE);	/* AD ignored */
	g = ask(t, "gone.test", DNS_T_A);
	assert_status(g, DNS_NXDOMAIN);
	assert_int_equal(g->dnssec, DNSSEC_INDETERMINATE);
	assert_true(ds_query(t->ds[0], 0, &q));
	assert_false(q.do_bit);
}

static void
servfail_untrusted_tries_next(void **state)
{
	struct t *t = *state;
	static const struct ds_rule failing[] = { { .rcode = 2 } };
	struct got *g;

	t->s.dnssec = DNSSEC_MODE_OFF;
	serve(t, 0, failing, N(failing));
	serve(t, 1, std_rules, N(std_rules));
	client(t);
	g = ask(t, "a.test", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_int_equal(g->dnssec, DNSSEC_INDETERMINATE);
	assert_int_equal(ds_count(t->ds[0]), 1);
	assert_int_equal(ds_count(t->ds[1]), 1);
}

static void
refused_everywhere(void **state)
{
	struct t *t = *state;
	static const struct ds_rule refusing[] = { { .rcode = 5 } };
	struct got *g;

	serve(t, 0, refusing, N(refusing));
	serve(t, 1, refusing, N(refusing));
	client(t);
	g = ask(t, "a.test", DNS_T_A);
	assert_status(g, DNS_REFUSED);
	assert_int_equal(g->dnssec, DNSSEC_INDETERMINATE);
	assert_non_null(strstr(g->err, "refused"));
	/* A resolver that refused is not asked again in the next round. */
	assert_int_equal(ds_count(t->ds[0]), 1);
	assert_int_equal(ds_count(t->ds[1]), 1);
}

static void
malformed_answer_tries_next(void **state)
{
	struct t *t = *state;
	static const struct ds_rule broken[] = { { .flags = DS_GARBAGE } };
	struct got *g;

	serve(t, 0, broken, N(broken));
	serve(t, 1, std_rules, N(std_rules));
	client(t);
	g = ask(t, "a.test", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_int_equal(ds_count(t->ds[0]), 1);
	/* With only the broken one, the result says what was wrong. */
	t->s.nresolvers = 1;
	dns_client_close(t->c);
	client(t);
	g = ask(t, "a.test", DNS_T_A);
	assert_status(g, DNS_MALFORMED);
	assert_string_not_equal(g->err, "");
	assert_int_equal(ds_count(t->ds[0]), 2);
}

static void
trusted_only_on_loopback(void **state)
{
	struct dns_settings s;
	struct sockaddr_in *sin = (struct sockaddr_in *)&s.resolver[0];
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&s.resolver[1];

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_false(dns_settings_trusted(&s));		/* no resolver */
	assert_int_equal(uv_ip4_addr("127.0.0.53", 53, sin), 0);
	s.nresolvers = 1;
	assert_true(dns_settings_trusted(&s));
	assert_int_equal(uv_ip6_addr("::1", 53, sin6), 0);
	s.nresolvers = 2;
	assert_true(dns_settings_trusted(&s));
	s.dnssec = DNSSEC_MODE_OFF;
	assert_false(dns_settings_trusted(&s));
	s.dnssec = DNSSEC_MODE_TRUST_AD;
	/* One resolver off the host is enough to trust none. */
	assert_int_equal(uv_ip6_addr("2001:db8::53", 53, sin6), 0);
	assert_false(dns_settings_trusted(&s));
	assert_int_equal(uv_ip4_addr("192.0.2.53", 53, sin), 0);
	s.nresolvers = 1;
	assert_false(dns_settings_trusted(&s));
}

/* ----------------------------------------------------------- transport */

static void
truncated_then_tcp(void **state)
{
	struct t *t = *state;
	static char rr[60][80];
	static struct ds_rule big[1] = { { .name = "big.test",
	    .type = DNS_T_AAAA, .flags = DS_TC | DS_AD } };
	struct ds_query q;
	struct got *g;
	char want[64];
	int i;

	for (i = 0; i < 60; i++) {
		snprintf(rr[i], sizeof(rr[i]),
		    "big.test. 300 IN AAAA 2001:db8::%x", i + 1);
		big[0].an[i] = rr[i];
	}
	serve(t, 0, big, N(big));
	client(t);
	g = ask(t, "big.test", DNS_T_AAAA);
	assert_status(g, DNS_OK);
	assert_int_equal(g->dnssec, DNSSEC_SECURE);
	assert_int_equal(g->ans.n, 60);
	for (i = 0; i < 60; i++) {
		snprintf(want, sizeof(want), "2001:db8::%x", i + 1);
		assert_addr(g, i, want);
	}
	assert_int_equal(ds_count(t->ds[0]), 2);
	assert_int_equal(ds_count_tcp(t->ds[0]), 1);
	assert_true(ds_query(t->ds[0], 1, &q));
	assert_true(q.tcp);
	assert_string_equal(q.name, "big.test");
}

static void
tcp_hangup_tries_next(void **state)
{
	struct t *t = *state;
	static const struct ds_rule hangup[] = { { .name = "a.test",
	    .type = DNS_T_A, .flags = DS_TC | DS_TCP_HANGUP } };
	uint64_t start;
	struct got *g;

	serve(t, 0, hangup, N(hangup));
	serve(t, 1, std_rules, N(std_rules));
	/* A long timeout, so that "at once" and "after a timeout" are far
	 * apart even on a loaded machine. */
	t->s.timeout_ms = SLOW_MS;
	client(t);
	start = now_ms(t);
	g = ask(t, "a.test", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_int_equal(g->ans.n, 2);
	/* UDP then TCP to the first, which hung up: on to the second at
	 * once, without waiting for a timeout. */
	assert_int_equal(ds_count(t->ds[0]), 2);
	assert_int_equal(ds_count_tcp(t->ds[0]), 1);
	assert_int_equal(ds_count(t->ds[1]), 1);
	assert_true(g->at - start < SLOW_MS / 2);
}

static void
late_answer_after_a_resend_is_taken(void **state)
{
	struct t *t = *state;
	uint64_t start;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	/* The answer to the first datagram comes after the second was
	 * sent: the same socket and ID, so it is still ours. */
	start = now_ms(t);
	g = ask(t, "late.test", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_addr(g, 0, "192.0.2.13");
	assert_true(g->at - start >= ATTEMPT_MS + 60);
	run_until(t, NULL, 0, 30);	/* the server reads the resend */
	assert_int_equal(ds_count(t->ds[0]), 2);
}

static void
answers_not_ours_are_ignored(void **state)
{
	struct t *t = *state;
	uint64_t start;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	t->s.timeout_ms = SLOW_MS;
	client(t);
	/* Before the answer: NXDOMAIN with a wrong ID, to another
	 * question, and from another port.  None may be taken, and none
	 * may end the wait: the real answer is taken, before a retry. */
	start = now_ms(t);
	g = ask(t, "decoys.test", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_int_equal(g->ans.n, 1);
	assert_addr(g, 0, "192.0.2.11");
	assert_int_equal(ds_count(t->ds[0]), 1);
	assert_true(g->at - start < SLOW_MS / 2);
}

static void
silent_first_then_second(void **state)
{
	struct t *t = *state;
	static const struct ds_rule silent[] = { { .flags = DS_SILENT } };
	uint64_t start;
	struct got *g;

	serve(t, 0, silent, N(silent));
	serve(t, 1, std_rules, N(std_rules));
	client(t);
	start = now_ms(t);
	g = ask(t, "a.test", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_int_equal(g->ans.n, 2);
	assert_true(g->at - start >= ATTEMPT_MS);
	assert_true(g->at - start < 2 * ATTEMPT_MS + SLOW_MS);
	assert_int_equal(ds_count(t->ds[0]), 1);
	assert_int_equal(ds_count(t->ds[1]), 1);
}

static void
nobody_listening_fails_over_fast(void **state)
{
	struct t *t = *state;
	struct sockaddr_in *sin = (struct sockaddr_in *)&t->s.resolver[0];
	uv_udp_t probe;
	uint64_t start;
	struct got *g;
	int len = sizeof(*sin);

	/* A port nothing listens on: bind one, note it, close it. */
	assert_int_equal(uv_udp_init(&t->loop, &probe), 0);
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, sin), 0);
	assert_int_equal(uv_udp_bind(&probe, (struct sockaddr *)sin, 0), 0);
	assert_int_equal(uv_udp_getsockname(&probe, (struct sockaddr *)sin,
	    &len), 0);
	uv_close((uv_handle_t *)&probe, NULL);
	t->s.nresolvers = 1;
	t->s.timeout_ms = SLOW_MS;
	serve(t, 1, std_rules, N(std_rules));
	client(t);
	start = now_ms(t);
	g = ask(t, "a.test", DNS_T_A);
	assert_status(g, DNS_OK);
	/* ICMP port unreachable ends the first try well before its
	 * timeout. */
	assert_true(g->at - start < SLOW_MS / 2);
}

static void
all_silent_is_timeout(void **state)
{
	struct t *t = *state;
	static const struct ds_rule silent[] = { { .flags = DS_SILENT } };
	struct ds_query q0, q1;
	uint64_t start;
	struct got *g;

	serve(t, 0, silent, N(silent));
	serve(t, 1, silent, N(silent));
	client(t);
	start = now_ms(t);
	g = ask(t, "a.test", DNS_T_A);
	assert_status(g, DNS_TIMEOUT);
	assert_int_equal(g->dnssec, DNSSEC_INDETERMINATE);
	assert_string_not_equal(g->err, "");
	/* Two rounds over both resolvers, one timeout each. */
	assert_true(g->at - start >= 4 * ATTEMPT_MS);
	assert_true(g->at - start < 4 * ATTEMPT_MS + SLOW_MS);
	assert_int_equal(ds_count(t->ds[0]), 2);
	assert_int_equal(ds_count(t->ds[1]), 2);
	/* Each try on a new socket: another random source port. */
	assert_true(ds_query(t->ds[0], 0, &q0));
	assert_true(ds_query(t->ds[0], 1, &q1));
	assert_int_not_equal(q0.port, q1.port);
	/* A timeout is not cached. */
	g = ask(t, "a.test", DNS_T_A);
	assert_status(g, DNS_TIMEOUT);
	assert_int_equal(ds_count(t->ds[0]), 4);
}

static void
random_query_ids(void **state)
{
	struct t *t = *state;
	static const char *names[] = { "a.test", "insecure.test", "www.test",
	    "mail.test", "gone.test", "short.test" };
	struct ds_query q;
	uint16_t ids[6];
	size_t i, j, same = 0;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	for (i = 0; i < 6; i++)
		ask(t, names[i], DNS_T_A);
	assert_int_equal(ds_count(t->ds[0]), 6);
	for (i = 0; i < 6; i++) {
		assert_true(ds_query(t->ds[0], i, &q));
		ids[i] = q.id;
	}
	for (i = 0; i < 6; i++)
		for (j = i + 1; j < 6; j++)
			same += ids[i] == ids[j];
	/* Six random 16-bit IDs collide with odds of about 1 in 4000. */
	assert_true(same <= 1);
}

/* --------------------------------------------------------------- cache */

static void
cache_hit_is_async_and_asks_once(void **state)
{
	struct t *t = *state;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "a.test", DNS_T_A);
	assert_false(g->cached);
	g = lookup(t, "A.TEST", DNS_T_A);	/* calls == 0 checked there */
	wait_for(t, g);
	assert_status(g, DNS_OK);
	assert_true(g->cached);
	assert_int_equal(g->dnssec, DNSSEC_SECURE);
	assert_int_equal(g->ans.n, 2);
	assert_addr(g, 1, "192.0.2.2");
	assert_int_equal(ds_count(t->ds[0]), 1);
	/* Another type is another key. */
	g = ask(t, "a.test", DNS_T_AAAA);
	assert_false(g->cached);
	assert_int_equal(ds_count(t->ds[0]), 2);
}

static void
cache_entry_expires(void **state)
{
	struct t *t = *state;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "short.test", DNS_T_A);		/* TTL 1 */
	assert_int_equal(g->ans.ttl, 1);
	g = ask(t, "short.test", DNS_T_A);
	assert_true(g->cached);
	assert_int_equal(ds_count(t->ds[0]), 1);
	run_until(t, NULL, 0, 1100);
	g = ask(t, "short.test", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_false(g->cached);
	assert_int_equal(ds_count(t->ds[0]), 2);
}

static void
nxdomain_cached(void **state)
{
	struct t *t = *state;
	struct got *g;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "gone.test", DNS_T_A);
	assert_status(g, DNS_NXDOMAIN);
	assert_int_equal(g->dnssec, DNSSEC_SECURE);
	assert_int_equal(g->ans.ttl, 60);	/* the SOA's minimum */
	g = ask(t, "gone.test", DNS_T_A);
	assert_status(g, DNS_NXDOMAIN);
	assert_true(g->cached);
	assert_int_equal(ds_count(t->ds[0]), 1);
}

static void
concurrent_lookups_share_a_query(void **state)
{
	struct t *t = *state;
	struct got *g1, *g2, *g3;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g1 = lookup(t, "slow.test", DNS_T_A);
	g2 = lookup(t, "SLOW.test.", DNS_T_A);
	g3 = lookup(t, "slow.test", DNS_T_A);
	run_until(t, &g3->calls, 1, WAIT_MS);
	wait_for(t, g1);
	wait_for(t, g2);
	assert_status(g1, DNS_OK);
	assert_status(g2, DNS_OK);
	assert_status(g3, DNS_OK);
	assert_addr(g2, 0, "192.0.2.10");
	assert_int_equal(ds_count(t->ds[0]), 1);
}

/* The cache alone, on a clock the test sets. */
static void
cache_clock_cap_and_eviction(void **state)
{
	struct dns_cache *c = dns_cache_new();
	struct dns_rec *r = dns_rec_new(), *held;
	char name[32];
	int i;

	(void)state;
	assert_non_null(c);
	assert_non_null(r);
	dns_cache_put(c, "a.test", 1, r, 10, 1000);
	assert_ptr_equal(dns_cache_get(c, "a.test", 1, 10999), r);
	assert_null(dns_cache_get(c, "a.test", 28, 1000));
	assert_null(dns_cache_get(c, "a.test", 1, 11000));
	assert_int_equal(dns_cache_count(c), 0);	/* dropped when found */
	dns_cache_put(c, "zero.test", 1, r, 0, 1000);
	assert_int_equal(dns_cache_count(c), 0);
	/* A week-long TTL is held for DNS_TTL_MAX only. */
	dns_cache_put(c, "long.test", 1, r, 7 * 86400, 0);
	assert_non_null(dns_cache_get(c, "long.test", 1,
	    (uint64_t)DNS_TTL_MAX * 1000 - 1));
	assert_null(dns_cache_get(c, "long.test", 1,
	    (uint64_t)DNS_TTL_MAX * 1000));
	/* Full: the least recently used goes first. */
	for (i = 0; i < DNS_CACHE_MAX; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		dns_cache_put(c, name, 1, r, 60, 0);
	}
	assert_int_equal(dns_cache_count(c), DNS_CACHE_MAX);
	assert_non_null(dns_cache_get(c, "n0.test", 1, 0));	/* touched */
	held = dns_rec_ref(dns_cache_get(c, "n1.test", 1, 0));
	assert_non_null(dns_cache_get(c, "n0.test", 1, 0));
	dns_cache_put(c, "new.test", 1, r, 60, 0);
	assert_int_equal(dns_cache_count(c), DNS_CACHE_MAX);
	assert_non_null(dns_cache_get(c, "n0.test", 1, 0));
	assert_non_null(dns_cache_get(c, "n1.test", 1, 0));
	assert_null(dns_cache_get(c, "n2.test", 1, 0));		/* evicted */
	assert_non_null(dns_cache_get(c, "new.test", 1, 0));
	dns_cache_free(c);
	/* A record outlives the cache while someone holds it. */
	assert_int_equal(held->refs, 2);
	dns_rec_unref(held);
	assert_int_equal(r->refs, 1);
	dns_rec_unref(r);
}

/* ------------------------------------------------------ system files */

static const char hosts_text[] =
	"# test hosts\n"
	"127.0.0.1\tlocalhost\n"
	"192.0.2.50  Host.Example  alias.example   # a comment\n"
	"2001:db8::50 host.example\n"
	"192.0.2.51 host.example\n"
	"192.0.2.50 HOST.example.\n"		/* the same again */
	"fe80::1%eth0 scoped.example\n"
	"bogus-address notused.example\n"
	"192.0.2.52 v4only.example # nothing else\n";

static void
hosts_answers_addresses(void **state)
{
	struct t *t = *state;
	struct got *g;

	t->s.hosts = write_file(t, 0, hosts_text);
	serve(t, 0, std_rules, N(std_rules));
	client(t);
	g = ask(t, "HOST.EXAMPLE.", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_true(g->from_hosts);
	assert_false(g->cached);
	assert_int_equal(g->dnssec, DNSSEC_INSECURE);
	assert_int_equal(g->ans.n, 2);		/* the duplicate counts once */
	assert_addr(g, 0, "192.0.2.50");
	assert_addr(g, 1, "192.0.2.51");
	assert_int_equal(g->ans.ttl, 0);
	g = ask(t, "host.example", DNS_T_AAAA);
	assert_status(g, DNS_OK);
	assert_addr(g, 0, "2001:db8::50");
	g = ask(t, "Alias.Example", DNS_T_A);
	assert_status(g, DNS_OK);
	assert_addr(g, 0, "192.0.2.50");
	/* The file knows the name: no IPv6 address is no data. */
	g = ask(t, "v4only.example", DNS_T_AAAA);
	assert_status(g, DNS_NODATA);
	assert_true(g->from_hosts);
	assert_int_equal(ds_count(t->ds[0]), 0);
	/* Not an address type, or a name the file lacks: DNS. */
	g = ask(t, "a.test", DNS_T_A);
	assert_false(g->from_hosts);
	assert_int_equal(ds_count(t->ds[0]), 1);
	g = ask(t, "host.example", DNS_T_MX);
	assert_false(g->from_hosts);
	assert_status(g, DNS_REFUSED);		/* no rule for it */
	g = ask(t, "scoped.example", DNS_T_AAAA);
	assert_false(g->from_hosts);
	assert_int_equal(ds_count(t->ds[0]), 3);
}

static void
hosts_table_parsing(void **state)
{
	struct t *t = *state;
	struct dns_hosts *h;
	struct dns_rec *r;
	bool oom;

	h = dns_hosts_load(write_file(t, 0, hosts_text));
	assert_non_null(h);
	/* localhost, host+alias, host, host, host (dup), v4only */
	assert_int_equal(dns_hosts_count(h), 7);
	assert_null(dns_hosts_find(h, "notused.example", DNS_T_A, &oom));
	assert_false(oom);
	assert_non_null(r = dns_hosts_find(h, "localhost", DNS_T_A, &oom));
	assert_int_equal(r->ans.n, 1);
	dns_rec_unref(r);
	dns_hosts_free(h);
	/* No file is no entries, not an error. */
	assert_non_null(h = dns_hosts_load("/nonexistent/hosts"));
	assert_int_equal(dns_hosts_count(h), 0);
	dns_hosts_free(h);
	assert_non_null(h = dns_hosts_load(""));
	assert_int_equal(dns_hosts_count(h), 0);
	dns_hosts_free(h);
}

static void
resolv_conf_nameservers(void **state)
{
	struct t *t = *state;
	struct dns_settings s;
	const struct sockaddr_in *s0 = (const void *)&s.resolver[0];
	const struct sockaddr_in6 *s1 = (const void *)&s.resolver[1];
	const struct sockaddr_in *s2 = (const void *)&s.resolver[2];
	char err[256] = "", ip[64];

	memset(&s, 0, sizeof(s));
	s.resolv_conf = write_file(t, 0,
	    "# generated\n"
	    "; old style comment\n"
	    "domain example.org\n"
	    "search example.org\n"
	    "nameserver not-an-address\n"
	    "nameserver 127.0.0.53\n"
	    "  nameserver\t::1   # trailing words\n"
	    "options edns0 trust-ad\n"
	    "nameserver 192.0.2.7\n"
	    "nameserver 192.0.2.8\n");
	assert_true(dns_settings_resolvers(&s, err, sizeof(err)));
	assert_int_equal(s.nresolvers, 3);		/* glibc's MAXNS */
	assert_int_equal(s0->sin_family, AF_INET);
	uv_ip4_name(s0, ip, sizeof(ip));
	assert_string_equal(ip, "127.0.0.53");
	assert_int_equal(ntohs(s0->sin_port), 53);
	assert_int_equal(s1->sin6_family, AF_INET6);
	uv_ip6_name(s1, ip, sizeof(ip));
	assert_string_equal(ip, "::1");
	assert_int_equal(ntohs(s1->sin6_port), 53);
	uv_ip4_name(s2, ip, sizeof(ip));
	assert_string_equal(ip, "192.0.2.7");
	s.dnssec = DNSSEC_MODE_TRUST_AD;
	assert_false(dns_settings_trusted(&s));
	/* Configured resolvers are kept as they are. */
	s.nresolvers = 1;
	assert_true(dns_settings_resolvers(&s, err, sizeof(err)));
	assert_int_equal(s.nresolvers, 1);
	/* None at all is an error that says where it looked. */
	memset(&s, 0, sizeof(s));
	s.resolv_conf = write_file(t, 1, "# empty\nsearch example.org\n");
	assert_false(dns_settings_resolvers(&s, err, sizeof(err)));
	assert_non_null(strstr(err, t->path[1]));
	s.resolv_conf = "/nonexistent/resolv.conf";
	assert_false(dns_settings_resolvers(&s, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/resolv.conf"));
}

static void
client_needs_a_resolver(void **state)
{
	struct t *t = *state;
	char err[256] = "";

	assert_null(dns_client_new(&t->loop, &t->s, err, sizeof(err)));
	assert_string_not_equal(err, "");
}

/* -------------------------------------------------- cancel and close */

static void
cancel_before_the_answer(void **state)
{
	struct t *t = *state;
	struct got *g, *other, *ready;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	ask(t, "a.test", DNS_T_A);		/* into the cache */
	g = lookup(t, "slow.test", DNS_T_A);
	other = lookup(t, "slow.test", DNS_T_A);
	ready = lookup(t, "a.test", DNS_T_A);	/* a hit, not yet called */
	dns_cancel(g->req);
	dns_cancel(ready->req);
	wait_for(t, other);			/* the shared query goes on */
	run_until(t, NULL, 0, 50);
	assert_int_equal(g->calls, 0);
	assert_int_equal(ready->calls, 0);
	assert_status(other, DNS_OK);
	assert_int_equal(ds_count(t->ds[0]), 2);
	/* A query whose every request was cancelled goes on, and its
	 * answer fills the cache. */
	g = lookup(t, "slow2.test", DNS_T_A);
	dns_cancel(g->req);
	run_until(t, NULL, 0, 300);
	assert_int_equal(ds_count(t->ds[0]), 3);
	g = ask(t, "slow2.test", DNS_T_A);
	assert_true(g->cached);
	assert_addr(g, 0, "192.0.2.12");
	assert_int_equal(ds_count(t->ds[0]), 3);
}

static void
cancel_others_from_a_callback(void **state)
{
	struct t *t = *state;
	struct got *g1, *g2, *g3, *g4;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	ask(t, "a.test", DNS_T_A);
	ask(t, "a.test", DNS_T_AAAA);
	/* All four are ready on the same loop turn. */
	/* g1, g2 and g4 are ready on the same loop turn; g3 waits on the
	 * network.  g1 cancels g2 (ready after it), g4 cancels g3. */
	g1 = lookup(t, "a.test", DNS_T_A);
	g2 = lookup(t, "a.test", DNS_T_AAAA);
	g3 = lookup(t, "slow.test", DNS_T_A);
	g4 = lookup(t, "a.test", DNS_T_A);
	g1->cancel = g2;
	g4->cancel = g3;
	wait_for(t, g1);
	wait_for(t, g4);
	run_until(t, NULL, 0, 400);		/* slow.test is answered */
	assert_int_equal(g2->calls, 0);
	assert_int_equal(g3->calls, 0);
	assert_int_equal(ds_count(t->ds[0]), 3);
}

static void
close_from_a_callback(void **state)
{
	struct t *t = *state;
	struct got *g1, *g2, *g3;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	ask(t, "a.test", DNS_T_A);
	g1 = lookup(t, "a.test", DNS_T_A);
	g2 = lookup(t, "a.test", DNS_T_A);
	g3 = lookup(t, "slow.test", DNS_T_A);
	g1->close = true;
	wait_for(t, g1);
	assert_null(t->c);
	run_until(t, NULL, 0, 400);
	assert_int_equal(g2->calls, 0);
	assert_int_equal(g3->calls, 0);
}

static void
close_with_requests_pending(void **state)
{
	struct t *t = *state;
	struct got *g[5];
	int i;

	serve(t, 0, std_rules, N(std_rules));
	client(t);
	ask(t, "a.test", DNS_T_A);
	g[0] = lookup(t, "slow.test", DNS_T_A);		/* on UDP */
	g[1] = lookup(t, "SLOW.test", DNS_T_A);		/* sharing it */
	g[2] = lookup(t, "a.test", DNS_T_A);		/* a ready hit */
	run_until(t, NULL, 0, 20);
	g[4] = lookup(t, "a.test", DNS_T_A);		/* ready, not called */
	dns_client_close(t->c);
	t->c = NULL;
	run_until(t, NULL, 0, 300);			/* the answer came */
	assert_int_equal(g[4]->calls, 0);
	assert_int_equal(g[0]->calls, 0);
	assert_int_equal(g[1]->calls, 0);
	assert_int_equal(g[2]->calls, 1);	/* called before the close */
	/* And while asking over TCP. */
	t->s.nresolvers = 0;
	ds_stop(t->ds[0]);
	t->ds[0] = NULL;
	{
		static char rr[4][80];
		static struct ds_rule big[1] = { { .name = "big.test",
		    .type = DNS_T_AAAA, .flags = DS_TC, .delay_ms = 100 } };

		for (i = 0; i < 4; i++) {
			snprintf(rr[i], sizeof(rr[i]),
			    "big.test. 300 IN AAAA 2001:db8::%x", i + 1);
			big[0].an[i] = rr[i];
		}
		serve(t, 0, big, N(big));
	}
	client(t);
	g[3] = lookup(t, "big.test", DNS_T_AAAA);
	for (i = 0; i < 100 && ds_count_tcp(t->ds[0]) == 0; i++)
		run_until(t, NULL, 0, 10);
	assert_int_equal(ds_count_tcp(t->ds[0]), 1);
	dns_client_close(t->c);
	t->c = NULL;
	run_until(t, NULL, 0, 300);
	assert_int_equal(g[3]->calls, 0);
}

/* ------------------------------------------------------------------ main */

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(a_records_secure),
		T(aaaa_record),
		T(mx_records),
		T(srv_record),
		T(tlsa_record),
		T(cname_followed),
		T(nodata),
		T(invalid_name_refused_at_once),
		T(ad_clear_is_insecure),
		T(servfail_from_trusted_is_bogus),
		T(off_is_indeterminate),
		T(servfail_untrusted_tries_next),
		T(refused_everywhere),
		T(malformed_answer_tries_next),
		T(trusted_only_on_loopback),
		T(truncated_then_tcp),
		T(tcp_hangup_tries_next),
		T(late_answer_after_a_resend_is_taken),
		T(answers_not_ours_are_ignored),
		T(silent_first_then_second),
		T(nobody_listening_fails_over_fast),
		T(all_silent_is_timeout),
		T(random_query_ids),
		T(cache_hit_is_async_and_asks_once),
		T(cache_entry_expires),
		T(nxdomain_cached),
		T(concurrent_lookups_share_a_query),
		T(cache_clock_cap_and_eviction),
		T(hosts_answers_addresses),
		T(hosts_table_parsing),
		T(resolv_conf_nameservers),
		T(client_needs_a_resolver),
		T(cancel_before_the_answer),
		T(cancel_others_from_a_callback),
		T(close_from_a_callback),
		T(close_with_requests_pending),
#undef T
	};

	log_init("test_dns", true, getenv("TEST_DNS_TRACE") != NULL ?
	    LOG_L_TRACE : LOG_L_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
