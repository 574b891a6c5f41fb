/*
 * probe.c - `tlshim probe URL`: one session through the daemon's own code
 * toward a server, and a report of how well it was protected.
 *
 * The probe does not reimplement the upgrade.  It loads a one-service
 * configuration (the URL's protocol, security = dane for a host name, the
 * resolver, DNSSEC and CA settings of -c FILE), runs the daemon's server
 * on a loopback port of its own, connects to it as a legacy client would,
 * says goodbye as soon as it is greeted (or refused), and reports the
 * session's record.  The addresses and TLSA records are looked up again
 * with the same DNS client, to show them with their DNSSEC status.
 *
 * Exit status: 0 authenticated (dane-ee, dane-ta, pkix), 1 encrypted but
 * not authenticated, 2 plaintext or refused, 3 error.
 */
#include "config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "plugins/proto.h"
#include "shim/conf.h"
#include "shim/dane.h"
#include "shim/dns.h"
#include "shim/log.h"
#include "shim/result.h"
#include "shim/server.h"
#include "shim/tls.h"
#include "tool/probe.h"
#include "tool/tool.h"

#define PROBE_DEADLINE_MS	120000	/* the session's own timeouts come
					 * first; this only guards the tool */

/* The schemes (struct scheme in probe.h).  XMPP names the domain in its
 * stream header, and the probe then finds the server by SRV, tls = auto. */
#define XMPP_HELLO(ns, extra) "<?xml version='1.0'?><stream:stream " \
	"to='%s' version='1.0' xmlns='" ns "' " extra \
	"xmlns:stream='http://etherx.jabber.org/streams'>"
static const struct scheme schemes[] = {
	{ "smtp",	"smtp",		TLSM_STARTTLS,	"QUIT\r\n", NULL },
	{ "submission",	"submission",	TLSM_STARTTLS,	"QUIT\r\n", NULL },
	{ "smtps",	"submission",	TLSM_IMPLICIT,	"QUIT\r\n", NULL },
	{ "imap",	"imap",		TLSM_STARTTLS,	"p1 LOGOUT\r\n",
	    NULL },
	{ "imaps",	"imap",		TLSM_IMPLICIT,	"p1 LOGOUT\r\n",
	    NULL },
	{ "pop3",	"pop3",		TLSM_STARTTLS,	"QUIT\r\n", NULL },
	{ "pop3s",	"pop3",		TLSM_IMPLICIT,	"QUIT\r\n", NULL },
	{ "xmpp",	"xmpp-client",	TLSM_AUTO,	"</stream:stream>",
	    XMPP_HELLO("jabber:client", "") },
	{ "xmpp-server", "xmpp-server",	TLSM_AUTO,	"</stream:stream>",
	    XMPP_HELLO("jabber:server",
	    "xmlns:db='jabber:server:dialback' ") },
	{ NULL,		NULL,		TLSM_STARTTLS,	NULL, NULL }
};


static void
usage(FILE *f)
{
	fprintf(f, "usage: tlshim probe [-c FILE] [--resolver HOST:PORT] "
	    "[--json] URL\n"
	    "  URL: smtp://host[:port], submission://, smtps://, imap://, "
	    "imaps://, pop3://, pop3s://,\n"
	    "       xmpp://domain[:port], xmpp-server://domain[:port]\n"
	    "exit: 0 authenticated, 1 encrypted only, 2 plaintext or "
	    "refused, 3 error\n");
}

