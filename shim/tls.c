/*
 * tls.c - GnuTLS client sessions on memory buffers, and their credentials.
 *
 * The push function hands each record to the session's write queue; the
 * pull function reads from the bytes the loop last received and says
 * EAGAIN when they are used up, so GnuTLS never blocks and never sees a
 * socket.  The certificate is checked after the handshake (tls_verify.c),
 * and described for the session record (tls_peer.c).
 *
 * Resumption: a session that tls_conn_resume() filed under a cache key
 * (the upstream, and what its verification requires) offers a session
 * kept from an earlier connection; once tls_conn_keep() has the outcome
 * of the verification, the tickets the server sends are kept under that
 * key with it (tls_cache.c), to be offered, once each, by later sessions.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "shim/result.h"
#include "shim/tls.h"
#include "shim/tls_cache.h"
#include "shim/tls_int.h"

/* TLS 1.2 and 1.3 only (RFC 8996, RFC 9325 3.1.1).  NORMAL already
 * excludes RC4, 3DES, export and anonymous suites, and puts AES-GCM first,
 * which has the fast path on these machines.  X25519 first: with
 * GNUTLS_KEY_SHARE_TOP the ClientHello carries that one key share instead
 * of two, one key generation less per handshake; a server without X25519
 * asks for another group (HelloRetryRequest) and still gets one. */
#define TLS_PRIORITY	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
			"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:" \
			"+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-FFDHE2048:" \
			"+GROUP-FFDHE3072:%SAFE_RENEGOTIATION"

static uint64_t last_client_id;	/* atomically */

/* ------------------------------------------------------ credentials */

struct tls_client *
tls_client_new(const char *ca_file, char *err, size_t errlen)
{
	struct tls_client *c = calloc(1, sizeof(*c));
	const char *errpos = NULL;
	int rc;

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->refs = 1;
	c->id = __atomic_add_fetch(&last_client_id, 1, __ATOMIC_RELAXED);
	if ((rc = gnutls_certificate_allocate_credentials(&c->cred)) < 0) {
		snprintf(err, errlen, "%s", gnutls_strerror(rc));
		free(c);
		return NULL;
	}
	if ((rc = gnutls_priority_init(&c->prio, TLS_PRIORITY, &errpos)) < 0) {
		snprintf(err, errlen, "priority string: %s", gnutls_strerror(rc));
		gnutls_certificate_free_credentials(c->cred);
		free(c);
		return NULL;
	}
	if (ca_file != NULL) {
		rc = gnutls_certificate_set_x509_trust_file(c->cred, ca_file,
		    GNUTLS_X509_FMT_PEM);
		if (rc <= 0) {
			snprintf(err, errlen, "ca_file %s: %s", ca_file,
			    rc == 0 ? "no certificates in it" :
			    rc == GNUTLS_E_FILE_ERROR ? "cannot read it" :
			    gnutls_strerror(rc));
			tls_client_free(c);
			return NULL;
		}
		c->have_ca = true;
		c->ca_file = strdup(ca_file);
	}
	return c;
}

void
tls_client_free(struct tls_client *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	gnutls_priority_deinit(c->prio);
	gnutls_certificate_free_credentials(c->cred);
	free(c->ca_file);
	free(c);
}

/* tls_conf_prepare - load each distinct CA file once per configuration */
bool
tls_conf_prepare(struct conf *conf, struct conf_error *err)
{
	char msg[256];

	for (size_t i = 0; i < conf->nservices; i++) {
		struct conf_service *svc = &conf->services[i];

		for (size_t j = 0; j < i; j++) {
			struct tls_client *o = conf->services[j].tls_client;
			if (o != NULL && o->ca_file != NULL &&
			    strcmp(o->ca_file, svc->ca_file) == 0) {
				svc->tls_client = o;
				o->refs++;
				break;
			}
		}
		if (svc->tls_client != NULL)
			continue;
		svc->tls_client = tls_client_new(svc->ca_file, msg, sizeof(msg));
		if (svc->tls_client == NULL) {
			/* Line 0: the default ca_file, set on no line. */
			err->line = svc->ca_file_line;
			if (err->line > 0)
				snprintf(err->msg, sizeof(err->msg), "%s:%d: %s",
				    conf->path, err->line, msg);
			else
				snprintf(err->msg, sizeof(err->msg), "%s: %s "
				    "(the default; set ca_file in [global])",
				    conf->path, msg);
			return false;
		}
	}
	return true;
}

