/*
 * loadgen.c - many concurrent plaintext SMTP sessions against a relay,
 * measured: sessions per second, DATA throughput, latency, errors.
 *
 *   loadgen -a 127.0.0.1:PORT [-c CONC] [-n SESSIONS | -t SECONDS]
 *           [-s SIZE] [-W WARMUP_S] [-T TIMEOUT_MS] [-X MAX_S] [-q]
 *
 * One process, one epoll loop, CONC sessions in flight at any time.  A
 * session: connect, wait for 220, EHLO, MAIL, RCPT, DATA, SIZE bytes of
 * body in 80-byte lines (rounded up to whole lines), ".", QUIT, wait for
 * 221 and for the server to hang up.  -s 0 is the "short session":
 * greeting, EHLO, QUIT.  Replies may be multi-line; every reply is read
 * whole and its code checked.  -c 1 gives one client's sequential
 * sessions, the latency figure.
 *
 * Latency is per session, from the start of connect() to the 221; the
 * time to the greeting is reported too.  data_mbps is body bytes over the
 * time from the 354 to the 250 after ".", summed over sessions: with one
 * session it is the bulk throughput of one relayed session.  The last
 * line on stdout is machine readable: "LOADGEN key=value ...".
 */
#include "config.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"

#define LINE_LEN	80			/* body line, CRLF included */
#define PATTERN_LEN	(LINE_LEN * 4096)	/* 320 KiB of body lines */
#define MAX_EVENTS	512
#define ERR_SHOW	5			/* errors printed in full */

enum lstate { L_IDLE, L_CONNECT, L_GREET, L_EHLO, L_MAIL, L_RCPT, L_DATA,
	L_BODY, L_DOT, L_QUIT, L_EOF };
static const char *const lstate_name[] = { "idle", "connect", "greeting",
	"EHLO", "MAIL", "RCPT", "DATA", "body", "end of data", "QUIT",
	"hang-up" };

enum errkind { E_CONNECT, E_REPLY, E_CLOSED, E_TIMEOUT, E_LAST };
static const char *const errkind_name[E_LAST] = { "connect", "reply",
	"closed", "timeout" };

struct lconn {
	int		 fd;
	enum lstate	 st;
	bool		 pollout;
	bool		 retry;		/* failed to connect: restart later */
	uint64_t	 t0, t_data;	/* connect start, 354 received */
	uint64_t	 deadline;
	uint64_t	 body_sent;	/* body bytes, then terminator bytes */
	struct reply	 rep;
	size_t		 inlen;
	char		 in[BENCH_LINE_MAX * 2];
};

static struct {
	struct sockaddr_in addr;
	unsigned	 conc;
	uint64_t	 total;		/* sessions to start; 0: by time */
	uint64_t	 secs, warmup, max_s;
	uint64_t	 size, body_len;
	unsigned	 timeout_ms;
	bool		 quiet;
	int		 ep;
	char		*pattern;
	int		 pattern_fd;	/* the same in a memfd; -1: none */
	const char	*ehlo;

	uint64_t	 started, inflight, retries, ok, errors, err[E_LAST], noeof;
	uint64_t	 body_bytes, data_us;
	uint64_t	 t_begin, t_end, t_stop, t_launch;
	struct lat	 lat, greet;
	bool		 measuring;
	volatile sig_atomic_t interrupted;
} g;

static void	session_start(struct lconn *);
static void	session_fail(struct lconn *, enum errkind, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------ sessions */

static void
set_events(struct lconn *c, bool out)
{
	struct epoll_event ev;

	if (c->pollout == out)
		return;
	ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
	ev.data.ptr = c;
	epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->pollout = out;
}

/* session_done - close, count, and start the next one if any is left */
static void
session_done(struct lconn *c, bool ok)
{
	uint64_t now = bench_now_us();
	bool connecting = c->st == L_CONNECT;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = L_IDLE;
	g.inflight--;
	if (ok && g.measuring)
		g.ok++;
	g.t_end = now;
	if (g.interrupted || !(g.total > 0 ? g.started < g.total :
	    now < g.t_stop))
		return;
	/* A failed connect is retried from the loop (sweep), not from
	 * here: no recursion, and a short pause before the retry. */
	if (connecting) {
		c->retry = true;
		g.retries++;
	} else
		session_start(c);
}

static void
session_fail(struct lconn *c, enum errkind k, const char *fmt, ...)
{
	va_list ap;

	if (g.measuring) {
		g.errors++;
		g.err[k]++;
	}
	if (g.errors <= ERR_SHOW && !g.quiet) {
		fprintf(stderr, "loadgen: %s error in %s: ", errkind_name[k],
		    lstate_name[c->st]);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	session_done(c, false);
}

static void
session_start(struct lconn *c)
{
	struct epoll_event ev;
	int one = 1;

	g.started++;
	g.inflight++;
	memset(c, 0, offsetof(struct lconn, in));
	c->t0 = bench_now_us();
	c->deadline = c->t0 + (uint64_t)g.timeout_ms * 1000u;
	c->st = L_CONNECT;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		session_fail(c, E_CONNECT, "socket: %s", strerror(errno));
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&g.addr, sizeof(g.addr)) < 0 &&
	    errno != EINPROGRESS) {
		session_fail(c, E_CONNECT, "%s", strerror(errno));
		return;
	}
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	c->pollout = true;
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		session_fail(c, E_CONNECT, "epoll: %s", strerror(errno));
}

