/*
 * pop3_resp.c - a strict, bounded parser for POP3 status lines and
 * capability lists.
 *
 * Used while tlshim talks a server up to TLS (the greeting, CAPA, STLS)
 * and while it relays: the relay classifies each status line to know
 * whether a multi-line body follows, and filters CAPA answers through
 * pop3_capa_keyword().  Anything odd is an error: a server that does not
 * speak POP3 properly is not one whose answers we should interpret.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "plugins/pop3_resp.h"
#include "shim/text.h"

/* check_line - CRLF at the end and nowhere else, no NUL; the body length
 * (without CRLF) in *body */
static bool
check_line(const char *line, size_t len, size_t *body, const char **why)
{
	if (len < 2 || line[len - 1] != '\n' || line[len - 2] != '\r') {
		*why = "line not terminated by CRLF";
		return false;
	}
	*body = len - 2;
	if (memchr(line, '\n', *body) != NULL ||
	    memchr(line, '\r', *body) != NULL) {
		*why = "bare CR or LF inside a line";
		return false;
	}
	if (memchr(line, '\0', *body) != NULL) {
		*why = "NUL byte in a line";
		return false;
	}
	return true;
}

/* indicator - does the body start with ind, alone or followed by a
 * space?  *text gets what follows the space. */
static bool
indicator(const char *line, size_t body, const char *ind, const char **text,
    size_t *textlen)
{
	size_t k = strlen(ind);

	if (body < k || memcmp(line, ind, k) != 0)
		return false;
	if (body == k) {
		*text = line + k;
		*textlen = 0;
		return true;
	}
	if (line[k] != ' ')
		return false;
	*text = line + k + 1;
	*textlen = body - k - 1;
	return true;
}

enum pop3_st
pop3_status(const char *line, size_t len, const char **text, size_t *textlen,
    const char **why)
{
	const char *t;
	size_t body, tl;
	enum pop3_st st;

	*why = NULL;
	if (!check_line(line, len, &body, why))
		return POP3_BAD;
	/* RFC 1939 3: the indicators are upper case.  "+OK" is tried
	 * before "+", which would match its first byte. */
	if (indicator(line, body, "+OK", &t, &tl))
		st = POP3_OK;
	else if (indicator(line, body, "-ERR", &t, &tl))
		st = POP3_ERR;
	else if (indicator(line, body, "+", &t, &tl))
		st = POP3_CONT;
	else {
		*why = "response does not start with +OK or -ERR";
		return POP3_BAD;
	}
	if (text != NULL) {
		*text = t;
		*textlen = tl;
	}
	return st;
}

void
pop3_capa_reset(struct pop3_capa *c)
{
	memset(c, 0, sizeof(*c));
}

bool
pop3_is_end(const char *line, size_t len)
{
	return len == 3 && memcmp(line, ".\r\n", 3) == 0;
}

bool
pop3_capa_keyword(const char *line, size_t len, const char *kw)
{
	size_t k = strlen(kw);

	if (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n')
		len -= 2;
	/* A line starting with a dot is dot-stuffed (RFC 1939 3); no
	 * capability starts with one, but undo it all the same. */
	if (len >= 1 && line[0] == '.') {
		line++;
		len--;
	}
	if (len < k || strncasecmp(line, kw, k) != 0)
		return false;
	return len == k || line[k] == ' ';
}

/* add_keyword - the line's keyword, sanitized, onto the list for logs */
static void
add_keyword(struct pop3_capa *c, const char *line, size_t body)
{
	size_t have = strlen(c->list), k = 0;
	char word[64];

	if (body >= 1 && line[0] == '.') {
		line++;
		body--;
	}
	while (k < body && line[k] != ' ')
		k++;
	if (k == 0)
		return;
	text_clean(word, sizeof(word), line, k);
	if (have + (have > 0) + strlen(word) + 1 > sizeof(c->list))
		return;		/* the list is for humans: keep what fits */
	if (have > 0)
		c->list[have++] = ' ';
	memcpy(c->list + have, word, strlen(word) + 1);
}

enum pop3_cp
pop3_capa_line(struct pop3_capa *c, const char *line, size_t len,
    const char **why)
{
	size_t body;

	*why = NULL;
	if (c->done) {
		*why = "capability line after the end of the list";
		return PCP_ERROR;
	}
	if (!check_line(line, len, &body, why))
		return PCP_ERROR;
	if (pop3_is_end(line, len)) {
		c->done = true;
		return PCP_DONE;
	}
	if (++c->nlines > POP3_CAPA_MAX_LINES) {
		*why = "too many lines in the capability list";
		return PCP_ERROR;
	}
	if (pop3_capa_keyword(line, len, "STLS"))
		c->stls = true;
	else if (pop3_capa_keyword(line, len, "USER"))
		c->user = true;
	else if (pop3_capa_keyword(line, len, "SASL"))
		c->sasl = true;
	else if (pop3_capa_keyword(line, len, "PIPELINING"))
		c->pipelining = true;
	add_keyword(c, line, body);
	return PCP_MORE;
}
