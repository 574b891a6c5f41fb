/*
 * posture_db.c - the posture database as the writer thread uses it: open
 * and migrate, commit a batch of session records with their peers and
 * events in one transaction, prune old sessions, load the pins.
 *
 * Only the writer thread calls these, so the connection is opened without
 * SQLite's own mutexes.  The file is in WAL mode: `tlshim posture` reads
 * it while the daemon writes, and a transaction that reached COMMIT
 * survives the process being killed (synchronous = FULL: and the machine
 * losing power).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/posture.h"
#include "shim/posture_int.h"

/* How long a write waits for a lock someone else holds (a reader never
 * blocks a WAL writer; another writer would be a second daemon). */
#define PDB_BUSY_MS	2000

enum { ST_SEL_PEER, ST_INS_SESSION, ST_INS_PEER, ST_UPD_PEER, ST_INS_EVENT,
	ST_LAST };

static const char *const sql[ST_LAST] = {
	"SELECT id, last_tls, pinned_until, cert_sha256, spki_sha256 "
	"FROM peers WHERE peer = ?1 AND port = ?2 AND protocol = ?3",

	"INSERT INTO sessions (session, time, service, direction, protocol, "
	"peer, address, port, client, name_source, starttls_offered, result, "
	"tls_version, cipher, \"group\", cert_sha256, spki_sha256, "
	"cert_subject, cert_issuer, cert_expires, auth, dnssec, tlsa, "
	"bytes_in, bytes_out, duration_ms, reason, cause, resumed, "
	"downgrade, policy_type, policy_string, policy_domain, result_type, "
	"sending_ip, receiving_helo) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	"?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, "
	"?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, "
	"?36)",

	"INSERT INTO peers (peer, port, protocol, direction, address, "
	"first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",

	"UPDATE peers SET direction = ?2, "
	"address = CASE WHEN ?3 = '' THEN address ELSE ?3 END, "
	"first_seen = min(first_seen, ?4), last_seen = max(last_seen, ?4), "
	"sessions = sessions + 1, n_tls = n_tls + ?5, "
	"n_plaintext = n_plaintext + ?6, n_refused = n_refused + ?7, "
	"n_failed = n_failed + ?8, n_attack = n_attack + ?9, "
	"n_downgrade = n_downgrade + ?10, last_tls = ?11, "
	"pinned_until = ?12, cert_sha256 = ?13, spki_sha256 = ?14, "
	"last_session = ?15 WHERE id = ?1",

	"INSERT INTO events (time, peer, port, protocol, direction, kind, "
	"detail, session_row) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
};

struct pdb {
	sqlite3		*db;
	sqlite3_stmt	*st[ST_LAST];
	int64_t		 last_rowid;	/* newest committed session row */
};

/* What a record's peer looked like before it. */
struct peer_row {
	int64_t		 id;		/* 0: new peer */
	int64_t		 last_tls;	/* 0: never */
	int64_t		 pinned_until;	/* 0: none */
	char		 cert[65];
	char		 spki[65];
};

/* db_error - SQLite's message, and the system's when it has one: "unable
 * to open database file" alone does not say "Permission denied" */
static void
db_error(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	int	 sys = db != NULL ? sqlite3_system_errno(db) : 0;

	snprintf(err, errlen, "%s: %s%s%s%s", what,
	    db != NULL ? sqlite3_errmsg(db) : "out of memory",
	    sys != 0 ? " (" : "", sys != 0 ? strerror(sys) : "",
	    sys != 0 ? ")" : "");
}

