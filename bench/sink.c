/*
 * sink.c - a STARTTLS SMTP server that accepts mail and throws it away as
 * fast as it can: the upstream of the relay benchmark.
 *
 *   sink -a 127.0.0.1:PORT -c CERT -k KEY [-w THREADS] [-T] [-P] [-p PRIO]
 *
 * It greets, answers EHLO (offering STARTTLS), STARTTLS (TLS 1.3 with
 * GnuTLS, AES-128-GCM and X25519 preferred), MAIL, RCPT, DATA (the body
 * is scanned for CRLF.CRLF with memchr over large reads and discarded),
 * RSET, NOOP and QUIT.  -T turns TLS session tickets on (so clients can resume); without
 * it none are issued and every handshake is a full one.  -P is plaintext
 * only (no STARTTLS offered): the direct baseline of the latency figure.
 *
 * Each worker thread owns an epoll loop and its own SO_REUSEPORT listener;
 * workers share only the read-only credentials and the ticket key.  A
 * connection belongs to the worker that accepted it, and is freed by that
 * worker in conn_close().  SIGUSR1 prints the counters; SIGTERM prints them
 * and exits.
 */
#include "config.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "bench/bench.h"

/* TLS 1.3 only; AES-128-GCM first (it has the fast path here) and X25519
 * first, as most servers do; the server's order wins. */
#define SINK_PRIORITY	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:" \
			"+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:" \
			"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:" \
			"+GROUP-SECP384R1:%SERVER_PRECEDENCE"
#define READ_BUF	(256 * 1024)
#define CIPHER_BUF	(64 * 1024)	/* ciphertext read at once: 4 records */
#define OUT_MAX		4096
#define DRAIN_MS	2000	/* after QUIT, wait this long for the EOF */
#define MAX_EVENTS	256

enum cstate { C_CMD, C_DATA, C_HANDSHAKE, C_DRAIN };

struct counters {
	uint64_t	 accepted, tls, resumed, messages, bytes, errors;
};

struct worker;

struct conn {
	int		 fd;
	enum cstate	 st;
	struct worker	*w;
	gnutls_session_t gs;		/* NULL until STARTTLS */
	bool		 tls;		/* records, not bytes, from now on */
	bool		 pollout;	/* EPOLLOUT is registered */
	bool		 skip;		/* discarding an overlong line */
	bool		 quit;		/* half-close once the 221 is out */
	uint64_t	 drain_until;	/* C_DRAIN: close at this time */
	char		*cbuf;		/* ciphertext read, not yet pulled */
	size_t		 cpos, clen;
	struct conn	*dnext, *dprev;	/* the worker's draining list */
	size_t		 linelen;
	size_t		 taillen;	/* DATA: last bytes seen, up to 4 */
	size_t		 outlen;
	size_t		 again;		/* TLS send to repeat, 0 if none */
	char		 tail[4];
	char		 line[BENCH_LINE_MAX];
	char		 out[OUT_MAX];	/* replies not yet taken by the kernel */
};

struct worker {
	pthread_t	 th;
	int		 ep, lfd;
	struct conn	*draining;
	struct counters	 c;
	char		 buf[READ_BUF];
};

static struct {
	struct sockaddr_in		 addr;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t		 prio;
	gnutls_datum_t			 ticket_key;
	bool				 tickets, plain;
	volatile int			 stop;
} g;

#define COUNT(w, f, n)	__atomic_fetch_add(&(w)->c.f, (n), __ATOMIC_RELAXED)

static void	enter_drain(struct conn *);

/* ------------------------------------------------------- connections */

/* conn_close - the only place a connection is freed */
static void
conn_close(struct conn *c, bool error)
{
	if (error)
		COUNT(c->w, errors, 1);
	if (c->st == C_DRAIN) {
		if (c->dprev != NULL)
			c->dprev->dnext = c->dnext;
		else
			c->w->draining = c->dnext;
		if (c->dnext != NULL)
			c->dnext->dprev = c->dprev;
	}
	close(c->fd);		/* also removes it from the epoll set */
	if (c->gs != NULL)
		gnutls_deinit(c->gs);
	free(c->cbuf);
	free(c);
}

static void
set_pollout(struct conn *c, bool on)
{
	struct epoll_event ev;

	if (c->pollout == on)
		return;
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = c;
	epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->pollout = on;
}

