/*
 * metrics_http.h - the metrics page: GET /metrics over HTTP/1.1, one
 * request per connection, on the first worker's loop.
 */
#ifndef TLSHIM_METRICS_HTTP_H
#define TLSHIM_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "shim/conf.h"

struct sbuf;
struct oneshot_srv;

#define HTTP_HEAD_MAX		8192	/* request line and headers */
#define HTTP_HEADERS_MAX	32	/* header lines */
#define HTTP_TIMEOUT_MS		5000	/* to send the request */
#define HTTP_CONNS_MAX		16	/* scrapes served at once */

enum http_parse {
	HTTP_MORE = 0,		/* no blank line yet: read on */
	HTTP_DONE,		/* a whole, well-formed request head */
	HTTP_BAD,		/* malformed: 400 */
	HTTP_TOOBIG,		/* over HTTP_HEAD_MAX: 431 */
	HTTP_TOOMANY,		/* over HTTP_HEADERS_MAX: 431 */
	HTTP_VERSION		/* not HTTP/1.x: 505 */
};

struct http_req {
	char		 method[16];
	char		 target[256];	/* as sent */
	unsigned	 nheaders;
	size_t		 head_len;	/* bytes up to the blank line's end */
};

/* http_parse - check the request head in buf (len bytes) */
enum http_parse	http_parse(const char *buf, size_t len, struct http_req *);
/* http_status - the answer's status for a parse result and request:
 * 200 only for GET /metrics */
int		http_status(enum http_parse, const struct http_req *);
/* http_response - the whole response for status, with body for 200 (the
 * metrics text); Connection: close */
void		http_response(struct sbuf *, int status, const char *body,
		    size_t bodylen);
/* metrics_http_start - bind addr and serve /metrics on loop; NULL with
 * err filled */
struct oneshot_srv *metrics_http_start(uv_loop_t *, const struct conf_addr *,
		    char *err, size_t errlen);

#endif
