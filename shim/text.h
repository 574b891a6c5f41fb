/*
 * text.h - small helpers for the short texts of messages: a peer's words
 * made safe to show, and the error text a caller may ask for.
 */
#ifndef TLSHIM_TEXT_H
#define TLSHIM_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* text_clean - src[0..len) as printable ASCII in dst (always terminated):
 * it stops at the first CR or LF and writes '?' for any other byte below
 * 0x20 or above 0x7e, so a peer's text cannot end a line of ours, forge
 * a log field or carry control bytes into a reply we write */
void	text_clean(char *dst, size_t dstlen, const char *src, size_t len);

/* text_hex - the n bytes at p as lower-case hex in out (always
 * terminated when outlen > 0); false if out was too small for all */
bool	text_hex(char *out, size_t outlen, const unsigned char *p, size_t n);

/* say_into - printf into buf, truncating; nothing when buf is NULL or
 * len is 0 (the caller did not ask why) */
void	say_into(char *buf, size_t len, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
