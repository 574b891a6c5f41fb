/*
 * test_dns_forward.c - the DNS forwarder of transparent mode
 * (shim/dns_forward.c) between a blocking client (the test thread) and
 * scripted resolvers (dnsserver.c), its loop on a thread of its own.
 *
 * What is asserted: the client gets the resolver's answer byte for byte
 * with its own ID (the resolver saw another), over UDP and over TCP; a
 * truncated answer is passed on as it is; decoys are not taken for the
 * answer; a silent resolver means the next one, then SERVFAIL; what is
 * not a query gets FORMERR, NOTIMP or nothing; the bounds hold; and the
 * name map learned what the answers said, and from whom.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <ldns/ldns.h>
#include <uv.h>

#include "shim/dns_forward.h"
#include "shim/name_map.h"
#include "tests/unit/dnsserver.h"

#define ATTEMPT_MS	200
#define CID		0x1111	/* the client's IDs */

#define SOA	"test. 300 IN SOA ns.test. admin.test. 1 3600 600 86400 60"

static const struct ds_rule rules[] = {
	{ "host.test", DNS_T_A, 0, DS_AD, 0,
	  { "host.test. 300 IN A 192.0.2.25",
	    "host.test. 300 IN A 192.0.2.26" }, { NULL } },
	{ "host.test", DNS_T_AAAA, 0, 0, 0,
	  { "host.test. 300 IN AAAA 2001:db8::25" }, { NULL } },
	{ "dane.test", DNS_T_MX, 0, 0, 0,
	  { "dane.test. 300 IN MX 10 mx1.dane.test." }, { NULL } },
	{ "mx1.dane.test", DNS_T_A, 0, 0, 0,
	  { "mx1.dane.test. 300 IN A 192.0.2.30" }, { NULL } },
	{ "big.test", DNS_T_A, 0, DS_TC, 0,
	  { "big.test. 300 IN A 192.0.2.40" }, { NULL } },
	{ "decoy.test", DNS_T_A, 0, DS_DECOYS, 0,
	  { "decoy.test. 300 IN A 192.0.2.50" }, { NULL } },
	{ "gone.test", DNS_T_A, 3, 0, 0, { NULL }, { SOA } },
	{ "silent.test", 0, 0, DS_SILENT, 0, { NULL }, { NULL } },
};
#define NRULES	(sizeof(rules) / sizeof(rules[0]))

/* A resolver that never answers anything. */
static const struct ds_rule mute[] = {
	{ NULL, 0, 0, DS_SILENT, 0, { NULL }, { NULL } },
};

struct fx {
	uv_loop_t		 loop;
	uv_async_t		 stop;
	pthread_t		 thread;
	bool			 running;
	struct dnsserver	*ds[2];
	struct dns_settings	 set;
	struct name_map		*map;
	struct dns_fwd		*f;
	struct sockaddr_storage	 at;	/* the forwarder */
};

static void
on_stop(uv_async_t *a)
{
	struct fx *x = a->data;

	dns_fwd_close(x->f);
	uv_close((uv_handle_t *)&x->stop, NULL);
}

static void *
run(void *arg)
{
	struct fx *x = arg;

	uv_run(&x->loop, UV_RUN_DEFAULT);
	return NULL;
}

/* fx_start - resolvers (a mute one first, if asked), the forwarder on
 * 127.0.0.1 (a free port) and its loop's thread */
