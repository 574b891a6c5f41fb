/*
 * idle.c - open many relayed SMTP sessions, hold them idle, then end them:
 * the memory-per-session and the many-concurrent-sessions figures.
 *
 *   idle -a 127.0.0.1:PORT -n N [-r RAMP] [-x] [-s SIZE] [-H HOLD_S]
 *        [-T TIMEOUT_MS]
 *
 * Each session connects, waits for the 220 and sends EHLO; once the 250
 * is in, the relay has its upstream TLS session up and the client's EHLO
 * went through it, so the session is as it would sit idle in real life.
 * At most RAMP sessions are being set up at a time (listen backlogs are
 * finite).  When all N are up (or failed), "IDLE ready ok=.. errors=.."
 * goes to stdout and the sessions are held until SIGUSR1 or SIGTERM (or
 * HOLD_S seconds).  Then every session at once sends QUIT, or with -x a
 * whole transaction first (MAIL, RCPT, DATA with SIZE bytes, at most
 * 32k, and QUIT), waits for the 221 and the hang-up, and "IDLE done ..."
 * is printed.  A session the relay drops while idle is an error.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"

#define MAX_EVENTS	512
#define ERR_SHOW	5
#define BODY_MAX	(32 * 1024)

enum istate { I_NEW, I_CONNECT, I_GREET, I_EHLO, I_IDLE, I_MAIL, I_RCPT,
	I_DATA, I_DOT, I_QUIT, I_EOF, I_DONE, I_FAILED };
static const char *const istate_name[] = { "new", "connect", "greeting",
	"EHLO", "idle", "MAIL", "RCPT", "DATA", "end of data", "QUIT",
	"hang-up", "done", "failed" };

struct iconn {
	int		 fd;
	enum istate	 st;
	bool		 pollout;
	uint64_t	 deadline;
	struct reply	 rep;
	size_t		 inlen;
	char		 in[BENCH_LINE_MAX * 2];
};

static struct {
	struct sockaddr_in addr;
	unsigned	 n, ramp, timeout_ms;
	uint64_t	 hold_s, size;
	bool		 exercise;
	int		 ep;
	char		*body;
	size_t		 body_len;
	unsigned	 setting_up, ready, ended, errors, done, next;
	volatile sig_atomic_t release, quit;
} g;

static void	fail(struct iconn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
set_events(struct iconn *c, bool out)
{
	struct epoll_event ev;

	if (c->pollout == out)
		return;
	ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
	ev.data.ptr = c;
	epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->pollout = out;
}

/* finish - the session is over, well or not */
static void
finish(struct iconn *c, enum istate st)
{
	if (c->st < I_IDLE)
		g.setting_up--;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = st;
	g.ended++;
	if (st == I_DONE)
		g.done++;
}

static void
fail(struct iconn *c, const char *fmt, ...)
{
	va_list ap;

	if (++g.errors <= ERR_SHOW) {
		fprintf(stderr, "idle: error in %s: ", istate_name[c->st]);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	finish(c, I_FAILED);
}

static void
start(struct iconn *c)
{
	struct epoll_event ev;

	g.setting_up++;
	c->st = I_CONNECT;
	c->deadline = bench_now_us() + (uint64_t)g.timeout_ms * 1000u;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		fail(c, "socket: %s", strerror(errno));
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&g.addr, sizeof(g.addr)) < 0 &&
	    errno != EINPROGRESS) {
		fail(c, "connect: %s", strerror(errno));
		return;
	}
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = c;
	c->pollout = true;
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		fail(c, "epoll: %s", strerror(errno));
}

static bool
send_text(struct iconn *c, const char *text, size_t len, enum istate next)
{
	c->st = next;
	reply_reset(&c->rep);
	if (write(c->fd, text, len) != (ssize_t)len) {
		fail(c, "write: %s", strerror(errno));
		return false;
	}
	return true;
}

#define SEND(c, lit, next)	send_text((c), (lit), sizeof(lit) - 1, (next))