/* pdb_open - open or create, WAL, migrate, prepare */
struct pdb *
pdb_open(const char *path, char *err, size_t errlen)
{
	struct pdb	*p;
	sqlite3_stmt	*st;
	char		 mode[16] = "";
	char		 merr[256];

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		db_error(p->db, "open", err, errlen);
		goto fail;
	}
	sqlite3_extended_result_codes(p->db, 1);
	sqlite3_busy_timeout(p->db, PDB_BUSY_MS);
	/* The first statement reads the file: a corrupt one fails here. */
	if (sqlite3_prepare_v2(p->db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		db_error(p->db, "open", err, errlen);
		goto fail;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(mode, sizeof(mode), "%s",
		    (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (strcmp(mode, "wal") != 0) {
		db_error(p->db, "cannot use WAL mode", err, errlen);
		goto fail;
	}
	/* The writer appends and looks peers up by key: a few hundred
	 * pages do, not SQLite's default 2 MB, which a router would keep
	 * for nothing once the pages had been read. */
	if (sqlite3_exec(p->db, "PRAGMA synchronous = FULL; "
	    "PRAGMA cache_size = -512", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(p->db, "open", err, errlen);
		goto fail;
	}
	if (!posture_migrate(p->db, POSTURE_SCHEMA_VERSION, merr,
	    sizeof(merr))) {
		snprintf(err, errlen, "schema: %s", merr);
		goto fail;
	}
	for (int i = 0; i < ST_LAST; i++)
		if (sqlite3_prepare_v3(p->db, sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &p->st[i], NULL) != SQLITE_OK) {
			db_error(p->db, "prepare", err, errlen);
			goto fail;
		}
	return p;
fail:
	pdb_close(p);
	return NULL;
}

/* pdb_close - finalize, close (NULL is fine) */
void
pdb_close(struct pdb *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < ST_LAST; i++)
		sqlite3_finalize(p->st[i]);
	/* The last connection checkpoints and removes the WAL. */
	sqlite3_close(p->db);
	free(p);
}

/* pdb_last_rowid - the newest committed session row */
int64_t
pdb_last_rowid(struct pdb *p)
{
	return p->last_rowid;
}

/* text - bind a string (SQLite copies it) */
static void
text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* run - step a write statement once and reset it */
static bool
run(sqlite3_stmt *st)
{
	int	 rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE;
}

/* find_svc - what the configuration says of the record's service */
static const struct posture_svc *
find_svc(const struct posture_conf *pc, const char *name)
{
	for (size_t i = 0; pc != NULL && i < pc->nsvc; i++)
		if (strcmp(pc->svc[i].name, name) == 0)
			return &pc->svc[i];
	return NULL;
}

/* load_peer - the peer's row as it was, or id 0 */
static bool
load_peer(struct pdb *p, const struct outcome *o, struct peer_row *r)
{
	sqlite3_stmt	*st = p->st[ST_SEL_PEER];
	int		 rc;

	memset(r, 0, sizeof(*r));
	text(st, 1, o->peer);
	sqlite3_bind_int(st, 2, o->port);
	text(st, 3, o->protocol);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r->id = sqlite3_column_int64(st, 0);
		r->last_tls = sqlite3_column_int64(st, 1);
		r->pinned_until = sqlite3_column_int64(st, 2);
		snprintf(r->cert, sizeof(r->cert), "%s",
		    (const char *)sqlite3_column_text(st, 3));
		snprintf(r->spki, sizeof(r->spki), "%s",
		    (const char *)sqlite3_column_text(st, 4));
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

/* insert_session - the record's row; its id in *row */
static bool
insert_session(struct pdb *p, const struct outcome *o,
    const struct posture_svc *svc, int64_t *row)
{
	sqlite3_stmt	*st = p->st[ST_INS_SESSION];
	const char	*rt = posture_result_type(o, svc != NULL ?
			    svc->level : LEV_MAY);
	const char	*domain = o->peer;
	char		 named[256];

	/* RFC 8460's policy domain is the domain the mail was routed for:
	 * mx:/srv:'s, or the one the client named (upstream = srv).  A
	 * fixed host (a smarthost) or a transparent upstream has only the
	 * host name. */
	if (svc != NULL && (svc->kind == UPK_MX || svc->kind == UPK_SRV)) {
		if (svc->domain[0] != '\0')
			domain = svc->domain;
		else if (o->domain[0] != '\0') {
			posture_key(named, sizeof(named), o->domain);
			domain = named;
		}
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)o->session);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)o->start);
	text(st, 3, o->service);
	text(st, 4, o->direction);
	text(st, 5, o->protocol);
	text(st, 6, o->peer);
	text(st, 7, o->addr);
	sqlite3_bind_int(st, 8, o->port);
	text(st, 9, o->client);
	text(st, 10, o->name_source);
	sqlite3_bind_int(st, 11, o->starttls_offered);
	text(st, 12, result_name(o->result));
	text(st, 13, o->tls_version);
	text(st, 14, o->cipher);
	text(st, 15, o->group);
	text(st, 16, o->cert_sha256);
	text(st, 17, o->spki_sha256);
	text(st, 18, o->cert_subject);
	text(st, 19, o->cert_issuer);
	if (o->cert_expires != 0)
		sqlite3_bind_int64(st, 20, (sqlite3_int64)o->cert_expires);
	else
		sqlite3_bind_null(st, 20);
	text(st, 21, auth_name(o->auth));
	text(st, 22, o->dnssec);
	text(st, 23, o->tlsa);
	sqlite3_bind_int64(st, 24, (sqlite3_int64)o->bytes_in);
	sqlite3_bind_int64(st, 25, (sqlite3_int64)o->bytes_out);
	sqlite3_bind_int64(st, 26, (sqlite3_int64)o->duration_ms);
	text(st, 27, o->reason);
	text(st, 28, cause_name(o->cause));
	sqlite3_bind_int(st, 29, o->resumed);
	sqlite3_bind_int(st, 30, o->downgrade);
	text(st, 31, posture_policy_type(o));
	/* RFC 8460's policy string is the records as published; tlsa
	 * (column 23) cuts long data short for people to read. */
	text(st, 32, o->policy_tlsa != NULL ? o->policy_tlsa : o->tlsa);
	text(st, 33, domain);
	if (rt != NULL)
		text(st, 34, rt);
	else
		sqlite3_bind_null(st, 34);
	if (o->local[0] != '\0')
		text(st, 35, o->local);
	else
		sqlite3_bind_null(st, 35);
	/* The column is there since version 2, NULL until now. */
	if (o->helo != NULL)
		text(st, 36, o->helo);
	else
		sqlite3_bind_null(st, 36);
	if (!run(st))
		return false;
	*row = sqlite3_last_insert_rowid(p->db);
	return true;
}

/* add_event - one event about the record's peer */
static bool
add_event(struct pdb *p, const struct outcome *o, int64_t row,
    const char *kind, const char *detail)
{
	sqlite3_stmt	*st = p->st[ST_INS_EVENT];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)o->start);
	text(st, 2, o->peer);
	sqlite3_bind_int(st, 3, o->port);
	text(st, 4, o->protocol);
	text(st, 5, o->direction);
	text(st, 6, kind);
	text(st, 7, detail);
	sqlite3_bind_int64(st, 8, row);
	return run(st);
}

