/*
 * dns.c - the asynchronous DNS client: lookups, requests, and the queries
 * that answer them (their tries, what an answer means, the cache).  The
 * bytes of each try go over the network in dns_net.c.
 *
 * Who owns what:
 *  - struct dns_client, one per loop, is freed once it is closing and
 *    the last of its handles is closed: its idle handle and every query
 *    still alive (c->alive counts them).  Until then a callback may read
 *    it, which is what makes dns_client_close() safe inside a callback.
 *  - struct dns_req, one per dns_lookup(), waits on a query
 *    (q->waiters), or sits on c->ready holding a reference to its answer
 *    record.  It is freed when its callback returns or when cancelled.
 *  - struct dns_query, one per (name, type) being asked, shared by every
 *    request for that key.  It owns a timer and (through dns_net.c) at
 *    most one UDP and one TCP handle at a time; it is freed when it is
 *    finished and its handles are all closed, and nothing then points at
 *    it.
 *
 * Every callback is called from on_ready() (an idle handle, so on a later
 * loop turn): hosts answers, cache hits and finished queries all put
 * their requests on c->ready.  That keeps dns_lookup() free of callbacks,
 * and gives one place where a callback may cancel other requests or
 * close the client.
 *
 * Tries: attempts rounds over the resolvers in order (as glibc does with
 * "options attempts"), one UDP datagram and timeout_ms each.  A truncated
 * answer is asked again over TCP within the same try.  A resolver that
 * answers with a failure (REFUSED, SERVFAIL from a resolver not trusted,
 * an unusable answer) is not asked again for this query; when every try
 * is used up, the last such failure is the result, or DNS_TIMEOUT when no
 * resolver ever answered.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <uv.h>

#include "shim/dns.h"
#include "shim/dns_int.h"
#include "shim/log.h"

#define TIMEOUT_MS_DEFAULT	2000
#define ATTEMPTS_DEFAULT	2

#define DL_ITEM(p, type, field) \
	((type *)(void *)((char *)(p) - offsetof(type, field)))

enum req_state { RQ_WAITING, RQ_READY, RQ_DELIVERING };

struct dns_req {
	struct dlink		 link;		/* in q->waiters, c->ready or
						 * c->drain */
	struct dns_client	*c;
	enum req_state		 state;
	bool			 cached;
	struct dns_rec		*rec;		/* once RQ_READY */
	dns_cb			 cb;
	void			*arg;
	uint16_t		 type;
	char			 name[DNS_NAME_MAX];
};

static void	q_try(struct dns_query *);
static void	on_timeout(uv_timer_t *);

/* ----------------------------------------------------------------- lists */

static void
dl_init(struct dlink *h)
{
	h->prev = h->next = h;
}

static bool
dl_empty(const struct dlink *h)
{
	return h->next == h;
}

/* dl_add - append e to the list headed by h */
static void
dl_add(struct dlink *h, struct dlink *e)
{
	e->prev = h->prev;
	e->next = h;
	h->prev->next = e;
	h->prev = e;
}

/* dl_del - take e out of whatever list holds it */
static void
dl_del(struct dlink *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	dl_init(e);
}

/* dl_splice - move every element of from to the end of to */
static void
dl_splice(struct dlink *from, struct dlink *to)
{
	if (dl_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	dl_init(from);
}

/* ---------------------------------------------------------------- helpers */

/* type_name - a query type for the log */
static const char *
type_name(uint16_t type, char *buf, size_t len)
{
	switch (type) {
	case DNS_T_A:		return "A";
	case DNS_T_CNAME:	return "CNAME";
	case DNS_T_MX:		return "MX";
	case DNS_T_AAAA:	return "AAAA";
	case DNS_T_SRV:		return "SRV";
	case DNS_T_TLSA:	return "TLSA";
	}
	snprintf(buf, len, "TYPE%u", type);
	return buf;
}

/* addr_name - "192.0.2.1 port 53" for errors and the log */
static void
addr_name(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		uv_ip4_name((const void *)ss, ip, sizeof(ip));
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		uv_ip6_name((const void *)ss, ip, sizeof(ip));
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	}
	snprintf(buf, len, "%s port %u", ip, port);
}

