/*
 * test_metrics.c - the counters and their Prometheus text and JSON
 * (metrics.c), the metrics page's HTTP parser and server
 * (metrics_http.c, oneshot.c), the control command parser (control.c),
 * JSON quoting (sbuf.c) and the metrics_listen and control_socket keys.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "shim/conf.h"
#include "shim/control.h"
#include "shim/log.h"
#include "shim/metrics.h"
#include "shim/metrics_http.h"
#include "shim/oneshot.h"
#include "shim/result.h"
#include "shim/sbuf.h"
#include "shim/server.h"

/* ------------------------------------------------------------- helpers */

#define SVC	"[s]\nprotocol = smtp\nlisten = 127.0.0.1:2525\n" \
		"upstream = 127.0.0.1:25\n"

static struct outcome
session(const char *proto, enum result r, const char *tlsv, enum auth a,
    const char *dnssec, enum cause c)
{
	struct outcome o;

	memset(&o, 0, sizeof(o));
	snprintf(o.service, sizeof(o.service), "svc");
	snprintf(o.direction, sizeof(o.direction), "outbound");
	snprintf(o.protocol, sizeof(o.protocol), "%s", proto);
	snprintf(o.peer, sizeof(o.peer), "evil-peer.example");
	snprintf(o.addr, sizeof(o.addr), "192.0.2.66");
	o.result = r;
	snprintf(o.tls_version, sizeof(o.tls_version), "%s", tlsv);
	o.auth = a;
	snprintf(o.dnssec, sizeof(o.dnssec), "%s", dnssec);
	o.cause = c;
	return o;
}

/* feed_known - five sessions with known numbers */
static void
feed_known(void)
{
	struct outcome o;

	metrics_reset();
	o = session("smtp", RES_TLS, "TLS1.3", AUTH_PKIX, "", CAUSE_NONE);
	o.bytes_in = 100;
	o.bytes_out = 2000;
	metrics_session(&o);
	o.resumed = true;
	metrics_session(&o);			/* a second, resumed */
	o = session("smtp", RES_REFUSED, "", AUTH_NONE, "insecure",
	    CAUSE_NO_TLS);
	metrics_session(&o);
	o = session("imap", RES_FAILED, "", AUTH_NONE, "bogus", CAUSE_DNS);
	metrics_session(&o);
	o = session("pop3", RES_PLAINTEXT, "", AUTH_NONE, "secure",
	    CAUSE_NONE);
	o.downgrade = true;			/* pin = report-only */
	o.bytes_in = 5;
	metrics_session(&o);
	o = session("smtp", RES_ATTACK, "TLS1.2", AUTH_UNTRUSTED, "",
	    CAUSE_INJECTION);
	metrics_session(&o);
	o = session("smtp", RES_REFUSED, "", AUTH_NONE, "", CAUSE_NONE);
	metrics_session(&o);			/* no cause word */
}

static char *
text_of(struct metrics_snap *m)
{
	struct sbuf b;

	sbuf_init(&b);
	metrics_text(m, &b);
	assert_true(sbuf_ok(&b));
	return b.buf;
}

static void
has_line(const char *text, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (strstr(text, want) == NULL)
		fail_msg("no line \"%s\" in:\n%s", line, text);
}

/* ------------------------------------------------------------ metrics */