/* release - this idle session ends now */
static void
release(struct iconn *c)
{
	c->deadline = bench_now_us() + 60000000u;
	if (g.exercise)
		SEND(c, "MAIL FROM:<idle@bench.test>\r\n", I_MAIL);
	else
		SEND(c, "QUIT\r\n", I_QUIT);
}

static bool
on_reply(struct iconn *c, const char *line)
{
	static const int want[] = { [I_GREET] = 220, [I_EHLO] = 250,
		[I_MAIL] = 250, [I_RCPT] = 250, [I_DATA] = 354, [I_DOT] = 250,
		[I_QUIT] = 221 };

	if (c->st < I_GREET || c->st > I_QUIT || c->st == I_IDLE ||
	    c->rep.code != want[c->st]) {
		fail(c, "got \"%.120s\"", line);
		return false;
	}
	switch (c->st) {
	case I_GREET:
		return SEND(c, "EHLO idle.bench.test\r\n", I_EHLO);
	case I_EHLO:
		c->st = I_IDLE;
		g.setting_up--;
		g.ready++;
		if (g.release)
			release(c);
		return true;
	case I_MAIL:
		return SEND(c, "RCPT TO:<sink@bench.test>\r\n", I_RCPT);
	case I_RCPT:
		return SEND(c, "DATA\r\n", I_DATA);
	case I_DATA:
		return send_text(c, g.body, g.body_len, I_DOT);
	case I_DOT:
		return SEND(c, "QUIT\r\n", I_QUIT);
	case I_QUIT:
		c->st = I_EOF;
		c->deadline = bench_now_us() + 5000000u;
		return true;
	default:
		return true;
	}
}

static void
readable(struct iconn *c)
{
	ssize_t n;
	char *nl, *p;

	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->st == I_EOF)
			finish(c, I_DONE);
		else
			fail(c, "%s", n == 0 ? "connection closed" :
			    strerror(errno));
		return;
	}
	c->inlen += (size_t)n;
	p = c->in;
	while ((nl = memchr(p, '\n', c->inlen - (size_t)(p - c->in))) != NULL) {
		size_t len = (size_t)(nl - p);

		if (len > 0 && p[len - 1] == '\r')
			len--;
		p[len] = '\0';
		if (c->st == I_IDLE || c->st == I_EOF) {
			fail(c, "unexpected \"%.120s\"", p);
			return;
		}
		switch (reply_line(&c->rep, p, len)) {
		case REPLY_BAD:
			fail(c, "bad reply line \"%.120s\"", p);
			return;
		case REPLY_MORE:
			break;
		case REPLY_DONE:
			if (!on_reply(c, p))
				return;
			break;
		}
		p = nl + 1;
	}
	c->inlen -= (size_t)(p - c->in);
	memmove(c->in, p, c->inlen);
	if (c->inlen == sizeof(c->in))
		fail(c, "reply line too long");
}

static void
writable(struct iconn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	set_events(c, false);
	if (c->st != I_CONNECT)
		return;
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		fail(c, "connect: %s", strerror(err));
		return;
	}
	c->st = I_GREET;
	reply_reset(&c->rep);
}

static void
on_signal(int sig)
{
	if (sig == SIGINT)
		g.quit = 1;
	else
		g.release = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: idle -a 127.0.0.1:PORT -n N [-r RAMP] [-x] "
	    "[-s SIZE] [-H HOLD_S] [-T TIMEOUT_MS]\n");
	exit(64);
}

/* make_body - SIZE bytes in 80-byte lines, then the terminator */
static void
make_body(void)
{
	size_t lines = (g.size + 79) / 80;

	g.body_len = lines * 80 + 3;
	if ((g.body = malloc(g.body_len)) == NULL)
		exit(1);
	for (size_t i = 0; i < lines; i++) {
		memset(g.body + i * 80, 'i', 78);
		memcpy(g.body + i * 80 + 78, "\r\n", 2);
	}
	memcpy(g.body + lines * 80, ".\r\n", 3);
}

