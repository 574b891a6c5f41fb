/*
 * xmpp_xml.c - read one side of an XMPP stream with expat, restricted as
 * RFC 6120 section 11 requires, bounded, and able to stop at the byte.
 *
 * expat runs in namespace mode (names arrive as "URI local"), with UTF-8
 * forced (RFC 6120 11.6), parameter entities never parsed, and a handler
 * on everything XMPP forbids: any of them ends the stream with the
 * condition restricted-xml.  Where an event ends is known from
 * XML_GetCurrentByteIndex() and XML_GetCurrentByteCount() in its handler;
 * a handler that wants to stop calls XML_StopParser() there, so no byte
 * after the event is looked at (the plaintext after <proceed/> stays
 * exactly what it was, for the caller to judge).
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugins/xmpp_xml.h"

#define XS_SEP	' '	/* between URI and local name: in neither */

static void	xs_fail(struct xstream *, const char *cond, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/* xs_fail - the stream is broken: say why once, stop reading */
static void
xs_fail(struct xstream *x, const char *cond, const char *fmt, ...)
{
	va_list ap;

	if (x->failed)
		return;
	x->failed = true;
	snprintf(x->cond, sizeof(x->cond), "%s", cond);
	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
	xs_printable(x->why);
	if (!x->stopped)
		XML_StopParser(x->p, XML_FALSE);
}

/* here - offset of the current event's first byte; *end its end */
static uint64_t
here(struct xstream *x, uint64_t *end)
{
	XML_Index i = XML_GetCurrentByteIndex(x->p);
	int n = XML_GetCurrentByteCount(x->p);

	if (i < 0)
		i = 0;
	if (end != NULL)
		*end = (uint64_t)i + (uint64_t)(n > 0 ? n : 0);
	return (uint64_t)i;
}

/* emit - hand an event to the caller; stop right after it if asked */
static void
emit(struct xstream *x, enum xs_ev ev, uint64_t end)
{
	if (x->failed || x->stopped)
		return;
	x->ev_end = end;
	if (x->on_event(x->ctx, x, ev)) {
		x->stopped = true;
		x->stop_at = end;
		XML_StopParser(x->p, XML_FALSE);
	}
}

/* split - "URI local" into its parts; false when one is too long */
static bool
split(const char *name, char *ns, size_t nslen, char *local, size_t loclen)
{
	const char *sp = strchr(name, XS_SEP);
	size_t n = sp != NULL ? (size_t)(sp - name) : 0;
	const char *l = sp != NULL ? sp + 1 : name;

	if (n >= nslen || strlen(l) >= loclen)
		return false;
	memcpy(ns, name, n);
	ns[n] = '\0';
	memcpy(local, l, strlen(l) + 1);
	return true;
}

bool
xs_is(const char *ns, const char *local, const char *wns, const char *wlocal)
{
	return strcmp(ns, wns) == 0 && strcmp(local, wlocal) == 0;
}

/* copy_attr - an attribute value into a field; false if too long */
static bool
copy_attr(char *dst, size_t dstlen, const char *v)
{
	size_t n = strlen(v);

	if (n >= dstlen)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

/* header - the stream header: its name, declarations and attributes */
static void
header(struct xstream *x, const char *ns, const char *local,
    const char **atts)
{
	struct xs_open *o = &x->open;
	bool ok = true;

	if (!xs_is(ns, local, XS_NS_STREAMS, "stream")) {
		xs_fail(x, "invalid-namespace", "the stream header is "
		    "<%.40s> in namespace '%.60s', not <stream> in %s", local,
		    ns, XS_NS_STREAMS);
		return;
	}
	snprintf(o->ns, sizeof(o->ns), "%s", ns);
	for (unsigned i = 0; i < x->npend; i++) {
		if (x->pend[i].prefix[0] == '\0')
			snprintf(o->default_ns, sizeof(o->default_ns), "%s",
			    x->pend[i].uri);
		else if (o->ndecl < XS_DECLS_MAX)
			o->decl[o->ndecl++] = x->pend[i];
	}
	for (size_t i = 0; atts[i] != NULL && ok; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "to") == 0)
			ok = copy_attr(o->to, sizeof(o->to), v);
		else if (strcmp(k, "from") == 0)
			ok = copy_attr(o->from, sizeof(o->from), v);
		else if (strcmp(k, "id") == 0)
			ok = copy_attr(o->id, sizeof(o->id), v);
		else if (strcmp(k, "version") == 0) {
			ok = copy_attr(o->version, sizeof(o->version), v);
			o->has_version = true;
		} else if (strcmp(k, XS_NS_XML " lang") == 0)
			ok = copy_attr(o->lang, sizeof(o->lang), v);
	}
	if (!ok)
		xs_fail(x, "policy-violation", "an attribute of the stream "
		    "header is too long");
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct xstream *x = arg;
	unsigned d = x->depth++, natts = 0;
	char ns[XS_NAME_MAX], local[64];
	uint64_t start, end;

	if (x->failed || x->stopped)
		return;
	start = here(x, &end);
	while (atts[2 * natts] != NULL)
		natts++;
	if (x->depth > x->lim.depth) {
		xs_fail(x, "policy-violation", "elements nested deeper than "
		    "%u", x->lim.depth);
		return;
	}
	if (natts > x->lim.attrs) {
		xs_fail(x, "policy-violation", "an element with more than %u "
		    "attributes", x->lim.attrs);
		return;
	}
	if (!split(name, ns, sizeof(ns), local, sizeof(local))) {
		xs_fail(x, "policy-violation", "an element or namespace name "
		    "too long");
		return;
	}
	if (d == 0) {
		header(x, ns, local, atts);
		x->npend = 0;
		x->open.len = (size_t)end;
		x->unit = end;
		emit(x, XS_OPEN, end);
		return;
	}
	if (d == 1) {
		x->unit = start;
		memset(&x->el, 0, sizeof(x->el));
		snprintf(x->el.ns, sizeof(x->el.ns), "%s", ns);
		snprintf(x->el.local, sizeof(x->el.local), "%s", local);
		memcpy(x->el.decl, x->pend, x->npend * sizeof(x->pend[0]));
		x->el.ndecl = x->npend;
	} else if (d == 2) {
		struct xs_kid *k;

		if (x->el.nkids == XS_KIDS_MAX) {
			xs_fail(x, "policy-violation", "<%.40s> has more than "
			    "%u children", x->el.local, XS_KIDS_MAX);
			return;
		}
		k = &x->el.kid[x->el.nkids++];
		snprintf(k->ns, sizeof(k->ns), "%s", ns);
		snprintf(k->local, sizeof(k->local), "%s", local);
		k->start = (size_t)(start - x->unit);
		k->end = k->start;
	} else if (d == 3 && x->el.nkids > 0) {
		struct xs_kid *k = &x->el.kid[x->el.nkids - 1];

		if (xs_is(ns, local, k->ns, "required"))
			k->required = true;
	}
	x->npend = 0;
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct xstream *x = arg;
	unsigned d;
	uint64_t end;

	(void)name;
	if (x->depth > 0)
		x->depth--;
	d = x->depth;
	if (x->failed || x->stopped)
		return;
	(void)here(x, &end);
	if (d == 0) {
		emit(x, XS_CLOSE, end);
	} else if (d == 1) {
		x->el.raw = x->raw + (x->unit - x->raw_base);
		x->el.len = (size_t)(end - x->unit);
		emit(x, XS_ELEMENT, end);
		x->unit = end;
	} else if (d == 2 && x->el.nkids > 0)
		x->el.kid[x->el.nkids - 1].end = (size_t)(end - x->unit);
}