/* send_cmd - a command goes out whole: nothing else is in flight, so the
 * socket buffer has room for it */
static bool
send_cmd(struct lconn *c, const char *cmd, enum lstate next)
{
	size_t len = strlen(cmd);

	c->st = next;
	reply_reset(&c->rep);
	if (write(c->fd, cmd, len) != (ssize_t)len) {
		session_fail(c, E_CLOSED, "write: %s", strerror(errno));
		return false;
	}
	return true;
}

/* send_pattern - len body bytes from the pattern at off: sendfile from
 * the memfd spares this process the copy into the socket (the load
 * generator shares its core with the sink, which must keep up with the
 * relay), write where there is none */
static ssize_t
send_pattern(int fd, size_t off, size_t len)
{
	off_t o = (off_t)off;
	ssize_t n;

	if (g.pattern_fd >= 0) {
		n = sendfile(fd, g.pattern_fd, &o, len);
		if (n >= 0 || (errno != EINVAL && errno != ENOSYS))
			return n;
		close(g.pattern_fd);		/* not here: write from now on */
		g.pattern_fd = -1;
	}
	return write(fd, g.pattern + off, len);
}

/* send_body - as much body and terminator as the socket takes */
static bool
send_body(struct lconn *c)
{
	static const char dot[] = ".\r\n";
	uint64_t total = g.body_len + 3;
	ssize_t n;

	while (c->body_sent < total) {
		if (c->body_sent < g.body_len) {
			size_t off = c->body_sent % PATTERN_LEN;
			size_t len = PATTERN_LEN - off;

			if (len > g.body_len - c->body_sent)
				len = g.body_len - c->body_sent;
			n = send_pattern(c->fd, off, len);
		} else
			n = write(c->fd, dot + (c->body_sent - g.body_len),
			    (size_t)(total - c->body_sent));
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			set_events(c, true);
			return true;
		}
		if (n <= 0) {
			session_fail(c, E_CLOSED, "write: %s", strerror(errno));
			return false;
		}
		c->body_sent += (uint64_t)n;
	}
	set_events(c, false);
	c->st = L_DOT;
	reply_reset(&c->rep);
	return true;
}

/* on_reply - a complete reply in state st; false if the session ended */
static bool
on_reply(struct lconn *c, const char *line)
{
	static const int want[] = { [L_GREET] = 220, [L_EHLO] = 250,
		[L_MAIL] = 250, [L_RCPT] = 250, [L_DATA] = 354, [L_DOT] = 250,
		[L_QUIT] = 221 };
	uint64_t now = bench_now_us();

	if (c->st < L_GREET || c->st > L_QUIT || c->st == L_BODY ||
	    c->rep.code != want[c->st]) {
		session_fail(c, E_REPLY, "got \"%.120s\"", line);
		return false;
	}
	switch (c->st) {
	case L_GREET:
		if (g.measuring)
			lat_add(&g.greet, now - c->t0);
		return send_cmd(c, g.ehlo, L_EHLO);
	case L_EHLO:
		if (g.size == 0)
			return send_cmd(c, "QUIT\r\n", L_QUIT);
		return send_cmd(c, "MAIL FROM:<loadgen@bench.test>\r\n",
		    L_MAIL);
	case L_MAIL:
		return send_cmd(c, "RCPT TO:<sink@bench.test>\r\n", L_RCPT);
	case L_RCPT:
		return send_cmd(c, "DATA\r\n", L_DATA);
	case L_DATA:
		c->t_data = now;
		c->st = L_BODY;
		return send_body(c);
	case L_DOT:
		if (g.measuring) {
			g.data_us += now - c->t_data;
			g.body_bytes += g.body_len;
		}
		return send_cmd(c, "QUIT\r\n", L_QUIT);
	case L_QUIT:
		if (g.measuring)
			lat_add(&g.lat, now - c->t0);
		/* Let the server hang up first: the TIME_WAIT stays on its
		 * side, and the relay's teardown is part of the session. */
		c->st = L_EOF;
		c->deadline = now + 2000000u;
		return true;
	default:
		return true;
	}
}

