/*
 * posture.c - `tlshim posture`: what the posture store knows, per peer.
 *
 *   tlshim posture [-c FILE] [--peer NAME] [--json]
 *
 * Reads state_dir/posture.db (state_dir from the configuration) read-only
 * (tool/store.c), so it works while tlshimd writes (WAL).  Without
 * --json: one line per peer, or with --peer the whole story of one peer.  With --json: an array
 * of peers with DESIGN.md's fields; times are ISO 8601 UTC.  Exit 0, or 3
 * on any error (no database yet included).
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "shim/conf.h"
#include "shim/sbuf.h"
#include "tool/tool.h"

#define EXIT_ERR	3
#define EVENTS_MAX	100	/* per peer: the newest */

#define PEER_COLS \
	"id, peer, port, protocol, direction, address, first_seen, last_seen, " \
	"sessions, n_tls, n_plaintext, n_refused, n_failed, n_attack, " \
	"n_downgrade, last_tls, pinned_until, cert_sha256, spki_sha256, " \
	"last_session"
enum { P_ID, P_PEER, P_PORT, P_PROTOCOL, P_DIRECTION, P_ADDRESS, P_FIRST,
	P_LAST, P_SESSIONS, P_TLS, P_PLAIN, P_REFUSED, P_FAILED, P_ATTACK,
	P_DOWNGRADE, P_LAST_TLS, P_PINNED, P_CERT, P_SPKI, P_LAST_SESSION };

#define LAST_COLS \
	"session, time, service, address, result, starttls_offered, " \
	"tls_version, cipher, \"group\", auth, dnssec, tlsa, cert_sha256, " \
	"spki_sha256, cert_subject, cert_issuer, cert_expires, name_source, " \
	"bytes_in, bytes_out, duration_ms, resumed, downgrade, cause, reason"

/* usage - the synopsis and options */
static void
usage(FILE *f)
{
	fprintf(f, "usage: tlshim posture [-c FILE] [--peer NAME] [--json]\n"
	    "  -c FILE      tlshimd's configuration, for state_dir "
	    "(default %s)\n"
	    "  --peer NAME  only this peer (a host name or address), in "
	    "detail\n"
	    "  --json       an array of peers, for programs\n", CONF_DEFAULT_PATH);
}

/* ---------------------------------------------------------- values */

/* col - a text column, "" for NULL */
static const char *
col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? (const char *)t : "";
}

/* iso - Unix time as ISO 8601 UTC; "" for NULL */
static const char *
iso(sqlite3_stmt *st, int i, char *buf, size_t len)
{
	buf[0] = '\0';
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return buf;
	return tool_utc(buf, len, (time_t)sqlite3_column_int64(st, i));
}

/* kv - one member: "key": "text" (sep before it: "" first, ", " after) */
static void
kv(const char *sep, const char *k, const char *v)
{
	printf("%s\"%s\": ", sep, k);
	sbuf_json_fputs(stdout, v);
}

/* kv_time - "key": "ISO time" or null */
static void
kv_time(const char *sep, const char *k, sqlite3_stmt *st, int i)
{
	char	 buf[32];

	if (*iso(st, i, buf, sizeof(buf)) == '\0')
		printf("%s\"%s\": null", sep, k);
	else
		kv(sep, k, buf);
}

/* kv_int - "key": integer */
static void
kv_int(const char *sep, const char *k, sqlite3_stmt *st, int i)
{
	printf("%s\"%s\": %lld", sep, k,
	    (long long)sqlite3_column_int64(st, i));
}

/* kv_bool - "key": true or false */
static void
kv_bool(const char *sep, const char *k, sqlite3_stmt *st, int i)
{
	printf("%s\"%s\": %s", sep, k,
	    sqlite3_column_int(st, i) ? "true" : "false");
}

/* session_id - the log's form of a session id: 16 hex digits */
static const char *
session_id(sqlite3_stmt *st, int i, char *buf, size_t len)
{
	snprintf(buf, len, "%016llx",
	    (unsigned long long)sqlite3_column_int64(st, i));
	return buf;
}

/* ---------------------------------------------------------- queries */

