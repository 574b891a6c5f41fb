/*
 * dns_forward_srv.c - the daemon's DNS forwarder: started by the first
 * worker for the configuration's dns_listen, kept across reloads that do
 * not change it, and taught the process's name map (name_map_global).
 *
 * Only the first worker's thread touches the state here (server_init,
 * server_apply and server_close run on it), so no lock is needed.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "shim/conf.h"
#include "shim/dns_forward.h"
#include "shim/io.h"
#include "shim/log.h"
#include "shim/name_map.h"
#include "shim/server.h"

static struct dns_fwd *running;
static struct conf_addr running_at[CONF_MAX_DNS_LISTEN];
static size_t nrunning;

/* same_listen - does conf ask for the addresses the forwarder has? */
static bool
same_listen(const struct conf *conf)
{
	if (conf->ndns_listen != nrunning)
		return false;
	for (size_t i = 0; i < nrunning; i++)
		if (strcmp(conf->dns_listen[i].text, running_at[i].text) != 0)
			return false;
	return true;
}

/* is_loopback - 127/8 or ::1 */
static bool
is_loopback(const struct sockaddr_storage *a)
{
	static const uint8_t one6[16] = { [15] = 1 };
	struct nm_addr x;

	if (!nm_addr_from(&x, (const struct sockaddr *)a))
		return false;
	return x.family == AF_INET ? x.a[0] == 127 :
	    memcmp(x.a, one6, 16) == 0;
}

/*
 * loops - is resolver r one of the forwarder's own addresses?  Then every
 * query would come back to it: the host's resolv.conf naming tlshim's
 * forwarder is the usual way to get there.  A wildcard listener answers
 * on loopback too.
 */
static bool
loops(const struct conf *conf, const struct sockaddr_storage *r)
{
	static const uint8_t zero[16];

	for (size_t i = 0; i < conf->ndns_listen; i++) {
		const struct sockaddr_storage *l = &conf->dns_listen[i].ss;
		struct nm_addr la, ra;
		uint16_t lp, rp;

		if (l->ss_family != r->ss_family ||
		    !nm_addr_from(&la, (const struct sockaddr *)l) ||
		    !nm_addr_from(&ra, (const struct sockaddr *)r))
			continue;
		lp = l->ss_family == AF_INET6 ?
		    ((const struct sockaddr_in6 *)l)->sin6_port :
		    ((const struct sockaddr_in *)l)->sin_port;
		rp = r->ss_family == AF_INET6 ?
		    ((const struct sockaddr_in6 *)r)->sin6_port :
		    ((const struct sockaddr_in *)r)->sin_port;
		if (lp != rp)
			continue;
		if (memcmp(la.a, ra.a, 16) == 0 ||
		    (memcmp(la.a, zero, 16) == 0 && is_loopback(r)))
			return true;
	}
	return false;
}

void
dns_fwd_stop(struct server *srv)
{
	if (srv->joins || running == NULL)
		return;
	dns_fwd_close(running);
	running = NULL;
	nrunning = 0;
}

bool
dns_fwd_apply(struct server *srv, const struct conf *conf, char *err,
    size_t errlen)
{
	struct sockaddr_storage addr[CONF_MAX_DNS_LISTEN];
	struct dns_settings set;
	struct dns_fwd *f;
	char text[64];
	uint16_t port;

	if (srv->joins)
		return true;
	if (conf->ndns_listen == 0) {
		if (running != NULL)
			logmsg(LOG_L_INFO, "DNS forwarder stopped");
		dns_fwd_stop(srv);
		return true;
	}
	server_dns_settings(conf, &set);
	for (size_t i = 0; i < set.nresolvers; i++)
		if (loops(conf, &set.resolver[i])) {
			io_addr_text((const struct sockaddr *)&set.resolver[i],
			    text, sizeof(text), &port);
			snprintf(err, errlen, "dns_listen: the resolver %s "
			    "port %u is the forwarder itself, so queries "
			    "would loop (set resolver = to the real "
			    "resolver)", text, port);
			return false;
		}
	if (running != NULL && same_listen(conf)) {
		dns_fwd_set_resolvers(running, &set);
		return true;
	}
	if (!name_map_global_init()) {
		snprintf(err, errlen, "dns_listen: out of memory");
		return false;
	}
	/* The old sockets hold the addresses: let them go first. */
	dns_fwd_stop(srv);
	for (size_t i = 0; i < conf->ndns_listen; i++)
		addr[i] = conf->dns_listen[i].ss;
	if ((f = dns_fwd_new(srv->loop, addr, conf->ndns_listen, &set,
	    name_map_global(), err, errlen)) == NULL)
		return false;
	running = f;
	nrunning = conf->ndns_listen;
	memcpy(running_at, conf->dns_listen, sizeof(running_at));
	for (size_t i = 0; i < nrunning; i++)
		logmsg(LOG_L_INFO, "DNS forwarder listening on %s (UDP and "
		    "TCP), forwarding to %zu resolver%s", running_at[i].text,
		    set.nresolvers, set.nresolvers == 1 ? "" : "s");
	return true;
}
