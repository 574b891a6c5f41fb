/*
 * upstream_tls.c - what the TLS session asks of the current target: the
 * SNI and ALPN to send, and the checks after the handshake (PKIX against
 * the CA store and the target's names, or DANE against its TLSA records).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shim/dane.h"
#include "shim/session.h"
#include "shim/tls.h"
#include "shim/upstream_int.h"

/*
 * upstream_dane_verify - after the handshake with a target whose secure,
 * usable TLSA records made DANE authentication mandatory: check the
 * server's chain against them.  The reference names for DANE-TA are the
 * TLSA base domain and the host name (MX host or SRV target) it was
 * reached by: the CNAME-expanded name and the original (RFC 7672 3.2.2),
 * and the domain a client-first client named, the service domain of RFC
 * 7673 4.1 (TLSA records are only used when the SRV RRset was secure).
 */
enum auth
upstream_dane_verify(struct session *s, char *why, size_t whylen)
{
	struct upstream_plan *p = s->plan;
	const gnutls_datum_t *chain;
	const char *names[3];
	size_t n, nnames = 0;

	if (p == NULL || p->ntlsa == 0) {
		snprintf(why, whylen, "no TLSA records to check");
		return AUTH_NONE;
	}
	chain = tls_conn_peer_chain(s->tls, &n);
	if (chain == NULL || n == 0) {
		snprintf(why, whylen, "the server sent no certificate");
		return AUTH_NONE;
	}
	names[nnames++] = p->t[p->cur].host;
	if (p->cname[0] != '\0')
		names[nnames++] = p->cname;
	if (s->dest[0] != '\0')
		names[nnames++] = s->dest;
	return dane_verify(chain, n, p->tlsa, p->ntlsa, names, nnames,
	    time(NULL), why, whylen);
}

/*
 * upstream_verify - PKIX.  A client-first session is checked against the
 * domain its client named, never against the SRV target, which plain DNS
 * could have forged (RFC 6125 6, RFC 7590 3.2; catalogue XC-09): as
 * DNS-ID, as SRV-ID for the protocol's service ("_xmpp-client.DOMAIN",
 * RFC 4985) and as XmppAddr.  Other sessions are checked against the
 * host connected to (or its address).
 */
bool
upstream_verify(struct session *s, char *why, size_t whylen)
{
	struct tls_refid ids[3];
	char srvid[DNS_NAME_MAX + 32];
	size_t n = 0;

	if (s->dest[0] == '\0')
		return tls_conn_verify(s->tls, s->out.peer, s->peer_is_ip, why,
		    whylen);
	ids[n].type = TLS_ID_DNS;
	ids[n++].name = s->dest;
	if (s->proto->srv_label != NULL) {
		snprintf(srvid, sizeof(srvid), "_%s.%s", s->proto->srv_label,
		    s->dest);
		ids[n].type = TLS_ID_SRV;
		ids[n++].name = srvid;
	}
	ids[n].type = TLS_ID_XMPP;
	ids[n++].name = s->dest;
	return tls_conn_verify_ids(s->tls, ids, n, why, whylen);
}

/* upstream_alpn - implicit TLS offers the protocol's ALPN identifier
 * (XEP-0368: "xmpp-client", "xmpp-server") */
const char *
upstream_alpn(const struct session *s)
{
	return s->tls_mode == TLSM_IMPLICIT ? s->proto->alpn : NULL;
}

/* upstream_sni - the name to send as SNI: for a client-first session the
 * domain its client named (RFC 6120 13.7.2.1, RFC 7673 4.1); otherwise
 * the TLSA base domain when TLSA records are in use, else the host's name
 * (NULL for an address) */
const char *
upstream_sni(const struct session *s)
{
	if (s->dest[0] != '\0')
		return s->dest;
	if (s->peer_is_ip)
		return NULL;
	if (s->plan != NULL && s->plan->tlsa_base[0] != '\0')
		return s->plan->tlsa_base;
	return s->out.peer;
}