/* flush_out - hand queued replies to the kernel (through TLS once it is
 * on); false if the connection failed */
static bool
flush_out(struct conn *c)
{
	ssize_t n;

	while (c->outlen > 0) {
		if (c->tls) {
			/* GnuTLS wants a send that said AGAIN repeated with
			 * the same arguments. */
			size_t len = c->again ? c->again : c->outlen;

			n = gnutls_record_send(c->gs, c->out, len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
				c->again = len;
				set_pollout(c, true);
				return true;
			}
			c->again = 0;
			if (n < 0)
				return false;
		} else {
			n = write(c->fd, c->out, c->outlen);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				set_pollout(c, true);
				return true;
			}
			if (n < 0)
				return false;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	set_pollout(c, false);
	if (c->quit && c->st != C_DRAIN)
		enter_drain(c);
	return true;
}

/* reply - queue a reply and try to send it; false if it failed */
static bool
reply(struct conn *c, const char *text)
{
	size_t len = strlen(text);

	if (c->outlen + len > sizeof(c->out))
		return false;	/* a client that never reads */
	memcpy(c->out + c->outlen, text, len);
	c->outlen += len;
	return flush_out(c);
}

/* pull - GnuTLS wants ciphertext: serve it from one large read, so that
 * a bulk transfer costs one read(2) per four records, not one or two per
 * record.  The buffer is only there while it holds something. */
static ssize_t
pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct conn *c = p;
	ssize_t n;

	if (c->cpos == c->clen) {
		if (c->cbuf == NULL && (c->cbuf = malloc(CIPHER_BUF)) == NULL) {
			gnutls_transport_set_errno(c->gs, ENOMEM);
			return -1;
		}
		n = read(c->fd, c->cbuf, CIPHER_BUF);
		if (n <= 0) {
			free(c->cbuf);
			c->cbuf = NULL;
			c->cpos = c->clen = 0;
			if (n < 0)
				gnutls_transport_set_errno(c->gs, errno);
			return n;
		}
		c->cpos = 0;
		c->clen = (size_t)n;
	}
	n = (ssize_t)(len < c->clen - c->cpos ? len : c->clen - c->cpos);
	memcpy(buf, c->cbuf + c->cpos, (size_t)n);
	c->cpos += (size_t)n;
	return n;
}

static ssize_t
push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	struct conn *c = p;
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		gnutls_transport_set_errno(c->gs, errno);
	return n;
}

/* start_tls - the 220 went out in plaintext; now the handshake */
static bool
start_tls(struct conn *c)
{
	unsigned flags = GNUTLS_SERVER | GNUTLS_NONBLOCK;

	if (!g.tickets)
		flags |= GNUTLS_NO_TICKETS;
	if (gnutls_init(&c->gs, flags) < 0 ||
	    gnutls_priority_set(c->gs, g.prio) < 0 ||
	    gnutls_credentials_set(c->gs, GNUTLS_CRD_CERTIFICATE, g.cred) < 0)
		return false;
	if (g.tickets &&
	    gnutls_session_ticket_enable_server(c->gs, &g.ticket_key) < 0)
		return false;
	gnutls_transport_set_ptr(c->gs, c);
	gnutls_transport_set_pull_function(c->gs, pull);
	gnutls_transport_set_push_function(c->gs, push);
	gnutls_handshake_set_timeout(c->gs, 0);
	c->st = C_HANDSHAKE;
	return true;
}

/* enter_drain - QUIT answered: half-close, read until EOF, then close */
static void
enter_drain(struct conn *c)
{
	struct worker *w = c->w;

	if (c->tls)
		(void)gnutls_bye(c->gs, GNUTLS_SHUT_WR);
	shutdown(c->fd, SHUT_WR);
	c->st = C_DRAIN;
	c->drain_until = bench_now_us() + DRAIN_MS * 1000u;
	c->dprev = NULL;
	c->dnext = w->draining;
	if (w->draining != NULL)
		w->draining->dprev = c;
	w->draining = c;
}

static bool
is_cmd(const char *line, size_t len, const char *cmd)
{
	size_t n = strlen(cmd);

	return len >= n && strncasecmp(line, cmd, n) == 0 &&
	    (len == n || line[n] == ' ');
}

/* command - one command line without CRLF; false ends the connection.
 * *stop says the bytes after this line must not be read as commands. */