/* -------------------------------------------------------------- requests */

/* req_free - drop a request that is in no list */
static void
req_free(struct dns_req *r)
{
	dns_rec_unref(r->rec);
	free(r);
}

/* drop_reqs - free every request of a list, with no callback */
static void
drop_reqs(struct dlink *h)
{
	struct dns_req *r;

	while (!dl_empty(h)) {
		r = DL_ITEM(h->next, struct dns_req, link);
		dl_del(&r->link);
		req_free(r);
	}
}

/* on_ready - call back the requests that were ready when this turn began */
static void
on_ready(uv_idle_t *idle)
{
	struct dns_client *c = idle->data;
	struct dns_result res;
	struct dns_req *r;

	/* Requests made ready by these callbacks (cache hits) wait for the
	 * next turn: a callback that keeps asking cannot starve the loop. */
	dl_splice(&c->ready, &c->drain);
	while (!c->closing && !dl_empty(&c->drain)) {
		r = DL_ITEM(c->drain.next, struct dns_req, link);
		dl_del(&r->link);
		r->state = RQ_DELIVERING;
		res.name = r->name;
		res.type = r->type;
		res.status = r->rec->ans.status;
		res.dnssec = r->rec->dnssec;
		res.answer = &r->rec->ans;
		res.from_hosts = r->rec->from_hosts;
		res.cached = r->cached;
		res.err = r->rec->err;
		r->cb(r->arg, &res);
		req_free(r);
	}
	/* A closing client's idle handle is closing too (c is still valid:
	 * it is freed only in a close callback, never inside one of ours). */
	if (!c->closing && dl_empty(&c->ready))
		uv_idle_stop(&c->idle);
}

/* req_ready - r gets rec on the next loop turn */
static void
req_ready(struct dns_client *c, struct dns_req *r, struct dns_rec *rec)
{
	r->rec = dns_rec_ref(rec);
	r->state = RQ_READY;
	dl_add(&c->ready, &r->link);
	uv_idle_start(&c->idle, on_ready);
}

/* client_maybe_free - free a closing client once nothing refers to it */
static void
client_maybe_free(struct dns_client *c)
{
	if (c->closing && c->alive == 0)
		free(c);
}

/* --------------------------------------------------------------- queries */

/* dns_query_handle_closed - one handle of q is closed; the last frees q */
void
dns_query_handle_closed(struct dns_query *q)
{
	struct dns_client *c = q->c;

	if (--q->handles > 0)
		return;
	free(q->wire);
	dns_rec_unref(q->fail);
	free(q);
	c->alive--;
	client_maybe_free(c);
}

static void
timer_closed(uv_handle_t *h)
{
	dns_query_handle_closed(h->data);
}

/* q_close - close every handle of a finished or abandoned query */
static void
q_close(struct dns_query *q)
{
	if (!uv_is_closing((uv_handle_t *)&q->timer))
		uv_close((uv_handle_t *)&q->timer, timer_closed);
	dns_net_close(q);
}

/* q_finish - q has its answer (one reference of rec is given): cache it,
 * hand it to every waiting request, and close */
static void
q_finish(struct dns_query *q, struct dns_rec *rec)
{
	struct dns_client *c = q->c;
	struct dns_req *r;
	char tbuf[16];

	q->done = true;
	uv_timer_stop(&q->timer);
	dl_del(&q->link);
	logmsg(LOG_L_DETAIL, "dns %s %s: %s dnssec=%s%s%s", q->name,
	    type_name(q->type, tbuf, sizeof(tbuf)),
	    dns_status_name(rec->ans.status), dnssec_name(rec->dnssec),
	    rec->err[0] != '\0' ? " " : "", rec->err);
	/*
	 * Only answers are cached, positive and negative, for their TTL.
	 * SERVFAIL, REFUSED, unusable answers and timeouts are not: the
	 * recursive resolver behind us already caches failures (RFC 9520),
	 * the requests waiting now share this one query, and a failure kept
	 * here would outlast the outage it reports, making every new session
	 * skip a host or defer mail that could go.
	 */
	if (rec->ans.status == DNS_OK || rec->ans.status == DNS_NODATA ||
	    rec->ans.status == DNS_NXDOMAIN)
		dns_cache_put(c->cache, q->name, q->type, rec, rec->ans.ttl,
		    uv_now(c->loop));
	while (!dl_empty(&q->waiters)) {
		r = DL_ITEM(q->waiters.next, struct dns_req, link);
		dl_del(&r->link);
		req_ready(c, r, rec);
	}
	dns_rec_unref(rec);
	q_close(q);
}

