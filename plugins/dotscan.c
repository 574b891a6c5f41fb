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
			/* The common case: skip to the next CR at once. */
			const char *cr = memchr(buf + i, '\r', len - i);
			if (cr == NULL) {
				i = len;
				break;
			}
			i = (size_t)(cr - buf) + 1;
			st = DS_CR;
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
