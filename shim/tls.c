/*
 * tls.c - GnuTLS client sessions on memory buffers, and their credentials.
 *
 * The push function hands each record to the session's write queue; the
 * pull function reads from the bytes the loop last received and says
 * EAGAIN when they are used up, so GnuTLS never blocks and never sees a
 * socket.  Verification is done after the handshake, by us, so that a
 * failure can be recorded in words and handled per security level instead
 * of ending as an anonymous handshake error.
 *
 * Resumption: a session that tls_conn_resume() filed under a cache key
 * (the upstream, and what its verification requires) offers a session
 * kept from an earlier connection; once tls_conn_keep() has the outcome
 * of the verification, the tickets the server sends are kept under that
 * key with it (tls_cache.c), to be offered, once each, by later sessions.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "shim/result.h"
#include "shim/tls.h"
#include "shim/tls_cache.h"
#include "shim/tls_vcache.h"

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

struct tls_client {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t	 prio;
	unsigned		 refs;
	bool			 have_ca;
	char			*ca_file;
	/* Unique in the process, never reused: cached sessions name the
	 * trust they were verified with by it, so that what a reload
	 * brings (another CA file, or the same one changed) starts afresh
	 * instead of inheriting verdicts made with the old one. */
	uint64_t		 id;
};

struct tls_conn {
	gnutls_session_t	 gs;
	struct tls_client	*client;
	tls_push_fn		 push;
	void			*ctx;
	const char		*in;		/* ciphertext not yet pulled */
	size_t			 inlen;
	bool			 starved;	/* pull found no input */
	int			 err;		/* last GnuTLS error */
	char			 errtext[160];
	char			*sni;		/* NULL for address literals */
	/* Resumption; key is "" when this session is not cached. */
	char			 key[TLS_CACHE_KEY_MAX];
	bool			 offered;	/* a cached session was set */
	bool			 keep;		/* verdict known: keep tickets */
	bool			 ticket_new;	/* one arrived, not yet kept */
	unsigned		 ticket_life;	/* its lifetime, seconds */
	struct tls_verdict	 verdict;	/* the offered's, then ours */
};

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

/* stapled - the server sent an OCSP response for one of its n
 * certificates: the verification then depends on it as well */
static bool
stapled(struct tls_conn *t, unsigned n)
{
	gnutls_datum_t resp;

	for (unsigned i = 0; i < n; i++)
		if (gnutls_ocsp_status_request_get2(t->gs, i, &resp) == 0)
			return true;
	return false;
}

/* verify_peers - GnuTLS's verification of the chain and of host: its
 * status bits in *status, or a GnuTLS error */
static int
verify_peers(struct tls_conn *t, const char *host,
    const gnutls_typed_vdata_st *ip, unsigned *status)
{
	if (ip != NULL)
		return gnutls_certificate_verify_peers(t->gs,
		    (gnutls_typed_vdata_st *)ip, 1, status);
	return gnutls_certificate_verify_peers3(t->gs, host, status);
}

/* verify_cached - verify_peers through the verdict cache (tls_vcache.c):
 * a chain already verified with these credentials for this host is not
 * verified again while its verdict holds */
static int
verify_cached(struct tls_conn *t, const char *host, bool is_ip,
    const gnutls_typed_vdata_st *ip, unsigned *status)
{
	const gnutls_datum_t *certs;
	gnutls_x509_trust_list_t tl = NULL;
	struct tls_vkey key;
	unsigned n = 0;
	time_t now = time(NULL);
	int rc;

	certs = gnutls_certificate_get_peers(t->gs, &n);
	if (stapled(t, n) ||
	    !tls_vcache_key(&key, certs, n, t->client->id, host, is_ip))
		return verify_peers(t, host, ip, status);
	if (tls_vcache_get(&key, now, status))
		return 0;
	if ((rc = verify_peers(t, host, ip, status)) < 0)
		return rc;
	/* A certificate not valid yet may be soon: not kept. */
	if (!(*status & GNUTLS_CERT_NOT_ACTIVATED)) {
		gnutls_certificate_get_trust_list(t->client->cred, &tl);
		tls_vcache_put(&key, *status, now,
		    tls_vcache_until(certs, n, tl));
	}
	return 0;
}