/* q_give_up - every try is used: the last failure, or a timeout */
static void
q_give_up(struct dns_query *q)
{
	struct dns_client *c = q->c;
	struct dns_rec *rec;

	if (q->fail != NULL) {
		q_finish(q, dns_rec_ref(q->fail));
		return;
	}
	if ((rec = dns_rec_new()) == NULL) {
		q_finish(q, dns_rec_ref(c->oom));
		return;
	}
	rec->ans.status = DNS_TIMEOUT;
	rec->dnssec = DNSSEC_INDETERMINATE;
	snprintf(rec->err, sizeof(rec->err),
	    "no answer from %zu resolver%s in %u attempt%s of %u ms",
	    c->set.nresolvers, c->set.nresolvers > 1 ? "s" : "",
	    c->set.attempts, c->set.attempts > 1 ? "s" : "",
	    c->set.timeout_ms);
	q_finish(q, rec);
}

/* q_failed - resolver res answered with a failure (rec, given): do not
 * ask it again, try the next one */
static void
q_failed(struct dns_query *q, size_t res, struct dns_rec *rec)
{
	rec->dnssec = DNSSEC_INDETERMINATE;
	if (rec->err[0] == '\0')
		snprintf(rec->err, sizeof(rec->err), "%s from %s",
		    dns_status_name(rec->ans.status), q->c->res_name[res]);
	logmsg(LOG_L_DETAIL, "dns %s: %s", q->name, rec->err);
	q->failed[res] = true;
	dns_rec_unref(q->fail);
	q->fail = rec;
	dns_query_next(q);
}

/* dns_query_reply - an answer from resolver res: ours? usable? final? */
void
dns_query_reply(struct dns_query *q, size_t res, const uint8_t *wire,
    size_t len, bool tcp)
{
	struct dns_client *c = q->c;
	struct dns_rec *rec;
	char err[DNS_ERR_MAX];
	enum dns_parse_rc rc;
	int uvrc;

	if ((rec = dns_rec_new()) == NULL) {
		dns_query_next(q);
		return;
	}
	err[0] = '\0';
	rc = dns_answer_parse(wire, len, q->id, q->name, q->type, &rec->ans,
	    err, sizeof(err));
	if (rc == DNS_E_MISMATCH) {
		dns_rec_unref(rec);
		logmsg(LOG_L_DETAIL, "dns %s: ignoring an answer from %s that "
		    "is not ours", q->name, c->res_name[res]);
		/* Over TCP it was the only answer the connection will have. */
		if (tcp)
			dns_query_next(q);
		return;
	}
	if (rc == DNS_E_BAD || (rec->ans.tc && tcp)) {
		rec->ans.status = DNS_MALFORMED;
		snprintf(rec->err, sizeof(rec->err), "answer from %s: %s",
		    c->res_name[res], rc == DNS_E_BAD ? err :
		    "truncated over TCP");
		q_failed(q, res, rec);
		return;
	}
	if (rec->ans.tc) {
		dns_rec_unref(rec);
		logmsg(LOG_L_DETAIL, "dns %s: truncated answer from %s, "
		    "asking over TCP", q->name, c->res_name[res]);
		if ((uvrc = dns_net_tcp_ask(q, res)) < 0) {
			logmsg(LOG_L_DETAIL, "dns %s: TCP to %s: %s", q->name,
			    c->res_name[res], uv_strerror(uvrc));
			dns_query_next(q);
			return;
		}
		/* The TCP exchange gets a whole timeout of its own. */
		uv_timer_start(&q->timer, on_timeout, c->set.timeout_ms, 0);
		return;
	}
	switch (rec->ans.status) {
	case DNS_OK:
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		if (!c->trusted)
			rec->dnssec = DNSSEC_INDETERMINATE;
		else
			rec->dnssec = rec->ans.ad ? DNSSEC_SECURE :
			    DNSSEC_INSECURE;
		q_finish(q, rec);
		return;
	case DNS_SERVFAIL:
		/* A validating resolver we trust says SERVFAIL when the
		 * signatures do not hold: asking another would be shopping
		 * for an answer that an attacker made. */
		if (c->trusted) {
			rec->dnssec = DNSSEC_BOGUS;
			snprintf(rec->err, sizeof(rec->err), "SERVFAIL from "
			    "the validating resolver %s", c->res_name[res]);
			q_finish(q, rec);
			return;
		}
		break;
	default:
		break;
	}
	q_failed(q, res, rec);
}

