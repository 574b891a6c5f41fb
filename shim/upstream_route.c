/*
 * upstream_route.c - the targets of a domain: its MX hosts by preference
 * (RFC 5321 5.1), or the SRV targets of the protocol's labels by priority
 * and weight (RFC 2782, 6186; XEP-0368 with tls = auto).  The plan they
 * fill is then worked through by upstream.c, target by target.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "shim/dns.h"
#include "shim/log.h"
#include "shim/session.h"
#include "shim/srv.h"
#include "shim/upstream_int.h"

/* shuffle - put n targets in random order: hosts of equal MX preference
 * are to be tried in random order (RFC 5321 5.1) */
static void
shuffle(struct up_target *t, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		uint32_t r;
		size_t j;

		(void)gnutls_rnd(GNUTLS_RND_NONCE, &r, sizeof(r));
		j = r % i;
		if (j != i - 1) {
			struct up_target tmp = t[i - 1];

			t[i - 1] = t[j];
			t[j] = tmp;
		}
	}
}

/* on_mx - the MX hosts of the configured domain, by preference */
static void
on_mx(void *arg, const struct dns_result *r)
{
	struct session *s = arg;
	struct upstream_plan *p = s->plan;
	const struct dns_answer *a = r->answer;
	const struct dns_rr *rr[DNS_RR_MAX];
	size_t n = 0;

	p->req[0] = NULL;
	p->pending--;
	if (r->status == DNS_NODATA) {
		/* No MX: the domain itself is the implicit MX (RFC 5321
		 * 5.1), secure or not as this answer was. */
		snprintf(p->t[0].host, sizeof(p->t[0].host), "%s",
		    s->conf->upstream_host);
		p->t[0].port = s->conf->upstream_port;
		p->t[0].src = r->dnssec;
		p->nt = 1;
		upstream_start_target(s);
		return;
	}
	if (r->status != DNS_OK) {
		upstream_note_dnssec(s, r->dnssec);
		sess_refuse(s, r->status == DNS_NXDOMAIN ? RES_REFUSED :
		    RES_FAILED, CAUSE_DNS, "MX lookup for %s: %s",
		    s->conf->upstream_host,
		    r->status == DNS_NXDOMAIN ? "the domain does not exist" :
		    upstream_lookup_error(r));
		return;
	}
	for (size_t i = 0; i < a->n && n < DNS_RR_MAX; i++)
		rr[n++] = &a->rr[i];
	if (n == 1 && rr[0]->u.mx.host[0] == '\0') {
		/* RFC 7505: the domain accepts no mail. */
		upstream_note_dnssec(s, r->dnssec);
		sess_refuse(s, RES_REFUSED, CAUSE_DNS,
		    "%s accepts no mail (null MX)",
		    s->conf->upstream_host);
		return;
	}
	/* By preference; equal preferences in random order. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (rr[j]->u.mx.pref < rr[i]->u.mx.pref) {
				const struct dns_rr *tmp = rr[i];

				rr[i] = rr[j];
				rr[j] = tmp;
			}
	p->nt = 0;
	for (size_t i = 0; i < n && p->nt < UP_TARGETS_MAX; ) {
		size_t j = i, first = p->nt;

		while (j < n && rr[j]->u.mx.pref == rr[i]->u.mx.pref) {
			if (rr[j]->u.mx.host[0] != '\0' &&
			    p->nt < UP_TARGETS_MAX) {
				struct up_target *t = &p->t[p->nt++];

				snprintf(t->host, sizeof(t->host), "%s",
				    rr[j]->u.mx.host);
				t->port = s->conf->upstream_port;
				t->src = r->dnssec;
			}
			j++;
		}
		shuffle(&p->t[first], p->nt - first);
		i = j;
	}
	if (p->nt == 0) {
		sess_refuse(s, RES_REFUSED, CAUSE_DNS,
		    "no usable MX host for %s",
		    s->conf->upstream_host);
		return;
	}
	upstream_start_target(s);
}

/* srv_plan - every SRV answer is in: the targets in the order of RFC
 * 2782, the domain itself when there are none and the protocol says so
 * (RFC 6120 3.2.2), or a refusal */
static void
srv_plan(struct session *s)
{
	struct upstream_plan *p = s->plan;
	size_t order[UP_TARGETS_MAX], n;

	if (p->srv_err[0] != '\0') {
		/* A failed or bogus lookup is not "no records" (RFC 7673 3,
		 * RFC 7672 2.1.1): the fallback would be a downgrade. */
		sess_refuse(s, RES_FAILED, CAUSE_DNS, "%s", p->srv_err);
		return;
	}
	n = srv_order(p->srv, p->nsrv, order, UP_TARGETS_MAX);
	if (n == 0 && p->srv_dot) {
		/* RFC 2782: "." means the service is not offered; RFC 6120
		 * 3.2.1: then no fallback either. */
		sess_refuse(s, RES_REFUSED, CAUSE_DNS,
		    "%s: the domain says the service "
		    "is not offered (SRV target \".\")", p->srv_qname);
		return;
	}
	if (n == 0 && !s->proto->srv_fallback) {
		sess_refuse(s, RES_REFUSED, CAUSE_DNS, "SRV lookup %s: %s",
		    p->srv_qname, p->nsrv == 0 ? "no SRV records" :
		    "no usable SRV target");
		return;
	}
	if (n == 0) {
		/* The domain's own address records on the default port,
		 * reached as securely as the SRV answers said there are
		 * none. */
		struct up_target *t = &p->t[0];

		snprintf(t->host, sizeof(t->host), "%s", p->srv_domain);
		t->port = s->conf->upstream_port;
		t->tls = s->conf->tls == TLSM_IMPLICIT ? TLSM_IMPLICIT :
		    TLSM_STARTTLS;
		t->src = p->srv_sec;
		p->nt = 1;
		snprintf(s->out.name_source, sizeof(s->out.name_source), "%s",
		    s->conf->upstream_host[0] == '\0' && s->dest_source !=
		    NULL ? s->dest_source : "config");
		slog(LOG_L_DETAIL, s, "no SRV records for %s: its own "
		    "address on port %u", t->host, t->port);
		upstream_start_target(s);
		return;
	}
	p->nt = 0;
	for (size_t i = 0; i < n; i++) {
		const struct srv_rec *r = &p->srv[order[i]];
		struct up_target *t = &p->t[p->nt++];

		snprintf(t->host, sizeof(t->host), "%s", r->target);
		t->port = r->port;
		t->tls = r->tls;
		t->src = r->src;
	}
	upstream_start_target(s);
}

/* srv_answer - one SRV lookup's answer, kept until all are in */
static void
srv_answer(struct session *s, const struct dns_result *r, size_t slot,
    enum tls_mode tls)
{
	struct upstream_plan *p = s->plan;
	const struct dns_answer *a = r->answer;

	p->req[slot] = NULL;
	p->pending--;
	upstream_note_dnssec(s, r->dnssec);
	p->srv_sec = p->srv_sec == DNSSEC_UNKNOWN ? r->dnssec :
	    dnssec_weakest(p->srv_sec, r->dnssec);
	if (r->status == DNS_OK) {
		if (a->n == 1 && a->rr[0].u.srv.target[0] == '\0')
			p->srv_dot = true;
		for (size_t i = 0; i < a->n && p->nsrv < UP_SRV_MAX; i++) {
			struct srv_rec *v = &p->srv[p->nsrv++];

			snprintf(v->target, sizeof(v->target), "%s",
			    a->rr[i].u.srv.target);
			v->port = a->rr[i].u.srv.port;
			v->prio = a->rr[i].u.srv.prio;
			v->weight = a->rr[i].u.srv.weight;
			v->tls = tls;
			v->src = r->dnssec;
		}
	} else if (r->status != DNS_NODATA && r->status != DNS_NXDOMAIN &&
	    p->srv_err[0] == '\0')
		snprintf(p->srv_err, sizeof(p->srv_err), "SRV lookup %s: %s",
		    r->name, upstream_lookup_error(r));
	if (p->pending == 0)
		srv_plan(s);
}

/* on_srv - the SRV records of the label for STARTTLS (or the only one) */
static void
on_srv(void *arg, const struct dns_result *r)
{
	struct session *s = arg;

	srv_answer(s, r, 0, s->conf->tls == TLSM_IMPLICIT ? TLSM_IMPLICIT :
	    TLSM_STARTTLS);
}

/* on_srv_implicit - tls = auto: the label for implicit TLS (XEP-0368) */
static void
on_srv_implicit(void *arg, const struct dns_result *r)
{
	srv_answer(arg, r, 1, TLSM_IMPLICIT);
}

/* upstream_route_srv - look up the SRV records of domain: the protocol's label
 * for the service's tls mode, or with tls = auto both labels at once,
 * their records then tried as one set (XEP-0368) */
void
upstream_route_srv(struct session *s, const char *domain)
{
	const struct conf_service *c = s->conf;
	struct upstream_plan *p = s->plan;
	char qname[DNS_NAME_MAX + 32];

	snprintf(s->out.name_source, sizeof(s->out.name_source), "srv");
	if ((p->srv = calloc(UP_SRV_MAX, sizeof(*p->srv))) == NULL) {
		sess_refuse(s, RES_FAILED, CAUSE_LOCAL, "out of memory");
		return;
	}
	snprintf(p->srv_domain, sizeof(p->srv_domain), "%s", domain);
	snprintf(p->srv_qname, sizeof(p->srv_qname), "_%s._tcp.%s",
	    c->tls == TLSM_IMPLICIT ? c->proto->srv_label_implicit :
	    c->proto->srv_label, domain);
	if (!upstream_lookup(s, 0, p->srv_qname, DNS_T_SRV, on_srv))
		return;
	if (c->tls == TLSM_AUTO) {
		snprintf(qname, sizeof(qname), "_%s._tcp.%s",
		    c->proto->srv_label_implicit, domain);
		upstream_lookup(s, 1, qname, DNS_T_SRV, on_srv_implicit);
	}
}

/* upstream_route_mx - look up the MX hosts of domain */
void
upstream_route_mx(struct session *s, const char *domain)
{
	upstream_lookup(s, 0, domain, DNS_T_MX, on_mx);
}
