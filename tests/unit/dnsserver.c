/*
 * dnsserver.c - the scripted DNS server of dnsserver.h.
 *
 * One thread serves both sockets with poll(), one query at a time; every
 * wait (a delay, a TCP read) also watches a wake pipe, so ds_stop() ends
 * the thread at once whatever it is doing.  Queries are parsed and
 * answers built with ldns; the log of queries is shared with the test
 * thread under a mutex.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "tests/unit/dnsserver.h"

#define TCP_IDLE_MS	3000	/* a TCP client silent this long is dropped */

struct dnsserver {
	const struct ds_rule	*rules;
	size_t			 nrules;
	int			 udp, tcp, decoy;	/* sockets */
	int			 wake[2];
	int			 port;
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	struct ds_query		 log[DS_MAX_LOG];
	unsigned		 nlog, ntcp;
	bool			 stopping;
};

/* ds_wait - wait for fd to be readable, at most ms (-1: forever); 1 when
 * it is, 0 on timeout, -1 when the server is being stopped */
static int
ds_wait(struct dnsserver *ds, int fd, int ms)
{
	struct pollfd p[2] = { { .fd = ds->wake[0], .events = POLLIN },
	    { .fd = fd, .events = POLLIN } };
	int n;

	do
		n = poll(p, fd >= 0 ? 2 : 1, ms);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (p[0].revents & POLLIN))
		return -1;
	return n > 0 ? 1 : 0;
}

/* rule_for - the first rule for name/type, or NULL */
static const struct ds_rule *
rule_for(const struct dnsserver *ds, const char *name, uint16_t type)
{
	size_t i;

	for (i = 0; i < ds->nrules; i++) {
		const struct ds_rule *r = &ds->rules[i];

		if ((r->name == NULL || strcmp(r->name, name) == 0) &&
		    (r->type == 0 || r->type == type))
			return r;
	}
	return NULL;
}

/* push_section - the records of list into section of p; false if one
 * does not parse (the test is wrong: said on stderr) */
static bool
push_section(ldns_pkt *p, ldns_pkt_section section, const char *const *list,
    size_t max)
{
	ldns_rr *rr;
	ldns_status st;
	size_t i;

	for (i = 0; i < max && list[i] != NULL; i++) {
		if ((st = ldns_rr_new_frm_str(&rr, list[i], 0, NULL,
		    NULL)) != LDNS_STATUS_OK) {
			fprintf(stderr, "dnsserver: bad record \"%s\": %s\n",
			    list[i], ldns_get_errorstr_by_id(st));
			return false;
		}
		ldns_pkt_push_rr(p, section, rr);
	}
	return true;
}

/*
 * build - the answer to q as r says, written to *wire (malloc'd).  id and
 * qname override the query's (decoys); rcode < 0 takes r's; empty leaves
 * the sections out (a truncated or decoy answer).
 */
static bool
build(const ldns_pkt *q, const struct ds_rule *r, uint16_t id,
    const char *qname, int rcode, bool tc, bool empty, uint8_t **wire,
    size_t *len)
{
	ldns_rr *question = ldns_rr_clone(ldns_rr_list_rr(
	    ldns_pkt_question(q), 0));
	ldns_pkt *p = ldns_pkt_new();
	bool ok = p != NULL && question != NULL;

	if (ok && qname != NULL) {
		ldns_rdf *dn = ldns_dname_new_frm_str(qname);

		if ((ok = dn != NULL)) {
			ldns_rdf *was = ldns_rr_owner(question);

			ldns_rr_set_owner(question, dn);
			ldns_rdf_deep_free(was);
		}
	}
	if (!ok) {
		ldns_rr_free(question);
		ldns_pkt_free(p);
		return false;
	}
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_opcode(p, LDNS_PACKET_QUERY);
	ldns_pkt_set_rd(p, ldns_pkt_rd(q));
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_tc(p, tc);
	ldns_pkt_set_ad(p, r != NULL && (r->flags & DS_AD));
	ldns_pkt_set_rcode(p, rcode >= 0 ? rcode : r != NULL ? r->rcode :
	    LDNS_RCODE_REFUSED);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, question);
	if (ldns_pkt_edns_udp_size(q) > 0) {
		ldns_pkt_set_edns_udp_size(p, 1232);
		ldns_pkt_set_edns_do(p, ldns_pkt_edns_do(q));
	}
	if (r != NULL && !empty)
		ok = push_section(p, LDNS_SECTION_ANSWER, r->an, DS_MAX_RR) &&
		    push_section(p, LDNS_SECTION_AUTHORITY, r->ns, 4);
	ok = ok && ldns_pkt2wire(wire, p, len) == LDNS_STATUS_OK;
	ldns_pkt_free(p);
	return ok;
}

