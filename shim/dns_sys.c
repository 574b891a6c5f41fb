/*
 * dns_sys.c - what the system tells the DNS client: the resolvers of
 * resolv.conf, whether their AD bit can be believed, and /etc/hosts.
 *
 * Both files are read the way glibc reads them, within what tlshim needs:
 * resolv.conf's `nameserver` lines (at most DNS_MAX_RESOLVERS, port 53;
 * other keywords are ignored), and hosts lines "address name alias...",
 * where every address listed for a name counts (host.conf's "multi on",
 * Debian's default) and names compare without case.
 *
 * The files are read when the settings are made and when a client is
 * created, before the loop runs: a read here never blocks a loop turn.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "shim/dns.h"
#include "shim/dns_int.h"
#include "shim/log.h"

#define SEP	" \t\r\n"

struct hosts_ent {
	char		*name;		/* normalized */
	int		 family;
	uint8_t		 addr[16];
	size_t		 seq;		/* file order, for a stable sort */
};

struct dns_hosts {
	struct hosts_ent *e;		/* sorted by name, then seq */
	size_t		  n, cap;
};

/* ------------------------------------------------------------ resolvers */

/* add_nameserver - one nameserver address into s; false if unusable */
static bool
add_nameserver(struct dns_settings *s, const char *text)
{
	struct sockaddr_storage *ss = &s->resolver[s->nresolvers];

	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(text, 53, (struct sockaddr_in *)ss) != 0 &&
	    (strchr(text, ':') == NULL ||
	    uv_ip6_addr(text, 53, (struct sockaddr_in6 *)ss) != 0))
		return false;
	s->nresolvers++;
	return true;
}

/* dns_settings_resolvers - resolv.conf's nameservers, unless configured */
bool
dns_settings_resolvers(struct dns_settings *s, char *err, size_t errlen)
{
	const char *path = s->resolv_conf != NULL ? s->resolv_conf :
	    "/etc/resolv.conf";
	char *line = NULL, *kw, *addr, *save;
	size_t cap = 0;
	FILE *f;

	if (s->nresolvers > 0)
		return true;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return false;
	}
	while (s->nresolvers < DNS_MAX_RESOLVERS &&
	    getline(&line, &cap, f) != -1) {
		if ((kw = strtok_r(line, SEP, &save)) == NULL ||
		    strcmp(kw, "nameserver") != 0)
			continue;	/* comments (# or ;) land here too */
		if ((addr = strtok_r(NULL, SEP, &save)) == NULL ||
		    !add_nameserver(s, addr))
			logmsg(LOG_L_WARN, "%s: ignoring nameserver \"%s\"",
			    path, addr != NULL ? addr : "");
	}
	free(line);
	fclose(f);
	if (s->nresolvers == 0) {
		snprintf(err, errlen, "no nameserver in %s", path);
		return false;
	}
	return true;
}

/* on_loopback - is this resolver address on the local host's loopback? */
static bool
on_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return true;
	/* ::ffff:127.x.y.z reaches the same IPv4 loopback. */
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    sin6->sin6_addr.s6_addr[12] == 127;
}

/* dns_settings_trusted - trust-ad and every resolver on loopback */
bool
dns_settings_trusted(const struct dns_settings *s)
{
	size_t i;

	if (s->dnssec != DNSSEC_MODE_TRUST_AD || s->nresolvers == 0)
		return false;
	for (i = 0; i < s->nresolvers; i++)
		if (!on_loopback(&s->resolver[i]))
			return false;
	return true;
}

/* ---------------------------------------------------------------- hosts */

