/*
 * posture_int.h - private to shim/posture*.c and their tests: the
 * database layer the writer thread drives, the in-memory pins, and the
 * knobs the unit tests turn.
 *
 * posture.c owns the queue and the writer thread; posture_db.c owns the
 * SQLite connection (only ever used by that thread); posture_schema.c
 * owns the schema and its migrations; posture_pin.c owns the pins.
 */
#ifndef TLSHIM_POSTURE_INT_H
#define TLSHIM_POSTURE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <sqlite3.h>

#include "shim/conf.h"
#include "shim/result.h"

/* The schema version this build writes (PRAGMA user_version). */
#define POSTURE_SCHEMA_VERSION	3

/* What the writer needs of one service, copied out of a configuration so
 * that the writer never holds the configuration itself. */
struct posture_svc {
	char		 name[64];
	enum pin_mode	 pin;
	unsigned	 pin_max_age;		/* seconds */
	enum upstream_kind kind;
	char		 domain[256];		/* mx:/srv: domain, or host */
	enum tls_level	 level;			/* none: TLS not wanted, so
						 * no TLSRPT result type */
};

struct posture_conf {
	char			*state_dir;
	unsigned		 retention;	/* seconds */
	size_t			 nsvc;
	struct posture_svc	*svc;
};

/* Tuning; the defaults suit the daemon, tests make them small. */
struct posture_tune {
	size_t		 queue_max;	/* records waiting, at most */
	unsigned	 batch_max;	/* records per transaction, at most */
	unsigned	 batch_ms;	/* how long the first record may wait */
	unsigned	 retry_ms;	/* between attempts on a broken store */
	unsigned	 prune_ms;	/* between retention passes */
};

/* posture_tune_set - for the next posture_open() that starts the writer;
 * NULL restores the defaults */
void	posture_tune_set(const struct posture_tune *);
/* posture_idle - wait until nothing is queued or in flight (true), or
 * timeout_ms passed (false) */
bool	posture_idle(unsigned timeout_ms);
/* posture_broken - is the store unusable right now? */
bool	posture_broken(void);

/* ------------------------------------------------------- posture_db.c */

struct pdb;

/* pdb_open - open (creating it) and migrate path; NULL with err */
struct pdb	*pdb_open(const char *path, char *err, size_t errlen);
void		 pdb_close(struct pdb *);
/* pdb_commit - n records, with their peers and events, in one
 * transaction; false (rolled back) with err */
bool		 pdb_commit(struct pdb *, struct outcome *const *, size_t n,
		    const struct posture_conf *, char *err, size_t errlen);
/* pdb_prune - delete session rows that started before cutoff (but never
 * a peer's last one); how many, or -1 with err */
long		 pdb_prune(struct pdb *, time_t cutoff, char *err,
		    size_t errlen);
/* pdb_load_pins - hand every peer seen with TLS to posture_pin_note() */
bool		 pdb_load_pins(struct pdb *, char *err, size_t errlen);
/* pdb_last_rowid - the newest session row (for the commit log line) */
int64_t		 pdb_last_rowid(struct pdb *);

/* --------------------------------------------------- posture_schema.c */

/* posture_migrate - bring db from its user_version up to target (inside
 * one transaction); false with err, and for a newer schema than target */
bool		 posture_migrate(sqlite3 *, int target, char *err,
		    size_t errlen);
/* posture_policy_type - RFC 8460 policy-type of a record: "tlsa" when it
 * was checked against secure TLSA records, else "no-policy-found" */
const char	*posture_policy_type(const struct outcome *);
/* posture_result_type - RFC 8460 result-type of a record of a service at
 * level: why TLS was not negotiated (refused, failed, or relayed in
 * plaintext although the level wanted TLS); NULL for success, for
 * failures that are not about TLS (connect, timeout) and under none */
const char	*posture_result_type(const struct outcome *,
		    enum tls_level level);
/* posture_tls_seen - does this record pin its peer: TLS, or secure and
 * usable TLSA records? */
bool		 posture_tls_seen(const struct outcome *);

/* ------------------------------------------------------ posture_pin.c */

/* posture_key - the peer name as the store keys it: lower case, without
 * a final dot */
void		 posture_key(char *dst, size_t len, const char *peer);
/* posture_pin_note - peer (a key) was seen with TLS at t */
void		 posture_pin_note(const char *peer, uint16_t port,
		    const char *protocol, time_t t);
/* posture_pin_clear - forget every pin */
void		 posture_pin_clear(void);
/* posture_pin_count - pins held */
size_t		 posture_pin_count(void);
/* At most this many pins are held; the oldest go first. */
#define POSTURE_PIN_MAX		16384

#endif
