/*
 * xmpp.c - XMPP, outbound, client-to-server and server-to-server: talk
 * the server up to TLS (RFC 6120 sections 4 and 5).
 *
 * tlshim opens the stream toward the server with the domain the legacy
 * side named, reads the server's header and features, sends <starttls/>
 * and accepts only <proceed/> in the TLS namespace, with no byte after
 * it (RFC 6120 5.4.2.3: TLS starts right after its '>').  Inside TLS it
 * opens a new stream, forgets what it learnt before, and keeps the
 * server's new features (without <starttls/>) for the legacy side, which
 * tlshim answers itself (xmpp_down.c).  The server's stream is read with
 * a restricted, bounded XML reader (xmpp_xml.c), reset at each stream.
 * From the relay on, bytes pass unchanged both ways.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/xmpp.h"

static const struct xs_limits neg_limits = {
	XMPP_NEG_DEPTH, XMPP_NEG_ATTRS, XMPP_NEG_UNIT
};

const char *
xmpp_default_ns(const struct xmpp_priv *p)
{
	return p->s2s ? XMPP_NS_SERVER : XMPP_NS_CLIENT;
}

/* up_fail - the server broke the protocol: say so to it (a stream error
 * with cond, the core closes the stream) and to the record; stop */
static bool
up_fail(struct session *s, struct xmpp_priv *p, enum result r,
    const char *cond, const char *fmt, ...) __attribute__((format(printf,
    5, 6)));

static bool
up_fail(struct session *s, struct xmpp_priv *p, enum result r,
    const char *cond, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	xs_printable(why);
	sess_set_result(s, r, "%s", why);
	if (cond != NULL && r != RES_ATTACK)
		sess_printf_up(s, "<stream:error><%s xmlns='%s'/>"
		    "</stream:error>", cond, XS_NS_ERRORS);
	p->step = STEP_FAIL;
	return true;
}

/* send_header - tlshim's stream header toward the server: the legacy
 * side's domain, and for s2s its own (RFC 6120 4.7.1; a client's
 * address is not sent: it is not known before authentication), with the
 * namespace prefixes the legacy side declared, since its stanzas will
 * use them inside this stream */
static void
send_header(struct session *s, struct xmpp_priv *p)
{
	/* Room for every declaration kept (XS_DECLS_MAX), each escaped at
	 * worst six times its length: never cut short. */
	char buf[XMPP_HDR_MAX], esc[XS_NAME_MAX * 6];
	size_t n;
	const struct xs_open *o = &p->down.open;

	xs_escape(esc, sizeof(esc), p->to);
	n = (size_t)snprintf(buf, sizeof(buf), "<?xml version='1.0'?>"
	    "<stream:stream xmlns='%s' xmlns:stream='%s' to='%s'",
	    xmpp_default_ns(p), XS_NS_STREAMS, esc);
	for (unsigned i = 0; i < o->ndecl && n < sizeof(buf); i++) {
		if (strcmp(o->decl[i].prefix, "stream") == 0 ||
		    strcmp(o->decl[i].prefix, "xml") == 0)
			continue;
		xs_escape(esc, sizeof(esc), o->decl[i].uri);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    " xmlns:%s='%s'", o->decl[i].prefix, esc);
	}
	if (p->s2s && p->from[0] != '\0' && n < sizeof(buf)) {
		xs_escape(esc, sizeof(esc), p->from);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " from='%s'",
		    esc);
	}
	if (p->lang[0] != '\0' && n < sizeof(buf)) {
		xs_escape(esc, sizeof(esc), p->lang);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    " xml:lang='%s'", esc);
	}
	if (n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    " version='1.0'>");
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	sess_write_up(s, buf, n);
}

/* kid_gated - on a cleartext leg that keeps credentials home, the ways
 * to send them are not offered to the client (SASL, XEP-0078, XEP-0077) */
static bool
kid_gated(const struct xs_kid *k)
{
	return xs_is(k->ns, k->local, XS_NS_SASL, "mechanisms") ||
	    xs_is(k->ns, k->local, "http://jabber.org/features/iq-auth",
	    "auth") ||
	    xs_is(k->ns, k->local, "http://jabber.org/features/iq-register",
	    "register");
}

bool
xmpp_keep_features(struct session *s, struct xmpp_priv *p,
    const struct xs_elem *el)
{
	bool gate = xmpp_cleartext_gate(s, p);
	size_t cap = el->len + 256 + el->ndecl * (XS_NAME_MAX * 6 + 80), n;
	char *f, esc[XS_NAME_MAX * 6];

	free(p->features);
	p->features = NULL;
	p->features_len = 0;
	if ((f = malloc(cap)) == NULL)
		return false;
	n = (size_t)snprintf(f, cap, "<stream:features");
	/* Prefixes the server declared on its features element. */
	for (unsigned i = 0; i < el->ndecl; i++) {
		xs_escape(esc, sizeof(esc), el->decl[i].uri);
		n += (size_t)snprintf(f + n, cap - n, " xmlns%s%s='%s'",
		    el->decl[i].prefix[0] != '\0' ? ":" : "",
		    el->decl[i].prefix, esc);
	}
	f[n++] = '>';
	for (unsigned i = 0; i < el->nkids; i++) {
		const struct xs_kid *k = &el->kid[i];

		/* The client never does STARTTLS with tlshim (G-04). */
		if (xs_is(k->ns, k->local, XS_NS_TLS, "starttls"))
			continue;
		if (gate && kid_gated(k))
			continue;
		memcpy(f + n, el->raw + k->start, k->end - k->start);
		n += k->end - k->start;
	}
	n += (size_t)snprintf(f + n, cap - n, "</stream:features>");
	p->features = f;
	p->features_len = n;
	return true;
}

