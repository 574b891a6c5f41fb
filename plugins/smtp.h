/*
 * smtp.h - state shared by the SMTP plugin's files (negotiation in smtp.c,
 * relay in smtp_relay.c).  Not for the core: it sees struct proto only.
 */
#ifndef TLSHIM_SMTP_H
#define TLSHIM_SMTP_H

#include <stdbool.h>
#include <stdint.h>

#include "plugins/dotscan.h"
#include "plugins/pipeline.h"
#include "plugins/proto.h"
#include "plugins/smtp_reply.h"
#include "shim/linebuf.h"

#define SMTP_CMD_MAX		8192	/* client command line, AUTH included */

enum smtp_neg {
	NEG_GREETING = 0,	/* waiting for the server's 220 */
	NEG_EHLO,		/* waiting for the reply to our EHLO */
	NEG_STARTTLS,		/* waiting for the reply to STARTTLS */
	NEG_TLS,		/* handshake running */
	NEG_DONE
};

/* What a relayed command's reply means to the relay. */
enum smtp_cmd {
	CMD_OTHER = 0,
	CMD_EHLO,		/* reply lists extensions: filter it */
	CMD_DATA,		/* 354 starts message content */
	CMD_AUTH		/* 334 continues a SASL exchange */
};

enum smtp_down {
	DOWN_CMD = 0,		/* command lines */
	DOWN_DATA,		/* message content up to CRLF.CRLF */
	DOWN_BDAT,		/* bdat_left raw bytes */
	DOWN_SASL		/* SASL responses until AUTH's final reply */
};

struct smtp_priv {
	enum smtp_neg	 neg;
	struct smtp_reply reply;

	/* Relay: client side. */
	enum smtp_down	 down;
	struct linebuf	 down_lb;
	struct dotscan	 data;		/* the end of message content */
	uint64_t	 bdat_left;
	bool		 data_seen;	/* content bytes since DATA */
	/* Relay: server side. */
	struct linebuf	 up_lb;
	struct smtp_reply up_reply;
	/* EHLO replies are held until complete, to fix the last line's
	 * separator after dropping extensions. */
	char		*ehlo;
	size_t		 ehlo_len;
	/* Commands sent upstream, oldest first, awaiting their replies. */
	struct pipeline	 pipe;
};

int	smtp_relay_from_down(struct session *, const char *, size_t);
int	smtp_relay_from_up(struct session *, const char *, size_t);
void	smtp_relay_free(struct smtp_priv *);

#endif