static struct fx *
fx_start(bool mute_first, unsigned attempts)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct sockaddr_in sin;
	char err[256];

	assert_non_null(x);
	if (mute_first) {
		assert_non_null(x->ds[1] = ds_start(mute, 1));
		ds_addr(x->ds[1], &x->set.resolver[x->set.nresolvers++]);
	}
	assert_non_null(x->ds[0] = ds_start(rules, NRULES));
	ds_addr(x->ds[0], &x->set.resolver[x->set.nresolvers++]);
	x->set.timeout_ms = ATTEMPT_MS;
	x->set.attempts = attempts;
	assert_non_null(x->map = name_map_new(64));
	assert_int_equal(uv_loop_init(&x->loop), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(&x->at, &sin, sizeof(sin));
	/* Port 0: UDP picks one, TCP takes the same, which another program
	 * may hold: then try again. */
	for (int i = 0; i < 20 && x->f == NULL; i++) {
		x->f = dns_fwd_new(&x->loop, &x->at, 1, &x->set, x->map, err,
		    sizeof(err));
		uv_run(&x->loop, UV_RUN_NOWAIT); /* close a failed one */
	}
	if (x->f == NULL)
		fail_msg("dns_fwd_new: %s", err);
	assert_int_equal(dns_fwd_addr(x->f, 0, &x->at), 0);
	assert_int_not_equal(((struct sockaddr_in *)&x->at)->sin_port, 0);
	uv_async_init(&x->loop, &x->stop, on_stop);
	x->stop.data = x;
	assert_int_equal(pthread_create(&x->thread, NULL, run, x), 0);
	x->running = true;
	return x;
}

/* fx_stop - close the forwarder; its loop must end with every handle
 * closed */
static void
fx_stop(struct fx *x)
{
	if (x->running) {
		uv_async_send(&x->stop);
		pthread_join(x->thread, NULL);
	}
	assert_int_equal(uv_loop_close(&x->loop), 0);
	ds_stop(x->ds[0]);
	ds_stop(x->ds[1]);
	name_map_free(x->map);
	free(x);
}

/* query - a query for name/type with id, EDNS0 with DO; free() it */
static uint8_t *
query(const char *name, uint16_t type, uint16_t id, size_t *len)
{
	ldns_pkt *p = NULL;
	uint8_t *w = NULL;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, name, type,
	    LDNS_RR_CLASS_IN, LDNS_RD), LDNS_STATUS_OK);
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_edns_udp_size(p, 1232);
	ldns_pkt_set_edns_do(p, true);
	assert_int_equal(ldns_pkt2wire(&w, p, len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return w;
}

/* udp_ask - send w to addr over UDP and wait up to ms for one datagram;
 * its length (0: none came) in buf */
static size_t
udp_ask(const struct sockaddr_storage *addr, const uint8_t *w, size_t len,
    uint8_t *buf, size_t buflen, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	assert_int_equal(sendto(fd, w, len, 0, (const struct sockaddr *)addr,
	    sizeof(struct sockaddr_in)), (ssize_t)len);
	n = recv(fd, buf, buflen, 0);
	close(fd);
	return n > 0 ? (size_t)n : 0;
}

/* tcp_connect - a blocking TCP connection to addr, reads time out */
static int
tcp_connect(const struct sockaddr_storage *addr)
{
	struct timeval tv = { 3, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)addr,
	    sizeof(struct sockaddr_in)), 0);
	return fd;
}

static void
tcp_send(int fd, const uint8_t *w, size_t len)
{
	uint8_t pre[2] = { (uint8_t)(len >> 8), (uint8_t)len };

	assert_int_equal(write(fd, pre, 2), 2);
	assert_int_equal(write(fd, w, len), (ssize_t)len);
}

/* read_full - exactly n bytes, or false */
static bool
read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* tcp_read - one length-prefixed message; its length */
static size_t
tcp_read(int fd, uint8_t *buf, size_t buflen)
{
	uint8_t pre[2];
	size_t n;

	assert_true(read_full(fd, pre, 2));
	n = (size_t)(pre[0] << 8 | pre[1]);
	assert_true(n <= buflen);
	assert_true(read_full(fd, buf, n));
	return n;
}

static uint16_t
id_of(const uint8_t *w)
{
	return (uint16_t)(w[0] << 8 | w[1]);
}

/* found - the name the map has for addr ("" if none), for client */
static const char *
found(struct fx *x, const char *addr, const char *client, bool mx,
    enum nm_kind *kind)
{
	static char name[DNS_NAME_MAX];
	struct nm_addr a, c;
	enum nm_kind k;

	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	a.family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(a.family, addr, a.a), 1);
	if (client != NULL) {
		c.family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, client, c.a), 1);
	}
	k = name_map_find(x->map, &a, client != NULL ? &c : NULL, mx,
	    name_map_now(), name, sizeof(name));
	if (kind != NULL)
		*kind = k;
	return name;
}

