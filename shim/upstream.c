/*
 * upstream.c - find the upstream server and connect to it.
 *
 * The plan: a list of targets (the configured host; the MX hosts of a
 * domain by preference, RFC 5321 5.1; or the SRV targets of a domain by
 * priority and weight, RFC 2782, 6186), each resolved with tlshim's own
 * DNS client (A and AAAA in parallel), each of its addresses tried in
 * turn.  Under the DANE levels a target's TLSA records are looked up once
 * its address records are secure, and decide what the session asks of
 * TLS with that target (RFC 7672 2.2):
 *
 *   secure, usable TLSA            TLS authenticated by them (s->level dane)
 *   secure, only unusable TLSA     TLS without authentication (encrypt)
 *   insecure, none, indeterminate  as may (dane-only: target unusable)
 *   bogus or failed lookup         target unusable: never "no TLSA"
 *
 * A target that cannot be used, or that fails what its TLSA demanded
 * (no STARTTLS, a failed handshake, a DANE mismatch), is skipped for the
 * next one (RFC 7672 2.1.2), with its reason kept in the session record;
 * when none is left the session is refused.
 *
 * The MX and SRV lookups that make a plan of a domain are in
 * upstream_route.c; what TLS asks of a target (SNI, ALPN, the checks after
 * the handshake) in upstream_tls.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/dane.h"
#include "shim/dns.h"
#include "shim/log.h"
#include "shim/server.h"
#include "shim/session.h"
#include "shim/tls.h"
#include "shim/transparent.h"
#include "shim/upstream_int.h"

static void	try_connect(struct session *);

/* plan_cancel - drop the lookups in flight */
static void
plan_cancel(struct upstream_plan *p)
{
	for (size_t i = 0; i < 2; i++)
		if (p->req[i] != NULL) {
			dns_cancel(p->req[i]);
			p->req[i] = NULL;
		}
	p->pending = 0;
}

/* upstream_cancel - the session ends: no lookup may call back */
void
upstream_cancel(struct session *s)
{
	if (s->plan != NULL)
		plan_cancel(s->plan);
}

/* upstream_free - the session is done with its plan */
void
upstream_free(struct session *s)
{
	if (s->plan == NULL)
		return;
	plan_cancel(s->plan);
	free(s->plan->tlsa);
	free(s->plan->srv);
	free(s->plan);
	s->plan = NULL;
	if (s->dns != NULL) {
		server_dns_put(s->dns);
		s->dns = NULL;
	}
}

/* dane_level - is the configured level one of the DANE levels? */
static bool
dane_level(const struct session *s)
{
	return s->conf->level == LEV_DANE || s->conf->level == LEV_DANE_ONLY;
}

/* note_dnssec - fold one lookup's state into the session record */
void
upstream_note_dnssec(struct session *s, enum dnssec_state st)
{
	struct upstream_plan *p = s->plan;

	p->dnssec = dnssec_weakest(p->dnssec, st);
	snprintf(s->out.dnssec, sizeof(s->out.dnssec), "%s",
	    dnssec_name(p->dnssec));
}

/* lookup - ask the session's DNS client; false after refusing */
bool
upstream_lookup(struct session *s, size_t slot, const char *name, uint16_t type,
    dns_cb cb)
{
	struct upstream_plan *p = s->plan;
	char err[160];

	p->req[slot] = dns_lookup(server_dns_client(s->dns), name, type, cb,
	    s, err, sizeof(err));
	if (p->req[slot] == NULL) {
		sess_refuse(s, RES_FAILED, CAUSE_LOCAL,
		    "cannot look up %s: %s", name, err);
		return false;
	}
	p->pending++;
	return true;
}

/* lookup_error - a failed lookup in words */
const char *
upstream_lookup_error(const struct dns_result *r)
{
	if (r->status == DNS_SERVFAIL && r->dnssec == DNSSEC_BOGUS)
		return "DNSSEC bogus (the validating resolver said SERVFAIL)";
	if (r->err != NULL && r->err[0] != '\0')
		return r->err;
	return dns_status_name(r->status);
}