/* parse_url - scheme://host[:port] or scheme://[v6][:port] */
static bool
parse_url(struct probe *p, const char *url)
{
	const char *sep = strstr(url, "://"), *h, *end, *port = NULL;
	size_t slen;
	unsigned char bin[16];

	if (sep == NULL) {
		snprintf(p->error, sizeof(p->error), "'%s' is not a URL "
		    "(smtp://host[:port], imap://host, ...)", url);
		return false;
	}
	slen = (size_t)(sep - url);
	for (const struct scheme *s = schemes; s->scheme != NULL; s++)
		if (strlen(s->scheme) == slen &&
		    strncasecmp(s->scheme, url, slen) == 0)
			p->scheme = s;
	if (p->scheme == NULL) {
		snprintf(p->error, sizeof(p->error), "unknown scheme "
		    "'%.*s' (smtp, submission, smtps, imap, imaps, "
		    "pop3, pop3s, xmpp, xmpp-server)", (int)slen, url);
		return false;
	}
	h = sep + 3;
	end = h + strcspn(h, "/?#");
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (close == NULL || (size_t)(close - h - 1) >= sizeof(p->host))
			goto bad;
		snprintf(p->host, sizeof(p->host), "%.*s",
		    (int)(close - h - 1), h + 1);
		if (close + 1 < end && close[1] == ':')
			port = close + 2;
		else if (close + 1 != end)
			goto bad;
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));
		const char *hend = colon != NULL ? colon : end;

		if (hend == h || (size_t)(hend - h) >= sizeof(p->host))
			goto bad;
		snprintf(p->host, sizeof(p->host), "%.*s", (int)(hend - h), h);
		if (colon != NULL)
			port = colon + 1;
	}
	if (port != NULL) {
		unsigned long v = 0;
		const char *c;

		for (c = port; c < end && *c >= '0' && *c <= '9' && v < 70000;
		    c++)
			v = v * 10 + (unsigned long)(*c - '0');
		if (c == port || c != end || v == 0 || v > 65535)
			goto bad;
		p->port = (uint16_t)v;
	}
	p->is_ip = inet_pton(AF_INET6, p->host, bin) == 1 ||
	    inet_pton(AF_INET, p->host, bin) == 1;
	return true;
bad:
	snprintf(p->error, sizeof(p->error), "invalid URL '%s'", url);
	return false;
}

/* free_port - a free TCP port on 127.0.0.1 for the probe's listener */
static uint16_t
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	if (fd < 0)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* build_conf - the one-service configuration the probe runs */
static struct conf *
build_conf(struct probe *p, const struct conf *base, const char *resolver,
    char *err, size_t errlen)
{
	struct conf_error cerr;
	struct conf *c;
	char text[2048], res[256] = "", up[300];
	size_t n = 0;
	bool dane;
	enum tls_mode tls;

	if (resolver != NULL)
		snprintf(res, sizeof(res), "resolver = %s\n", resolver);
	else if (base != NULL && base->nresolvers > 0) {
		n = (size_t)snprintf(res, sizeof(res), "resolver =");
		for (size_t i = 0; i < base->nresolvers && n < sizeof(res); i++)
			n += (size_t)snprintf(res + n, sizeof(res) - n, " %s",
			    base->resolver[i].text);
		if (n < sizeof(res))
			snprintf(res + n, sizeof(res) - n, "\n");
	}
	/* DANE where it can apply: a name, and DNSSEC not switched off.
	 * Without TLSA records that level behaves as may, and the chain is
	 * still checked against the CA store for the report. */
	dane = !p->is_ip &&
	    (base == NULL || base->dnssec != CONF_DNSSEC_OFF);
	if (strchr(p->host, ':') != NULL)
		snprintf(up, sizeof(up), "[%s]", p->host);
	else
		snprintf(up, sizeof(up), "%s", p->host);
	if (p->port != 0)
		snprintf(up + strlen(up), sizeof(up) - strlen(up), ":%u",
		    p->port);
	/* A client-first protocol names its domain itself: the server is
	 * found by its SRV records, unless the URL gives a port. */
	if (p->scheme->hello != NULL && p->port == 0)
		snprintf(up, sizeof(up), "srv");
	tls = p->scheme->tls == TLSM_AUTO && p->port != 0 ? TLSM_STARTTLS :
	    p->scheme->tls;
	snprintf(text, sizeof(text),
	    "[global]\n"
	    "log_level = %s\n"
	    "ca_file = %s\n"
	    "dnssec = %s\n"
	    "%s"
	    "[probe]\n"
	    "protocol = %s\n"
	    "listen = 127.0.0.1:%u\n"
	    "upstream = %s\n"
	    "tls = %s\n"
	    "security = %s\n"
	    "connect_timeout = 10s\n"
	    "handshake_timeout = 30s\n",
	    log_get_level() >= LOG_L_DETAIL ? "detail" : "err",
	    base != NULL ? base->ca_file : CONF_DEFAULT_CA_FILE,
	    base != NULL && base->dnssec == CONF_DNSSEC_OFF ? "off" :
	    "trust-ad", res, p->scheme->protocol, p->listen_port, up,
	    tls_mode_name(tls), dane ? "dane" : "may");
	if ((c = conf_parse(text, strlen(text), "probe", &cerr)) == NULL ||
	    !tls_conf_prepare(c, &cerr)) {
		snprintf(err, errlen, "%s", cerr.msg);
		if (c != NULL)
			conf_unref(c);
		return NULL;
	}
	return c;
}

