/*
 * dns_forward_query.c - one query through the DNS forwarder: checked,
 * sent up to a resolver with an ID of our own, and its answer (checked to
 * be the answer) sent back byte for byte with the client's ID, after the
 * name map has learned from it.
 *
 * Each try goes to the next resolver on a fresh socket (a fresh source
 * port), as the DNS client does, over UDP (connected: the kernel drops
 * datagrams from elsewhere) or, for a client that asked over TCP, over
 * TCP.  When every try is used up the client gets SERVFAIL.  A query is
 * freed when its timer and its socket are closed.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <uv.h>

#include "shim/dns_forward_int.h"
#include "shim/log.h"
#include "shim/name_map.h"

static void	q_try(struct fwd_q *);

static uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* --------------------------------------------------------- messages */

enum parsed { P_FORWARD, P_DROP, P_FORMERR, P_NOTIMP };

/*
 * parse_query - is w a query to forward?  A client's query is one
 * question, uncompressed; qname is it normalized ("" when it is not a
 * host name: forwarded all the same, but nothing is learned from it),
 * qend where the question ends.  Not a query at all (short, or QR set):
 * dropped, as a resolver would.
 */
static enum parsed
parse_query(const uint8_t *w, size_t len, char *qname, uint16_t *qtype,
    size_t *qend)
{
	char text[DNS_NAME_MAX];
	size_t pos = HDR_LEN, n = 0;
	bool plain = true;

	*qend = HDR_LEN;
	qname[0] = '\0';
	if (len < HDR_LEN || (w[2] & QR_BIT))
		return P_DROP;
	if (((w[2] >> 3) & 0xf) != 0)		/* opcode: only QUERY */
		return P_NOTIMP;
	if (fwd_get16(w + 4) != 1)
		return P_FORMERR;
	for (;;) {
		uint8_t l;

		if (pos >= len)
			return P_FORMERR;
		if ((l = w[pos++]) == 0)
			break;
		/* 64 and up: a pointer or an unknown label type, neither of
		 * which a query's only name has. */
		if (l > 63 || pos + l > len || pos + l - HDR_LEN > 254)
			return P_FORMERR;
		if (n > 0)
			text[n++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = w[pos + i];

			if (!((c >= 'a' && c <= 'z') ||
			    (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_'))
				plain = false;
			text[n++] = (char)c;
		}
		pos += l;
	}
	if (pos + 4 > len)
		return P_FORMERR;
	*qtype = fwd_get16(w + pos);
	*qend = pos + 4;
	text[n] = '\0';
	if (n == 0 || !plain || !dns_name_normalize(text, qname,
	    DNS_NAME_MAX))
		qname[0] = '\0';
	return P_FORWARD;
}

/* error_reply - the answer rcode to query w (its header and question,
 * qend bytes) in out, which holds 12 + 260 bytes; its length */
static size_t
error_reply(const uint8_t *w, size_t qend, uint8_t rcode, uint8_t *out)
{
	memcpy(out, w, HDR_LEN);
	out[2] = (uint8_t)(QR_BIT | (w[2] & 0x79));	/* opcode, RD */
	out[3] = (uint8_t)(RA_BIT | rcode);
	fwd_put16(out + 4, qend > HDR_LEN ? 1 : 0);
	memset(out + 6, 0, 6);
	if (qend > HDR_LEN)
		memcpy(out + HDR_LEN, w + HDR_LEN, qend - HDR_LEN);
	return qend;
}

/* answer_ok - is a[0..len) the answer to q: our ID, QR, and the question
 * asked (the name in any case)?  An error answer may omit the question. */
static bool
answer_ok(const struct fwd_q *q, const uint8_t *a, size_t len)
{
	if (len < HDR_LEN || fwd_get16(a) != q->qid || !(a[2] & QR_BIT))
		return false;
	if (fwd_get16(a + 4) == 0)
		return (a[3] & 0xf) != 0;
	if (fwd_get16(a + 4) != 1 || len < q->qend)
		return false;
	for (size_t i = HDR_LEN; i + 4 < q->qend; i++)
		if (lower(a[i]) != lower(q->wire[i]))
			return false;
	return memcmp(a + q->qend - 4, q->wire + q->qend - 4, 4) == 0;
}

/* reply - w to whoever asked q's query, over what it used */
static void
reply(struct fwd_q *q, uint8_t *w, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)w, (unsigned)len);

	fwd_put16(w, q->cid);
	if (q->c != NULL)
		fwd_client_send(q->c, w, len);
	else
		/* A full socket buffer drops it: the client asks again. */
		(void)uv_udp_try_send(&q->l->udp, &b, 1,
		    (const struct sockaddr *)&q->from);
}

static void
q_handle_closed(struct fwd_q *q)
{
	struct dns_fwd *f = q->f;

	if (--q->handles > 0)
		return;
	free(q->wire);
	free(q);
	fwd_unref(f);
}

static void
on_q_timer_closed(uv_handle_t *h)
{
	q_handle_closed(h->data);
}

static void
on_up_closed(uv_handle_t *h)
{
	struct fwd_up *u = h->data;
	struct fwd_q *q = u->q;

	free(u->body);
	free(u);
	q_handle_closed(q);
}

/* up_close - close the current try's socket */
static void
up_close(struct fwd_q *q)
{
	struct fwd_up *u = q->up;

	if (u == NULL)
		return;
	q->up = NULL;
	uv_close(&u->h.any, on_up_closed);
}

/* fwd_query_done - q is answered, failed or dropped: let go of it */
void
fwd_query_done(struct fwd_q *q)
{
	struct dns_fwd *f = q->f;

	if (q->done)
		return;
	q->done = true;
	up_close(q);
	uv_close((uv_handle_t *)&q->timer, on_q_timer_closed);
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		f->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	f->inflight--;
	if (q->c != NULL) {
		q->c->pending--;
		fwd_client_maybe_free(q->c);
		q->c = NULL;
	}
}

/* q_answer - the resolver's answer a (ours to change) goes back */
static void
q_answer(struct fwd_q *q, uint8_t *a, size_t len)
{
	struct dns_fwd *f = q->f;
	size_t learned = 0;

	if (q->qname[0] != '\0' && f->map != NULL) {
		learned = name_map_learn(f->map, a, len, q->qid, q->qname,
		    q->qtype, &q->asker, name_map_now());
		__atomic_add_fetch(&f->st.learned, learned, __ATOMIC_RELAXED);
	}
	if (log_enabled(LOG_L_PROTO))
		logmsg(LOG_L_PROTO, "dns forwarder: %s type %u: rcode %u, "
		    "%zu bytes, %zu names learned", q->qname[0] != '\0' ?
		    q->qname : "(other)", q->qtype, a[3] & 0xf, len, learned);
	COUNT(f, answered);
	reply(q, a, len);
	fwd_query_done(q);
}

/* q_next - this try got nothing: the next one, or SERVFAIL */
static void
q_next(struct fwd_q *q)
{
	up_close(q);
	q->try++;
	q_try(q);
}

static void
on_q_timeout(uv_timer_t *t)
{
	struct fwd_q *q = t->data;

	if (!q->done)
		q_next(q);
}

/* up_current - is u still the try its query waits for? */
static bool
up_current(const struct fwd_up *u)
{
	return !u->q->done && u->q->up == u;
}

static void
on_up_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	struct fwd_up *u = h->data;

	(void)want;
	*b = uv_buf_init((char *)u->q->f->rbuf, sizeof(u->q->f->rbuf));
}

