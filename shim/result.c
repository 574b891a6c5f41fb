/*
 * result.c - names of results and auth levels, and the session summary.
 *
 * The summary is one key=value line in the spirit of Postfix's TLS log
 * lines; its keys are the posture field names of DESIGN.md.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/result.h"
#include "shim/text.h"

static const char *const result_names[RES_LAST] = {
	"none", "tls", "plaintext", "refused", "failed", "attack"
};
static const char *const auth_names[AUTH_LAST] = {
	"none", "untrusted", "pkix", "dane-ee", "dane-ta"
};

const char *
result_name(enum result r)
{
	return (unsigned)r < RES_LAST ? result_names[r] : "unknown";
}

static const char *const cause_names[CAUSE_LAST] = {
	"", "no-tls", "handshake", "certificate", "dane-mismatch",
	"dane-required", "dns", "connect", "timeout", "protocol", "injection",
	"pinned", "limit", "local", "not-redirected", "no-name"
};

const char *
auth_name(enum auth a)
{
	return (unsigned)a < AUTH_LAST ? auth_names[a] : "unknown";
}

const char *
cause_name(enum cause c)
{
	return (unsigned)c < CAUSE_LAST ? cause_names[c] : "unknown";
}

void
outcome_set_cause(struct outcome *o, enum cause c)
{
	if (o->cause == CAUSE_NONE)
		o->cause = c;
}

/* outcome_add_tlsa - one more record in the policy text.  The records
 * are separated as in tlsa (", "), so that a reader splits both alike;
 * the hex is lower case, as dane_format() writes it. */
bool
outcome_add_tlsa(struct outcome *o, unsigned usage, unsigned selector,
    unsigned mtype, const uint8_t *data, size_t len)
{
	size_t	 have = o->policy_tlsa != NULL ? strlen(o->policy_tlsa) : 0;
	size_t	 need;
	char	*p;
	int	 n;

	/* ", " + three numbers of at most 3 digits and their spaces + the
	 * hex + NUL; len is a DNS RDATA length, far from overflowing. */
	need = have + 2 + 12 + 2 * len + 1;
	if ((p = realloc(o->policy_tlsa, need)) == NULL)
		return false;
	o->policy_tlsa = p;
	p += have;
	n = snprintf(p, need - have, "%s%u %u %u%s", have > 0 ? ", " : "",
	    usage & 0xff, selector & 0xff, mtype & 0xff, len > 0 ? " " : "");
	(void)text_hex(p + n, need - have - (size_t)n, data, len);
	return true;
}

/* outcome_clear_tlsa - a target left behind, or its records replaced */
void
outcome_clear_tlsa(struct outcome *o)
{
	o->tlsa[0] = '\0';
	free(o->policy_tlsa);
	o->policy_tlsa = NULL;
}

/* outcome_set_helo - RFC 5321 4.3.1: a greeting is "220 " Domain or
 * address literal, then optional text.  What does not look like a name
 * is left out rather than reported cut short or with control bytes. */
bool
outcome_set_helo(struct outcome *o, const char *text, size_t len)
{
	size_t	 n = 0;

	free(o->helo);
	o->helo = NULL;
	if (text == NULL)
		return true;
	while (n < len && text[n] != ' ')
		n++;
	if (n == 0 || n > 255)
		return true;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)text[i] <= ' ' ||
		    (unsigned char)text[i] >= 0x7f)
			return true;
	return (o->helo = strndup(text, n)) != NULL;
}

/* outcome_release - free what the record owns; NULL after, so twice is
 * harmless */
void
outcome_release(struct outcome *o)
{
	free(o->policy_tlsa);
	o->policy_tlsa = NULL;
	free(o->helo);
	o->helo = NULL;
}

/* outcome_add_reason - add to the reason, in words.  Every cause is kept,
 * in the order it happened ("STARTTLS not offered by server; security =
 * encrypt requires TLS"), so that nothing done on the user's behalf is
 * hidden; a cause already recorded is not repeated. */
