/*
 * harness.c - the real tlshim server in-process, a scripted upstream peer
 * and a blocking legacy client, on 127.0.0.1 only.
 *
 * The server runs on its own uv loop in a thread; the harness touches the
 * loop only before that thread starts and through one uv_async_t (stop)
 * afterwards.  The peer runs its script in another thread on plain
 * blocking sockets, each wait done with poll() on the socket and on a wake
 * pipe, so that stopping a test interrupts any step at once.  Session
 * records arrive through server->on_outcome and are copied under a mutex.
 *
 * The certificates (a test CA, and leaves signed by it or not) are made
 * once per program with GnuTLS's x509 API; the CA goes into a file in a
 * private temporary folder for the service's ca_file.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <uv.h>

#include "plugins/proto.h"
#include "shim/conf.h"
#include "shim/log.h"
#include "shim/result.h"
#include "shim/server.h"
#include "shim/tls.h"
#include "tests/unit/harness.h"

#define STEP_TIMEOUT_MS		5000	/* default for one peer step */
#define CLOSE_WAIT_MS		3000	/* H_CLOSE: wait this long for EOF */
#define HOLD_MS			15000	/* H_END: hold the line this long */
#define STOP_WAIT_MS		10000	/* the server thread must end by then */
#define WAIT_MS			10000	/* for a greeting, refusal or record */

struct peer {
	int			 fd;		/* current connection, -1 if none */
	struct h_conn		*log;
	gnutls_session_t	 gs;		/* NULL while plaintext */
	struct h_buf		 in;		/* plaintext read, not consumed */
	size_t			 in_r;
	struct h_buf		 pend;		/* raw bytes for TLS to pull */
	size_t			 pend_r;
	int64_t			 deadline;	/* for the TLS pull */
	bool			 eof;		/* plaintext or TLS end seen */
	char			 tag[64];	/* from H_EXPECT_CMD, for "$T" */
};

struct harness {
	/* server */
	uv_loop_t		 loop;
	uv_async_t		 stop_async;
	struct server		 srv;
	pthread_t		 srv_thread;
	bool			 srv_running;
	bool			 srv_exited;
	int			 listen_port;
	/* peer */
	int			 peer_lfd;
	int			 peer_port;
	unsigned		 opts;			/* H_TICKETS... */
	int			 wake[2];
	pthread_t		 peer_thread;
	bool			 peer_running;
	bool			 peer_done;
	bool			 peer_failed;
	char			 peer_err[512];
	struct h_step		*script;		/* a copy */
	char			*script_bytes;		/* its args */
	struct peer		 p;
	struct h_conn		 conns[H_MAX_CONN];
	int			 nconn;
	/* records */
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct outcome		 out[H_MAX_OUT];
	int			 nout;
	/* client */
	int			 cfd;
	struct h_buf		 cin;
	size_t			 cin_r;
	struct h_buf		 cline;
	/* teardown */
	bool			 stopped;
	char			 stop_err[256];
};

/* ------------------------------------------------------------ buffers */

