/*
 * bench.h - what the benchmark tools (loadgen, sink, idle) share: loopback
 * addresses, clocks, descriptor limits, SMTP reply framing, percentiles.
 *
 * The tools only ever talk to 127.0.0.0/8: bench_parse_addr() refuses
 * any other address, so a typo cannot aim a load test at a real host.
 */
#ifndef TLSHIM_BENCH_H
#define TLSHIM_BENCH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest SMTP reply line the clients accept (RFC 5321 4.5.3.1.5: 512). */
#define BENCH_LINE_MAX	1024

/* bench_parse_addr - "127.0.0.1:2525" into sin; false (and a message on
 * stderr) if it is malformed or not a loopback address */
bool		 bench_parse_addr(const char *, struct sockaddr_in *);
/* bench_now_us - monotonic microseconds */
uint64_t	 bench_now_us(void);
/* bench_nonblock - make fd non-blocking; 0 or -1 */
int		 bench_nonblock(int);
/* bench_nofile - raise the soft descriptor limit towards want (at most
 * the hard limit) and return the limit now in force */
uint64_t	 bench_nofile(uint64_t want);
/* bench_num - a count with an optional k/M/G suffix (powers of 1024 for
 * sizes: "256M"); false if malformed */
bool		 bench_num(const char *, uint64_t *);

/*
 * A client's view of SMTP replies: complete lines are fed in one at a
 * time; a reply is complete on the line whose fourth character is not
 * '-' (RFC 5321 4.2.1).  Every line of one reply must carry the same code.
 */
struct reply {
	int	code;		/* of the complete reply, once done */
	int	first;		/* code of its first line, 0 before any */
	bool	done;
};
enum reply_res { REPLY_MORE, REPLY_DONE, REPLY_BAD };

void		 reply_reset(struct reply *);
/* reply_line - one line without its CRLF */
enum reply_res	 reply_line(struct reply *, const char *, size_t);

/*
 * A growable list of latencies in microseconds, sorted on demand.
 */
struct lat {
	uint32_t	*v;
	size_t		 n, cap;
	bool		 sorted;
};
void		 lat_add(struct lat *, uint64_t us);
/* lat_pct - the p-th percentile (0 to 100) in milliseconds; 0 if empty */
double		 lat_pct(struct lat *, double p);
void		 lat_free(struct lat *);

#endif
