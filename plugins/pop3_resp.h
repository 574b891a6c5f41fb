/*
 * pop3_resp.h - parse POP3 server responses (RFC 1939 3, RFC 2449).
 *
 * A status line is "+OK [text]" or "-ERR [text]"; during a SASL exchange
 * (RFC 5034) the server may also send a continuation "+ [base64]".  A
 * capability list (the answer to CAPA, RFC 2449 5) is the "+OK" line and
 * then one capability per line up to a line holding a single dot.  The
 * parser is strict where strictness protects us: CRLF only, no NUL, the
 * status indicators exactly as the RFC spells them, a bounded number of
 * capability lines.  The line length bound is the caller's line buffer.
 */
#ifndef TLSHIM_POP3_RESP_H
#define TLSHIM_POP3_RESP_H

#include <stdbool.h>
#include <stddef.h>

#define POP3_CAPA_MAX_LINES	100	/* capabilities in one CAPA answer */

enum pop3_st {
	POP3_OK,		/* "+OK" */
	POP3_ERR,		/* "-ERR" */
	POP3_CONT,		/* "+ " SASL continuation (RFC 5034 4) */
	POP3_BAD		/* not a status line: *why says why */
};

/*
 * pop3_status - classify one line (its CRLF included).  *text (optional)
 * gets the text after the indicator and its space, without CRLF, and
 * *textlen its length.  On POP3_BAD *why says what was wrong.
 */
enum pop3_st	pop3_status(const char *line, size_t len, const char **text,
		    size_t *textlen, const char **why);

/* What the negotiation learns from a capability list. */
struct pop3_capa {
	unsigned	 nlines;	/* capability lines so far */
	bool		 done;		/* the final "." was seen */
	bool		 stls;		/* STLS (RFC 2595 4) */
	bool		 user;		/* USER (RFC 2449 6.8) */
	bool		 sasl;		/* SASL mechanisms (RFC 2449 6.3) */
	bool		 pipelining;	/* PIPELINING (RFC 2449 6.6) */
	char		 list[256];	/* keywords, for logs */
};

enum pop3_cp {
	PCP_MORE,		/* a capability line: more follow */
	PCP_DONE,		/* the final "." */
	PCP_ERROR		/* malformed, or too many lines */
};

/* pop3_capa_reset - start a new capability list (after its "+OK") */
void		pop3_capa_reset(struct pop3_capa *);
/* pop3_capa_line - take one line of the list (CRLF included) */
enum pop3_cp	pop3_capa_line(struct pop3_capa *, const char *line,
		    size_t len, const char **why);
/*
 * pop3_capa_keyword - does this capability line (CRLF optional) name the
 * capability kw?  Keywords are case-insensitive (RFC 2449 6) and end at
 * a space or the end of the line.
 */
bool		pop3_capa_keyword(const char *line, size_t len, const char *kw);
/* pop3_is_end - is this line the "." that ends a multi-line response? */
bool		pop3_is_end(const char *line, size_t len);

#endif
