/*
 * text.c - small helpers for the short texts of messages.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "shim/text.h"

void
text_clean(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t j = 0;

	if (dstlen == 0)
		return;
	for (size_t i = 0; i < len && j + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\r' || c == '\n')
			break;
		dst[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[j] = '\0';
}

bool
text_hex(char *out, size_t outlen, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (outlen == 0)
		return false;
	for (i = 0; i < n && 2 * i + 2 < outlen; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * i] = '\0';
	return i == n;
}

void
say_into(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}