/* ------------------------------------------------------------- targets */

/* skip_target - record why the current target is left and move past it;
 * false when it was the last (the caller refuses) */
static bool
skip_target(struct session *s, const char *why)
{
	struct upstream_plan *p = s->plan;

	if (p == NULL || p->cur + 1 >= p->nt)
		return false;
	outcome_add_reason(&s->out, "%s: %s", p->t[p->cur].host, why);
	slog(LOG_L_DETAIL, s, "skipping %s: %s", p->t[p->cur].host, why);
	p->cur++;
	return true;
}

/* next_target - this target cannot be used: say why, go on with the next
 * one, or refuse when it was the last */
static void
next_target(struct session *s, enum result r, enum cause cause,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
next_target(struct session *s, enum result r, enum cause cause,
    const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!skip_target(s, why)) {
		sess_refuse(s, r, cause, "%s", why);
		return;
	}
	upstream_start_target(s);
}

/* reset_outcome - what the record says of a target left behind */
static void
reset_outcome(struct session *s)
{
	struct outcome *o = &s->out;

	o->starttls_offered = false;
	o->result = RES_NONE;
	o->tls_version[0] = o->cipher[0] = o->group[0] = '\0';
	o->cert_sha256[0] = o->spki_sha256[0] = o->tlsa[0] = '\0';
	outcome_release(o);		/* tlsa in full, the server's name */
	o->cert_subject[0] = o->cert_issuer[0] = '\0';
	o->cert_expires = 0;
	o->auth = AUTH_NONE;
	o->resumed = false;
	o->addr[0] = '\0';
	o->dnssec[0] = '\0';
}

/*
 * upstream_try_next - after connecting: this target failed what it had to
 * do (TLS its TLSA made mandatory, DANE authentication).  True when there
 * is another target and the session goes on with it; false when this was
 * the last one and the caller refuses as it would have.
 */
bool
upstream_try_next(struct session *s, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!skip_target(s, why))
		return false;
	if (s->up.open && !s->up.failed && s->proto->up_quit != NULL &&
	    !s->up_tls)
		io_write(&s->up, s->proto->up_quit, strlen(s->proto->up_quit));
	sess_forget_upstream(s);
	s->plain_retry = false;
	s->handshake_done = false;
	s->up_reopen = UP_REOPEN_TARGET;
	io_close(&s->up);
	return true;
}

/* addr_add - keep one address of the current target (bounded) */
static void
addr_add(struct sockaddr_storage *v, size_t *n, const struct dns_rr *rr,
    uint16_t port)
{
	struct sockaddr_storage *ss;

	if (*n >= UP_ADDRS_MAX)
		return;
	ss = &v[(*n)++];
	memset(ss, 0, sizeof(*ss));
	if (rr->u.a.family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, rr->u.a.addr, 16);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, rr->u.a.addr, 4);
	}
}

/* connect_target - the level for this target is known: connect */
static void
connect_target(struct session *s)
{
	struct upstream_plan *p = s->plan;

	/* IPv6 first, then alternating, so that both families are tried
	 * early when one of them is broken (RFC 8305 4). */
	p->naddr = p->acur = 0;
	for (size_t i = 0; i < UP_ADDRS_MAX && p->naddr < UP_ADDRS_MAX; i++) {
		if (i < p->n6)
			p->addr[p->naddr++] = p->got6[i];
		if (i < p->n4 && p->naddr < UP_ADDRS_MAX)
			p->addr[p->naddr++] = p->got4[i];
	}
	if (p->has_only && (p->naddr = transparent_only(s, p->addr, p->naddr,
	    &p->only)) == 0)
		return;
	if (p->naddr == 0) {
		next_target(s, RES_FAILED, CAUSE_DNS, "no address for %s%s%s",
		    p->t[p->cur].host, p->addr_err[0] != '\0' ? ": " : "",
		    p->addr_err);
		return;
	}
	slog(LOG_L_DETAIL, s, "%s: %zu addresses, security %s", 
	    p->t[p->cur].host, p->naddr, level_name(s->level));
	try_connect(s);
}