/* ------------------------------------------------------------- tests */

static void
udp_answer_unchanged(void **state)
{
	struct fx *x = fx_start(false, 2);
	struct sockaddr_storage direct;
	uint8_t got[4096], want[4096], *q;
	size_t qlen, n, m;
	struct ds_query dq;
	struct dns_fwd_stats st;
	unsigned other_id = 0;

	(void)state;
	/* The same query straight to the resolver gives the bytes the
	 * forwarder must relay (but for the ID). */
	ds_addr(x->ds[0], &direct);
	q = query("Host.Test", DNS_T_A, CID, &qlen);
	m = udp_ask(&direct, q, qlen, want, sizeof(want), 2000);
	assert_true(m > 12);
	for (int i = 0; i < 4; i++) {
		n = udp_ask(&x->at, q, qlen, got, sizeof(got), 2000);
		assert_int_equal(n, m);
		assert_int_equal(id_of(got), CID);
		assert_memory_equal(got + 2, want + 2, m - 2);
		assert_true(ds_query(x->ds[0], (unsigned)i + 1, &dq));
		assert_false(dq.tcp);
		/* The question, EDNS and DO went up as the client sent
		 * them. */
		assert_string_equal(dq.name, "host.test");
		assert_true(dq.edns && dq.do_bit && dq.rd);
		other_id += dq.id != CID;
	}
	/* Not the client's ID on the way up (a chance of 2^-64 to fail). */
	assert_true(other_id > 0);
	free(q);
	/* The map knows both addresses, and who asked. */
	assert_string_equal(found(x, "192.0.2.25", NULL, false, NULL),
	    "host.test");
	assert_string_equal(found(x, "192.0.2.26", NULL, false, NULL),
	    "host.test");
	q = query("host.test", DNS_T_AAAA, CID, &qlen);
	assert_true(udp_ask(&x->at, q, qlen, got, sizeof(got), 2000) > 12);
	free(q);
	assert_string_equal(found(x, "2001:db8::25", NULL, false, NULL),
	    "host.test");
	dns_fwd_stats(x->f, &st);
	assert_int_equal(st.queries, 5);
	assert_int_equal(st.answered, 5);
	assert_int_equal(st.failed + st.dropped + st.refused, 0);
	assert_int_equal(st.learned, 4 * 2 + 1);
	fx_stop(x);
}

static void
tcp_pipelined(void **state)
{
	struct fx *x = fx_start(false, 2);
	uint8_t got[4096], *q1, *q2;
	size_t l1, l2, n;
	struct ds_query dq;
	int fd;

	(void)state;
	q1 = query("host.test", DNS_T_A, CID, &l1);
	q2 = query("dane.test", DNS_T_MX, CID + 1, &l2);
	fd = tcp_connect(&x->at);
	/* Both at once, the second in pieces. */
	tcp_send(fd, q1, l1);
	tcp_send(fd, q2, l2);
	for (int i = 0; i < 2; i++) {
		n = tcp_read(fd, got, sizeof(got));
		assert_true(n > 12);
		assert_true(id_of(got) == CID || id_of(got) == CID + 1);
		assert_true(got[2] & 0x80);
		assert_int_equal(got[3] & 0xf, 0);
	}
	close(fd);
	free(q1);
	free(q2);
	/* Sent up over TCP too. */
	assert_true(ds_query(x->ds[0], 0, &dq));
	assert_true(dq.tcp);
	assert_true(ds_query(x->ds[0], 1, &dq));
	assert_true(dq.tcp);
	assert_string_equal(found(x, "192.0.2.25", "127.0.0.1", false, NULL),
	    "host.test");
	fx_stop(x);
}