/* buf_add - append bytes, keeping a NUL after them */
static void
buf_add(struct h_buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *n;

		while (cap < b->len + len + 1)
			cap *= 2;
		if ((n = realloc(b->p, cap)) == NULL)
			abort();
		b->p = n;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

/* buf_free - release and empty */
static void
buf_free(struct h_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* -------------------------------------------------------------- time */

/* now_ms - monotonic milliseconds */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* abs_deadline - a CLOCK_REALTIME timespec ms from now, for condvars */
static struct timespec
abs_deadline(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* ------------------------------------------------------ certificates */

static struct {
	bool				 ready;
	char				 dir[64];
	char				 ca_path[128];
	gnutls_x509_privkey_t		 ca_key;
	gnutls_x509_crt_t		 ca;
	gnutls_x509_privkey_t		 key[H_CERT_LAST];
	gnutls_x509_crt_t		 crt[H_CERT_LAST];
	gnutls_certificate_credentials_t cred[H_CERT_LAST];
	char				 sha256[H_CERT_LAST][65];
} certs;

#define CHECK_GT(call) do {						\
	int rc_ = (call);						\
	if (rc_ < 0) {							\
		fprintf(stderr, "harness: %s: %s\n", #call,		\
		    gnutls_strerror(rc_));				\
		abort();						\
	}								\
} while (0)

gnutls_x509_privkey_t
h_make_key(void)
{
	gnutls_x509_privkey_t k;

	CHECK_GT(gnutls_x509_privkey_init(&k));
	CHECK_GT(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
	return k;
}

/* make_crt - a certificate for key; issuer NULL makes it self-signed.
 * dns is a NULL-terminated list; ip may be NULL. */
static gnutls_x509_crt_t
make_crt(gnutls_x509_privkey_t key, const char *dn, bool ca,
    const char *const *dns, const char *ip, gnutls_x509_crt_t issuer,
    gnutls_x509_privkey_t issuer_key, unsigned char serial, bool expired)
{
	gnutls_x509_crt_t c;
	unsigned char id[64];
	size_t idlen;
	time_t now = time(NULL);
	const char *errpos;

	CHECK_GT(gnutls_x509_crt_init(&c));
	CHECK_GT(gnutls_x509_crt_set_version(c, 3));
	CHECK_GT(gnutls_x509_crt_set_serial(c, &serial, 1));
	if (expired) {
		CHECK_GT(gnutls_x509_crt_set_activation_time(c, now - 20 * 86400));
		CHECK_GT(gnutls_x509_crt_set_expiration_time(c, now - 10 * 86400));
	} else {
		CHECK_GT(gnutls_x509_crt_set_activation_time(c, now - 3600));
		CHECK_GT(gnutls_x509_crt_set_expiration_time(c, now + 30 * 86400));
	}
	CHECK_GT(gnutls_x509_crt_set_dn(c, dn, &errpos));
	CHECK_GT(gnutls_x509_crt_set_key(c, key));
	CHECK_GT(gnutls_x509_crt_set_basic_constraints(c, ca ? 1 : 0, -1));
	if (ca)
		CHECK_GT(gnutls_x509_crt_set_key_usage(c,
		    GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN));
	else {
		CHECK_GT(gnutls_x509_crt_set_key_usage(c,
		    GNUTLS_KEY_DIGITAL_SIGNATURE));
		CHECK_GT(gnutls_x509_crt_set_key_purpose_oid(c,
		    GNUTLS_KP_TLS_WWW_SERVER, 0));
	}
	for (size_t i = 0; dns != NULL && dns[i] != NULL; i++)
		CHECK_GT(gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_DNSNAME,
		    dns[i], (unsigned)strlen(dns[i]), GNUTLS_FSAN_APPEND));
	if (ip != NULL) {
		unsigned char a[4];

		if (inet_pton(AF_INET, ip, a) != 1)
			abort();
		CHECK_GT(gnutls_x509_crt_set_subject_alt_name(c,
		    GNUTLS_SAN_IPADDRESS, a, 4, GNUTLS_FSAN_APPEND));
	}
	idlen = sizeof(id);
	CHECK_GT(gnutls_x509_crt_get_key_id(c, 0, id, &idlen));
	CHECK_GT(gnutls_x509_crt_set_subject_key_id(c, id, idlen));
	if (issuer != NULL) {
		idlen = sizeof(id);
		CHECK_GT(gnutls_x509_crt_get_subject_key_id(issuer, id, &idlen,
		    NULL));
		CHECK_GT(gnutls_x509_crt_set_authority_key_id(c, id, idlen));
	}
	CHECK_GT(gnutls_x509_crt_sign2(c, issuer != NULL ? issuer : c,
	    issuer_key != NULL ? issuer_key : key, GNUTLS_DIG_SHA256, 0));
	return c;
}

/* certs_make - the test CA, the leaves, their credentials, ca.pem */
static void
certs_make(void)
{
	static const char *const good[] = { "localhost", "mx.test", NULL };
	static const char *const other[] = { "other.example.org", NULL };
	gnutls_datum_t der, pem;
	unsigned char d[32];
	FILE *f;

	certs.ca_key = h_make_key();
	certs.ca = make_crt(certs.ca_key, "CN=tlshim test CA,O=tlshim tests",
	    true, NULL, NULL, NULL, NULL, 1, false);
	for (int i = 0; i < H_CERT_LAST; i++)
		certs.key[i] = h_make_key();
	certs.crt[H_CERT_GOOD] = make_crt(certs.key[H_CERT_GOOD], "CN=mx.test",
	    false, good, "127.0.0.1", certs.ca, certs.ca_key, 2, false);
	certs.crt[H_CERT_WRONG_NAME] = make_crt(certs.key[H_CERT_WRONG_NAME],
	    "CN=other.example.org", false, other, NULL, certs.ca, certs.ca_key,
	    3, false);
	certs.crt[H_CERT_SELF_SIGNED] = make_crt(certs.key[H_CERT_SELF_SIGNED],
	    "CN=mx.test", false, good, "127.0.0.1", NULL, NULL, 4, false);
	certs.crt[H_CERT_EXPIRED] = make_crt(certs.key[H_CERT_EXPIRED],
	    "CN=mx.test", false, good, "127.0.0.1", certs.ca, certs.ca_key, 5,
	    true);
	for (int i = 0; i < H_CERT_LAST; i++) {
		gnutls_x509_crt_t chain[2] = { certs.crt[i], certs.ca };

		CHECK_GT(gnutls_certificate_allocate_credentials(&certs.cred[i]));
		CHECK_GT(gnutls_certificate_set_x509_key(certs.cred[i], chain,
		    i == H_CERT_SELF_SIGNED ? 1 : 2, certs.key[i]));
		CHECK_GT(gnutls_x509_crt_export2(certs.crt[i],
		    GNUTLS_X509_FMT_DER, &der));
		CHECK_GT(gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size,
		    d));
		gnutls_free(der.data);
		for (int j = 0; j < 32; j++)
			snprintf(certs.sha256[i] + 2 * j, 3, "%02x", d[j]);
	}

	snprintf(certs.dir, sizeof(certs.dir), "/tmp/tlshim-test-XXXXXX");
	if (mkdtemp(certs.dir) == NULL) {
		perror("harness: mkdtemp");
		abort();
	}
	snprintf(certs.ca_path, sizeof(certs.ca_path), "%s/ca.pem", certs.dir);
	CHECK_GT(gnutls_x509_crt_export2(certs.ca, GNUTLS_X509_FMT_PEM, &pem));
	if ((f = fopen(certs.ca_path, "w")) == NULL ||
	    fwrite(pem.data, 1, pem.size, f) != pem.size || fclose(f) != 0) {
		perror("harness: writing the CA file");
		abort();
	}
	gnutls_free(pem.data);
	certs.ready = true;
}

const char *
h_cert_sha256(enum h_cert c)
{
	return certs.sha256[c];
}

/* The peer's session ticket key: tickets are sent only on H_TICKET. */
static gnutls_datum_t ticket_key;

void
h_main_init(void)
{
	const char *lv = getenv("TLSHIM_TEST_LOG");
	int level;

	signal(SIGPIPE, SIG_IGN);
	if (getenv("CMOCKA_MESSAGE_OUTPUT") == NULL)
		cmocka_set_message_output(CM_OUTPUT_TAP);
	/* Session summaries on stderr help reading a failed test's log;
	 * TLSHIM_TEST_LOG=trace shows everything. */
	level = lv != NULL ? log_parse_level(lv) : LOG_L_INFO;
	log_init("tlshimd-test", true, level >= 0 ? (enum log_level)level :
	    LOG_L_INFO);
	gnutls_global_init();
	certs_make();
	if (gnutls_session_ticket_key_generate(&ticket_key) < 0)
		fail_msg("cannot make a session ticket key");
}

void
h_main_done(void)
{
	gnutls_free(ticket_key.data);
	ticket_key.data = NULL;
	if (!certs.ready)
		return;
	unlink(certs.ca_path);
	rmdir(certs.dir);
	for (int i = 0; i < H_CERT_LAST; i++) {
		gnutls_certificate_free_credentials(certs.cred[i]);
		gnutls_x509_crt_deinit(certs.crt[i]);
		gnutls_x509_privkey_deinit(certs.key[i]);
	}
	gnutls_x509_crt_deinit(certs.ca);
	gnutls_x509_privkey_deinit(certs.ca_key);
	gnutls_global_deinit();
	certs.ready = false;
}

/* ------------------------------------------------------------ sockets */

/* listen_any - a loopback listening socket on *port, or on a free port
 * when *port is 0 */
static int
listen_any(int *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)*port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* free_port - a port nothing listens on (for now) */
static int
free_port(void)
{
	int port = 0, fd = listen_any(&port);

	if (fd < 0)
		return -1;
	close(fd);
	return port;
}

/* ------------------------------------------------------------- peer */

/* peer_fail - record the first failed step; the script stops */
static void
peer_fail(struct harness *h, int step, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (h->peer_failed)
		return;
	h->peer_failed = true;
	n = snprintf(h->peer_err, sizeof(h->peer_err), "step %d: ", step);
	va_start(ap, fmt);
	vsnprintf(h->peer_err + n, sizeof(h->peer_err) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* wait_fd - 1 when fd is ready, 0 at the deadline, -1 when stopping; fd
 * may be -1 (poll ignores it) to just sleep */
static int
wait_fd(struct harness *h, int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = fd, .events = events },
			{ .fd = h->wake[0], .events = POLLIN },
		};
		int64_t left = deadline - now_ms();
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(pf, 2, (int)left);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pf[1].revents != 0)
			return -1;
		if (rc > 0 && pf[0].revents != 0)
			return 1;
	}
}