static bool
command(struct conn *c, const char *line, size_t len, bool *stop)
{
	*stop = false;
	if (is_cmd(line, len, "EHLO"))
		return reply(c, c->tls || g.plain ?
		    "250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
		    "250-SIZE 0\r\n250 ENHANCEDSTATUSCODES\r\n" :
		    "250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
		    "250-SIZE 0\r\n250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n");
	if (is_cmd(line, len, "HELO"))
		return reply(c, "250 sink.bench\r\n");
	if (is_cmd(line, len, "MAIL"))
		return reply(c, "250 2.1.0 Ok\r\n");
	if (is_cmd(line, len, "RCPT"))
		return reply(c, "250 2.1.5 Ok\r\n");
	if (is_cmd(line, len, "DATA")) {
		c->st = C_DATA;
		/* The CRLF that ended "DATA" counts: an empty body is ".". */
		memcpy(c->tail, "\r\n", 2);
		c->taillen = 2;
		return reply(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
	}
	if (is_cmd(line, len, "RSET") || is_cmd(line, len, "NOOP"))
		return reply(c, "250 2.0.0 Ok\r\n");
	if (is_cmd(line, len, "QUIT")) {
		*stop = true;
		c->quit = true;		/* flush_out() half-closes */
		return reply(c, "221 2.0.0 Bye\r\n");
	}
	if (is_cmd(line, len, "STARTTLS")) {
		if (c->tls || g.plain)
			return reply(c, "454 4.7.0 TLS not available\r\n");
		/* Whatever followed STARTTLS in plaintext is dropped
		 * (RFC 3207 5): the handshake reads the socket itself. */
		*stop = true;
		if (!reply(c, "220 2.0.0 Ready to start TLS\r\n") ||
		    c->outlen > 0)
			return false;
		return start_tls(c);
	}
	return reply(c, "502 5.5.2 Command not recognized\r\n");
}

/* data_end - offset just past CRLF.CRLF in p, or 0 if not there; the tail
 * of what came before is taken into account and updated.  A terminator
 * that starts in the tail is found in tmp; one that starts in p but runs
 * past its end is found next time, from the tail. */
static size_t
data_end(struct conn *c, const char *p, size_t n)
{
	static const char eod[] = "\r\n.\r\n";
	char tmp[4 + 4];
	size_t k, m, keep;
	const char *hit;

	/* A terminator that starts in the tail: it ends in p's first 4. */
	m = n < 4 ? n : 4;
	memcpy(tmp, c->tail, c->taillen);
	memcpy(tmp + c->taillen, p, m);
	hit = memmem(tmp, c->taillen + m, eod, 5);
	if (hit != NULL && (size_t)(hit - tmp) < c->taillen) {
		k = (size_t)(hit - tmp) + 5 - c->taillen;
		return k;
	}
	/* One wholly in p: look for the dots (memchr runs at memory speed;
	 * memmem with this needle is ten times slower on CRLF-dense text)
	 * and check the bytes around each. */
	for (const char *q = p + 2, *end = p + n - 2; n >= 5 && q < end; q++) {
		if ((q = memchr(q, '.', (size_t)(end - q))) == NULL)
			break;
		if (q[-2] == '\r' && q[-1] == '\n' && q[1] == '\r' &&
		    q[2] == '\n')
			return (size_t)(q - p) + 3;
	}
	/* Keep the last 4 bytes of tail + p. */
	if (n >= 4) {
		memcpy(c->tail, p + n - 4, 4);
		c->taillen = 4;
	} else {
		keep = c->taillen + n > 4 ? c->taillen + n - 4 : 0;
		memmove(c->tail, c->tail + keep, c->taillen - keep);
		memcpy(c->tail + c->taillen - keep, p, n);
		c->taillen = c->taillen - keep + n;
	}
	return 0;
}

/* feed - bytes from the client; false ends the connection */
static bool
feed(struct conn *c, const char *p, size_t n)
{
	size_t k;
	bool stop;

	while (n > 0) {
		if (c->st == C_DRAIN || c->st == C_HANDSHAKE)
			return true;	/* after QUIT or STARTTLS: ignored */
		if (c->st == C_DATA) {
			if ((k = data_end(c, p, n)) == 0) {
				COUNT(c->w, bytes, n);
				return true;
			}
			COUNT(c->w, bytes, k);
			COUNT(c->w, messages, 1);
			c->st = C_CMD;
			p += k;
			n -= k;
			if (!reply(c, "250 2.0.0 Ok: discarded\r\n"))
				return false;
			continue;
		}
		const char *nl = memchr(p, '\n', n);
		size_t take = nl != NULL ? (size_t)(nl - p) + 1 : n;

		if (c->skip || c->linelen + take > sizeof(c->line)) {
			c->skip = nl == NULL;
			c->linelen = 0;
			p += take;
			n -= take;
			if (nl != NULL && !reply(c, "500 5.5.6 Line too long\r\n"))
				return false;
			continue;
		}
		memcpy(c->line + c->linelen, p, take);
		c->linelen += take;
		p += take;
		n -= take;
		if (nl == NULL)
			return true;
		k = c->linelen - 1;
		if (k > 0 && c->line[k - 1] == '\r')
			k--;
		c->linelen = 0;
		if (!command(c, c->line, k, &stop))
			return false;
		if (stop)
			return true;
	}
	return true;
}

/* handshake - go on with it; false ends the connection */
static bool
handshake(struct conn *c)
{
	int rc = gnutls_handshake(c->gs);

	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
		set_pollout(c, gnutls_record_get_direction(c->gs) == 1);
		return true;
	}
	if (rc < 0)
		return false;
	c->tls = true;
	c->st = C_CMD;
	COUNT(c->w, tls, 1);
	if (gnutls_session_is_resumed(c->gs))
		COUNT(c->w, resumed, 1);
	set_pollout(c, false);
	return true;
}