/* prep - a statement, or NULL after saying why */
static sqlite3_stmt *
prep(sqlite3 *db, const char *q)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "tlshim posture: %s\n", sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

/* helo_of - the name the session's server greeted with; "" when unknown,
 * and in a store of schema version 1, which has no such column */
static const char *
helo_of(sqlite3 *db, int64_t row, char *buf, size_t len)
{
	sqlite3_stmt	*st;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT receiving_helo FROM sessions "
	    "WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
		return buf;
	sqlite3_bind_int64(st, 1, row);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, len, "%s", col(st, 0));
	sqlite3_finalize(st);
	return buf;
}

/* last_json - the peer's last session record */
static void
last_json(sqlite3 *db, int64_t row)
{
	sqlite3_stmt	*st;
	char		 id[24], helo[256];

	helo_of(db, row, helo, sizeof(helo));
	st = prep(db, "SELECT " LAST_COLS " FROM sessions WHERE id = ?1");
	if (st == NULL)
		return;
	sqlite3_bind_int64(st, 1, row);
	if (sqlite3_step(st) != SQLITE_ROW) {
		printf("null");
		sqlite3_finalize(st);
		return;
	}
	printf("{");
	kv("", "session", session_id(st, 0, id, sizeof(id)));
	kv_time(", ", "time", st, 1);
	kv(", ", "service", col(st, 2));
	kv(", ", "address", col(st, 3));
	kv(", ", "helo", helo);
	kv(", ", "result", col(st, 4));
	kv_bool(", ", "starttls_offered", st, 5);
	kv(", ", "tls_version", col(st, 6));
	kv(", ", "cipher", col(st, 7));
	kv(", ", "group", col(st, 8));
	kv(", ", "auth", col(st, 9));
	kv(", ", "dnssec", col(st, 10));
	kv(", ", "tlsa", col(st, 11));
	kv(", ", "cert_sha256", col(st, 12));
	kv(", ", "spki_sha256", col(st, 13));
	kv(", ", "cert_subject", col(st, 14));
	kv(", ", "cert_issuer", col(st, 15));
	kv_time(", ", "cert_expires", st, 16);
	kv(", ", "name_source", col(st, 17));
	kv_int(", ", "bytes_in", st, 18);
	kv_int(", ", "bytes_out", st, 19);
	kv_int(", ", "duration_ms", st, 20);
	kv_bool(", ", "resumed", st, 21);
	kv_bool(", ", "downgrade", st, 22);
	kv(", ", "cause", col(st, 23));
	kv(", ", "reason", col(st, 24));
	printf("}");
	sqlite3_finalize(st);
}

/* events_stmt - the peer's newest events, oldest first */
static sqlite3_stmt *
events_stmt(sqlite3 *db, sqlite3_stmt *peer)
{
	sqlite3_stmt	*st;

	st = prep(db, "SELECT time, kind, detail, session FROM (SELECT e.id, "
	    "e.time, e.kind, e.detail, s.session FROM events e LEFT JOIN "
	    "sessions s ON s.id = e.session_row WHERE e.peer = ?1 AND "
	    "e.port = ?2 AND e.protocol = ?3 ORDER BY e.id DESC LIMIT ?4) "
	    "ORDER BY id");
	if (st == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, col(peer, P_PEER), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, sqlite3_column_int(peer, P_PORT));
	sqlite3_bind_text(st, 3, col(peer, P_PROTOCOL), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, EVENTS_MAX);
	return st;
}

/* events_json - the peer's events as a JSON array */
static void
events_json(sqlite3 *db, sqlite3_stmt *peer)
{
	sqlite3_stmt	*st = events_stmt(db, peer);
	const char	*sep = "";
	char		 id[24];

	printf("[");
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		printf("%s{", sep);
		kv_time("", "time", st, 0);
		kv(", ", "kind", col(st, 1));
		kv(", ", "detail", col(st, 2));
		if (sqlite3_column_type(st, 3) == SQLITE_NULL)
			printf(", \"session\": null");
		else
			kv(", ", "session", session_id(st, 3, id, sizeof(id)));
		printf("}");
		sep = ",\n    ";
	}
	printf("]");
	sqlite3_finalize(st);
}

