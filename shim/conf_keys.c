/*
 * conf_keys.c - what each configuration key accepts: the typed key tables
 * of [global] and of a service section, and their setters.
 *
 * Every key is one table row: its name, a setter for its type, the field
 * it fills and, for a file name, the field that remembers its line.  A
 * setter checks one value and stores it; the handler in conf_parse.c has
 * already refused unknown keys, empty values and keys given twice.
 * Values are checked here as far as text allows (syntax, ranges, known
 * names); files are not opened: tls_conf_prepare() loads them later.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugins/proto.h"
#include "shim/conf.h"
#include "shim/conf_int.h"

#define MSEC_MAX	(24u * 3600 * 1000)
#define DAYS_MAX	3650u		/* set_days: ten years */
#define SESSIONS_MAX	1000000u

/* The name setter stores any enum through an int. */
_Static_assert(sizeof(enum tls_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tls_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum direction) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_dnssec) == sizeof(int), "enum size");
_Static_assert(sizeof(enum transparent_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pin_mode) == sizeof(int), "enum size");

/* bad_value - "invalid value 'V' for 'KEY': expected ..." */
static bool
bad_value(struct conf_parser *p, const struct conf_key *k, const char *value,
    const char *expected)
{
	/* inih keeps a '#' after a value in the value: when there is one,
	 * that is the likely mistake, so say it. */
	const char *hint = strstr(value, " #") != NULL ||
	    strstr(value, "\t#") != NULL ?
	    " (comments after a value start with ';')" : "";

	return conf_perr(p, p->lineno,
	    "invalid value '%s' for '%s': expected %s%s",
	    value, k->name, expected, hint);
}

/* ---------------------------------------------------------------- syntax */

/* port_ok - "1".."65535", digits only */
static bool
port_ok(const char *s, size_t n, uint16_t *port)
{
	unsigned long	 v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/*
 * dns_name_ok - letters, digits and inner hyphens in dot-separated labels
 * of 1-63 bytes, at most 253 in all.  A last label of digits only is
 * refused: no top-level domain is numeric, so "10.0.0.300" is a mistyped
 * address, not a name.
 */
bool
conf_dns_name_ok(const char *s, size_t n)
{
	size_t	 label = 0;
	bool	 digits = true;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			digits = true;
			continue;
		}
		if (c == '-' && label == 0)
			return false;
		if (!(c == '-' || (c >= '0' && c <= '9') ||
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
		if (c < '0' || c > '9')
			digits = false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-' && !digits;
}

/* addr_parse - "IPv4:port" or "[IPv6]:port" (n bytes at s) into a */
static bool
addr_parse(const char *s, size_t n, struct conf_addr *a)
{
	char		 host[INET6_ADDRSTRLEN];
	const char	*hs, *port;
	size_t		 hlen;
	uint16_t	 pn;
	int		 af;

	if (n == 0 || n >= sizeof(a->text))
		return false;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL || close + 1 == s + n || close[1] != ':')
			return false;
		af = AF_INET6;
		hs = s + 1;
		hlen = (size_t)(close - hs);
		port = close + 2;
	} else {
		const char *colon = memchr(s, ':', n);

		if (colon == NULL)
			return false;
		af = AF_INET;
		hs = s;
		hlen = (size_t)(colon - s);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host) ||
	    !port_ok(port, (size_t)(s + n - port), &pn))
		return false;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	memset(a, 0, sizeof(*a));
	if (af == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return false;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(pn);
		a->len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return false;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(pn);
		a->len = sizeof(*sin);
	}
	memcpy(a->text, s, n);
	a->text[n] = '\0';
	return true;
}

/* addr_same - the same family, address and port? */
static bool
addr_same(const struct conf_addr *a, const struct conf_addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->ss;
		const struct sockaddr_in *y = (const void *)&b->ss;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	} else {
		const struct sockaddr_in6 *x = (const void *)&a->ss;
		const struct sockaddr_in6 *y = (const void *)&b->ss;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr,
		    sizeof(x->sin6_addr)) == 0;
	}
}

/* ---------------------------------------------------------------- setters */

/* conf_set_later - a key of the design that this version does not implement */
bool
conf_set_later(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	(void)field;
	(void)value;
	return conf_perr(p, p->lineno, "'%s' " CONF_LATER, k->name);
}