/* readable - read and act on every complete reply line */
static void
readable(struct lconn *c)
{
	ssize_t n;
	char *nl, *p;

	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->st == L_EOF)
			session_done(c, true);
		else
			session_fail(c, E_CLOSED, "%s", n == 0 ?
			    "connection closed" : strerror(errno));
		return;
	}
	c->inlen += (size_t)n;
	p = c->in;
	while ((nl = memchr(p, '\n', c->inlen - (size_t)(p - c->in))) != NULL) {
		size_t len = (size_t)(nl - p);

		if (len > 0 && p[len - 1] == '\r')
			len--;
		p[len] = '\0';
		if (c->st == L_BODY || c->st == L_EOF) {
			session_fail(c, E_REPLY, "unexpected \"%.120s\"", p);
			return;
		}
		switch (reply_line(&c->rep, p, len)) {
		case REPLY_BAD:
			session_fail(c, E_REPLY, "bad reply line \"%.120s\"", p);
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
		session_fail(c, E_REPLY, "reply line too long");
}

static void
writable(struct lconn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->st == L_CONNECT) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			session_fail(c, E_CONNECT, "%s", strerror(err));
			return;
		}
		c->st = L_GREET;
		reply_reset(&c->rep);
		set_events(c, false);
		return;
	}
	if (c->st == L_BODY)
		send_body(c);
	else
		set_events(c, false);
}

/* sweep - end sessions past their deadline */
static void
sweep(struct lconn *cs, uint64_t now)
{
	for (unsigned i = 0; i < g.conc; i++) {
		struct lconn *c = &cs[i];

		if (c->st == L_IDLE && c->retry) {
			c->retry = false;
			g.retries--;
			if (!g.interrupted)
				session_start(c);
			continue;
		}
		if (c->st == L_IDLE || now < c->deadline)
			continue;
		if (c->st == L_EOF) {
			g.noeof++;	/* 221 came: the session counts */
			session_done(c, true);
		} else
			session_fail(c, E_TIMEOUT, "no progress in %u ms",
			    g.timeout_ms);
	}
}

/* -------------------------------------------------------------- main */

static void
on_signal(int sig)
{
	(void)sig;
	g.interrupted = 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen -a 127.0.0.1:PORT [-c CONC] [-n SESSIONS | -t SECS]\n"
	    "               [-s SIZE] [-W WARMUP_S] [-T TIMEOUT_MS] [-X MAX_S] "
	    "[-q]\n"
	    "  -s SIZE   message body bytes (k, M, G suffixes); 0: EHLO and "
	    "QUIT only\n");
	exit(64);
}

static void
make_pattern(void)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	if ((g.pattern = malloc(PATTERN_LEN)) == NULL)
		exit(1);
	for (size_t i = 0; i < PATTERN_LEN; i += LINE_LEN) {
		for (size_t j = 0; j < LINE_LEN - 2; j++)
			g.pattern[i + j] = abc[(i / LINE_LEN + j) % 62];
		g.pattern[i + LINE_LEN - 2] = '\r';
		g.pattern[i + LINE_LEN - 1] = '\n';
	}
	g.pattern_fd = memfd_create("loadgen-body", MFD_CLOEXEC);
	if (g.pattern_fd >= 0 && write(g.pattern_fd, g.pattern, PATTERN_LEN)
	    != PATTERN_LEN) {
		close(g.pattern_fd);
		g.pattern_fd = -1;
	}
}