bool
tls_conn_verify(struct tls_conn *t, const char *host, bool is_ip, char *why,
    size_t whylen)
{
	gnutls_typed_vdata_st data;
	unsigned char ip[16];
	unsigned status = 0;
	gnutls_datum_t text;
	int rc;

	if (!t->client->have_ca) {
		snprintf(why, whylen, "no CA store to verify the certificate");
		return false;
	}
	if (gnutls_certificate_get_peers(t->gs, NULL) == NULL) {
		snprintf(why, whylen, "server sent no certificate");
		return false;
	}
	if (is_ip) {
		/* An address literal is checked against the certificate's
		 * IP addresses (RFC 9525 6.2.1), never against names. */
		memset(&data, 0, sizeof(data));
		data.type = GNUTLS_DT_IP_ADDRESS;
		data.data = ip;
		if (inet_pton(AF_INET, host, ip) == 1)
			data.size = 4;
		else if (inet_pton(AF_INET6, host, ip) == 1)
			data.size = 16;
		else {
			snprintf(why, whylen, "bad address %s", host);
			return false;
		}
	}
	rc = verify_cached(t, host, is_ip, is_ip ? &data : NULL, &status);
	if (rc < 0) {
		snprintf(why, whylen, "verification error: %s",
		    gnutls_strerror(rc));
		return false;
	}
	if (status == 0)
		return true;
	if (gnutls_certificate_verification_status_print(status,
	    GNUTLS_CRT_X509, &text, 0) == 0) {
		snprintf(why, whylen, "certificate not verified for %s: %s",
		    host, text.data);
		gnutls_free(text.data);
	} else
		snprintf(why, whylen, "certificate not verified for %s", host);
	return false;
}

/* tls_conn_verify_ids - the chain alone with GnuTLS (no name: it takes
 * one DNS name only), then the names with tls_ids_match() */
bool
tls_conn_verify_ids(struct tls_conn *t, const struct tls_refid *ids,
    size_t n, char *why, size_t whylen)
{
	const gnutls_datum_t *certs;
	unsigned status = 0, ncerts = 0;
	gnutls_datum_t text;
	int rc;

	if (!t->client->have_ca) {
		snprintf(why, whylen, "no CA store to verify the certificate");
		return false;
	}
	if ((certs = gnutls_certificate_get_peers(t->gs, &ncerts)) == NULL ||
	    ncerts == 0) {
		snprintf(why, whylen, "server sent no certificate");
		return false;
	}
	if ((rc = gnutls_certificate_verify_peers2(t->gs, &status)) < 0) {
		snprintf(why, whylen, "verification error: %s",
		    gnutls_strerror(rc));
		return false;
	}
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &text, 0) == 0) {
			snprintf(why, whylen, "certificate not verified: %s",
			    text.data);
			gnutls_free(text.data);
		} else
			snprintf(why, whylen, "certificate not verified");
		return false;
	}
	if (n == 0 || tls_ids_match(&certs[0], ids, n) < 0) {
		snprintf(why, whylen, "certificate not verified for %s: it "
		    "does not name it", n > 0 ? ids[0].name : "?");
		return false;
	}
	return true;
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

static void
hex(char *dst, const unsigned char *src, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 15];
	}
	dst[2 * n] = '\0';
}

/*
 * What hash_peer derives from a leaf certificate, for the few leaves this
 * thread saw last: the next session with the same server (a resumed one
 * carries the certificate too) copies them instead of parsing the
 * certificate again, which costs as much as a tenth of a resumption.
 * Found by the SHA-256 of the whole certificate, computed anyway.
 */
#define LEAF_MEMO	4

struct leaf_facts {
	unsigned char	 sha256[32];
	bool		 set;
	char		 spki_sha256[65];
	char		 subject[256];
	char		 issuer[256];
	time_t		 expires;
};

