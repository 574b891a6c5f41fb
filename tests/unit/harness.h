/*
 * harness.h - run the real tlshim server in-process against a scripted
 * upstream peer and a blocking legacy client, all on 127.0.0.1.
 *
 * Three threads take part in a test:
 *
 *  - the server thread runs a struct server (shim/server.h) on its own
 *    uv loop, configured by conf_parse() from text the test supplies, with
 *    listen, upstream and ca_file filled in by the harness;
 *  - the peer thread plays the upstream server: it accepts on a loopback
 *    socket and runs a script of steps (send, expect a line, start TLS as
 *    the server with a certificate the harness made, sleep, close...);
 *  - the test thread is the legacy client, on a blocking socket.
 *
 * Every wait is bounded: a broken shim makes a test fail, never hang.  The
 * harness is made for cmocka: h_setup/h_teardown are the per-test fixture,
 * and failures are reported with cmocka's fail_msg().
 *
 * What the peer received on each connection is kept (raw bytes, and the
 * plaintext inside TLS) so that a test can assert what crossed the wire.
 */
#ifndef TLSHIM_TEST_HARNESS_H
#define TLSHIM_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <gnutls/x509.h>

#include "shim/result.h"

/* Certificates the peer can present; all made in-process at start. */
enum h_cert {
	H_CERT_GOOD = 0,	/* test CA; 127.0.0.1, localhost, mx.test */
	H_CERT_WRONG_NAME,	/* test CA; other.example.org only */
	H_CERT_SELF_SIGNED,	/* right names, but not from the test CA */
	H_CERT_EXPIRED,		/* test CA, right names, expired */
	H_CERT_LAST
};

enum h_op {
	H_END = 0,		/* end of script: hold the line until EOF */
	H_SEND,			/* write arg (one send(), or one TLS record) */
	H_EXPECT,		/* read one line; it must start with arg */
	H_EXPECT_DATA,		/* read exactly len bytes; must equal arg */
	H_TLS,			/* handshake as the TLS server, cert n */
	H_SLEEP,		/* n ms */
	H_CLOSE,		/* close_notify if TLS, FIN, wait for EOF, close */
	H_RESET,		/* close at once with an RST */
	H_DRAIN,		/* read until EOF (or close_notify) */
	H_SILENCE,		/* nothing may arrive for n ms (EOF is fine) */
	H_ACCEPT,		/* close this connection, accept the next */
	H_WAIT_DATA,		/* wait until at least one byte is unread */
	H_TICKET,		/* a TLS 1.3 NewSessionTicket, then arg, in
				 * one TCP segment */
	H_EXPECT_CMD,		/* read "<tag> arg..." (IMAP): keep the tag;
				 * "$T" in later sends stands for it */
	H_NEW_TICKET_KEY	/* forget the ticket key: tickets issued so
				 * far are refused from now on */
};

struct h_step {
	enum h_op	 op;
	const char	*arg;
	size_t		 len;
	int		 n;		/* ms, or enum h_cert for H_TLS */
};

/* Script steps.  Literal strings only for arg (sizeof gives the length,
 * NULs included); P_SENDN, P_SENDS and P_EXPECTS take any buffer.  The
 * harness copies the script and its bytes at h_start. */
#define P_SEND(s)		{ H_SEND, (s), sizeof(s) - 1, 0 }
#define P_SENDN(p, l)		{ H_SEND, (p), (l), 0 }
#define P_SENDS(s)		{ H_SEND, (s), strlen(s), 0 }	/* runtime */
#define P_EXPECTS(s)		{ H_EXPECT, (s), strlen(s), 0 }
#define P_EXPECT(s)		{ H_EXPECT, (s), sizeof(s) - 1, 0 }
#define P_EXPECT_T(s, ms)	{ H_EXPECT, (s), sizeof(s) - 1, (ms) }
#define P_EXPECT_DATA(s)	{ H_EXPECT_DATA, (s), sizeof(s) - 1, 0 }
#define P_TLS(cert)		{ H_TLS, NULL, 0, (cert) }
#define P_SLEEP(ms)		{ H_SLEEP, NULL, 0, (ms) }
#define P_CLOSE()		{ H_CLOSE, NULL, 0, 0 }
#define P_RESET()		{ H_RESET, NULL, 0, 0 }
#define P_DRAIN()		{ H_DRAIN, NULL, 0, 0 }
#define P_SILENCE(ms)		{ H_SILENCE, NULL, 0, (ms) }
#define P_ACCEPT()		{ H_ACCEPT, NULL, 0, 0 }
/* e.g. the ClientHello after "220 go ahead": the shim is in its
 * handshake, so what the peer sends next lands there, in its own read */
#define P_WAIT_DATA()		{ H_WAIT_DATA, NULL, 0, 0 }
#define P_TICKET_SEND(s)	{ H_TICKET, (s), sizeof(s) - 1, 0 }
#define P_EXPECT_CMD(s)		{ H_EXPECT_CMD, (s), sizeof(s) - 1, 0 }
#define P_NEW_TICKET_KEY()	{ H_NEW_TICKET_KEY, NULL, 0, 0 }
#define P_END			{ H_END, NULL, 0, 0 }

