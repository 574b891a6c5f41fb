/*
 * posture_schema.c - the posture database's schema, its versions, and the
 * few derived values a record is stored with.
 *
 * PRAGMA user_version says which version a file holds.  Each version is
 * one step from the one before it, applied in order inside a single
 * transaction, so a file of any older version is brought forward at open
 * and an interrupted migration leaves the old version intact.  A file of
 * a newer version (written by a later tlshim) is not touched.
 *
 *   1  sessions (one row per session, every field of struct outcome),
 *      peers (per name, port and protocol: first/last seen, counters, the
 *      last TLS time and pin, the last certificate) and events.
 *   2  what RFC 8460 (TLSRPT) reports need per session: policy type,
 *      policy string, policy domain, result type, the sending and
 *      receiving MTAs; indexes for a day's report.
 *   3  result types recomputed (posture_result_type below): plaintext
 *      relays where TLS was wanted, refused pinned handshakes, expired
 *      certificates; transparent services' policy domain is the peer.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "shim/posture_int.h"

static const char *const steps[POSTURE_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE sessions ("
	"  id INTEGER PRIMARY KEY,"
	"  session INTEGER NOT NULL,"		/* the daemon's session id */
	"  time INTEGER NOT NULL,"		/* start, Unix seconds, UTC */
	"  service TEXT NOT NULL,"
	"  direction TEXT NOT NULL,"
	"  protocol TEXT NOT NULL,"
	"  peer TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  client TEXT NOT NULL,"
	"  name_source TEXT NOT NULL,"
	"  starttls_offered INTEGER NOT NULL,"
	"  result TEXT NOT NULL,"
	"  tls_version TEXT NOT NULL,"
	"  cipher TEXT NOT NULL,"
	"  \"group\" TEXT NOT NULL,"
	"  cert_sha256 TEXT NOT NULL,"
	"  spki_sha256 TEXT NOT NULL,"
	"  cert_subject TEXT NOT NULL,"
	"  cert_issuer TEXT NOT NULL,"
	"  cert_expires INTEGER,"		/* NULL: unknown */
	"  auth TEXT NOT NULL,"
	"  dnssec TEXT NOT NULL,"
	"  tlsa TEXT NOT NULL,"
	"  bytes_in INTEGER NOT NULL,"
	"  bytes_out INTEGER NOT NULL,"
	"  duration_ms INTEGER NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  cause TEXT NOT NULL,"
	"  resumed INTEGER NOT NULL,"
	"  downgrade INTEGER NOT NULL);"
	"CREATE INDEX sessions_time ON sessions (time);"
	"CREATE INDEX sessions_peer ON sessions (peer, port, protocol, id);"
	"CREATE TABLE peers ("
	"  id INTEGER PRIMARY KEY,"
	"  peer TEXT NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  protocol TEXT NOT NULL,"
	"  direction TEXT NOT NULL,"
	"  address TEXT NOT NULL,"		/* the last one connected to */
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  sessions INTEGER NOT NULL DEFAULT 0,"
	"  n_tls INTEGER NOT NULL DEFAULT 0,"
	"  n_plaintext INTEGER NOT NULL DEFAULT 0,"
	"  n_refused INTEGER NOT NULL DEFAULT 0,"
	"  n_failed INTEGER NOT NULL DEFAULT 0,"
	"  n_attack INTEGER NOT NULL DEFAULT 0,"
	"  n_downgrade INTEGER NOT NULL DEFAULT 0,"
	"  last_tls INTEGER,"			/* NULL: never seen with TLS */
	"  pinned_until INTEGER,"		/* NULL: no pinning service */
	"  cert_sha256 TEXT NOT NULL DEFAULT '',"
	"  spki_sha256 TEXT NOT NULL DEFAULT '',"
	"  last_session INTEGER,"		/* sessions.id */
	"  UNIQUE (peer, port, protocol));"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  peer TEXT NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  protocol TEXT NOT NULL,"
	"  direction TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"		/* downgrade, cert-change, ... */
	"  detail TEXT NOT NULL,"
	"  session_row INTEGER);"		/* sessions.id (may be pruned) */
	"CREATE INDEX events_peer ON events (peer, port, protocol, id);",

	/* 1 -> 2: RFC 8460.  receiving_helo is the name in the server's
	 * SMTP greeting (NULL: unknown, and in rows written before
	 * tlshim recorded it). */
	"ALTER TABLE sessions ADD COLUMN policy_type TEXT;"
	"ALTER TABLE sessions ADD COLUMN policy_string TEXT;"
	"ALTER TABLE sessions ADD COLUMN policy_domain TEXT;"
	"ALTER TABLE sessions ADD COLUMN result_type TEXT;"
	"ALTER TABLE sessions ADD COLUMN sending_ip TEXT;"
	"ALTER TABLE sessions ADD COLUMN receiving_helo TEXT;"
	"UPDATE sessions SET policy_type = CASE WHEN dnssec = 'secure' AND "
	"  tlsa <> '' THEN 'tlsa' ELSE 'no-policy-found' END,"
	"  policy_string = tlsa, policy_domain = peer;"
	"CREATE INDEX sessions_report ON sessions (policy_domain, time);",

	/* 2 -> 3: the result types of posture_result_type(), for the rows
	 * version 2 wrote.  The level is not in the row: a plaintext relay
	 * of a security = none service is known by its reason. */
	"UPDATE sessions SET result_type = CASE"
	"  WHEN cause = 'pinned' THEN CASE WHEN starttls_offered"
	"    THEN 'validation-failure' ELSE 'starttls-not-supported' END"
	"  WHEN cause = 'certificate' THEN CASE WHEN cert_expires < time"
	"    THEN 'certificate-expired' ELSE 'certificate-not-trusted' END"
	"  WHEN result = 'plaintext' AND cause = '' AND"
	"    reason NOT LIKE '%security = none%' THEN CASE WHEN"
	"    starttls_offered THEN 'validation-failure'"
	"    ELSE 'starttls-not-supported' END"
	"  ELSE result_type END;"
	"UPDATE sessions SET policy_domain = peer WHERE"
	"  policy_domain IN ('', 'transparent');",
};