/* --------------------------------------------------------- sessions */

static ssize_t
pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct tls_conn *t = p;

	if (t->inlen == 0) {
		t->starved = true;
		gnutls_transport_set_errno(t->gs, EAGAIN);
		return -1;
	}
	if (len > t->inlen)
		len = t->inlen;
	memcpy(buf, t->in, len);
	t->in += len;
	t->inlen -= len;
	return (ssize_t)len;
}

static ssize_t
push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	struct tls_conn *t = p;

	t->push(t->ctx, buf, len);
	return (ssize_t)len;
}

struct tls_conn *
tls_conn_new(struct tls_client *c, const char *sni, tls_push_fn pushfn,
    void *ctx, char *err, size_t errlen)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	int rc;

	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->client = c;
	t->push = pushfn;
	t->ctx = ctx;
	if ((rc = gnutls_init(&t->gs, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
	    GNUTLS_KEY_SHARE_TOP)) < 0)
		goto fail;
	if ((rc = gnutls_priority_set(t->gs, c->prio)) < 0 ||
	    (rc = gnutls_credentials_set(t->gs, GNUTLS_CRD_CERTIFICATE,
	    c->cred)) < 0)
		goto fail;
	if (sni != NULL && (rc = gnutls_server_name_set(t->gs, GNUTLS_NAME_DNS,
	    sni, strlen(sni))) < 0)
		goto fail;
	if (sni != NULL && (t->sni = strdup(sni)) == NULL) {
		rc = GNUTLS_E_MEMORY_ERROR;
		goto fail;
	}
	gnutls_session_set_ptr(t->gs, t);
	gnutls_transport_set_ptr(t->gs, t);
	gnutls_transport_set_push_function(t->gs, push);
	gnutls_transport_set_pull_function(t->gs, pull);
	gnutls_handshake_set_timeout(t->gs, 0);	/* the loop's timer rules */
	return t;
fail:
	snprintf(err, errlen, "%s", gnutls_strerror(rc));
	tls_conn_free(t);
	return NULL;
}

void
tls_conn_free(struct tls_conn *t)
{
	if (t == NULL)
		return;
	if (t->gs != NULL)
		gnutls_deinit(t->gs);
	free(t->sni);
	free(t);
}

void
tls_conn_feed(struct tls_conn *t, const char *data, size_t len)
{
	t->in = data;
	t->inlen = len;
}

static enum tls_rc
fail(struct tls_conn *t, int rc)
{
	t->err = rc;
	if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED ||
	    rc == GNUTLS_E_WARNING_ALERT_RECEIVED)
		snprintf(t->errtext, sizeof(t->errtext), "%s: %s",
		    gnutls_strerror(rc),
		    gnutls_alert_get_name(gnutls_alert_get(t->gs)));
	else
		snprintf(t->errtext, sizeof(t->errtext), "%s",
		    gnutls_strerror(rc));
	return TLS_ERROR;
}

enum tls_rc
tls_conn_handshake(struct tls_conn *t)
{
	int rc;

	do
		rc = gnutls_handshake(t->gs);
	while (rc == GNUTLS_E_INTERRUPTED ||
	    (rc < 0 && rc != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(rc)));
	if (rc == GNUTLS_E_AGAIN)
		return TLS_AGAIN;
	if (rc < 0)
		return fail(t, rc);
	return TLS_OK;
}

/* ------------------------------------------------------- resumption */

/* verify_class - what a level asks of verification, for the cache key.
 * may and encrypt ask nothing, so their tickets are interchangeable;
 * verify asks for PKIX, and never shares tickets with them, either way.
 * The DANE levels are decided by the TLSA records found at each session's
 * time, which a kept verdict cannot stand for: no resumption there. */
