/*
 * io.c - reading, writing and half-closing one side of a session.
 */
#include "config.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/io.h"
#include "shim/server.h"
#include "shim/session.h"

/* A write that the kernel did not take at once: the bytes live here until
 * the write callback frees the request. */
struct wreq {
	uv_write_t		 req;
	struct endpoint		*ep;
	size_t			 len;
	char			 data[];
};

#define EP(h)	((struct endpoint *)(h)->data)

/*
 * Writes gathered while one read is handled.  Relayed inside TLS, a 64 KiB
 * read becomes four records, each pushed on its own; one system call for
 * all of them costs less than four, copy included.  Per thread: a loop
 * runs on one thread and handles one read at a time.  The buffer is made
 * on the thread's first read and freed when the thread ends.
 */
struct gather {
	bool			 on;		/* a read is being handled */
	struct endpoint		*ep;		/* whose bytes buf holds */
	size_t			 len;
	char			*buf;		/* IO_GATHER_BUF bytes */
};

/* Larger writes (plaintext relayed as read) go out as they are: one
 * system call anyway, and no copy.  A whole TLS record is smaller. */
#define GATHER_MAX_WRITE	(17 * 1024)

static __thread struct gather gather;
static pthread_key_t gather_key;
static pthread_once_t gather_once = PTHREAD_ONCE_INIT;

static void	write_now(struct endpoint *, const char *, size_t);

void
io_init(struct endpoint *ep, struct session *s, const char *name)
{
	memset(ep, 0, sizeof(*ep));
	ep->s = s;
	ep->name = name;
	ep->tcp.data = ep;
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct endpoint *ep = EP(h);

	/* Safe to share: read_cb consumes the bytes before returning, and
	 * one loop never runs two read callbacks at once. */
	buf->base = ep->s->srv->readbuf;
	buf->len = sizeof(ep->s->srv->readbuf);
}

/* gather_free - the thread ends: its buffer goes */
static void
gather_free(void *buf)
{
	free(buf);
}

static void
gather_key_make(void)
{
	(void)pthread_key_create(&gather_key, gather_free);
}

/* gather_begin - writes from now on wait for gather_flush(); false when
 * there is no buffer (they go out at once then) */
static bool
gather_begin(void)
{
	if (gather.buf == NULL) {
		(void)pthread_once(&gather_once, gather_key_make);
		if ((gather.buf = malloc(IO_GATHER_BUF)) == NULL)
			return false;
		(void)pthread_setspecific(gather_key, gather.buf);
	}
	gather.on = true;
	return true;
}

/* gather_flush - write what was gathered.  Writes made meanwhile (an
 * error handler's) go out at once. */
static void
gather_flush(void)
{
	struct endpoint *ep = gather.ep;
	size_t len = gather.len;
	bool on = gather.on;

	if (ep == NULL)
		return;
	gather.ep = NULL;
	gather.len = 0;
	gather.on = false;
	ep->queued -= len;
	write_now(ep, gather.buf, len);
	gather.on = on;
}

static void
on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
	struct endpoint *ep = EP(h);

	if (n > 0) {
		bool gathering = gather_begin();

		sess_on_read(ep, buf->base, (size_t)n);
		if (gathering) {
			gather_flush();
			gather.on = false;
		}
	} else if (n == UV_EOF) {
		ep->eof = true;
		io_read_stop(ep);
		sess_on_eof(ep);
	} else if (n < 0) {
		ep->failed = true;
		io_read_stop(ep);
		sess_on_error(ep, (int)n);
	}
}

/* apply - start or stop the handle as wanted and allowed */
static int
apply(struct endpoint *ep)
{
	bool want = ep->open && !ep->eof && ep->reading && !ep->paused;
	int rc;

	if (want == ep->active)
		return 0;
	if (want) {
		rc = uv_read_start((uv_stream_t *)&ep->tcp, on_alloc, on_read);
		if (rc < 0)
			return rc;
	} else if (ep->open)
		uv_read_stop((uv_stream_t *)&ep->tcp);
	ep->active = want;
	return 0;
}

int
io_read_start(struct endpoint *ep)
{
	ep->reading = true;
	return apply(ep);
}

void
io_read_stop(struct endpoint *ep)
{
	ep->reading = false;
	apply(ep);
}

void
io_pause(struct endpoint *ep)
{
	if (!ep->paused) {
		ep->paused = true;
		apply(ep);
	}
}