/* events - what this record means for its peer's history */
static bool
events(struct pdb *p, const struct outcome *o, const struct peer_row *r,
    int64_t row)
{
	char	 d[600];

	if (o->downgrade) {
		snprintf(d, sizeof(d), "%s: %s", o->cause == CAUSE_PINNED ?
		    "refused" : "relayed (pin = report-only)", o->reason);
		if (!add_event(p, o, row, "downgrade", d))
			return false;
	}
	/* A new certificate is news only where the peer is pinned: the
	 * operator expects TLS there and may want to know who answers. */
	if (r->id != 0 && r->pinned_until > (int64_t)o->start &&
	    o->cert_sha256[0] != '\0' && r->cert[0] != '\0' &&
	    strcmp(o->cert_sha256, r->cert) != 0) {
		snprintf(d, sizeof(d), "certificate %s -> %s; public key %s",
		    r->cert, o->cert_sha256, strcmp(o->spki_sha256, r->spki) ==
		    0 ? "unchanged" : "changed");
		if (!add_event(p, o, row, "cert-change", d))
			return false;
	}
	if (o->cause == CAUSE_DANE_MISMATCH &&
	    !add_event(p, o, row, "dane-fail", o->reason))
		return false;
	if (o->cause == CAUSE_INJECTION &&
	    !add_event(p, o, row, "injection", o->reason))
		return false;
	return true;
}

