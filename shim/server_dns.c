/*
 * server_dns.c - the DNS client of one event loop, per configuration.
 *
 * Each loop has its own client (shim/dns.c), so no lock is taken on the
 * way to a lookup.  The client belongs to the resolver settings of the
 * configuration in force; sessions hold a reference while they resolve,
 * so a reload that changes the settings makes a new client for new
 * sessions and closes the old one after its last session.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/dns.h"
#include "shim/log.h"
#include "shim/server.h"

struct server_dns {
	struct dns_client	*client;
	unsigned		 refs;
	struct dns_settings	 set;
};

/* server_dns_settings - the DNS settings conf asks for, resolv.conf's
 * servers when it names none, and 127.0.0.1 when there is none at all, as
 * the C library does */
void
server_dns_settings(const struct conf *conf, struct dns_settings *set)
{
	char why[256];

	memset(set, 0, sizeof(*set));
	for (size_t i = 0; i < conf->nresolvers && i < DNS_MAX_RESOLVERS;
	    i++) {
		memcpy(&set->resolver[i], &conf->resolver[i].ss,
		    conf->resolver[i].len);
		set->nresolvers++;
	}
	set->dnssec = conf->dnssec == CONF_DNSSEC_OFF ? DNSSEC_MODE_OFF :
	    DNSSEC_MODE_TRUST_AD;
	if (set->nresolvers == 0 &&
	    !dns_settings_resolvers(set, why, sizeof(why))) {
		struct sockaddr_in *sin =
		    (struct sockaddr_in *)&set->resolver[0];

		logmsg(LOG_L_WARN, "%s; asking 127.0.0.1 port 53", why);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(53);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		set->nresolvers = 1;
	}
}

/* same_settings - would a new client behave as the old one? */
static bool
same_settings(const struct dns_settings *a, const struct dns_settings *b)
{
	if (a->nresolvers != b->nresolvers || a->dnssec != b->dnssec)
		return false;
	for (size_t i = 0; i < a->nresolvers; i++)
		if (memcmp(&a->resolver[i], &b->resolver[i],
		    sizeof(a->resolver[i])) != 0)
			return false;
	return true;
}

/* uses_dane - does a service of conf rely on DNSSEC? */
static bool
uses_dane(const struct conf *conf)
{
	for (size_t i = 0; i < conf->nservices; i++)
		if (conf->services[i].level == LEV_DANE ||
		    conf->services[i].level == LEV_DANE_ONLY)
			return true;
	return false;
}

bool
server_dns_setup(struct server *srv, const struct conf *conf, char *err,
    size_t errlen)
{
	struct server_dns *d;
	struct dns_settings set;

	server_dns_settings(conf, &set);
	if (srv->dns != NULL && same_settings(&srv->dns->set, &set))
		return true;
	/* Said once per configuration, by the first worker. */
	if (!srv->joins && uses_dane(conf) && set.dnssec ==
	    DNSSEC_MODE_TRUST_AD && !dns_settings_trusted(&set))
		logmsg(LOG_L_WARN, "dnssec = trust-ad: a resolver is not on "
		    "loopback, so its AD bit is not believed: lookups are "
		    "recorded as dnssec=indeterminate and DANE cannot "
		    "authenticate (run a validating resolver such as Unbound "
		    "on 127.0.0.1 and set resolver = 127.0.0.1)");
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	d->set = set;
	d->refs = 1;
	if ((d->client = dns_client_new(srv->loop, &set, err, errlen))
	    == NULL) {
		free(d);
		return false;
	}
	server_dns_close(srv);
	srv->dns = d;
	return true;
}

struct server_dns *
server_dns_get(struct server *srv, char *err, size_t errlen)
{
	if (srv->dns == NULL &&
	    !server_dns_setup(srv, srv->conf, err, errlen))
		return NULL;
	srv->dns->refs++;
	return srv->dns;
}

void
server_dns_put(struct server_dns *d)
{
	if (d == NULL || --d->refs > 0)
		return;
	dns_client_close(d->client);
	free(d);
}

struct dns_client *
server_dns_client(struct server_dns *d)
{
	return d->client;
}

void
server_dns_close(struct server *srv)
{
	server_dns_put(srv->dns);
	srv->dns = NULL;
}
