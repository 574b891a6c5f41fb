/*
 * sbuf.h - a growable text buffer for answers built at once: the metrics
 * page, the control socket's JSON.
 *
 * Appending never fails loudly: on a memory shortage or past SBUF_MAX the
 * buffer is marked failed, further appends are ignored, and the caller
 * checks sbuf_ok() once at the end.
 */
#ifndef TLSHIM_SBUF_H
#define TLSHIM_SBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SBUF_MAX	(4u * 1024 * 1024)	/* far above any answer */

struct sbuf {
	char	*buf;		/* NUL-terminated while len > 0 */
	size_t	 len, cap;
	bool	 failed;
};

void	sbuf_init(struct sbuf *);
void	sbuf_free(struct sbuf *);
/* sbuf_ok - nothing was lost */
bool	sbuf_ok(const struct sbuf *);
/* sbuf_str - the text so far ("" when empty) */
const char *sbuf_str(const struct sbuf *);
void	sbuf_add(struct sbuf *, const char *s, size_t n);
void	sbuf_puts(struct sbuf *, const char *s);
void	sbuf_printf(struct sbuf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* sbuf_json_str - s as a JSON string, quotes included; bytes below 0x20
 * and DEL escaped, other bytes as they are */
void	sbuf_json_str(struct sbuf *, const char *s);
/* sbuf_json_fputs - the same JSON string written to f (the tools' output) */
void	sbuf_json_fputs(FILE *f, const char *s);

#endif