int
main(int argc, char **argv)
{
	struct epoll_event ev[MAX_EVENTS];
	struct iconn *cs;
	uint64_t t0, now, t_ready = 0, t_release = 0, hold_end = 0, v,
	    last_sweep = 0;
	bool announced = false, released = false;
	int opt, k;

	g.ramp = 256;
	g.timeout_ms = 30000;
	g.hold_s = 600;
	g.size = 1024;
	while ((opt = getopt(argc, argv, "a:n:r:xs:H:T:")) != -1) {
		if (opt != 'a' && opt != 'x' && !bench_num(optarg, &v))
			usage();
		switch (opt) {
		case 'a':
			if (!bench_parse_addr(optarg, &g.addr))
				exit(64);
			break;
		case 'n': g.n = (unsigned)v; break;
		case 'r': g.ramp = (unsigned)v; break;
		case 'x': g.exercise = true; break;
		case 's': g.size = v; break;
		case 'H': g.hold_s = v; break;
		case 'T': g.timeout_ms = (unsigned)v; break;
		default: usage();
		}
	}
	if (g.addr.sin_port == 0 || g.n == 0 || g.ramp == 0 ||
	    g.size > BODY_MAX)
		usage();
	if (bench_nofile(g.n + 64) < g.n + 16) {
		fprintf(stderr, "idle: %u connections need more file "
		    "descriptors than the hard limit allows (ulimit -n %llu)\n",
		    g.n, (unsigned long long)bench_nofile(0));
		exit(1);
	}
	make_body();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((g.ep = epoll_create1(0)) < 0 ||
	    (cs = calloc(g.n, sizeof(*cs))) == NULL) {
		perror("idle");
		exit(1);
	}
	for (unsigned i = 0; i < g.n; i++)
		cs[i].fd = -1;
	t0 = bench_now_us();
	while (!g.quit) {
		while (g.next < g.n && g.setting_up < g.ramp && !g.release)
			start(&cs[g.next++]);
		k = epoll_wait(g.ep, ev, MAX_EVENTS, 50);
		for (int i = 0; i < k; i++) {
			struct iconn *c = ev[i].data.ptr;

			if (c->fd < 0)
				continue;
			if (ev[i].events & EPOLLOUT)
				writable(c);
			if (c->fd >= 0 && c->st != I_CONNECT &&
			    (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				readable(c);
		}
		now = bench_now_us();
		if (!announced && (g.next == g.n || g.release) &&
		    g.setting_up == 0) {
			announced = true;
			t_ready = now;
			hold_end = now + g.hold_s * 1000000u;
			printf("IDLE ready ok=%u errors=%u elapsed_s=%.3f\n",
			    g.ready, g.errors, (now - t0) / 1e6);
			fflush(stdout);
		}
		if (announced && !released && (g.release || now >= hold_end)) {
			g.release = 1;
			released = true;
			t_release = now;
			for (unsigned i = 0; i < g.n; i++)
				if (cs[i].st == I_IDLE)
					release(&cs[i]);
		}
		if (now - last_sweep > 200000) {
			last_sweep = now;
			for (unsigned i = 0; i < g.n; i++)
				if (cs[i].fd >= 0 && cs[i].st != I_IDLE &&
				    now > cs[i].deadline) {
					if (cs[i].st == I_EOF)
						finish(&cs[i], I_DONE);
					else
						fail(&cs[i], "timed out");
				}
		}
		if (released && g.ended == g.next)
			break;
	}
	now = bench_now_us();
	printf("IDLE done ok=%u errors=%u ready=%u held_s=%.3f "
	    "close_s=%.3f\n", g.done, g.errors, g.ready,
	    t_release ? (t_release - t_ready) / 1e6 : 0,
	    t_release ? (now - t_release) / 1e6 : 0);
	fflush(stdout);
	free(cs);
	free(g.body);
	return g.errors > 0 ? 2 : 0;
}
