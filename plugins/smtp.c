/*
 * smtp.c - SMTP and submission, outbound: talk the server up to TLS.
 *
 * tlshim reads the server's greeting, sends EHLO, looks for STARTTLS,
 * sends it and expects 220 (RFC 3207).  Nothing the server says before
 * TLS reaches the legacy client: tlshim greets the client itself, and the
 * client's own EHLO is the first command the server sees inside TLS, so
 * every extension the client learns comes from the protected session
 * (RFC 3207 4.2).  The relay itself is in smtp_relay.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "plugins/smtp.h"
#include "shim/text.h"

/* feed_reply - take one negotiation line; *done once the reply is whole */
static enum step
feed_reply(struct session *s, struct smtp_priv *p, const char *line,
    size_t len, bool *done)
{
	const char *text, *why;
	size_t textlen;

	*done = false;
	switch (smtp_reply_line(&p->reply, line, len, &text, &textlen, &why)) {
	case SRP_ERROR:
		sess_set_result(s, RES_FAILED, "protocol error from server: %s",
		    why);
		return STEP_FAIL;
	case SRP_MORE:
		break;
	case SRP_DONE:
		*done = true;
		break;
	}
	/* Extensions are noted as their lines arrive; the reply code that
	 * makes them meaningful is the same on every line. */
	if (p->neg == NEG_EHLO && smtp_ehlo_keyword(text, textlen, "STARTTLS"))
		sess_outcome(s)->starttls_offered = true;
	/* The server's own name, for TLSRPT's receiving-mx-helo: the first
	 * word of its 220 greeting (RFC 5321 4.3.1).  Optional: without
	 * memory it stays unknown. */
	if (p->neg == NEG_GREETING && p->reply.nlines == 1 &&
	    p->reply.code == 220)
		(void)outcome_set_helo(sess_outcome(s), text, textlen);
	return STEP_MORE;
}

static enum step
smtp_up_begin(struct session *s)
{
	struct smtp_priv *p = sess_priv(s);

	p->neg = NEG_GREETING;
	smtp_reply_reset(&p->reply);
	/* A new connection: the name another server gave is not this one's. */
	(void)outcome_set_helo(sess_outcome(s), NULL, 0);
	return STEP_MORE;
}

/* after_greeting - the server said 220: decide how to go on */
static enum step
after_greeting(struct session *s, struct smtp_priv *p)
{
	/* With implicit TLS the session is already protected, and with TLS
	 * not wanted there is nothing to ask for: the client's own EHLO
	 * will be the first command either way. */
	if (sess_up_tls(s)) {
		p->neg = NEG_DONE;
		return STEP_READY;
	}
	if (!sess_tls_wanted(s)) {
		p->neg = NEG_DONE;
		return STEP_NO_TLS;
	}
	p->neg = NEG_EHLO;
	sess_printf_up(s, "EHLO %s\r\n", sess_conf(s)->helo_name);
	return STEP_MORE;
}

