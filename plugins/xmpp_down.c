/*
 * xmpp_down.c - XMPP, the legacy side: its stream header, tlshim's
 * answer to it, and refusals.
 *
 * The legacy client (or server, for s2s) speaks first: its stream header
 * names the domain it wants, which routes the session (sess_set_dest).
 * Once the server's stream is up (inside TLS as policy asks), tlshim
 * answers that header itself: a stream header from the domain, with the
 * server's own stream id (XEP-0220 dialback keys are computed over it),
 * and the server's features as they came inside TLS, less <starttls/>.
 * Everything after that is the relay (xmpp_relay.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "plugins/xmpp.h"
#include "shim/text.h"

static const struct xs_limits open_limits = {
	XMPP_NEG_DEPTH, XMPP_NEG_ATTRS, XMPP_NEG_UNIT
};

void
xmpp_new_id(char *buf, size_t len)
{
	unsigned char r[12];

	if (gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r)) < 0)
		memset(r, 0x5a, sizeof(r));
	(void)text_hex(buf, len, r, sizeof(r));
}

bool
xmpp_cleartext_gate(struct session *s, struct xmpp_priv *p)
{
	return !p->s2s && !sess_up_tls(s) && !sess_conf(s)->cleartext_auth;
}

/* ---------------------------------------------------- its stream header */

/* down_fail - the legacy side's header is unusable: its stream error
 * condition and the record's reason */
static bool
down_fail(struct session *s, struct xmpp_priv *p, const char *cond,
    const char *why)
{
	snprintf(p->cond, sizeof(p->cond), "%s", cond);
	sess_set_result(s, RES_FAILED, "protocol error from client: %s", why);
	p->step = STEP_FAIL;
	return true;
}

/* on_down - the legacy side's stream header: where it wants to go */
static bool
on_down(void *ctx, struct xstream *x, enum xs_ev ev)
{
	struct session *s = ctx;
	struct xmpp_priv *p = sess_priv(s);
	const struct xs_open *o = &x->open;

	if (ev != XS_OPEN)
		return down_fail(s, p, "not-well-formed", "no stream header");
	if (strcmp(o->default_ns, xmpp_default_ns(p)) != 0)
		return down_fail(s, p, "invalid-namespace", p->s2s ?
		    "its stream is not in namespace jabber:server" :
		    "its stream is not in namespace jabber:client");
	if (o->to[0] == '\0')
		return down_fail(s, p, p->s2s ? "improper-addressing" :
		    "host-unknown", "its stream header has no 'to'");
	/* The domain routes the session and is the name the server's
	 * certificate must carry: only a plain ASCII domain name. */
	if (!sess_set_dest(s, o->to, "xmpp-to"))
		return down_fail(s, p, "host-unknown", "its 'to' is not a "
		    "domain name tlshim can route");
	snprintf(p->to, sizeof(p->to), "%s", o->to);
	snprintf(p->from, sizeof(p->from), "%s", o->from);
	snprintf(p->lang, sizeof(p->lang), "%s", o->lang);
	p->version = o->has_version && o->version[0] >= '1' &&
	    o->version[0] <= '9';
	for (unsigned i = 0; i < o->ndecl; i++)
		if (strcmp(o->decl[i].uri, XMPP_NS_DIALBACK) == 0)
			p->dialback = true;
	free(p->opening);
	if ((p->opening = malloc(o->len)) == NULL) {
		sess_set_result(s, RES_FAILED, "out of memory");
		p->step = STEP_FAIL;
		return true;
	}
	/* Nothing was dropped from the reader's raw bytes yet: they start
	 * at the stream's first byte until the header is over. */
	memcpy(p->opening, x->raw, o->len);
	p->opening_len = o->len;
	p->step = STEP_READY;
	return true;
}

enum step
xmpp_down_open(struct session *s, const char *data, size_t len, size_t *used)
{
	struct xmpp_priv *p = sess_priv(s);

	if (p->down.p == NULL) {
		p->s2s = sess_conf(s)->proto == &proto_xmpp_server;
		if (!xs_init(&p->down, &open_limits, on_down, s)) {
			sess_set_result(s, RES_FAILED, "out of memory");
			return STEP_FAIL;
		}
	}
	p->step = STEP_MORE;
	switch (xs_feed(&p->down, data, len, used)) {
	case XS_MORE:
		return STEP_MORE;
	case XS_STOPPED:
		return p->step;
	case XS_ERROR:
		break;
	}
	(void)down_fail(s, p, p->down.cond, p->down.why);
	return STEP_FAIL;
}