/* up_header - the server's stream header */
static bool
up_header(struct session *s, struct xmpp_priv *p, const struct xs_open *o)
{
	const char *want = xmpp_default_ns(p);

	if (strcmp(o->default_ns, want) != 0)
		return up_fail(s, p, RES_FAILED, "invalid-namespace",
		    "protocol error from server: its stream's namespace is "
		    "'%.80s', not %s", o->default_ns, want);
	for (unsigned i = 0; i < o->ndecl; i++)
		if (strcmp(o->decl[i].prefix, "stream") == 0 &&
		    strcmp(o->decl[i].uri, XS_NS_STREAMS) != 0)
			return up_fail(s, p, RES_FAILED,
			    "bad-namespace-prefix", "protocol error from "
			    "server: prefix 'stream' bound to '%.80s'",
			    o->decl[i].uri);
	snprintf(p->id, sizeof(p->id), "%s", o->id);
	snprintf(p->lang_up, sizeof(p->lang_up), "%s", o->lang);
	memcpy(p->decl, o->decl, sizeof(p->decl));
	p->ndecl = o->ndecl;
	if (!o->has_version || o->version[0] < '1' || o->version[0] > '9') {
		/* Before XMPP 1.0 there are no features, so no STARTTLS
		 * (RFC 6120 4.7.5). */
		if (sess_up_tls(s))
			return up_fail(s, p, RES_FAILED, "unsupported-version",
			    "protocol error from server: no version 1.0 in "
			    "its stream header inside TLS");
		outcome_add_reason(sess_outcome(s), "server stream has no "
		    "version 1.0 (pre-XMPP 1.0): no STARTTLS");
		sess_outcome(s)->starttls_offered = false;
		p->neg = XN_DONE;
		p->step = STEP_NO_TLS;
		return true;
	}
	p->neg = XN_FEATURES;
	return false;
}

/* stream_error - the server ended its stream with an error */
static bool
stream_error(struct session *s, struct xmpp_priv *p, const struct xs_elem *el)
{
	return up_fail(s, p, RES_FAILED, NULL, "server sent a stream error: "
	    "%.60s", el->nkids > 0 ? el->kid[0].local : "(no condition)");
}

/* up_features - the server's features: STARTTLS, or what the client
 * gets */
static bool
up_features(struct session *s, struct xmpp_priv *p, struct xstream *x,
    const struct xs_elem *el)
{
	struct outcome *o = sess_outcome(s);
	bool starttls = false;

	if (xs_is(el->ns, el->local, XS_NS_STREAMS, "error"))
		return stream_error(s, p, el);
	if (!xs_is(el->ns, el->local, XS_NS_STREAMS, "features"))
		return up_fail(s, p, RES_FAILED, "unsupported-stanza-type",
		    "protocol error from server: <%.40s xmlns='%.80s'> where "
		    "its features belong", el->local, el->ns);
	for (unsigned i = 0; i < el->nkids; i++)
		if (xs_is(el->kid[i].ns, el->kid[i].local, XS_NS_TLS,
		    "starttls"))
			starttls = true;
	if (sess_up_tls(s)) {
		/* Inside TLS: these are what the client gets.  A second
		 * <starttls/> (RFC 6120 5.4.3.3 forbids it) is dropped. */
		if (!xmpp_keep_features(s, p, el))
			return up_fail(s, p, RES_FAILED, NULL,
			    "out of memory");
		p->neg = XN_DONE;
		p->step = STEP_READY;
		return true;
	}
	o->starttls_offered = starttls;
	if (!starttls || !sess_tls_wanted(s)) {
		if (!starttls)
			outcome_add_reason(o, "STARTTLS not offered by "
			    "server");
		if (!xmpp_keep_features(s, p, el))
			return up_fail(s, p, RES_FAILED, NULL,
			    "out of memory");
		p->neg = XN_DONE;
		p->step = STEP_NO_TLS;
		return true;
	}
	sess_printf_up(s, "<starttls xmlns='%s'/>", XS_NS_TLS);
	p->neg = XN_PROCEED;
	p->starttls_chunk = x->chunk;
	return false;
}