void
outcome_add_reason(struct outcome *o, const char *fmt, ...)
{
	char add[sizeof(o->reason)];
	size_t have = strlen(o->reason);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(add, sizeof(add), fmt, ap);
	va_end(ap);
	if (add[0] == '\0' || strstr(o->reason, add) != NULL)
		return;
	if (have == 0)
		snprintf(o->reason, sizeof(o->reason), "%s", add);
	else if (have + 2 < sizeof(o->reason))
		snprintf(o->reason + have, sizeof(o->reason) - have, "; %s", add);
}

/* put_value - append one value, quoted when it needs to be, so that the
 * line splits back into the same keys and values */
static void
put_value(char *buf, size_t len, size_t *n, const char *v)
{
	bool quote = v[0] == '\0' ? false : strpbrk(v, " \t\"=\\") != NULL;
	size_t i = *n;

	if (i >= len)
		return;
	if (quote && i + 1 < len)
		buf[i++] = '"';
	for (; *v != '\0' && i + 2 < len; v++) {
		unsigned char c = (unsigned char)*v;
		if (c == '"' || c == '\\') {
			buf[i++] = '\\';
			buf[i++] = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			buf[i++] = '?';	/* never let peer text break the line */
		else
			buf[i++] = (char)c;
	}
	if (quote && i + 1 < len)
		buf[i++] = '"';
	buf[i < len ? i : len - 1] = '\0';
	*n = i < len ? i : len - 1;
}

static void
put_kv(char *buf, size_t len, size_t *n, const char *k, const char *v)
{
	int w;

	if (*n >= len)
		return;
	w = snprintf(buf + *n, len - *n, "%s%s=", *n > 0 ? " " : "", k);
	if (w < 0 || (size_t)w >= len - *n) {
		*n = len - 1;
		return;
	}
	*n += (size_t)w;
	put_value(buf, len, n, v);
}

static void
put_num(char *buf, size_t len, size_t *n, const char *k,
    unsigned long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", v);
	put_kv(buf, len, n, k, num);
}

/* outcome_format - the session summary line; returns its length */
size_t
outcome_format(const struct outcome *o, char *buf, size_t len)
{
	char id[24];
	size_t n = 0;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)o->session);
	put_kv(buf, len, &n, "session", id);
	put_kv(buf, len, &n, "service", o->service);
	put_kv(buf, len, &n, "direction", o->direction);
	put_kv(buf, len, &n, "protocol", o->protocol);
	put_kv(buf, len, &n, "peer", o->peer);
	if (o->domain[0] != '\0')
		put_kv(buf, len, &n, "domain", o->domain);
	put_kv(buf, len, &n, "addr", o->addr);
	put_num(buf, len, &n, "port", o->port);
	if (o->helo != NULL)
		put_kv(buf, len, &n, "helo", o->helo);
	put_kv(buf, len, &n, "client", o->client);
	put_kv(buf, len, &n, "result", result_name(o->result));
	put_kv(buf, len, &n, "starttls_offered",
	    o->starttls_offered ? "yes" : "no");
	put_kv(buf, len, &n, "tls_version", o->tls_version);
	put_kv(buf, len, &n, "cipher", o->cipher);
	put_kv(buf, len, &n, "group", o->group);
	put_kv(buf, len, &n, "auth", auth_name(o->auth));
	put_kv(buf, len, &n, "dnssec", o->dnssec);
	put_kv(buf, len, &n, "name_source", o->name_source);
	put_kv(buf, len, &n, "cert_sha256", o->cert_sha256);
	put_kv(buf, len, &n, "spki_sha256", o->spki_sha256);
	put_kv(buf, len, &n, "tlsa", o->tlsa);
	put_kv(buf, len, &n, "resumed", o->resumed ? "yes" : "no");
	put_num(buf, len, &n, "bytes_in", o->bytes_in);
	put_num(buf, len, &n, "bytes_out", o->bytes_out);
	put_num(buf, len, &n, "duration_ms", o->duration_ms);
	put_kv(buf, len, &n, "cause", cause_name(o->cause));
	put_kv(buf, len, &n, "reason", o->reason);
	return n;
}