static void XMLCALL
on_ns(void *arg, const XML_Char *prefix, const XML_Char *uri)
{
	struct xstream *x = arg;
	struct xs_decl *d;

	if (x->failed || x->stopped || x->npend == XS_DECLS_MAX)
		return;
	d = &x->pend[x->npend++];
	snprintf(d->prefix, sizeof(d->prefix), "%s", prefix != NULL ?
	    prefix : "");
	snprintf(d->uri, sizeof(d->uri), "%s", uri != NULL ? uri : "");
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct xstream *x = arg;
	uint64_t end;

	if (x->failed || x->stopped || x->depth != 1)
		return;
	/* Between top-level elements only white space (keepalives). */
	for (int i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
		    s[i] != '\n') {
			xs_fail(x, "bad-format", "text between elements");
			return;
		}
	(void)here(x, &end);
	x->unit = end;
}

static void XMLCALL
on_xmldecl(void *arg, const XML_Char *version, const XML_Char *encoding,
    int standalone)
{
	struct xstream *x = arg;

	(void)version;
	(void)standalone;
	if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
		xs_fail(x, "unsupported-encoding", "encoding '%.40s' (only "
		    "UTF-8, RFC 6120 11.6)", encoding);
}

/* Everything RFC 6120 11.1 forbids. */
static void XMLCALL
on_comment(void *arg, const XML_Char *data)
{
	(void)data;
	xs_fail(arg, "restricted-xml", "an XML comment");
}