static void
truncated_then_tcp(void **state)
{
	struct fx *x = fx_start(false, 2);
	uint8_t got[4096], *q;
	size_t qlen, n;
	int fd;

	(void)state;
	q = query("big.test", DNS_T_A, CID, &qlen);
	n = udp_ask(&x->at, q, qlen, got, sizeof(got), 2000);
	/* TC set, no records: passed on as it came, and nothing learned. */
	assert_true(n >= 12);
	assert_true(got[2] & 0x02);
	assert_int_equal(got[6] << 8 | got[7], 0);
	assert_string_equal(found(x, "192.0.2.40", NULL, false, NULL), "");
	/* The client asks again over TCP and gets the whole answer. */
	fd = tcp_connect(&x->at);
	tcp_send(fd, q, qlen);
	n = tcp_read(fd, got, sizeof(got));
	close(fd);
	free(q);
	assert_false(got[2] & 0x02);
	assert_int_equal(got[6] << 8 | got[7], 1);
	assert_string_equal(found(x, "192.0.2.40", NULL, false, NULL),
	    "big.test");
	fx_stop(x);
}

static void
decoys_ignored(void **state)
{
	struct fx *x = fx_start(false, 2);
	uint8_t got[4096], *q;
	size_t qlen, n;

	(void)state;
	/* Three NXDOMAIN decoys come first (another ID, another question,
	 * another port): none is relayed. */
	q = query("decoy.test", DNS_T_A, CID, &qlen);
	n = udp_ask(&x->at, q, qlen, got, sizeof(got), 2000);
	free(q);
	assert_true(n > 12);
	assert_int_equal(id_of(got), CID);
	assert_int_equal(got[3] & 0xf, 0);
	assert_int_equal(got[6] << 8 | got[7], 1);
	assert_string_equal(found(x, "192.0.2.50", NULL, false, NULL),
	    "decoy.test");
	fx_stop(x);
}

static void
next_resolver_then_servfail(void **state)
{
	struct fx *x = fx_start(true, 1);
	uint8_t got[4096], *q;
	size_t qlen, n;
	struct dns_fwd_stats st;

	(void)state;
	/* The first resolver never answers: the second does. */
	q = query("host.test", DNS_T_A, CID, &qlen);
	n = udp_ask(&x->at, q, qlen, got, sizeof(got), 3000);
	free(q);
	assert_true(n > 12);
	assert_int_equal(got[3] & 0xf, 0);
	assert_int_equal(ds_count(x->ds[1]), 1);
	/* No one answers: SERVFAIL, with the question, to the client's ID,
	 * after one try per resolver. */
	q = query("silent.test", DNS_T_A, CID + 7, &qlen);
	n = udp_ask(&x->at, q, qlen, got, sizeof(got), 3000);
	assert_true(n >= qlen - 11);	/* header and question, no OPT */
	assert_int_equal(id_of(got), CID + 7);
	assert_int_equal(got[2] & 0x80, 0x80);
	assert_int_equal(got[3] & 0xf, 2);
	assert_int_equal(got[4] << 8 | got[5], 1);
	assert_memory_equal(got + 12, q + 12, 15);	/* \6silent\4test\0 */
	free(q);
	assert_int_equal(ds_count(x->ds[1]), 2);
	assert_int_equal(ds_count(x->ds[0]), 2);
	/* NXDOMAIN is an answer, relayed as such. */
	q = query("gone.test", DNS_T_A, CID, &qlen);
	n = udp_ask(&x->at, q, qlen, got, sizeof(got), 3000);
	free(q);
	assert_int_equal(got[3] & 0xf, 3);
	dns_fwd_stats(x->f, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.answered, 2);
	fx_stop(x);
}