/* up_proceed - the answer to <starttls/> */
static bool
up_proceed(struct session *s, struct xmpp_priv *p, struct xstream *x,
    const struct xs_elem *el)
{
	if (xs_is(el->ns, el->local, XS_NS_TLS, "proceed")) {
		/* In the very read that brought the features: sent before
		 * our <starttls/> could have arrived (catalogue XC-03). */
		if (x->chunk == p->starttls_chunk)
			return up_fail(s, p, RES_ATTACK, NULL, "response "
			    "injection: <proceed/> sent with the features, "
			    "before tlshim's <starttls/>");
		p->neg = XN_TLS;
		p->step = STEP_STARTTLS;
		return true;
	}
	if (xs_is(el->ns, el->local, XS_NS_TLS, "failure")) {
		/* RFC 6120 5.4.2.2: the server closes the stream; nothing
		 * may continue on it, in plaintext least of all. */
		outcome_set_cause(sess_outcome(s), CAUSE_NO_TLS);
		return up_fail(s, p, RES_REFUSED, NULL, "server answered "
		    "<starttls/> with <failure/>");
	}
	if (xs_is(el->ns, el->local, XS_NS_STREAMS, "error"))
		return stream_error(s, p, el);
	/* A <proceed/> in another namespace is not one (RFC 6120 5.4.2.3
	 * names urn:ietf:params:xml:ns:xmpp-tls). */
	return up_fail(s, p, RES_FAILED, "unsupported-stanza-type", "protocol "
	    "error from server: <%.40s xmlns='%.80s'> in answer to "
	    "<starttls/>", el->local, el->ns);
}

/* on_up - one event of the server's stream */
static bool
on_up(void *ctx, struct xstream *x, enum xs_ev ev)
{
	struct session *s = ctx;
	struct xmpp_priv *p = sess_priv(s);

	switch (ev) {
	case XS_OPEN:
		return up_header(s, p, &x->open);
	case XS_ELEMENT:
		if (p->neg == XN_FEATURES)
			return up_features(s, p, x, &x->el);
		if (p->neg == XN_PROCEED)
			return up_proceed(s, p, x, &x->el);
		return up_fail(s, p, RES_FAILED, NULL, "protocol error from "
		    "server: <%.40s> out of turn", x->el.local);
	case XS_CLOSE:
		return up_fail(s, p, RES_FAILED, NULL, "server closed its "
		    "stream during negotiation");
	}
	return false;
}

/* up_restart - a new stream toward the server: new reader, nothing
 * remembered from the last one (RFC 6120 5.4.3.3) */
static enum step
up_restart(struct session *s, struct xmpp_priv *p)
{
	bool ok = p->up.p == NULL ? xs_init(&p->up, &neg_limits, on_up, s) :
	    xs_reset(&p->up);

	if (!ok) {
		sess_set_result(s, RES_FAILED, "out of memory");
		return STEP_FAIL;
	}
	p->id[0] = p->lang_up[0] = '\0';
	p->ndecl = 0;
	free(p->features);
	p->features = NULL;
	p->features_len = 0;
	p->neg = XN_HEADER;
	send_header(s, p);
	return STEP_MORE;
}

static enum step
xmpp_up_begin(struct session *s)
{
	return up_restart(s, sess_priv(s));
}

static enum step
xmpp_up_tls_ready(struct session *s)
{
	return up_restart(s, sess_priv(s));
}

static enum step
xmpp_up_bytes(struct session *s, const char *data, size_t len, size_t *used)
{
	struct xmpp_priv *p = sess_priv(s);

	p->step = STEP_MORE;
	switch (xs_feed(&p->up, data, len, used)) {
	case XS_MORE:
		return STEP_MORE;
	case XS_STOPPED:
		return p->step;
	case XS_ERROR:
		break;
	}
	(void)up_fail(s, p, RES_FAILED, p->up.cond, "%s from server: %s",
	    p->up.cond, p->up.why);
	return STEP_FAIL;
}

#define XMPP_COMMON							\
	.default_level = LEV_ENCRYPT,					\
	.srv_fallback = true,						\
	.line_max = 1024,						\
	.priv_size = sizeof(struct xmpp_priv),				\
	.down_open = xmpp_down_open,					\
	.up_begin = xmpp_up_begin,					\
	.up_bytes = xmpp_up_bytes,					\
	.up_tls_ready = xmpp_up_tls_ready,				\
	.up_quit = "</stream:stream>",					\
	.down_greet = xmpp_down_greet,					\
	.relay_from_down = xmpp_relay_from_down,			\
	.relay_from_up = xmpp_relay_from_up,				\
	.refuse_down = xmpp_refuse_down,				\
	.free_priv = xmpp_free_priv

/* A legacy client: credentials flow, so TLS is mandatory by default
 * (as for IMAP; RFC 6120 5.3.1 lets a server require it anyway). */
const struct proto proto_xmpp_client = {
	.name = "xmpp-client",
	.port = 5222,
	.implicit_port = 5223,
	.srv_label = "xmpp-client",
	.srv_label_implicit = "xmpps-client",
	.alpn = "xmpp-client",
	XMPP_COMMON,
};

/* A legacy server's outgoing s2s: most servers require TLS for s2s
 * today, and dialback over cleartext proves little. */
const struct proto proto_xmpp_server = {
	.name = "xmpp-server",
	.port = 5269,
	.implicit_port = 5270,
	.srv_label = "xmpp-server",
	.srv_label_implicit = "xmpps-server",
	.alpn = "xmpp-server",
	XMPP_COMMON,
};
