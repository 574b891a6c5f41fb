/*
 * oneshot.h - small servers that read one request per connection, write
 * one answer and close: the metrics page (HTTP/1.1, Connection: close)
 * and the control socket.
 *
 * They run on an event loop next to the sessions, so nothing here may
 * block or grow without bound: a request has a size limit and the whole
 * exchange a time limit, and only so many connections are served at once.
 */
#ifndef TLSHIM_ONESHOT_H
#define TLSHIM_ONESHOT_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct sbuf;
struct oneshot_srv;

/* Why reading stopped. */
enum oneshot_end {
	OS_COMPLETE = 0,	/* complete() said so */
	OS_EOF,			/* the peer closed its side first */
	OS_TOOBIG,		/* req_max bytes and not complete */
	OS_TIMEOUT		/* timeout_ms went by */
};

struct oneshot_ops {
	const char	*name;		/* for the log: "metrics", "control" */
	size_t		 req_max;	/* bytes of request read at most */
	unsigned	 timeout_ms;	/* to read the request; again to
					 * write the answer */
	unsigned	 conns_max;	/* served at once; more are closed */
	/* Is there a whole request in buf? */
	bool		(*complete)(const char *buf, size_t len);
	/* May this peer talk (fd is the connection)?  false: out holds
	 * what to tell it before closing.  NULL: everyone may. */
	bool		(*admit)(void *arg, int fd, struct sbuf *out);
	/* The answer to the request in buf (len bytes, NUL-terminated) into
	 * out; an empty out closes without a word. */
	void		(*answer)(void *arg, const char *buf, size_t len,
			    enum oneshot_end how, struct sbuf *out);
};

/* oneshot_open - serve on fd (bound, listening or not: listen() is done
 * here), a TCP socket or, with is_pipe, a Unix one.  fd belongs to the
 * server from now on, also on failure.  NULL with err filled. */
struct oneshot_srv *oneshot_open(uv_loop_t *, int fd, bool is_pipe,
		    const struct oneshot_ops *, void *arg, char *err,
		    size_t errlen);
/* oneshot_close - stop listening, cut the connections, free it all once
 * libuv is done with the handles */
void		 oneshot_close(struct oneshot_srv *);

#endif