static enum step
smtp_up_line(struct session *s, const char *line, size_t len)
{
	struct smtp_priv *p = sess_priv(s);
	struct outcome *o = sess_outcome(s);
	enum step st;
	bool done;
	int code;

	if ((st = feed_reply(s, p, line, len, &done)) != STEP_MORE || !done)
		return st;
	code = p->reply.code;

	switch (p->neg) {
	case NEG_GREETING:
		if (code == 220)
			return after_greeting(s, p);
		sess_set_result(s, RES_FAILED, "server did not greet with 220: %s",
		    p->reply.first);
		return STEP_FAIL;
	case NEG_EHLO:
		if (code == 250) {
			if (o->starttls_offered) {
				p->neg = NEG_STARTTLS;
				sess_printf_up(s, "STARTTLS\r\n");
				return STEP_MORE;
			}
			outcome_add_reason(o, "STARTTLS not offered by server");
			p->neg = NEG_DONE;
			return STEP_NO_TLS;
		}
		if (code / 100 == 5) {
			/* A server that rejects EHLO is not ESMTP and so
			 * cannot offer STARTTLS (attack catalogue SC-05).
			 * The client's own HELO will work in plaintext, if
			 * the level allows plaintext at all. */
			outcome_add_reason(o, "server rejected EHLO (%s), so "
			    "no STARTTLS", p->reply.first);
			p->neg = NEG_DONE;
			return STEP_NO_TLS;
		}
		sess_set_result(s, RES_FAILED, "server answered EHLO with %s",
		    p->reply.first);
		return STEP_FAIL;
	case NEG_STARTTLS:
		if (code == 220) {
			p->neg = NEG_TLS;
			return STEP_STARTTLS;
		}
		if (code == 421 || code / 100 < 4) {
			/* 421 closes the session; a 2xx or 3xx other than
			 * 220 is nonsense (SC-04), and the server's state is
			 * unknown, so nothing can be relayed on it. */
			sess_set_result(s, RES_FAILED, "unexpected reply to "
			    "STARTTLS: %s", p->reply.first);
			return STEP_FAIL;
		}
		outcome_add_reason(o, "server offered STARTTLS but refused it: "
		    "%s", p->reply.first);
		p->neg = NEG_DONE;
		return STEP_NO_TLS;
	case NEG_TLS:
	case NEG_DONE:
		break;
	}
	sess_set_result(s, RES_FAILED, "unexpected reply from server: %s",
	    p->reply.first);
	return STEP_FAIL;
}

/* smtp_up_tls_ready - TLS is up and verified.  Nothing more to ask: the
 * client's EHLO is the first command inside TLS (RFC 3207 4.2). */
static enum step
smtp_up_tls_ready(struct session *s)
{
	struct smtp_priv *p = sess_priv(s);

	p->neg = NEG_DONE;
	return STEP_READY;
}

static void
smtp_down_greet(struct session *s)
{
	struct smtp_priv *p = sess_priv(s);

	lb_init(&p->down_lb, SMTP_CMD_MAX);
	lb_init(&p->up_lb, SMTP_LINE_MAX);
	smtp_reply_reset(&p->up_reply);
	sess_printf_down(s, "220 %s ESMTP tlshim\r\n", sess_conf(s)->helo_name);
}

/* smtp_refuse_down - 421 as the greeting: the client retries later
 * (RFC 5321 4.2.2, 3.8), so no mail is lost */
static void
smtp_refuse_down(struct session *s, const char *reason)
{
	char clean[300];

	text_clean(clean, sizeof(clean), reason, strlen(reason));
	sess_printf_down(s, "421 4.7.0 tlshim: %s\r\n", clean);
}

static void
smtp_free_priv(struct session *s)
{
	smtp_relay_free(sess_priv(s));
}

/* Both services speak the same SMTP; they differ in defaults only. */
#define SMTP_PLUGIN							\
	.implicit_port = 465,						\
	.line_max = SMTP_LINE_MAX,					\
	.priv_size = sizeof(struct smtp_priv),				\
	.up_begin = smtp_up_begin,					\
	.up_line = smtp_up_line,					\
	.up_tls_ready = smtp_up_tls_ready,				\
	.up_quit = "QUIT\r\n",						\
	.down_greet = smtp_down_greet,					\
	.relay_from_down = smtp_relay_from_down,			\
	.relay_from_up = smtp_relay_from_up,				\
	.refuse_down = smtp_refuse_down,				\
	.free_priv = smtp_free_priv

const struct proto proto_smtp = {
	.name = "smtp",
	.port = 25,
	.default_level = LEV_MAY,
	.mx_routing = true,
	SMTP_PLUGIN
};

/* Submission carries credentials, so TLS is mandatory by default
 * (RFC 8314 3.3 and 5.2). */
const struct proto proto_submission = {
	.name = "submission",
	.port = 587,
	.default_level = LEV_ENCRYPT,
	.srv_label = "submission",
	.srv_label_implicit = "submissions",
	SMTP_PLUGIN
};