/* set_str - any text */
static bool
set_str(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	char	**f = field;

	(void)k;
	free(*f);		/* the built-in default */
	if ((*f = strdup(value)) == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	return true;
}

/* set_name - one of the names in k->names, stored as its int code */
static bool
set_name(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	const struct name_code	*nc = name_lookup(k->names, value);
	char			 list[128] = "one of ";

	if (nc == NULL) {
		for (nc = k->names; nc->name != NULL; nc++) {
			if (nc->later)
				continue;
			if (nc != k->names)
				strncat(list, ", ",
				    sizeof(list) - strlen(list) - 1);
			strncat(list, nc->name,
			    sizeof(list) - strlen(list) - 1);
		}
		return bad_value(p, k, value, list);
	}
	if (nc->later)
		return conf_perr(p, p->lineno, "%s = %s " CONF_LATER, k->name,
		    value);
	*(int *)field = nc->code;
	return true;
}

/* set_bool - yes/no and the usual synonyms */
static bool
set_bool(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	const struct name_code	*nc = name_lookup(bool_names, value);

	if (nc == NULL)
		return bad_value(p, k, value, "yes or no");
	*(bool *)field = nc->code != 0;
	return true;
}

/* set_msec - a duration: digits and an optional ms, s, m or h (seconds) */
static bool
set_msec(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 },
	};
	const char	*c = value;
	uint64_t	 n = 0;

	/* Stopping at MSEC_MAX digits-wise keeps n * unit far from overflow. */
	while (*c >= '0' && *c <= '9' && n <= MSEC_MAX)
		n = n * 10 + (uint64_t)(*c++ - '0');
	if (c == value || n == 0 || n > MSEC_MAX)
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(c, units[i].unit) == 0) {
			if (n * units[i].ms > MSEC_MAX)
				goto bad;
			*(unsigned *)field = (unsigned)(n * units[i].ms);
			return true;
		}
	}
bad:
	return bad_value(p, k, value,
	    "a duration above 0 and at most 24h, such as 30s, 500ms, 5m");
}

/* set_days - a long duration, kept in seconds: digits and an optional s,
 * m, h or d (days); seconds without a unit, like set_msec */
static bool
set_days(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	static const struct { const char *unit; uint64_t s; } units[] = {
		{ "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
		{ "d", 86400 },
	};
	const uint64_t	 max = (uint64_t)DAYS_MAX * 86400;
	const char	*c = value;
	uint64_t	 n = 0;

	while (*c >= '0' && *c <= '9' && n <= max)
		n = n * 10 + (uint64_t)(*c++ - '0');
	if (c == value || n == 0 || n > max)
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(c, units[i].unit) == 0) {
			if (n * units[i].s > max)
				goto bad;
			*(unsigned *)field = (unsigned)(n * units[i].s);
			return true;
		}
	}
bad:
	return bad_value(p, k, value,
	    "a duration above 0 and at most 3650d, such as 30d, 12h");
}

/* set_count - max_sessions: 1 to SESSIONS_MAX */
static bool
set_count(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	unsigned long	 n = 0;
	const char	*c;

	for (c = value; *c >= '0' && *c <= '9' && n <= SESSIONS_MAX; c++)
		n = n * 10 + (unsigned long)(*c - '0');
	if (c == value || *c != '\0' || n == 0 || n > SESSIONS_MAX)
		return bad_value(p, k, value, "a number from 1 to 1000000");
	*(unsigned *)field = (unsigned)n;
	return true;
}

/* set_workers - "auto" (0: one per online CPU) or 1 to CONF_WORKERS_MAX */
static bool
set_workers(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	unsigned long	 n = 0;
	const char	*c;

	if (strcasecmp(value, "auto") == 0) {
		*(unsigned *)field = 0;
		return true;
	}
	for (c = value; *c >= '0' && *c <= '9' && n <= CONF_WORKERS_MAX; c++)
		n = n * 10 + (unsigned long)(*c - '0');
	if (c == value || *c != '\0' || n == 0 || n > CONF_WORKERS_MAX)
		return bad_value(p, k, value, "auto or a number from 1 to 64");
	*(unsigned *)field = (unsigned)n;
	return true;
}

/* set_proto - a registered protocol plugin */
static bool
set_proto(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	const struct proto	*proto = NULL;
	char			 lower[32];
	size_t			 n = strlen(value);

	(void)k;
	if (n < sizeof(lower)) {
		for (size_t i = 0; i <= n; i++)
			lower[i] = (value[i] >= 'A' && value[i] <= 'Z') ?
			    (char)(value[i] - 'A' + 'a') : value[i];
		proto = proto_find(lower);
	}
	if (proto == NULL)
		return conf_perr(p, p->lineno,
		    "unknown protocol '%s' (known: %s)",
		    value, proto_names());
	*(const struct proto **)field = proto;
	return true;
}