/* ---------------------------------------------------- the legacy client */

static void
client_closed(uv_handle_t *h)
{
	(void)h;
}

static void
client_close(struct probe *p)
{
	if (p->client_open) {
		p->client_open = false;
		uv_close((uv_handle_t *)&p->client, client_closed);
	}
}

static void
on_written(uv_write_t *req, int status)
{
	(void)req;
	(void)status;
}

static void
client_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
	struct probe *p = h->data;

	(void)want;
	*buf = uv_buf_init(p->rbuf, sizeof(p->rbuf));
}

/* client_read - tlshim greeted us (or refused): say goodbye once */
static void
client_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct probe *p = st->data;
	uv_buf_t bye;

	if (n < 0) {
		client_close(p);
		return;
	}
	if (n == 0 || p->bye_sent)
		return;
	if (p->greeting[0] == '\0')
		snprintf(p->greeting, sizeof(p->greeting), "%.*s",
		    (int)strcspn(buf->base, "\r\n") < (int)n ?
		    (int)strcspn(buf->base, "\r\n") : (int)n, buf->base);
	p->bye_sent = true;
	bye = uv_buf_init((char *)p->scheme->bye,
	    (unsigned)strlen(p->scheme->bye));
	uv_write(&p->wreq, st, &bye, 1, on_written);
}

static void
client_connected(uv_connect_t *req, int status)
{
	struct probe *p = req->data;

	if (status < 0) {
		snprintf(p->error, sizeof(p->error), "cannot connect to the "
		    "probe's own listener: %s", uv_strerror(status));
		client_close(p);
		server_drain(&p->srv);
		return;
	}
	uv_read_start((uv_stream_t *)&p->client, client_alloc, client_read);
	/* A client-first protocol: the client opens, naming the domain. */
	if (p->scheme->hello != NULL) {
		uv_buf_t b;

		const char *at = strstr(p->scheme->hello, "%s");

		/* The one %s is the domain (not a printf format here: the
		 * table's strings are data). */
		snprintf(p->hello, sizeof(p->hello), "%.*s%s%s",
		    (int)(at - p->scheme->hello), p->scheme->hello, p->host,
		    at + 2);
		b = uv_buf_init(p->hello, (unsigned)strlen(p->hello));
		uv_write(&p->hreq, (uv_stream_t *)&p->client, &b, 1,
		    on_written);
	}
}

/* start_client - the lookups for the report are in: run the session */
static void
start_client(struct probe *p)
{
	struct sockaddr_in sin;

	if (p->dns != NULL) {
		dns_client_close(p->dns);
		p->dns = NULL;
	}
	uv_ip4_addr("127.0.0.1", p->listen_port, &sin);
	uv_tcp_init(&p->loop, &p->client);
	p->client.data = p;
	p->client_open = true;
	p->creq.data = p;
	uv_tcp_connect(&p->creq, &p->client, (struct sockaddr *)&sin,
	    client_connected);
}

