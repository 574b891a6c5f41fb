/*
 * dotscan.c - the CRLF.CRLF scanner shared by SMTP DATA and POP3.
 */
#include "config.h"

#include <string.h>

#include "plugins/dotscan.h"

enum { DS_BOL = 0, DS_DOT, DS_DOTCR, DS_MID, DS_CR };

void
dotscan_reset(struct dotscan *d)
{
	d->st = DS_BOL;
}

size_t
dotscan_feed(struct dotscan *d, const char *buf, size_t len, bool *end)
{
	unsigned st = d->st;
	size_t i = 0;

	*end = false;
	while (i < len) {
		char c = buf[i];

		if (st == DS_MID) {
			/* The common case, inside a line: the end can only
			 * be at a dot right after CRLF, so skip from dot to
			 * dot (base64 bodies have none at all) instead of
			 * from line to line. */
			const char *dot = memchr(buf + i, '.', len - i);
			size_t j;

			if (dot == NULL) {
				/* Where the next chunk starts: after CRLF, after
				 * CR, or inside a line.  A lone LF right after
				 * a byte of a line is a bare LF. */
				if (len - i >= 2 && buf[len - 2] == '\r' &&
				    buf[len - 1] == '\n')
					st = DS_BOL;
				else if (buf[len - 1] == '\r')
					st = DS_CR;
				i = len;
				break;
			}
			j = (size_t)(dot - buf);
			st = j - i >= 2 && buf[j - 2] == '\r' &&
			    buf[j - 1] == '\n' ? DS_DOT : DS_MID;
			i = j + 1;
			continue;
		}
		i++;
		switch (st) {
		case DS_BOL:
			st = c == '.' ? DS_DOT : c == '\r' ? DS_CR : DS_MID;
			break;
		case DS_DOT:
			st = c == '\r' ? DS_DOTCR : DS_MID;
			break;
		case DS_DOTCR:
			if (c == '\n') {
				d->st = DS_BOL;
				*end = true;
				return i;
			}
			st = c == '\r' ? DS_CR : DS_MID;
			break;
		case DS_CR:
			st = c == '\n' ? DS_BOL : c == '\r' ? DS_CR : DS_MID;
			break;
		}
	}
	d->st = st;
	return i;
}