/* hosts_cmp - by name, then in file order */
static int
hosts_cmp(const void *a, const void *b)
{
	const struct hosts_ent *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	if (d != 0)
		return d;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* hosts_add - one (name, address) pair; false when memory ran out */
static bool
hosts_add(struct dns_hosts *h, const char *name, int family,
    const uint8_t *addr)
{
	struct hosts_ent *e;

	if (h->n == h->cap) {
		size_t cap = h->cap != 0 ? h->cap * 2 : 16;

		if ((e = reallocarray(h->e, cap, sizeof(*e))) == NULL)
			return false;
		h->e = e;
		h->cap = cap;
	}
	e = &h->e[h->n];
	if ((e->name = strdup(name)) == NULL)
		return false;
	e->family = family;
	memset(e->addr, 0, sizeof(e->addr));
	memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
	e->seq = h->n++;
	return true;
}

/* hosts_line - the entries of one line; false when memory ran out */
static bool
hosts_line(struct dns_hosts *h, char *line)
{
	char *tok, *save, *hash, name[DNS_NAME_MAX];
	uint8_t addr[16];
	int family;

	if ((hash = strchr(line, '#')) != NULL)
		*hash = '\0';
	if ((tok = strtok_r(line, SEP, &save)) == NULL)
		return true;
	/* A scoped address ("fe80::1%eth0") is no use without its scope,
	 * which an answer cannot carry: such lines are skipped. */
	if (inet_pton(AF_INET, tok, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, tok, addr) == 1)
		family = AF_INET6;
	else
		return true;
	while ((tok = strtok_r(NULL, SEP, &save)) != NULL)
		if (dns_name_normalize(tok, name, sizeof(name)) &&
		    !hosts_add(h, name, family, addr))
			return false;
	return true;
}

/* dns_hosts_load - read path ("" or a missing file: no entries) */
struct dns_hosts *
dns_hosts_load(const char *path)
{
	struct dns_hosts *h;
	char *line = NULL;
	size_t cap = 0;
	bool ok = true;
	FILE *f;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if (path == NULL)
		path = "/etc/hosts";
	if (*path == '\0')
		return h;
	if ((f = fopen(path, "r")) == NULL) {
		if (errno != ENOENT)
			logmsg(LOG_L_WARN, "cannot read %s: %s", path,
			    strerror(errno));
		return h;
	}
	while (ok && getline(&line, &cap, f) != -1)
		ok = hosts_line(h, line);
	free(line);
	fclose(f);
	if (!ok) {
		dns_hosts_free(h);
		return NULL;
	}
	if (h->n > 0)
		qsort(h->e, h->n, sizeof(*h->e), hosts_cmp);
	return h;
}

/* dns_hosts_free - the table and its names */
void
dns_hosts_free(struct dns_hosts *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++)
		free(h->e[i].name);
	free(h->e);
	free(h);
}

/* dns_hosts_count - (name, address) pairs in the table */
size_t
dns_hosts_count(const struct dns_hosts *h)
{
	return h->n;
}

/* hosts_first - index of name's first entry, or h->n when absent */
static size_t
hosts_first(const struct dns_hosts *h, const char *name)
{
	size_t lo = 0, hi = h->n, mid;

	/* The lowest index whose name is >= name. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(h->e[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < h->n && strcmp(h->e[lo].name, name) == 0)
		return lo;
	return h->n;
}

/* hosts_has - is e's address already among a's records? */
static bool
hosts_has(const struct dns_answer *a, const struct hosts_ent *e)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (memcmp(a->rr[i].u.a.addr, e->addr, 16) == 0)
			return true;
	return false;
}

/* dns_hosts_find - hosts' answer for name/type, NULL when it has none */
struct dns_rec *
dns_hosts_find(const struct dns_hosts *h, const char *name, uint16_t type,
    bool *oom)
{
	int family = type == DNS_T_A ? AF_INET : AF_INET6;
	struct dns_rec *r;
	size_t i, first, n = 0;

	*oom = false;
	if ((type != DNS_T_A && type != DNS_T_AAAA) ||
	    (first = hosts_first(h, name)) == h->n)
		return NULL;
	for (i = first; i < h->n && strcmp(h->e[i].name, name) == 0; i++)
		n += h->e[i].family == family;
	if (n > DNS_RR_MAX)
		n = DNS_RR_MAX;
	if ((r = dns_rec_new()) == NULL ||
	    (n > 0 && (r->ans.rr = calloc(n, sizeof(*r->ans.rr))) == NULL)) {
		dns_rec_unref(r);
		*oom = true;
		return NULL;
	}
	for (i = first; i < h->n && r->ans.n < n &&
	    strcmp(h->e[i].name, name) == 0; i++) {
		if (h->e[i].family != family || hosts_has(&r->ans, &h->e[i]))
			continue;
		r->ans.rr[r->ans.n].u.a.family = family;
		memcpy(r->ans.rr[r->ans.n].u.a.addr, h->e[i].addr, 16);
		r->ans.n++;
	}
	/* Like the system resolver's answers from the file: no TTL, and no
	 * DNSSEC behind them. */
	r->ans.status = r->ans.n > 0 ? DNS_OK : DNS_NODATA;
	r->ans.ttl = 0;
	r->dnssec = DNSSEC_INSECURE;
	r->from_hosts = true;
	return r;
}
