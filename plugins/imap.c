/*
 * imap.c - IMAP, outbound: talk the server up to TLS (RFC 3501, 9051
 * section 6.2.1, RFC 2595).
 *
 * tlshim reads the greeting, asks CAPABILITY unless the greeting carried
 * the list (and asks once more when the greeting's list lacks STARTTLS:
 * a greeting's code may be stale), sends STARTTLS under a tag nobody can
 * predict, and accepts only the tagged OK with that tag.  Inside TLS it
 * asks CAPABILITY afresh and greets the legacy client itself with that
 * list.  Nothing the server said before TLS reaches the client.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "plugins/imap.h"
#include "shim/text.h"

/* new_tag - a fresh unpredictable tag: a tag an attacker can guess lets
 * it forge the tagged OK that starts TLS (attack catalogue invariant 5) */
static void
new_tag(struct imap_priv *p)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[10];

	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
		memset(rnd, 0, sizeof(rnd));	/* cannot happen: still unique */
	p->tag[0] = 't';
	for (size_t i = 0; i < sizeof(rnd); i++)
		p->tag[i + 1] = alphabet[rnd[i] % 32];
	p->tag[sizeof(rnd) + 1] = '\0';
}

static void
send_cmd(struct session *s, struct imap_priv *p, const char *cmd)
{
	new_tag(p);
	sess_printf_up(s, "%s %s\r\n", p->tag, cmd);
}

/* keep_caps - remember a capability list (from a response code or an
 * untagged CAPABILITY), replacing any earlier one */
static void
keep_caps(struct imap_priv *p, const char *caps, size_t len)
{
	if (len >= sizeof(p->caps))
		len = sizeof(p->caps) - 1;
	memcpy(p->caps, caps, len);
	p->caps[len] = '\0';
	p->capslen = len;
}

/* code_caps - "[CAPABILITY a b c]": keep "a b c" */
static bool
code_caps(struct imap_priv *p, const struct imap_resp *r)
{
	const char *c = r->code;
	size_t n = r->codelen;

	if (c == NULL || n < 10 || !imap_word_is(c, 10, "CAPABILITY") ||
	    (n > 10 && c[10] != ' '))
		return false;
	keep_caps(p, c + (n > 10 ? 11 : 10), n > 10 ? n - 11 : 0);
	return true;
}

static enum step
fail(struct session *s, enum result r, const char *why,
    const char *line, size_t len)
{
	char clean[120];

	text_clean(clean, sizeof(clean), line, len);
	sess_set_result(s, r, "%s: %s", why, clean);
	return STEP_FAIL;
}

static enum step
imap_up_begin(struct session *s)
{
	struct imap_priv *p = sess_priv(s);

	p->neg = IN_GREETING;
	p->capslen = 0;
	p->caps[0] = '\0';
	return STEP_MORE;
}

/* decide - the capability list is known: what next? */
static enum step
decide(struct session *s, struct imap_priv *p)
{
	struct outcome *o = sess_outcome(s);

	if (p->neg == IN_CAPABILITY_TLS || sess_up_tls(s)) {
		p->neg = IN_DONE;
		return STEP_READY;
	}
	if (p->preauth) {
		/* STARTTLS exists only before authentication: a server
		 * that pre-authenticates in the clear cannot be upgraded
		 * (catalogue IC-01). */
		outcome_add_reason(o, "server sent PREAUTH in plaintext, so "
		    "the session cannot be upgraded to TLS");
		p->neg = IN_DONE;
		return STEP_NO_TLS;
	}
	o->starttls_offered = imap_cap_has(p->caps, p->capslen, "STARTTLS");
	if (!sess_tls_wanted(s)) {
		p->neg = IN_DONE;
		return STEP_NO_TLS;
	}
	if (o->starttls_offered) {
		p->neg = IN_STARTTLS;
		send_cmd(s, p, "STARTTLS");
		return STEP_MORE;
	}
	outcome_add_reason(o, "STARTTLS not offered by server");
	p->neg = IN_DONE;
	return STEP_NO_TLS;
}

static enum step
greeting(struct session *s, struct imap_priv *p, const struct imap_resp *r,
    const char *line, size_t len)
{
	if (r->kind != IMAP_UNTAGGED)
		return fail(s, RES_FAILED, "protocol error from server: not "
		    "a greeting", line, len);
	switch (r->status) {
	case IMAP_ST_BYE:
		return fail(s, RES_FAILED, "server refused the session", line,
		    len);
	case IMAP_ST_PREAUTH:
		p->preauth = true;
		/* FALLTHROUGH */
	case IMAP_ST_OK:
		/* The greeting's list is enough, unless it lacks STARTTLS
		 * where TLS is still to be had: then ask (catalogue IC-02). */
		if (code_caps(p, r) && (sess_up_tls(s) || p->preauth ||
		    !sess_tls_wanted(s) ||
		    imap_cap_has(p->caps, p->capslen, "STARTTLS")))
			return decide(s, p);
		p->neg = IN_CAPABILITY;
		send_cmd(s, p, "CAPABILITY");
		return STEP_MORE;
	default:
		return fail(s, RES_FAILED, "protocol error from server: not "
		    "a greeting", line, len);
	}
}

