/*
 * imap.h - state shared by the IMAP plugin's files (negotiation in
 * imap.c, relay in imap_relay.c).
 */
#ifndef TLSHIM_IMAP_H
#define TLSHIM_IMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "plugins/imap_parse.h"
#include "plugins/proto.h"
#include "shim/linebuf.h"

#define IMAP_NEG_LINE_MAX	8192	/* negotiation: greeting, CAPABILITY */
#define IMAP_LINE_MAX		65536	/* relay, literals excluded */
#define IMAP_CAPS_MAX		2048
#define IMAP_LOCAL_MAX		4

enum imap_neg {
	IN_GREETING = 0,	/* waiting for "* OK", "* PREAUTH", "* BYE" */
	IN_CAPABILITY,		/* our CAPABILITY before TLS */
	IN_STARTTLS,		/* our STARTTLS */
	IN_TLS,			/* handshake running */
	IN_CAPABILITY_TLS,	/* our CAPABILITY inside TLS */
	IN_DONE
};

/* One direction of the relay: lines, and literals streamed by count. */
struct imap_side {
	struct linebuf	 lb;
	uint64_t	 literal;	/* raw bytes still to pass */
	bool		 in_command;	/* a literal split the current line */
	bool		 discard;	/* the command is answered locally */
};

/* A client's synchronizing literal ("{N}") is sent only after the
 * server's "+" continuation; a tagged answer instead means it never
 * comes.  Until one of the two, the literal is pending. */
struct imap_pending {
	uint64_t	 size;
	char		 tag[IMAP_TAG_MAX];
};

struct imap_priv {
	enum imap_neg	 neg;
	char		 tag[16];	/* of our command in flight */
	bool		 preauth;
	char		 caps[IMAP_CAPS_MAX];
	size_t		 capslen;

	struct imap_side down, up;
	struct imap_pending sync;
	char		 sasl_tag[IMAP_TAG_MAX];	/* AUTHENTICATE relayed */
	char		*local[IMAP_LOCAL_MAX];	/* answers due at a boundary */
	unsigned	 nlocal;
};

int	imap_relay_from_down(struct session *, const char *, size_t);
int	imap_relay_from_up(struct session *, const char *, size_t);
void	imap_relay_init(struct imap_priv *);
void	imap_relay_free(struct imap_priv *);
/* imap_caps_flags - what the legacy client must not see, for this leg */
unsigned imap_caps_flags(struct session *);

#endif
