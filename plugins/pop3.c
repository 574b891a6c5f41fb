/*
 * pop3.c - POP3, outbound: talk the server up to TLS.
 *
 * tlshim reads the server's greeting, asks CAPA (RFC 2449), looks for
 * STLS, sends it and expects +OK (RFC 2595 4).  Inside TLS it asks CAPA
 * again, since what the server said before TLS may have been tampered
 * with and must be forgotten (RFC 2595 4).  Nothing the server says before
 * TLS reaches the legacy client: tlshim greets the client itself, and
 * every capability the client learns comes from its own CAPA, relayed
 * inside the protected session.  The relay itself is in pop3_relay.c.
 *
 * With implicit TLS (port 995, RFC 8314) the greeting already comes inside
 * TLS; CAPA is asked once, inside it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "plugins/pop3.h"
#include "shim/text.h"

static enum step
pop3_up_begin(struct session *s)
{
	struct pop3_priv *p = sess_priv(s);

	p->neg = NEG_GREETING;
	pop3_capa_reset(&p->capa);
	return STEP_MORE;
}

/* ask_capa - send CAPA; what was known before is forgotten */
static enum step
ask_capa(struct session *s, struct pop3_priv *p, enum pop3_neg next)
{
	pop3_capa_reset(&p->capa);
	p->neg = next;
	sess_printf_up(s, "CAPA\r\n");
	return STEP_MORE;
}

/* bad_response - the server said something POP3 does not allow here */
static enum step
bad_response(struct session *s, const char *what, const char *line,
    size_t len, const char *why)
{
	char clean[128];

	text_clean(clean, sizeof(clean), line, len);
	if (why != NULL)
		sess_set_result(s, RES_FAILED, "protocol error from server: %s "
		    "(%s): %s", what, why, clean);
	else
		sess_set_result(s, RES_FAILED, "protocol error from server: "
		    "%s: %s", what, clean);
	return STEP_FAIL;
}

/* greeting - the server's first line decides how to go on */
static enum step
greeting(struct session *s, struct pop3_priv *p, const char *line,
    size_t len)
{
	const char *text, *why;
	size_t textlen, rest;
	char clean[128];

	switch (pop3_status(line, len, &text, &textlen, &why)) {
	case POP3_OK:
		break;
	case POP3_ERR:
		text_clean(clean, sizeof(clean), text, textlen);
		sess_set_result(s, RES_FAILED, "server greeted with -ERR: %s",
		    clean);
		return STEP_FAIL;
	case POP3_CONT:
		return bad_response(s, "greeting is not +OK", line, len, NULL);
	case POP3_BAD:
		return bad_response(s, "greeting is not +OK", line, len, why);
	}
	/* The greeting is one line (RFC 1939 4), and the server must wait
	 * for our first command.  More bytes now would be answers to
	 * commands not yet sent: refuse them, never relay them. */
	if ((rest = sess_up_pending(s)) > 0) {
		sess_set_result(s, RES_FAILED, "protocol violation from "
		    "server: multi-line garbage in the greeting (%zu more "
		    "bytes before any command)", rest);
		return STEP_FAIL;
	}
	/* With implicit TLS the session is already protected: ask CAPA
	 * inside it.  With TLS not wanted there is nothing to ask for. */
	if (sess_up_tls(s))
		return ask_capa(s, p, NEG_CAPA_TLS);
	if (!sess_tls_wanted(s)) {
		p->neg = NEG_DONE;
		return STEP_NO_TLS;
	}
	return ask_capa(s, p, NEG_CAPA);
}

/* capa_status - the status line of the answer to CAPA */
static enum step
capa_status(struct session *s, struct pop3_priv *p, const char *line,
    size_t len)
{
	const char *text, *why;
	size_t textlen;
	char clean[128];

	switch (pop3_status(line, len, &text, &textlen, &why)) {
	case POP3_OK:
		p->neg = p->neg == NEG_CAPA ? NEG_CAPA_LIST : NEG_CAPA_TLS_LIST;
		return STEP_MORE;
	case POP3_ERR:
		if (p->neg == NEG_CAPA_TLS) {
			/* Inside TLS the list is only kept for the record;
			 * the client asks its own CAPA. */
			p->neg = NEG_DONE;
			return STEP_READY;
		}
		/* Without CAPA there is no STLS tag (RFC 2595 4 advertises
		 * STLS through CAPA only): TLS cannot be had here. */
		text_clean(clean, sizeof(clean), text, textlen);
		outcome_add_reason(sess_outcome(s), "server has no CAPA (-ERR "
		    "%s), so STLS cannot be discovered", clean);
		p->neg = NEG_DONE;
		return STEP_NO_TLS;
	case POP3_CONT:
		return bad_response(s, "unexpected response to CAPA", line,
		    len, NULL);
	case POP3_BAD:
		break;
	}
	return bad_response(s, "unexpected response to CAPA", line, len, why);
}

