/*
 * pop3_relay.c - relay a POP3 conversation, keeping track of it.
 *
 * Bytes are relayed exactly, with three exceptions that keep tlshim's
 * promises: the client's STLS is answered here (tlshim never offers it on
 * the loopback side, the upstream leg is already decided); USER, PASS,
 * APOP and AUTH are answered here when the upstream leg is not TLS
 * (credentials never cross in cleartext unless cleartext_auth = yes); and
 * the server's CAPA answer loses STLS (and, in cleartext, USER and SASL)
 * before the client sees it.
 *
 * To do that safely the relay follows the conversation: command lines
 * from the client, SASL responses after AUTH until its final status, and
 * the server's responses in order, so that a local answer is sent only
 * when the responses to commands pipelined before it have been relayed
 * (RFC 2449 6.6).  Multi-line bodies (RETR, TOP, LIST, UIDL) are relayed
 * raw as they come, never buffered, up to their CRLF.CRLF.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugins/pop3.h"

void
pop3_relay_start(struct pop3_priv *p)
{
	lb_init(&p->down_lb, POP3_SASL_MAX);
	lb_init(&p->up_lb, POP3_SASL_MAX);
	p->down = DOWN_CMD;
	p->up = UP_STATUS;
}

void
pop3_relay_free(struct pop3_priv *p)
{
	lb_clear(&p->down_lb);
	lb_clear(&p->up_lb);
	pipe_free(&p->pipe);
}

/* -------------------------------------------------------- responses */

/* capa_keep - should the client see this capability? */
static bool
capa_keep(struct session *s, const char *line, size_t len)
{
	/* tlshim already decided the upstream leg; the loopback leg never
	 * does STLS (RFC 2595 4 also forbids it once TLS is active). */
	if (pop3_capa_keyword(line, len, "STLS"))
		return false;
	/* Do not invite credentials that tlshim would refuse. */
	if (!sess_up_tls(s) && !sess_conf(s)->cleartext_auth &&
	    (pop3_capa_keyword(line, len, "USER") ||
	    pop3_capa_keyword(line, len, "SASL")))
		return false;
	return true;
}

/* proto_error - the server broke POP3 during the relay */
static int
proto_error(struct session *s, const char *why)
{
	sess_set_result(s, RES_NONE, "protocol error from server: %s", why);
	return -1;
}

/* up_line - one line from the server: a status line or a capability */
static int
up_line(struct session *s, struct pop3_priv *p, const char *line, size_t len)
{
	uint8_t front = pipe_front(&p->pipe);
	const char *why;
	enum pop3_st st;

	if (p->up == UP_CAPA) {
		switch (pop3_capa_line(&p->relay_capa, line, len, &why)) {
		case PCP_ERROR:
			return proto_error(s, why);
		case PCP_MORE:
			if (capa_keep(s, line, len))
				sess_write_down(s, line, len);
			return 0;
		case PCP_DONE:
			sess_write_down(s, line, len);
			p->up = UP_STATUS;
			pipe_pop(&p->pipe, s);
			return 0;
		}
	}
	st = pop3_status(line, len, NULL, NULL, &why);
	if (st == POP3_BAD)
		return proto_error(s, why);
	if (st == POP3_CONT && front != CMD_AUTH)
		return proto_error(s, "SASL continuation with no AUTH in "
		    "progress");
	sess_write_down(s, line, len);
	/* A response with no command waiting is the server's own (an -ERR
	 * before it closes on a timeout): relayed as it is. */
	if (front == PIPE_EMPTY)
		return 0;
	if (st == POP3_OK && front == CMD_MULTI) {
		p->up = UP_BODY;
		dotscan_reset(&p->body);
		return 0;
	}
	if (st == POP3_OK && front == CMD_CAPA) {
		p->up = UP_CAPA;
		pop3_capa_reset(&p->relay_capa);
		return 0;
	}
	if (st == POP3_CONT)
		return 0;		/* the SASL exchange goes on */
	/* A final status; -ERR to a multi-line command is one line. */
	if (front == CMD_AUTH && p->down == DOWN_SASL)
		p->down = DOWN_CMD;
	pipe_pop(&p->pipe, s);
	return 0;
}

static int
pop3_relay_from_up_lines(struct session *s, const char *buf, size_t len)
{
	struct pop3_priv *p = sess_priv(s);
	char *line;
	size_t n, linelen;
	bool end;

	while (len > 0) {
		if (p->up == UP_BODY) {
			/* A message goes straight through, never buffered:
			 * dot-stuffing and all, the client undoes it. */
			n = dotscan_feed(&p->body, buf, len, &end);
			sess_write_down(s, buf, n);
			buf += n;
			len -= n;
			if (end) {
				p->up = UP_STATUS;
				pipe_pop(&p->pipe, s);
			}
			continue;
		}
		/* Line mode: buffer at most one line at a time, so that a
		 * status line that starts a body leaves the body's bytes in
		 * buf, to be relayed without a copy. */
		{
			enum lb_res r = lb_take_line(&p->up_lb, &buf, &len,
			    &line, &linelen);

			if (r == LB_MORE)
				continue;
			if (r == LB_TOOBIG) {
				sess_set_result(s, RES_NONE, "server response "
				    "line longer than %d bytes", POP3_SASL_MAX);
				return -1;
			}
			if (up_line(s, p, line, linelen) < 0)
				return -1;
		}
	}
	return 0;
}

/* --------------------------------------------------------- commands */