/* log_query - note what came; false if q has no usable question */
static bool
log_query(struct dnsserver *ds, const ldns_pkt *q, bool tcp, uint16_t port,
    struct ds_query *out)
{
	ldns_rr *qr;
	char *s;
	size_t n, i;

	memset(out, 0, sizeof(*out));
	if (ldns_pkt_qdcount(q) != 1 ||
	    (qr = ldns_rr_list_rr(ldns_pkt_question(q), 0)) == NULL ||
	    (s = ldns_rdf2str(ldns_rr_owner(qr))) == NULL)
		return false;
	n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		s[--n] = '\0';
	for (i = 0; i < n && i < sizeof(out->name) - 1; i++)
		out->name[i] = (char)tolower((unsigned char)s[i]);
	free(s);
	out->type = ldns_rr_get_type(qr);
	out->id = ldns_pkt_id(q);
	out->port = port;
	out->tcp = tcp;
	out->rd = ldns_pkt_rd(q);
	out->edns = ldns_pkt_edns_udp_size(q) > 0;
	out->do_bit = ldns_pkt_edns_do(q);
	pthread_mutex_lock(&ds->mu);
	if (ds->nlog < DS_MAX_LOG)
		ds->log[ds->nlog] = *out;
	ds->nlog++;
	ds->ntcp += tcp;
	pthread_mutex_unlock(&ds->mu);
	return true;
}

/* garbage - a header that promises a question and stops there */
static void
garbage(uint16_t id, uint8_t **wire, size_t *len)
{
	static const uint8_t hdr[12] = { 0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0,
	    0, 0 };

	if ((*wire = malloc(sizeof(hdr))) == NULL)
		return;
	memcpy(*wire, hdr, sizeof(hdr));
	(*wire)[0] = id >> 8;
	(*wire)[1] = id & 0xff;
	*len = sizeof(hdr);
}

/* send_decoys - three answers the client must not take, then return */
static void
send_decoys(struct dnsserver *ds, const ldns_pkt *q, const ldns_rr *qr,
    const struct sockaddr *to, socklen_t tolen)
{
	uint8_t *w;
	size_t len;
	char *owner, other[300];

	if ((owner = ldns_rdf2str(ldns_rr_owner(qr))) == NULL)
		return;
	snprintf(other, sizeof(other), "decoy.%s", owner);
	free(owner);
	if (build(q, NULL, ldns_pkt_id(q) ^ 0x5a5a, NULL, LDNS_RCODE_NXDOMAIN,
	    false, true, &w, &len)) {
		sendto(ds->udp, w, len, 0, to, tolen);
		free(w);
	}
	if (build(q, NULL, ldns_pkt_id(q), other, LDNS_RCODE_NXDOMAIN, false,
	    true, &w, &len)) {
		sendto(ds->udp, w, len, 0, to, tolen);
		free(w);
	}
	if (build(q, NULL, ldns_pkt_id(q), NULL, LDNS_RCODE_NXDOMAIN, false,
	    true, &w, &len)) {
		sendto(ds->decoy, w, len, 0, to, tolen);
		free(w);
	}
}

/*
 * answer - the reply to one query (wire[0..len)) in *out, or nothing
 * (*out NULL: silent, or not a query).  to is the UDP client (NULL over
 * TCP), for decoys.  Returns false when the server is being stopped.
 */
