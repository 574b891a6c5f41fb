/*
 * dns_net.c - the DNS client's transport: one try of one query over UDP,
 * and again over TCP when the UDP answer was truncated.
 *
 * Each socket lives in a small struct with its libuv requests, allocated
 * when opened and freed in its close callback (libuv completes a
 * handle's requests before that), which then tells the query through
 * dns_query_handle_closed().  A query has at most one UDP socket and one
 * TCP connection open; a callback from a socket the query has since
 * replaced or closed, or of a finished query, is ignored.
 *
 * UDP sockets are connected (uv_udp_connect) to their resolver: libuv
 * binds each one to a fresh ephemeral port, the kernel drops datagrams
 * from any other address, and an ICMP unreachable ends the try at once
 * instead of after its timeout.  Over TCP the answer is read with its
 * 2-byte length first, then exactly that many bytes (at most 65535).
 */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "shim/dns.h"
#include "shim/dns_int.h"
#include "shim/log.h"

/* A UDP socket connected to one resolver: the kernel then drops
 * datagrams from other addresses, and reports ICMP unreachable. */
struct dns_udp {
	uv_udp_t		 h;		/* h.data = this */
	uv_udp_send_t		 send;
	struct dns_query	*q;
	size_t			 res;		/* resolver index */
	bool			 sending;
};

struct dns_tcp {
	uv_tcp_t		 h;		/* h.data = this */
	uv_connect_t		 conn;
	uv_write_t		 write;
	struct dns_query	*q;
	size_t			 res;
	uint8_t			 prefix[2];	/* the query's length */
	uint8_t			 hdr[2];	/* the answer's */
	uint8_t			*body;		/* need bytes */
	size_t			 need, got;	/* got counts hdr too */
};

/* same_addr - is sa the resolver's address and port? */
static bool
same_addr(const struct sockaddr *sa, const struct sockaddr_storage *res)
{
	const struct sockaddr_in *a4 = (const void *)sa,
	    *r4 = (const void *)res;
	const struct sockaddr_in6 *a6 = (const void *)sa,
	    *r6 = (const void *)res;

	if (sa->sa_family != res->ss_family)
		return false;
	if (sa->sa_family == AF_INET)
		return a4->sin_port == r4->sin_port &&
		    a4->sin_addr.s_addr == r4->sin_addr.s_addr;
	if (sa->sa_family == AF_INET6)
		return a6->sin6_port == r6->sin6_port &&
		    memcmp(&a6->sin6_addr, &r6->sin6_addr, 16) == 0;
	return false;
}

static void
udp_closed(uv_handle_t *h)
{
	struct dns_udp *u = h->data;
	struct dns_query *q = u->q;

	free(u);
	dns_query_handle_closed(q);
}

static void
tcp_closed(uv_handle_t *h)
{
	struct dns_tcp *t = h->data;
	struct dns_query *q = t->q;

	free(t->body);
	free(t);
	dns_query_handle_closed(q);
}

/* udp_close - close q's UDP socket, if any */
static void
udp_close(struct dns_query *q)
{
	struct dns_udp *u = q->udp;

	if (u == NULL)
		return;
	q->udp = NULL;
	uv_close((uv_handle_t *)&u->h, udp_closed);
}

/* dns_net_close_tcp - close q's TCP connection, if any */
void
dns_net_close_tcp(struct dns_query *q)
{
	struct dns_tcp *t = q->tcp;

	if (t == NULL)
		return;
	q->tcp = NULL;
	uv_close((uv_handle_t *)&t->h, tcp_closed);
}

/* dns_net_close - close q's sockets (the query is over) */
void
dns_net_close(struct dns_query *q)
{
	udp_close(q);
	dns_net_close_tcp(q);
}

/* tcp_alloc - read the 2-byte length, then exactly that many bytes */
static void
tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct dns_tcp *t = h->data;

	(void)suggested;
	if (t->got < 2)
		*buf = uv_buf_init((char *)t->hdr + t->got, 2 - t->got);
	else if (t->body != NULL)
		*buf = uv_buf_init((char *)t->body + t->got - 2,
		    t->need - (t->got - 2));
	else
		*buf = uv_buf_init(NULL, 0);
}

/* tcp_read - bytes of the answer over TCP */
static void
tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct dns_tcp *t = s->data;
	struct dns_query *q = t->q;

	(void)buf;
	if (q->done || t != q->tcp || nread == 0)
		return;
	if (nread < 0) {
		logmsg(LOG_L_DETAIL, "dns %s: TCP from %s: %s", q->name,
		    q->c->res_name[t->res], nread == UV_EOF ?
		    "closed before the answer" : uv_strerror(nread));
		dns_query_next(q);
		return;
	}
	t->got += nread;
	if (t->got == 2) {
		/* At most 65535 bytes: the prefix cannot say more. */
		t->need = (size_t)t->hdr[0] << 8 | t->hdr[1];
		if (t->need == 0 || (t->body = malloc(t->need)) == NULL) {
			dns_query_next(q);
			return;
		}
	}
	if (t->got < 2 || t->got < 2 + t->need)
		return;
	uv_read_stop(s);
	dns_query_reply(q, t->res, t->body, t->need, true);
}

