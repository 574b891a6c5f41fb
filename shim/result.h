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

/*
 * One session's record.  Strings are fixed-size so that the record can be
 * copied to the store's writer thread without pointers into the session.
 *
 * The exceptions are policy_tlsa and helo.  TLSA records of matching
 * type 0 carry a whole certificate or key (kilobytes each), too much to
 * reserve in every record of the store's queue for the few sessions that
 * have them; the server's name is known only for SMTP.  Both live on the
 * heap and have exactly one owner at a time: the session's record until
 * posture_submit() takes them (leaving NULL), then the store's queue
 * entry until the record is written or given up.  A plain struct copy
 * (an on_outcome hook's) does not own them and must not use them after
 * the hook returns; outcome_release() frees them.
 */
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
						 * session was checked against,
						 * long data cut short: for
						 * people and the log line */
	char		*policy_tlsa;		/* the same records in full,
						 * "U S M hex, ...": the TLSRPT
						 * policy string; NULL: none
						 * (see above for its owner) */
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
	char		*helo;			/* the name the server gave in
						 * its SMTP greeting (TLSRPT's
						 * receiving-mx-helo); NULL:
						 * unknown (see above for its
						 * owner) */
};

/* outcome_set_cause - record why in a fixed word, unless one already is */
void	outcome_set_cause(struct outcome *, enum cause);
/* outcome_add_reason - add a cause to the reason (kept in order) */
void	outcome_add_reason(struct outcome *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* outcome_add_tlsa - append one TLSA record, its data in full and in
 * lower-case hex, to policy_tlsa; false (policy_tlsa as it was) when out
 * of memory */
bool	outcome_add_tlsa(struct outcome *, unsigned usage, unsigned selector,
	    unsigned mtype, const uint8_t *data, size_t len);
/* outcome_clear_tlsa - forget the TLSA records (tlsa and policy_tlsa) */
void	outcome_clear_tlsa(struct outcome *);
/* outcome_set_helo - helo from a server's greeting text (len bytes after
 * the reply code): its first word when that is a plausible name (printable,
 * at most 255 bytes), else unknown; NULL text just forgets it.  false
 * (unknown) when out of memory */
bool	outcome_set_helo(struct outcome *, const char *text, size_t len);
/* outcome_release - free what the record owns on the heap (policy_tlsa,
 * helo), leaving it as a record without them */
void	outcome_release(struct outcome *);
/* outcome_format - the session's key=value summary line */
size_t	outcome_format(const struct outcome *, char *buf, size_t len);

#endif
