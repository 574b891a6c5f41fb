/*
 * result.h - the outcome of one session, and the small enums that name it.
 *
 * Every session ends in exactly one struct outcome.  It is logged as one
 * key=value line (outcome_log) and is what the posture store will persist,
 * so its fields use the vocabulary of DESIGN.md's posture section.
 */
#ifndef TLSHIM_RESULT_H
#define TLSHIM_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum result {
	RES_NONE = 0,		/* session still running */
	RES_TLS,		/* relayed inside TLS */
	RES_PLAINTEXT,		/* relayed in the clear, allowed by the level */
	RES_REFUSED,		/* policy said no */
	RES_FAILED,		/* an error: unreachable, timeout, protocol */
	RES_ATTACK,		/* injection or other hostile behaviour */
	RES_LAST
};

enum auth {
	AUTH_NONE = 0,		/* no TLS, or no certificate */
	AUTH_UNTRUSTED,		/* TLS, certificate not authenticated */
	AUTH_PKIX,		/* chain to the CA store and name verified */
	AUTH_DANE_EE,
	AUTH_DANE_TA,
	AUTH_LAST
};

/* Why a session was refused or failed, in a fixed vocabulary for counters
 * and reports (metrics labels, TLSRPT result types); the reason says the
 * same in words.  The first cause set wins. */
enum cause {
	CAUSE_NONE = 0,
	CAUSE_NO_TLS,		/* TLS required, server did not offer it */
	CAUSE_HANDSHAKE,	/* the TLS handshake failed */
	CAUSE_CERT,		/* PKIX verification failed under verify */
	CAUSE_DANE_MISMATCH,	/* usable TLSA, the chain did not match */
	CAUSE_DANE_REQUIRED,	/* dane-only: no secure, usable TLSA */
	CAUSE_DNS,		/* a lookup failed or was bogus */
	CAUSE_CONNECT,		/* no address answered */
	CAUSE_TIMEOUT,		/* a phase ran out of time */
	CAUSE_PROTOCOL,		/* the server (or client) broke the protocol */
	CAUSE_INJECTION,	/* plaintext injected across STARTTLS */
	CAUSE_PINNED,		/* a pinned peer without TLS (downgrade) */
	CAUSE_LIMIT,		/* max_sessions reached */
	CAUSE_LOCAL,		/* out of memory, sockets: our own trouble */
	CAUSE_NOT_REDIRECTED,	/* transparent: a connection made to tlshim
				 * itself, not redirected (would loop) */
	CAUSE_NO_NAME,		/* transparent: no name known for the
				 * server, and the level needs one */
	CAUSE_LAST
};

const char	*result_name(enum result);
const char	*auth_name(enum auth);
/* cause_name - "no-tls", "dane-mismatch", ...; "" for CAUSE_NONE */
const char	*cause_name(enum cause);

/* One session's record.  Strings are fixed-size so that the record can be
 * copied to the store's writer thread without pointers into the session. */
struct outcome {
	uint64_t	 session;
	time_t		 start;			/* wall clock, for the record */
	uint64_t	 start_ms;		/* loop clock, for duration */
	char		 service[64];
	char		 direction[16];
	char		 protocol[16];
	char		 peer[256];		/* upstream host name (or address) */
	char		 domain[256];		/* client-first: the domain the
						 * client named (XMPP "to");
						 * empty otherwise */
	char		 addr[48];		/* upstream address connected to */
	uint16_t	 port;
	char		 client[48];		/* legacy client address */
	bool		 starttls_offered;
	enum result	 result;
	char		 tls_version[16];
	char		 cipher[64];
	char		 group[32];
	char		 cert_sha256[65];
	char		 spki_sha256[65];
	char		 cert_subject[256];	/* the leaf's, RFC 4514 form */
	char		 cert_issuer[256];
	time_t		 cert_expires;		/* its notAfter; 0: unknown */
	enum auth	 auth;
	char		 dnssec[16];		/* empty: no lookup made */
	char		 name_source[16];	/* where peer came from: config,
						 * mx, srv; transparent: dns,
						 * dns-mx, none (transparent.h) */
	char		 tlsa[512];		/* the usable TLSA records the
						 * session was checked against */
	uint64_t	 bytes_in;		/* upstream -> legacy client */
	uint64_t	 bytes_out;		/* legacy client -> upstream */
	uint64_t	 duration_ms;
	char		 reason[256];		/* in words, when not plain success */
	enum cause	 cause;			/* the same in a fixed word */
	bool		 resumed;		/* TLS session resumed: auth and
						 * hashes are the full handshake's */
	bool		 downgrade;		/* a pinned peer was seen without
						 * the TLS it had (pin = yes:
						 * refused, report-only: relayed) */
	char		 local[48];		/* our address toward the
						 * upstream (TLSRPT's sending
						 * MTA); empty: not connected */
};

/* outcome_set_cause - record why in a fixed word, unless one already is */
void	outcome_set_cause(struct outcome *, enum cause);
/* outcome_add_reason - add a cause to the reason (kept in order) */
void	outcome_add_reason(struct outcome *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* outcome_format - the session's key=value summary line */
size_t	outcome_format(const struct outcome *, char *buf, size_t len);

#endif