/* ------------------------------------------------------ report lookups */

static bool	lookup_tlsa(struct probe *);

static void
on_addr(void *arg, const struct dns_result *r)
{
	struct probe *p = arg;
	char text[INET6_ADDRSTRLEN];

	p->req[r->type == DNS_T_AAAA ? 1 : 0] = NULL;
	p->from_hosts |= r->from_hosts;
	p->addr_sec = dnssec_weakest(p->addr_sec, r->dnssec);
	for (size_t i = 0; r->status == DNS_OK && i < r->answer->n; i++) {
		const struct dns_rr *rr = &r->answer->rr[i];

		inet_ntop(rr->u.a.family, rr->u.a.addr, text, sizeof(text));
		snprintf(p->addrs + strlen(p->addrs),
		    sizeof(p->addrs) - strlen(p->addrs), "%s%s",
		    p->addrs[0] != '\0' ? " " : "", text);
	}
	if (--p->pending > 0)
		return;
	/* TLSA only for a name the DNS knows: a name from /etc/hosts has
	 * none, and asking would send a local name to the resolver. */
	if (!p->from_hosts && lookup_tlsa(p))
		return;
	start_client(p);
}

static void
on_tlsa(void *arg, const struct dns_result *r)
{
	struct probe *p = arg;
	char rec[160];

	p->req[2] = NULL;
	p->tlsa_status = r->status;
	p->tlsa_sec = r->dnssec;
	for (size_t i = 0; r->status == DNS_OK && i < r->answer->n; i++) {
		const struct dns_tlsa *t = &r->answer->rr[i].u.tlsa;

		dane_format(t, rec, sizeof(rec));
		if (dane_usable(t))
			p->tlsa_usable++;
		if (strlen(p->tlsa) + strlen(rec) + 16 < sizeof(p->tlsa))
			snprintf(p->tlsa + strlen(p->tlsa),
			    sizeof(p->tlsa) - strlen(p->tlsa), "%s%s%s",
			    p->tlsa[0] != '\0' ? "\n" : "", rec,
			    dane_usable(t) ? "" : " (unusable)");
	}
	if (--p->pending == 0)
		start_client(p);
}

/* lookup_tlsa - the TLSA records, for the report; false if not asked */
static bool
lookup_tlsa(struct probe *p)
{
	char err[160];

	p->req[2] = dns_lookup(p->dns, p->tlsa_name, DNS_T_TLSA, on_tlsa, p,
	    err, sizeof(err));
	if (p->req[2] == NULL)
		return false;
	p->tlsa_asked = true;
	p->pending = 1;
	return true;
}

/* start_lookups - the addresses and TLSA records, for the report */
static void
start_lookups(struct probe *p, const struct conf *conf)
{
	struct dns_settings set;
	char err[160];
	uint16_t port = conf->services[0].upstream_port;

	if (p->is_ip) {
		snprintf(p->addrs, sizeof(p->addrs), "%s", p->host);
		start_client(p);
		return;
	}
	/* Routed by SRV: the targets are the session's to find (its record
	 * names the one used, with its TLSA records). */
	if (p->scheme->hello != NULL) {
		start_client(p);
		return;
	}
	server_dns_settings(conf, &set);
	if ((p->dns = dns_client_new(&p->loop, &set, err, sizeof(err)))
	    == NULL) {
		start_client(p);
		return;
	}
	snprintf(p->tlsa_name, sizeof(p->tlsa_name), "_%u._tcp.%s", port,
	    p->host);
	p->pending = 2;
	p->req[0] = dns_lookup(p->dns, p->host, DNS_T_A, on_addr, p, err,
	    sizeof(err));
	p->req[1] = dns_lookup(p->dns, p->host, DNS_T_AAAA, on_addr, p, err,
	    sizeof(err));
	for (size_t i = 0; i < 2; i++)
		if (p->req[i] == NULL)
			p->pending--;
	if (p->pending == 0)
		start_client(p);
}

