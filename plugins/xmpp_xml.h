/*
 * xmpp_xml.h - one side's XML stream, read with expat under the rules of
 * RFC 6120 section 11.
 *
 * The reader turns bytes into the few events negotiation needs: the
 * stream header (XS_OPEN), each complete top-level element with its
 * children's names and byte ranges (XS_ELEMENT), and the end of the
 * stream (XS_CLOSE).  A handler may stop the reader at an event; the
 * caller then learns exactly how many of its bytes led up to it, which is
 * what tells a server's <proceed/> from what an attacker put after it.
 *
 * Restricted XML (RFC 6120 11.1): a DTD, a comment, a processing
 * instruction or an entity reference other than the five predefined ones
 * and character references ends the stream (XS_ERROR, condition
 * "restricted-xml").  Bounded: nesting depth, attributes per element,
 * children per top-level element, and the bytes of the header or of one
 * top-level element ("policy-violation" past them).  expat's billion
 * laughs guard is on as well, though no entity can be declared.
 *
 * Nothing is re-serialised: raw bytes of the current unit are kept so
 * that an element (or a child) can be passed on exactly as it came.
 */
#ifndef TLSHIM_XMPP_XML_H
#define TLSHIM_XMPP_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <expat.h>

#define XS_NS_STREAMS	"http://etherx.jabber.org/streams"
#define XS_NS_TLS	"urn:ietf:params:xml:ns:xmpp-tls"
#define XS_NS_SASL	"urn:ietf:params:xml:ns:xmpp-sasl"
#define XS_NS_ERRORS	"urn:ietf:params:xml:ns:xmpp-streams"
#define XS_NS_XML	"http://www.w3.org/XML/1998/namespace"

#define XS_NAME_MAX	256	/* a namespace or local name, NUL included */
#define XS_KIDS_MAX	32	/* children of a top-level element */
#define XS_DECLS_MAX	8	/* namespace declarations kept per element */

enum xs_ev {
	XS_OPEN = 0,		/* the stream header is complete */
	XS_ELEMENT,		/* a top-level element is complete */
	XS_CLOSE		/* </stream:stream> */
};

/* What xs_feed() says. */
enum xs_res {
	XS_MORE = 0,		/* every byte taken; more wanted */
	XS_STOPPED,		/* a handler stopped at an event */
	XS_ERROR		/* the stream is broken: cond and why */
};

struct xs_limits {
	unsigned	 depth;		/* elements open at once, header too */
	unsigned	 attrs;		/* attributes of one element */
	size_t		 unit;		/* bytes of the header or of one
					 * top-level element */
};

/* A namespace declaration ("" prefix: the default namespace). */
struct xs_decl {
	char		 prefix[64];
	char		 uri[XS_NAME_MAX];
};

struct xs_kid {
	char		 ns[XS_NAME_MAX];
	char		 local[64];
	size_t		 start, end;	/* byte range in the element's raw */
	bool		 required;	/* has <required/> in its namespace */
};

/* The stream header. */
struct xs_open {
	char		 ns[XS_NAME_MAX];	/* the element's namespace */
	char		 default_ns[XS_NAME_MAX];
	char		 to[256], from[256], id[128], version[16];
	char		 lang[64];
	bool		 has_version;
	struct xs_decl	 decl[XS_DECLS_MAX];	/* other than the default */
	unsigned	 ndecl;
	size_t		 len;			/* raw bytes up to its end */
};

/* The last complete top-level element. */
struct xs_elem {
	char		 ns[XS_NAME_MAX];
	char		 local[64];
	struct xs_kid	 kid[XS_KIDS_MAX];
	unsigned	 nkids;
	struct xs_decl	 decl[XS_DECLS_MAX];	/* declared on it */
	unsigned	 ndecl;
	const char	*raw;			/* its bytes, during the event */
	size_t		 len;
};

struct xstream;
/* An event; return true to stop the reader right after it. */
typedef bool	(*xs_handler)(void *ctx, struct xstream *, enum xs_ev);

struct xstream {
	XML_Parser	 p;
	struct xs_limits lim;
	xs_handler	 on_event;
	void		*ctx;
	unsigned	 depth;
	uint64_t	 fed;		/* bytes given to expat since reset */
	uint64_t	 chunk;		/* offset of this xs_feed's data */
	uint64_t	 unit;		/* where the current unit started */
	uint64_t	 stop_at;	/* end of the event that stopped */
	uint64_t	 ev_end;	/* during an event: where it ends */
	bool		 stopped, failed;
	/* Raw bytes from offset raw_base on, trimmed to the current unit. */
	char		*raw;
	size_t		 rawlen, rawcap;
	uint64_t	 raw_base;
	struct xs_open	 open;
	struct xs_elem	 el;
	/* Declarations seen but not yet attached to their element. */
	struct xs_decl	 pend[XS_DECLS_MAX];
	unsigned	 npend;
	char		 cond[32];	/* the RFC 6120 4.9.3 condition */
	char		 why[160];
};

/* xs_init - a reader calling on_event(ctx, ...); false if out of memory */
bool		 xs_init(struct xstream *, const struct xs_limits *,
		    xs_handler on_event, void *ctx);
/* xs_reset - a new stream (after STARTTLS): forget everything */
bool		 xs_reset(struct xstream *);
void		 xs_free(struct xstream *);
/*
 * xs_feed - read data[0..len).  XS_MORE: all of it taken.  XS_STOPPED: a
 * handler stopped; *used bytes of data led up to that event, and the
 * reader takes nothing more until xs_reset().  XS_ERROR: cond and why say
 * what; the reader is done.
 */
enum xs_res	 xs_feed(struct xstream *, const char *data, size_t len,
		    size_t *used);
/* xs_is - is this namespace and local name the one in ns, local? */
bool		 xs_is(const char *ns, const char *local, const char *wns,
		    const char *wlocal);
/* xs_printable - replace what is not printable ASCII in s by '?': peer
 * text for reasons and logs (a cut UTF-8 sequence is not text) */
void		 xs_printable(char *s);
/* xs_escape - text for an attribute value or element content, with the
 * five special characters escaped; truncated (never mid-escape) to fit */
void		 xs_escape(char *dst, size_t dstlen, const char *src);

#endif
