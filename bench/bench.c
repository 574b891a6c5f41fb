/*
 * bench.c - helpers shared by the benchmark tools: loopback address
 * parsing, the monotonic clock, descriptor limits, SMTP reply framing and
 * latency percentiles.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/bench.h"

/* bench_parse_addr - host:port, loopback IPv4 only */
bool
bench_parse_addr(const char *text, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	char *end;
	long port;

	if (colon == NULL || (size_t)(colon - text) >= sizeof(host)) {
		fprintf(stderr, "bad address %s: want 127.0.0.1:PORT\n", text);
		return false;
	}
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	port = strtol(colon + 1, &end, 10);
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (*end != '\0' || port <= 0 || port > 65535 ||
	    inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		fprintf(stderr, "bad address %s: want 127.0.0.1:PORT\n", text);
		return false;
	}
	/* Loopback only: these tools generate load. */
	if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "%s is not a loopback address (127.0.0.0/8): "
		    "refused\n", host);
		return false;
	}
	sin->sin_port = htons((uint16_t)port);
	return true;
}

uint64_t
bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int
bench_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

uint64_t
bench_nofile(uint64_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

bool
bench_num(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(text, &end, 10);
	if (end == text || errno != 0)
		return false;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		n <<= 10;
		end++;
		break;
	case 'm': case 'M':
		n <<= 20;
		end++;
		break;
	case 'g': case 'G':
		n <<= 30;
		end++;
		break;
	default:
		return false;
	}
	if (*end != '\0')
		return false;
	*out = n;
	return true;
}

/* ------------------------------------------------------------ replies */

void
reply_reset(struct reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* reply_line - take one line; REPLY_DONE on the last line of a reply */
enum reply_res
reply_line(struct reply *r, const char *line, size_t len)
{
	int code;

	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9')
		return REPLY_BAD;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return REPLY_BAD;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->first == 0)
		r->first = code;
	else if (code != r->first)
		return REPLY_BAD;
	if (len > 3 && line[3] == '-')
		return REPLY_MORE;
	r->code = code;
	r->done = true;
	return REPLY_DONE;
}

/* ---------------------------------------------------------- latencies */

void
lat_add(struct lat *l, uint64_t us)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint32_t *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return;		/* a lost sample, not a lost run */
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	l->sorted = false;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

double
lat_pct(struct lat *l, double p)
{
	size_t i;

	if (l->n == 0)
		return 0;
	if (!l->sorted) {
		qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
		l->sorted = true;
	}
	/* Nearest rank. */
	i = (size_t)(p / 100.0 * (double)l->n + 0.999999);
	if (i > 0)
		i--;
	if (i >= l->n)
		i = l->n - 1;
	return l->v[i] / 1000.0;
}

void
lat_free(struct lat *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}