/* has_arg - does the command (keyword of length k) have an argument? */
static bool
has_arg(const char *line, size_t len, size_t k)
{
	for (size_t i = k; i < len; i++)
		if (line[i] != ' ' && line[i] != '\r' && line[i] != '\n')
			return true;
	return false;
}

/* down_command - one command line from the client */
static int
down_command(struct session *s, struct pop3_priv *p, const char *line,
    size_t len)
{
	enum pop3_cmd kind = CMD_OTHER;

	if (proto_verb_is(line, len, "STLS"))
		return pipe_answer(&p->pipe, s, sess_up_tls(s) ?
		    "-ERR tlshim: STLS is not available on this connection, "
		    "the upstream connection is already TLS\r\n" :
		    "-ERR tlshim: STLS is not available on this "
		    "connection\r\n");
	/* On a cleartext leg no login can succeed, so the session stays in
	 * the AUTHORIZATION state, where only CAPA and QUIT mean anything
	 * else.  Relaying only those keeps credentials home even from a
	 * client that sends them without waiting (a PASS after a refused
	 * USER, SASL data after a refused AUTH, " PASS x"). */
	if (!sess_up_tls(s) && !sess_conf(s)->cleartext_auth &&
	    !proto_verb_is(line, len, "CAPA") &&
	    !proto_verb_is(line, len, "QUIT")) {
		outcome_add_reason(sess_outcome(s), "refused credentials: the "
		    "upstream connection is not TLS");
		return pipe_answer(&p->pipe, s, "-ERR [AUTH] tlshim: "
		    "encryption required for authentication, and the upstream "
		    "connection is not TLS\r\n");
	}
	if (proto_verb_is(line, len, "USER") ||
	    proto_verb_is(line, len, "PASS") ||
	    proto_verb_is(line, len, "APOP") ||
	    proto_verb_is(line, len, "AUTH")) {
		if (!sess_up_tls(s) && !sess_conf(s)->cleartext_auth) {
			/* RFC 2595 2.3, RFC 8314 5.2; the [AUTH] code of RFC
			 * 3206 says the failure is about authentication,
			 * so the client does not retry the same way. */
			outcome_add_reason(sess_outcome(s), "refused "
			    "credentials: the upstream connection is not TLS");
			return pipe_answer(&p->pipe, s, "-ERR [AUTH] tlshim: "
			    "encryption required for authentication, and the "
			    "upstream connection is not TLS\r\n");
		}
		if (proto_verb_is(line, len, "AUTH")) {
			/* AUTH alone lists mechanisms in a multi-line
			 * answer (RFC 1734 servers); with a mechanism it
			 * starts an exchange whose lines are credentials. */
			if (has_arg(line, len, 4)) {
				kind = CMD_AUTH;
				p->down = DOWN_SASL;
			} else
				kind = CMD_MULTI;
		}
	} else if (proto_verb_is(line, len, "CAPA"))
		kind = CMD_CAPA;
	else if (proto_verb_is(line, len, "RETR") ||
	    proto_verb_is(line, len, "TOP"))
		kind = CMD_MULTI;
	else if ((proto_verb_is(line, len, "LIST") ||
	    proto_verb_is(line, len, "UIDL")) && !has_arg(line, len, 4))
		kind = CMD_MULTI;
	if (!pipe_push(&p->pipe, kind)) {
		sess_set_result(s, RES_NONE, "client pipelined more than %d "
		    "commands", PIPE_MAX);
		return -1;
	}
	sess_write_up(s, line, len);
	return 0;
}

/* too_long - a client line over the limit ends the session */
static int
too_long(struct session *s, size_t max)
{
	static const char toolong[] = "-ERR tlshim: line too long\r\n";

	sess_write_down(s, toolong, sizeof(toolong) - 1);
	sess_set_result(s, RES_NONE, "client sent a line longer than %zu bytes",
	    max);
	return -1;
}

static int
pop3_relay_from_down_lines(struct session *s, const char *buf, size_t len)
{
	struct pop3_priv *p = sess_priv(s);
	char *line;
	size_t linelen;

	while (len > 0) {
		/* One line at a time: the line that starts AUTH changes how
		 * the lines after it are read. */
		size_t max = p->down == DOWN_SASL ? POP3_SASL_MAX :
		    POP3_LINE_MAX;
		enum lb_res r = lb_take_line(&p->down_lb, &buf, &len, &line,
		    &linelen);

		if (r == LB_MORE) {
			if (lb_pending(&p->down_lb) > max)
				return too_long(s, max);
			continue;
		}
		if (r == LB_TOOBIG || linelen > max)
			return too_long(s, max);
		if (p->down == DOWN_SASL) {
			/* SASL responses are credentials: relayed, never
			 * interpreted or logged. */
			sess_write_up(s, line, linelen);
			continue;
		}
		if (down_command(s, p, line, linelen) < 0)
			return -1;
	}
	return 0;
}

int
pop3_relay_from_up(struct session *s, const char *buf, size_t len)
{
	struct pop3_priv *p = sess_priv(s);
	int rc = pop3_relay_from_up_lines(s, buf, len);

	lb_trim(&p->up_lb);	/* an idle session keeps no buffer */
	return rc;
}

int
pop3_relay_from_down(struct session *s, const char *buf, size_t len)
{
	struct pop3_priv *p = sess_priv(s);
	int rc = pop3_relay_from_down_lines(s, buf, len);

	lb_trim(&p->down_lb);	/* an idle session keeps no buffer */
	return rc;
}
