/*
 * oneshot.c - one request, one answer per connection, on a libuv loop.
 *
 * A connection reads until the protocol's complete() says the request is
 * whole (or the peer closes, or the size or time limit is reached), asks
 * for the answer, writes it, shuts its side down and then reads on,
 * throwing bytes away, until the peer closes too or the time is up.
 * Closing right after the write would make the kernel answer unread
 * bytes (a pipelined request, a body) with a reset, and a reset can
 * destroy the answer before the peer has read it.
 *
 * Ownership: a connection is freed in the close callback of the last of
 * its two handles; the server after its listener and every connection.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/log.h"
#include "shim/oneshot.h"
#include "shim/sbuf.h"

struct oneshot_conn {
	union {
		uv_handle_t	 h;
		uv_stream_t	 s;
		uv_tcp_t	 tcp;
		uv_pipe_t	 pipe;
	} u;
	uv_timer_t		 timer;
	uv_write_t		 wr;
	uv_shutdown_t		 sh;
	struct oneshot_srv	*srv;
	struct oneshot_conn	*prev, *next;
	struct sbuf		 out;
	char			*buf;		/* req_max + 1 bytes */
	size_t			 len;
	unsigned		 handles;	/* open handles */
	bool			 answered;	/* now bytes are dropped */
	bool			 peer_eof;	/* the peer shut its side */
	bool			 shut;		/* and we shut ours */
	bool			 closing;
};

struct oneshot_srv {
	union {
		uv_handle_t	 h;
		uv_stream_t	 s;
		uv_tcp_t	 tcp;
		uv_pipe_t	 pipe;
	} u;
	uv_loop_t		*loop;
	const struct oneshot_ops *ops;
	void			*arg;
	bool			 is_pipe;
	bool			 closing;
	bool			 listener_open;
	unsigned		 nconns;
	struct oneshot_conn	*conns;
	uint64_t		 warned;	/* uv_now() of the last warning
						 * about too many connections */
};

static void	conn_close(struct oneshot_conn *);

static void
srv_maybe_free(struct oneshot_srv *srv)
{
	if (srv->closing && !srv->listener_open && srv->nconns == 0)
		free(srv);
}

static void
on_conn_handle_closed(uv_handle_t *h)
{
	struct oneshot_conn *c = h->data;
	struct oneshot_srv *srv = c->srv;

	if (--c->handles > 0)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->nconns--;
	sbuf_free(&c->out);
	free(c->buf);
	free(c);
	srv_maybe_free(srv);
}

/* conn_close - close both handles; a write or shutdown in flight is
 * cancelled by libuv and its callback sees that */