void
io_resume(struct endpoint *ep)
{
	if (ep->paused) {
		ep->paused = false;
		apply(ep);
	}
}

static void
on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct endpoint *ep = w->ep;

	ep->queued -= w->len;
	ep->inreqs -= w->len;
	free(w);
	if (status < 0) {
		if (status != UV_ECANCELED && !ep->failed) {
			ep->failed = true;
			sess_on_error(ep, status);
		}
		return;
	}
	if (ep->queued < IO_QUEUE_LOW)
		sess_on_drain(ep);
}

void
io_write(struct endpoint *ep, const void *data, size_t len)
{
	bool gathered = gather.on && len <= GATHER_MAX_WRITE;

	if (len == 0 || !ep->open || ep->failed || ep->shut)
		return;
	/* What is gathered goes first: before a write to the other side,
	 * before one that is not gathered, before more than fit. */
	if (gather.ep != NULL && (gather.ep != ep || !gathered ||
	    gather.len + len > IO_GATHER_BUF)) {
		gather_flush();
		if (!ep->open || ep->failed)
			return;		/* the flush failed: see on_error */
	}
	if (!gathered) {
		write_now(ep, data, len);
		return;
	}
	memcpy(gather.buf + gather.len, data, len);
	gather.len += len;
	gather.ep = ep;
	ep->queued += len;
}

/* write_now - write at once what the kernel takes, queue the rest */
static void
write_now(struct endpoint *ep, const char *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	struct wreq *w;
	int rc;

	/* A write, a shutdown or a close may come from an error handler
	 * after the endpoint failed. */
	if (len == 0 || !ep->open || ep->failed)
		return;
	/* Keep order: only write directly when nothing is queued. */
	if (ep->inreqs == 0) {
		rc = uv_try_write((uv_stream_t *)&ep->tcp, &b, 1);
		if (rc == (int)len)
			return;
		if (rc < 0 && rc != UV_EAGAIN) {
			ep->failed = true;
			sess_on_error(ep, rc);
			return;
		}
		if (rc > 0) {
			data += rc;
			len -= (size_t)rc;
		}
	}
	if ((w = malloc(sizeof(*w) + len)) == NULL) {
		ep->failed = true;
		sess_on_error(ep, UV_ENOMEM);
		return;
	}
	w->ep = ep;
	w->len = len;
	memcpy(w->data, data, len);
	b = uv_buf_init(w->data, (unsigned)len);
	rc = uv_write(&w->req, (uv_stream_t *)&ep->tcp, &b, 1, on_write);
	if (rc < 0) {
		free(w);
		ep->failed = true;
		sess_on_error(ep, rc);
		return;
	}
	ep->queued += len;
	ep->inreqs += len;
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct endpoint *ep = req->data;

	ep->shut_done = true;
	ep->s->handles--;
	if (status < 0 && status != UV_ECANCELED && !ep->failed) {
		ep->failed = true;
		sess_on_error(ep, status);
		return;
	}
	sess_on_drain(ep);
}

void
io_shutdown(struct endpoint *ep)
{
	if (!ep->open || ep->shut || ep->failed)
		return;
	if (gather.ep == ep)
		gather_flush();		/* the FIN goes after them */
	if (ep->failed)
		return;
	ep->shut = true;
	ep->shutreq.data = ep;
	if (uv_shutdown(&ep->shutreq, (uv_stream_t *)&ep->tcp, on_shutdown) < 0)
		ep->shut_done = true;	/* not connected: nothing to flush */
	else
		ep->s->handles++;
}

static void
on_close(uv_handle_t *h)
{
	sess_on_closed(EP(h));
}

void
io_close(struct endpoint *ep)
{
	if (!ep->open)
		return;
	/* What was written before the close goes out as it would have
	 * without gathering: handed to the kernel, or dropped if the
	 * kernel does not take it now. */
	if (gather.ep == ep)
		gather_flush();
	ep->open = false;
	uv_close((uv_handle_t *)&ep->tcp, on_close);
}

/* io_addr_text - numeric address and port of a socket address */
int
io_addr_text(const struct sockaddr *sa, char *buf, size_t len,
    uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		uv_ip4_name(in, buf, len);
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		uv_ip6_name(in6, buf, len);
		*port = ntohs(in6->sin6_port);
		return 0;
	}
	snprintf(buf, len, "?");
	*port = 0;
	return -1;
}
