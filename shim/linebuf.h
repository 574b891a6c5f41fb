/*
 * linebuf.h - bounded input buffer that yields complete lines.
 *
 * The storage is allocated on the first append and released by lb_clear()
 * or when lb_next() consumes the last byte, so an idle session holds no
 * buffer.  The capacity is fixed at init: a line longer than that is an
 * error the caller turns into a protocol failure, never a reallocation.
 */
#ifndef TLSHIM_LINEBUF_H
#define TLSHIM_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

struct linebuf {
	char	*buf;		/* NULL while empty */
	size_t	 cap;		/* longest line, terminator included */
	size_t	 r, w;		/* read and write offsets into buf */
};

enum lb_res {
	LB_LINE,		/* *line is one line, LF included */
	LB_MORE,		/* no complete line buffered yet */
	LB_TOOBIG		/* more than cap bytes without LF */
};

void	lb_init(struct linebuf *, size_t cap);
/* lb_append - buffer bytes; returns bytes taken (< len when full) */
size_t	lb_append(struct linebuf *, const char *data, size_t len);
/*
 * lb_next - the next complete line.  On LB_LINE *line points into the
 * buffer, ends with '\n' (and is followed by a NUL), *len counts the LF,
 * and stays valid until the next call on lb.
 */
enum lb_res lb_next(struct linebuf *, char **line, size_t *len);
/*
 * lb_take_line - buffer input from *buf up to its first LF at most, then
 * return the next line as lb_next() does.  *buf and *len advance past what
 * was taken.  Taking one line at a time leaves the bytes after it in the
 * caller's buffer, for a line that changes how they are read (a command
 * that starts message content, a literal, a SASL exchange).
 */
enum lb_res lb_take_line(struct linebuf *, const char **buf, size_t *len,
	    char **line, size_t *linelen);
/* lb_pending - bytes buffered and not yet returned as lines */
size_t	lb_pending(const struct linebuf *);
/* lb_space - bytes that can still be appended */
size_t	lb_space(const struct linebuf *);
void	lb_clear(struct linebuf *);	/* drop content, release storage */
/* lb_trim - release the storage if nothing is buffered: call it when a
 * read has been handled, so that an idle session holds no buffer (lines
 * returned earlier are no longer valid) */
void	lb_trim(struct linebuf *);

#endif
