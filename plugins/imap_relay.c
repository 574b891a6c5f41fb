/*
 * imap_relay.c - relay an IMAP conversation, keeping track of it.
 *
 * Both directions are read as lines, with literals streamed by their
 * announced size so that message bodies are never buffered nor mistaken
 * for commands.  tlshim answers a few commands itself: STARTTLS (the
 * upstream leg is decided), COMPRESS (compressed bytes cannot be followed
 * or filtered), and LOGIN and AUTHENTICATE when the upstream leg is not
 * TLS (credentials never cross in cleartext unless cleartext_auth = yes).
 * The server's capability lists are filtered the same way as the
 * greeting.  A local answer is written only between two server lines,
 * never inside a response or a literal.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/imap.h"

void
imap_relay_init(struct imap_priv *p)
{
	lb_init(&p->down.lb, IMAP_LINE_MAX);
	lb_init(&p->up.lb, IMAP_LINE_MAX);
}

void
imap_relay_free(struct imap_priv *p)
{
	lb_clear(&p->down.lb);
	lb_clear(&p->up.lb);
	for (unsigned i = 0; i < p->nlocal; i++)
		free(p->local[i]);
	p->nlocal = 0;
}

/* up_boundary - is the server's stream between two responses? */
static bool
up_boundary(const struct imap_priv *p)
{
	return p->up.literal == 0 && !p->up.in_command &&
	    lb_pending(&p->up.lb) == 0;
}

static void
flush_local(struct session *s, struct imap_priv *p)
{
	for (unsigned i = 0; i < p->nlocal; i++) {
		sess_write_down(s, p->local[i], strlen(p->local[i]));
		free(p->local[i]);
	}
	p->nlocal = 0;
}

/* answer - a tagged answer from tlshim, at the next boundary */
static int
answer(struct session *s, struct imap_priv *p, const char *tag,
    const char *text)
{
	char line[512];

	snprintf(line, sizeof(line), "%s %s\r\n", tag, text);
	if (up_boundary(p) && p->nlocal == 0) {
		sess_write_down(s, line, strlen(line));
		return 0;
	}
	if (p->nlocal == IMAP_LOCAL_MAX ||
	    (p->local[p->nlocal] = strdup(line)) == NULL) {
		sess_set_result(s, RES_NONE, "client sent too many commands "
		    "that tlshim answers itself");
		return -1;
	}
	p->nlocal++;
	return 0;
}

