/*
 * imap_parse.c - response lines, literals and capabilities of IMAP.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "plugins/imap_parse.h"

bool
imap_word_is(const char *w, size_t wlen, const char *s)
{
	size_t n = strlen(s);

	return wlen == n && strncasecmp(w, s, n) == 0;
}

/* word - the next space-delimited word at *p, advancing past it */
static size_t
word(const char **p, const char *end)
{
	const char *s = *p;

	while (*p < end && **p != ' ')
		(*p)++;
	return (size_t)(*p - s);
}

static void
skip_sp(const char **p, const char *end)
{
	if (*p < end && **p == ' ')
		(*p)++;
}

void
imap_resp_parse(const char *line, size_t len, struct imap_resp *r)
{
	const char *p = line, *end = line + len, *w;
	size_t n;

	memset(r, 0, sizeof(*r));
	while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	w = p;
	n = word(&p, end);
	if (n == 1 && *w == '*')
		r->kind = IMAP_UNTAGGED;
	else if (n == 1 && *w == '+') {
		r->kind = IMAP_CONTINUE;
		skip_sp(&p, end);
		r->text = p;
		r->textlen = (size_t)(end - p);
		return;
	} else if (n > 0 && n < IMAP_TAG_MAX) {
		r->kind = IMAP_TAGGED;
		memcpy(r->tag, w, n);
		r->tag[n] = '\0';
	} else {
		r->kind = IMAP_BAD_LINE;
		return;
	}
	if (p >= end || *p != ' ') {
		r->kind = IMAP_BAD_LINE;
		return;
	}
	p++;
	r->atom = p;
	r->atomlen = word(&p, end);
	if (imap_word_is(r->atom, r->atomlen, "OK"))
		r->status = IMAP_ST_OK;
	else if (imap_word_is(r->atom, r->atomlen, "NO"))
		r->status = IMAP_ST_NO;
	else if (imap_word_is(r->atom, r->atomlen, "BAD"))
		r->status = IMAP_ST_BAD;
	else if (imap_word_is(r->atom, r->atomlen, "PREAUTH"))
		r->status = IMAP_ST_PREAUTH;
	else if (imap_word_is(r->atom, r->atomlen, "BYE"))
		r->status = IMAP_ST_BYE;
	skip_sp(&p, end);
	if (r->status != IMAP_ST_NONE && p < end && *p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (close != NULL) {
			r->code = p + 1;
			r->codelen = (size_t)(close - p - 1);
			p = close + 1;
			skip_sp(&p, end);
		}
	}
	r->text = p;
	r->textlen = (size_t)(end - p);
}

int
imap_literal(const char *line, size_t len, uint64_t *n)
{
	const char *end = line + len, *p;
	uint64_t v = 0, mul = 1;

	while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (end == line || end[-1] != '}')
		return 0;
	p = end - 1;
	if (p > line && p[-1] == '+')
		p--;
	if (p == line || p[-1] < '0' || p[-1] > '9')
		return -1;
	while (p > line && p[-1] >= '0' && p[-1] <= '9') {
		if (mul > IMAP_LITERAL_MAX)
			return -1;
		v += (uint64_t)(p[-1] - '0') * mul;
		if (v > IMAP_LITERAL_MAX)
			return -1;
		mul *= 10;
		p--;
	}
	if (p == line || p[-1] != '{')
		return -1;
	*n = v;
	return 1;
}

bool
imap_cap_has(const char *caps, size_t len, const char *cap)
{
	const char *p = caps, *end = caps + len, *w;
	size_t n;

	while (p < end) {
		w = p;
		n = word(&p, end);
		if (imap_word_is(w, n, cap))
			return true;
		skip_sp(&p, end);
	}
	return false;
}

/* drop - is this capability hidden from the legacy client? */
static bool
drop(const char *w, size_t n, unsigned flags)
{
	if (imap_word_is(w, n, "STARTTLS") ||
	    (n >= 9 && strncasecmp(w, "COMPRESS=", 9) == 0))
		return true;
	if (imap_word_is(w, n, "LOGINDISABLED"))
		return (flags & (CAPF_TLS | CAPF_NOAUTH)) != 0;
	if (n >= 5 && strncasecmp(w, "AUTH=", 5) == 0)
		return (flags & CAPF_NOAUTH) != 0;
	return false;
}

size_t
imap_caps_filter(const char *caps, size_t len, unsigned flags, char *out,
    size_t outlen)
{
	const char *p = caps, *end = caps + len, *w;
	size_t n, o = 0;

	if (outlen == 0)
		return 0;
	while (p < end) {
		w = p;
		n = word(&p, end);
		skip_sp(&p, end);
		if (n == 0 || drop(w, n, flags))
			continue;
		if (o + n + 1 >= outlen)
			break;
		if (o > 0)
			out[o++] = ' ';
		memcpy(out + o, w, n);
		o += n;
	}
	if ((flags & CAPF_NOAUTH) && o + 14 < outlen) {
		if (o > 0)
			out[o++] = ' ';
		memcpy(out + o, "LOGINDISABLED", 13);
		o += 13;
	}
	out[o] = '\0';
	return o;
}
