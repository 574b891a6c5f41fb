/*
 * conf_net.c - the configuration keys that hold network values: listen
 * and other socket addresses, upstream, resolver, the HELO name, the
 * firewall mark, the DNS forwarder's address; and the syntax of
 * addresses, ports and host names they share.  The key tables are in
 * conf_keys.c.
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

#include "shim/conf.h"
#include "shim/conf_int.h"

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

/*
 * conf_set_listen - one or more "IPv4:port" / "[IPv6]:port", separated by
 * commas or blanks.  Only literals: a listener binds before any DNS is
 * available, and a name could change under a running daemon.  An address
 * used twice anywhere is refused: with SO_REUSEPORT both binds would
 * succeed and connections would be split between two services silently.
 */
bool
conf_set_listen(struct conf_parser *p, const struct conf_key *k, void *field,
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
		return conf_bad_value(p, k, value, "IPv4:port or [IPv6]:port");
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
 * conf_set_upstream - "host", "host:port", "IPv4[:port]" or "[IPv6][:port]";
 * "mx:DOMAIN[:port]" (the domain's MX hosts, each on port, 25 unless
 * given: Postfix's relayhost = domain:port does the same); "srv:DOMAIN"
 * (the protocol's SRV records, RFC 6186 and 8314).  Without a port the
 * section's protocol and tls mode decide it, once the section is complete
 * (section_close), which also checks that the protocol allows mx or srv.
 */
bool
conf_set_upstream(struct conf_parser *p, const struct conf_key *k, void *field,
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
		return conf_bad_value(p, k, value, "host[:port], with an IPv6 "
		    "address in brackets: [2001:db8::1]:25");
	if (!host_port(value, buf, sizeof(buf), &s->upstream_port, &ip))
		return conf_bad_value(p, k, value, s->upstream_kind == UPK_HOST ?
		    "host, host:port, IPv4[:port] or [IPv6][:port], with port "
		    "1-65535, or mx:DOMAIN[:port] or srv:DOMAIN" :
		    "a domain name after mx: or srv: (mx:DOMAIN[:port])");
	if (s->upstream_kind != UPK_HOST && ip)
		return conf_bad_value(p, k, value, "a domain name after mx: or "
		    "srv:, not an address");
	if (s->upstream_kind == UPK_SRV && strchr(value, ':') != NULL)
		return conf_bad_value(p, k, value, "srv:DOMAIN without a port (the "
		    "SRV records give it)");
	if ((s->upstream_host = strdup(buf)) == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	s->upstream_is_ip = ip;
	return true;
}

/*
 * conf_set_resolver - up to CONF_MAX_RESOLVERS addresses, "IPv4[:port]",
 * "[IPv6][:port]" or a bare IPv6 address, separated by commas or blanks;
 * the port is 53 unless given.  Addresses only: the resolver is what
 * turns names into addresses.
 */
bool
conf_set_resolver(struct conf_parser *p, const struct conf_key *k, void *field,
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
	return conf_bad_value(p, k, value, "resolver addresses: IPv4[:port] or "
	    "[IPv6][:port], port 53 by default, separated by blanks");
}

/* conf_set_addr - one "IPv4:port" or "[IPv6]:port", as for listen */
bool
conf_set_addr(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	if (!addr_parse(value, strlen(value), field))
		return conf_bad_value(p, k, value, "IPv4:port or [IPv6]:port, an "
		    "address and not a name, port 1-65535");
	return true;
}

/* conf_set_sockpath - an absolute path that fits a Unix socket address */
bool
conf_set_sockpath(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	char	**f = field;

	/* sun_path holds 108 bytes with its NUL on Linux. */
	if (value[0] != '/' || strlen(value) > 107 ||
	    value[strlen(value) - 1] == '/')
		return conf_bad_value(p, k, value, "an absolute file path of at "
		    "most 107 bytes");
	free(*f);
	if ((*f = strdup(value)) == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	return true;
}

/* conf_set_mark - a firewall mark: 1 to 0xffffffff, decimal or 0x hex */
bool
conf_set_mark(struct conf_parser *p, const struct conf_key *k, void *field,
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
		return conf_bad_value(p, k, value, "a firewall mark from 1 to "
		    "4294967295, decimal or 0x hex (0x746c)");
	*(uint32_t *)field = (uint32_t)n;
	return true;
}

/*
 * conf_set_dns_listen - the DNS forwarder's addresses (UDP and TCP): up to
 * CONF_MAX_DNS_LISTEN "IPv4:port" / "[IPv6]:port", separated by commas or
 * blanks.  Literals only, as for listen.
 */
bool
conf_set_dns_listen(struct conf_parser *p, const struct conf_key *k, void *field,
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
		return conf_bad_value(p, k, value, "IPv4:port or [IPv6]:port");
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

/* conf_set_helo - a DNS name to introduce ourselves with */
bool
conf_set_helo(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	char	**f = field;

	if (!conf_dns_name_ok(value, strlen(value)))
		return conf_bad_value(p, k, value, "a DNS name such as "
		    "relay.example.org");
	if ((*f = strdup(value)) == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	return true;
}
