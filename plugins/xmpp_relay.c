/*
 * xmpp_relay.c - XMPP after tlshim's answer: bytes pass unchanged both
 * ways (stream restarts, SASL, dialback and all, inside TLS).
 *
 * One exception, the cleartext gate: a client leg whose server could not
 * be reached with TLS, under a level that allowed that, and without
 * cleartext_auth = yes.  No credential may cross then (DESIGN.md), so
 * tlshim reads the client's stanzas as they pass, relays each one only
 * once it is complete and carries none (SASL <auth/> and <response/>,
 * XEP-0078 iq:auth, XEP-0077 iq:register), and ends the stream on the
 * first that does.  The relayed bytes are still exactly the client's.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/xmpp.h"

static const struct xs_limits gate_limits = {
	XMPP_GATE_DEPTH, XMPP_NEG_ATTRS, XMPP_GATE_UNIT
};

int
xmpp_relay_from_up(struct session *s, const char *data, size_t len)
{
	sess_write_down(s, data, len);
	return 0;
}

/* credentials - does this stanza carry a password or a SASL exchange? */
static bool
credentials(const struct xs_elem *el)
{
	if (xs_is(el->ns, el->local, XS_NS_SASL, "auth") ||
	    xs_is(el->ns, el->local, XS_NS_SASL, "response"))
		return true;
	if (strcmp(el->local, "iq") != 0)
		return false;
	for (unsigned i = 0; i < el->nkids; i++)
		if (xs_is(el->kid[i].ns, el->kid[i].local, "jabber:iq:auth",
		    "query") || xs_is(el->kid[i].ns, el->kid[i].local,
		    "jabber:iq:register", "query"))
			return true;
	return false;
}

/* gate_flush - relay the held bytes up to reader offset upto */
static void
gate_flush(struct session *s, struct xmpp_priv *p, uint64_t upto)
{
	size_t n;

	if (upto <= p->gate_fwd)
		return;
	n = (size_t)(upto - p->gate_fwd);
	if (n > p->hold_len)
		n = p->hold_len;
	sess_write_up(s, p->hold, n);
	memmove(p->hold, p->hold + n, p->hold_len - n);
	p->hold_len -= n;
	p->gate_fwd += n;
}

/* on_gate - one complete stanza (or the end of the stream) */
static bool
on_gate(void *ctx, struct xstream *x, enum xs_ev ev)
{
	struct session *s = ctx;
	struct xmpp_priv *p = sess_priv(s);

	switch (ev) {
	case XS_OPEN:
		return false;		/* the client's header, fed first */
	case XS_ELEMENT:
		if (credentials(&x->el)) {
			p->gate_block = true;
			return true;
		}
		gate_flush(s, p, x->ev_end);
		return false;
	case XS_CLOSE:
		/* Its stream is over: nothing more to read. */
		return true;
	}
	return false;
}

bool
xmpp_gate_start(struct session *s, struct xmpp_priv *p)
{
	size_t used;

	if (!xmpp_cleartext_gate(s, p))
		return true;
	if (!xs_init(&p->gx, &gate_limits, on_gate, s))
		return false;
	/* The client's own header sets the namespaces its stanzas are
	 * read in; it was answered already and is not relayed again. */
	if (xs_feed(&p->gx, p->opening, p->opening_len, &used) != XS_MORE)
		return false;
	p->gate_fwd = p->gx.fed;
	p->gate = true;
	return true;
}

/* gate_stop - tell the client why, and end the session */
static int
gate_stop(struct session *s, const char *cond, const char *why)
{
	char esc[600];

	xs_escape(esc, sizeof(esc), why);
	sess_printf_down(s, "<stream:error><%s xmlns='%s'/><text xmlns='%s'>"
	    "tlshim: %s</text></stream:error></stream:stream>", cond,
	    XS_NS_ERRORS, XS_NS_ERRORS, esc);
	sess_write_up(s, "</stream:stream>", 16);
	sess_set_result(s, RES_NONE, "%s", why);
	return -1;
}

/* gate_feed - client bytes on a gated leg */
static int
gate_feed(struct session *s, struct xmpp_priv *p, const char *data,
    size_t len)
{
	size_t used;

	if (p->hold_len + len > p->hold_cap) {
		size_t cap = p->hold_len + len + 4096;
		char *n = realloc(p->hold, cap);

		if (n == NULL)
			return gate_stop(s, "resource-constraint",
			    "out of memory");
		p->hold = n;
		p->hold_cap = cap;
	}
	memcpy(p->hold + p->hold_len, data, len);
	p->hold_len += len;
	switch (xs_feed(&p->gx, data, len, &used)) {
	case XS_MORE:
		/* Up to the end of the last complete stanza or white
		 * space; a stanza still open waits. */
		gate_flush(s, p, p->gx.unit);
		return 0;
	case XS_STOPPED:
		if (p->gate_block)
			return gate_stop(s, "policy-violation", "the server "
			    "connection is not encrypted, and credentials "
			    "are not sent in cleartext (cleartext_auth = "
			    "no)");
		/* </stream:stream>: relay it and whatever follows. */
		p->gate = false;
		gate_flush(s, p, p->gate_fwd + p->hold_len);
		return 0;
	case XS_ERROR:
		break;
	}
	return gate_stop(s, p->gx.cond, p->gx.why);
}

int
xmpp_relay_from_down(struct session *s, const char *data, size_t len)
{
	struct xmpp_priv *p = sess_priv(s);

	if (p->gate_broken) {
		sess_set_result(s, RES_NONE, "out of memory");
		return -1;
	}
	if (p->gate)
		return gate_feed(s, p, data, len);
	sess_write_up(s, data, len);
	return 0;
}