static void
conn_close(struct oneshot_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close(&c->u.h, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct oneshot_conn *c = req->data;

	/* Our side is done; wait (reading, dropping) for the peer's EOF
	 * unless it came already. */
	c->shut = true;
	if (status < 0 || c->peer_eof)
		conn_close(c);
}

static void
on_written(uv_write_t *req, int status)
{
	struct oneshot_conn *c = req->data;

	if (status < 0 || c->closing) {
		conn_close(c);
		return;
	}
	c->sh.data = c;
	if (uv_shutdown(&c->sh, &c->u.s, on_shutdown) < 0)
		conn_close(c);
}

/* send_answer - write out, or close at once when there is nothing to say;
 * the timer now bounds the write and the wait for the peer's EOF */
static void
send_answer(struct oneshot_conn *c)
{
	uv_buf_t b;

	c->answered = true;
	if (c->out.len == 0 || !sbuf_ok(&c->out)) {
		conn_close(c);
		return;
	}
	uv_timer_again(&c->timer);
	b = uv_buf_init(c->out.buf, (unsigned)c->out.len);
	c->wr.data = c;
	if (uv_write(&c->wr, &c->u.s, &b, 1, on_written) < 0)
		conn_close(c);
}

static void
finish(struct oneshot_conn *c, enum oneshot_end how)
{
	c->buf[c->len] = '\0';
	c->srv->ops->answer(c->srv->arg, c->buf, c->len, how, &c->out);
	send_answer(c);
}

static void
on_timeout(uv_timer_t *t)
{
	struct oneshot_conn *c = t->data;

	if (c->answered)
		conn_close(c);
	else
		finish(c, OS_TIMEOUT);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct oneshot_conn *c = h->data;
	size_t max = c->srv->ops->req_max;

	(void)hint;
	/* After the answer, the request buffer is scratch space. */
	if (c->answered)
		*b = uv_buf_init(c->buf, (unsigned)max);
	else
		*b = uv_buf_init(c->buf + c->len, (unsigned)(max - c->len));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct oneshot_conn *c = s->data;
	const struct oneshot_ops *ops = c->srv->ops;

	(void)b;
	if (c->closing)
		return;
	if (n < 0) {
		uv_read_stop(s);
		c->peer_eof = true;
		/* An EOF while the answer is on its way is the peer's normal
		 * end: on_shutdown closes when the answer is out. */
		if (n != UV_EOF || (c->answered && c->shut))
			conn_close(c);
		else if (!c->answered)
			finish(c, OS_EOF);
		return;
	}
	if (c->answered || n == 0)
		return;
	c->len += (size_t)n;
	if (ops->complete(c->buf, c->len))
		finish(c, OS_COMPLETE);
	else if (c->len >= ops->req_max)
		finish(c, OS_TOOBIG);
}

static void
on_connection(uv_stream_t *h, int status)
{
	struct oneshot_srv *srv = h->data;
	const struct oneshot_ops *ops = srv->ops;
	struct oneshot_conn *c;
	uv_os_fd_t fd;

	if (status < 0) {
		logmsg(LOG_L_WARN, "%s: accept: %s", ops->name,
		    uv_strerror(status));
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->buf = malloc(ops->req_max + 1)) == NULL) {
		free(c);
		logmsg(LOG_L_ERR, "%s: accept: out of memory", ops->name);
		return;
	}
	c->srv = srv;
	sbuf_init(&c->out);
	if (srv->is_pipe)
		uv_pipe_init(srv->loop, &c->u.pipe, 0);
	else
		uv_tcp_init(srv->loop, &c->u.tcp);
	uv_timer_init(srv->loop, &c->timer);
	c->u.h.data = c->timer.data = c;
	c->handles = 2;
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	if (uv_accept(h, &c->u.s) < 0) {
		conn_close(c);
		return;
	}
	if (srv->nconns > ops->conns_max) {
		/* Once a minute at most: a flood must not flood the log. */
		if (srv->warned == 0 || uv_now(srv->loop) - srv->warned >
		    60000) {
			logmsg(LOG_L_WARN, "%s: more than %u connections at "
			    "once; closing the newest", ops->name,
			    ops->conns_max);
			srv->warned = uv_now(srv->loop);
		}
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, ops->timeout_ms,
	    ops->timeout_ms);
	if (uv_read_start(&c->u.s, on_alloc, on_read) < 0) {
		conn_close(c);
		return;
	}
	/* A peer turned away is told why; what it sends is dropped. */
	if (ops->admit != NULL && (uv_fileno(&c->u.h, &fd) < 0 ||
	    !ops->admit(srv->arg, fd, &c->out)))
		send_answer(c);
}

struct oneshot_srv *
oneshot_open(uv_loop_t *loop, int fd, bool is_pipe,
    const struct oneshot_ops *ops, void *arg, char *err, size_t errlen)
{
	struct oneshot_srv *srv = calloc(1, sizeof(*srv));
	int rc;

	if (srv == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->loop = loop;
	srv->ops = ops;
	srv->arg = arg;
	srv->is_pipe = is_pipe;
	if (is_pipe)
		uv_pipe_init(loop, &srv->u.pipe, 0);
	else
		uv_tcp_init(loop, &srv->u.tcp);
	srv->u.h.data = srv;
	srv->listener_open = true;
	rc = is_pipe ? uv_pipe_open(&srv->u.pipe, fd) :
	    uv_tcp_open(&srv->u.tcp, fd);
	if (rc < 0)
		close(fd);	/* not the handle's yet */
	else
		rc = uv_listen(&srv->u.s, 64, on_connection);
	if (rc < 0) {
		snprintf(err, errlen, "%s", uv_strerror(rc));
		oneshot_close(srv);
		return NULL;
	}
	return srv;
}

static void
on_listener_closed(uv_handle_t *h)
{
	struct oneshot_srv *srv = h->data;

	srv->listener_open = false;
	srv_maybe_free(srv);
}

void
oneshot_close(struct oneshot_srv *srv)
{
	if (srv == NULL || srv->closing)
		return;
	srv->closing = true;
	for (struct oneshot_conn *c = srv->conns; c != NULL; c = c->next)
		conn_close(c);
	uv_close(&srv->u.h, on_listener_closed);
}