/* on_tlsa - the TLSA records of the current target (DANE levels) */
static void
on_tlsa(void *arg, const struct dns_result *r)
{
	struct session *s = arg;
	struct upstream_plan *p = s->plan;
	const struct dns_answer *a = r->answer;
	size_t usable;
	char rec[128];

	p->req[0] = NULL;
	p->pending--;
	upstream_note_dnssec(s, r->dnssec);
	if (p->tlsa_at_cname && r->dnssec == DNSSEC_SECURE &&
	    (r->status == DNS_NODATA || r->status == DNS_NXDOMAIN)) {
		/* None at the expanded name: the original name's then. */
		char qname[DNS_NAME_MAX + 16];

		p->tlsa_at_cname = false;
		snprintf(qname, sizeof(qname), "_%u._tcp.%s",
		    p->t[p->cur].port, p->t[p->cur].host);
		upstream_lookup(s, 0, qname, DNS_T_TLSA, on_tlsa);
		return;
	}
	if (r->status != DNS_OK && r->status != DNS_NODATA &&
	    r->status != DNS_NXDOMAIN) {
		/* RFC 7672 2.1.1: a failed TLSA lookup is not "no TLSA". */
		next_target(s, RES_FAILED, CAUSE_DNS,
		    "TLSA lookup for %s failed: %s",
		    r->name, upstream_lookup_error(r));
		return;
	}
	if (r->status != DNS_OK || r->dnssec != DNSSEC_SECURE) {
		if (s->conf->level == LEV_DANE_ONLY) {
			next_target(s, RES_REFUSED, CAUSE_DANE_REQUIRED,
			    "security = dane-only: "
			    "no secure TLSA records at %s (%s, %s)", r->name,
			    dns_status_name(r->status),
			    dnssec_name(r->dnssec));
			return;
		}
		/* Insecure or absent: DANE does not apply (RFC 6698 4.1). */
		s->level = LEV_MAY;
		connect_target(s);
		return;
	}
	usable = 0;
	for (size_t i = 0; i < a->n; i++)
		if (dane_usable(&a->rr[i].u.tlsa))
			usable++;
	if (usable == 0) {
		if (s->conf->level == LEV_DANE_ONLY) {
			next_target(s, RES_REFUSED, CAUSE_DANE_REQUIRED,
			    "security = dane-only: the "
			    "TLSA records at %s are all unusable", r->name);
			return;
		}
		/* RFC 7672 2.2: TLS is mandatory, authentication is not. */
		s->level = LEV_ENCRYPT;
		outcome_add_reason(&s->out, "TLSA records at %s are all "
		    "unusable: TLS without authentication", r->name);
		connect_target(s);
		return;
	}
	free(p->tlsa);
	if ((p->tlsa = calloc(a->n, sizeof(*p->tlsa))) == NULL) {
		sess_refuse(s, RES_FAILED, CAUSE_LOCAL, "out of memory");
		return;
	}
	p->ntlsa = 0;
	outcome_clear_tlsa(&s->out);
	for (size_t i = 0; i < a->n; i++) {
		const struct dns_tlsa *t = &a->rr[i].u.tlsa;

		if (!dane_usable(t))
			continue;
		p->tlsa[p->ntlsa++] = *t;
		dane_format(t, rec, sizeof(rec));
		if (strlen(s->out.tlsa) + strlen(rec) + 2 <
		    sizeof(s->out.tlsa))
			snprintf(s->out.tlsa + strlen(s->out.tlsa),
			    sizeof(s->out.tlsa) - strlen(s->out.tlsa), "%s%s",
			    s->out.tlsa[0] != '\0' ? ", " : "", rec);
		/* tlsa cuts a whole certificate short and may not hold
		 * every record; a TLSRPT policy string is the RRset as
		 * published (RFC 8460 4.3), so the record keeps that too. */
		if (!outcome_add_tlsa(&s->out, t->usage, t->selector,
		    t->mtype, t->data, t->len)) {
			sess_refuse(s, RES_FAILED, CAUSE_LOCAL,
			    "out of memory");
			return;
		}
	}
	snprintf(p->tlsa_base, sizeof(p->tlsa_base), "%s",
	    p->tlsa_at_cname ? p->cname : p->t[p->cur].host);
	s->level = s->conf->level;
	connect_target(s);
}