static void
known_counters(void **state)
{
	struct metrics_snap m;
	char *t;

	(void)state;
	feed_known();
	assert_true(metrics_snapshot(&m));
	metrics_started(0);
	t = text_of(&m);
	has_line(t, "tlshim_sessions_total{protocol=\"smtp\","
	    "direction=\"outbound\",result=\"tls\"} 2");
	has_line(t, "tlshim_sessions_total{protocol=\"smtp\","
	    "direction=\"outbound\",result=\"refused\"} 2");
	has_line(t, "tlshim_sessions_total{protocol=\"smtp\","
	    "direction=\"outbound\",result=\"attack\"} 1");
	has_line(t, "tlshim_sessions_total{protocol=\"imap\","
	    "direction=\"outbound\",result=\"failed\"} 1");
	has_line(t, "tlshim_sessions_total{protocol=\"pop3\","
	    "direction=\"outbound\",result=\"plaintext\"} 1");
	has_line(t, "tlshim_sessions_total{protocol=\"pop3\","
	    "direction=\"inbound\",result=\"tls\"} 0");
	has_line(t, "tlshim_handshakes_total{tls_version=\"TLS1.3\"} 2");
	has_line(t, "tlshim_handshakes_total{tls_version=\"TLS1.2\"} 1");
	has_line(t, "tlshim_handshakes_total{tls_version=\"TLS1.0\"} 0");
	has_line(t, "tlshim_resumed_handshakes_total 1");
	has_line(t, "tlshim_auth_total{auth=\"pkix\"} 2");
	has_line(t, "tlshim_auth_total{auth=\"none\"} 4");
	has_line(t, "tlshim_auth_total{auth=\"untrusted\"} 1");
	has_line(t, "tlshim_dnssec_total{dnssec=\"secure\"} 1");
	has_line(t, "tlshim_dnssec_total{dnssec=\"insecure\"} 1");
	has_line(t, "tlshim_dnssec_total{dnssec=\"bogus\"} 1");
	has_line(t, "tlshim_refusals_total{cause=\"no-tls\"} 1");
	has_line(t, "tlshim_refusals_total{cause=\"unspecified\"} 1");
	has_line(t, "tlshim_refusals_total{cause=\"dns\"} 0");
	has_line(t, "tlshim_failures_total{cause=\"dns\"} 1");
	has_line(t, "tlshim_failures_total{cause=\"injection\"} 1");
	has_line(t, "tlshim_downgrades_total 1");
	has_line(t, "tlshim_bytes_in_total 205");
	has_line(t, "tlshim_bytes_out_total 4000");
	has_line(t, "# TYPE tlshim_sessions_total counter");
	has_line(t, "# HELP tlshim_sessions_total Sessions ended, by "
	    "protocol, direction and result.");
	has_line(t, "# TYPE tlshim_active_sessions gauge");
	has_line(t, "# TYPE tlshim_store_queue_depth gauge");
	has_line(t, "tlshim_build_info{version=\"" PACKAGE_VERSION "\"} 1");
	/* Never a peer: no name, no address in any label. */
	assert_null(strstr(t, "evil"));
	assert_null(strstr(t, "192.0.2"));
	free(t);
	metrics_snap_free(&m);

	metrics_reset();
	assert_true(metrics_snapshot(&m));
	t = text_of(&m);
	has_line(t, "tlshim_sessions_total{protocol=\"smtp\","
	    "direction=\"outbound\",result=\"tls\"} 0");
	has_line(t, "tlshim_bytes_out_total 0");
	free(t);
	metrics_snap_free(&m);
}

/* Label values escape backslash, double quote and line feed. */
static void
label_escaping(void **state)
{
	struct metrics_snap m;
	char *t;

	(void)state;
	metrics_reset();
	assert_true(metrics_snapshot(&m));
	assert_true(metrics_snap_add_service(&m, "plain", 0));
	assert_true(metrics_snap_add_service(&m, "a\"b\\c\nd", 3));
	t = text_of(&m);
	has_line(t, "tlshim_active_sessions{service=\"plain\"} 0");
	has_line(t, "tlshim_active_sessions{service=\"a\\\"b\\\\c\\nd\"} 3");
	free(t);
	metrics_snap_free(&m);
}

/*
 * The whole text follows the exposition format: every line is a HELP, a
 * TYPE or a sample; each family has one HELP and one TYPE before its
 * samples, counters end in _total and gauges do not, every name starts
 * with tlshim_, and the text ends with a line feed.
 */
