/*
 * conf_parse.c - read INI text into a struct conf, checking every key.
 *
 * libinih splits the text, but Debian's build (inih 55) gives the handler
 * no line number, silently cuts lines longer than 199 bytes in two, takes
 * an indented line for the continuation of the previous value, and does
 * not tell the handler about section headers.  So inih reads through our
 * own reader, one line per call, which counts lines, refuses long lines
 * and control characters, strips leading blanks (so an indented key is
 * just a key), refuses what inih would call a syntax error (so the first
 * error is always ours, with our words), and opens sections itself.  The
 * handler then only sees "key = value" in the current section and applies
 * the section's typed key table.
 *
 * The parser stops at the first error: the reader returns end-of-file as
 * soon as one is recorded.  Everything allocated hangs off the struct conf
 * being built, so a failed parse is undone by one conf_unref().
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "plugins/proto.h"
#include "shim/conf.h"
#include "shim/conf_int.h"

#define LINE_MAX_BYTES	199		/* inih's 200-byte buffer, less NUL */
#define SVC_NAME_MAX	63		/* service (section) names */

/* conf_perr - record the first error; false, for the caller to return */
bool
conf_perr(struct conf_parser *p, int line, const char *fmt, ...)
{
	char	 msg[CONF_ERR_MAX];
	va_list	 ap;

	if (p->failed)
		return false;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_set_error(p->err, p->name, line, msg);
	return false;
}

/* conf_cur_svc - the service whose section is being read */
struct conf_service *
conf_cur_svc(struct conf_parser *p)
{
	return &p->conf->services[p->conf->nservices - 1];
}

/* sec_name - the current section's name, for messages */
static const char *
sec_name(struct conf_parser *p)
{
	return p->sec == SEC_SERVICE ? conf_cur_svc(p)->name : "global";
}

/* ---------------------------------------------------------------- sections */

/* section_close - check the finished service section; fill its defaults */
static bool
section_close(struct conf_parser *p)
{
	struct conf_service	*s;
	static const char	*const req[] = { "protocol", "listen",
				    "upstream" };
	bool			 have[3];

	if (p->sec != SEC_SERVICE)
		return true;
	s = conf_cur_svc(p);
	have[0] = s->proto != NULL;
	have[1] = s->nlisten > 0;
	have[2] = s->upstream_host != NULL;
	for (size_t i = 0; i < 3; i++)
		if (!have[i])
			return conf_perr(p, s->line, "[%s]: '%s' is required",
			    s->name, req[i]);
	if (s->level == LEV_LAST)
		s->level = s->proto->default_level;
	if (s->tls == TLSM_IMPLICIT && s->level == LEV_NONE)
		return conf_perr(p, s->line, "[%s]: security = none "
		    "contradicts tls = implicit", s->name);
	if (!conf_check_transparent(p, s))
		return false;
	if (s->upstream_kind == UPK_MX && !s->proto->mx_routing)
		return conf_perr(p, s->line, "[%s]: upstream = mx:%s is for "
		    "protocol smtp (relaying to a mail domain); %s servers "
		    "are found with srv:DOMAIN or host:port", s->name,
		    s->upstream_host, s->proto->name);
	/* Bare srv routes by the domain each client names: only a
	 * client-first protocol names one. */
	if (s->upstream_kind == UPK_SRV && s->upstream_host[0] == '\0' &&
	    s->proto->down_open == NULL)
		return conf_perr(p, s->line, "[%s]: upstream = srv routes by "
		    "the domain the client names, which a %s client does not "
		    "(use srv:DOMAIN or host:port)", s->name, s->proto->name);
	if (s->upstream_kind == UPK_SRV && s->proto->srv_label == NULL)
		return conf_perr(p, s->line, "[%s]: upstream = srv:%s: protocol "
		    "%s has no SRV records (use mx:DOMAIN or host:port)",
		    s->name, s->upstream_host, s->proto->name);
	/* tls = auto: each SRV target's own mode (XEP-0368), which needs
	 * SRV routing and a protocol with a direct-TLS label. */
	if (s->tls == TLSM_AUTO && (s->upstream_kind != UPK_SRV ||
	    !s->proto->srv_fallback || s->proto->srv_label_implicit == NULL))
		return conf_perr(p, s->line, "[%s]: tls = auto takes direct TLS "
		    "where SRV records say so: it needs upstream = srv or "
		    "srv:DOMAIN, and a protocol with direct-TLS SRV records "
		    "(xmpp-client, xmpp-server)", s->name);
	/* TLSA records are found by name: an address has none (RFC 7672
	 * 2.2.2), so DANE could never apply. */
	if ((s->level == LEV_DANE || s->level == LEV_DANE_ONLY) &&
	    s->upstream_is_ip)
		return conf_perr(p, s->line, "[%s]: security = %s needs the "
		    "upstream as a host name: TLSA records are looked up by "
		    "name, never for an address", s->name,
		    level_name(s->level));
	if (s->upstream_port == 0) {
		s->upstream_port = s->tls == TLSM_IMPLICIT ?
		    s->proto->implicit_port : s->proto->port;
		if (s->upstream_port == 0)
			return conf_perr(p, s->line, "[%s]: protocol %s has no "
			    "default port for tls = %s: give upstream as "
			    "host:port", s->name, s->proto->name,
			    tls_mode_name(s->tls));
	}
	return true;
}