static void XMLCALL
on_pi(void *arg, const XML_Char *target, const XML_Char *data)
{
	(void)data;
	xs_fail(arg, "restricted-xml", "a processing instruction <?%.40s",
	    target);
}

static void XMLCALL
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)internal;
	xs_fail(arg, "restricted-xml", "a document type declaration (DTD)");
}

static void XMLCALL
on_entity_decl(void *arg, const XML_Char *name, int param,
    const XML_Char *value, int vlen, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)param;
	(void)value;
	(void)vlen;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	xs_fail(arg, "restricted-xml", "an entity declaration (%.40s)", name);
}

static void XMLCALL
on_skipped(void *arg, const XML_Char *name, int param)
{
	(void)param;
	xs_fail(arg, "restricted-xml", "a reference to entity '%.40s'", name);
}

static int XMLCALL
on_external(XML_Parser p, const XML_Char *context, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid)
{
	(void)p;
	(void)context;
	(void)base;
	(void)sysid;
	(void)pubid;
	return XML_STATUS_ERROR;	/* never fetched: XXE */
}

/* setup - a fresh expat parser with every handler and limit */
static bool
setup(struct xstream *x)
{
	XML_Parser p = x->p;

	XML_SetUserData(p, x);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetNamespaceDeclHandler(p, on_ns, NULL);
	XML_SetCharacterDataHandler(p, on_text);
	XML_SetXmlDeclHandler(p, on_xmldecl);
	XML_SetCommentHandler(p, on_comment);
	XML_SetProcessingInstructionHandler(p, on_pi);
	XML_SetStartDoctypeDeclHandler(p, on_doctype);
	XML_SetEntityDeclHandler(p, on_entity_decl);
	XML_SetSkippedEntityHandler(p, on_skipped);
	XML_SetExternalEntityRefHandler(p, on_external);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
#ifdef XML_DTD
	/* No entity can be declared (on_doctype stops first), so this is
	 * a second wall: at most 10 times what came in, from 1 MiB on. */
	XML_SetBillionLaughsAttackProtectionMaximumAmplification(p, 10.0f);
	XML_SetBillionLaughsAttackProtectionActivationThreshold(p,
	    1024 * 1024);
#endif
#if HAVE_DECL_XML_SETREPARSEDEFERRALENABLED
	/* A complete <proceed/> must be seen when it arrives, not when more
	 * bytes make expat try again. */
	XML_SetReparseDeferralEnabled(p, XML_FALSE);
#endif
	return true;
}

bool
xs_init(struct xstream *x, const struct xs_limits *lim, xs_handler on_event,
    void *ctx)
{
	memset(x, 0, sizeof(*x));
	x->lim = *lim;
	x->on_event = on_event;
	x->ctx = ctx;
	if ((x->p = XML_ParserCreateNS("UTF-8", XS_SEP)) == NULL)
		return false;
	return setup(x);
}

bool
xs_reset(struct xstream *x)
{
	XML_Parser p = x->p;
	char *raw = x->raw;
	size_t cap = x->rawcap;
	struct xs_limits lim = x->lim;
	xs_handler ev = x->on_event;
	void *ctx = x->ctx;

	if (p == NULL || !XML_ParserReset(p, "UTF-8"))
		return false;
	memset(x, 0, sizeof(*x));
	x->p = p;
	x->raw = raw;
	x->rawcap = cap;
	x->lim = lim;
	x->on_event = ev;
	x->ctx = ctx;
	return setup(x);
}

void
xs_free(struct xstream *x)
{
	if (x->p != NULL)
		XML_ParserFree(x->p);
	free(x->raw);
	memset(x, 0, sizeof(*x));
}