static void
on_timeout(uv_timer_t *timer)
{
	struct dns_query *q = timer->data;
	size_t res = q->try % q->c->set.nresolvers;

	if (q->done)
		return;
	logmsg(LOG_L_DETAIL, "dns %s: no answer from %s in %u ms%s",
	    q->name, q->c->res_name[res], q->c->set.timeout_ms,
	    q->tcp != NULL ? " over TCP" : "");
	dns_query_next(q);
}

/* q_try - start the current try, or the first after it that can start */
static void
q_try(struct dns_query *q)
{
	struct dns_client *c = q->c;
	size_t res;
	int rc;

	for (; q->try < q->ntries; q->try++) {
		res = q->try % c->set.nresolvers;
		if (q->failed[res])
			continue;
		if ((rc = dns_net_udp_ask(q, res)) == 0) {
			uv_timer_start(&q->timer, on_timeout,
			    c->set.timeout_ms, 0);
			return;
		}
		logmsg(LOG_L_DETAIL, "dns %s: cannot ask %s: %s", q->name,
		    c->res_name[res], uv_strerror(rc));
	}
	q_give_up(q);
}

/* dns_query_next - the current try is over without an answer: the next */
void
dns_query_next(struct dns_query *q)
{
	uv_timer_stop(&q->timer);
	dns_net_close_tcp(q);
	q->try++;
	q_try(q);
}

/* q_find - the query in flight for name/type, if any */
static struct dns_query *
q_find(struct dns_client *c, const char *name, uint16_t type)
{
	struct dlink *l;
	struct dns_query *q;

	for (l = c->queries.next; l != &c->queries; l = l->next) {
		q = DL_ITEM(l, struct dns_query, link);
		if (q->type == type && strcmp(q->name, name) == 0)
			return q;
	}
	return NULL;
}

/* q_new - a query for name/type with a fresh random ID, not started */
static struct dns_query *
q_new(struct dns_client *c, const char *name, uint16_t type, char *err,
    size_t errlen)
{
	struct dns_query *q;
	int rc;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* The ID and the source port are all that stand between a blind
	 * spoofer and the cache: both are unpredictable. */
	if ((rc = gnutls_rnd(GNUTLS_RND_NONCE, &q->id, sizeof(q->id))) < 0) {
		snprintf(err, errlen, "random query ID: %s",
		    gnutls_strerror(rc));
		free(q);
		return NULL;
	}
	if (!dns_query_build(name, type, q->id, c->trusted, &q->wire,
	    &q->wlen, err, errlen)) {
		free(q);
		return NULL;
	}
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->type = type;
	q->c = c;
	q->ntries = c->set.attempts * c->set.nresolvers;
	dl_init(&q->waiters);
	uv_timer_init(c->loop, &q->timer);
	q->timer.data = q;
	q->handles = 1;
	dl_add(&c->queries, &q->link);
	c->alive++;
	return q;
}

/* ---------------------------------------------------------------- client */

