/*
 * fuzz_xmpp_stream.c - libFuzzer target for the XMPP stream reader
 * (plugins/xmpp_xml.c), the parser tlshim runs on what a hostile server
 * or legacy client sends during negotiation.
 *
 * The input is read three ways: in one piece, in pieces whose sizes the
 * input's first byte picks, and (for the first 2 KiB) one byte at a
 * time.  The reader stops at a <proceed/> in the TLS namespace, as the
 * plugin does.  Beyond what the sanitizers catch, the target checks the
 * reader's promises: the stream header is <stream> in the streams
 * namespace; an element's raw bytes start with '<' and end with '>', its
 * children's ranges lie inside it in order; a stop leaves exactly the
 * bytes after the '>' of <proceed/>; an error names a condition of RFC
 * 6120 4.9.3 in printable words; the raw buffer stays bounded; and the
 * events up to the first error are the same however the input was cut.
 * A broken promise is an abort(), which the fuzzer and the replay driver
 * both report.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/xmpp_xml.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)
#define EVENTS_MAX	64
#define UNIT		4096

/* What one reading saw. */
struct run {
	unsigned	 n;
	int		 ev[EVENTS_MAX];
	char		 name[EVENTS_MAX][64];
	size_t		 used;		/* input bytes up to the stop */
	enum xs_res	 res;
};

static void
check_printable(const char *s, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && s[i] != '\0'; i++)
		CHECK(s[i] >= 0x20 && s[i] < 0x7f);
	CHECK(i < cap);
}

static bool
on_event(void *ctx, struct xstream *x, enum xs_ev ev)
{
	struct run *r = ctx;
	const struct xs_elem *el = &x->el;

	switch (ev) {
	case XS_OPEN:
		CHECK(xs_is(x->open.ns, "stream", XS_NS_STREAMS, "stream"));
		CHECK(x->open.len > 0 &&
		    x->open.len <= x->raw_base + x->rawlen);
		CHECK(x->open.ndecl <= XS_DECLS_MAX);
		break;
	case XS_ELEMENT:
		CHECK(el->len >= 3 && el->raw[0] == '<' &&
		    el->raw[el->len - 1] == '>');
		CHECK(el->len <= UNIT + x->rawlen);
		CHECK(el->nkids <= XS_KIDS_MAX);
		for (unsigned i = 0; i < el->nkids; i++) {
			CHECK(el->kid[i].start <= el->kid[i].end);
			CHECK(el->kid[i].end <= el->len);
			CHECK(el->raw[el->kid[i].start] == '<');
			CHECK(i == 0 ||
			    el->kid[i - 1].end <= el->kid[i].start);
		}
		break;
	case XS_CLOSE:
		break;
	}
	if (r->n < EVENTS_MAX) {
		r->ev[r->n] = (int)ev;
		snprintf(r->name[r->n], sizeof(r->name[0]), "%s",
		    ev == XS_ELEMENT ? el->local : "");
		r->n++;
	}
	return ev == XS_ELEMENT && xs_is(el->ns, el->local, XS_NS_TLS,
	    "proceed");
}

/* read_in - the input in pieces of step bytes (0: one piece) */
static void
read_in(const uint8_t *data, size_t size, size_t step, struct run *r)
{
	const struct xs_limits lim = { 16, 32, UNIT };
	struct xstream x;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	if (!xs_init(&x, &lim, on_event, r))
		return;
	r->res = XS_MORE;
	while (off < size && r->res == XS_MORE) {
		size_t n = step == 0 || size - off < step ? size - off : step;
		size_t used = 0;

		r->res = xs_feed(&x, (const char *)data + off, n, &used);
		CHECK(used <= n);
		CHECK(r->res != XS_MORE || used == n);
		off += used;
		/* Never more held than one unit and one piece. */
		CHECK(x.rawlen <= UNIT + n + 1);
	}
	r->used = off;
	if (r->res == XS_STOPPED) {
		/* The stop is right after a '>', and nothing is taken after
		 * it, even once asked again. */
		size_t more;

		CHECK(off > 0 && data[off - 1] == '>');
		CHECK(xs_feed(&x, "x", 1, &more) == XS_STOPPED && more == 0);
	}
	if (r->res == XS_ERROR) {
		CHECK(x.cond[0] != '\0');
		check_printable(x.cond, sizeof(x.cond));
		check_printable(x.why, sizeof(x.why));
	}
	xs_free(&x);
}

/* same - two readings saw the same events up to the first error */
static void
same(const struct run *a, const struct run *b)
{
	unsigned n = a->n < b->n ? a->n : b->n;

	for (unsigned i = 0; i < n; i++) {
		CHECK(a->ev[i] == b->ev[i]);
		CHECK(strcmp(a->name[i], b->name[i]) == 0);
	}
	if (a->res != XS_ERROR && b->res != XS_ERROR) {
		CHECK(a->n == b->n);
		CHECK(a->res == b->res);
		CHECK(a->used == b->used);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, pieces, bytes;
	size_t step = size > 0 ? (size_t)(data[0] % 61) + 1 : 1;
	char esc[256];

	read_in(data, size, 0, &whole);
	read_in(data, size, step, &pieces);
	same(&whole, &pieces);
	if (size <= 2048) {
		read_in(data, size, 1, &bytes);
		same(&whole, &bytes);
	}

	/* Escaped text carries none of the five characters bare. */
	if (size > 0 && memchr(data, '\0', size < 200 ? size : 200) == NULL) {
		char in[201];
		size_t n = size < 200 ? size : 200;

		memcpy(in, data, n);
		in[n] = '\0';
		xs_escape(esc, sizeof(esc), in);
		for (const char *p = esc; *p != '\0'; p++) {
			CHECK(*p != '<' && *p != '>' && *p != '\'' &&
			    *p != '"');
			if (*p == '&')
				CHECK(strncmp(p, "&amp;", 5) == 0 ||
				    strncmp(p, "&lt;", 4) == 0 ||
				    strncmp(p, "&gt;", 4) == 0 ||
				    strncmp(p, "&apos;", 6) == 0 ||
				    strncmp(p, "&quot;", 6) == 0);
		}
	}
	return 0;
}