static const char *
verify_class(enum tls_level level)
{
	switch (level) {
	case LEV_MAY:
	case LEV_ENCRYPT:
		return "noauth";
	case LEV_VERIFY:
		return "pkix";
	default:
		return NULL;
	}
}

/* on_ticket - GnuTLS hook around a NewSessionTicket.  Before it is
 * parsed (the message is whole only then) we read its lifetime: both the
 * TLS 1.3 message (RFC 8446 4.6.1) and the TLS 1.2 one (RFC 5077 3.3)
 * begin with it, in seconds.  After, the ticket is GnuTLS's: our caller
 * keeps it once the record is done with, not here, inside GnuTLS. */
static int
on_ticket(gnutls_session_t gs, unsigned htype, unsigned when,
    unsigned incoming, const gnutls_datum_t *msg)
{
	struct tls_conn *t = gnutls_session_get_ptr(gs);

	if (htype != GNUTLS_HANDSHAKE_NEW_SESSION_TICKET || !incoming ||
	    t == NULL)
		return 0;
	if (when == GNUTLS_HOOK_PRE)
		t->ticket_life = msg != NULL && msg->size >= 4 ?
		    (unsigned)msg->data[0] << 24 |
		    (unsigned)msg->data[1] << 16 |
		    (unsigned)msg->data[2] << 8 | msg->data[3] : 0;
	else
		t->ticket_new = true;
	return 0;
}

/* keep_session - put this session's resumption data in the cache */
static void
keep_session(struct tls_conn *t)
{
	gnutls_datum_t d = { NULL, 0 };	/* get_id2: GnuTLS's own memory */
	unsigned life;
	bool tls13 = gnutls_protocol_get_version(t->gs) == GNUTLS_TLS1_3;

	/* TLS 1.3: only a ticket makes a session resumable, and its
	 * lifetime 0 means "do not keep" (RFC 8446 4.6.1).  Without a ticket
	 * gnutls_session_get_data2() would wait for one, reading: never ask
	 * then.  TLS 1.2: a session ID or a ticket from the handshake; a
	 * lifetime hint of 0 says nothing (RFC 5077 3.3). */
	if (tls13 && !t->ticket_new)
		return;
	if (!tls13 && !t->ticket_new &&
	    (gnutls_session_get_id2(t->gs, &d) < 0 || d.size == 0))
		return;		/* the server offered no way back */
	life = t->ticket_new ? t->ticket_life : 0;
	if (!tls13 && life == 0)
		life = TLS_CACHE_MAX_AGE;
	t->ticket_new = false;
	if (gnutls_session_get_data2(t->gs, &d) < 0)
		return;
	(void)tls_cache_put(t->key, d.data, d.size, &t->verdict, life);
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
}

bool
tls_conn_resume(struct tls_conn *t, const char *host, uint16_t port,
    enum tls_level level)
{
	const char *cls = verify_class(level);
	void *data;
	size_t len;
	int n, rc;

	if (cls == NULL)
		return false;
	/* A host name has no space, and "-" is no SNI: the fields cannot
	 * run into each other. */
	n = snprintf(t->key, sizeof(t->key), "%s %u %s %s %llu", host,
	    (unsigned)port, t->sni != NULL ? t->sni : "-", cls,
	    (unsigned long long)t->client->id);
	if (n < 0 || (size_t)n >= sizeof(t->key)) {
		t->key[0] = '\0';
		return false;
	}
	gnutls_handshake_set_hook_function(t->gs,
	    GNUTLS_HANDSHAKE_NEW_SESSION_TICKET, GNUTLS_HOOK_BOTH, on_ticket);
	if (!tls_cache_take(t->key, &data, &len, &t->verdict))
		return false;
	/* Data GnuTLS cannot use (another version's, say) is no error: the
	 * handshake will just be a full one. */
	rc = gnutls_session_set_data(t->gs, data, len);
	tls_cache_data_free(data, len);
	t->offered = rc == 0;
	return t->offered;
}

