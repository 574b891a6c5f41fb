/*
 * linebuf.c - bounded input buffer that yields complete lines.
 *
 * Layout.  The storage is cap + 1 bytes.  Byte 0 is slack: buffered data
 * lives in buf[r..w) with 1 <= r <= w <= cap + 1, so at most cap bytes are
 * ever buffered.  The slack byte is what lets lb_next() hand out a line
 * that is NUL-terminated without touching the bytes after it: the line is
 * moved one byte down, into the byte just before it (which is either the
 * slack byte or the end of a line already consumed), and the NUL is
 * written where its LF used to be.  The bytes that follow the line, which
 * may be the start of the next line, are never written.
 *
 * While no storage is held, buf is NULL and r == w == 0.  The storage is
 * allocated by the first lb_append() that has bytes to store.  It is
 * released by lb_clear(), and by lb_next() when it finds nothing left to
 * return: not at the moment the last line is handed out, because that
 * line must stay valid until the next call.  A caller that loops on
 * lb_next() until LB_MORE therefore holds no storage between reads.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "shim/linebuf.h"

/* lb_release - drop the storage and the content */
static void
lb_release(struct linebuf *lb)
{
	free(lb->buf);
	lb->buf = NULL;
	lb->r = lb->w = 0;
}

/* lb_init - an empty buffer for lines of at most cap bytes */
void
lb_init(struct linebuf *lb, size_t cap)
{
	lb->buf = NULL;
	lb->cap = cap;
	lb->r = lb->w = 0;
}

/* lb_pending - bytes buffered and not yet returned as lines */
size_t
lb_pending(const struct linebuf *lb)
{
	return lb->w - lb->r;
}

/* lb_space - bytes that can still be appended */
size_t
lb_space(const struct linebuf *lb)
{
	return lb->cap - lb_pending(lb);
}

/* lb_append - buffer bytes; returns bytes taken (< len when full) */
size_t
lb_append(struct linebuf *lb, const char *data, size_t len)
{
	size_t	 take;

	if (len == 0 || lb_space(lb) == 0)
		return 0;
	if (lb->buf == NULL) {
		/* A failed allocation takes nothing: to the caller it looks
		 * like a full buffer, which it must handle anyway. */
		if ((lb->buf = malloc(lb->cap + 1)) == NULL)
			return 0;
		lb->r = lb->w = 1;
	}
	/* Compact only when the tail is too short: consumed lines then cost
	 * one memmove of what is left, not one per line. */
	if (lb->cap + 1 - lb->w < len && lb->r > 1) {
		memmove(lb->buf + 1, lb->buf + lb->r, lb_pending(lb));
		lb->w -= lb->r - 1;
		lb->r = 1;
	}
	take = lb->cap + 1 - lb->w;
	if (take > len)
		take = len;
	memcpy(lb->buf + lb->w, data, take);
	lb->w += take;
	return take;
}

/* lb_next - the next complete line, LF included and NUL-terminated */
enum lb_res
lb_next(struct linebuf *lb, char **line, size_t *len)
{
	char	*start, *lf;
	size_t	 n;

	if (lb_pending(lb) == 0) {
		if (lb->buf != NULL)
			lb_release(lb);
		return LB_MORE;
	}
	start = lb->buf + lb->r;
	lf = memchr(start, '\n', lb_pending(lb));
	if (lf == NULL)
		return lb_pending(lb) >= lb->cap ? LB_TOOBIG : LB_MORE;
	n = (size_t)(lf - start) + 1;
	/* buf[r - 1] is free (see the top of the file); after the move the
	 * LF's old place is free too, and becomes the terminator. */
	memmove(start - 1, start, n);
	start[n - 1] = '\0';
	lb->r += n;
	*line = start - 1;
	*len = n;
	return LB_LINE;
}

enum lb_res
lb_take_line(struct linebuf *lb, const char **buf, size_t *len, char **line,
    size_t *linelen)
{
	const char *lf = memchr(*buf, '\n', *len);
	size_t take = lf != NULL ? (size_t)(lf - *buf) + 1 : *len;
	size_t n = lb_append(lb, *buf, take);
	enum lb_res r;

	*buf += n;
	*len -= n;
	r = lb_next(lb, line, linelen);
	/* Nothing taken and no line: the buffer is full, which lb_next()
	 * already calls TOOBIG; say so even if that ever changed. */
	if (r == LB_MORE && n == 0 && take > 0)
		return LB_TOOBIG;
	return r;
}

void
lb_trim(struct linebuf *lb)
{
	if (lb->buf != NULL && lb_pending(lb) == 0)
		lb_release(lb);
}

/* lb_clear - drop content and release storage */
void
lb_clear(struct linebuf *lb)
{
	lb_release(lb);
}