/*
 * SMTP, the protocol of a service unless svc names another: the server's
 * usual lines in a script, and what tlshim tells the legacy client.
 */
#define P_SMTP_GREET		P_SEND("220 mx.test ESMTP ready\r\n")
#define P_SMTP_EHLO		P_EXPECT("EHLO shim.test\r\n")
#define P_SMTP_ASK_TLS		P_EXPECT("STARTTLS\r\n")
#define P_SMTP_GO_TLS		P_SEND("220 2.0.0 Ready to start TLS\r\n")
/* Up to the handshake with cert; reply (a literal) answers tlshim's EHLO
 * and offers STARTTLS.  P_SMTP_TO_TLS offers nothing else. */
#define P_SMTP_TO_TLS_EHLO(reply, cert)					\
	P_SMTP_GREET, P_SMTP_EHLO, P_SEND(reply), P_SMTP_ASK_TLS,	\
	P_SMTP_GO_TLS, P_TLS(cert)
#define P_SMTP_TO_TLS(cert)						\
	P_SMTP_TO_TLS_EHLO("250-mx.test\r\n250 STARTTLS\r\n", cert)
/* The client's QUIT relayed, and the end. */
#define P_SMTP_QUIT		P_EXPECT("QUIT\r\n"), P_SEND(H_SMTP_BYE), \
				P_CLOSE()
/* A session refused after the handshake: tlshim's QUIT, then EOF. */
#define P_SMTP_REFUSED		P_EXPECT("QUIT\r\n"), P_DRAIN()
#define H_SMTP_BYE		"221 2.0.0 Bye\r\n"
#define H_SMTP_GREETING		"220 shim.test ESMTP"	/* tlshim's own */
#define H_SMTP_REFUSED		"421 4.7.0 "		/* and its refusal */

/* A growing byte buffer, NUL-terminated for convenience. */
struct h_buf {
	char	*p;
	size_t	 len, cap;
};

#define H_MAX_CONN	4	/* upstream connections one test may see */
#define H_MAX_OUT	4	/* session outcomes one test may collect */

/* What the peer saw on one connection. */
struct h_conn {
	struct h_buf	 raw;		/* every byte off the socket */
	struct h_buf	 text;		/* plaintext, decrypted inside TLS */
	size_t		 tls_at;	/* text length when TLS started */
	bool		 tls;		/* TLS was started on it */
	bool		 eof;		/* the shim closed it */
	bool		 resumed;	/* its handshake resumed a session */
};

struct harness;

/* Options for h_start_opt(). */
#define H_NO_PEER	0x1	/* upstream port with nothing listening */
#define H_TICKETS	0x2	/* the peer sends TLS 1.3 tickets (GnuTLS: two)
				 * after each handshake on its own, as
				 * servers do; h_conn.resumed says if the
				 * next handshake used one */

/* cmocka fixture: *state becomes a struct harness * */
int		 h_setup(void **state);
int		 h_teardown(void **state);
/* h_main_init - once per program: certificates, CA file, SIGPIPE, TAP */
void		 h_main_init(void);
/* h_main_done - once per program: remove files, free certificates */
void		 h_main_done(void);

/*
 * h_start - configure and start the server and the peer.  svc is extra
 * service keys ("security = verify\n..."); the harness adds protocol,
 * listen, upstream, helo_name (shim.test) and short timeouts unless svc
 * sets them.  script may be NULL with H_NO_PEER.
 */
void		 h_start(struct harness *, const char *svc,
		    const struct h_step *script);
void		 h_start_opt(struct harness *, const char *svc,
		    const struct h_step *script, unsigned opts);
/* h_stop - drain the server, stop the peer, join; idempotent */
void		 h_stop(struct harness *);
/* h_free_port - a loopback port nothing listens on, for svc text */
int		 h_free_port(void);
/* h_use_peer_port - before h_start: the peer listens on port, so that svc
 * can name it (a second service's upstream) */
void		 h_use_peer_port(struct harness *, int port);

/* The legacy client, in the test thread. */
void		 h_connect(struct harness *);
/* h_connect_port - connect to another service's listen port (in svc) */
void		 h_connect_port(struct harness *, int port);
void		 h_send(struct harness *, const char *);
void		 h_sendn(struct harness *, const void *, size_t);
/* h_line - the next line from tlshim (CRLF included), or NULL at EOF or
 * after ms; valid until the next client call */
const char	*h_line(struct harness *, int ms);
/* h_expect - the next line must start with prefix; returns it */
const char	*h_expect(struct harness *, const char *prefix);
/* h_read_until - the bytes from tlshim up to and including needle, for
 * protocols that are not line-based (XMPP); NULL at EOF or after ms;
 * valid until the next client call */