static bool
answer(struct dnsserver *ds, const uint8_t *wire, size_t len, bool tcp,
    const struct sockaddr *to, socklen_t tolen, uint8_t **out,
    size_t *outlen)
{
	const struct ds_rule *r;
	struct ds_query lq;
	ldns_pkt *q = NULL;
	uint16_t port = 0;

	*out = NULL;
	*outlen = 0;
	if (to != NULL)
		port = ntohs(((const struct sockaddr_in *)to)->sin_port);
	if (ldns_wire2pkt(&q, wire, len) != LDNS_STATUS_OK)
		return true;
	if (!log_query(ds, q, tcp, port, &lq)) {
		ldns_pkt_free(q);
		return true;
	}
	r = rule_for(ds, lq.name, lq.type);
	if (r != NULL && r->delay_ms > 0 &&
	    ds_wait(ds, -1, (int)r->delay_ms) < 0) {
		ldns_pkt_free(q);
		return false;
	}
	if (r != NULL && ((r->flags & DS_SILENT) ||
	    (tcp && (r->flags & DS_TCP_HANGUP)))) {
		ldns_pkt_free(q);
		return true;
	}
	if (r != NULL && (r->flags & DS_GARBAGE))
		garbage(lq.id, out, outlen);
	else {
		if (!tcp && r != NULL && (r->flags & DS_DECOYS))
			send_decoys(ds, q, ldns_rr_list_rr(
			    ldns_pkt_question(q), 0), to, tolen);
		if (!build(q, r, lq.id, NULL, -1, !tcp && r != NULL &&
		    (r->flags & DS_TC), !tcp && r != NULL &&
		    (r->flags & DS_TC), out, outlen))
			fprintf(stderr, "dnsserver: cannot build the answer "
			    "for %s\n", lq.name);
	}
	ldns_pkt_free(q);
	return true;
}

/* serve_udp - one datagram */
static bool
serve_udp(struct dnsserver *ds)
{
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	uint8_t buf[65536], *out;
	size_t outlen;
	ssize_t n;
	bool go;

	n = recvfrom(ds->udp, buf, sizeof(buf), 0, (struct sockaddr *)&from,
	    &fromlen);
	if (n <= 0)
		return true;
	go = answer(ds, buf, n, false, (struct sockaddr *)&from, fromlen,
	    &out, &outlen);
	if (out != NULL)
		sendto(ds->udp, out, outlen, 0, (struct sockaddr *)&from,
		    fromlen);
	free(out);
	return go;
}

/* read_full - exactly len bytes from fd; false on EOF, error, idle
 * timeout, or when stopping (*stop then set) */