/* readable - read until the socket (and GnuTLS) has nothing more */
static void
readable(struct conn *c)
{
	struct worker *w = c->w;
	gnutls_packet_t pkt;
	gnutls_datum_t d;
	ssize_t n;
	bool ok;

	for (;;) {
		if (c->st == C_HANDSHAKE) {
			if (!handshake(c)) {
				conn_close(c, true);
				return;
			}
			if (c->st == C_HANDSHAKE)
				return;
		}
		if (c->tls) {
			/* The record as GnuTLS decrypted it, without a copy. */
			n = gnutls_record_recv_packet(c->gs, &pkt);
			if (n == GNUTLS_E_AGAIN)
				return;
			if (n == GNUTLS_E_INTERRUPTED ||
			    (n < 0 && !gnutls_error_is_fatal((int)n)))
				continue;
			if (n > 0) {
				gnutls_packet_get(pkt, &d, NULL);
				ok = feed(c, (const char *)d.data, d.size);
				gnutls_packet_deinit(pkt);
				if (!ok) {
					conn_close(c, true);
					return;
				}
				continue;
			}
		} else {
			n = read(c->fd, w->buf, sizeof(w->buf));
			if (n < 0 && errno == EAGAIN)
				return;
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n <= 0) {
			/* EOF: expected after QUIT, an error before. */
			conn_close(c, c->st != C_DRAIN && c->st != C_CMD);
			return;
		}
		if (!feed(c, w->buf, (size_t)n)) {
			conn_close(c, true);
			return;
		}
	}
}

static void
writable(struct conn *c)
{
	if (c->st == C_HANDSHAKE) {
		readable(c);	/* the handshake decides which way */
		return;
	}
	if (!flush_out(c))
		conn_close(c, true);
}

/* ----------------------------------------------------------- workers */

static void
accept_all(struct worker *w)
{
	struct epoll_event ev;
	struct conn *c;
	int fd, one = 1;

	while ((fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->w = w;
		c->st = C_CMD;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		COUNT(w, accepted, 1);
		if (!reply(c, "220 sink.bench ESMTP bench sink\r\n"))
			conn_close(c, true);
	}
}

/* sweep - close connections that did not hang up after QUIT */
static void
sweep(struct worker *w)
{
	uint64_t now = bench_now_us();
	struct conn *c, *next;

	for (c = w->draining; c != NULL; c = next) {
		next = c->dnext;
		if (now >= c->drain_until)
			conn_close(c, false);
	}
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[MAX_EVENTS];
	int n;

	while (!g.stop) {
		n = epoll_wait(w->ep, ev, MAX_EVENTS, 250);
		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;

			if (c == NULL) {
				accept_all(w);
				continue;
			}
			if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				readable(c);
			else if (ev[i].events & EPOLLOUT)
				writable(c);
		}
		if (w->draining != NULL)
			sweep(w);
	}
	return NULL;
}