const char	*h_read_until(struct harness *, const char *needle, int ms);
/* h_read_all - everything until EOF (fails after ms); *len optional */
const char	*h_read_all(struct harness *, int ms, size_t *len);
/* h_eof - true when tlshim closed the connection within ms */
bool		 h_eof(struct harness *, int ms);
void		 h_shutdown_wr(struct harness *);
void		 h_close(struct harness *);

/* Results. */
/* h_outcome - the first session's record, waiting up to ms */
const struct outcome *h_outcome(struct harness *, int ms);
/* h_outcome_n - the i-th record (0-based), waiting up to ms */
const struct outcome *h_outcome_n(struct harness *, int i, int ms);
/* h_peer_wait - wait for the script to finish; true if every step held */
bool		 h_peer_wait(struct harness *, int ms);
/* h_peer_error - why the script failed ("" when it did not) */
const char	*h_peer_error(struct harness *);
/* h_peer_conn - what the peer saw on connection i (after h_peer_wait) */
const struct h_conn *h_peer_conn(struct harness *, int i);
int		 h_peer_nconn(struct harness *);
/* h_peer_after - plaintext the peer got on conn i after needle, or NULL */
const char	*h_peer_after(struct harness *, int i, const char *needle);
/* h_peer_text - what the peer got on conn i, in the clear or decrypted;
 * "" when nothing */
const char	*h_peer_text(struct harness *, int i);
/* h_peer_tls_text - what the peer got inside TLS on conn i; fails if that
 * connection never went TLS */
const char	*h_peer_tls_text(struct harness *, int i);

/*
 * The moves most session tests make, so that each protocol's tests need
 * no copies of their own.  What differs between protocols (greetings,
 * replies, refusals) is a parameter.  A greeting, a refusal or a session
 * record is waited for up to 10 s.
 */
/* h_greeted - connect; the first line from tlshim, sent once its
 * negotiation upstream is over, must start with greeting: returns it */
const char	*h_greeted(struct harness *, const char *greeting);
/* h_greeted_port - the same on port (0: the service's) */
const char	*h_greeted_port(struct harness *, int port,
		    const char *greeting);
/* h_quit - send cmd; reply must come back (whole lines; the last may be
 * a prefix), then EOF; the client closes too */
void		 h_quit(struct harness *, const char *cmd, const char *reply);
/* h_refused - connect and read until tlshim closes: one line that starts
 * with prefix (the refusal in the protocol's words) and nothing else, no
 * greeting of tlshim's, nothing of the server's; returns it */
const char	*h_refused(struct harness *, const char *prefix);
/* h_refused_port - connect to port (0: the service's), read until tlshim
 * closes, and close: what came must start with prefix, in any number of
 * lines */
void		 h_refused_port(struct harness *, int port, const char *prefix);
/* h_result - the first session's record: its result must be r */
const struct outcome *h_result(struct harness *, enum result r);
/* h_finish - the same, and the peer's script must have held */
const struct outcome *h_finish(struct harness *, enum result r);
/* h_assert_no_tls - a plaintext or failed record names no TLS details */
void		 h_assert_no_tls(const struct outcome *);
/* h_assert_peer_nothing_after - conn 0 got no byte after needle, and
 * never anything that looks like a TLS record */
void		 h_assert_peer_nothing_after(struct harness *,
		    const char *needle);

/* h_cert_sha256 - hex SHA-256 of the leaf the peer sends for a cert */
const char	*h_cert_sha256(enum h_cert);
/* h_make_key - a fresh P-256 key (fast to make, unlike RSA), for tests
 * that make certificates of their own; after h_main_init */
gnutls_x509_privkey_t h_make_key(void);

/* h_assert_peer_ok - the script finished and every step held */
#define h_assert_peer_ok(h) do {					\
	if (!h_peer_wait((h), 10000))					\
		fail_msg("peer script: %s", h_peer_error(h));		\
} while (0)

/* Assertions on strings with useful messages. */
#define h_assert_has(hay, needle) do {					\
	const char *h_hay_ = (hay);					\
	if (h_hay_ == NULL || strstr(h_hay_, (needle)) == NULL)		\
		fail_msg("\"%s\" does not contain \"%s\"",		\
		    h_hay_ != NULL ? h_hay_ : "(null)", (needle));	\
} while (0)
#define h_assert_not_has(hay, needle) do {				\
	const char *h_hay_ = (hay);					\
	if (h_hay_ != NULL && strstr(h_hay_, (needle)) != NULL)		\
		fail_msg("\"%s\" contains \"%s\"", h_hay_, (needle));	\
} while (0)
#define h_assert_prefix(s, prefix) do {					\
	const char *h_s_ = (s);						\
	if (h_s_ == NULL || strncmp(h_s_, (prefix), strlen(prefix)) != 0)\
		fail_msg("\"%s\" does not start with \"%s\"",		\
		    h_s_ != NULL ? h_s_ : "(null)", (prefix));		\
} while (0)
#define h_assert_result(o, r) do {					\
	if ((o)->result != (r))						\
		fail_msg("result=%s (reason: %s), wanted %s",		\
		    result_name((o)->result), (o)->reason,		\
		    result_name(r));					\
} while (0)

#endif
