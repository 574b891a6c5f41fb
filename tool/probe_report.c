/*
 * probe_report.c - the report of `tlshim probe`: the session's record,
 * the addresses and TLSA records looked up for it, and a verdict, as text
 * for a person or as JSON.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shim/dane.h"
#include "shim/dns.h"
#include "shim/result.h"
#include "shim/sbuf.h"
#include "tool/probe.h"
#include "tool/tool.h"

int
probe_verdict(const struct probe *p)
{
	if (!p->have_out)
		return 3;
	switch (p->out.result) {
	case RES_TLS:
		return p->out.auth == AUTH_PKIX ||
		    p->out.auth == AUTH_DANE_EE ||
		    p->out.auth == AUTH_DANE_TA ? 0 : 1;
	case RES_PLAINTEXT:
	case RES_REFUSED:
	case RES_ATTACK:
		return 2;
	default:
		return 3;
	}
}

static const char *const verdict_words[] = {
	"authenticated", "encrypted, not authenticated",
	"plaintext or refused", "error"
};

static void
json_kv(FILE *f, const char *k, const char *v, bool last)
{
	fprintf(f, "  ");
	sbuf_json_fputs(f, k);
	fprintf(f, ": ");
	sbuf_json_fputs(f, v);
	fprintf(f, "%s\n", last ? "" : ",");
}

/* date_text - a UTC date for notAfter; "" when unknown (0) */
static void
date_text(time_t t, char *buf, size_t len)
{
	if (t == 0)
		snprintf(buf, len, "%s", "");
	else
		tool_utc(buf, len, t);
}

void
probe_report_json(const struct probe *p, const char *url, int rc)
{
	const struct outcome *o = &p->out;
	char num[32], date[32], port[8];
	FILE *f = stdout;

	date_text(o->cert_expires, date, sizeof(date));
	snprintf(port, sizeof(port), "%u", o->port);
	fprintf(f, "{\n");
	json_kv(f, "url", url, false);
	json_kv(f, "peer", o->peer[0] != '\0' ? o->peer : p->host, false);
	json_kv(f, "domain", o->domain, false);
	json_kv(f, "protocol", p->scheme->protocol, false);
	json_kv(f, "tls_mode", tls_mode_name(p->scheme->tls), false);
	json_kv(f, "addresses", p->addrs, false);
	json_kv(f, "address_dnssec", dnssec_name(p->addr_sec), false);
	json_kv(f, "address", o->addr, false);
	fprintf(f, "  \"port\": %s,\n", o->port != 0 ? port : "null");
	json_kv(f, "tlsa_name", p->tlsa_name, false);
	json_kv(f, "tlsa_lookup", p->tlsa_asked ?
	    dns_status_name(p->tlsa_status) : "", false);
	json_kv(f, "tlsa_dnssec", dnssec_name(p->tlsa_sec), false);
	json_kv(f, "tlsa_records", p->tlsa, false);
	json_kv(f, "tlsa", o->tlsa, false);
	json_kv(f, "result", p->have_out ? result_name(o->result) : "failed",
	    false);
	fprintf(f, "  \"starttls_offered\": %s,\n",
	    o->starttls_offered ? "true" : "false");
	json_kv(f, "tls_version", o->tls_version, false);
	json_kv(f, "cipher", o->cipher, false);
	json_kv(f, "group", o->group, false);
	json_kv(f, "auth", auth_name(o->auth), false);
	json_kv(f, "dnssec", o->dnssec, false);
	json_kv(f, "cert_subject", o->cert_subject, false);
	json_kv(f, "cert_issuer", o->cert_issuer, false);
	json_kv(f, "cert_not_after", date, false);
	json_kv(f, "cert_sha256", o->cert_sha256, false);
	json_kv(f, "spki_sha256", o->spki_sha256, false);
	json_kv(f, "reason", p->error[0] != '\0' ? p->error : o->reason,
	    false);
	json_kv(f, "verdict", verdict_words[rc], false);
	snprintf(num, sizeof(num), "%d", rc);
	fprintf(f, "  \"exit\": %s\n}\n", num);
}

static void
row(const char *k, const char *v)
{
	if (v != NULL && v[0] != '\0')
		printf("%-14s %s\n", k, v);
}

void
probe_report_text(const struct probe *p, const char *url, int rc)
{
	const struct outcome *o = &p->out;
	char buf[1200], date[32];

	printf("probe %s\n", url);
	snprintf(buf, sizeof(buf), "%s%s%s%s", p->addrs,
	    p->addr_sec != DNSSEC_UNKNOWN ? " (dnssec " : "",
	    dnssec_name(p->addr_sec),
	    p->addr_sec != DNSSEC_UNKNOWN ? ")" : "");
	row("addresses", buf);
	if (p->from_hosts)
		row("TLSA lookup", "not made: the name is in /etc/hosts");
	if (p->tlsa_asked) {
		snprintf(buf, sizeof(buf), "%s: %s, dnssec %s%s", p->tlsa_name,
		    dns_status_name(p->tlsa_status), dnssec_name(p->tlsa_sec),
		    p->tlsa_status == DNS_OK && p->tlsa_sec != DNSSEC_SECURE ?
		    " (not secure: ignored)" : "");
		row("TLSA lookup", buf);
		for (const char *l = p->tlsa; *l != '\0'; ) {
			size_t n = strcspn(l, "\n");

			snprintf(buf, sizeof(buf), "%.*s", (int)n, l);
			row("  record", buf);
			l += n + (l[n] == '\n');
		}
	}
	if (p->have_out) {
		snprintf(buf, sizeof(buf), "%s port %u", o->addr, o->port);
		row("connected", o->addr[0] != '\0' ? buf : "");
		row("peer", o->peer);
		row("domain", o->domain);
		row("STARTTLS", p->scheme->tls == TLSM_IMPLICIT ?
		    "implicit TLS" : o->starttls_offered ? "offered" :
		    "not offered");
		snprintf(buf, sizeof(buf), "%s %s group %s", o->tls_version,
		    o->cipher, o->group);
		row("TLS", o->tls_version[0] != '\0' ? buf : "none");
		row("certificate", o->cert_subject);
		row("  issuer", o->cert_issuer);
		date_text(o->cert_expires, date, sizeof(date));
		row("  not after", date);
		row("  sha256", o->cert_sha256);
		row("  spki sha256", o->spki_sha256);
		row("TLSA used", o->tlsa);
		row("dnssec", o->dnssec);
		row("auth", auth_name(o->auth));
		row("result", result_name(o->result));
		row("greeting", p->greeting);
		row("why", o->reason);
	}
	row("error", p->error);
	printf("%-14s %s (exit %d)\n", "verdict", verdict_words[rc], rc);
}
