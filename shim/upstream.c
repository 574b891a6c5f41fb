/*
 * upstream.c - find the upstream server and connect to it.
 *
 * The name is resolved with uv_getaddrinfo (on libuv's thread pool, so the
 * loop never blocks; the DNS issue replaces it with tlshim's own client).
 * Each address is tried in turn, each with connect_timeout, until one
 * answers.  A plaintext retry after a failed handshake (level may) goes
 * back to the address that answered.
 */
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "shim/log.h"
#include "shim/server.h"
#include "shim/session.h"

static void	try_connect(struct session *);

static void
on_connect(uv_connect_t *req, int status)
{
	struct session *s = req->data;
	char addr[48];
	uint16_t port;

	if (s->ending || status == UV_ECANCELED)
		return;
	io_addr_text(s->ai_cur->ai_addr, addr, sizeof(addr), &port);
	if (status < 0) {
		slog(LOG_L_DETAIL, s, "connect to %s port %u: %s", addr, port,
		    uv_strerror(status));
		s->last_connect_err = status;
		s->up_reopen = UP_REOPEN_NEXT;
		io_close(&s->up);
		return;
	}
	snprintf(s->out.addr, sizeof(s->out.addr), "%s", addr);
	s->out.port = port;
	uv_tcp_nodelay(&s->up.tcp, 1);
	slog(LOG_L_DETAIL, s, "connected to %s port %u", addr, port);
	sess_connected(s);
}

/* try_connect - connect to s->ai_cur, or give up when none is left */
static void
try_connect(struct session *s)
{
	int rc;

	if (s->ai_cur == NULL) {
		sess_refuse(s, RES_FAILED, "cannot connect to %s port %u: %s",
		    s->conf->upstream_host, s->conf->upstream_port,
		    s->last_connect_err != 0 ?
		    uv_strerror(s->last_connect_err) : "no address");
		return;
	}
	io_init(&s->up, s, "server");
	if ((rc = uv_tcp_init(s->srv->loop, &s->up.tcp)) < 0) {
		sess_refuse(s, RES_FAILED, "socket: %s", uv_strerror(rc));
		return;
	}
	s->up.open = true;
	s->handles++;
	sess_enter(s, SS_CONNECTING);
	s->connreq.data = s;
	rc = uv_tcp_connect(&s->connreq, &s->up.tcp, s->ai_cur->ai_addr,
	    on_connect);
	if (rc < 0) {
		s->last_connect_err = rc;
		s->up_reopen = UP_REOPEN_NEXT;
		io_close(&s->up);
	}
}

/* upstream_on_closed - a failed or abandoned upstream handle is closed */
void
upstream_on_closed(struct session *s)
{
	int how = s->up_reopen;

	s->up_reopen = UP_REOPEN_NONE;
	if (how == UP_REOPEN_NEXT)
		s->ai_cur = s->ai_cur->ai_next;
	try_connect(s);
}

/* upstream_on_timeout - this address did not answer in time */
void
upstream_on_timeout(struct session *s)
{
	s->last_connect_err = UV_ETIMEDOUT;
	s->up_reopen = UP_REOPEN_NEXT;
	io_close(&s->up);
}

void
upstream_reconnect(struct session *s)
{
	s->up_reopen = UP_REOPEN_SAME;
	io_close(&s->up);
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct session *s = req->data;

	s->gai_pending = false;
	if (s->ending) {
		if (res != NULL)
			uv_freeaddrinfo(res);
		sess_on_closed_request(s);
		return;
	}
	sess_on_closed_request(s);
	if (status < 0) {
		sess_refuse(s, RES_FAILED, "cannot resolve %s: %s",
		    s->conf->upstream_host, uv_strerror(status));
		return;
	}
	s->ai_list = s->ai_cur = res;
	try_connect(s);
}

void
upstream_start(struct session *s)
{
	struct addrinfo hints;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV |
	    (s->conf->upstream_is_ip ? AI_NUMERICHOST : 0);
	snprintf(port, sizeof(port), "%u", s->conf->upstream_port);
	s->gai.data = s;
	rc = uv_getaddrinfo(s->srv->loop, &s->gai, on_resolved,
	    s->conf->upstream_host, port, &hints);
	if (rc < 0) {
		sess_refuse(s, RES_FAILED, "cannot resolve %s: %s",
		    s->conf->upstream_host, uv_strerror(rc));
		return;
	}
	s->gai_pending = true;
	s->handles++;
}