static void
report(void)
{
	double el = g.t_end > g.t_begin ? (g.t_end - g.t_begin) / 1e6 : 0;
	double mb = g.body_bytes / 1e6, cpu, wall;
	struct rusage ru;

	/* Our own CPU use, over the whole run: is the load generator
	 * itself near a limit? */
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	wall = (bench_now_us() - g.t_launch) / 1e6;

	if (!g.quiet)
		fprintf(stderr, "loadgen: %llu sessions in %.2f s (%.1f/s), "
		    "%llu errors, %.1f MB (%.1f MB/s in DATA), latency p50 "
		    "%.3f ms p99 %.3f ms\n", (unsigned long long)g.ok, el,
		    el > 0 ? g.ok / el : 0, (unsigned long long)g.errors, mb,
		    g.data_us ? g.body_bytes / (double)g.data_us : 0,
		    lat_pct(&g.lat, 50), lat_pct(&g.lat, 99));
	printf("LOADGEN ok=%llu errors=%llu elapsed_s=%.3f sessions_per_s=%.1f "
	    "mb=%.3f mbps=%.1f data_mbps=%.1f p50_ms=%.3f p99_ms=%.3f "
	    "greet_p50_ms=%.3f greet_p99_ms=%.3f noeof=%llu cpu_pct=%.0f",
	    (unsigned long long)g.ok, (unsigned long long)g.errors, el,
	    el > 0 ? g.ok / el : 0, mb, el > 0 ? mb / el : 0,
	    g.data_us ? g.body_bytes / (double)g.data_us : 0,
	    lat_pct(&g.lat, 50), lat_pct(&g.lat, 99),
	    lat_pct(&g.greet, 50), lat_pct(&g.greet, 99),
	    (unsigned long long)g.noeof, wall > 0 ? 100 * cpu / wall : 0);
	for (int k = 0; k < E_LAST; k++)
		printf(" err_%s=%llu", errkind_name[k],
		    (unsigned long long)g.err[k]);
	printf("\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct epoll_event ev[MAX_EVENTS];
	struct lconn *cs;
	uint64_t now, t_hard, t_warm, last_sweep = 0, v;
	int opt, n;

	g.conc = 1;
	g.timeout_ms = 30000;
	g.ehlo = "EHLO loadgen.bench.test\r\n";
	while ((opt = getopt(argc, argv, "a:c:n:t:s:W:T:X:q")) != -1) {
		if (opt != 'a' && opt != 'q' && !bench_num(optarg, &v))
			usage();
		switch (opt) {
		case 'a':
			if (!bench_parse_addr(optarg, &g.addr))
				exit(64);
			break;
		case 'c': g.conc = (unsigned)v; break;
		case 'n': g.total = v; break;
		case 't': g.secs = v; break;
		case 's': g.size = v; break;
		case 'W': g.warmup = v; break;
		case 'T': g.timeout_ms = (unsigned)v; break;
		case 'X': g.max_s = v; break;
		case 'q': g.quiet = true; break;
		default: usage();
		}
	}
	if (g.addr.sin_port == 0 || g.conc == 0 || (g.total == 0) ==
	    (g.secs == 0) || g.timeout_ms == 0)
		usage();
	if (g.total > 0 && g.conc > g.total)
		g.conc = (unsigned)g.total;
	if (bench_nofile(g.conc + 64) < g.conc + 16) {
		fprintf(stderr, "loadgen: %u connections need more file "
		    "descriptors than the hard limit allows (ulimit -n)\n",
		    g.conc);
		exit(1);
	}
	/* Whole lines, so the body never holds a lone "." line. */
	g.body_len = (g.size + LINE_LEN - 1) / LINE_LEN * LINE_LEN;
	make_pattern();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((g.ep = epoll_create1(0)) < 0 ||
	    (cs = calloc(g.conc, sizeof(*cs))) == NULL) {
		perror("loadgen");
		exit(1);
	}
	now = bench_now_us();
	g.t_begin = g.t_end = g.t_launch = now;
	t_warm = now + g.warmup * 1000000u;
	g.t_stop = t_warm + g.secs * 1000000u;
	if (g.max_s == 0)
		g.max_s = g.secs + g.warmup + 60 + g.timeout_ms / 1000;
	t_hard = now + g.max_s * 1000000u;
	g.measuring = g.warmup == 0;
	for (unsigned i = 0; i < g.conc; i++) {
		cs[i].fd = -1;
		session_start(&cs[i]);
	}
	for (;;) {
		n = epoll_wait(g.ep, ev, MAX_EVENTS, 50);
		for (int i = 0; i < n; i++) {
			struct lconn *c = ev[i].data.ptr;

			/* One event at a time: a handler may end and restart
			 * the session on a new socket. */
			if (c->st == L_IDLE)
				continue;
			if (ev[i].events & EPOLLOUT)
				writable(c);
			if (c->st != L_IDLE && c->st != L_CONNECT &&
			    (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				readable(c);
		}
		now = bench_now_us();
		if (!g.measuring && now >= t_warm) {
			g.measuring = true;
			g.t_begin = now;
		}
		if (now - last_sweep > 100000) {
			sweep(cs, now);
			last_sweep = now;
		}
		if (g.inflight == 0 && (g.retries == 0 || g.interrupted))
			break;
		if (g.interrupted || now >= t_hard) {
			g.interrupted = 1;	/* no new sessions */
			for (unsigned i = 0; i < g.conc; i++)
				if (cs[i].st != L_IDLE)
					session_fail(&cs[i], E_TIMEOUT,
					    "run stopped");
			break;
		}
	}
	report();
	lat_free(&g.lat);
	lat_free(&g.greet);
	free(cs);
	if (g.pattern_fd >= 0)
		close(g.pattern_fd);
	free(g.pattern);
	return g.errors > 0 ? 2 : 0;
}
