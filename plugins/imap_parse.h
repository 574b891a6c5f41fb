/*
 * imap_parse.h - the few parts of IMAP (RFC 3501, RFC 9051) that tlshim
 * must understand: the kind and tag of a response line, its status and
 * response code, a literal announced at the end of a line, and the
 * capability list.  Everything else is relayed as it is.
 */
#ifndef TLSHIM_IMAP_PARSE_H
#define TLSHIM_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_TAG_MAX		64
#define IMAP_LITERAL_MAX	(UINT64_C(1) << 40)	/* no overflow, ever */

enum imap_kind {
	IMAP_UNTAGGED,		/* "* ..." */
	IMAP_CONTINUE,		/* "+ ..." */
	IMAP_TAGGED,		/* "tag ..." */
	IMAP_BAD_LINE		/* none of these */
};

enum imap_status {
	IMAP_ST_NONE = 0,	/* untagged data (CAPABILITY, EXISTS, ...) */
	IMAP_ST_OK, IMAP_ST_NO, IMAP_ST_BAD, IMAP_ST_PREAUTH, IMAP_ST_BYE
};

struct imap_resp {
	enum imap_kind	 kind;
	enum imap_status status;
	char		 tag[IMAP_TAG_MAX];	/* tagged only */
	const char	*atom;		/* first word after tag or "*" */
	size_t		 atomlen;
	const char	*code;		/* inside "[...]" after a status */
	size_t		 codelen;
	const char	*text;		/* after the status (and code) */
	size_t		 textlen;
};

/* imap_resp_parse - one response line (CRLF included or not) */
void		imap_resp_parse(const char *line, size_t len, struct imap_resp *);
/*
 * imap_literal - does the line end with a literal announcement, "{N}",
 * "{N+}" or "~{N}" before its CRLF?  -1 if the announcement is malformed
 * or too large, 0 if there is none, 1 with *n set.
 */
int		imap_literal(const char *line, size_t len, uint64_t *n);
/* imap_word_is - case-insensitive atom comparison */
bool		imap_word_is(const char *w, size_t wlen, const char *s);
/* imap_cap_has - does a space-separated capability list hold cap? */
bool		imap_cap_has(const char *caps, size_t len, const char *cap);

/* What to drop from a capability list shown to the legacy client. */
#define CAPF_TLS	0x1	/* STARTTLS, LOGINDISABLED: the leg is TLS */
#define CAPF_NOAUTH	0x2	/* AUTH=*: credentials would be refused */
/*
 * imap_caps_filter - copy caps without STARTTLS and COMPRESS=* (never
 * relayable through a line-reading shim), and per flags; with CAPF_NOAUTH
 * add LOGINDISABLED.  Returns the length written (NUL-terminated).
 */
size_t		imap_caps_filter(const char *caps, size_t len, unsigned flags,
		    char *out, size_t outlen);

#endif
