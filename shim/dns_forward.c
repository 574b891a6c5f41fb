/*
 * dns_forward.c - the DNS forwarder: its listeners (UDP and TCP), its TCP
 * clients and its life; each query's way up and back is in
 * dns_forward_query.c.
 *
 * Only the message ID changes on the way up (a fresh random one, so that
 * an off-path answer must guess it as it would have to for the client);
 * the answer goes back byte for byte with the client's ID.  An answer is
 * taken only from the resolver asked (a connected UDP socket, or the TCP
 * connection), with our ID, QR set and the question asked.  Each try goes
 * to the next resolver on a fresh socket (a fresh source port), as the
 * DNS client does; when every try is used up the client gets SERVFAIL.  A
 * client that asked over TCP is answered over TCP, and so is the query
 * sent up.
 *
 * Ownership: a query (struct fwd_q) is freed when its timer and its
 * socket are closed; a TCP client (struct fwd_client) when its handles
 * are closed and no query of its is in flight.  The forwarder is freed
 * when the last of its listeners, clients and queries is gone.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "shim/dns_forward.h"
#include "shim/dns_forward_int.h"
#include "shim/io.h"
#include "shim/log.h"
#include "shim/name_map.h"

/* fwd_unref - one listener handle, client or query fewer */
void
fwd_unref(struct dns_fwd *f)
{
	if (--f->alive == 0 && f->closing)
		free(f);
}

/* ------------------------------------------------------ to the client */

struct client_write {
	uv_write_t		 req;
	uint8_t			 data[];
};

static void
on_client_written(uv_write_t *req, int status)
{
	(void)status;
	free(req);
}

/* fwd_client_send - one length-prefixed answer to a TCP client */
void
fwd_client_send(struct fwd_client *c, const uint8_t *w, size_t len)
{
	struct client_write *cw;
	uv_buf_t b;

	if (c->closed || len > 65535 ||
	    (cw = malloc(sizeof(*cw) + len + 2)) == NULL)
		return;
	fwd_put16(cw->data, (uint16_t)len);
	memcpy(cw->data + 2, w, len);
	b = uv_buf_init((char *)cw->data, (unsigned)len + 2);
	if (uv_write(&cw->req, (uv_stream_t *)&c->h, &b, 1,
	    on_client_written) < 0) {
		free(cw);
		fwd_client_close(c);
	}
}

void
fwd_client_maybe_free(struct fwd_client *c)
{
	struct dns_fwd *f = c->f;

	if (c->handles > 0 || c->pending > 0)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		f->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	f->nclients--;
	free(c->msg);
	free(c);
	fwd_unref(f);
}

/* ------------------------------------------------------- TCP clients */

static void
on_client_handle_closed(uv_handle_t *h)
{
	struct fwd_client *c = h->data;

	c->handles--;
	fwd_client_maybe_free(c);
}

/* fwd_client_close - stop reading, close; its queries still in flight are
 * dropped when they end */
void
fwd_client_close(struct fwd_client *c)
{
	if (c->closed)
		return;
	c->closed = true;
	uv_close((uv_handle_t *)&c->h, on_client_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_client_handle_closed);
}

static void
on_client_idle(uv_timer_t *t)
{
	fwd_client_close(t->data);
}

static void
on_client_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	struct fwd_client *c = h->data;

	(void)want;
	*b = uv_buf_init((char *)c->f->rbuf, sizeof(c->f->rbuf));
}

static void
on_client_read(uv_stream_t *h, ssize_t n, const uv_buf_t *b)
{
	struct fwd_client *c = h->data;
	const uint8_t *p = (const uint8_t *)b->base;
	size_t left;

	if (n < 0) {
		fwd_client_close(c);
		return;
	}
	uv_timer_again(&c->idle);
	for (left = (size_t)n; left > 0 && !c->closed; ) {
		size_t take;

		if (c->hgot < 2) {
			c->hdr[c->hgot++] = *p++;
			left--;
			if (c->hgot < 2)
				continue;
			c->need = fwd_get16(c->hdr);
			c->got = 0;
			if (c->need < HDR_LEN ||
			    (c->msg = malloc(c->need)) == NULL) {
				fwd_client_close(c);
				return;
			}
			continue;
		}
		take = c->need - c->got < left ? c->need - c->got : left;
		memcpy(c->msg + c->got, p, take);
		c->got += take;
		p += take;
		left -= take;
		if (c->got < c->need)
			continue;
		fwd_query(c->f, c->msg, c->need, NULL, NULL, c);
		free(c->msg);
		c->msg = NULL;
		c->hgot = 0;
	}
}

static void
on_refused_closed(uv_handle_t *h)
{
	free(h);
}

static void
on_accept(uv_stream_t *srv, int status)
{
	struct fwd_listener *l = srv->data;
	struct dns_fwd *f = l->f;
	struct sockaddr_storage ss;
	struct fwd_client *c;
	int len = sizeof(ss);

	if (status < 0 || f->closing)
		return;
	if (f->nclients >= DNS_FWD_TCP_MAX ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		uv_tcp_t *t = malloc(sizeof(*t));

		/* Take it off the backlog, and close it. */
		COUNT(f, dropped);
		if (t == NULL)
			return;
		uv_tcp_init(f->loop, t);
		(void)uv_accept(srv, (uv_stream_t *)t);
		uv_close((uv_handle_t *)t, on_refused_closed);
		return;
	}
	c->f = f;
	uv_tcp_init(f->loop, &c->h);
	uv_timer_init(f->loop, &c->idle);
	c->h.data = c->idle.data = c;
	c->handles = 2;
	f->alive++;
	f->nclients++;
	c->next = f->clients;
	if (f->clients != NULL)
		f->clients->prev = c;
	f->clients = c;
	if (uv_accept(srv, (uv_stream_t *)&c->h) < 0 ||
	    uv_read_start((uv_stream_t *)&c->h, on_client_alloc,
	    on_client_read) < 0) {
		fwd_client_close(c);
		return;
	}
	if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&ss, &len) == 0)
		nm_addr_from(&c->asker, (struct sockaddr *)&ss);
	uv_timer_start(&c->idle, on_client_idle, DNS_FWD_TCP_IDLE_MS,
	    DNS_FWD_TCP_IDLE_MS);
}

