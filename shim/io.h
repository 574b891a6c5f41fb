/*
 * io.h - one side of a session: a TCP handle, its write queue and the
 * flags of its half-close.
 *
 * Reads land in the worker's one shared buffer and are handed to the
 * session at once, so an idle endpoint holds no buffer.  What the session
 * writes while it handles a read is gathered, and goes out in one
 * uv_try_write when the read is handled (or before a write to the other
 * side, a shutdown or a close); only what the kernel did not take is
 * copied into a queued request.  The bytes not yet taken by the kernel,
 * gathered or queued, drive backpressure.
 */
#ifndef TLSHIM_IO_H
#define TLSHIM_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* Stop reading a side while the other side has this much queued, and
 * resume below the low mark. */
#define IO_QUEUE_HIGH	(256 * 1024)
#define IO_QUEUE_LOW	(64 * 1024)
#define IO_READ_BUF	(64 * 1024)
/* Gathered bytes go out when this many are waiting: one read's worth,
 * with room for the TLS records' overhead (22 bytes each 16 KiB).  Below
 * IO_QUEUE_HIGH, so that gathered bytes alone never pause a side (only a
 * queue that a write callback will drain does). */
#define IO_GATHER_BUF	(IO_READ_BUF + 4096)

struct session;

struct endpoint {
	uv_tcp_t		 tcp;		/* tcp.data is the endpoint */
	struct session		*s;
	const char		*name;		/* "client" or "server" */
	size_t			 queued;	/* bytes the kernel has not
						 * taken: gathered or in
						 * write requests */
	size_t			 inreqs;	/* of which in write requests */
	bool			 open;		/* tcp initialized, not closed */
	bool			 reading;	/* wanted by the session */
	bool			 paused;	/* stopped by backpressure */
	bool			 active;	/* uv_read_start() in force */
	bool			 eof;		/* the peer sent its FIN */
	bool			 shut;		/* we sent ours */
	bool			 shut_done;	/* and it completed */
	bool			 failed;	/* a write or read failed */
	uv_shutdown_t		 shutreq;
};

void	io_init(struct endpoint *, struct session *, const char *name);
/* io_read_start / io_read_stop - what the session wants */
int	io_read_start(struct endpoint *);
void	io_read_stop(struct endpoint *);
/* io_pause / io_resume - backpressure, on top of what the session wants */
void	io_pause(struct endpoint *);
void	io_resume(struct endpoint *);
/* io_write - queue bytes; errors are reported through sess_on_error */
void	io_write(struct endpoint *, const void *, size_t);
/* io_shutdown - send FIN once everything queued is written */
void	io_shutdown(struct endpoint *);
/* io_close - close the handle; sess_handle_closed() follows */
void	io_close(struct endpoint *);
/* io_peer_name - "addr" and port of the far end, or of the local end */
int	io_addr_text(const struct sockaddr *, char *, size_t, uint16_t *);

#endif
