/*
 * transparent.c - transparent mode: where a redirected connection was
 * going, what that server is called, and the socket options that keep
 * tlshim's own connections out of the redirect rules.  See transparent.h.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/netfilter_ipv4.h>	/* SO_ORIGINAL_DST */

#include "shim/conf.h"
#include "shim/dns_msg.h"
#include "shim/log.h"
#include "shim/name_map.h"
#include "shim/session.h"
#include "shim/transparent.h"

/* linux/netfilter_ipv6/ip6_tables.h defines it too, but drags in the
 * kernel's own idea of the socket headers: the same value, for IPv6
 * sockets (SOL_IPV6). */
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST	80
#endif

/* same_host - the same family and address (ports aside) */
static bool
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct nm_addr x, y;

	return nm_addr_from(&x, (const struct sockaddr *)a) &&
	    nm_addr_from(&y, (const struct sockaddr *)b) &&
	    x.family == y.family &&
	    memcmp(x.a, y.a, x.family == AF_INET6 ? 16 : 4) == 0;
}

static uint16_t
port_of(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return ntohs(((const struct sockaddr_in *)a)->sin_port);
}

/* wildcard - 0.0.0.0 or :: */
static bool
wildcard(const struct sockaddr_storage *a)
{
	static const uint8_t zero[16];
	struct nm_addr x;

	return nm_addr_from(&x, (const struct sockaddr *)a) &&
	    memcmp(x.a, zero, x.family == AF_INET6 ? 16 : 4) == 0;
}

/*
 * is_tlshim - is orig one of tlshim's own listen addresses?  tproxy: an
 * address a listener takes connections on (a wildcard listener's port on
 * any address), since a direct connection's local address is all there
 * is.  redirect: the accepted socket's local address (no NAT happened:
 * SO_ORIGINAL_DST gives it back), or a listener named exactly.
 */
static bool
is_tlshim(const struct session *s, const struct sockaddr_storage *orig,
    const struct sockaddr_storage *local)
{
	const struct conf *c = s->conf_root;

	if (s->conf->transparent != TP_TPROXY && same_host(orig, local) &&
	    port_of(orig) == port_of(local))
		return true;
	for (size_t i = 0; i < c->nservices; i++)
		for (size_t j = 0; j < c->services[i].nlisten; j++) {
			const struct sockaddr_storage *l =
			    &c->services[i].listen[j].ss;

			if (l->ss_family != orig->ss_family ||
			    port_of(l) != port_of(orig))
				continue;
			if (same_host(l, orig) ||
			    (s->conf->transparent == TP_TPROXY && wildcard(l)))
				return true;
		}
	return false;
}

/* original_dst - where the client connected before NAT redirected it;
 * -1 with errno (ENOENT: no NAT record, the connection was not
 * redirected) */
static int
original_dst(int fd, int family, struct sockaddr_storage *out)
{
	socklen_t len = sizeof(*out);

	memset(out, 0, sizeof(*out));
	if (family == AF_INET6)
		return getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, out,
		    &len);
	return getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, out, &len);
}

