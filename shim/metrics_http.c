/*
 * metrics_http.c - just enough HTTP/1.1 (RFC 9112) to serve GET /metrics.
 *
 * The listener is on the first worker's loop, where a slow or hostile
 * client must cost nothing: the request head is bounded in size and in
 * header lines, must arrive within HTTP_TIMEOUT_MS, and every answer
 * closes the connection.  The page is built at once from one snapshot of
 * the counters (metrics.c), a few kilobytes.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim/log.h"
#include "shim/metrics.h"
#include "shim/metrics_http.h"
#include "shim/oneshot.h"
#include "shim/sbuf.h"

#define METRICS_PATH	"/metrics"
#define METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* tchar - RFC 9110 5.6.2 token characters */
static bool
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

/* request_line - "METHOD SP target SP HTTP/1.x", one space each */
static enum http_parse
request_line(const char *s, size_t n, struct http_req *r)
{
	size_t i = 0, m, t;

	for (m = 0; i < n && tchar((unsigned char)s[i]); i++, m++)
		;
	if (m == 0 || m >= sizeof(r->method) || i >= n || s[i] != ' ')
		return HTTP_BAD;
	memcpy(r->method, s, m);
	r->method[m] = '\0';
	for (i++, t = 0; i < n && s[i] > ' ' && s[i] < 0x7f; i++, t++)
		;
	if (t == 0 || t >= sizeof(r->target) || i >= n || s[i] != ' ')
		return HTTP_BAD;
	memcpy(r->target, s + m + 1, t);
	r->target[t] = '\0';
	s += i + 1;
	n -= i + 1;
	if (n != 8 || memcmp(s, "HTTP/", 5) != 0 || s[5] < '0' ||
	    s[5] > '9' || s[6] != '.' || s[7] < '0' || s[7] > '9')
		return HTTP_BAD;
	return s[5] == '1' ? HTTP_DONE : HTTP_VERSION;
}

/* header_line - "name: value"; no space before the colon (RFC 9112 5.1)
 * and no folded continuation lines (5.2): both have been used to smuggle
 * requests past proxies, and no client of ours needs them */
static bool
header_line(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && tchar((unsigned char)s[i]); i++)
		;
	if (i == 0 || i >= n || s[i] != ':')
		return false;
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* http_parse - walk the lines of the head; a line ends in CRLF or, as RFC
 * 9112 2.2 allows, a bare LF */
enum http_parse
http_parse(const char *buf, size_t len, struct http_req *r)
{
	size_t pos = 0;
	bool first = true;
	enum http_parse rc;

	memset(r, 0, sizeof(*r));
	for (;;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n;

		if (nl == NULL)
			return len >= HTTP_HEAD_MAX ? HTTP_TOOBIG : HTTP_MORE;
		if ((size_t)(nl - buf) + 1 > HTTP_HEAD_MAX)
			return HTTP_TOOBIG;
		n = (size_t)(nl - (buf + pos));
		if (n > 0 && buf[pos + n - 1] == '\r')
			n--;
		if (memchr(buf + pos, '\r', n) != NULL)
			return HTTP_BAD;	/* a bare CR inside a line */
		if (first && n == 0 && pos < 4) {
			/* Blank lines before the request line may be left
			 * over from a previous request (RFC 9112 2.2). */
			pos = (size_t)(nl - buf) + 1;
			continue;
		}
		if (first) {
			if ((rc = request_line(buf + pos, n, r)) != HTTP_DONE)
				return rc;
			first = false;
		} else if (n == 0) {
			r->head_len = (size_t)(nl - buf) + 1;
			return HTTP_DONE;
		} else if (buf[pos] == ' ' || buf[pos] == '\t' ||
		    !header_line(buf + pos, n))
			return HTTP_BAD;
		else if (++r->nheaders > HTTP_HEADERS_MAX)
			return HTTP_TOOMANY;
		pos = (size_t)(nl - buf) + 1;
	}
}

/* target_path - the path of an origin-form or absolute-form target */
static void
target_path(const char *t, char *path, size_t len)
{
	size_t n;

	if (strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0) {
		t = strstr(t, "//") + 2;
		t += strcspn(t, "/");
	}
	n = strcspn(t, "?#");
	snprintf(path, len, "%.*s", (int)n, t);
}

