/*
 * smtp_reply.h - parse SMTP server replies line by line (RFC 5321 4.2).
 *
 * A reply is one or more lines "ddd-text" ending with "ddd text" (or
 * "ddd").  The parser is strict where strictness protects us: CRLF only,
 * the same code on every line, a bounded number of lines.  The line length
 * bound is the caller's line buffer.
 */
#ifndef TLSHIM_SMTP_REPLY_H
#define TLSHIM_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_REPLY_MAX_LINES	200	/* RFC 5321 sets none; be generous */
#define SMTP_LINE_MAX		2048	/* 512 in RFC 5321 4.5.3.1.5 */

struct smtp_reply {
	int		 code;		/* 0 until the first line */
	unsigned	 nlines;
	bool		 done;		/* the last line has been seen */
	char		 first[128];	/* first line's text, for reasons */
};

enum smtp_rp {
	SRP_MORE,			/* a continuation line: more follow */
	SRP_DONE,			/* the reply is complete */
	SRP_ERROR			/* not a valid reply line */
};

/* smtp_reply_reset - start a new reply */
void		smtp_reply_reset(struct smtp_reply *);
/*
 * smtp_reply_line - take one line (its LF included).  On SRP_ERROR *why
 * says what was wrong.  *text (optional) gets the line's text after the
 * code and separator, without CRLF, and *textlen its length.
 */
enum smtp_rp	smtp_reply_line(struct smtp_reply *, const char *line,
		    size_t len, const char **text, size_t *textlen,
		    const char **why);
/* smtp_ehlo_keyword - does this EHLO line text name the extension kw? */
bool		smtp_ehlo_keyword(const char *text, size_t len, const char *kw);

#endif