/* raw_recv - n > 0 bytes, 0 at EOF, -1 on timeout, stop or error */
static ssize_t
raw_recv(struct harness *h, struct peer *p, void *buf, size_t cap,
    int64_t deadline)
{
	ssize_t n;

	for (;;) {
		int w = wait_fd(h, p->fd, POLLIN, deadline);

		if (w <= 0) {
			errno = w == 0 ? ETIMEDOUT : ECANCELED;
			return -1;
		}
		n = recv(p->fd, buf, cap, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n > 0)
			buf_add(&p->log->raw, buf, (size_t)n);
		return n;
	}
}

/* raw_send - all of it, or -1 */
static int
raw_send(struct harness *h, struct peer *p, const void *data, size_t len,
    int64_t deadline)
{
	const char *d = data;

	while (len > 0) {
		ssize_t n = send(p->fd, d, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int w = wait_fd(h, p->fd, POLLOUT, deadline);
			if (w <= 0) {
				errno = w == 0 ? ETIMEDOUT : ECANCELED;
				return -1;
			}
			continue;
		}
		if (n < 0)
			return -1;
		d += n;
		len -= (size_t)n;
	}
	return 0;
}

static struct harness *tls_h;	/* the harness of the running peer */

/* tls_pull - GnuTLS reads: bytes read ahead first, then the socket */
static ssize_t
tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct peer *p = ptr;
	ssize_t n;

	if (p->pend_r < p->pend.len) {
		size_t k = p->pend.len - p->pend_r;
		if (k > len)
			k = len;
		memcpy(buf, p->pend.p + p->pend_r, k);
		p->pend_r += k;
		return (ssize_t)k;
	}
	n = raw_recv(tls_h, p, buf, len, p->deadline);
	if (n < 0)
		gnutls_transport_set_errno(p->gs, errno == ECANCELED ? EPIPE :
		    ETIMEDOUT);
	return n;
}

/* tls_push - GnuTLS writes to the socket */
static ssize_t
tls_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	struct peer *p = ptr;

	if (raw_send(tls_h, p, buf, len, now_ms() + STEP_TIMEOUT_MS) < 0) {
		/* The shim hung up, after a refusal, while this server still
		 * had records to send: TLS 1.3 session tickets follow the
		 * client's Finished, and a shim that refuses the certificate
		 * at once may be gone by then.  What it sent before leaving
		 * (its QUIT) is still readable, so the script's next step
		 * judges, as it would with a real server. */
		if (errno == EPIPE || errno == ECONNRESET)
			return (ssize_t)len;
		gnutls_transport_set_errno(p->gs, EPIPE);
		return -1;
	}
	return (ssize_t)len;
}

/* app_fill - more plaintext into p->in: 1, or 0 at the end, -1 on error
 * (*why says which) */
static int
app_fill(struct harness *h, struct peer *p, int64_t deadline,
    const char **why)
{
	char tmp[16384];
	ssize_t n;

	if (p->eof) {
		*why = "end of stream";
		return 0;
	}
	if (p->gs != NULL) {
		p->deadline = deadline;
		do
			n = gnutls_record_recv(p->gs, tmp, sizeof(tmp));
		while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED ||
		    (n < 0 && !gnutls_error_is_fatal((int)n) &&
		    now_ms() < deadline));
		if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
			p->eof = p->log->eof = true;
			*why = n == 0 ? "TLS close_notify" : "EOF inside TLS";
			return 0;
		}
		if (n < 0) {
			*why = gnutls_strerror((int)n);
			if (n == GNUTLS_E_PULL_ERROR)
				*why = now_ms() >= deadline ? "timed out" :
				    "stopped";
			return -1;
		}
	} else {
		n = raw_recv(h, p, tmp, sizeof(tmp), deadline);
		if (n == 0) {
			p->eof = p->log->eof = true;
			*why = "EOF";
			return 0;
		}
		if (n < 0) {
			*why = errno == ETIMEDOUT ? "timed out" :
			    errno == ECANCELED ? "stopped" : strerror(errno);
			return -1;
		}
	}
	buf_add(&p->in, tmp, (size_t)n);
	buf_add(&p->log->text, tmp, (size_t)n);
	return 1;
}

/* app_send - plaintext to the shim, inside TLS once it is up */
static int
app_send_raw(struct harness *h, struct peer *p, const void *data, size_t len)
{
	const char *d = data;

	if (p->gs == NULL)
		return raw_send(h, p, data, len, now_ms() + STEP_TIMEOUT_MS);
	while (len > 0) {
		ssize_t n = gnutls_record_send(p->gs, d, len);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0)
			return -1;
		d += n;
		len -= (size_t)n;
	}
	return 0;
}

/* app_send - send, with "$T" replaced by the tag kept by H_EXPECT_CMD */
static int
app_send(struct harness *h, struct peer *p, const void *data, size_t len)
{
	const char *d = data, *t;
	char out[8192];
	size_t o = 0, tl = strlen(p->tag);

	if (p->tag[0] == '\0' || len > sizeof(out) / 2 ||
	    memmem(d, len, "$T", 2) == NULL)
		return app_send_raw(h, p, data, len);
	while (len > 0 && (t = memmem(d, len, "$T", 2)) != NULL &&
	    o + (size_t)(t - d) + tl < sizeof(out)) {
		memcpy(out + o, d, (size_t)(t - d));
		o += (size_t)(t - d);
		memcpy(out + o, p->tag, tl);
		o += tl;
		len -= (size_t)(t - d) + 2;
		d = t + 2;
	}
	if (o + len > sizeof(out))
		return -1;
	memcpy(out + o, d, len);
	return app_send_raw(h, p, out, o + len);
}

/* conn_close - forget the current connection */
static void
conn_close(struct peer *p)
{
	if (p->gs != NULL) {
		gnutls_deinit(p->gs);
		p->gs = NULL;
	}
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	buf_free(&p->in);
	buf_free(&p->pend);
	p->in_r = p->pend_r = 0;
	p->eof = false;
}