bool
transparent_target(struct session *s, char *host, size_t hostlen,
    uint16_t *port, bool *is_ip, struct sockaddr_storage *orig)
{
	struct sockaddr_storage local, peer;
	struct nm_addr oa, ca;
	struct name_map *map = name_map_global();
	enum nm_kind kind = NM_NONE;
	socklen_t len = sizeof(local);
	char addr[48], name[DNS_NAME_MAX];
	uv_os_fd_t fd;
	uint16_t p;
	int plen = sizeof(peer);

	if (uv_fileno((uv_handle_t *)&s->down.tcp, &fd) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &len) < 0) {
		sess_refuse(s, RES_FAILED, CAUSE_LOCAL, "transparent: cannot "
		    "read the connection's address: %s", strerror(errno));
		return false;
	}
	if (s->conf->transparent == TP_TPROXY)
		*orig = local;
	else if (original_dst(fd, local.ss_family, orig) < 0) {
		int e = errno;

		/* No NAT record: the client connected to tlshim's own
		 * address.  Relayed, it would come straight back. */
		io_addr_text((struct sockaddr *)&local, addr, sizeof(addr),
		    &p);
		snprintf(s->out.peer, sizeof(s->out.peer), "%s", addr);
		snprintf(s->out.name_source, sizeof(s->out.name_source),
		    "none");
		sess_refuse(s, RES_REFUSED, CAUSE_NOT_REDIRECTED, "connection "
		    "to %s port %u was not redirected (no original "
		    "destination: %s): refused, relaying it would loop back "
		    "to tlshim", addr, p, strerror(e));
		return false;
	}
	io_addr_text((struct sockaddr *)orig, addr, sizeof(addr), &p);
	*port = p;
	snprintf(s->out.addr, sizeof(s->out.addr), "%s", addr);
	s->out.port = p;
	if (is_tlshim(s, orig, &local)) {
		snprintf(s->out.peer, sizeof(s->out.peer), "%s", addr);
		snprintf(s->out.name_source, sizeof(s->out.name_source),
		    "none");
		sess_refuse(s, RES_REFUSED, CAUSE_NOT_REDIRECTED, "connection "
		    "to tlshim's own address %s port %u, not redirected: "
		    "refused, relaying it would loop back to tlshim", addr, p);
		return false;
	}
	/* A name the client itself gave (a client-first protocol: XMPP's
	 * stream "to", through sess_set_dest) comes first. */
	if (s->dest[0] != '\0' && strlen(s->dest) < hostlen) {
		snprintf(host, hostlen, "%s", s->dest);
		*is_ip = false;
		snprintf(s->out.name_source, sizeof(s->out.name_source), "%s",
		    s->dest_source != NULL ? s->dest_source : "client");
		slog(LOG_L_DETAIL, s, "original destination %s port %u is %s "
		    "(name_source=%s)", addr, p, host, s->out.name_source);
		return true;
	}
	if (map != NULL && nm_addr_from(&oa, (struct sockaddr *)orig)) {
		memset(&ca, 0, sizeof(ca));
		if (uv_tcp_getpeername(&s->down.tcp, (struct sockaddr *)&peer,
		    &plen) == 0)
			nm_addr_from(&ca, (struct sockaddr *)&peer);
		/* For SMTP relaying an MX host name is the TLSA base (RFC
		 * 7672 2.2.1): prefer it among several names. */
		kind = name_map_find(map, &oa, &ca, s->proto->mx_routing,
		    name_map_now(), name, sizeof(name));
	}
	if (kind != NM_NONE && strlen(name) < hostlen) {
		snprintf(host, hostlen, "%s", name);
		*is_ip = false;
		snprintf(s->out.name_source, sizeof(s->out.name_source), "%s",
		    kind == NM_MX ? "dns-mx" : "dns");
		slog(LOG_L_DETAIL, s, "original destination %s port %u is %s "
		    "(name_source=%s)", addr, p, name, s->out.name_source);
		return true;
	}
	snprintf(s->out.name_source, sizeof(s->out.name_source), "none");
	snprintf(s->out.peer, sizeof(s->out.peer), "%s", addr);
	/* Authentication needs the name the client meant; an address alone
	 * proves nothing about it. */
	if (s->conf->level == LEV_DANE_ONLY || s->conf->level == LEV_VERIFY) {
		sess_refuse(s, RES_REFUSED, CAUSE_NO_NAME, "no name known for "
		    "%s (name_source=none): security = %s needs the server's "
		    "name (have the client resolve through dns_listen)", addr,
		    level_name(s->conf->level));
		return false;
	}
	slog(LOG_L_DETAIL, s, "original destination %s port %u, no name "
	    "known", addr, p);
	snprintf(host, hostlen, "%s", addr);
	*is_ip = true;
	return true;
}

