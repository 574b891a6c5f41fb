/*
 * smtp_reply.c - a strict, bounded parser for SMTP server replies.
 *
 * Used both while tlshim talks a server up to TLS and while it relays the
 * server's replies to the legacy client.  Anything odd is an error: a
 * server that is not speaking SMTP properly is not one whose replies we
 * should interpret.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "plugins/smtp_reply.h"
#include "shim/text.h"

void
smtp_reply_reset(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

enum smtp_rp
smtp_reply_line(struct smtp_reply *r, const char *line, size_t len,
    const char **text, size_t *textlen, const char **why)
{
	int code;
	size_t body;

	*why = NULL;
	if (r->done)
		smtp_reply_reset(r);
	if (len < 2 || line[len - 1] != '\n' || line[len - 2] != '\r') {
		*why = "reply line not terminated by CRLF";
		return SRP_ERROR;
	}
	body = len - 2;
	if (memchr(line, '\n', body) != NULL || memchr(line, '\r', body)) {
		*why = "bare CR or LF inside a reply line";
		return SRP_ERROR;
	}
	if (memchr(line, '\0', body) != NULL) {
		*why = "NUL byte in a reply line";
		return SRP_ERROR;
	}
	if (body < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '5' || line[2] < '0' || line[2] > '9') {
		*why = "reply line does not start with a reply code";
		return SRP_ERROR;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (body > 3 && line[3] != '-' && line[3] != ' ') {
		*why = "reply code not followed by space or hyphen";
		return SRP_ERROR;
	}
	if (r->nlines > 0 && code != r->code) {
		*why = "multi-line reply with mismatched codes";
		return SRP_ERROR;
	}
	if (++r->nlines > SMTP_REPLY_MAX_LINES) {
		*why = "too many lines in one reply";
		return SRP_ERROR;
	}
	if (r->nlines == 1) {
		r->code = code;
		text_clean(r->first, sizeof(r->first), line, body);
	}
	if (text != NULL) {
		*text = line + (body > 3 ? 4 : 3);
		*textlen = body > 3 ? body - 4 : 0;
	}
	if (body > 3 && line[3] == '-')
		return SRP_MORE;
	r->done = true;
	return SRP_DONE;
}

/* smtp_ehlo_keyword - RFC 5321 4.1.1.1: an EHLO line is a keyword, then
 * optional parameters after a space; keywords are case-insensitive */
bool
smtp_ehlo_keyword(const char *text, size_t len, const char *kw)
{
	size_t k = strlen(kw);

	if (len < k || strncasecmp(text, kw, k) != 0)
		return false;
	return len == k || text[k] == ' ' || text[k] == '=';
}