static void
not_queries(void **state)
{
	struct fx *x = fx_start(false, 2);
	uint8_t got[4096], *q, bad[512];
	size_t qlen, n;
	struct dns_fwd_stats st;

	(void)state;
	q = query("host.test", DNS_T_A, CID, &qlen);
	/* Two questions: FORMERR. */
	memcpy(bad, q, qlen);
	bad[5] = 2;
	n = udp_ask(&x->at, bad, qlen, got, sizeof(got), 2000);
	assert_true(n >= 12);
	assert_int_equal(got[3] & 0xf, 1);
	assert_int_equal(id_of(got), CID);
	/* Opcode STATUS (2): NOTIMP. */
	memcpy(bad, q, qlen);
	bad[2] = (uint8_t)((bad[2] & 0x87) | (2 << 3));
	n = udp_ask(&x->at, bad, qlen, got, sizeof(got), 2000);
	assert_true(n >= 12);
	assert_int_equal(got[3] & 0xf, 4);
	/* A compressed name in the question: FORMERR. */
	memcpy(bad, q, 12);
	memcpy(bad + 12, "\xc0\x0c\x00\x01\x00\x01", 6);
	n = udp_ask(&x->at, bad, 18, got, sizeof(got), 2000);
	assert_int_equal(got[3] & 0xf, 1);
	/* An answer (QR set) or a short message: no reply at all. */
	memcpy(bad, q, qlen);
	bad[2] |= 0x80;
	assert_int_equal(udp_ask(&x->at, bad, qlen, got, sizeof(got), 300),
	    0);
	assert_int_equal(udp_ask(&x->at, q, 11, got, sizeof(got), 300), 0);
	free(q);
	/* Nothing of that reached the resolver. */
	assert_int_equal(ds_count(x->ds[0]), 0);
	dns_fwd_stats(x->f, &st);
	assert_int_equal(st.refused, 3);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.queries, 0);
	fx_stop(x);
}

static void
mx_hosts_learned(void **state)
{
	struct fx *x = fx_start(false, 2);
	uint8_t got[4096], *q;
	size_t qlen;
	enum nm_kind k;

	(void)state;
	/* As an MTA does it: MX first, then the host's address. */
	q = query("dane.test", DNS_T_MX, CID, &qlen);
	assert_true(udp_ask(&x->at, q, qlen, got, sizeof(got), 2000) > 12);
	free(q);
	q = query("mx1.dane.test", DNS_T_A, CID, &qlen);
	assert_true(udp_ask(&x->at, q, qlen, got, sizeof(got), 2000) > 12);
	free(q);
	assert_string_equal(found(x, "192.0.2.30", "127.0.0.1", true, &k),
	    "mx1.dane.test");
	assert_int_equal(k, NM_MX);
	assert_string_equal(found(x, "192.0.2.30", "127.0.0.1", false, &k),
	    "mx1.dane.test");
	fx_stop(x);
}

static void
inflight_bounded(void **state)
{
	struct fx *x;
	uint8_t *q;
	size_t qlen;
	struct dns_fwd_stats st;
	int fd;

	(void)state;
	x = fx_start(false, 2);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	for (int i = 0; i < DNS_FWD_INFLIGHT_MAX + 100; i++) {
		q = query("silent.test", DNS_T_A, (uint16_t)i, &qlen);
		assert_int_equal(sendto(fd, q, qlen, 0,
		    (const struct sockaddr *)&x->at,
		    sizeof(struct sockaddr_in)), (ssize_t)qlen);
		free(q);
		if (i % 64 == 63)
			usleep(20000);	/* let the forwarder read */
	}
	/* Wait for all to be read (the first tries last ATTEMPT_MS). */
	for (int i = 0; i < 100; i++) {
		dns_fwd_stats(x->f, &st);
		if (st.queries + st.dropped >= DNS_FWD_INFLIGHT_MAX + 100)
			break;
		usleep(10000);
	}
	close(fd);
	dns_fwd_stats(x->f, &st);
	assert_true(st.queries <= DNS_FWD_INFLIGHT_MAX + st.failed);
	assert_true(st.dropped > 0);
	/* Closing with queries in flight frees everything (fx_stop checks
	 * that the loop ends). */
	fx_stop(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(udp_answer_unchanged),
		cmocka_unit_test(tcp_pipelined),
		cmocka_unit_test(truncated_then_tcp),
		cmocka_unit_test(decoys_ignored),
		cmocka_unit_test(next_resolver_then_servfail),
		cmocka_unit_test(not_queries),
		cmocka_unit_test(mx_hosts_learned),
		cmocka_unit_test(inflight_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