static void
exposition_format(void **state)
{
	struct metrics_snap m;
	regex_t help, type, sample;
	char *t, *line, *save = NULL, fam[128] = "", ftype[16] = "";
	regmatch_t g[3];
	unsigned samples = 0, families = 0;

	(void)state;
	feed_known();
	assert_true(metrics_snapshot(&m));
	assert_true(metrics_snap_add_service(&m, "x\"y", 1));
	t = text_of(&m);
	assert_true(t[strlen(t) - 1] == '\n');
	assert_int_equal(regcomp(&help, "^# HELP (tlshim_[a-z_]+) [^ ].*$",
	    REG_EXTENDED), 0);
	assert_int_equal(regcomp(&type, "^# TYPE (tlshim_[a-z_]+) "
	    "(counter|gauge)$", REG_EXTENDED), 0);
	assert_int_equal(regcomp(&sample, "^(tlshim_[a-z_]+)"
	    "(\\{[a-z_]+=\"([^\"\\\\\n]|\\\\[\"\\\\n])*\""
	    "(,[a-z_]+=\"([^\"\\\\\n]|\\\\[\"\\\\n])*\")*\\})? [0-9]+$",
	    REG_EXTENDED), 0);
	for (line = strtok_r(t, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char name[128];

		if (regexec(&help, line, 2, g, 0) == 0) {
			snprintf(fam, sizeof(fam), "%.*s",
			    (int)(g[1].rm_eo - g[1].rm_so), line + g[1].rm_so);
			ftype[0] = '\0';
			families++;
		} else if (regexec(&type, line, 3, g, 0) == 0) {
			snprintf(name, sizeof(name), "%.*s",
			    (int)(g[1].rm_eo - g[1].rm_so), line + g[1].rm_so);
			assert_string_equal(name, fam);
			assert_string_equal(ftype, "");	/* one TYPE */
			snprintf(ftype, sizeof(ftype), "%.*s",
			    (int)(g[2].rm_eo - g[2].rm_so), line + g[2].rm_so);
			if (strcmp(ftype, "counter") == 0)
				assert_non_null(strstr(fam, "_total"));
			else
				assert_null(strstr(fam, "_total"));
		} else if (regexec(&sample, line, 2, g, 0) == 0) {
			snprintf(name, sizeof(name), "%.*s",
			    (int)(g[1].rm_eo - g[1].rm_so), line + g[1].rm_so);
			if (strcmp(name, fam) != 0 || ftype[0] == '\0')
				fail_msg("sample outside its family: %s",
				    line);
			samples++;
		} else
			fail_msg("not exposition format: \"%s\"", line);
	}
	assert_true(families >= 15);
	assert_true(samples > 80);
	regfree(&help);
	regfree(&type);
	regfree(&sample);
	free(t);
	metrics_snap_free(&m);
}

/* The JSON has the same numbers. */
static void
json_same_numbers(void **state)
{
	struct metrics_snap m;
	struct sbuf b;

	(void)state;
	feed_known();
	assert_true(metrics_snapshot(&m));
	assert_true(metrics_snap_add_service(&m, "smtp\"out", 2));
	sbuf_init(&b);
	metrics_json(&m, &b);
	assert_true(sbuf_ok(&b));
	assert_non_null(strstr(b.buf, "\"smtp\":{\"outbound\":{\"tls\":2,"
	    "\"plaintext\":0,\"refused\":2,\"failed\":0,\"attack\":1}"));
	assert_non_null(strstr(b.buf, "\"handshakes\":{\"TLS1.0\":0,"
	    "\"TLS1.1\":0,\"TLS1.2\":1,\"TLS1.3\":2,\"other\":0}"));
	assert_non_null(strstr(b.buf, "\"refusals\":{\"unspecified\":1,"
	    "\"no-tls\":1,"));
	assert_non_null(strstr(b.buf, "\"downgrades\":1,\"bytes_in\":205,"
	    "\"bytes_out\":4000"));
	assert_non_null(strstr(b.buf, "\"active_sessions\":"
	    "{\"smtp\\\"out\":2}"));
	assert_non_null(strstr(b.buf, "\"store\":{\"queue_depth\":0,"));
	assert_true(b.buf[0] == '{' && b.buf[b.len - 1] == '}');
	assert_null(strstr(b.buf, "evil"));
	sbuf_free(&b);
	metrics_snap_free(&m);
}

static void
json_quoting(void **state)
{
	struct sbuf b;

	(void)state;
	sbuf_init(&b);
	sbuf_json_str(&b, "a\"b\\c\n\t\x01\x7f/é");
	assert_true(sbuf_ok(&b));
	assert_string_equal(b.buf,
	    "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f/é\"");
	sbuf_free(&b);
}

/* ------------------------------------------------------- HTTP parser */

static enum http_parse
parse(const char *s, struct http_req *r)
{
	return http_parse(s, strlen(s), r);
}

static void
http_requests(void **state)
{
	struct http_req r;

	(void)state;
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
	    &r), HTTP_DONE);
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.target, "/metrics");
	assert_int_equal(r.nheaders, 1);
	assert_int_equal(http_status(HTTP_DONE, &r), 200);
	/* Bare LF line ends; HTTP/1.0; a query string; absolute form. */
	assert_int_equal(parse("GET /metrics?x=1 HTTP/1.0\n\n", &r),
	    HTTP_DONE);
	assert_int_equal(http_status(HTTP_DONE, &r), 200);
	assert_int_equal(parse("GET http://h:1/metrics HTTP/1.1\r\n\r\n", &r),
	    HTTP_DONE);
	assert_int_equal(http_status(HTTP_DONE, &r), 200);
	/* An empty line before the request line is skipped. */
	assert_int_equal(parse("\r\nGET /metrics HTTP/1.1\r\n\r\n", &r),
	    HTTP_DONE);
	/* Not yet complete. */
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", &r),
	    HTTP_MORE);
	assert_int_equal(parse("GET /metr", &r), HTTP_MORE);
	assert_int_equal(parse("", &r), HTTP_MORE);
	/* Routing. */
	assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", &r), HTTP_DONE);
	assert_int_equal(http_status(HTTP_DONE, &r), 404);
	assert_int_equal(parse("GET /metricsx HTTP/1.1\r\n\r\n", &r),
	    HTTP_DONE);
	assert_int_equal(http_status(HTTP_DONE, &r), 404);
	assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n", &r),
	    HTTP_DONE);
	assert_int_equal(http_status(HTTP_DONE, &r), 405);
	assert_int_equal(parse("HEAD /metrics HTTP/1.1\r\n\r\n", &r),
	    HTTP_DONE);
	assert_int_equal(http_status(HTTP_DONE, &r), 405);
	assert_int_equal(parse("PRI * HTTP/2.0\r\n\r\n", &r), HTTP_VERSION);
	assert_int_equal(http_status(HTTP_VERSION, &r), 505);
}

