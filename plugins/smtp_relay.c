/*
 * smtp_relay.c - relay an SMTP conversation, keeping track of it.
 *
 * Bytes are relayed exactly, with three exceptions that keep tlshim's
 * promises: the client's STARTTLS is answered here (tlshim never offers it
 * on the loopback side, the upstream leg is already decided); AUTH is
 * answered here when the upstream leg is not TLS (credentials never cross
 * in cleartext unless cleartext_auth = yes); and the server's EHLO reply
 * loses STARTTLS (and, in cleartext, AUTH) before the client sees it.
 *
 * To do that safely the relay follows the conversation: command lines from
 * the client, message content up to CRLF.CRLF after DATA's 354, BDAT
 * chunks by their size, SASL responses after AUTH's 334, and the server's
 * replies in order, so that a local answer is sent only when the replies
 * to commands pipelined before it have been relayed (RFC 2920).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugins/smtp.h"

void
smtp_relay_free(struct smtp_priv *p)
{
	lb_clear(&p->down_lb);
	lb_clear(&p->up_lb);
	free(p->ehlo);
	p->ehlo = NULL;
	pipe_free(&p->pipe);
}

/* ---------------------------------------------------------- replies */

/* ehlo_keep - should the client see this EHLO extension? */
static bool
ehlo_keep(struct session *s, const char *text, size_t len)
{
	/* tlshim already decided the upstream leg; the loopback leg never
	 * does STARTTLS (RFC 3207 4.2 also forbids it after TLS). */
	if (smtp_ehlo_keyword(text, len, "STARTTLS"))
		return false;
	/* Do not invite credentials that tlshim would refuse. */
	if (smtp_ehlo_keyword(text, len, "AUTH") && !sess_up_tls(s) &&
	    !sess_conf(s)->cleartext_auth)
		return false;
	return true;
}

/* ehlo_line - hold one line of an EHLO reply, dropping what the client
 * must not see; at the end write the whole reply with its last kept line
 * marked final */
static int
ehlo_line(struct session *s, struct smtp_priv *p, const char *line,
    size_t len, const char *text, size_t textlen, bool last)
{
	/* The first line is the server's name, never an extension. */
	bool keep = p->up_reply.nlines == 1 || ehlo_keep(s, text, textlen);

	if (keep) {
		char *n = realloc(p->ehlo, p->ehlo_len + len);
		if (n == NULL) {
			sess_set_result(s, RES_NONE, "out of memory");
			return -1;
		}
		p->ehlo = n;
		memcpy(p->ehlo + p->ehlo_len, line, len);
		p->ehlo_len += len;
	}
	if (!last)
		return 0;
	/* Make the last kept line the final one; lines start with the
	 * code, so find the last line's start after the previous LF. */
	if (p->ehlo_len >= 5) {
		size_t i = p->ehlo_len - 1;	/* at the final LF */
		while (i > 0 && p->ehlo[i - 1] != '\n')
			i--;
		if (p->ehlo_len - i > 5 && p->ehlo[i + 3] == '-')
			p->ehlo[i + 3] = ' ';
	}
	sess_write_down(s, p->ehlo, p->ehlo_len);
	free(p->ehlo);
	p->ehlo = NULL;
	p->ehlo_len = 0;
	return 0;
}