/* svc_name_ok - [A-Za-z0-9_.-]{1,63} */
static bool
svc_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > SVC_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

/* svc_add - a new, empty service named name (n bytes) */
static bool
svc_add(struct conf_parser *p, const char *name, size_t n)
{
	struct conf		*c = p->conf;
	struct conf_service	*sv, *s;
	struct svc_lines	*lv;

	sv = realloc(c->services, (c->nservices + 1) * sizeof(*sv));
	if (sv == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	c->services = sv;
	lv = realloc(p->lines, (c->nservices + 1) * sizeof(*lv));
	if (lv == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	p->lines = lv;
	s = &sv[c->nservices];
	memset(s, 0, sizeof(*s));
	memset(&lv[c->nservices], 0, sizeof(*lv));
	/* Counted before strndup() so that conf_unref() frees s either way. */
	c->nservices++;
	if ((s->name = strndup(name, n)) == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	s->line = p->lineno;
	s->direction = DIR_OUTBOUND;
	s->tls = TLSM_STARTTLS;
	s->level = LEV_LAST;		/* the protocol's, in section_close() */
	return true;
}

/* section_open - "[name]": close the previous section, start this one */
static bool
section_open(struct conf_parser *p, const char *line)
{
	const char	*close = strchr(line, ']'), *name, *end, *rest;
	size_t		 n;

	if (close == NULL)
		return conf_perr(p, p->lineno, "unterminated section header: "
		    "missing ']'");
	rest = close + 1 + strspn(close + 1, " \t");
	if (*rest != '\0' && *rest != ';' && *rest != '#')
		return conf_perr(p, p->lineno, "unexpected text after ']'");
	name = line + 1 + strspn(line + 1, " \t");
	for (end = close; end > name && (end[-1] == ' ' || end[-1] == '\t');)
		end--;
	n = (size_t)(end - name);
	if (!section_close(p))
		return false;
	memset(p->set_line, 0, sizeof(p->set_line));
	if (n == 6 && strncasecmp(name, "global", 6) == 0) {
		if (p->global_line != 0)
			return conf_perr(p, p->lineno, "section [global] "
			    "already defined on line %d", p->global_line);
		p->global_line = p->lineno;
		p->sec = SEC_GLOBAL;
		p->keys = conf_global_keys;
		return true;
	}
	if (!svc_name_ok(name, n))
		return conf_perr(p, p->lineno, "invalid section name '%.*s': "
		    "use letters, digits, '_', '.' and '-', at most %d", (int)n,
		    name, SVC_NAME_MAX);
	for (size_t i = 0; i < p->conf->nservices; i++) {
		const struct conf_service *o = &p->conf->services[i];

		if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
			return conf_perr(p, p->lineno, "section [%s] already "
			    "defined on line %d", o->name, o->line);
	}
	if (!svc_add(p, name, n))
		return false;
	p->sec = SEC_SERVICE;
	p->keys = conf_service_keys;
	return true;
}

/* ---------------------------------------------------------------- inih */

/*
 * check_line - refuse what inih would refuse, in our words, and open
 * sections.  line has no leading blanks and no control characters.
 */
static bool
check_line(struct conf_parser *p, const char *line)
{
	if (*line == '\0' || *line == ';' || *line == '#')
		return true;
	if (*line == '[')
		return section_open(p, line);
	/* As inih reads it: '=' or ':' before any ';' that follows a blank. */
	for (const char *c = line; *c != '\0'; c++) {
		if (*c == '=' || *c == ':')
			return true;
		if (*c == ';' && (c[-1] == ' ' || c[-1] == '\t'))
			break;
	}
	return conf_perr(p, p->lineno, "expected 'key = value' or '[section]'");
}

/* read_line - inih's reader: the next line of the text, checked */
static char *
read_line(char *str, int num, void *stream)
{
	struct conf_parser	*p = stream;
	const char	*s, *nl;
	size_t		 n;

	if (p->failed || p->pos >= p->len)
		return NULL;
	s = p->text + p->pos;
	nl = memchr(s, '\n', p->len - p->pos);
	n = nl != NULL ? (size_t)(nl - s) : p->len - p->pos;
	p->pos += n + (nl != NULL);
	p->lineno++;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > LINE_MAX_BYTES || (int)n >= num) {
		conf_perr(p, p->lineno, "line too long (max %d bytes)",
		    LINE_MAX_BYTES);
		return NULL;
	}
	if (p->lineno == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;		/* a UTF-8 byte order mark */
		n -= 3;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* NUL would cut the line short inside inih; the others have
		 * no business in a configuration and would reach the logs. */
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			conf_perr(p, p->lineno,
			    "control character 0x%02x in line", c);
			return NULL;
		}
	}
	/* inih would take an indented line for the continuation of the
	 * previous value; we have no continuation lines. */
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	memcpy(str, s, n);
	str[n] = '\0';
	return check_line(p, str) ? str : NULL;
}

/* on_key - inih's handler: one "key = value" of the current section */
static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct conf_parser		*p = user;
	const struct conf_key	*k;
	char			*base;
	size_t			 i;

	(void)section;		/* ours is not truncated to 50 bytes */
	if (p->failed)
		return 0;
	if (p->sec == SEC_NONE)
		return conf_perr(p, p->lineno, "'%s' before any [section]",
		    key);
	if (*key == '\0')
		return conf_perr(p, p->lineno, "missing key name before '='");
	for (k = p->keys; k->name != NULL && strcmp(k->name, key) != 0; k++)
		;
	if (k->name == NULL)
		return conf_perr(p, p->lineno, "unknown key '%s' in [%s]", key,
		    sec_name(p));
	if (k->set == conf_set_later)
		return conf_set_later(p, k, NULL, value);
	if (*value == '\0')
		return conf_perr(p, p->lineno, "'%s' has an empty value", key);
	i = (size_t)(k - p->keys);
	if (!(k->flags & KF_MULTI) && p->set_line[i] != 0)
		return conf_perr(p, p->lineno, "'%s' set twice in [%s] (first "
		    "on line %d)", key, sec_name(p), p->set_line[i]);
	p->set_line[i] = p->lineno;
	if (p->sec == SEC_SERVICE)
		base = (char *)conf_cur_svc(p);
	else if (k->flags & KF_DEFAULTS)
		base = (char *)&p->dflt;
	else
		base = (char *)p->conf;
	if (!k->set(p, k, base + k->off, value))
		return 0;
	if (k->line_off != 0)
		*(int *)(base + k->line_off) = p->lineno;
	return 1;
}