/* first_words - the tag and the command name of a command line */
static void
first_words(const char *line, size_t len, char *tag, size_t taglen,
    const char **cmd, size_t *cmdlen)
{
	const char *sp = memchr(line, ' ', len), *end;
	size_t n = sp != NULL ? (size_t)(sp - line) : 0;

	if (n >= taglen)
		n = 0;
	memcpy(tag, line, n);
	tag[n] = '\0';
	*cmd = "";
	*cmdlen = 0;
	if (sp == NULL)
		return;
	*cmd = sp + 1;
	end = line + len;
	while (end > *cmd && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	for (*cmdlen = 0; *cmd + *cmdlen < end && (*cmd)[*cmdlen] != ' ';
	    (*cmdlen)++)
		;
}

/* sync_literal - "{N}" (not "{N+}"): the client waits for "+" */
static bool
sync_literal(const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	return len >= 2 && line[len - 1] == '}' && line[len - 2] != '+';
}

/*
 * cleartext_gate - on a cleartext leg without cleartext_auth no login can
 * succeed, so the session stays not authenticated, where only CAPABILITY,
 * NOOP, ID and LOGOUT mean anything else.  Relaying only those keeps
 * credentials home even from a client that sends them without waiting
 * (a literal after a refused LOGIN, SASL data after a refused
 * AUTHENTICATE).  A server that pre-authenticated needs no login.
 */
static bool
cleartext_gate(struct session *s, const struct imap_priv *p)
{
	return !sess_up_tls(s) && !sess_conf(s)->cleartext_auth && !p->preauth;
}

/* down_command - the first line of a client command: answer it here, or
 * let it through (returns 1 to relay, 0 when answered, -1 to end) */
static int
down_command(struct session *s, struct imap_priv *p, const char *line,
    size_t len)
{
	char tag[IMAP_TAG_MAX];
	const char *cmd;
	size_t cmdlen;

	first_words(line, len, tag, sizeof(tag), &cmd, &cmdlen);
	if (tag[0] == '\0') {
		if (cleartext_gate(s, p))
			return answer(s, p, "*", "BAD tlshim: not a command, "
			    "and nothing else is relayed in cleartext");
		return 1;	/* not a command: the server will say BAD */
	}
	if (imap_word_is(cmd, cmdlen, "STARTTLS"))
		return answer(s, p, tag, sess_up_tls(s) ?
		    "BAD tlshim: STARTTLS is not needed here, the upstream "
		    "connection is already TLS" :
		    "NO tlshim: STARTTLS is not available on this connection");
	if (imap_word_is(cmd, cmdlen, "COMPRESS"))
		return answer(s, p, tag, "NO tlshim: COMPRESS is not "
		    "available through tlshim");
	if ((imap_word_is(cmd, cmdlen, "LOGIN") ||
	    imap_word_is(cmd, cmdlen, "AUTHENTICATE")) && !sess_up_tls(s) &&
	    !sess_conf(s)->cleartext_auth) {
		outcome_add_reason(sess_outcome(s), "refused LOGIN: the "
		    "upstream connection is not TLS");
		return answer(s, p, tag, "NO [PRIVACYREQUIRED] tlshim: "
		    "encryption required for login, and the upstream "
		    "connection is not TLS");
	}
	if (cleartext_gate(s, p) && !imap_word_is(cmd, cmdlen, "CAPABILITY") &&
	    !imap_word_is(cmd, cmdlen, "NOOP") &&
	    !imap_word_is(cmd, cmdlen, "LOGOUT") &&
	    !imap_word_is(cmd, cmdlen, "ID"))
		return answer(s, p, tag, "NO [PRIVACYREQUIRED] tlshim: only "
		    "CAPABILITY, NOOP, ID and LOGOUT are relayed before login "
		    "on a connection that is not TLS");
	if (imap_word_is(cmd, cmdlen, "AUTHENTICATE"))
		snprintf(p->sasl_tag, sizeof(p->sasl_tag), "%s", tag);
	return 1;
}

/* down_line - one line from the client */
static int
down_line(struct session *s, struct imap_priv *p, const char *line,
    size_t len)
{
	struct imap_side *d = &p->down;
	uint64_t lit = 0;
	int has_lit = imap_literal(line, len, &lit), rc = 1;

	if (has_lit < 0) {
		sess_set_result(s, RES_NONE, "client announced a malformed "
		    "or oversized literal");
		return -1;
	}
	if (!d->in_command) {
		/* SASL responses are credentials: relayed, never read. */
		if (p->sasl_tag[0] != '\0')
			rc = 1;
		else if ((rc = down_command(s, p, line, len)) < 0)
			return -1;
		d->discard = rc == 0;
	}
	if (!d->discard)
		sess_write_up(s, line, len);
	if (has_lit == 0) {
		d->in_command = false;
		d->discard = false;
		return 0;
	}
	d->in_command = true;
	if (sync_literal(line, len)) {
		/* A refused command's literal never comes: the client
		 * waits for a "+" that tlshim does not send. */
		if (d->discard) {
			d->in_command = false;
			d->discard = false;
			return 0;
		}
		p->sync.size = lit;
		first_words(line, len, p->sync.tag, sizeof(p->sync.tag),
		    &(const char *){ NULL }, &(size_t){ 0 });
	} else
		d->literal = lit;
	return 0;
}

/* relay_side - lines and literals of one direction */
static int
relay_side(struct session *s, struct imap_priv *p, struct imap_side *side,
    const char *buf, size_t len,
    int (*on_line)(struct session *, struct imap_priv *, const char *,
    size_t), void (*write)(struct session *, const void *, size_t))
{
	char *line;
	size_t n, linelen;

	while (len > 0) {
		if (side->literal > 0) {
			n = len < side->literal ? len : (size_t)side->literal;
			if (!side->discard)
				write(s, buf, n);
			side->literal -= n;
			buf += n;
			len -= n;
			continue;
		}
		switch (lb_take_line(&side->lb, &buf, &len, &line, &linelen)) {
		case LB_MORE:
			continue;
		case LB_TOOBIG:
			sess_set_result(s, RES_NONE, "%s line longer than %d "
			    "bytes", side == &p->down ? "client" : "server",
			    IMAP_LINE_MAX);
			return -1;
		case LB_LINE:
			if (on_line(s, p, line, linelen) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

static int
imap_relay_from_down_lines(struct session *s, const char *buf, size_t len)
{
	struct imap_priv *p = sess_priv(s);

	return relay_side(s, p, &p->down, buf, len, down_line,
	    sess_write_up);
}

/* caps_line - write a server line whose capability list (untagged
 * CAPABILITY, or a [CAPABILITY ...] code) is filtered like the greeting */
static bool
caps_line(struct session *s, const char *line, size_t len,
    const struct imap_resp *r)
{
	char caps[IMAP_CAPS_MAX], out[IMAP_CAPS_MAX + 512];
	const char *list, *after;
	size_t listlen, n;

	if (r->kind == IMAP_UNTAGGED && r->status == IMAP_ST_NONE &&
	    imap_word_is(r->atom, r->atomlen, "CAPABILITY")) {
		list = r->text;
		listlen = r->textlen;
	} else if (r->code != NULL && r->codelen >= 10 &&
	    imap_word_is(r->code, 10, "CAPABILITY") &&
	    (r->codelen == 10 || r->code[10] == ' ')) {
		list = r->code + (r->codelen > 10 ? 11 : 10);
		listlen = r->codelen > 10 ? r->codelen - 11 : 0;
	} else
		return false;
	imap_caps_filter(list, listlen, imap_caps_flags(s), caps,
	    sizeof(caps));
	after = list + listlen;
	n = (size_t)snprintf(out, sizeof(out), "%.*s%s%.*s",
	    (int)(list - line), line, caps,
	    (int)(line + len - after), after);
	sess_write_down(s, out, n < sizeof(out) ? n : sizeof(out) - 1);
	return true;
}

/* up_line - one line from the server */
static int
up_line(struct session *s, struct imap_priv *p, const char *line,
    size_t len)
{
	struct imap_side *u = &p->up;
	struct imap_resp r;
	uint64_t lit = 0;
	int has_lit = imap_literal(line, len, &lit);
	bool written = false;

	if (has_lit < 0) {
		sess_set_result(s, RES_NONE, "server announced a malformed "
		    "or oversized literal");
		return -1;
	}
	if (!u->in_command) {
		imap_resp_parse(line, len, &r);
		if (r.kind == IMAP_CONTINUE && p->sync.size > 0) {
			/* Now the client sends its literal. */
			p->down.literal = p->sync.size;
			p->sync.size = 0;
		} else if (r.kind == IMAP_TAGGED) {
			if (strcmp(r.tag, p->sasl_tag) == 0)
				p->sasl_tag[0] = '\0';
			if (p->sync.size > 0 && strcmp(r.tag, p->sync.tag) == 0) {
				/* Refused before its literal came. */
				p->sync.size = 0;
				p->down.in_command = false;
			}
		}
		if (has_lit == 0)
			written = caps_line(s, line, len, &r);
	}
	if (!written)
		sess_write_down(s, line, len);
	u->in_command = has_lit != 0;
	u->literal = lit;
	return 0;
}

static int
imap_relay_from_up_lines(struct session *s, const char *buf, size_t len)
{
	struct imap_priv *p = sess_priv(s);
	int rc;

	rc = relay_side(s, p, &p->up, buf, len, up_line, sess_write_down);
	if (rc == 0 && p->nlocal > 0 && up_boundary(p))
		flush_local(s, p);
	return rc;
}

int
imap_relay_from_up(struct session *s, const char *buf, size_t len)
{
	struct imap_priv *p = sess_priv(s);
	int rc = imap_relay_from_up_lines(s, buf, len);

	lb_trim(&p->up.lb);	/* an idle session keeps no buffer */
	return rc;
}

int
imap_relay_from_down(struct session *s, const char *buf, size_t len)
{
	struct imap_priv *p = sess_priv(s);
	int rc = imap_relay_from_down_lines(s, buf, len);

	lb_trim(&p->down.lb);	/* an idle session keeps no buffer */
	return rc;
}