/* update_peer - counters, times, pin and certificate of the peer */
static bool
update_peer(struct pdb *p, const struct outcome *o,
    const struct posture_svc *svc, struct peer_row *r, int64_t row)
{
	sqlite3_stmt	*st;
	int64_t		 last_tls = r->last_tls;
	int64_t		 until = r->pinned_until;

	if (r->id == 0) {
		st = p->st[ST_INS_PEER];
		text(st, 1, o->peer);
		sqlite3_bind_int(st, 2, o->port);
		text(st, 3, o->protocol);
		text(st, 4, o->direction);
		text(st, 5, o->addr);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)o->start);
		if (!run(st))
			return false;
		r->id = sqlite3_last_insert_rowid(p->db);
	}
	if (posture_tls_seen(o) && (int64_t)o->start > last_tls) {
		last_tls = (int64_t)o->start;
		if (svc != NULL && svc->pin != PIN_NO)
			until = last_tls + svc->pin_max_age;
	}
	st = p->st[ST_UPD_PEER];
	sqlite3_bind_int64(st, 1, r->id);
	text(st, 2, o->direction);
	text(st, 3, o->addr);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)o->start);
	sqlite3_bind_int(st, 5, o->result == RES_TLS);
	sqlite3_bind_int(st, 6, o->result == RES_PLAINTEXT);
	sqlite3_bind_int(st, 7, o->result == RES_REFUSED);
	sqlite3_bind_int(st, 8, o->result == RES_FAILED);
	sqlite3_bind_int(st, 9, o->result == RES_ATTACK);
	sqlite3_bind_int(st, 10, o->downgrade);
	if (last_tls != 0)
		sqlite3_bind_int64(st, 11, last_tls);
	else
		sqlite3_bind_null(st, 11);
	if (until != 0)
		sqlite3_bind_int64(st, 12, until);
	else
		sqlite3_bind_null(st, 12);
	text(st, 13, o->cert_sha256[0] != '\0' ? o->cert_sha256 : r->cert);
	text(st, 14, o->spki_sha256[0] != '\0' ? o->spki_sha256 : r->spki);
	sqlite3_bind_int64(st, 15, row);
	return run(st);
}

/* pdb_commit - every record of the batch, or none */
bool
pdb_commit(struct pdb *p, struct outcome *const *recs, size_t n,
    const struct posture_conf *pc, char *err, size_t errlen)
{
	int64_t		 row = 0;

	if (sqlite3_exec(p->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		db_error(p->db, "begin", err, errlen);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const struct outcome *o = recs[i];
		const struct posture_svc *svc = find_svc(pc, o->service);
		struct peer_row r;

		if (!load_peer(p, o, &r) || !insert_session(p, o, svc, &row) ||
		    !events(p, o, &r, row) || !update_peer(p, o, svc, &r, row))
			goto fail;
	}
	if (sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (row != 0)
		p->last_rowid = row;
	return true;
fail:
	db_error(p->db, "write", err, errlen);
	sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
	return false;
}

/* pdb_prune - sessions older than cutoff; each peer keeps its last one,
 * which `tlshim posture` shows as the peer's last record */
long
pdb_prune(struct pdb *p, time_t cutoff, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	long		 n = -1;

	if (sqlite3_prepare_v2(p->db, "DELETE FROM sessions WHERE time < ?1 "
	    "AND id NOT IN (SELECT last_session FROM peers "
	    "WHERE last_session IS NOT NULL)", -1, &st, NULL) != SQLITE_OK) {
		db_error(p->db, "prune", err, errlen);
		return -1;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)cutoff);
	if (sqlite3_step(st) == SQLITE_DONE)
		n = sqlite3_changes(p->db);
	else
		db_error(p->db, "prune", err, errlen);
	sqlite3_finalize(st);
	return n;
}

/* pdb_load_pins - every peer seen with TLS, newest first, as many as the
 * pin table holds */
bool
pdb_load_pins(struct pdb *p, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(p->db, "SELECT peer, port, protocol, last_tls "
	    "FROM peers WHERE last_tls IS NOT NULL ORDER BY last_tls DESC "
	    "LIMIT ?1", -1, &st, NULL) != SQLITE_OK) {
		db_error(p->db, "load pins", err, errlen);
		return false;
	}
	sqlite3_bind_int(st, 1, POSTURE_PIN_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		posture_pin_note((const char *)sqlite3_column_text(st, 0),
		    (uint16_t)sqlite3_column_int(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (time_t)sqlite3_column_int64(st, 3));
	if (rc != SQLITE_DONE)
		db_error(p->db, "load pins", err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE;
}