static __thread struct leaf_facts leaf_memo[LEAF_MEMO];
static __thread unsigned leaf_memo_next;

/* leaf_parse - the facts of a leaf, from its DER; false if unreadable */
static bool
leaf_parse(const gnutls_datum_t *der, struct leaf_facts *f)
{
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t pk;
	gnutls_datum_t spki = { NULL, 0 }, dn = { NULL, 0 };
	unsigned char d[32];

	if (gnutls_x509_crt_init(&crt) < 0)
		return false;
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) != 0) {
		gnutls_x509_crt_deinit(crt);
		return false;
	}
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
		snprintf(f->subject, sizeof(f->subject), "%.*s",
		    (int)dn.size, (const char *)dn.data);
		gnutls_free(dn.data);
	}
	if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) == 0) {
		snprintf(f->issuer, sizeof(f->issuer), "%.*s",
		    (int)dn.size, (const char *)dn.data);
		gnutls_free(dn.data);
	}
	f->expires = gnutls_x509_crt_get_expiration_time(crt);
	if (f->expires == (time_t)-1)
		f->expires = 0;
	if (gnutls_pubkey_init(&pk) == 0) {
		if (gnutls_pubkey_import_x509(pk, crt, 0) == 0 &&
		    gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, &spki) == 0) {
			if (gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data,
			    spki.size, d) == 0)
				hex(f->spki_sha256, d, sizeof(d));
			gnutls_free(spki.data);
		}
		gnutls_pubkey_deinit(pk);
	}
	gnutls_x509_crt_deinit(crt);
	return true;
}

/* hash_peer - SHA-256 of the leaf certificate and of its SPKI, and the
 * names and date a person checks first */
static void
hash_peer(struct tls_conn *t, struct outcome *o)
{
	const gnutls_datum_t *certs;
	unsigned n = 0;
	unsigned char d[32];
	struct leaf_facts *f = NULL, fresh;

	if ((certs = gnutls_certificate_get_peers(t->gs, &n)) == NULL || n == 0)
		return;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[0].data, certs[0].size,
	    d) != 0)
		return;
	hex(o->cert_sha256, d, sizeof(d));
	for (unsigned i = 0; i < LEAF_MEMO && f == NULL; i++)
		if (leaf_memo[i].set &&
		    memcmp(leaf_memo[i].sha256, d, sizeof(d)) == 0)
			f = &leaf_memo[i];
	if (f == NULL) {
		memset(&fresh, 0, sizeof(fresh));
		if (!leaf_parse(&certs[0], &fresh))
			return;
		memcpy(fresh.sha256, d, sizeof(d));
		fresh.set = true;
		f = &leaf_memo[leaf_memo_next++ % LEAF_MEMO];
		*f = fresh;
	}
	snprintf(o->spki_sha256, sizeof(o->spki_sha256), "%s",
	    f->spki_sha256);
	snprintf(o->cert_subject, sizeof(o->cert_subject), "%s", f->subject);
	snprintf(o->cert_issuer, sizeof(o->cert_issuer), "%s", f->issuer);
	o->cert_expires = f->expires;
}

/* tls_conn_peer_chain - the certificates the server sent, leaf first */
const gnutls_datum_t *
tls_conn_peer_chain(struct tls_conn *t, size_t *n)
{
	unsigned int count = 0;
	const gnutls_datum_t *chain;

	chain = gnutls_certificate_get_peers(t->gs, &count);
	*n = chain != NULL ? count : 0;
	return chain;
}

void
tls_conn_describe(struct tls_conn *t, struct outcome *o)
{
	const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(t->gs));
	const char *c = gnutls_ciphersuite_get(t->gs);
	const char *g = gnutls_group_get_name(gnutls_group_get(t->gs));

	snprintf(o->tls_version, sizeof(o->tls_version), "%s", v ? v : "");
	snprintf(o->cipher, sizeof(o->cipher), "%s", c ? c : "");
	snprintf(o->group, sizeof(o->group), "%s", g ? g : "");
	hash_peer(t, o);
}
