/*
 * pop3.h - state shared by the POP3 plugin's files (negotiation in
 * pop3.c, relay in pop3_relay.c, response parsing in pop3_resp.c).  Not
 * for the core: it sees struct proto only.
 */
#ifndef TLSHIM_POP3_H
#define TLSHIM_POP3_H

#include <stdbool.h>
#include <stdint.h>

#include "plugins/dotscan.h"
#include "plugins/pipeline.h"
#include "plugins/pop3_resp.h"
#include "plugins/proto.h"
#include "shim/linebuf.h"

/* RFC 2449 4 sets 255 octets for a command and 512 for a response's
 * first line; real servers and clients stretch both a little. */
#define POP3_LINE_MAX	1024	/* server lines in negotiation, commands */
/* SASL lines (RFC 5034 4) carry base64 tokens: a Kerberos ticket easily
 * passes 1024 bytes.  The relay's buffers are this big; other lines are
 * still held to POP3_LINE_MAX. */
#define POP3_SASL_MAX	12288

enum pop3_neg {
	NEG_GREETING = 0,	/* waiting for the server's +OK */
	NEG_CAPA,		/* the answer to CAPA before TLS */
	NEG_CAPA_LIST,		/* its capability lines */
	NEG_STLS,		/* waiting for the answer to STLS */
	NEG_TLS,		/* handshake running */
	NEG_CAPA_TLS,		/* the answer to CAPA inside TLS */
	NEG_CAPA_TLS_LIST,	/* its capability lines */
	NEG_DONE
};

/* What a relayed command's response means to the relay (pipeline kind). */
enum pop3_cmd {
	CMD_OTHER = 0,		/* one status line */
	CMD_MULTI,		/* +OK starts a dot-terminated body */
	CMD_CAPA,		/* +OK starts a capability list: filter it */
	CMD_AUTH		/* "+ " continues a SASL exchange */
};

enum pop3_down {
	DOWN_CMD = 0,		/* command lines */
	DOWN_SASL		/* SASL responses until AUTH's final status */
};

enum pop3_up {
	UP_STATUS = 0,		/* the next status line */
	UP_BODY,		/* a multi-line body, raw, up to CRLF.CRLF */
	UP_CAPA			/* a capability list, line by line */
};

struct pop3_priv {
	enum pop3_neg	 neg;
	/* The capabilities the server listed; after TLS only the list
	 * fetched inside TLS (RFC 2595 4: pre-TLS lists are discarded). */
	struct pop3_capa capa;

	/* Relay: client side. */
	enum pop3_down	 down;
	struct linebuf	 down_lb;
	/* Relay: server side. */
	enum pop3_up	 up;
	struct linebuf	 up_lb;
	struct dotscan	 body;		/* the end of a multi-line body */
	struct pop3_capa relay_capa;	/* a CAPA answer being relayed */
	/* Commands sent upstream, oldest first, awaiting their responses. */
	struct pipeline	 pipe;
};

int	pop3_relay_from_down(struct session *, const char *, size_t);
int	pop3_relay_from_up(struct session *, const char *, size_t);
/* pop3_relay_start - set up the relay's buffers (from down_greet) */
void	pop3_relay_start(struct pop3_priv *);
void	pop3_relay_free(struct pop3_priv *);

#endif