/*
 * set_listen - one or more "IPv4:port" / "[IPv6]:port", separated by
 * commas or blanks.  Only literals: a listener binds before any DNS is
 * available, and a name could change under a running daemon.  An address
 * used twice anywhere is refused: with SO_REUSEPORT both binds would
 * succeed and connections would be split between two services silently.
 */
static bool
set_listen(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	struct conf_service	*s = conf_cur_svc(p);
	size_t			 me = p->conf->nservices - 1, n, found = 0;
	const char		*t = value;

	(void)field;
	for (;;) {
		struct conf_addr *a;

		t += strspn(t, ", \t");
		if (*t == '\0')
			break;
		n = strcspn(t, ", \t");
		if (s->nlisten == CONF_MAX_LISTEN)
			return conf_perr(p, p->lineno, "too many listen "
			    "addresses in [%s] (at most %d)", s->name,
			    CONF_MAX_LISTEN);
		a = &s->listen[s->nlisten];
		if (!addr_parse(t, n, a))
			return conf_perr(p, p->lineno, "invalid listen address "
			    "'%.*s': expected IPv4:port or [IPv6]:port, an "
			    "address and not a name, port 1-65535", (int)n, t);
		for (size_t i = 0; i <= me; i++) {
			const struct conf_service *o = &p->conf->services[i];

			for (size_t j = 0; j < o->nlisten; j++)
				if (addr_same(a, &o->listen[j]))
					return conf_perr(p, p->lineno, "listen "
					    "address %s already used in [%s] "
					    "on line %d", a->text, o->name,
					    p->lines[i].listen[j]);
		}
		p->lines[me].listen[s->nlisten++] = p->lineno;
		found++;
		t += n;
	}
	if (found == 0)
		return bad_value(p, k, value, "IPv4:port or [IPv6]:port");
	return true;
}

/* host_port - "host[:port]", "IPv4[:port]" or "[IPv6][:port]" into buf
 * (a name or address, checked) and *port (left alone when absent) */