bool
tls_conn_resumed(struct tls_conn *t, struct outcome *o, char *why,
    size_t whylen)
{
	if (!t->offered || !gnutls_session_is_resumed(t->gs))
		return false;
	o->auth = t->verdict.auth;
	snprintf(o->cert_sha256, sizeof(o->cert_sha256), "%s",
	    t->verdict.cert_sha256);
	snprintf(o->spki_sha256, sizeof(o->spki_sha256), "%s",
	    t->verdict.spki_sha256);
	snprintf(why, whylen, "%s", t->verdict.why);
	return true;
}

void
tls_conn_keep(struct tls_conn *t, const struct outcome *o, const char *why)
{
	if (t->key[0] == '\0')
		return;
	/* A resumed session keeps the verdict it inherited, and with it
	 * the time of the full handshake that made it (verified_ms): a
	 * chain of resumptions never stretches a verification's life. */
	if (!t->offered || !gnutls_session_is_resumed(t->gs)) {
		memset(&t->verdict, 0, sizeof(t->verdict));
		t->verdict.verified_ms = tls_cache_clock_ms();
		t->verdict.auth = o->auth;
		snprintf(t->verdict.cert_sha256, sizeof(t->verdict.cert_sha256),
		    "%s", o->cert_sha256);
		snprintf(t->verdict.spki_sha256, sizeof(t->verdict.spki_sha256),
		    "%s", o->spki_sha256);
		snprintf(t->verdict.why, sizeof(t->verdict.why), "%s",
		    why != NULL ? why : "");
	}
	t->keep = true;
	keep_session(t);
}

enum tls_rc
tls_conn_recv(struct tls_conn *t, char *buf, size_t cap, size_t *got)
{
	ssize_t n;

	*got = 0;
	for (unsigned spins = 0;; spins++) {
		t->starved = false;
		n = gnutls_record_recv(t->gs, buf, cap);
		if (t->ticket_new && t->keep)
			keep_session(t);
		if (n > 0) {
			*got = (size_t)n;
			return TLS_OK;
		}
		if (n == 0)
			return TLS_CLOSED;
		/* GnuTLS also says AGAIN right after it consumed a TLS 1.3
		 * post-handshake message (a NewSessionTicket), with more
		 * records still unread: go on until the input really ran
		 * dry, or a reply that came in the same segment as the
		 * ticket is never read.  The bound only guards against a
		 * library that would say AGAIN forever without reading. */
		if (n == GNUTLS_E_AGAIN && (t->starved || spins > 64))
			return TLS_AGAIN;
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		/* A TLS 1.2 server asking to renegotiate: we never do, and
		 * a warning alert is not worth ending the session for. */
		if (n == GNUTLS_E_REHANDSHAKE || !gnutls_error_is_fatal((int)n))
			continue;
		return fail(t, (int)n);
	}
}

enum tls_rc
tls_conn_send(struct tls_conn *t, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = gnutls_record_send(t->gs, p, len);
		if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN)
			continue;	/* push never blocks: cannot loop long */
		if (n < 0)
			return fail(t, (int)n);
		p += n;
		len -= (size_t)n;
	}
	return TLS_OK;
}

void
tls_conn_bye(struct tls_conn *t)
{
	(void)gnutls_bye(t->gs, GNUTLS_SHUT_WR);
}

const char *
tls_conn_error(const struct tls_conn *t)
{
	return t->errtext[0] != '\0' ? t->errtext : "no error";
}

bool
tls_conn_alpn(struct tls_conn *t, const char *proto, char *err,
    size_t errlen)
{
	gnutls_datum_t p = { (unsigned char *)proto,
	    (unsigned)strlen(proto) };
	int rc = gnutls_alpn_set_protocols(t->gs, &p, 1, 0);

	if (rc < 0)
		snprintf(err, errlen, "ALPN: %s", gnutls_strerror(rc));
	return rc >= 0;
}