int
http_status(enum http_parse p, const struct http_req *r)
{
	char path[sizeof(r->target)];

	switch (p) {
	case HTTP_DONE:
		break;
	case HTTP_TOOBIG:
	case HTTP_TOOMANY:
		return 431;
	case HTTP_VERSION:
		return 505;
	default:
		return 400;
	}
	if (strcmp(r->method, "GET") != 0)
		return 405;
	target_path(r->target, path, sizeof(path));
	return strcmp(path, METRICS_PATH) == 0 ? 200 : 404;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200:	return "OK";
	case 400:	return "Bad Request";
	case 404:	return "Not Found";
	case 405:	return "Method Not Allowed";
	case 408:	return "Request Timeout";
	case 431:	return "Request Header Fields Too Large";
	case 505:	return "HTTP Version Not Supported";
	default:	return "Internal Server Error";
	}
}

void
http_response(struct sbuf *b, int status, const char *body, size_t bodylen)
{
	char text[64];

	if (status != 200) {
		snprintf(text, sizeof(text), "%s\n", reason(status));
		body = text;
		bodylen = strlen(text);
	}
	sbuf_printf(b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s"
	    "Cache-Control: no-store\r\n\r\n", status, reason(status),
	    status == 200 ? METRICS_TYPE : "text/plain; charset=utf-8",
	    bodylen, status == 405 ? "Allow: GET\r\n" : "");
	sbuf_add(b, body, bodylen);
}

/* ------------------------------------------------------------ the server */

static bool
head_complete(const char *buf, size_t len)
{
	struct http_req r;

	return http_parse(buf, len, &r) != HTTP_MORE;
}

/* page - the metrics text, or a 500 when memory ran out */
static void
page(struct sbuf *out)
{
	struct metrics_snap m;
	struct sbuf body;

	sbuf_init(&body);
	if (!metrics_snapshot(&m)) {
		http_response(out, 500, NULL, 0);
		return;
	}
	metrics_text(&m, &body);
	metrics_snap_free(&m);
	if (sbuf_ok(&body))
		http_response(out, 200, sbuf_str(&body), body.len);
	else
		http_response(out, 500, NULL, 0);
	sbuf_free(&body);
}

static void
answer(void *arg, const char *buf, size_t len, enum oneshot_end how,
    struct sbuf *out)
{
	struct http_req r;
	enum http_parse p;
	int status;

	(void)arg;
	p = http_parse(buf, len, &r);
	switch (how) {
	case OS_TIMEOUT:
		if (len > 0)
			http_response(out, 408, NULL, 0);
		return;		/* a connection that said nothing */
	case OS_EOF:
		if (len == 0)
			return;
		if (p == HTTP_MORE)
			p = HTTP_BAD;	/* the head was cut short */
		break;
	case OS_TOOBIG:
		if (p == HTTP_MORE)
			p = HTTP_TOOBIG;
		break;
	case OS_COMPLETE:
		break;
	}
	if ((status = http_status(p, &r)) == 200)
		page(out);
	else
		http_response(out, status, NULL, 0);
}

static const struct oneshot_ops http_ops = {
	.name = "metrics",
	.req_max = HTTP_HEAD_MAX,
	.timeout_ms = HTTP_TIMEOUT_MS,
	.conns_max = HTTP_CONNS_MAX,
	.complete = head_complete,
	.admit = NULL,
	.answer = answer,
};

/* metrics_http_start - bind before privileges are dropped (the port may
 * be below 1024).  Without SO_REUSEPORT, unlike the service listeners:
 * one loop serves the page, and an address that a service (or another
 * program) has is an error, not a silent share. */
struct oneshot_srv *
metrics_http_start(uv_loop_t *loop, const struct conf_addr *a, char *err,
    size_t errlen)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	int one = 1;
	struct oneshot_srv *srv;
	char why[128];

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (a->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		snprintf(err, errlen, "metrics_listen = %s: %s", a->text,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if ((srv = oneshot_open(loop, fd, false, &http_ops, NULL, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "metrics_listen = %s: %s", a->text, why);
		return NULL;
	}
	logmsg(LOG_L_INFO, "metrics on http://%s%s", a->text, METRICS_PATH);
	return srv;
}