/* addresses_done - both address lookups are in: decide on TLSA */
static void
addresses_done(struct session *s)
{
	struct upstream_plan *p = s->plan;
	const struct up_target *t = &p->t[p->cur];
	char qname[DNS_NAME_MAX + 16];

	upstream_note_dnssec(s, p->addr_sec);
	if (p->n6 + p->n4 == 0) {
		connect_target(s);	/* says why there is no address */
		return;
	}
	s->level = s->conf->level;
	if (!dane_level(s)) {
		connect_target(s);
		return;
	}
	/* RFC 7672 2.1.1: a bogus or failed lookup makes the host
	 * unusable, where "insecure" would have let DANE off. */
	if (p->addr_sec == DNSSEC_BOGUS || p->addr_failed) {
		next_target(s, RES_FAILED, CAUSE_DNS,
		    "address lookup for %s failed: %s",
		    t->host, p->addr_err[0] != '\0' ? p->addr_err :
		    "DNSSEC bogus");
		return;
	}
	/* TLSA is looked up only for a secure name reached securely
	 * (RFC 7672 2.2.1, 2.2.2): the MX or SRV RRset, then the
	 * addresses. */
	if (p->addr_sec != DNSSEC_SECURE ||
	    (t->src != DNSSEC_UNKNOWN && t->src != DNSSEC_SECURE)) {
		if (s->conf->level == LEV_DANE_ONLY) {
			next_target(s, RES_REFUSED, CAUSE_DANE_REQUIRED,
			    "security = dane-only: %s "
			    "is not DNSSEC-secure (%s)", t->host,
			    dnssec_name(t->src != DNSSEC_UNKNOWN &&
			    t->src != DNSSEC_SECURE ? t->src : p->addr_sec));
			return;
		}
		s->level = LEV_MAY;
		connect_target(s);
		return;
	}
	p->tlsa_at_cname = p->cname[0] != '\0';
	snprintf(qname, sizeof(qname), "_%u._tcp.%s", t->port,
	    p->tlsa_at_cname ? p->cname : t->host);
	upstream_lookup(s, 0, qname, DNS_T_TLSA, on_tlsa);
}

/* on_address - one of the A and AAAA lookups of the current target */
static void
on_address(void *arg, const struct dns_result *r)
{
	struct session *s = arg;
	struct upstream_plan *p = s->plan;
	const struct up_target *t = &p->t[p->cur];

	p->req[r->type == DNS_T_AAAA ? 1 : 0] = NULL;
	p->pending--;
	p->addr_sec = dnssec_weakest(p->addr_sec, r->dnssec);
	if (r->answer->cname[0] != '\0')
		snprintf(p->cname, sizeof(p->cname), "%s", r->answer->cname);
	if (r->status == DNS_OK) {
		for (size_t i = 0; i < r->answer->n; i++) {
			const struct dns_rr *rr = &r->answer->rr[i];

			if (rr->u.a.family == AF_INET6)
				addr_add(p->got6, &p->n6, rr, t->port);
			else
				addr_add(p->got4, &p->n4, rr, t->port);
		}
	} else if (r->status != DNS_NODATA) {
		/* NXDOMAIN is an answer, not a failure; the other kinds
		 * are failures. */
		if (r->status != DNS_NXDOMAIN)
			p->addr_failed = true;
		snprintf(p->addr_err, sizeof(p->addr_err), "%s",
		    upstream_lookup_error(r));
	}
	if (p->pending == 0)
		addresses_done(s);
}