/* peer_json - one element of the array */
static void
peer_json(sqlite3 *db, sqlite3_stmt *st)
{
	printf("{");
	kv("", "peer", col(st, P_PEER));
	kv_int(", ", "port", st, P_PORT);
	kv(", ", "protocol", col(st, P_PROTOCOL));
	kv(", ", "direction", col(st, P_DIRECTION));
	kv(", ", "address", col(st, P_ADDRESS));
	kv_time(",\n  ", "first_seen", st, P_FIRST);
	kv_time(", ", "last_seen", st, P_LAST);
	kv_int(", ", "sessions", st, P_SESSIONS);
	printf(",\n  \"counts\": {");
	kv_int("", "tls", st, P_TLS);
	kv_int(", ", "plaintext", st, P_PLAIN);
	kv_int(", ", "refused", st, P_REFUSED);
	kv_int(", ", "failed", st, P_FAILED);
	kv_int(", ", "attack", st, P_ATTACK);
	kv_int(", ", "downgrade", st, P_DOWNGRADE);
	printf("}");
	kv_time(",\n  ", "last_tls", st, P_LAST_TLS);
	kv_time(", ", "pinned_until", st, P_PINNED);
	kv(",\n  ", "cert_sha256", col(st, P_CERT));
	kv(",\n  ", "spki_sha256", col(st, P_SPKI));
	printf(",\n  \"last\": ");
	last_json(db, sqlite3_column_int64(st, P_LAST_SESSION));
	printf(",\n  \"events\": ");
	events_json(db, st);
	printf("}");
}

/* ---------------------------------------------------------- text */

/* peer_line - one line of the table */
static void
peer_line(sqlite3 *db, sqlite3_stmt *st)
{
	sqlite3_stmt	*l;
	char		 seen[32], pin[32];
	const char	*result = "-", *auth = "-";

	l = prep(db, "SELECT result, auth FROM sessions WHERE id = ?1");
	if (l != NULL) {
		sqlite3_bind_int64(l, 1, sqlite3_column_int64(st,
		    P_LAST_SESSION));
		if (sqlite3_step(l) == SQLITE_ROW) {
			result = col(l, 0);
			auth = col(l, 1);
		}
	}
	iso(st, P_LAST, seen, sizeof(seen));
	iso(st, P_PINNED, pin, sizeof(pin));
	printf("%-28s %5d %-11s %8lld %-20s %-9s %-9s %-20s %lld\n",
	    col(st, P_PEER), sqlite3_column_int(st, P_PORT),
	    col(st, P_PROTOCOL), (long long)sqlite3_column_int64(st,
	    P_SESSIONS), seen, result, auth, pin[0] != '\0' ? pin : "-",
	    (long long)sqlite3_column_int64(st, P_DOWNGRADE));
	sqlite3_finalize(l);
}