/* user_version - the file's schema version, or -1 with err */
static int
user_version(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	else
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return v;
}

/* posture_migrate - from the file's version up to target, atomically */
bool
posture_migrate(sqlite3 *db, int target, char *err, size_t errlen)
{
	char	*msg = NULL, sql[64];
	int	 v;

	if (target > POSTURE_SCHEMA_VERSION)
		target = POSTURE_SCHEMA_VERSION;
	/* IMMEDIATE: two openers never both migrate. */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) !=
	    SQLITE_OK)
		goto fail;
	if ((v = user_version(db, err, errlen)) < 0)
		goto rollback;
	if (v > POSTURE_SCHEMA_VERSION) {
		snprintf(err, errlen, "schema version %d is newer than this "
		    "tlshim's (%d): left alone", v, POSTURE_SCHEMA_VERSION);
		goto rollback;
	}
	for (; v < target; v++)
		if (sqlite3_exec(db, steps[v], NULL, NULL, &msg) != SQLITE_OK)
			goto fail_in;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail_in;
	return true;
fail_in:
	snprintf(err, errlen, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
rollback:
	sqlite3_free(msg);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return false;
fail:
	snprintf(err, errlen, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return false;
}

/* posture_tls_seen - TLS, or secure and usable TLSA records */
bool
posture_tls_seen(const struct outcome *o)
{
	return o->result == RES_TLS ||
	    (strcmp(o->dnssec, "secure") == 0 && o->tlsa[0] != '\0');
}

/* posture_policy_type - "tlsa" or "no-policy-found" */
const char *
posture_policy_type(const struct outcome *o)
{
	return strcmp(o->dnssec, "secure") == 0 && o->tlsa[0] != '\0' ?
	    "tlsa" : "no-policy-found";
}

/*
 * posture_result_type - RFC 8460 4.3: why TLS was not negotiated.
 *
 * The causes first.  A STARTTLS that was not there (or that a pin
 * refused to do without) is "starttls-not-supported"; a pinned peer whose
 * handshake failed and a failed handshake are "validation-failure", the
 * RFC's word for a negotiation failure no other type names (4.3.3), as is
 * an injection across STARTTLS; PKIX under verify is
 * "certificate-expired" when the leaf was past its notAfter, else
 * "certificate-not-trusted" (4.3.1's catch-all for certificates); no
 * usable TLSA record matching the chain is "tlsa-invalid" (4.3.2.1: none
 * of the records were valid for it); dane-only without secure, usable
 * TLSA is "dane-required"; a bogus lookup (a validating resolver's
 * SERVFAIL) is "dnssec-invalid".  A lookup that timed out, a connection
 * that failed, a protocol error: transient or not about TLS, not
 * reported (4.3.4).
 *
 * Then the sessions relayed in plaintext although the level wanted TLS
 * (may, or dane where the domain has no TLSA records): the mail went out,
 * but not over TLS, which is what a receiving domain asks TLSRPT to tell
 * it.  No STARTTLS offered (or EHLO refused) is "starttls-not-supported";
 * STARTTLS offered and then not used (the server refused it, or the
 * handshake failed and may retried in plaintext) is "validation-failure".
 * Under security = none TLS was never tried: nothing to report.
 */
const char *
posture_result_type(const struct outcome *o, enum tls_level level)
{
	if (level == LEV_NONE)
		return NULL;
	switch (o->cause) {
	case CAUSE_NO_TLS:
		return "starttls-not-supported";
	case CAUSE_PINNED:
		return o->starttls_offered ? "validation-failure" :
		    "starttls-not-supported";
	case CAUSE_HANDSHAKE:
	case CAUSE_INJECTION:
		return "validation-failure";
	case CAUSE_CERT:
		return o->cert_expires != 0 && o->cert_expires < o->start ?
		    "certificate-expired" : "certificate-not-trusted";
	case CAUSE_DANE_MISMATCH:
		return "tlsa-invalid";
	case CAUSE_DANE_REQUIRED:
		return "dane-required";
	case CAUSE_DNS:
		return strcmp(o->dnssec, "bogus") == 0 ? "dnssec-invalid" :
		    NULL;
	case CAUSE_NONE:
		break;
	default:
		return NULL;
	}
	if (o->result == RES_PLAINTEXT)
		return o->starttls_offered ? "validation-failure" :
		    "starttls-not-supported";
	return NULL;
}