static void
http_malformed(void **state)
{
	static const char *const bad[] = {
		"GET  /metrics HTTP/1.1\r\n\r\n",	/* two spaces */
		"GET /metrics\r\n\r\n",			/* HTTP/0.9 */
		"GET /metrics HTTP/1.1 \r\n\r\n",
		"GET /metrics HTTP/1\r\n\r\n",
		"GET /metrics FTP/1.1\r\n\r\n",
		"G(T /metrics HTTP/1.1\r\n\r\n",
		"GET /met\x01rics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost x\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",
		"GET /metrics HTTP/1.1\r\n: x\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nA: b\x01\r\n\r\n",
		"TOOLONGMETHODNAME /metrics HTTP/1.1\r\n\r\n",
	};
	struct http_req r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum http_parse p = parse(bad[i], &r);

		if (p != HTTP_BAD)
			fail_msg("request %zu: %d, not HTTP_BAD", i, p);
		assert_int_equal(http_status(p, &r), 400);
	}
}

/* The limits: HTTP_HEADERS_MAX header lines pass, one more does not;
 * a head of HTTP_HEAD_MAX bytes passes, one byte more does not. */
static void
http_limits(void **state)
{
	char buf[HTTP_HEAD_MAX * 2];
	struct http_req r;
	size_t n, fill;

	(void)state;
	n = (size_t)snprintf(buf, sizeof(buf), "GET /metrics HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_HEADERS_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: y\r\n",
		    i);
	memcpy(buf + n, "\r\n", 3);
	assert_int_equal(http_parse(buf, n + 2, &r), HTTP_DONE);
	assert_int_equal(r.nheaders, HTTP_HEADERS_MAX);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-last: y\r\n\r\n");
	assert_int_equal(http_parse(buf, n, &r), HTTP_TOOMANY);
	assert_int_equal(http_status(HTTP_TOOMANY, &r), 431);

	/* One header padded so that the head is exactly the limit. */
	n = (size_t)snprintf(buf, sizeof(buf), "GET /metrics HTTP/1.1\r\n"
	    "X: ");
	fill = HTTP_HEAD_MAX - n - 4;
	memset(buf + n, 'a', fill);
	memcpy(buf + n + fill, "\r\n\r\n", 4);
	assert_int_equal(http_parse(buf, HTTP_HEAD_MAX, &r), HTTP_DONE);
	assert_int_equal(r.head_len, HTTP_HEAD_MAX);
	memset(buf + n, 'a', fill + 1);
	memcpy(buf + n + fill + 1, "\r\n\r\n", 4);
	assert_int_equal(http_parse(buf, HTTP_HEAD_MAX + 1, &r), HTTP_TOOBIG);
	/* As the server sees it: HTTP_HEAD_MAX bytes and no end yet. */
	assert_int_equal(http_parse(buf, HTTP_HEAD_MAX, &r), HTTP_TOOBIG);
	assert_int_equal(http_parse(buf, HTTP_HEAD_MAX - 1, &r), HTTP_MORE);
	/* A target longer than we keep. */
	n = (size_t)snprintf(buf, sizeof(buf), "GET /");
	memset(buf + n, 'a', 300);
	snprintf(buf + n + 300, sizeof(buf) - n - 300, " HTTP/1.1\r\n\r\n");
	assert_int_equal(http_parse(buf, strlen(buf), &r), HTTP_BAD);
}

