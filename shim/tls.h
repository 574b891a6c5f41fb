/*
 * tls.h - GnuTLS client sessions driven over memory, and their credentials.
 *
 * GnuTLS never touches a socket here: its push function hands ciphertext
 * to the endpoint's write queue and its pull function reads from the bytes
 * the event loop just received.  So the handshake and the records run on
 * the loop without blocking and without a thread per connection.
 */
#ifndef TLSHIM_TLS_H
#define TLSHIM_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/gnutls.h>

#include "shim/conf.h"

struct tls_client;		/* credentials shared by a service's sessions */

/* tls_client_new - credentials with the CA store in ca_file (NULL: none);
 * NULL with a message in err on failure */
struct tls_client *tls_client_new(const char *ca_file, char *err,
		    size_t errlen);
void		tls_client_free(struct tls_client *);
/* tls_conf_prepare - credentials for every service of a configuration */
bool		tls_conf_prepare(struct conf *, struct conf_error *);

/* One TLS client session over memory. */
struct tls_conn;
struct outcome;

/* Ciphertext for the wire; must take all of it (queue it). */
typedef void	(*tls_push_fn)(void *ctx, const void *, size_t);

enum tls_rc {
	TLS_OK = 0,		/* done */
	TLS_AGAIN = 1,		/* needs more input */
	TLS_CLOSED = 2,		/* peer sent close_notify */
	TLS_ERROR = -1		/* see tls_conn_error() */
};

/* tls_conn_new - a client session; sni NULL for address literals */
struct tls_conn	*tls_conn_new(struct tls_client *, const char *sni,
		    tls_push_fn, void *ctx, char *err, size_t errlen);
void		 tls_conn_free(struct tls_conn *);
/* tls_conn_feed - ciphertext just read; consumed by the calls below */
void		 tls_conn_feed(struct tls_conn *, const char *, size_t);
enum tls_rc	 tls_conn_handshake(struct tls_conn *);
/* tls_conn_recv - TLS_OK with *got > 0 plaintext bytes in buf */
enum tls_rc	 tls_conn_recv(struct tls_conn *, char *buf, size_t cap,
		    size_t *got);
enum tls_rc	 tls_conn_send(struct tls_conn *, const void *, size_t);
/* tls_conn_bye - send close_notify (our half-close) */
void		 tls_conn_bye(struct tls_conn *);
/* tls_conn_error - text of the last error */
const char	*tls_conn_error(const struct tls_conn *);
/*
 * tls_conn_verify - check the chain against the CA store and the name (or
 * address) against the certificate.  Returns true when both hold;
 * otherwise why says what failed, in words.
 */
bool		 tls_conn_verify(struct tls_conn *, const char *host,
		    bool is_ip, char *why, size_t whylen);
/* A reference identity (RFC 6125, 9525): what a certificate must name. */
enum tls_id_type {
	TLS_ID_DNS = 0,		/* DNS-ID: a dNSName (CN only without one) */
	TLS_ID_SRV,		/* SRV-ID: SRVName "_service.domain" (RFC 4985) */
	TLS_ID_XMPP		/* XmppAddr otherName (RFC 6120 13.7.1.4) */
};
struct tls_refid {
	enum tls_id_type	 type;
	const char		*name;
};
/*
 * tls_conn_verify_ids - the chain against the CA store, and the leaf
 * against the reference identities ids[0..n): one match is enough.
 * True when both hold; otherwise why says what failed, in words.
 */
bool		 tls_conn_verify_ids(struct tls_conn *,
		    const struct tls_refid *ids, size_t n, char *why,
		    size_t whylen);
/* tls_ids_match - does the leaf (DER) carry one of ids[0..n)?  The index
 * of the first that matches, or -1 (tls_ids.c) */
int		 tls_ids_match(const gnutls_datum_t *leaf,
		    const struct tls_refid *ids, size_t n);
/* tls_conn_alpn - offer one ALPN protocol in the ClientHello; false with
 * err on failure */
bool		 tls_conn_alpn(struct tls_conn *, const char *proto, char *err,
		    size_t errlen);
/* tls_conn_peer_chain - the certificates the server sent (DER, leaf
 * first) and their number in *n; NULL when there are none */
const gnutls_datum_t *tls_conn_peer_chain(struct tls_conn *, size_t *n);
/* tls_conn_describe - version, cipher, group and hashes into o */
void		 tls_conn_describe(struct tls_conn *, struct outcome *o);

/*
 * Resumption toward upstreams (the cache is tls_cache.c, process-wide).
 *
 * tls_conn_resume - before the handshake: file this session under host,
 * port, its SNI, what level asks of verification and the credentials'
 * trust, and offer a session kept under the same key, if there is one
 * (it leaves the cache: tickets are for one use).  True when one was
 * offered.  The DANE levels are never resumed.
 */
bool		 tls_conn_resume(struct tls_conn *, const char *host,
		    uint16_t port, enum tls_level level);
/*
 * tls_conn_resumed - after the handshake: true when the server took the
 * offered session.  Then no certificate came, so the verification is not
 * made again: o gets what the full handshake's found (auth, cert_sha256,
 * spki_sha256) and why its reason when it was not authenticated ("").
 */
bool		 tls_conn_resumed(struct tls_conn *, struct outcome *o,
		    char *why, size_t whylen);
/*
 * tls_conn_keep - after the verification, when the session goes on: keep
 * the session's tickets, now and as they come, with o's verdict (why: as
 * for tls_conn_resumed).  A resumed session keeps the verdict it had.
 * Never call it for a session refused for its certificate.
 */
void		 tls_conn_keep(struct tls_conn *, const struct outcome *o,
		    const char *why);

#endif