/* up_reply_line - one line of a server reply during the relay */
static int
up_reply_line(struct session *s, struct smtp_priv *p, const char *line,
    size_t len)
{
	const char *text, *why;
	size_t textlen;
	enum smtp_rp rp;
	uint8_t front;

	rp = smtp_reply_line(&p->up_reply, line, len, &text, &textlen, &why);
	if (rp == SRP_ERROR) {
		sess_set_result(s, RES_NONE, "protocol error from server: %s",
		    why);
		return -1;
	}
	/* A reply with no command waiting is the server's own (a 421
	 * before it closes): relay it as it is. */
	front = pipe_front(&p->pipe);
	if (front == CMD_EHLO && p->up_reply.code == 250) {
		if (ehlo_line(s, p, line, len, text, textlen,
		    rp == SRP_DONE) < 0)
			return -1;
	} else
		sess_write_down(s, line, len);
	if (rp != SRP_DONE)
		return 0;

	switch (front) {
	case CMD_DATA:
		/* Content started optimistically after DATA; a refusal
		 * means none should have come, so go back to commands. */
		if (p->up_reply.code != 354 && p->down == DOWN_DATA &&
		    !p->data_seen)
			p->down = DOWN_CMD;
		break;
	case CMD_AUTH:
		if (p->up_reply.code == 334)
			return 0;	/* the exchange goes on */
		if (p->down == DOWN_SASL)
			p->down = DOWN_CMD;
		break;
	default:
		break;
	}
	pipe_pop(&p->pipe, s);
	return 0;
}

static int
smtp_relay_from_up_lines(struct session *s, const char *buf, size_t len)
{
	struct smtp_priv *p = sess_priv(s);
	char *line;
	size_t n, linelen;

	while (len > 0) {
		n = lb_append(&p->up_lb, buf, len);
		buf += n;
		len -= n;
		for (;;) {
			enum lb_res r = lb_next(&p->up_lb, &line, &linelen);
			if (r == LB_MORE)
				break;
			if (r == LB_TOOBIG) {
				sess_set_result(s, RES_NONE, "server reply line "
				    "longer than %d bytes", SMTP_LINE_MAX);
				return -1;
			}
			if (up_reply_line(s, p, line, linelen) < 0)
				return -1;
		}
	}
	return 0;
}

/* --------------------------------------------------------- commands */

/* parse_bdat - "BDAT <size> [LAST]" (RFC 3030); false if malformed */
static bool
parse_bdat(const char *line, size_t len, uint64_t *size)
{
	size_t i = 4;
	uint64_t v = 0;

	if (i >= len || line[i] != ' ')
		return false;
	i++;
	if (i >= len || line[i] < '0' || line[i] > '9')
		return false;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	*size = v;
	return true;
}

/* known_verb - a command of RFC 5321 or a common extension: anything
 * else from the client may be credentials sent without waiting (SASL
 * data after a refused AUTH) */
static bool
known_verb(const char *line, size_t len)
{
	static const char *const verbs[] = { "EHLO", "HELO", "MAIL", "RCPT",
	    "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP",
	    "ETRN", "XCLIENT", "XFORWARD", NULL };

	for (size_t i = 0; verbs[i] != NULL; i++)
		if (proto_verb_is(line, len, verbs[i]))
			return true;
	return false;
}

/* down_command - one command line from the client */
static int
down_command(struct session *s, struct smtp_priv *p, const char *line,
    size_t len)
{
	enum smtp_cmd kind = CMD_OTHER;

	if (proto_verb_is(line, len, "STARTTLS"))
		return pipe_answer(&p->pipe, s, sess_up_tls(s) ?
		    "502 5.5.1 tlshim: STARTTLS is not needed here, the "
		    "upstream connection is already TLS\r\n" :
		    "502 5.5.1 tlshim: STARTTLS is not available on this "
		    "connection\r\n");
	if (proto_verb_is(line, len, "AUTH")) {
		if (!sess_up_tls(s) && !sess_conf(s)->cleartext_auth) {
			outcome_add_reason(sess_outcome(s), "refused AUTH: "
			    "the upstream connection is not TLS");
			return pipe_answer(&p->pipe, s, "538 5.7.11 tlshim: "
			    "encryption required for authentication, and the "
			    "upstream connection is not TLS\r\n");
		}
		kind = CMD_AUTH;
		p->down = DOWN_SASL;
	} else if (!sess_up_tls(s) && !sess_conf(s)->cleartext_auth &&
	    !known_verb(line, len)) {
		/* A client that sends SASL data after a refused AUTH,
		 * without waiting for 334, would otherwise put its
		 * credentials on the wire; the server would only answer
		 * 500 anyway. */
		return pipe_answer(&p->pipe, s, "500 5.5.1 tlshim: "
		    "unrecognized command, not relayed on a connection that "
		    "is not TLS\r\n");
	} else if (proto_verb_is(line, len, "EHLO"))
		kind = CMD_EHLO;
	else if (proto_verb_is(line, len, "DATA")) {
		kind = CMD_DATA;
		p->down = DOWN_DATA;
		dotscan_reset(&p->data);
		p->data_seen = false;
	} else if (proto_verb_is(line, len, "BDAT")) {
		uint64_t size;
		if (parse_bdat(line, len, &size) && size > 0) {
			p->down = DOWN_BDAT;
			p->bdat_left = size;
		}
	}
	if (!pipe_push(&p->pipe, kind)) {
		sess_set_result(s, RES_NONE, "client pipelined more than %d "
		    "commands", PIPE_MAX);
		return -1;
	}
	sess_write_up(s, line, len);
	return 0;
}