/* default_helo - this host's name if it is a usable DNS name */
static void
default_helo(char *buf, size_t len)
{
	if (gethostname(buf, len - 1) != 0)
		buf[0] = '\0';
	buf[len - 1] = '\0';
	if (!conf_dns_name_ok(buf, strlen(buf)))
		snprintf(buf, len, "localhost");
}

/* conf_parse - the configuration in text; name is used in messages */
struct conf *
conf_parse(const char *text, size_t len, const char *name,
    struct conf_error *err)
{
	struct conf_parser	 p;
	char		 helo[256];
	int		 rc;

	if (name == NULL)
		name = "(config)";
	if (err != NULL) {
		err->msg[0] = '\0';
		err->line = 0;
	}
	memset(&p, 0, sizeof(p));
	p.name = name;
	p.text = text;
	p.len = text != NULL ? len : 0;
	p.err = err;
	if ((p.conf = conf_new(name)) == NULL) {
		conf_set_error(err, name, 0, "out of memory");
		return NULL;
	}
	rc = ini_parse_stream(read_line, &p, on_key, &p);
	/* read_line() refuses what inih would; this is a safety net. */
	if (rc > 0)
		conf_perr(&p, rc, "syntax error");
	else if (rc < 0)
		conf_perr(&p, 0, "out of memory");
	if (!p.failed)
		section_close(&p);
	if (!p.failed && p.conf->nservices == 0)
		conf_perr(&p, 0, "no service sections: nothing to relay");
	/* [global] may come after the services: check what depends on it
	 * once everything is read. */
	for (size_t i = 0; !p.failed && i < p.conf->nservices; i++) {
		const struct conf_service *s = &p.conf->services[i];

		if ((s->level == LEV_DANE || s->level == LEV_DANE_ONLY) &&
		    p.conf->dnssec == CONF_DNSSEC_OFF)
			conf_perr(&p, s->line, "[%s]: security = %s needs "
			    "dnssec = trust-ad (with dnssec = off no TLSA record "
			    "is ever secure)", s->name, level_name(s->level));
	}
	if (!p.failed) {
		default_helo(helo, sizeof(helo));
		if (!conf_inherit(p.conf, &p.dflt, helo))
			conf_perr(&p, 0, "out of memory");
	}
	free(p.lines);
	if (p.failed) {
		conf_unref(p.conf);
		return NULL;
	}
	return p.conf;
}