static bool
read_full(struct dnsserver *ds, int fd, uint8_t *p, size_t len, bool *stop)
{
	ssize_t n;
	int w;

	while (len > 0) {
		if ((w = ds_wait(ds, fd, TCP_IDLE_MS)) <= 0) {
			*stop = w < 0;
			return false;
		}
		if ((n = read(fd, p, len)) <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* serve_tcp - one connection, query after query, until EOF */
static bool
serve_tcp(struct dnsserver *ds)
{
	uint8_t hdr[2], *msg = NULL, *out;
	size_t len, outlen;
	bool stop = false, go = true;
	int fd;

	if ((fd = accept(ds->tcp, NULL, NULL)) < 0)
		return true;
	while (go && read_full(ds, fd, hdr, 2, &stop)) {
		len = (size_t)hdr[0] << 8 | hdr[1];
		if ((msg = malloc(len + 1)) == NULL ||
		    !read_full(ds, fd, msg, len, &stop))
			break;
		go = answer(ds, msg, len, true, NULL, 0, &out, &outlen);
		free(msg);
		msg = NULL;
		if (out == NULL)
			break;		/* silent: hang up */
		hdr[0] = outlen >> 8;
		hdr[1] = outlen & 0xff;
		/* A client that hung up must not kill the test: no SIGPIPE. */
		if (send(fd, hdr, 2, MSG_NOSIGNAL) != 2 ||
		    send(fd, out, outlen, MSG_NOSIGNAL) != (ssize_t)outlen) {
			free(out);
			break;
		}
		free(out);
	}
	free(msg);
	close(fd);
	return go && !stop;
}

static void *
ds_main(void *arg)
{
	struct dnsserver *ds = arg;
	struct pollfd p[3] = { { .fd = ds->wake[0], .events = POLLIN },
	    { .fd = ds->udp, .events = POLLIN },
	    { .fd = ds->tcp, .events = POLLIN } };
	bool go = true;

	while (go) {
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & POLLIN)
			break;
		if (p[1].revents & POLLIN)
			go = serve_udp(ds);
		if (go && (p[2].revents & POLLIN))
			go = serve_tcp(ds);
	}
	return NULL;
}

/* bind_loopback - a socket of type bound to 127.0.0.1:port (0: any);
 * -1 on failure */
static int
bind_loopback(int type, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd, one = 1;

	if ((fd = socket(AF_INET, type | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* local_port - the port a socket is bound to */
static int
local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	return ntohs(sin.sin_port);
}

/* ds_start - sockets on one free port, and the thread */
struct dnsserver *
ds_start(const struct ds_rule *rules, size_t n)
{
	struct dnsserver *ds;
	int i;

	if ((ds = calloc(1, sizeof(*ds))) == NULL)
		return NULL;
	ds->rules = rules;
	ds->nrules = n;
	ds->tcp = ds->udp = ds->decoy = ds->wake[0] = ds->wake[1] = -1;
	pthread_mutex_init(&ds->mu, NULL);
	/* A free UDP port may be taken for TCP: try a few. */
	for (i = 0; i < 50 && ds->tcp < 0; i++) {
		if (ds->udp >= 0)
			close(ds->udp);
		if ((ds->udp = bind_loopback(SOCK_DGRAM, 0)) < 0)
			break;
		ds->port = local_port(ds->udp);
		ds->tcp = bind_loopback(SOCK_STREAM, ds->port);
	}
	if (ds->tcp < 0 || (ds->decoy = bind_loopback(SOCK_DGRAM, 0)) < 0 ||
	    pipe(ds->wake) < 0)
		goto fail;
	if (pthread_create(&ds->thread, NULL, ds_main, ds) != 0) {
		close(ds->wake[0]);
		close(ds->wake[1]);
		ds->wake[0] = ds->wake[1] = -1;	/* nothing to join */
		goto fail;
	}
	return ds;
fail:
	fprintf(stderr, "dnsserver: cannot start: %s\n", strerror(errno));
	ds_stop(ds);
	return NULL;
}

/* ds_stop - wake the thread, join it, release everything */
void
ds_stop(struct dnsserver *ds)
{
	if (ds == NULL)
		return;
	if (ds->wake[1] >= 0) {
		if (write(ds->wake[1], "x", 1) != 1)
			fprintf(stderr, "dnsserver: cannot wake: %s\n",
			    strerror(errno));
		pthread_join(ds->thread, NULL);
		close(ds->wake[0]);
		close(ds->wake[1]);
	}
	if (ds->udp >= 0)
		close(ds->udp);
	if (ds->tcp >= 0)
		close(ds->tcp);
	if (ds->decoy >= 0)
		close(ds->decoy);
	pthread_mutex_destroy(&ds->mu);
	free(ds);
}

void
ds_addr(const struct dnsserver *ds, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(ds->port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int
ds_port(const struct dnsserver *ds)
{
	return ds->port;
}

unsigned
ds_count(struct dnsserver *ds)
{
	unsigned n;

	pthread_mutex_lock(&ds->mu);
	n = ds->nlog;
	pthread_mutex_unlock(&ds->mu);
	return n;
}

unsigned
ds_count_tcp(struct dnsserver *ds)
{
	unsigned n;

	pthread_mutex_lock(&ds->mu);
	n = ds->ntcp;
	pthread_mutex_unlock(&ds->mu);
	return n;
}

bool
ds_query(struct dnsserver *ds, unsigned i, struct ds_query *out)
{
	bool ok;

	pthread_mutex_lock(&ds->mu);
	if ((ok = i < ds->nlog && i < DS_MAX_LOG))
		*out = ds->log[i];
	pthread_mutex_unlock(&ds->mu);
	return ok;
}