size_t
transparent_only(struct session *s, struct sockaddr_storage *addr, size_t n,
    const struct sockaddr_storage *orig)
{
	char text[48];
	uint16_t p;
	bool found = false;

	io_addr_text((const struct sockaddr *)orig, text, sizeof(text), &p);
	for (size_t i = 0; i < n; i++)
		if (same_host(&addr[i], orig))
			found = true;
	if (s->peer_is_ip) {
		/* No name: no TLSA (RFC 7672 2.2.2), so dane is may here. */
		if (s->level == LEV_DANE) {
			s->level = LEV_MAY;
			outcome_add_reason(&s->out, "no name known for %s: "
			    "DANE cannot apply", text);
		}
	} else if (!found) {
		/* The name no longer has that address (or never had it for
		 * this resolver).  DANE still authenticates the server's key
		 * as the name's; the record says what happened. */
		outcome_add_reason(&s->out, "%s is not an address of %s now",
		    text, s->out.peer);
		if (n == 0 && s->level == LEV_DANE_ONLY) {
			sess_refuse(s, RES_REFUSED, CAUSE_DANE_REQUIRED,
			    "security = dane-only: %s has no address records, "
			    "so no secure TLSA records", s->out.peer);
			return 0;
		}
		/* With no address records no TLSA decision was made. */
		if (n == 0 && s->level == LEV_DANE)
			s->level = LEV_MAY;
	}
	addr[0] = *orig;
	return 1;
}

bool
transparent_auth(struct session *s, bool ok, char *why, size_t whylen)
{
	if (!ok || s->conf->upstream_kind != UPK_TRANSPARENT ||
	    strcmp(s->out.name_source, "none") != 0)
		return ok;
	snprintf(why, whylen, "no name known for the server: its "
	    "certificate authenticates no name the client asked for");
	s->out.auth = AUTH_UNTRUSTED;
	return false;
}

/* ------------------------------------------------------- sockets */

int
upstream_set_mark(struct session *s)
{
	uint32_t mark = s->conf->so_mark;
	uv_os_fd_t fd;

	if (mark == 0)
		return 0;
	if (uv_fileno((uv_handle_t *)&s->up.tcp, &fd) < 0)
		return UV_EBADF;
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
		int e = errno;

		slog(LOG_L_WARN, s, "so_mark = %u on the upstream socket: %s "
		    "(so_mark needs CAP_NET_ADMIN)", mark, strerror(e));
		return -e;
	}
	return 0;
}

int
transparent_listen_opt(int fd, int family)
{
	int one = 1, rc;

	if (family == AF_INET6)
		rc = setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one,
		    sizeof(one));
	else
		rc = setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
	return rc < 0 ? -errno : 0;
}

/* ----------------------------------------------------- privileges */

/* needs_net_admin - does a service of c set so_mark? */
static bool
needs_net_admin(const struct conf *c)
{
	for (size_t i = 0; i < c->nservices; i++)
		if (c->services[i].so_mark != 0)
			return true;
	return false;
}

void
transparent_caps_keep(const struct conf *c)
{
	/* setuid() from root clears the permitted set unless told; the
	 * effective set is cleared either way and restored below. */
	if (needs_net_admin(c) && c->user != NULL && geteuid() == 0)
		(void)prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
}

bool
transparent_caps_check(const struct conf *c, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[2];
	uint32_t bit = CAP_TO_MASK(CAP_NET_ADMIN), mark = 1;
	int i = CAP_TO_INDEX(CAP_NET_ADMIN), fd, rc;

	if (!needs_net_admin(c))
		return true;
	if (geteuid() != 0) {
		/* Keep CAP_NET_ADMIN, effective, if it is permitted (kept
		 * across setuid, or given by the service manager), and
		 * nothing else. */
		memset(&hdr, 0, sizeof(hdr));
		memset(data, 0, sizeof(data));
		hdr.version = _LINUX_CAPABILITY_VERSION_3;
		if (syscall(SYS_capget, &hdr, data) == 0) {
			bool have = (data[i].permitted & bit) != 0;

			memset(data, 0, sizeof(data));
			if (have)
				data[i].permitted = data[i].effective = bit;
			(void)syscall(SYS_capset, &hdr, data);
		}
		(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "so_mark: socket: %s", strerror(errno));
		return false;
	}
	rc = setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "so_mark is set but SO_MARK fails "
		    "(%s): tlshimd needs CAP_NET_ADMIN for it; start it as "
		    "root (with user = it keeps that capability alone) or "
		    "give it CAP_NET_ADMIN (systemd: CapabilityBoundingSet, "
		    "AmbientCapabilities), or drop so_mark and skip tlshim's "
		    "user in the rules (meta skuid)", strerror(errno));
		return false;
	}
	return true;
}
