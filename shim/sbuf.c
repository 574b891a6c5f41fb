/*
 * sbuf.c - a growable text buffer, with JSON string quoting.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/sbuf.h"

void
sbuf_init(struct sbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
sbuf_free(struct sbuf *b)
{
	free(b->buf);
	sbuf_init(b);
}

bool
sbuf_ok(const struct sbuf *b)
{
	return !b->failed;
}

const char *
sbuf_str(const struct sbuf *b)
{
	return b->buf != NULL ? b->buf : "";
}

/* grow - room for n more bytes and a NUL; false marks the buffer failed */
static bool
grow(struct sbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (n > SBUF_MAX || b->len + n + 1 > SBUF_MAX) {
		b->failed = true;
		return false;
	}
	if (b->len + n + 1 <= b->cap)
		return true;
	for (cap = b->cap != 0 ? b->cap : 1024; cap < b->len + n + 1; cap *= 2)
		;
	if ((p = realloc(b->buf, cap)) == NULL) {
		b->failed = true;
		return false;
	}
	b->buf = p;
	b->cap = cap;
	return true;
}

void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (!grow(b, n))
		return;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void
sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (!grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* sbuf_json_str - s quoted for JSON.  Text from the configuration (service
 * names, paths) and from errors passes through here, so every control
 * character is escaped and nothing can end the string early. */
void
sbuf_json_str(struct sbuf *b, const char *s)
{
	const char *run = s;

	sbuf_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\')
			continue;
		sbuf_add(b, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"':
			sbuf_add(b, "\\\"", 2);
			break;
		case '\\':
			sbuf_add(b, "\\\\", 2);
			break;
		case '\n':
			sbuf_add(b, "\\n", 2);
			break;
		case '\r':
			sbuf_add(b, "\\r", 2);
			break;
		case '\t':
			sbuf_add(b, "\\t", 2);
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			sbuf_add(b, esc, 6);
		}
	}
	sbuf_add(b, run, (size_t)(s - run));
	sbuf_add(b, "\"", 1);
}

void
sbuf_json_fputs(FILE *f, const char *s)
{
	struct sbuf b;

	sbuf_init(&b);
	sbuf_json_str(&b, s);
	fputs(sbuf_ok(&b) ? sbuf_str(&b) : "\"\"", f);
	sbuf_free(&b);
}