/* peer_detail - everything about one peer, for --peer */
static void
peer_detail(sqlite3 *db, sqlite3_stmt *st)
{
	sqlite3_stmt	*l, *e;
	char		 a[32], b[32], id[24], helo[256];

	printf("peer          %s port %d (%s, %s)\n", col(st, P_PEER),
	    sqlite3_column_int(st, P_PORT), col(st, P_PROTOCOL),
	    col(st, P_DIRECTION));
	printf("address       %s\n", col(st, P_ADDRESS));
	printf("seen          %s to %s\n", iso(st, P_FIRST, a, sizeof(a)),
	    iso(st, P_LAST, b, sizeof(b)));
	printf("sessions      %lld: tls %lld, plaintext %lld, refused %lld, "
	    "failed %lld, attack %lld; downgrades %lld\n",
	    (long long)sqlite3_column_int64(st, P_SESSIONS),
	    (long long)sqlite3_column_int64(st, P_TLS),
	    (long long)sqlite3_column_int64(st, P_PLAIN),
	    (long long)sqlite3_column_int64(st, P_REFUSED),
	    (long long)sqlite3_column_int64(st, P_FAILED),
	    (long long)sqlite3_column_int64(st, P_ATTACK),
	    (long long)sqlite3_column_int64(st, P_DOWNGRADE));
	printf("last TLS      %s\n", *iso(st, P_LAST_TLS, a, sizeof(a)) !=
	    '\0' ? a : "never");
	printf("pinned until  %s\n", *iso(st, P_PINNED, a, sizeof(a)) !=
	    '\0' ? a : "-");
	if (*col(st, P_CERT) != '\0')
		printf("certificate   %s\npublic key    %s\n", col(st, P_CERT),
		    col(st, P_SPKI));
	l = prep(db, "SELECT " LAST_COLS " FROM sessions WHERE id = ?1");
	if (l != NULL) {
		sqlite3_bind_int64(l, 1, sqlite3_column_int64(st,
		    P_LAST_SESSION));
		if (sqlite3_step(l) == SQLITE_ROW) {
			printf("last session  %s at %s\n", session_id(l, 0, id,
			    sizeof(id)), iso(l, 1, a, sizeof(a)));
			printf("  result %s, auth %s", col(l, 4), col(l, 9));
			if (*col(l, 6) != '\0')
				printf(", %s %s", col(l, 6), col(l, 7));
			if (*col(l, 10) != '\0')
				printf(", dnssec %s", col(l, 10));
			printf("\n");
			if (*col(l, 24) != '\0')
				printf("  reason %s\n", col(l, 24));
		}
		sqlite3_finalize(l);
		if (*helo_of(db, sqlite3_column_int64(st, P_LAST_SESSION),
		    helo, sizeof(helo)) != '\0')
			printf("  greeted as %s\n", helo);
	}
	if ((e = events_stmt(db, st)) == NULL)
		return;
	for (int n = 0; sqlite3_step(e) == SQLITE_ROW; n++)
		printf("%s  %s %-11s %s\n", n == 0 ? "events\n" : "",
		    iso(e, 0, a, sizeof(a)), col(e, 1), col(e, 2));
	sqlite3_finalize(e);
}

/* ---------------------------------------------------------- main */

/* tool_posture - `tlshim posture`: exit 0, or 3 on an error */
int
tool_posture(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "peer", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*cfile = NULL, *peer = NULL, *sep = "";
	char		 path[PATH_MAX], key[256];
	bool		 json = false;
	sqlite3		*db;
	sqlite3_stmt	*st;
	int		 ch, rc, n = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:p:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfile = optarg; break;
		case 'p': peer = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_ERR;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_ERR;
	}
	if (!tool_store_path("tlshim posture", cfile, path, sizeof(path)) ||
	    (db = tool_store_open("tlshim posture", path)) == NULL)
		return EXIT_ERR;
	st = prep(db, peer != NULL ? "SELECT " PEER_COLS " FROM peers WHERE "
	    "peer = ?1 ORDER BY port, protocol" : "SELECT " PEER_COLS " FROM "
	    "peers ORDER BY peer, port, protocol");
	if (st == NULL) {
		sqlite3_close(db);
		return EXIT_ERR;
	}
	if (peer != NULL) {
		/* The store keys names in lower case, without a final dot. */
		snprintf(key, sizeof(key), "%s", peer);
		for (char *c = key; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (strlen(key) > 1 && key[strlen(key) - 1] == '.')
			key[strlen(key) - 1] = '\0';
		sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	}
	if (json)
		printf("[");
	else if (peer == NULL)
		printf("%-28s %5s %-11s %8s %-20s %-9s %-9s %-20s %s\n", "PEER",
		    "PORT", "PROTOCOL", "SESSIONS", "LAST SEEN", "LAST",
		    "AUTH", "PINNED UNTIL", "DOWNGRADES");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (json) {
			printf("%s", sep);
			peer_json(db, st);
			sep = ",\n";
		} else if (peer != NULL) {
			printf("%s", sep);
			peer_detail(db, st);
			sep = "\n";
		} else
			peer_line(db, st);
		n++;
	}
	if (json)
		printf("]\n");
	else if (peer != NULL && n == 0)
		printf("no records of %s\n", peer);
	if (rc != SQLITE_DONE)
		fprintf(stderr, "tlshim posture: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc == SQLITE_DONE ? 0 : EXIT_ERR;
}