/* peer_accept - the next connection from tlshim, with a deadline */
static bool
peer_accept(struct harness *h, int step)
{
	int w, one = 1;

	if (h->nconn == H_MAX_CONN) {
		peer_fail(h, step, "more than %d connections", H_MAX_CONN);
		return false;
	}
	w = wait_fd(h, h->peer_lfd, POLLIN, now_ms() + STEP_TIMEOUT_MS);
	if (w <= 0) {
		peer_fail(h, step, "no connection from tlshim (%s)",
		    w == 0 ? "timed out" : "stopped");
		return false;
	}
	if ((h->p.fd = accept4(h->peer_lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		peer_fail(h, step, "accept: %s", strerror(errno));
		return false;
	}
	setsockopt(h->p.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	h->p.log = &h->conns[h->nconn++];
	return true;
}

/* drain - read until the end of the stream; false on timeout */
static bool
drain(struct harness *h, struct peer *p, int64_t deadline, const char **why)
{
	int rc;

	while ((rc = app_fill(h, p, deadline, why)) > 0)
		;
	return rc == 0;
}

/* op_name - a step's name for messages */
static const char *
op_name(enum h_op op)
{
	static const char *const names[] = { "end", "send", "expect",
	    "expect-data", "tls", "sleep", "close", "reset", "drain",
	    "silence", "accept", "wait-data", "ticket", "expect-cmd",
	    "new-ticket-key" };
	return (unsigned)op < sizeof(names) / sizeof(names[0]) ? names[op] :
	    "?";
}

/* visible - a copy of at most 200 bytes of s, with CR and LF shown */
static const char *
visible(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 5 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r') {
			dst[j++] = '\\';
			dst[j++] = 'r';
		} else if (c == '\n') {
			dst[j++] = '\\';
			dst[j++] = 'n';
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(dst + j, dstlen - j, "\\x%02x", c);
			j += 4;
		} else
			dst[j++] = (char)c;
	}
	dst[j] = '\0';
	return dst;
}

/* step_tls - handshake as the TLS server with certificate cert */
static bool
step_tls(struct harness *h, struct peer *p, int i, int cert)
{
	int rc;
	int64_t deadline = now_ms() + STEP_TIMEOUT_MS;

	if (p->gs != NULL) {
		peer_fail(h, i, "TLS already started");
		return false;
	}
	/* Bytes already read are ciphertext now (none, with a sane shim). */
	if (p->in_r < p->in.len)
		buf_add(&p->pend, p->in.p + p->in_r, p->in.len - p->in_r);
	buf_free(&p->in);
	p->in_r = 0;
	p->log->tls = true;
	p->log->tls_at = p->log->text.len;
	/* Tickets only when a script asks for one (H_TICKET), unless the
	 * test wants them as a server sends them (H_TICKETS). */
	CHECK_GT(gnutls_init(&p->gs, GNUTLS_SERVER |
	    (h->opts & H_TICKETS ? 0 : GNUTLS_NO_AUTO_SEND_TICKET)));
	CHECK_GT(gnutls_session_ticket_enable_server(p->gs, &ticket_key));
	CHECK_GT(gnutls_set_default_priority(p->gs));
	CHECK_GT(gnutls_credentials_set(p->gs, GNUTLS_CRD_CERTIFICATE,
	    certs.cred[cert]));
	gnutls_certificate_server_set_request(p->gs, GNUTLS_CERT_IGNORE);
	gnutls_transport_set_ptr(p->gs, p);
	gnutls_transport_set_pull_function(p->gs, tls_pull);
	gnutls_transport_set_push_function(p->gs, tls_push);
	p->deadline = deadline;
	do
		rc = gnutls_handshake(p->gs);
	while (rc < 0 && !gnutls_error_is_fatal(rc) && now_ms() < deadline);
	if (rc < 0) {
		peer_fail(h, i, "TLS handshake: %s", gnutls_strerror(rc));
		return false;
	}
	p->log->resumed = gnutls_session_is_resumed(p->gs) != 0;
	return true;
}

/* run_step - one step; false stops the script */
static bool
run_step(struct harness *h, struct peer *p, int i, const struct h_step *st)
{
	char vis[512], vis2[512];
	const char *why = "";
	int64_t deadline = now_ms() + (st->n > 0 && st->op != H_TLS ? st->n :
	    STEP_TIMEOUT_MS);

	if (p->fd < 0 && st->op != H_ACCEPT && st->op != H_SLEEP &&
	    st->op != H_END && st->op != H_NEW_TICKET_KEY) {
		peer_fail(h, i, "%s without a connection", op_name(st->op));
		return false;
	}
	switch (st->op) {
	case H_END:
		return false;
	case H_SEND:
		if (app_send(h, p, st->arg, st->len) < 0) {
			peer_fail(h, i, "send \"%s\": %s", visible(vis,
			    sizeof(vis), st->arg, st->len), strerror(errno));
			return false;
		}
		return true;
	case H_EXPECT:
		for (;;) {
			char *start = p->in.p + p->in_r, *lf;
			size_t avail = p->in.len - p->in_r;
			int rc;

			if (avail > 0 && (lf = memchr(start, '\n', avail)) !=
			    NULL) {
				size_t n = (size_t)(lf - start) + 1;

				p->in_r += n;
				if (n < st->len ||
				    memcmp(start, st->arg, st->len) != 0) {
					peer_fail(h, i, "expected \"%s\", got "
					    "\"%s\"", visible(vis, sizeof(vis),
					    st->arg, st->len), visible(vis2,
					    sizeof(vis2), start, n));
					return false;
				}
				return true;
			}
			if ((rc = app_fill(h, p, deadline, &why)) <= 0) {
				peer_fail(h, i, "expected \"%s\", got %s after "
				    "\"%s\"", visible(vis, sizeof(vis), st->arg,
				    st->len), why, visible(vis2, sizeof(vis2),
				    start, avail));
				return false;
			}
		}
	case H_EXPECT_CMD:
		for (;;) {
			char *start = p->in.p + p->in_r, *lf, *sp;
			size_t avail = p->in.len - p->in_r;
			int rc;

			if (avail > 0 && (lf = memchr(start, '\n', avail)) !=
			    NULL) {
				size_t n = (size_t)(lf - start) + 1, tn;

				p->in_r += n;
				sp = memchr(start, ' ', n);
				tn = sp != NULL ? (size_t)(sp - start) : 0;
				if (tn == 0 || tn >= sizeof(p->tag) ||
				    n - tn - 1 < st->len ||
				    memcmp(sp + 1, st->arg, st->len) != 0) {
					peer_fail(h, i, "expected \"<tag> %s\", "
					    "got \"%s\"", visible(vis,
					    sizeof(vis), st->arg, st->len),
					    visible(vis2, sizeof(vis2), start,
					    n));
					return false;
				}
				memcpy(p->tag, start, tn);
				p->tag[tn] = '\0';
				return true;
			}
			if ((rc = app_fill(h, p, deadline, &why)) <= 0) {
				peer_fail(h, i, "expected \"<tag> %s\", got %s",
				    visible(vis, sizeof(vis), st->arg, st->len),
				    why);
				return false;
			}
		}
	case H_EXPECT_DATA:
		while (p->in.len - p->in_r < st->len) {
			if (app_fill(h, p, deadline, &why) <= 0) {
				peer_fail(h, i, "expected %zu bytes, got %zu "
				    "then %s", st->len, p->in.len - p->in_r,
				    why);
				return false;
			}
		}
		if (memcmp(p->in.p + p->in_r, st->arg, st->len) != 0) {
			peer_fail(h, i, "expected data \"%s\", got \"%s\"",
			    visible(vis, sizeof(vis), st->arg, st->len),
			    visible(vis2, sizeof(vis2), p->in.p + p->in_r,
			    st->len));
			return false;
		}
		p->in_r += st->len;
		return true;
	case H_TLS:
		return step_tls(h, p, i, st->n);
	case H_NEW_TICKET_KEY:
		/* Only the peer thread uses the key once h_main_init made
		 * it, and one peer runs at a time. */
		gnutls_free(ticket_key.data);
		ticket_key.data = NULL;
		if (gnutls_session_ticket_key_generate(&ticket_key) < 0) {
			peer_fail(h, i, "cannot make a session ticket key");
			return false;
		}
		return true;
	case H_TICKET: {
		/* Corked, so that the ticket and the data share a segment,
		 * as OpenSSL servers (Postfix) often send them. */
		int on = 1, off = 0, rc;

		if (p->gs == NULL) {
			peer_fail(h, i, "ticket without TLS");
			return false;
		}
		setsockopt(p->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
		do
			rc = gnutls_session_ticket_send(p->gs, 1, 0);
		while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
		if (rc < 0 || app_send(h, p, st->arg, st->len) < 0) {
			peer_fail(h, i, "ticket: %s", rc < 0 ?
			    gnutls_strerror(rc) : strerror(errno));
			return false;
		}
		setsockopt(p->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
		return true;
	}
	case H_SLEEP:
		if (wait_fd(h, -1, 0, now_ms() + st->n) < 0) {
			peer_fail(h, i, "stopped");
			return false;
		}
		return true;
	case H_CLOSE:
		if (p->gs != NULL)
			(void)gnutls_bye(p->gs, GNUTLS_SHUT_WR);
		shutdown(p->fd, SHUT_WR);
		/* Read what is left so that close() sends FIN, not RST. */
		(void)drain(h, p, now_ms() + CLOSE_WAIT_MS, &why);
		conn_close(p);
		return true;
	case H_RESET: {
		struct linger lg = { 1, 0 };

		setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		conn_close(p);
		return true;
	}
	case H_DRAIN:
		if (!drain(h, p, deadline, &why)) {
			peer_fail(h, i, "no end of stream: %s", why);
			return false;
		}
		return true;
	case H_SILENCE:
		if (p->in_r < p->in.len) {
			peer_fail(h, i, "unexpected \"%s\"", visible(vis,
			    sizeof(vis), p->in.p + p->in_r,
			    p->in.len - p->in_r));
			return false;
		}
		switch (app_fill(h, p, deadline, &why)) {
		case 1:
			peer_fail(h, i, "unexpected \"%s\"", visible(vis,
			    sizeof(vis), p->in.p + p->in_r,
			    p->in.len - p->in_r));
			return false;
		case 0:
			return true;	/* EOF is silence too */
		default:
			if (strcmp(why, "timed out") == 0)
				return true;
			peer_fail(h, i, "%s", why);
			return false;
		}
	case H_WAIT_DATA:
		if (p->in_r == p->in.len && app_fill(h, p, deadline, &why) <= 0) {
			peer_fail(h, i, "no data: %s", why);
			return false;
		}
		return true;
	case H_ACCEPT:
		if (p->fd >= 0) {
			shutdown(p->fd, SHUT_WR);
			conn_close(p);
		}
		return peer_accept(h, i);
	}
	peer_fail(h, i, "bad step %d", (int)st->op);
	return false;
}

/* peer_main - the peer thread: accept, run the script, hold the line */
static void *
peer_main(void *arg)
{
	struct harness *h = arg;
	struct peer *p = &h->p;
	int i = 0;

	tls_h = h;
	if (peer_accept(h, 0))
		for (i = 0; h->script[i].op != H_END; i++)
			if (!run_step(h, p, i, &h->script[i]))
				break;
	/* The end of the script: hold the line until tlshim closes it, so
	 * that the peer never decides how a session ends unless told to. */
	if (!h->peer_failed && p->fd >= 0) {
		const char *why;

		(void)drain(h, p, now_ms() + HOLD_MS, &why);
	}
	conn_close(p);
	pthread_mutex_lock(&h->mu);
	h->peer_done = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* ----------------------------------------------------------- server */

/* on_outcome - server hook: copy each finished session's record, with
 * copies of the strings it owns (the session frees its own right after
 * the hook; see result.h), released in h_teardown */
static void
on_outcome(const struct outcome *o, void *arg)
{
	struct harness *h = arg;

	pthread_mutex_lock(&h->mu);
	if (h->nout < H_MAX_OUT) {
		struct outcome *c = &h->out[h->nout];

		*c = *o;
		c->policy_tlsa = o->policy_tlsa != NULL ?
		    strdup(o->policy_tlsa) : NULL;
		c->helo = o->helo != NULL ? strdup(o->helo) : NULL;
	}
	h->nout++;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* on_stop - on the loop thread: drain, cut what is left, let go */
static void
on_stop(uv_async_t *a)
{
	struct harness *h = a->data;

	server_drain(&h->srv);
	/* A second drain cuts the sessions still running: a test that
	 * stops has seen what it wanted. */
	if (h->srv.nsessions > 0)
		server_drain(&h->srv);
	uv_close((uv_handle_t *)a, NULL);
}

/* srv_main - the server thread: run the loop until it is empty */
static void *
srv_main(void *arg)
{
	struct harness *h = arg;

	uv_run(&h->loop, UV_RUN_DEFAULT);
	pthread_mutex_lock(&h->mu);
	h->srv_exited = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* has_key - does the service text set key? */
static bool
has_key(const char *svc, const char *key)
{
	size_t k = strlen(key);

	for (const char *l = svc; l != NULL && *l != '\0';) {
		while (*l == ' ' || *l == '\t')
			l++;
		if (strncmp(l, key, k) == 0 && (l[k] == ' ' || l[k] == '\t' ||
		    l[k] == '='))
			return true;
		if ((l = strchr(l, '\n')) != NULL)
			l++;
	}
	return false;
}

/* make_conf - the configuration text for this test */
static char *
make_conf(struct harness *h, const char *svc)
{
	struct h_buf b = { NULL, 0, 0 };
	char line[512];

#define ADD(...) do {							\
	snprintf(line, sizeof(line), __VA_ARGS__);			\
	buf_add(&b, line, strlen(line));				\
} while (0)
	ADD("[global]\nca_file = %s\nstate_dir = %s\n\n[smtp-out]\n",
	    certs.ca_path, certs.dir);
	if (!has_key(svc, "protocol"))
		ADD("protocol = smtp\n");
	ADD("listen = 127.0.0.1:%d\n", h->listen_port);
	if (!has_key(svc, "upstream"))
		ADD("upstream = 127.0.0.1:%d\n", h->peer_port);
	if (!has_key(svc, "helo_name"))
		ADD("helo_name = shim.test\n");
	if (!has_key(svc, "connect_timeout"))
		ADD("connect_timeout = 3s\n");
	if (!has_key(svc, "handshake_timeout"))
		ADD("handshake_timeout = 8s\n");
	if (!has_key(svc, "idle_timeout"))
		ADD("idle_timeout = 20s\n");
#undef ADD
	buf_add(&b, svc, strlen(svc));
	return b.p;
}

/* copy_script - the peer runs on its own copy, so that a test that fails
 * (and longjmps away from its stack) leaves the peer nothing dangling */
static void
copy_script(struct harness *h, const struct h_step *script)
{
	size_t n = 0, bytes = 0, off = 0;

	while (script[n].op != H_END)
		bytes += script[n++].len;
	if ((h->script = calloc(n + 1, sizeof(*h->script))) == NULL ||
	    (h->script_bytes = malloc(bytes + 1)) == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		h->script[i] = script[i];
		if (script[i].arg != NULL) {
			memcpy(h->script_bytes + off, script[i].arg,
			    script[i].len);
			h->script[i].arg = h->script_bytes + off;
			off += script[i].len;
		}
	}
	h->script[n].op = H_END;
}

void
h_start(struct harness *h, const char *svc, const struct h_step *script)
{
	h_start_opt(h, svc, script, 0);
}

void
h_start_opt(struct harness *h, const char *svc, const struct h_step *script,
    unsigned opts)
{
	struct conf_error cerr;
	struct conf *conf = NULL;
	char err[512] = "";
	int tries;

	h->opts = opts;
	if (opts & H_NO_PEER) {
		if ((h->peer_port = free_port()) < 0)
			fail_msg("no free port: %s", strerror(errno));
	} else if ((h->peer_lfd = listen_any(&h->peer_port)) < 0)
		fail_msg("peer socket: %s", strerror(errno));

	if (uv_loop_init(&h->loop) != 0)
		fail_msg("uv_loop_init failed");
	for (tries = 0; tries < 5; tries++) {
		char *text;

		if ((h->listen_port = free_port()) < 0)
			fail_msg("no free port: %s", strerror(errno));
		text = make_conf(h, svc);
		conf = conf_parse(text, strlen(text), "harness.conf", &cerr);
		if (conf == NULL) {
			uv_loop_close(&h->loop);
			fail_msg("conf_parse: %s\n%s", cerr.msg, text);
		}
		free(text);
		if (!tls_conf_prepare(conf, &cerr)) {
			conf_unref(conf);
			uv_loop_close(&h->loop);
			fail_msg("tls_conf_prepare: %s", cerr.msg);
		}
		memset(&h->srv, 0, sizeof(h->srv));
		if (server_init(&h->srv, &h->loop, conf, "harness.conf", err,
		    sizeof(err)))
			break;
		/* The port was taken meanwhile: let the failed listener
		 * close, then try another one. */
		uv_run(&h->loop, UV_RUN_NOWAIT);
		free(h->srv.conf_path);
		conf_unref(conf);
		conf = NULL;
	}
	if (conf == NULL) {
		uv_loop_close(&h->loop);
		fail_msg("server_init: %s", err);
	}
	h->srv.on_outcome = on_outcome;
	h->srv.on_outcome_arg = h;
	uv_async_init(&h->loop, &h->stop_async, on_stop);
	h->stop_async.data = h;
	if (pthread_create(&h->srv_thread, NULL, srv_main, h) != 0)
		abort();
	h->srv_running = true;
	h->stopped = false;

	if (!(opts & H_NO_PEER)) {
		copy_script(h, script);
		if (pthread_create(&h->peer_thread, NULL, peer_main, h) != 0)
			abort();
		h->peer_running = true;
	} else
		h->peer_done = true;
}

/* walk_cb - name each handle left open, for the failure message */
static void
walk_cb(uv_handle_t *hd, void *arg)
{
	struct h_buf *b = arg;
	const char *t = uv_handle_type_name(uv_handle_get_type(hd));

	buf_add(b, " ", 1);
	buf_add(b, t, strlen(t));
}

void
h_stop(struct harness *h)
{
	if (h->cfd >= 0) {
		close(h->cfd);
		h->cfd = -1;
	}
	if (h->stopped) {
		if (h->peer_lfd >= 0)
			close(h->peer_lfd);
		h->peer_lfd = -1;
		return;
	}
	h->stopped = true;
	if (h->srv_running) {
		struct timespec ts = abs_deadline(STOP_WAIT_MS);
		int rc = 0;

		uv_async_send(&h->stop_async);
		pthread_mutex_lock(&h->mu);
		while (!h->srv_exited && rc == 0)
			rc = pthread_cond_timedwait(&h->cv, &h->mu, &ts);
		pthread_mutex_unlock(&h->mu);
		if (!h->srv_exited) {
			/* Cannot free what the loop still uses: leak it and
			 * say so. */
			snprintf(h->stop_err, sizeof(h->stop_err), "the server "
			    "loop did not stop within %d ms", STOP_WAIT_MS);
		} else {
			pthread_join(h->srv_thread, NULL);
			h->srv_running = false;
			conf_unref(h->srv.conf);
			free(h->srv.conf_path);
			if (uv_loop_close(&h->loop) != 0) {
				struct h_buf b = { NULL, 0, 0 };

				uv_walk(&h->loop, walk_cb, &b);
				snprintf(h->stop_err, sizeof(h->stop_err),
				    "handles left open on the loop:%s", b.p);
				buf_free(&b);
			}
		}
	}
	if (h->peer_running) {
		if (write(h->wake[1], "x", 1) < 0)
			abort();
		pthread_join(h->peer_thread, NULL);
		h->peer_running = false;
	}
	if (h->peer_lfd >= 0) {
		close(h->peer_lfd);
		h->peer_lfd = -1;
	}
}

/* ------------------------------------------------------------ client */

int
h_free_port(void)
{
	return free_port();
}

void
h_use_peer_port(struct harness *h, int port)
{
	h->peer_port = port;
}

void
h_connect(struct harness *h)
{
	h_connect_port(h, h->listen_port);
}

void
h_connect_port(struct harness *h, int port)
{
	struct sockaddr_in sin;
	int one = 1;

	if ((h->cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		fail_msg("socket: %s", strerror(errno));
	setsockopt(h->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (connect(h->cfd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		fail_msg("connect to tlshim: %s", strerror(errno));
}

void
h_sendn(struct harness *h, const void *data, size_t len)
{
	const char *d = data;
	int64_t deadline = now_ms() + STEP_TIMEOUT_MS;

	while (len > 0) {
		ssize_t n = send(h->cfd, d, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pf = { .fd = h->cfd, .events = POLLOUT };
			if (now_ms() > deadline)
				fail_msg("client send: timed out");
			(void)poll(&pf, 1, 100);
			continue;
		}
		if (n < 0)
			fail_msg("client send: %s", strerror(errno));
		d += n;
		len -= (size_t)n;
	}
}

void
h_send(struct harness *h, const char *s)
{
	h_sendn(h, s, strlen(s));
}

/* client_fill - 1 more bytes, 0 EOF, -1 timeout */
static int
client_fill(struct harness *h, int64_t deadline)
{
	char tmp[16384];

	for (;;) {
		struct pollfd pf = { .fd = h->cfd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		n = recv(h->cfd, tmp, sizeof(tmp), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)	/* a reset ends the stream too */
			return 0;
		if (n == 0)
			return 0;
		buf_add(&h->cin, tmp, (size_t)n);
		return 1;
	}
}

const char *
h_line(struct harness *h, int ms)
{
	int64_t deadline = now_ms() + ms;

	if (h->cfd < 0)
		fail_msg("h_line without a connection");
	for (;;) {
		char *start = h->cin.p + h->cin_r, *lf;
		size_t avail = h->cin.len - h->cin_r;

		if (avail > 0 && (lf = memchr(start, '\n', avail)) != NULL) {
			size_t n = (size_t)(lf - start) + 1;

			h->cline.len = 0;
			buf_add(&h->cline, start, n);
			h->cin_r += n;
			return h->cline.p;
		}
		if (client_fill(h, deadline) <= 0)
			return NULL;
	}
}

const char *
h_expect(struct harness *h, const char *prefix)
{
	const char *l = h_line(h, STEP_TIMEOUT_MS);

	if (l == NULL) {
		char vis[512];
		fail_msg("client expected \"%s\", got EOF or nothing (then: "
		    "\"%s\")", prefix, visible(vis, sizeof(vis),
		    h->cin.p + h->cin_r, h->cin.len - h->cin_r));
	}
	if (strncmp(l, prefix, strlen(prefix)) != 0)
		fail_msg("client expected \"%s\", got \"%s\"", prefix, l);
	return l;
}

const char *
h_read_until(struct harness *h, const char *needle, int ms)
{
	int64_t deadline = now_ms() + ms;
	size_t k = strlen(needle);

	if (h->cfd < 0)
		fail_msg("h_read_until without a connection");
	for (;;) {
		char *start = h->cin.p + h->cin_r, *at;
		size_t avail = h->cin.len - h->cin_r;

		if (avail >= k && (at = memmem(start, avail, needle, k)) !=
		    NULL) {
			size_t n = (size_t)(at - start) + k;

			h->cline.len = 0;
			buf_add(&h->cline, start, n);
			h->cin_r += n;
			return h->cline.p;
		}
		if (client_fill(h, deadline) <= 0)
			return NULL;
	}
}

const char *
h_read_all(struct harness *h, int ms, size_t *len)
{
	int64_t deadline = now_ms() + ms;
	int rc;

	while ((rc = client_fill(h, deadline)) > 0)
		;
	if (rc < 0)
		fail_msg("client: no EOF from tlshim within %d ms (got \"%.*s\")",
		    ms, (int)(h->cin.len - h->cin_r), h->cin.p + h->cin_r);
	h->cline.len = 0;
	buf_add(&h->cline, h->cin.p + h->cin_r, h->cin.len - h->cin_r);
	h->cin_r = h->cin.len;
	if (len != NULL)
		*len = h->cline.len;
	return h->cline.p;
}

bool
h_eof(struct harness *h, int ms)
{
	int64_t deadline = now_ms() + ms;
	int rc;

	while ((rc = client_fill(h, deadline)) > 0)
		;
	return rc == 0;
}

void
h_shutdown_wr(struct harness *h)
{
	shutdown(h->cfd, SHUT_WR);
}

void
h_close(struct harness *h)
{
	if (h->cfd >= 0)
		close(h->cfd);
	h->cfd = -1;
}

/* ------------------------------------------------------------ results */

/* outcome_wait - the i-th record, or NULL if none came within ms */
static const struct outcome *
outcome_wait(struct harness *h, int i, int ms)
{
	struct timespec ts = abs_deadline(ms);
	int rc = 0;

	if (i >= H_MAX_OUT)
		fail_msg("h_outcome_n: at most %d records", H_MAX_OUT);
	pthread_mutex_lock(&h->mu);
	while (h->nout <= i && rc == 0)
		rc = pthread_cond_timedwait(&h->cv, &h->mu, &ts);
	pthread_mutex_unlock(&h->mu);
	return h->nout > i ? &h->out[i] : NULL;
}

const struct outcome *
h_outcome_n(struct harness *h, int i, int ms)
{
	const struct outcome *o = outcome_wait(h, i, ms);

	if (o == NULL)
		fail_msg("no session record %d within %d ms", i, ms);
	return o;
}

const struct outcome *
h_outcome(struct harness *h, int ms)
{
	return h_outcome_n(h, 0, ms);
}

bool
h_peer_wait(struct harness *h, int ms)
{
	struct timespec ts = abs_deadline(ms);
	int rc = 0;

	pthread_mutex_lock(&h->mu);
	while (!h->peer_done && rc == 0)
		rc = pthread_cond_timedwait(&h->cv, &h->mu, &ts);
	pthread_mutex_unlock(&h->mu);
	if (!h->peer_done) {
		if (!h->peer_failed)
			snprintf(h->peer_err, sizeof(h->peer_err),
			    "script not finished within %d ms", ms);
		return false;
	}
	return !h->peer_failed;
}

const char *
h_peer_error(struct harness *h)
{
	return h->peer_err;
}

const struct h_conn *
h_peer_conn(struct harness *h, int i)
{
	static const struct h_conn none;

	if (!h->peer_done)
		fail_msg("h_peer_conn before the peer finished");
	if (i >= h->nconn)
		return &none;
	return &h->conns[i];
}

int
h_peer_nconn(struct harness *h)
{
	return h->nconn;
}

const char *
h_peer_after(struct harness *h, int i, const char *needle)
{
	const struct h_conn *c = h_peer_conn(h, i);
	const char *at;

	if (c->text.p == NULL || (at = strstr(c->text.p, needle)) == NULL)
		return NULL;
	return at + strlen(needle);
}

const char *
h_peer_text(struct harness *h, int i)
{
	const char *t = h_peer_conn(h, i)->text.p;

	return t != NULL ? t : "";
}

const char *
h_peer_tls_text(struct harness *h, int i)
{
	const struct h_conn *c = h_peer_conn(h, i);

	if (!c->tls)
		fail_msg("the peer's connection %d never went TLS", i);
	return c->text.p + c->tls_at;
}

/* -------------------------------------------------------- conveniences */

const char *
h_greeted(struct harness *h, const char *greeting)
{
	return h_greeted_port(h, 0, greeting);
}

const char *
h_greeted_port(struct harness *h, int port, const char *greeting)
{
	const char *l;

	h_connect_port(h, port != 0 ? port : h->listen_port);
	l = h_line(h, WAIT_MS);
	if (l == NULL)
		fail_msg("no greeting from tlshim");
	if (strncmp(l, greeting, strlen(greeting)) != 0) {
		/* Most likely a refusal: the record says why. */
		const struct outcome *o = outcome_wait(h, 0, WAIT_MS);

		fail_msg("client got \"%s\" instead of a greeting \"%s\"; "
		    "result=%s reason=%s", l, greeting,
		    o != NULL ? result_name(o->result) : "(none)",
		    o != NULL ? o->reason : "(none)");
	}
	return l;
}

void
h_quit(struct harness *h, const char *cmd, const char *reply)
{
	char line[1024];
	const char *r = reply, *crlf;

	h_send(h, cmd);
	while (*r != '\0') {
		size_t n = (crlf = strstr(r, "\r\n")) != NULL ?
		    (size_t)(crlf - r) + 2 : strlen(r);

		if (n >= sizeof(line))
			fail_msg("h_quit: reply line too long");
		memcpy(line, r, n);
		line[n] = '\0';
		h_expect(h, line);
		r += n;
	}
	if (!h_eof(h, 5000))
		fail_msg("tlshim did not close after %.*s",
		    (int)strcspn(cmd, "\r\n"), cmd);
	h_close(h);
}

/* refusal - connect to port (0: the service's) and read all until EOF,
 * which must start with prefix */
static const char *
refusal(struct harness *h, int port, const char *prefix)
{
	const char *all;

	h_connect_port(h, port != 0 ? port : h->listen_port);
	all = h_read_all(h, WAIT_MS, NULL);
	h_assert_prefix(all, prefix);
	return all;
}

const char *
h_refused(struct harness *h, const char *prefix)
{
	const char *all = refusal(h, 0, prefix);

	if (strstr(all, "\r\n") != all + strlen(all) - 2)
		fail_msg("more than one line: \"%s\"", all);
	return all;
}

void
h_refused_port(struct harness *h, int port, const char *prefix)
{
	refusal(h, port, prefix);
	h_close(h);
}

const struct outcome *
h_result(struct harness *h, enum result r)
{
	const struct outcome *o = h_outcome(h, WAIT_MS);

	h_assert_result(o, r);
	return o;
}

const struct outcome *
h_finish(struct harness *h, enum result r)
{
	const struct outcome *o = h_result(h, r);

	h_assert_peer_ok(h);
	return o;
}

void
h_assert_no_tls(const struct outcome *o)
{
	assert_int_equal(o->auth, AUTH_NONE);
	assert_string_equal(o->tls_version, "");
	assert_string_equal(o->cipher, "");
	assert_string_equal(o->cert_sha256, "");
}

void
h_assert_peer_nothing_after(struct harness *h, const char *needle)
{
	const struct h_conn *c = h_peer_conn(h, 0);
	const char *rest = h_peer_after(h, 0, needle);

	if (rest == NULL)
		fail_msg("peer never got \"%s\"", needle);
	if (*rest != '\0')
		fail_msg("peer got \"%s\" after \"%s\"", rest, needle);
	if (c->raw.p != NULL && memchr(c->raw.p, 0x16, c->raw.len) != NULL)
		fail_msg("peer got a TLS handshake record");
}

/* ------------------------------------------------------------ fixture */

int
h_setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -1;
	h->peer_lfd = -1;
	h->cfd = -1;
	h->p.fd = -1;
	h->stopped = true;		/* until h_start */
	if (pipe2(h->wake, O_CLOEXEC) < 0) {
		free(h);
		return -1;
	}
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	*state = h;
	return 0;
}

int
h_teardown(void **state)
{
	struct harness *h = *state;
	int rc = 0;

	h_stop(h);
	if (h->stop_err[0] != '\0') {
		print_error("harness: %s\n", h->stop_err);
		rc = -1;
	}
	if (h->srv_running || h->peer_running)
		return -1;	/* threads still use h: leak it */
	for (int i = 0; i < H_MAX_CONN; i++) {
		buf_free(&h->conns[i].raw);
		buf_free(&h->conns[i].text);
	}
	buf_free(&h->cin);
	buf_free(&h->cline);
	free(h->script);
	free(h->script_bytes);
	for (int i = 0; i < h->nout && i < H_MAX_OUT; i++)
		outcome_release(&h->out[i]);
	close(h->wake[0]);
	close(h->wake[1]);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
	*state = NULL;
	return rc;
}