/* start_target - resolve the current target, or refuse if none is left */
void
upstream_start_target(struct session *s)
{
	struct upstream_plan *p = s->plan;
	struct up_target *t;

	if (p->cur >= p->nt) {
		sess_refuse(s, RES_FAILED, CAUSE_CONNECT,
		    "no usable upstream");
		return;
	}
	t = &p->t[p->cur];
	reset_outcome(s);
	p->dnssec = DNSSEC_UNKNOWN;
	snprintf(s->out.peer, sizeof(s->out.peer), "%s", t->host);
	s->out.port = t->port;
	s->peer_is_ip = t->is_ip;
	s->tls_mode = s->conf->tls == TLSM_AUTO ? t->tls : s->conf->tls;
	if (t->src != DNSSEC_UNKNOWN)
		upstream_note_dnssec(s, t->src);
	free(p->tlsa);
	p->tlsa = NULL;
	p->ntlsa = 0;
	p->n6 = p->n4 = 0;
	p->addr_sec = DNSSEC_UNKNOWN;
	p->addr_failed = false;
	p->addr_err[0] = '\0';
	p->cname[0] = '\0';
	p->tlsa_at_cname = false;
	p->tlsa_base[0] = '\0';
	s->level = s->conf->level;
	sess_arm_timer(s, s->conf->connect_timeout_ms);
	if (t->is_ip) {
		struct dns_rr rr;

		memset(&rr, 0, sizeof(rr));
		if (inet_pton(AF_INET6, t->host, rr.u.a.addr) == 1) {
			rr.u.a.family = AF_INET6;
			addr_add(p->got6, &p->n6, &rr, t->port);
		} else if (inet_pton(AF_INET, t->host, rr.u.a.addr) == 1) {
			rr.u.a.family = AF_INET;
			addr_add(p->got4, &p->n4, &rr, t->port);
		}
		connect_target(s);
		return;
	}
	if (!upstream_lookup(s, 1, t->host, DNS_T_AAAA, on_address))
		return;
	upstream_lookup(s, 0, t->host, DNS_T_A, on_address);
}

/* ------------------------------------------------------------- connect */

static void
on_connect(uv_connect_t *req, int status)
{
	struct session *s = req->data;
	const struct sockaddr *sa;
	char addr[48];
	uint16_t port;

	if (s->ending || status == UV_ECANCELED)
		return;
	sa = (const struct sockaddr *)&s->plan->addr[s->plan->acur];
	io_addr_text(sa, addr, sizeof(addr), &port);
	if (status < 0) {
		slog(LOG_L_DETAIL, s, "connect to %s port %u: %s", addr, port,
		    uv_strerror(status));
		s->last_connect_err = status;
		s->up_reopen = UP_REOPEN_NEXT;
		io_close(&s->up);
		return;
	}
	snprintf(s->out.addr, sizeof(s->out.addr), "%s", addr);
	s->out.port = port;
	uv_tcp_nodelay(&s->up.tcp, 1);
	slog(LOG_L_DETAIL, s, "connected to %s port %u", addr, port);
	sess_connected(s);
}

/* try_connect - connect to the current address, or go on with the next
 * target when none is left */
