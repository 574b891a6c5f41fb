/*
 * dotscan.h - find the end of dot-terminated content (CRLF.CRLF) in a
 * stream, across reads, without buffering it.
 *
 * SMTP message content after DATA (RFC 5321 4.1.1.4) and POP3 multi-line
 * responses (RFC 1939 3) both end with a line holding a single dot.  The
 * start of the content counts as the start of a line, so ".\r\n" at once
 * ends empty content.  Only CRLF counts as a line end: a bare LF neither
 * starts nor ends a line, as in RFC 5321 2.3.8.
 */
#ifndef TLSHIM_DOTSCAN_H
#define TLSHIM_DOTSCAN_H

#include <stdbool.h>
#include <stddef.h>

struct dotscan {
	unsigned	 st;
};

/* dotscan_reset - content starts now */
void	dotscan_reset(struct dotscan *);
/* dotscan_feed - how many bytes of buf belong to the content: up to and
 * including the final ".\r\n" (*end set), or all of them */
size_t	dotscan_feed(struct dotscan *, const char *buf, size_t len,
	    bool *end);

#endif
