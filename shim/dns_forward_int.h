/*
 * dns_forward_int.h - what the DNS forwarder's two files share:
 * dns_forward.c (listeners, TCP clients, the forwarder's life) and
 * dns_forward_query.c (one query: checked, sent up, answered).  Not for
 * the rest of tlshim: use dns_forward.h.
 */
#ifndef TLSHIM_DNS_FORWARD_INT_H
#define TLSHIM_DNS_FORWARD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "shim/dns_forward.h"
#include "shim/name_map.h"

#define HDR_LEN		12
#define QR_BIT		0x80		/* in byte 2 */
#define RA_BIT		0x80		/* in byte 3 */
#define RCODE_FORMERR	1
#define RCODE_SERVFAIL	2
#define RCODE_NOTIMP	4

struct fwd_listener {
	uv_udp_t		 udp;
	uv_tcp_t		 tcp;
	struct dns_fwd		*f;
	bool			 udp_init, tcp_init;
};

/* One TCP client: length-prefixed queries, read one after another. */
struct fwd_client {
	struct fwd_client	*next, *prev;
	struct dns_fwd		*f;
	uv_tcp_t		 h;
	uv_timer_t		 idle;
	unsigned		 handles;	/* h and idle, until closed */
	unsigned		 pending;	/* its queries in flight */
	bool			 closed;	/* closing: answer nothing */
	struct nm_addr		 asker;
	uint8_t			 hdr[2];
	size_t			 hgot;
	uint8_t			*msg;		/* need bytes, got so far */
	size_t			 need, got;
};

/* One try's socket to a resolver. */
struct fwd_up {
	union {
		uv_handle_t	 any;
		uv_udp_t	 udp;
		uv_tcp_t	 tcp;
	} h;
	struct fwd_q		*q;
	uv_udp_send_t		 send;
	uv_connect_t		 conn;
	uv_write_t		 write;
	uint8_t			 prefix[2], hdr[2];
	size_t			 hgot;
	uint8_t			*body;
	size_t			 need, got;
};

struct fwd_q {
	struct fwd_q		*next, *prev;
	struct dns_fwd		*f;
	struct fwd_client	*c;		/* asked over TCP; NULL: UDP */
	struct fwd_listener	*l;		/* UDP: answer from here */
	struct sockaddr_storage	 from;		/* UDP: to there */
	struct nm_addr		 asker;
	uint8_t			*wire;		/* the query with our ID */
	size_t			 len, qend;	/* qend: end of the question */
	uint16_t		 cid, qid;	/* the client's ID, ours */
	uint16_t		 qtype;
	char			 qname[DNS_NAME_MAX];	/* "": learn nothing */
	unsigned		 try, ntries;
	uv_timer_t		 timer;
	struct fwd_up		*up;		/* the current try's */
	unsigned		 handles;	/* timer and sockets open */
	bool			 done;
};

struct dns_fwd {
	uv_loop_t		*loop;
	struct dns_settings	 set;
	struct name_map		*map;
	struct fwd_listener	 l[DNS_FWD_LISTEN_MAX];
	size_t			 nl;
	unsigned		 alive;		/* handles, clients, queries */
	unsigned		 inflight, nclients;
	bool			 closing;
	struct fwd_q		*queries;
	struct fwd_client	*clients;
	struct dns_fwd_stats	 st;
	uint8_t			 rbuf[65536];	/* a datagram at a time */
};

#define COUNT(f, field)	__atomic_add_fetch(&(f)->st.field, 1, \
			    __ATOMIC_RELAXED)

static inline uint16_t
fwd_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
fwd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* dns_forward.c */
/* fwd_unref - one listener handle, client or query fewer */
void	fwd_unref(struct dns_fwd *);
/* fwd_client_send - one length-prefixed message to a TCP client */
void	fwd_client_send(struct fwd_client *, const uint8_t *, size_t);
/* fwd_client_close - stop reading, close (freed when its queries end) */
void	fwd_client_close(struct fwd_client *);
/* fwd_client_maybe_free - free c once closed and without queries */
void	fwd_client_maybe_free(struct fwd_client *);

/* dns_forward_query.c */
/* fwd_query - a client's message w: answer an error, drop it, or forward
 * it; from a UDP listener l and address from, or from TCP client c */
void	fwd_query(struct dns_fwd *, const uint8_t *w, size_t len,
	    struct fwd_listener *l, const struct sockaddr *from,
	    struct fwd_client *c);
/* fwd_query_done - q is answered, failed or dropped: let go of it */
void	fwd_query_done(struct fwd_q *);

#endif
