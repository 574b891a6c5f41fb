/*
 * xmpp.h - state shared by the XMPP plugin's files: negotiation with the
 * server in xmpp.c, the legacy side (its stream header, tlshim's answer,
 * refusals and the relay) in xmpp_down.c, the XML reader in xmpp_xml.c.
 * Not for the core: it sees struct proto only.
 */
#ifndef TLSHIM_XMPP_H
#define TLSHIM_XMPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plugins/proto.h"
#include "plugins/xmpp_xml.h"

#define XMPP_NS_CLIENT		"jabber:client"
#define XMPP_NS_SERVER		"jabber:server"
#define XMPP_NS_DIALBACK	"jabber:server:dialback"

/* Negotiation is short and small: what a real server sends fits easily. */
#define XMPP_NEG_DEPTH		16
#define XMPP_NEG_ATTRS		32
#define XMPP_NEG_UNIT		(64 * 1024)
/* The cleartext gate reads the client's stanzas: RFC 6120 13.12 asks a
 * server to allow at least 10000 bytes; Prosody allows 256 KiB. */
#define XMPP_GATE_DEPTH		64
#define XMPP_GATE_UNIT		(256 * 1024)
/* A stream header tlshim writes: attributes and declarations it copies,
 * each escaped at worst six times its length. */
#define XMPP_HDR_MAX		(4 * 1024 + XS_DECLS_MAX * XS_NAME_MAX * 7)

extern const struct proto proto_xmpp_client;
extern const struct proto proto_xmpp_server;

enum xmpp_neg {
	XN_HEADER = 0,		/* waiting for the server's stream header */
	XN_FEATURES,		/* waiting for its features */
	XN_PROCEED,		/* sent <starttls/>: <proceed/>, <failure/> */
	XN_TLS,			/* handshake running */
	XN_DONE
};

struct xmpp_priv {
	bool		 s2s;		/* xmpp-server: jabber:server */
	enum xmpp_neg	 neg;
	struct xstream	 up;		/* the server's stream, negotiation */
	struct xstream	 down;		/* the legacy side's opening */
	enum step	 step;		/* what the last server event said */
	uint64_t	 starttls_chunk; /* the read that brought features */

	/* The legacy side's stream header. */
	char		 to[256];	/* the domain it wants */
	char		 from[256];	/* s2s: its own domain */
	char		 lang[64];
	bool		 version;	/* version 1.0 or later */
	bool		 dialback;	/* s2s: declared the dialback ns */
	char		*opening;	/* its bytes (the gate's prefix) */
	size_t		 opening_len;

	/* What the server's stream (inside TLS if it came) said. */
	char		 id[128];
	char		 lang_up[64];
	struct xs_decl	 decl[XS_DECLS_MAX];	/* on its header */
	unsigned	 ndecl;
	char		*features;	/* <features/> as the client will
					 * get it, with tlshim's start tag */
	size_t		 features_len;

	/* The legacy side. */
	bool		 header_sent;	/* tlshim's stream header went out */
	char		 cond[32];	/* stream error for it, "" default */

	/* The cleartext gate (xmpp_relay.c). */
	bool		 gate;
	bool		 gate_broken;	/* could not start: relay nothing */
	bool		 gate_block;	/* a stanza carried credentials */
	struct xstream	 gx;
	uint64_t	 gate_fwd;	/* reader offset relayed up to */
	char		*hold;		/* client bytes not yet relayed */
	size_t		 hold_len, hold_cap;
};

/* xmpp_default_ns - jabber:client or jabber:server */
const char	*xmpp_default_ns(const struct xmpp_priv *);
/* xmpp_keep_features - build what the client gets from the server's
 * <features/> el: every child but <starttls/>, and on a cleartext leg
 * that keeps credentials home, no way to send them either */
bool		 xmpp_keep_features(struct session *, struct xmpp_priv *,
		    const struct xs_elem *el);

/* xmpp_down.c */
enum step	 xmpp_down_open(struct session *, const char *, size_t,
		    size_t *used);
void		 xmpp_down_greet(struct session *);
void		 xmpp_refuse_down(struct session *, const char *reason);
void		 xmpp_free_priv(struct session *);
/* xmpp_relay.c */
int		 xmpp_relay_from_down(struct session *, const char *, size_t);
int		 xmpp_relay_from_up(struct session *, const char *, size_t);
/* xmpp_gate_start - at the greeting: read the client's stanzas on a
 * cleartext leg that keeps credentials home; false if it cannot */
bool		 xmpp_gate_start(struct session *, struct xmpp_priv *);
/* xmpp_new_id - a random stream id (hex) */
void		 xmpp_new_id(char *buf, size_t len);
/* xmpp_cleartext_gate - credentials must not go to this cleartext leg */
bool		 xmpp_cleartext_gate(struct session *, struct xmpp_priv *);

#endif