static void
on_up_udp_read(uv_udp_t *h, ssize_t n, const uv_buf_t *b,
    const struct sockaddr *from, unsigned flags)
{
	struct fwd_up *u = h->data;

	(void)from;
	if (!up_current(u) || n == 0)
		return;
	if (n < 0) {			/* ICMP unreachable: no use waiting */
		q_next(u->q);
		return;
	}
	if ((flags & UV_UDP_PARTIAL) ||
	    !answer_ok(u->q, (uint8_t *)b->base, (size_t)n))
		return;			/* not the answer: keep waiting */
	q_answer(u->q, (uint8_t *)b->base, (size_t)n);
}

static void
on_up_udp_sent(uv_udp_send_t *req, int status)
{
	struct fwd_up *u = req->data;

	if (status < 0 && status != UV_ECANCELED && up_current(u))
		q_next(u->q);
}

static void
on_up_tcp_read(uv_stream_t *h, ssize_t n, const uv_buf_t *b)
{
	struct fwd_up *u = h->data;
	const uint8_t *p = (const uint8_t *)b->base;
	size_t left;

	if (!up_current(u))
		return;
	if (n < 0) {
		q_next(u->q);
		return;
	}
	for (left = (size_t)n; left > 0; ) {
		size_t take;

		if (u->hgot < 2) {
			u->hdr[u->hgot++] = *p++;
			left--;
			if (u->hgot < 2)
				continue;
			u->need = fwd_get16(u->hdr);
			if (u->need < HDR_LEN ||
			    (u->body = malloc(u->need)) == NULL) {
				q_next(u->q);
				return;
			}
			continue;
		}
		take = u->need - u->got < left ? u->need - u->got : left;
		memcpy(u->body + u->got, p, take);
		u->got += take;
		p += take;
		left -= take;
		if (u->got < u->need)
			continue;
		if (answer_ok(u->q, u->body, u->need))
			q_answer(u->q, u->body, u->need);
		else
			q_next(u->q);
		return;
	}
}

static void
on_up_written(uv_write_t *req, int status)
{
	struct fwd_up *u = req->data;

	if (status < 0 && status != UV_ECANCELED && up_current(u))
		q_next(u->q);
}