/* ------------------------------------------------------ tlshim's answer */

/* declared - is prefix among the n declarations of d? */
static bool
declared(const struct xs_decl *d, unsigned n, const char *prefix)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(d[i].prefix, prefix) == 0)
			return true;
	return false;
}

/* put_decl - one xmlns:prefix='uri' */
static size_t
put_decl(char *buf, size_t len, const struct xs_decl *d)
{
	char esc[XS_NAME_MAX * 6];

	if (strcmp(d->prefix, "stream") == 0 || strcmp(d->prefix, "xml") == 0)
		return 0;
	xs_escape(esc, sizeof(esc), d->uri);
	return (size_t)snprintf(buf, len, " xmlns:%s='%s'", d->prefix, esc);
}

/* send_header - tlshim's stream header to the legacy side: from the
 * domain it asked for, with the server's stream id when there is one,
 * and the namespace prefixes both sides declared (the server's stanzas
 * will use its own, and those the legacy side uses must stay bound) */
static void
send_header(struct session *s, struct xmpp_priv *p, bool version)
{
	char buf[2 * XMPP_HDR_MAX], esc[XS_NAME_MAX * 6], id[32];
	const struct xs_open *o = &p->down.open;
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "<?xml version='1.0'?>"
	    "<stream:stream xmlns='%s' xmlns:stream='%s'", xmpp_default_ns(p),
	    XS_NS_STREAMS);
	for (unsigned i = 0; i < p->ndecl && n < sizeof(buf); i++)
		n += put_decl(buf + n, sizeof(buf) - n, &p->decl[i]);
	for (unsigned i = 0; i < o->ndecl && n < sizeof(buf); i++)
		if (!declared(p->decl, p->ndecl, o->decl[i].prefix))
			n += put_decl(buf + n, sizeof(buf) - n, &o->decl[i]);
	if (p->id[0] == '\0')
		xmpp_new_id(id, sizeof(id));
	xs_escape(esc, sizeof(esc), p->id[0] != '\0' ? p->id : id);
	if (n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " id='%s'",
		    esc);
	if (p->to[0] != '\0' && n < sizeof(buf)) {
		xs_escape(esc, sizeof(esc), p->to);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " from='%s'",
		    esc);
	}
	if (p->s2s && p->from[0] != '\0' && n < sizeof(buf)) {
		xs_escape(esc, sizeof(esc), p->from);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " to='%s'",
		    esc);
	}
	if (p->lang_up[0] != '\0' && n < sizeof(buf)) {
		xs_escape(esc, sizeof(esc), p->lang_up);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    " xml:lang='%s'", esc);
	}
	if (n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s>",
		    version ? " version='1.0'" : "");
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	sess_write_down(s, buf, n);
	p->header_sent = true;
}

void
xmpp_down_greet(struct session *s)
{
	struct xmpp_priv *p = sess_priv(s);
	bool v = p->version && p->features != NULL;

	/* A client that spoke pre-1.0, or a server that did: no version,
	 * no features, and the client carries on the old way. */
	send_header(s, p, v);
	if (v)
		sess_write_down(s, p->features, p->features_len);
	if (!xmpp_gate_start(s, p))
		p->gate_broken = true;
}

/* xmpp_refuse_down - a stream error with text, after a stream header if
 * none was sent (RFC 6120 4.9.1.1) */
void
xmpp_refuse_down(struct session *s, const char *reason)
{
	struct xmpp_priv *p = sess_priv(s);
	char buf[1200], clean[600], esc[900];
	int n;

	if (!p->header_sent)
		send_header(s, p, p->version);
	text_clean(clean, sizeof(clean), reason, strlen(reason));
	xs_escape(esc, sizeof(esc), clean);
	/* A refusal for the server's sake is a remote connection that
	 * failed: temporary, the legacy side may try again later. */
	n = snprintf(buf, sizeof(buf), "<stream:error><%s xmlns='%s'/>"
	    "<text xmlns='%s'>tlshim: %s</text></stream:error>"
	    "</stream:stream>", p->cond[0] != '\0' ? p->cond :
	    "remote-connection-failed", XS_NS_ERRORS, XS_NS_ERRORS, esc);
	if (n > 0)
		sess_write_down(s, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1);
}

void
xmpp_free_priv(struct session *s)
{
	struct xmpp_priv *p = sess_priv(s);

	xs_free(&p->up);
	xs_free(&p->down);
	xs_free(&p->gx);
	free(p->features);
	free(p->opening);
	free(p->hold);
}