static void
try_connect(struct session *s)
{
	struct upstream_plan *p = s->plan;
	int rc;

	if (p->acur >= p->naddr) {
		next_target(s, RES_FAILED, CAUSE_CONNECT,
		    "cannot connect to %s port %u: %s",
		    p->t[p->cur].host, p->t[p->cur].port,
		    s->last_connect_err != 0 ?
		    uv_strerror(s->last_connect_err) : "no address");
		return;
	}
	io_init(&s->up, s, "server");
	/* The socket now (not at connect), so that so_mark is on it before
	 * its first packet. */
	if ((rc = uv_tcp_init_ex(s->srv->loop, &s->up.tcp,
	    p->addr[p->acur].ss_family)) < 0) {
		sess_refuse(s, RES_FAILED, CAUSE_LOCAL,
		    "socket: %s", uv_strerror(rc));
		return;
	}
	s->up.open = true;
	s->handles++;
	sess_enter(s, SS_CONNECTING);
	s->connreq.data = s;
	if ((rc = upstream_set_mark(s)) == 0)
		rc = uv_tcp_connect(&s->connreq, &s->up.tcp,
		    (const struct sockaddr *)&p->addr[p->acur], on_connect);
	if (rc < 0) {
		s->last_connect_err = rc;
		s->up_reopen = UP_REOPEN_NEXT;
		io_close(&s->up);
	}
}

/* upstream_on_closed - a failed or abandoned upstream handle is closed */
void
upstream_on_closed(struct session *s)
{
	int how = s->up_reopen;

	s->up_reopen = UP_REOPEN_NONE;
	switch (how) {
	case UP_REOPEN_NEXT:
		s->plan->acur++;
		try_connect(s);
		break;
	case UP_REOPEN_SAME:
		try_connect(s);
		break;
	case UP_REOPEN_TARGET:
		s->last_connect_err = 0;
		sess_enter(s, SS_RESOLVING);
		upstream_start_target(s);
		break;
	}
}

/* upstream_on_timeout - this address did not answer in time */
void
upstream_on_timeout(struct session *s)
{
	s->last_connect_err = UV_ETIMEDOUT;
	s->up_reopen = UP_REOPEN_NEXT;
	io_close(&s->up);
}

void
upstream_reconnect(struct session *s)
{
	s->up_reopen = UP_REOPEN_SAME;
	io_close(&s->up);
}

/* ------------------------------------------------------------- start */

void
upstream_start(struct session *s)
{
	const struct conf_service *c = s->conf;
	struct upstream_plan *p;
	char err[160];

	if (s->out.peer[0] == '\0')
		snprintf(s->out.peer, sizeof(s->out.peer), "%s", s->dest);
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		sess_refuse(s, RES_FAILED, CAUSE_LOCAL, "out of memory");
		return;
	}
	s->plan = p;
	if (c->upstream_kind != UPK_HOST || !c->upstream_is_ip) {
		if ((s->dns = server_dns_get(s->srv, err, sizeof(err)))
		    == NULL) {
			sess_refuse(s, RES_FAILED, CAUSE_LOCAL,
			    "DNS: %s", err);
			return;
		}
	}
	switch (c->upstream_kind) {
	case UPK_MX:
		snprintf(s->out.name_source, sizeof(s->out.name_source), "mx");
		upstream_route_mx(s, c->upstream_host);
		return;
	case UPK_SRV:
		/* upstream = srv: the domain the client named. */
		if (c->upstream_host[0] == '\0' && s->dest[0] == '\0') {
			sess_refuse(s, RES_FAILED, CAUSE_PROTOCOL,
			    "upstream = srv, but the client named no domain");
			return;
		}
		upstream_route_srv(s, c->upstream_host[0] != '\0' ?
		    c->upstream_host : s->dest);
		return;
	case UPK_TRANSPARENT:
		/* Where the client was going, by name if one is known. */
		if (!transparent_target(s, p->t[0].host, sizeof(p->t[0].host),
		    &p->t[0].port, &p->t[0].is_ip, &p->only))
			return;
		p->has_only = true;
		p->nt = 1;
		upstream_start_target(s);
		return;
	case UPK_HOST:
	case UPK_LAST:
		break;
	}
	snprintf(p->t[0].host, sizeof(p->t[0].host), "%s", c->upstream_host);
	p->t[0].port = c->upstream_port;
	p->t[0].is_ip = c->upstream_is_ip;
	p->nt = 1;
	upstream_start_target(s);
}