static void
tcp_written(uv_write_t *w, int status)
{
	struct dns_tcp *t = w->data;
	struct dns_query *q = t->q;

	if (status == 0 || status == UV_ECANCELED || q->done || t != q->tcp)
		return;
	logmsg(LOG_L_DETAIL, "dns %s: TCP to %s: %s", q->name,
	    q->c->res_name[t->res], uv_strerror(status));
	dns_query_next(q);
}

/* tcp_connected - send the length-prefixed query and read the answer */
static void
tcp_connected(uv_connect_t *req, int status)
{
	struct dns_tcp *t = req->data;
	struct dns_query *q = t->q;
	uv_buf_t bufs[2];

	if (status == UV_ECANCELED || q->done || t != q->tcp)
		return;
	if (status == 0) {
		t->prefix[0] = q->wlen >> 8;
		t->prefix[1] = q->wlen & 0xff;
		bufs[0] = uv_buf_init((char *)t->prefix, 2);
		bufs[1] = uv_buf_init((char *)q->wire, q->wlen);
		t->write.data = t;
		if ((status = uv_write(&t->write, (uv_stream_t *)&t->h, bufs,
		    2, tcp_written)) == 0)
			status = uv_read_start((uv_stream_t *)&t->h,
			    tcp_alloc, tcp_read);
	}
	if (status < 0) {
		logmsg(LOG_L_DETAIL, "dns %s: TCP to %s: %s", q->name,
		    q->c->res_name[t->res], uv_strerror(status));
		dns_query_next(q);
	}
}

/* dns_net_tcp_ask - ask resolver res again over TCP (its UDP answer was
 * cut short) */
int
dns_net_tcp_ask(struct dns_query *q, size_t res)
{
	struct dns_client *c = q->c;
	struct dns_tcp *t;
	int rc;

	udp_close(q);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return UV_ENOMEM;
	if ((rc = uv_tcp_init(c->loop, &t->h)) < 0) {
		free(t);
		return rc;
	}
	t->h.data = t;
	t->q = q;
	t->res = res;
	q->handles++;
	q->tcp = t;
	t->conn.data = t;
	if ((rc = uv_tcp_connect(&t->conn, &t->h,
	    (const struct sockaddr *)&c->set.resolver[res],
	    tcp_connected)) < 0)
		return rc;	/* the caller's next try closes t */
	return 0;
}

static void
udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct dns_udp *u = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)u->q->c->rbuf, sizeof(u->q->c->rbuf));
}

/* udp_recv - a datagram (or an error) on the socket of the current try */
static void
udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
    const struct sockaddr *addr, unsigned flags)
{
	struct dns_udp *u = h->data;
	struct dns_query *q = u->q;
	struct dns_client *c = q->c;

	if (q->done || u != q->udp || nread == 0)
		return;
	if (nread < 0) {
		/* ICMP unreachable: nobody listens there; the next try. */
		logmsg(LOG_L_DETAIL, "dns %s: UDP from %s: %s", q->name,
		    c->res_name[u->res], uv_strerror(nread));
		dns_query_next(q);
		return;
	}
	/* The socket is connected, so the kernel filters the source; the
	 * check stays as the rule this code relies on. */
	if ((flags & UV_UDP_PARTIAL) || addr == NULL ||
	    !same_addr(addr, &c->set.resolver[u->res]))
		return;
	dns_query_reply(q, u->res, (const uint8_t *)buf->base, nread, false);
}

static void
udp_sent(uv_udp_send_t *req, int status)
{
	struct dns_udp *u = req->data;
	struct dns_query *q = u->q;

	u->sending = false;
	if (status == 0 || status == UV_ECANCELED || q->done || u != q->udp)
		return;
	logmsg(LOG_L_DETAIL, "dns %s: UDP to %s: %s", q->name,
	    q->c->res_name[u->res], uv_strerror(status));
	dns_query_next(q);
}

/* dns_net_udp_ask - send the query to resolver res over UDP, on a new
 * socket (a new source port) unless the last try used the same resolver */
int
dns_net_udp_ask(struct dns_query *q, size_t res)
{
	struct dns_client *c = q->c;
	struct dns_udp *u = q->udp;
	uv_buf_t buf;
	int rc;

	if (u != NULL && u->res != res)
		udp_close(q);
	if ((u = q->udp) == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL)
			return UV_ENOMEM;
		if ((rc = uv_udp_init(c->loop, &u->h)) < 0) {
			free(u);
			return rc;
		}
		u->h.data = u;
		u->q = q;
		u->res = res;
		u->send.data = u;
		q->handles++;
		q->udp = u;
		if ((rc = uv_udp_connect(&u->h,
		    (const struct sockaddr *)&c->set.resolver[res])) < 0 ||
		    (rc = uv_udp_recv_start(&u->h, udp_alloc, udp_recv)) < 0) {
			udp_close(q);
			return rc;
		}
	}
	/* Still queued from the last try (a full socket buffer): that
	 * datagram is the one a resend would add. */
	if (u->sending)
		return 0;
	buf = uv_buf_init((char *)q->wire, q->wlen);
	if ((rc = uv_udp_send(&u->send, &u->h, &buf, 1, NULL, udp_sent)) < 0)
		return rc;
	u->sending = true;
	return 0;
}