static bool
host_port(const char *value, char *buf, size_t buflen, uint16_t *port,
    bool *is_ip)
{
	const char	*host = value, *pt = NULL, *colon;
	size_t		 hlen;
	unsigned char	 bin[sizeof(struct in6_addr)];

	if (value[0] == '[') {
		const char *close = strchr(value, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return false;
		host = value + 1;
		hlen = (size_t)(close - host);
		if (close[1] == ':')
			pt = close + 2;
		if (hlen == 0 || hlen >= buflen)
			return false;
		memcpy(buf, host, hlen);
		buf[hlen] = '\0';
		if (inet_pton(AF_INET6, buf, bin) != 1)
			return false;
		*is_ip = true;
	} else {
		if ((colon = strchr(value, ':')) != NULL &&
		    strchr(colon + 1, ':') != NULL)
			return false;
		hlen = colon != NULL ? (size_t)(colon - value) : strlen(value);
		if (colon != NULL)
			pt = colon + 1;
		if (hlen == 0 || hlen >= buflen)
			return false;
		memcpy(buf, host, hlen);
		buf[hlen] = '\0';
		*is_ip = inet_pton(AF_INET, buf, bin) == 1;
		if (!*is_ip && !conf_dns_name_ok(buf, hlen))
			return false;
	}
	return pt == NULL || port_ok(pt, strlen(pt), port);
}

/*
 * set_upstream - "host", "host:port", "IPv4[:port]" or "[IPv6][:port]";
 * "mx:DOMAIN[:port]" (the domain's MX hosts, each on port, 25 unless
 * given: Postfix's relayhost = domain:port does the same); "srv:DOMAIN"
 * (the protocol's SRV records, RFC 6186 and 8314).  Without a port the
 * section's protocol and tls mode decide it, once the section is complete
 * (section_close), which also checks that the protocol allows mx or srv.
 */
static bool
set_upstream(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	static const char *const later[] = { "mx" };
	struct conf_service	*s = conf_cur_svc(p);
	char			 buf[256];
	bool			 ip;

	(void)field;
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
		if (strcasecmp(value, later[i]) == 0)
			return conf_perr(p, p->lineno, "upstream = %s " CONF_LATER
			    " (use mx:DOMAIN or srv:DOMAIN)", value);
	if (strcasecmp(value, "srv") == 0) {
		/* The SRV records of the domain each client names (client-
		 * first protocols: section_close checks); no host here. */
		s->upstream_kind = UPK_SRV;
		if ((s->upstream_host = strdup("")) == NULL)
			return conf_perr(p, p->lineno, "out of memory");
		return true;
	}
	if (strcasecmp(value, "transparent") == 0) {
		/* Each connection's original destination (transparent.c);
		 * the host field only names the mode in messages. */
		s->upstream_kind = UPK_TRANSPARENT;
		if ((s->upstream_host = strdup("transparent")) == NULL)
			return conf_perr(p, p->lineno, "out of memory");
		return true;
	}
	s->upstream_kind = UPK_HOST;
	if (strncasecmp(value, "mx:", 3) == 0) {
		s->upstream_kind = UPK_MX;
		value += 3;
	} else if (strncasecmp(value, "srv:", 4) == 0) {
		s->upstream_kind = UPK_SRV;
		value += 4;
	}
	if (value[0] != '[' && strchr(value, ':') != NULL &&
	    strchr(strchr(value, ':') + 1, ':') != NULL)
		return bad_value(p, k, value, "host[:port], with an IPv6 "
		    "address in brackets: [2001:db8::1]:25");
	if (!host_port(value, buf, sizeof(buf), &s->upstream_port, &ip))
		return bad_value(p, k, value, s->upstream_kind == UPK_HOST ?
		    "host, host:port, IPv4[:port] or [IPv6][:port], with port "
		    "1-65535, or mx:DOMAIN[:port] or srv:DOMAIN" :
		    "a domain name after mx: or srv: (mx:DOMAIN[:port])");
	if (s->upstream_kind != UPK_HOST && ip)
		return bad_value(p, k, value, "a domain name after mx: or "
		    "srv:, not an address");
	if (s->upstream_kind == UPK_SRV && strchr(value, ':') != NULL)
		return bad_value(p, k, value, "srv:DOMAIN without a port (the "
		    "SRV records give it)");
	if ((s->upstream_host = strdup(buf)) == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	s->upstream_is_ip = ip;
	return true;
}

/*
 * set_resolver - up to CONF_MAX_RESOLVERS addresses, "IPv4[:port]",
 * "[IPv6][:port]" or a bare IPv6 address, separated by commas or blanks;
 * the port is 53 unless given.  Addresses only: the resolver is what
 * turns names into addresses.
 */
static bool
set_resolver(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	struct conf	*c = p->conf;
	const char	*t = value;
	char		 one[80];
	size_t		 n, colons;

	(void)field;
	c->nresolvers = 0;
	for (;;) {
		t += strspn(t, ", \t");
		if (*t == '\0')
			break;
		n = strcspn(t, ", \t");
		if (c->nresolvers == CONF_MAX_RESOLVERS)
			return conf_perr(p, p->lineno, "too many resolvers "
			    "(at most %d)", CONF_MAX_RESOLVERS);
		if (n + 8 >= sizeof(one))
			goto bad;
		colons = 0;
		for (size_t i = 0; i < n; i++)
			colons += t[i] == ':';
		if (t[0] == '[' && t[n - 1] == ']')	/* [IPv6] */
			snprintf(one, sizeof(one), "%.*s:53", (int)n, t);
		else if (t[0] != '[' && colons > 1)	/* bare IPv6 */
			snprintf(one, sizeof(one), "[%.*s]:53", (int)n, t);
		else if (colons == 0)			/* IPv4 */
			snprintf(one, sizeof(one), "%.*s:53", (int)n, t);
		else
			snprintf(one, sizeof(one), "%.*s", (int)n, t);
		if (!addr_parse(one, strlen(one), &c->resolver[c->nresolvers]))
			goto bad;
		c->nresolvers++;
		t += n;
	}
	if (c->nresolvers == 0)
		goto bad;
	c->resolver_line = p->lineno;
	return true;
bad:
	return bad_value(p, k, value, "resolver addresses: IPv4[:port] or "
	    "[IPv6][:port], port 53 by default, separated by blanks");
}

/* set_addr - one "IPv4:port" or "[IPv6]:port", as for listen */
static bool
set_addr(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	if (!addr_parse(value, strlen(value), field))
		return bad_value(p, k, value, "IPv4:port or [IPv6]:port, an "
		    "address and not a name, port 1-65535");
	return true;
}

/* set_sockpath - an absolute path that fits a Unix socket address */
static bool
set_sockpath(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	char	**f = field;

	/* sun_path holds 108 bytes with its NUL on Linux. */
	if (value[0] != '/' || strlen(value) > 107 ||
	    value[strlen(value) - 1] == '/')
		return bad_value(p, k, value, "an absolute file path of at "
		    "most 107 bytes");
	free(*f);
	if ((*f = strdup(value)) == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	return true;
}

/* set_mark - a firewall mark: 1 to 0xffffffff, decimal or 0x hex */
static bool
set_mark(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	const char	*c = value;
	uint64_t	 n = 0;
	unsigned	 base = 10;

	if (c[0] == '0' && (c[1] == 'x' || c[1] == 'X') && c[2] != '\0') {
		base = 16;
		c += 2;
	}
	for (; *c != '\0' && n <= 0xffffffffu; c++) {
		unsigned d;

		if (*c >= '0' && *c <= '9')
			d = (unsigned)(*c - '0');
		else if (base == 16 && *c >= 'a' && *c <= 'f')
			d = (unsigned)(*c - 'a' + 10);
		else if (base == 16 && *c >= 'A' && *c <= 'F')
			d = (unsigned)(*c - 'A' + 10);
		else
			break;
		n = n * base + d;
	}
	if (*c != '\0' || n == 0 || n > 0xffffffffu)
		return bad_value(p, k, value, "a firewall mark from 1 to "
		    "4294967295, decimal or 0x hex (0x746c)");
	*(uint32_t *)field = (uint32_t)n;
	return true;
}

/*
 * set_dns_listen - the DNS forwarder's addresses (UDP and TCP): up to
 * CONF_MAX_DNS_LISTEN "IPv4:port" / "[IPv6]:port", separated by commas or
 * blanks.  Literals only, as for listen.
 */
static bool
set_dns_listen(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	struct conf	*c = p->conf;
	const char	*t = value;
	size_t		 n;

	(void)field;
	c->ndns_listen = 0;
	for (;;) {
		t += strspn(t, ", \t");
		if (*t == '\0')
			break;
		n = strcspn(t, ", \t");
		if (c->ndns_listen == CONF_MAX_DNS_LISTEN)
			return conf_perr(p, p->lineno, "too many dns_listen "
			    "addresses (at most %d)", CONF_MAX_DNS_LISTEN);
		if (!addr_parse(t, n, &c->dns_listen[c->ndns_listen]))
			return conf_perr(p, p->lineno, "invalid dns_listen "
			    "address '%.*s': expected IPv4:port or "
			    "[IPv6]:port, an address and not a name, port "
			    "1-65535", (int)n, t);
		for (size_t i = 0; i < c->ndns_listen; i++)
			if (addr_same(&c->dns_listen[i],
			    &c->dns_listen[c->ndns_listen]))
				return conf_perr(p, p->lineno, "dns_listen "
				    "address %.*s given twice", (int)n, t);
		c->ndns_listen++;
		t += n;
	}
	if (c->ndns_listen == 0)
		return bad_value(p, k, value, "IPv4:port or [IPv6]:port");
	return true;
}

/*
 * conf_check_transparent - at the end of a service section: transparent
 * = belongs to upstream = transparent (redirect unless said), which
 * connects to the port the client chose, speaking STARTTLS there: an
 * implicit-TLS upstream would be another port.
 */
bool
conf_check_transparent(struct conf_parser *p, struct conf_service *s)
{
	if (s->upstream_kind != UPK_TRANSPARENT) {
		if (s->transparent != TP_NONE)
			return conf_perr(p, s->line, "[%s]: transparent = is "
			    "for upstream = transparent", s->name);
		return true;
	}
	if (s->transparent == TP_NONE)
		s->transparent = TP_REDIRECT;
	if (s->tls == TLSM_IMPLICIT)
		return conf_perr(p, s->line, "[%s]: upstream = transparent "
		    "connects to the port the client chose, so tls = "
		    "implicit cannot apply (use tls = starttls)", s->name);
	return true;
}

/* set_helo - a DNS name to introduce ourselves with */
static bool
set_helo(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	char	**f = field;

	if (!conf_dns_name_ok(value, strlen(value)))
		return bad_value(p, k, value, "a DNS name such as "
		    "relay.example.org");
	if ((*f = strdup(value)) == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	return true;
}

/* ---------------------------------------------------------------- tables */

#define GLB(f)	offsetof(struct conf, f)
#define SVC(f)	offsetof(struct conf_service, f)

const struct conf_key conf_global_keys[] = {
	{ "state_dir",		set_str,  GLB(state_dir),  0, NULL, 0 },
	{ "ca_file",		set_str,  GLB(ca_file),    GLB(ca_file_line),
				NULL, 0 },
	{ "user",		set_str,  GLB(user),       0, NULL, 0 },
	{ "log_level",		set_name, GLB(log_level),  0, log_level_names,
				0 },
	/* Defaults for every service that does not set its own: they fill
	 * parser.dflt, which conf_inherit() applies at the end. */
	{ "connect_timeout",	set_msec, SVC(connect_timeout_ms), 0, NULL,
				KF_DEFAULTS },
	{ "handshake_timeout",	set_msec, SVC(handshake_timeout_ms), 0, NULL,
				KF_DEFAULTS },
	{ "idle_timeout",	set_msec, SVC(idle_timeout_ms), 0, NULL,
				KF_DEFAULTS },
	{ "max_sessions",	set_count, SVC(max_sessions), 0, NULL,
				KF_DEFAULTS },
	{ "resolver",		set_resolver, GLB(resolver), 0, NULL, 0 },
	{ "dnssec",		set_name, GLB(dnssec),     0, dnssec_names, 0 },
	{ "control_socket",	set_sockpath, GLB(control_socket), 0, NULL, 0 },
	{ "metrics_listen",	set_addr, GLB(metrics_listen), 0, NULL, 0 },
	{ "workers",		set_workers, GLB(workers), 0, NULL, 0 },
	{ "so_mark",		set_mark, SVC(so_mark),    0, NULL,
				KF_DEFAULTS },
	{ "dns_listen",		set_dns_listen, GLB(dns_listen), 0, NULL, 0 },
	{ "posture_retention",	set_days, GLB(posture_retention), 0, NULL,
				0 },
	{ NULL,			NULL,     0, 0, NULL, 0 }
};

const struct conf_key conf_service_keys[] = {
	{ "protocol",		set_proto, SVC(proto),     0, NULL, 0 },
	{ "direction",		set_name,  SVC(direction), 0, direction_names,
				0 },
	{ "listen",		set_listen, SVC(listen),   0, NULL, KF_MULTI },
	{ "upstream",		set_upstream, SVC(upstream_host), 0, NULL, 0 },
	{ "tls",		set_name,  SVC(tls),       0, tls_mode_names,
				0 },
	{ "security",		set_name,  SVC(level),     0, level_names, 0 },
	{ "helo_name",		set_helo,  SVC(helo_name), 0, NULL, 0 },
	{ "cleartext_auth",	set_bool,  SVC(cleartext_auth), 0, NULL, 0 },
	{ "ca_file",		set_str,   SVC(ca_file),   SVC(ca_file_line),
				NULL, 0 },
	{ "connect_timeout",	set_msec,  SVC(connect_timeout_ms), 0, NULL,
				0 },
	{ "handshake_timeout",	set_msec,  SVC(handshake_timeout_ms), 0,
				NULL, 0 },
	{ "idle_timeout",	set_msec,  SVC(idle_timeout_ms), 0, NULL, 0 },
	{ "max_sessions",	set_count, SVC(max_sessions), 0, NULL, 0 },
	{ "pin",		set_name,  SVC(pin),       0, pin_names, 0 },
	{ "pin_max_age",	set_days,  SVC(pin_max_age), 0, NULL, 0 },
	{ "cert",		conf_set_later, 0, 0, NULL, 0 },
	{ "key",		conf_set_later, 0, 0, NULL, 0 },
	{ "require_tls_for_login", conf_set_later, 0, 0, NULL, 0 },
	{ "transparent",	set_name,  SVC(transparent), 0,
				transparent_names, 0 },
	{ "so_mark",		set_mark,  SVC(so_mark),   0, NULL, 0 },
	{ NULL,			NULL,      0, 0, NULL, 0 }
};

#define NKEYS(t)	(sizeof(t) / sizeof(t[0]))
_Static_assert(NKEYS(conf_global_keys) <= CONF_KEYS_MAX, "CONF_KEYS_MAX");
_Static_assert(NKEYS(conf_service_keys) <= CONF_KEYS_MAX, "CONF_KEYS_MAX");