/* our_reply - a line while one of our commands is in flight */
static enum step
our_reply(struct session *s, struct imap_priv *p, const struct imap_resp *r,
    const char *line, size_t len)
{
	switch (r->kind) {
	case IMAP_UNTAGGED:
		if (r->status == IMAP_ST_BYE)
			return fail(s, RES_FAILED, "server closed the session",
			    line, len);
		if (imap_word_is(r->atom, r->atomlen, "CAPABILITY"))
			keep_caps(p, r->text, r->textlen);
		else
			(void)code_caps(p, r);
		/* Other untagged data is the server's business, never the
		 * client's: before TLS it is dropped (catalogue IC-09). */
		return STEP_MORE;
	case IMAP_CONTINUE:
		return fail(s, RES_FAILED, "protocol error from server: "
		    "continuation request where none belongs", line, len);
	case IMAP_BAD_LINE:
		return fail(s, RES_FAILED, "protocol error from server",
		    line, len);
	case IMAP_TAGGED:
		break;
	}
	if (strcmp(r->tag, p->tag) != 0)
		return fail(s, RES_FAILED, "protocol error from server: "
		    "response with a tag tlshim did not send", line, len);
	if (p->neg == IN_STARTTLS) {
		if (r->status == IMAP_ST_OK) {
			p->neg = IN_TLS;
			return STEP_STARTTLS;
		}
		if (r->status == IMAP_ST_NO || r->status == IMAP_ST_BAD) {
			/* Only the reason is recorded: the level decides
			 * between refusal and plaintext. */
			(void)fail(s, RES_NONE, "server refused STARTTLS", line,
			    len);
			p->neg = IN_DONE;
			return STEP_NO_TLS;
		}
		return fail(s, RES_FAILED, "protocol error from server: "
		    "unexpected answer to STARTTLS", line, len);
	}
	if (r->status != IMAP_ST_OK)
		return fail(s, RES_FAILED, "server refused CAPABILITY", line,
		    len);
	(void)code_caps(p, r);
	return decide(s, p);
}

static enum step
imap_up_line(struct session *s, const char *line, size_t len)
{
	struct imap_priv *p = sess_priv(s);
	struct imap_resp r;
	uint64_t lit;

	if (len < 2 || line[len - 2] != '\r')
		return fail(s, RES_FAILED, "protocol error from server: line "
		    "not terminated by CRLF", line, len);
	/* Greetings and capability lists carry no literals; one here is
	 * data nobody asked for, and it would never be relayed anyway. */
	if (imap_literal(line, len, &lit) != 0)
		return fail(s, RES_FAILED, "protocol error from server: "
		    "literal during negotiation", line, len);
	imap_resp_parse(line, len, &r);
	if (p->neg == IN_GREETING)
		return greeting(s, p, &r, line, len);
	return our_reply(s, p, &r, line, len);
}

/* imap_up_tls_ready - inside TLS, forget what was said before and ask
 * again (RFC 9051 6.2.1; catalogue IC-14) */
static enum step
imap_up_tls_ready(struct session *s)
{
	struct imap_priv *p = sess_priv(s);

	p->capslen = 0;
	p->caps[0] = '\0';
	p->neg = IN_CAPABILITY_TLS;
	send_cmd(s, p, "CAPABILITY");
	return STEP_MORE;
}

unsigned
imap_caps_flags(struct session *s)
{
	if (sess_up_tls(s))
		return CAPF_TLS;
	return sess_conf(s)->cleartext_auth ? 0 : CAPF_NOAUTH;
}

static void
imap_down_greet(struct session *s)
{
	struct imap_priv *p = sess_priv(s);
	char caps[IMAP_CAPS_MAX];

	imap_relay_init(p);
	imap_caps_filter(p->caps, p->capslen, imap_caps_flags(s), caps,
	    sizeof(caps));
	if (p->preauth)
		sess_printf_down(s, "* PREAUTH [CAPABILITY %s] tlshim: "
		    "preauthenticated by the server, relayed in plaintext\r\n",
		    caps);
	else
		sess_printf_down(s, "* OK [CAPABILITY %s] tlshim ready\r\n",
		    caps);
}

/* imap_refuse_down - RFC 5530 UNAVAILABLE: a temporary failure the client
 * can show and retry */
static void
imap_refuse_down(struct session *s, const char *reason)
{
	char clean[300];

	text_clean(clean, sizeof(clean), reason, strlen(reason));
	sess_printf_down(s, "* BYE [UNAVAILABLE] tlshim: %s\r\n", clean);
}

static void
imap_free_priv(struct session *s)
{
	imap_relay_free(sess_priv(s));
}

/* Credentials flow, so TLS is mandatory by default (RFC 8314 5.2). */
const struct proto proto_imap = {
	.name = "imap",
	.port = 143,
	.implicit_port = 993,
	.default_level = LEV_ENCRYPT,
	.srv_label = "imap",
	.srv_label_implicit = "imaps",
	.line_max = IMAP_NEG_LINE_MAX,
	.priv_size = sizeof(struct imap_priv),
	.up_begin = imap_up_begin,
	.up_line = imap_up_line,
	.up_tls_ready = imap_up_tls_ready,
	.up_quit = NULL,	/* a LOGOUT needs a tag and a reply: just close */
	.down_greet = imap_down_greet,
	.relay_from_down = imap_relay_from_down,
	.relay_from_up = imap_relay_from_up,
	.refuse_down = imap_refuse_down,
	.free_priv = imap_free_priv,
};