static void
http_responses(void **state)
{
	struct sbuf b;

	(void)state;
	sbuf_init(&b);
	http_response(&b, 200, "x 1\n", 4);
	assert_string_equal(b.buf, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: 4\r\nConnection: close\r\n"
	    "Cache-Control: no-store\r\n\r\nx 1\n");
	sbuf_free(&b);
	sbuf_init(&b);
	http_response(&b, 405, NULL, 0);
	assert_non_null(strstr(b.buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(b.buf, "\r\nAllow: GET\r\n"));
	assert_non_null(strstr(b.buf, "\r\nContent-Length: 19\r\n"));
	assert_non_null(strstr(b.buf, "\r\n\r\nMethod Not Allowed\n"));
	sbuf_free(&b);
}

/* ------------------------------------------ the HTTP server, for real */

struct client_run {
	uint16_t	 port;
	uv_async_t	 done;
	char		 got[8][256];	/* first line of each answer */
	size_t		 body;		/* bytes after the head of #0 */
	bool		 ok;
};

/* exchange - connect, send the parts (sleeping between them), shut down
 * when asked, and keep the answer's first line and its body's length */
static void
exchange(struct client_run *c, int idx, const char *const *parts,
    bool shut)
{
	struct sockaddr_in sin;
	char buf[65536];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(c->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return;
	for (size_t i = 0; parts[i] != NULL; i++) {
		if (write(fd, parts[i], strlen(parts[i])) < 0)
			break;
		usleep(20000);
	}
	if (shut)
		shutdown(fd, SHUT_WR);
	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	snprintf(c->got[idx], sizeof(c->got[idx]), "%.*s",
	    (int)strcspn(buf, "\r"), buf);
	if (idx == 0 && strstr(buf, "\r\n\r\n") != NULL)
		c->body = len - (size_t)(strstr(buf, "\r\n\r\n") + 4 - buf);
}

static int
connect_to(uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* over_the_limit - HTTP_CONNS_MAX idle connections are held; one more is
 * closed without a word ("EOF"); once they go, a scrape works again */
static void
over_the_limit(struct client_run *c)
{
	static const char *const get[] = { "GET /metrics HTTP/1.1\r\n\r\n",
	    NULL };
	int fds[HTTP_CONNS_MAX], extra;
	char b[64];

	for (int i = 0; i < HTTP_CONNS_MAX; i++)
		fds[i] = connect_to(c->port);
	usleep(100000);
	if ((extra = connect_to(c->port)) >= 0) {
		ssize_t n = read(extra, b, sizeof(b));

		snprintf(c->got[6], sizeof(c->got[6]), "%s", n == 0 ? "EOF" :
		    "answered");
		close(extra);
	}
	for (int i = 0; i < HTTP_CONNS_MAX; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	usleep(200000);
	exchange(c, 7, get, false);
}

static void *
client_thread(void *arg)
{
	struct client_run *c = arg;
	static const char *const split[] = { "GET /met", "rics HTTP/1.1\r\n",
	    "Host: t\r\n", "\r\n", NULL };
	static const char *const pipelined[] = {
	    "GET /metrics HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n", NULL };
	static const char *const cut[] = { "GET /metrics HTTP/1.1\r\n",
	    NULL };
	static const char *const nf[] = { "GET /nope HTTP/1.1\r\n\r\n", NULL };
	static const char *const post[] = {
	    "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", NULL };
	static char big[HTTP_HEAD_MAX + 64];
	const char *const huge[] = { big, NULL };

	snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nX: ");
	memset(big + strlen(big), 'a', HTTP_HEAD_MAX);
	exchange(c, 0, split, false);
	exchange(c, 1, pipelined, false);
	exchange(c, 2, cut, true);
	exchange(c, 3, nf, false);
	exchange(c, 4, post, false);
	exchange(c, 5, huge, false);
	over_the_limit(c);
	uv_async_send(&c->done);
	return NULL;
}

static void
on_done(uv_async_t *a)
{
	struct client_run *c = a->data;
	struct oneshot_srv *srv = c->done.loop->data;

	oneshot_close(srv);
	uv_close((uv_handle_t *)a, NULL);
}

/* find_port - a port free on 127.0.0.1 now */
static uint16_t
find_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void
http_server(void **state)
{
	struct client_run c;
	struct conf_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
	uv_loop_t loop;
	pthread_t th;
	char err[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&a, 0, sizeof(a));
	c.port = find_port();
	sin->sin_family = AF_INET;
	sin->sin_port = htons(c.port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.len = sizeof(*sin);
	snprintf(a.text, sizeof(a.text), "127.0.0.1:%u", c.port);
	feed_known();
	uv_loop_init(&loop);
	loop.data = metrics_http_start(&loop, &a, err, sizeof(err));
	if (loop.data == NULL)
		fail_msg("metrics_http_start: %s", err);
	uv_async_init(&loop, &c.done, on_done);
	c.done.data = &c;
	assert_int_equal(pthread_create(&th, NULL, client_thread, &c), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	assert_int_equal(uv_loop_close(&loop), 0);

	assert_string_equal(c.got[0], "HTTP/1.1 200 OK");
	assert_true(c.body > 1000);
	/* The second request of a pipelined pair is not answered. */
	assert_string_equal(c.got[1], "HTTP/1.1 200 OK");
	assert_string_equal(c.got[2], "HTTP/1.1 400 Bad Request");
	assert_string_equal(c.got[3], "HTTP/1.1 404 Not Found");
	assert_string_equal(c.got[4], "HTTP/1.1 405 Method Not Allowed");
	assert_string_equal(c.got[5],
	    "HTTP/1.1 431 Request Header Fields Too Large");
	assert_string_equal(c.got[6], "EOF");
	assert_string_equal(c.got[7], "HTTP/1.1 200 OK");
}

/* ---------------------------------------------------- control parser */

static void
control_commands(void **state)
{
	static const struct { const char *req; enum ctl_cmd cmd; } ok[] = {
		{ "status", CTL_STATUS }, { "status\n", CTL_STATUS },
		{ "stats\r\n", CTL_STATS }, { "  reload \t\n", CTL_RELOAD },
		{ "status\nignored after the line", CTL_STATUS },
		{ "{\"command\":\"status\"}", CTL_STATUS },
		{ " { \"command\" : \"stats\" } \n", CTL_STATS },
		{ "{\"id\":7,\"command\":\"reload\",\"x\":true}", CTL_RELOAD },
		{ "{\"verbose\":null,\"command\":\"st\\u0061tus\"}",
		    CTL_STATUS },
		{ "{\"command\":\"stats\",\"note\":\"a \\\"q\\\" \\\\\"}",
		    CTL_STATS },
	};
	static const struct { const char *req, *why; } bad[] = {
		{ "", "empty" }, { " \r\n", "empty" },
		{ "STATUS", "unknown command 'STATUS'" },
		{ "status now", "unknown command" },
		{ "shutdown", "unknown command 'shutdown'" },
		{ "{}", "no \"command\"" },
		{ "{\"cmd\":\"status\"}", "no \"command\"" },
		{ "{\"command\":5}", "must be a string" },
		{ "{\"command\":\"status\"", "not a flat JSON object" },
		{ "{\"command\":\"status\"} x", "not a flat JSON object" },
		{ "{\"command\":\"sta\\xtus\"}", "not a flat JSON object" },
		{ "{\"command\":{\"a\":1}}", "must be a string" },
		{ "{\"a\":[1]}", "not a flat JSON object" },
		{ "{\"command\":\"bogus\"}", "unknown command 'bogus'" },
	};
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		err[0] = '\0';
		if (ctl_parse(ok[i].req, strlen(ok[i].req), err,
		    sizeof(err)) != ok[i].cmd)
			fail_msg("\"%s\": not %s (%s)", ok[i].req,
			    ctl_cmd_name(ok[i].cmd), err);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(ctl_parse(bad[i].req, strlen(bad[i].req), err,
		    sizeof(err)), CTL_BAD);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad[i].req,
			    err, bad[i].why);
	}
	/* A long word is cut in the message, not overflowing it. */
	{
		char req[CTL_REQ_MAX];

		memset(req, 'x', sizeof(req) - 1);
		req[sizeof(req) - 1] = '\0';
		assert_int_equal(ctl_parse(req, strlen(req), err, sizeof(err)),
		    CTL_BAD);
		assert_non_null(strstr(err, "unknown command 'xxx"));
	}
}

/* ------------------------------------------ the control socket, for real */

struct ctl_run {
	char		 path[128];
	uv_async_t	 done;
	struct control	*ctl;
	char		 got[3][8192];
};

/* ask - one command on the socket; the whole answer */
static void
ask(const char *path, const char *req, char *out, size_t len)
{
	struct sockaddr_un sun;
	size_t n = 0;
	ssize_t r;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	out[0] = '\0';
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return;
	if (write(fd, req, strlen(req)) >= 0)
		while (n < len - 1 && (r = read(fd, out + n, len - 1 - n)) > 0)
			n += (size_t)r;
	out[n] = '\0';
	close(fd);
}

static void *
ctl_client(void *arg)
{
	struct ctl_run *c = arg;

	ask(c->path, "status\n", c->got[0], sizeof(c->got[0]));
	ask(c->path, "{\"command\":\"stats\"}\n", c->got[1],
	    sizeof(c->got[1]));
	ask(c->path, "restart\n", c->got[2], sizeof(c->got[2]));
	uv_async_send(&c->done);
	return NULL;
}

static void
on_ctl_done(uv_async_t *a)
{
	struct ctl_run *c = a->data;

	control_stop(c->ctl);
	uv_close((uv_handle_t *)a, NULL);
}

/* A stale socket file is replaced; the socket is 0600; a second daemon
 * on the same path is refused; status, stats and an unknown command get
 * their JSON; the file is gone after control_stop. */
static void
control_socket(void **state)
{
	static const char text[] = "[global]\n"
	    "control_socket = /x/ctl.sock\n" SVC;
	struct ctl_run c;
	struct control_env env;
	struct server srv;
	struct sockaddr_un sun;
	struct conf_error cerr;
	struct stat st;
	char dir[] = "/tmp/test_metrics.XXXXXX", err[256];
	uv_loop_t loop;
	pthread_t th;
	int fd;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&srv, 0, sizeof(srv));
	assert_non_null(mkdtemp(dir));
	snprintf(c.path, sizeof(c.path), "%s/run/ctl.sock", dir);
	/* A stale socket: bound, then its owner gone. */
	snprintf(err, sizeof(err), "%s/run", dir);
	assert_int_equal(mkdir(err, 0700), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", c.path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);

	assert_non_null(srv.conf = conf_parse(text, strlen(text), "t.conf",
	    &cerr));
	srv.conf_path = "/etc/t.conf";
	memset(&env, 0, sizeof(env));
	env.srv = &srv;
	env.workers = 3;
	env.metrics_listen = "127.0.0.1:9426";
	uv_loop_init(&loop);
	c.ctl = control_start(&loop, c.path, (uid_t)-1, (gid_t)-1, &env, err,
	    sizeof(err));
	if (c.ctl == NULL)
		fail_msg("control_start: %s", err);
	assert_int_equal(lstat(c.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_null(control_start(&loop, c.path, (uid_t)-1, (gid_t)-1, &env,
	    err, sizeof(err)));
	assert_non_null(strstr(err, "another process answers on it"));

	uv_async_init(&loop, &c.done, on_ctl_done);
	c.done.data = &c;
	assert_int_equal(pthread_create(&th, NULL, ctl_client, &c), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(lstat(c.path, &st), -1);

	if (strncmp(c.got[0], "{\"ok\":true,\"command\":\"status\","
	    "\"version\":\"" PACKAGE_VERSION "\",\"pid\":", 50) != 0)
		fail_msg("status: %s", c.got[0]);
	assert_non_null(strstr(c.got[0], "\"workers\":3,\"config\":"
	    "\"/etc/t.conf\",\"draining\":false,\"metrics_listen\":"
	    "\"127.0.0.1:9426\",\"control_socket\":"));
	assert_non_null(strstr(c.got[0], "\"services\":[{\"name\":\"s\","
	    "\"protocol\":\"smtp\",\"direction\":\"outbound\",\"listen\":"
	    "[\"127.0.0.1:2525\"],\"upstream\":\"127.0.0.1:25\","
	    "\"security\":\"may\",\"active_sessions\":0}]}\n"));
	assert_non_null(strstr(c.got[1], "{\"ok\":true,\"command\":"
	    "\"stats\",\"start_time\":"));
	assert_non_null(strstr(c.got[1], "\"store\":{\"queue_depth\":"));
	assert_string_equal(c.got[2], "{\"ok\":false,\"error\":\"unknown "
	    "command 'restart': expected status, stats or reload\"}\n");
	conf_unref(srv.conf);
	snprintf(err, sizeof(err), "%s/run", dir);
	rmdir(err);
	rmdir(dir);
}

/* ----------------------------------------------------- configuration */

#define A54	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void
conf_keys(void **state)
{
	static const char *const bad[] = {
		"metrics_listen = 9426\n", "metrics_listen = localhost:9426\n",
		"metrics_listen = 127.0.0.1:0\n",
		"metrics_listen = ::1:9426\n",
		"control_socket = run/ctl.sock\n",
		"control_socket = /run/tlshim/\n",
		"control_socket = /" A54 A54 "\n",	/* 109 bytes */
	};
	struct conf_error err;
	struct conf *c;
	char text[512];

	(void)state;
	/* 107 bytes: the longest path a socket address holds. */
	snprintf(text, sizeof(text), "[global]\ncontrol_socket = /%s\n" SVC,
	    A54 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_non_null(c = conf_parse(text, strlen(text), "t.conf", &err));
	assert_int_equal(strlen(c->control_socket), 107);
	conf_unref(c);
	snprintf(text, sizeof(text), "[global]\nmetrics_listen = "
	    "127.0.0.1:9426\ncontrol_socket = /run/tlshim/control.sock\n" SVC);
	assert_non_null(c = conf_parse(text, strlen(text), "t.conf", &err));
	assert_string_equal(c->metrics_listen.text, "127.0.0.1:9426");
	assert_int_equal(c->metrics_listen.ss.ss_family, AF_INET);
	assert_string_equal(c->control_socket, "/run/tlshim/control.sock");
	conf_unref(c);
	snprintf(text, sizeof(text), "[global]\nmetrics_listen = [::1]:9426\n"
	    SVC);
	assert_non_null(c = conf_parse(text, strlen(text), "t.conf", &err));
	assert_int_equal(c->metrics_listen.ss.ss_family, AF_INET6);
	assert_null(c->control_socket);
	conf_unref(c);
	/* Neither is on by default. */
	assert_non_null(c = conf_parse(SVC, strlen(SVC), "t.conf", &err));
	assert_int_equal(c->metrics_listen.len, 0);
	assert_null(c->control_socket);
	conf_unref(c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[global]\n%s" SVC, bad[i]);
		c = conf_parse(text, strlen(text), "t.conf", &err);
		if (c != NULL)
			fail_msg("accepted: %s", bad[i]);
		if (strncmp(err.msg, "t.conf:2: invalid value", 23) != 0)
			fail_msg("%s: %s", bad[i], err.msg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_counters),
		cmocka_unit_test(label_escaping),
		cmocka_unit_test(exposition_format),
		cmocka_unit_test(json_same_numbers),
		cmocka_unit_test(json_quoting),
		cmocka_unit_test(http_requests),
		cmocka_unit_test(http_malformed),
		cmocka_unit_test(http_limits),
		cmocka_unit_test(http_responses),
		cmocka_unit_test(http_server),
		cmocka_unit_test(control_commands),
		cmocka_unit_test(control_socket),
		cmocka_unit_test(conf_keys),
	};

	log_init("test_metrics", true, LOG_L_WARN);
	if (getenv("CMOCKA_MESSAGE_OUTPUT") == NULL)
		cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