static int
smtp_relay_from_down_lines(struct session *s, const char *buf, size_t len)
{
	struct smtp_priv *p = sess_priv(s);
	char *line;
	size_t n, linelen;
	bool end;

	while (len > 0) {
		switch (p->down) {
		case DOWN_DATA:
			/* Content goes straight through, never buffered. */
			n = dotscan_feed(&p->data, buf, len, &end);
			p->data_seen = true;
			sess_write_up(s, buf, n);
			buf += n;
			len -= n;
			if (end) {
				/* The end of content is answered like a
				 * command: its reply takes its turn. */
				p->down = DOWN_CMD;
				if (!pipe_push(&p->pipe, CMD_OTHER)) {
					sess_set_result(s, RES_NONE, "client "
					    "pipelined more than %d commands",
					    PIPE_MAX);
					return -1;
				}
			}
			continue;
		case DOWN_BDAT:
			n = len < p->bdat_left ? len : (size_t)p->bdat_left;
			sess_write_up(s, buf, n);
			buf += n;
			len -= n;
			if ((p->bdat_left -= n) == 0)
				p->down = DOWN_CMD;
			continue;
		case DOWN_CMD:
		case DOWN_SASL:
			break;
		}
		/* Line mode: buffer at most one line at a time, so that a
		 * command switching to content mode leaves the bytes after
		 * it in buf, to be relayed as content without a copy. */
		{
			enum lb_res r = lb_take_line(&p->down_lb, &buf, &len,
			    &line, &linelen);

			if (r == LB_MORE)
				continue;
			if (r == LB_TOOBIG) {
				static const char toolong[] =
				    "500 5.5.2 tlshim: line too long\r\n";
				sess_write_down(s, toolong, sizeof(toolong) - 1);
				sess_set_result(s, RES_NONE, "client sent a line "
				    "longer than %d bytes", SMTP_CMD_MAX);
				return -1;
			}
			if (p->down == DOWN_SASL) {
				/* SASL responses are credentials: relayed,
				 * never interpreted or logged. */
				sess_write_up(s, line, linelen);
				continue;
			}
			if (down_command(s, p, line, linelen) < 0)
				return -1;
		}
	}
	return 0;
}

int
smtp_relay_from_up(struct session *s, const char *buf, size_t len)
{
	struct smtp_priv *p = sess_priv(s);
	int rc = smtp_relay_from_up_lines(s, buf, len);

	lb_trim(&p->up_lb);	/* an idle session keeps no buffer */
	return rc;
}

int
smtp_relay_from_down(struct session *s, const char *buf, size_t len)
{
	struct smtp_priv *p = sess_priv(s);
	int rc = smtp_relay_from_down_lines(s, buf, len);

	lb_trim(&p->down_lb);	/* an idle session keeps no buffer */
	return rc;
}