/* capa_list - one line of the capability list */
static enum step
capa_list(struct session *s, struct pop3_priv *p, const char *line,
    size_t len)
{
	const char *why;

	switch (pop3_capa_line(&p->capa, line, len, &why)) {
	case PCP_ERROR:
		return bad_response(s, "bad capability list", line, len, why);
	case PCP_MORE:
		if (p->neg == NEG_CAPA_LIST && p->capa.stls)
			sess_outcome(s)->starttls_offered = true;
		return STEP_MORE;
	case PCP_DONE:
		break;
	}
	if (p->neg == NEG_CAPA_TLS_LIST) {
		p->neg = NEG_DONE;
		return STEP_READY;
	}
	if (p->capa.stls) {
		p->neg = NEG_STLS;
		sess_printf_up(s, "STLS\r\n");
		return STEP_MORE;
	}
	outcome_add_reason(sess_outcome(s), "STLS not offered by server");
	p->neg = NEG_DONE;
	return STEP_NO_TLS;
}

/* stls_status - the answer to STLS */
static enum step
stls_status(struct session *s, struct pop3_priv *p, const char *line,
    size_t len)
{
	const char *text, *why;
	size_t textlen;
	char clean[128];

	switch (pop3_status(line, len, &text, &textlen, &why)) {
	case POP3_OK:
		/* The core checks that nothing follows the +OK (catalogue
		 * PC-04) before it starts the handshake. */
		p->neg = NEG_TLS;
		return STEP_STARTTLS;
	case POP3_ERR:
		text_clean(clean, sizeof(clean), text, textlen);
		outcome_add_reason(sess_outcome(s), "server refused STLS: %s",
		    clean);
		p->neg = NEG_DONE;
		return STEP_NO_TLS;
	case POP3_CONT:
		return bad_response(s, "unexpected response to STLS", line,
		    len, NULL);
	case POP3_BAD:
		break;
	}
	return bad_response(s, "unexpected response to STLS", line, len, why);
}

static enum step
pop3_up_line(struct session *s, const char *line, size_t len)
{
	struct pop3_priv *p = sess_priv(s);

	switch (p->neg) {
	case NEG_GREETING:
		return greeting(s, p, line, len);
	case NEG_CAPA:
	case NEG_CAPA_TLS:
		return capa_status(s, p, line, len);
	case NEG_CAPA_LIST:
	case NEG_CAPA_TLS_LIST:
		return capa_list(s, p, line, len);
	case NEG_STLS:
		return stls_status(s, p, line, len);
	case NEG_TLS:
	case NEG_DONE:
		break;
	}
	return bad_response(s, "unexpected response", line, len, NULL);
}

/* pop3_up_tls_ready - TLS is up and verified.  POP3 has no new greeting
 * after STLS; ask CAPA again inside TLS and keep only that list (RFC 2595
 * 4: the client MUST discard what it learned before, SHOULD ask again). */
static enum step
pop3_up_tls_ready(struct session *s)
{
	return ask_capa(s, sess_priv(s), NEG_CAPA_TLS);
}

/*
 * pop3_down_greet - tlshim's own greeting, never the server's.
 *
 * It has no APOP timestamp (RFC 1939 7), on purpose.  The server's
 * timestamp came before TLS, or in a greeting tlshim does not pass on,
 * and the client's APOP digest would have to be computed over it; nor can
 * tlshim compute APOP for the client, which would need the password.  A
 * greeting without a timestamp tells the client that APOP is not
 * available, so it uses USER/PASS or AUTH (SASL), both relayed inside
 * TLS.
 */
static void
pop3_down_greet(struct session *s)
{
	pop3_relay_start(sess_priv(s));
	sess_printf_down(s, "+OK tlshim ready\r\n");
}

/* pop3_refuse_down - -ERR with the RFC 3206 SYS/TEMP code: a temporary
 * problem of the system, so the client retries later */
static void
pop3_refuse_down(struct session *s, const char *reason)
{
	char clean[300];

	text_clean(clean, sizeof(clean), reason, strlen(reason));
	sess_printf_down(s, "-ERR [SYS/TEMP] tlshim: %s\r\n", clean);
}

static void
pop3_free_priv(struct session *s)
{
	pop3_relay_free(sess_priv(s));
}

/* POP3 carries credentials, so TLS is mandatory by default (RFC 8314
 * 5.2). */
const struct proto proto_pop3 = {
	.name = "pop3",
	.port = 110,
	.implicit_port = 995,
	.default_level = LEV_ENCRYPT,
	.srv_label = "pop3",
	.srv_label_implicit = "pop3s",
	.line_max = POP3_LINE_MAX,
	.priv_size = sizeof(struct pop3_priv),
	.up_begin = pop3_up_begin,
	.up_line = pop3_up_line,
	.up_tls_ready = pop3_up_tls_ready,
	.up_quit = "QUIT\r\n",
	.down_greet = pop3_down_greet,
	.relay_from_down = pop3_relay_from_down,
	.relay_from_up = pop3_relay_from_up,
	.refuse_down = pop3_refuse_down,
	.free_priv = pop3_free_priv
};