/* -------------------------------------------------------- listeners */

static void
on_listen_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	struct fwd_listener *l = h->data;

	(void)want;
	*b = uv_buf_init((char *)l->f->rbuf, sizeof(l->f->rbuf));
}

static void
on_listen_read(uv_udp_t *h, ssize_t n, const uv_buf_t *b,
    const struct sockaddr *from, unsigned flags)
{
	struct fwd_listener *l = h->data;

	if (n <= 0 || from == NULL || (flags & UV_UDP_PARTIAL))
		return;
	fwd_query(l->f, (const uint8_t *)b->base, (size_t)n, l, from,
	    NULL);
}

static void
on_listener_closed(uv_handle_t *h)
{
	struct fwd_listener *l = h->data;

	fwd_unref(l->f);
}

/* listen_one - UDP and TCP on one address; 0 or a libuv error */
static int
listen_one(struct dns_fwd *f, struct fwd_listener *l,
    const struct sockaddr *sa)
{
	struct sockaddr_storage bound;
	bool v6 = sa->sa_family == AF_INET6;
	int rc, len = sizeof(bound);

	l->f = f;
	if ((rc = uv_udp_init(f->loop, &l->udp)) < 0)
		return rc;
	l->udp.data = l;
	l->udp_init = true;
	f->alive++;
	if ((rc = uv_udp_bind(&l->udp, sa, v6 ? UV_UDP_IPV6ONLY : 0)) < 0 ||
	    (rc = uv_udp_recv_start(&l->udp, on_listen_alloc,
	    on_listen_read)) < 0 ||
	    (rc = uv_udp_getsockname(&l->udp, (struct sockaddr *)&bound,
	    &len)) < 0)
		return rc;
	/* TCP on the same port as UDP, also when port 0 let UDP choose. */
	sa = (const struct sockaddr *)&bound;
	if ((rc = uv_tcp_init(f->loop, &l->tcp)) < 0)
		return rc;
	l->tcp.data = l;
	l->tcp_init = true;
	f->alive++;
	if ((rc = uv_tcp_bind(&l->tcp, sa, v6 ? UV_TCP_IPV6ONLY : 0)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&l->tcp, 64, on_accept)) < 0)
		return rc;
	return 0;
}

struct dns_fwd *
dns_fwd_new(uv_loop_t *loop, const struct sockaddr_storage *addr, size_t n,
    const struct dns_settings *set, struct name_map *map, char *err,
    size_t errlen)
{
	struct dns_fwd *f;

	if (n == 0 || n > DNS_FWD_LISTEN_MAX || set->nresolvers == 0) {
		snprintf(err, errlen, n == 0 || n > DNS_FWD_LISTEN_MAX ?
		    "1 to %d listen addresses" : "no resolver to forward to",
		    DNS_FWD_LISTEN_MAX);
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->loop = loop;
	f->set = *set;
	f->map = map;
	for (size_t i = 0; i < n; i++) {
		char text[64];
		uint16_t port = 0;
		int rc;

		f->nl++;
		if ((rc = listen_one(f, &f->l[i],
		    (const struct sockaddr *)&addr[i])) < 0) {
			io_addr_text((const struct sockaddr *)&addr[i], text,
			    sizeof(text), &port);
			snprintf(err, errlen, "dns_listen %s port %u: %s",
			    text, port, uv_strerror(rc));
			dns_fwd_close(f);
			return NULL;
		}
	}
	return f;
}

int
dns_fwd_addr(struct dns_fwd *f, size_t i, struct sockaddr_storage *ss)
{
	int len = sizeof(*ss);

	if (i >= f->nl || !f->l[i].udp_init)
		return UV_EINVAL;
	return uv_udp_getsockname(&f->l[i].udp, (struct sockaddr *)ss, &len);
}

void
dns_fwd_set_resolvers(struct dns_fwd *f, const struct dns_settings *set)
{
	if (set->nresolvers > 0)
		f->set = *set;
}

void
dns_fwd_close(struct dns_fwd *f)
{
	if (f == NULL || f->closing)
		return;
	f->closing = true;
	while (f->queries != NULL)
		fwd_query_done(f->queries);
	for (struct fwd_client *c = f->clients; c != NULL; c = c->next)
		fwd_client_close(c);
	for (size_t i = 0; i < f->nl; i++) {
		if (f->l[i].udp_init)
			uv_close((uv_handle_t *)&f->l[i].udp,
			    on_listener_closed);
		if (f->l[i].tcp_init)
			uv_close((uv_handle_t *)&f->l[i].tcp,
			    on_listener_closed);
	}
	if (f->alive == 0)
		free(f);
}

void
dns_fwd_stats(struct dns_fwd *f, struct dns_fwd_stats *st)
{
#define GET(x)	st->x = __atomic_load_n(&f->st.x, __ATOMIC_RELAXED)
	GET(queries);
	GET(answered);
	GET(failed);
	GET(refused);
	GET(dropped);
	GET(learned);
#undef GET
}