/* keep_raw - bytes from the current unit on, and data after them */
static bool
keep_raw(struct xstream *x, const char *data, size_t len)
{
	if (x->unit > x->raw_base) {
		size_t drop = x->unit - x->raw_base;

		if (drop > x->rawlen)
			drop = x->rawlen;
		memmove(x->raw, x->raw + drop, x->rawlen - drop);
		x->rawlen -= drop;
		x->raw_base += drop;
	}
	if (x->rawlen + len > x->rawcap) {
		size_t cap = x->rawlen + len + 4096;
		char *n = realloc(x->raw, cap);

		if (n == NULL)
			return false;
		x->raw = n;
		x->rawcap = cap;
	}
	memcpy(x->raw + x->rawlen, data, len);
	x->rawlen += len;
	return true;
}

/* expat_cond - the stream error condition for an expat error */
static const char *
expat_cond(enum XML_Error e)
{
	switch (e) {
	case XML_ERROR_UNDEFINED_ENTITY:
	case XML_ERROR_RECURSIVE_ENTITY_REF:
	case XML_ERROR_BINARY_ENTITY_REF:
	case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
	case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
	case XML_ERROR_ENTITY_DECLARED_IN_PE:
	case XML_ERROR_NOT_STANDALONE:
	case XML_ERROR_MISPLACED_XML_PI:
	case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
		return "restricted-xml";
	case XML_ERROR_UNBOUND_PREFIX:
		return "bad-namespace-prefix";
	case XML_ERROR_UNKNOWN_ENCODING:
	case XML_ERROR_INCORRECT_ENCODING:
		return "unsupported-encoding";
	default:
		return "not-well-formed";
	}
}

/* feed_slice - one XML_Parse call (at most INT_MAX bytes) */
static enum xs_res
feed_slice(struct xstream *x, const char *data, size_t len)
{
	enum XML_Status st;

	if (!keep_raw(x, data, len)) {
		xs_fail(x, "resource-constraint", "out of memory");
		return XS_ERROR;
	}
	st = XML_Parse(x->p, data, (int)len, XML_FALSE);
	x->fed += len;
	if (x->failed)
		return XS_ERROR;
	if (x->stopped)
		return XS_STOPPED;
	if (st != XML_STATUS_OK) {
		enum XML_Error e = XML_GetErrorCode(x->p);

		x->failed = true;
		snprintf(x->cond, sizeof(x->cond), "%s", expat_cond(e));
		snprintf(x->why, sizeof(x->why), "XML error at byte %lld: %s",
		    (long long)XML_GetCurrentByteIndex(x->p),
		    XML_ErrorString(e));
		return XS_ERROR;
	}
	/* The header or element still open may not grow without end. */
	if (x->fed - x->unit > x->lim.unit) {
		xs_fail(x, "policy-violation", "%s larger than %zu bytes",
		    x->depth <= 1 ? "stream header" : "element", x->lim.unit);
		return XS_ERROR;
	}
	return XS_MORE;
}

enum xs_res
xs_feed(struct xstream *x, const char *data, size_t len, size_t *used)
{
	size_t off = 0;

	*used = 0;
	if (x->failed)
		return XS_ERROR;
	if (x->stopped)
		return XS_STOPPED;
	x->chunk = x->fed;
	while (off < len) {
		size_t n = len - off > (size_t)INT_MAX / 2 ?
		    (size_t)INT_MAX / 2 : len - off;
		enum xs_res r = feed_slice(x, data + off, n);

		if (r == XS_STOPPED) {
			*used = (size_t)(x->stop_at - x->chunk);
			return r;
		}
		if (r == XS_ERROR)
			return r;
		off += n;
	}
	*used = len;
	return XS_MORE;
}

void
xs_printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

void
xs_escape(char *dst, size_t dstlen, const char *src)
{
	size_t j = 0;

	if (dstlen == 0)
		return;
	for (; *src != '\0'; src++) {
		const char *e = NULL;
		char one[2] = { *src, '\0' };

		switch (*src) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '\'': e = "&apos;"; break;
		case '"': e = "&quot;"; break;
		default: e = one; break;
		}
		if (j + strlen(e) >= dstlen)
			break;
		memcpy(dst + j, e, strlen(e));
		j += strlen(e);
	}
	dst[j] = '\0';
}