/* -------------------------------------------------------------- server */

static void
on_outcome(const struct outcome *o, void *arg)
{
	struct probe *p = arg;

	p->out = *o;
	/* Not ours: the session frees them after this hook (result.h). */
	p->out.policy_tlsa = NULL;
	p->out.helo = NULL;
	p->have_out = true;
	server_drain(&p->srv);
}

static void
on_deadline(uv_timer_t *t)
{
	struct probe *p = t->data;

	snprintf(p->error, sizeof(p->error), "the probe took longer than "
	    "%d s", PROBE_DEADLINE_MS / 1000);
	client_close(p);
	uv_stop(&p->loop);
}

static void
on_server_close(struct server *srv)
{
	struct probe *p = srv->on_outcome_arg;

	client_close(p);
	uv_close((uv_handle_t *)&p->deadline, NULL);
}

/* ----------------------------------------------------------------- main */

int
tool_probe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "resolver", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct probe *p;
	struct conf *base = NULL, *conf;
	struct conf_error cerr;
	const char *cfile = NULL, *resolver = NULL;
	char err[CONF_ERR_MAX];
	int ch, rc, verbose = 0;

	optind = 1;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return 3;
	while ((ch = getopt_long(argc, argv, "c:r:jvh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfile = optarg; break;
		case 'r': resolver = optarg; break;
		case 'j': p->json = true; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); free(p); return 0;
		default: usage(stderr); free(p); return 3;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		free(p);
		return 3;
	}
	log_init("tlshim", true, verbose > 0 ? LOG_L_DETAIL : LOG_L_ERR);
	if (!parse_url(p, argv[optind])) {
		fprintf(stderr, "tlshim probe: %s\n", p->error);
		free(p);
		return 3;
	}
	if (cfile != NULL && (base = conf_load(cfile, &cerr)) == NULL) {
		fprintf(stderr, "tlshim probe: %s\n", cerr.msg);
		free(p);
		return 3;
	}
	if ((p->listen_port = free_port()) == 0) {
		fprintf(stderr, "tlshim probe: no free port on 127.0.0.1\n");
		conf_unref(base);
		free(p);
		return 3;
	}
	conf = build_conf(p, base, resolver, err, sizeof(err));
	conf_unref(base);
	if (conf == NULL) {
		fprintf(stderr, "tlshim probe: %s\n", err);
		free(p);
		return 3;
	}
	uv_loop_init(&p->loop);
	if (!server_init(&p->srv, &p->loop, conf, "probe", err, sizeof(err))) {
		fprintf(stderr, "tlshim probe: %s\n", err);
		server_close(&p->srv);
		uv_run(&p->loop, UV_RUN_DEFAULT);
		uv_loop_close(&p->loop);
		free(p);
		return 3;
	}
	p->srv.on_outcome = on_outcome;
	p->srv.on_outcome_arg = p;
	p->srv.on_close = on_server_close;
	uv_timer_init(&p->loop, &p->deadline);
	p->deadline.data = p;
	uv_timer_start(&p->deadline, on_deadline, PROBE_DEADLINE_MS, 0);
	start_lookups(p, p->srv.conf);
	uv_run(&p->loop, UV_RUN_DEFAULT);

	rc = probe_verdict(p);
	if (p->json)
		probe_report_json(p, argv[optind], rc);
	else
		probe_report_text(p, argv[optind], rc);
	/* Everything is closed by now (or the deadline stopped the loop):
	 * give back what the server held, so that leak checkers see none. */
	if (uv_loop_close(&p->loop) == 0) {
		conf_unref(p->srv.conf);
		free(p->srv.conf_path);
	}
	free(p);
	return rc;
}