static void
on_up_connected(uv_connect_t *req, int status)
{
	struct fwd_up *u = req->data;
	uv_buf_t b[2];

	if (!up_current(u) || status == UV_ECANCELED)
		return;
	fwd_put16(u->prefix, (uint16_t)u->q->len);
	b[0] = uv_buf_init((char *)u->prefix, 2);
	b[1] = uv_buf_init((char *)u->q->wire, (unsigned)u->q->len);
	u->write.data = u;
	if (status < 0 ||
	    uv_write(&u->write, (uv_stream_t *)&u->h.tcp, b, 2,
	    on_up_written) < 0 ||
	    uv_read_start((uv_stream_t *)&u->h.tcp, on_up_alloc,
	    on_up_tcp_read) < 0)
		q_next(u->q);
}

/* up_open - this try's socket to resolver res, the query sent (UDP) or
 * on its way (TCP); 0 or a libuv error */
static int
up_open(struct fwd_q *q, const struct sockaddr *res)
{
	struct fwd_up *u = calloc(1, sizeof(*u));
	uv_buf_t b = uv_buf_init((char *)q->wire, (unsigned)q->len);
	int rc;

	if (u == NULL)
		return UV_ENOMEM;
	u->q = q;
	u->send.data = u->conn.data = u;
	if (q->c != NULL)
		rc = uv_tcp_init(q->f->loop, &u->h.tcp);
	else
		rc = uv_udp_init(q->f->loop, &u->h.udp);
	if (rc < 0) {
		free(u);
		return rc;
	}
	u->h.any.data = u;
	q->up = u;
	q->handles++;
	if (q->c != NULL)
		return uv_tcp_connect(&u->conn, &u->h.tcp, res,
		    on_up_connected);
	if ((rc = uv_udp_connect(&u->h.udp, res)) < 0 ||
	    (rc = uv_udp_recv_start(&u->h.udp, on_up_alloc,
	    on_up_udp_read)) < 0)
		return rc;
	return uv_udp_send(&u->send, &u->h.udp, &b, 1, NULL,
	    on_up_udp_sent);
}

/* q_try - the next try, or SERVFAIL when they are used up */
static void
q_try(struct fwd_q *q)
{
	struct dns_fwd *f = q->f;
	uint8_t out[HDR_LEN + 260];
	unsigned timeout = f->set.timeout_ms != 0 ? f->set.timeout_ms : 2000;

	while (q->try < q->ntries && f->set.nresolvers > 0) {
		const struct sockaddr *res = (const struct sockaddr *)
		    &f->set.resolver[q->try % f->set.nresolvers];

		if (up_open(q, res) == 0) {
			uv_timer_start(&q->timer, on_q_timeout, timeout, 0);
			return;
		}
		up_close(q);
		q->try++;
	}
	COUNT(f, failed);
	reply(q, out, error_reply(q->wire, q->qend, RCODE_SERVFAIL, out));
	fwd_query_done(q);
}

/* fwd_query - a client's message w: answer an error, drop it, or
 * forward it.  From a UDP listener l and address from, or from TCP
 * client c. */
void
fwd_query(struct dns_fwd *f, const uint8_t *w, size_t len,
    struct fwd_listener *l, const struct sockaddr *from,
    struct fwd_client *c)
{
	uint8_t out[HDR_LEN + 260], id[2];
	char qname[DNS_NAME_MAX];
	uint16_t qtype = 0;
	size_t qend;
	struct fwd_q *q;
	enum parsed p;

	if (f->closing)
		return;
	p = parse_query(w, len, qname, &qtype, &qend);
	if (p == P_DROP || f->inflight >= DNS_FWD_INFLIGHT_MAX ||
	    (c != NULL && c->pending >= DNS_FWD_TCP_PENDING)) {
		COUNT(f, dropped);
		return;
	}
	if (p != P_FORWARD) {
		size_t n = error_reply(w, qend, p == P_NOTIMP ? RCODE_NOTIMP :
		    RCODE_FORMERR, out);
		uv_buf_t b = uv_buf_init((char *)out, (unsigned)n);

		COUNT(f, refused);
		if (c != NULL)
			fwd_client_send(c, out, n);
		else
			(void)uv_udp_try_send(&l->udp, &b, 1, from);
		return;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->wire = malloc(len)) == NULL) {
		free(q);
		COUNT(f, dropped);
		return;
	}
	COUNT(f, queries);
	q->f = f;
	memcpy(q->wire, w, len);
	q->len = len;
	q->qend = qend;
	q->qtype = qtype;
	memcpy(q->qname, qname, sizeof(q->qname));
	q->cid = fwd_get16(w);
	(void)gnutls_rnd(GNUTLS_RND_NONCE, id, sizeof(id));
	q->qid = fwd_get16(id);
	fwd_put16(q->wire, q->qid);
	q->ntries = (unsigned)f->set.nresolvers *
	    (f->set.attempts != 0 ? f->set.attempts : 2);
	if (c != NULL) {
		q->c = c;
		c->pending++;
		q->asker = c->asker;
	} else {
		q->l = l;
		memcpy(&q->from, from, from->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		nm_addr_from(&q->asker, from);
	}
	uv_timer_init(f->loop, &q->timer);
	q->timer.data = q;
	q->handles = 1;
	f->alive++;
	f->inflight++;
	q->next = f->queries;
	if (f->queries != NULL)
		f->queries->prev = q;
	f->queries = q;
	q_try(q);
}