static int
listen_socket(void)
{
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&g.addr, sizeof(g.addr)) < 0 ||
	    listen(fd, 4096) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
print_stats(struct worker *ws, int nw, const char *when)
{
	struct counters t = { 0 };

	for (int i = 0; i < nw; i++) {
		t.accepted += __atomic_load_n(&ws[i].c.accepted, __ATOMIC_RELAXED);
		t.tls += __atomic_load_n(&ws[i].c.tls, __ATOMIC_RELAXED);
		t.resumed += __atomic_load_n(&ws[i].c.resumed, __ATOMIC_RELAXED);
		t.messages += __atomic_load_n(&ws[i].c.messages, __ATOMIC_RELAXED);
		t.bytes += __atomic_load_n(&ws[i].c.bytes, __ATOMIC_RELAXED);
		t.errors += __atomic_load_n(&ws[i].c.errors, __ATOMIC_RELAXED);
	}
	printf("SINK %s accepted=%llu tls=%llu resumed=%llu messages=%llu "
	    "bytes=%llu errors=%llu\n", when,
	    (unsigned long long)t.accepted, (unsigned long long)t.tls,
	    (unsigned long long)t.resumed, (unsigned long long)t.messages,
	    (unsigned long long)t.bytes, (unsigned long long)t.errors);
	fflush(stdout);
}

static void
usage(void)
{
	fprintf(stderr, "usage: sink -a 127.0.0.1:PORT [-c CERT -k KEY] "
	    "[-w THREADS] [-T] [-P] [-p PRIORITY]\n"
	    "  -T  issue TLS session tickets (resumption); default: none\n"
	    "  -P  plaintext only: no STARTTLS offered\n");
	exit(64);
}

static void
die(const char *what, int rc)
{
	fprintf(stderr, "sink: %s: %s\n", what, gnutls_strerror(rc));
	exit(1);
}

int
main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL, *prio = SINK_PRIORITY, *errpos;
	struct worker *ws;
	struct epoll_event ev;
	sigset_t set;
	int nw = 1, opt, sig, rc;

	while ((opt = getopt(argc, argv, "a:c:k:w:TPp:")) != -1) {
		switch (opt) {
		case 'a':
			if (!bench_parse_addr(optarg, &g.addr))
				exit(64);
			break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'w': nw = atoi(optarg); break;
		case 'T': g.tickets = true; break;
		case 'P': g.plain = true; break;
		case 'p': prio = optarg; break;
		default: usage();
		}
	}
	if (g.addr.sin_port == 0 || nw < 1 || nw > 64 ||
	    (!g.plain && (cert == NULL || key == NULL)))
		usage();
	bench_nofile(1 << 20);
	signal(SIGPIPE, SIG_IGN);
	if (!g.plain) {
		if ((rc = gnutls_certificate_allocate_credentials(&g.cred)) < 0)
			die("credentials", rc);
		if ((rc = gnutls_certificate_set_x509_key_file(g.cred, cert,
		    key, GNUTLS_X509_FMT_PEM)) < 0)
			die(cert, rc);
		if ((rc = gnutls_priority_init(&g.prio, prio, &errpos)) < 0)
			die("priority", rc);
		if (g.tickets &&
		    (rc = gnutls_session_ticket_key_generate(&g.ticket_key)) < 0)
			die("ticket key", rc);
	}
	/* Signals go to the main thread only, which waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if ((ws = calloc((size_t)nw, sizeof(*ws))) == NULL)
		exit(1);
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];

		if ((w->lfd = listen_socket()) < 0) {
			perror("sink: listen");
			exit(1);
		}
		w->ep = epoll_create1(0);
		ev.events = EPOLLIN;
		ev.data.ptr = NULL;
		epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &ev);
	}
	for (int i = 0; i < nw; i++)
		pthread_create(&ws[i].th, NULL, worker_run, &ws[i]);
	printf("SINK ready port=%u workers=%d tickets=%s mode=%s\n",
	    ntohs(g.addr.sin_port), nw, g.tickets ? "on" : "off",
	    g.plain ? "plain" : "starttls");
	fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			print_stats(ws, nw, "stats");
			continue;
		}
		break;
	}
	g.stop = 1;
	for (int i = 0; i < nw; i++)
		pthread_join(ws[i].th, NULL);
	print_stats(ws, nw, "exit");
	free(ws);	/* connections still open die with the process */
	return 0;
}