/* dns_client_new - a client on loop with a copy of s */
struct dns_client *
dns_client_new(uv_loop_t *loop, const struct dns_settings *s, char *err,
    size_t errlen)
{
	struct dns_client *c;
	size_t i;

	if (s->nresolvers == 0 || s->nresolvers > DNS_MAX_RESOLVERS) {
		snprintf(err, errlen, "no resolver to ask");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->loop = loop;
	c->set = *s;
	c->set.resolv_conf = NULL;	/* the caller's strings are not kept */
	c->set.hosts = NULL;
	if (c->set.timeout_ms == 0)
		c->set.timeout_ms = TIMEOUT_MS_DEFAULT;
	if (c->set.attempts == 0)
		c->set.attempts = ATTEMPTS_DEFAULT;
	for (i = 0; i < s->nresolvers; i++)
		addr_name(&s->resolver[i], c->res_name[i],
		    sizeof(c->res_name[i]));
	c->trusted = dns_settings_trusted(s);
	dl_init(&c->ready);
	dl_init(&c->drain);
	dl_init(&c->queries);
	c->cache = dns_cache_new();
	c->hosts = dns_hosts_load(s->hosts);
	if ((c->oom = dns_rec_new()) != NULL) {
		c->oom->ans.status = DNS_TIMEOUT;
		c->oom->dnssec = DNSSEC_INDETERMINATE;
		snprintf(c->oom->err, sizeof(c->oom->err), "out of memory");
	}
	if (c->cache == NULL || c->hosts == NULL || c->oom == NULL) {
		dns_cache_free(c->cache);
		dns_hosts_free(c->hosts);
		dns_rec_unref(c->oom);
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	uv_idle_init(loop, &c->idle);
	c->idle.data = c;
	c->alive = 1;
	return c;
}

static void
idle_closed(uv_handle_t *h)
{
	struct dns_client *c = h->data;

	c->alive--;
	client_maybe_free(c);
}

/* dns_client_close - drop every request, close every handle */
void
dns_client_close(struct dns_client *c)
{
	struct dns_query *q;

	if (c == NULL || c->closing)
		return;
	c->closing = true;
	drop_reqs(&c->ready);
	drop_reqs(&c->drain);
	while (!dl_empty(&c->queries)) {
		q = DL_ITEM(c->queries.next, struct dns_query, link);
		dl_del(&q->link);
		q->done = true;
		uv_timer_stop(&q->timer);
		drop_reqs(&q->waiters);
		q_close(q);
	}
	dns_cache_free(c->cache);
	c->cache = NULL;
	dns_hosts_free(c->hosts);
	c->hosts = NULL;
	dns_rec_unref(c->oom);
	c->oom = NULL;
	uv_close((uv_handle_t *)&c->idle, idle_closed);
}

/* dns_lookup - ask for name/type; cb comes on a later loop turn */
struct dns_req *
dns_lookup(struct dns_client *c, const char *name, uint16_t type, dns_cb cb,
    void *arg, char *err, size_t errlen)
{
	struct dns_query *q;
	struct dns_req *r;
	struct dns_rec *rec;
	bool oom;

	if (c->closing) {
		snprintf(err, errlen, "the DNS client is closed");
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!dns_name_normalize(name, r->name, sizeof(r->name))) {
		snprintf(err, errlen, "not a domain name: \"%.*s\"",
		    DNS_NAME_MAX, name);
		free(r);
		return NULL;
	}
	r->c = c;
	r->type = type;
	r->cb = cb;
	r->arg = arg;
	if ((rec = dns_hosts_find(c->hosts, r->name, type, &oom)) != NULL ||
	    oom) {
		if (oom) {
			snprintf(err, errlen, "out of memory");
			free(r);
			return NULL;
		}
		req_ready(c, r, rec);
		dns_rec_unref(rec);
		return r;
	}
	if ((rec = dns_cache_get(c->cache, r->name, type,
	    uv_now(c->loop))) != NULL) {
		r->cached = true;
		req_ready(c, r, rec);
		return r;
	}
	r->state = RQ_WAITING;
	if ((q = q_find(c, r->name, type)) != NULL) {
		dl_add(&q->waiters, &r->link);
		return r;
	}
	if ((q = q_new(c, r->name, type, err, errlen)) == NULL) {
		free(r);
		return NULL;
	}
	dl_add(&q->waiters, &r->link);
	q_try(q);
	return r;
}

/* dns_cancel - r's callback will not be called */
void
dns_cancel(struct dns_req *r)
{
	/* Inside its own callback, r is freed when the callback returns. */
	if (r == NULL || r->state == RQ_DELIVERING)
		return;
	dl_del(&r->link);
	req_free(r);
}
