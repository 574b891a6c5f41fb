/*
 * test_posture.c - the posture store (shim/posture*.c) and the downgrade
 * pins: what reaches the SQLite file and when, what happens when the
 * store cannot be written, retention, and the pin check through the real
 * session core against a scripted server (harness.c).
 *
 * What must hold: every submitted record is committed with its peer and
 * events, in batches of at most batch_max or after batch_ms; a file of an
 * older schema is migrated and one of a newer schema left alone; a
 * missing, read-only or corrupt store never blocks submit(), counts what
 * does not fit in the queue as lost, says so once, and recovers by itself
 * when fixed; sessions older than the retention go, each peer's last one
 * and the events stay; a pinned peer without TLS is refused (pin = yes) or
 * relayed and marked (report-only), and pins outlive a restart.
 *
 * The store is process-wide: every test opens and closes its own, in its
 * own temporary folder.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "shim/conf.h"
#include "shim/posture.h"
#include "shim/posture_int.h"
#include "shim/result.h"
#include "tests/unit/harness.h"

#define WAIT	10000		/* ms for a session record */
#define DAY	86400

static char dir[256];		/* this test's state_dir's parent */
static char state[300];		/* state_dir */
static char dbpath[320];

/* ------------------------------------------------------------ helpers */

/* tmp_setup - a fresh folder; state_dir is dir/state, made unless the
 * test wants it missing */
static int
tmp_setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/test_posture.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(dbpath, sizeof(dbpath), "%s/%s", state, POSTURE_DB_NAME);
	posture_pin_clear();
	posture_tune_set(NULL);
	return mkdir(state, 0700);
}

static int
tmp_teardown(void **st)
{
	char cmd[300];

	(void)st;
	posture_close();
	posture_tune_set(NULL);
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s", dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* fast - small numbers, so that tests see batches, retries and prunes */
static void
fast(size_t queue_max, unsigned batch_max, unsigned batch_ms,
    unsigned prune_ms)
{
	struct posture_tune t = {
		.queue_max = queue_max, .batch_max = batch_max,
		.batch_ms = batch_ms, .retry_ms = 30, .prune_ms = prune_ms,
	};

	posture_tune_set(&t);
}

/* open_store - posture_open on a configuration with one service */
static void
open_store(const char *svc_keys, const char *global_keys)
{
	struct conf_error err;
	struct conf *c;
	char text[1024], perr[256];

	snprintf(text, sizeof(text), "[global]\nstate_dir = %s\n%s"
	    "[out]\nprotocol = smtp\nlisten = 127.0.0.1:10025\n"
	    "upstream = mx:example.net\n%s", state, global_keys, svc_keys);
	if ((c = conf_parse(text, strlen(text), "t.conf", &err)) == NULL)
		fail_msg("conf: %s", err.msg);
	if (!posture_open(c, perr, sizeof(perr)))
		fail_msg("posture_open: %s", perr);
	conf_unref(c);
}

/* rec - a record of service out, as a session would end it */
static struct outcome
rec(const char *peer, uint16_t port, enum result r, time_t start)
{
	static uint64_t id = 0x1000;
	struct outcome o;

	memset(&o, 0, sizeof(o));
	o.session = ++id;
	o.start = start;
	snprintf(o.service, sizeof(o.service), "out");
	snprintf(o.direction, sizeof(o.direction), "outbound");
	snprintf(o.protocol, sizeof(o.protocol), "smtp");
	snprintf(o.peer, sizeof(o.peer), "%s", peer);
	snprintf(o.addr, sizeof(o.addr), "192.0.2.25");
	snprintf(o.local, sizeof(o.local), "192.0.2.1");
	snprintf(o.client, sizeof(o.client), "127.0.0.1:40000");
	snprintf(o.name_source, sizeof(o.name_source), "mx");
	o.port = port;
	o.result = r;
	o.bytes_in = 100;
	o.bytes_out = 2000;
	o.duration_ms = 42;
	if (r == RES_TLS) {
		o.starttls_offered = true;
		snprintf(o.tls_version, sizeof(o.tls_version), "TLS1.3");
		snprintf(o.cipher, sizeof(o.cipher), "AES-256-GCM");
		snprintf(o.group, sizeof(o.group), "X25519");
		snprintf(o.cert_sha256, sizeof(o.cert_sha256), "%064d", 1);
		snprintf(o.spki_sha256, sizeof(o.spki_sha256), "%064d", 2);
		snprintf(o.cert_subject, sizeof(o.cert_subject), "CN=%s", peer);
		snprintf(o.cert_issuer, sizeof(o.cert_issuer), "CN=Test CA");
		o.cert_expires = start + 30 * DAY;
		o.auth = AUTH_PKIX;
	}
	return o;
}

/* submit_n - n TLS records of peer mx.example.net */
static void
submit_n(int n)
{
	for (int i = 0; i < n; i++) {
		struct outcome o = rec("mx.example.net", 25, RES_TLS,
		    time(NULL));

		posture_submit(&o);
	}
}

static uint64_t
stat_of(int which)
{
	uint64_t v[3];

	posture_queue_stats(&v[0], &v[1], &v[2]);
	return v[which];
}
#define QUEUED		stat_of(0)
#define LOST		stat_of(1)
#define COMMITTED	stat_of(2)

/* until - poll cond every 10 ms for up to ms */
#define until(cond, ms) do {						\
	int until_n_ = (ms) / 10;					\
	while (!(cond) && until_n_-- > 0)				\
		usleep(10000);						\
	if (!(cond))							\
		fail_msg("still not true after %d ms: %s", (ms), #cond);\
} while (0)

/* q_int - one number from the file, opened read-only beside the writer */
static long long
q_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		fail_msg("open %s: %s", dbpath, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* q_text - one string (or "(null)") into a static buffer, big enough
 * for a policy string with a whole certificate in it */
static const char *
q_text(const char *sql)
{
	static char buf[8192];
	sqlite3 *db;
	sqlite3_stmt *st;

	snprintf(buf, sizeof(buf), "(no row)");
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		fail_msg("open %s: %s", dbpath, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, sizeof(buf), "%s",
		    sqlite3_column_type(st, 0) == SQLITE_NULL ? "(null)" :
		    (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf;
}

/* Capturing what the store logs: stderr goes to a file meanwhile. */
static int saved_stderr = -1;
static char logpath[320];

static void
log_capture(void)
{
	int fd;

	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* log_count - stop capturing; how many lines contain needle */
static int
log_count(const char *needle)
{
	char line[4096];
	int n = 0;
	FILE *f;

	if (saved_stderr >= 0) {
		dup2(saved_stderr, 2);
		close(saved_stderr);
		saved_stderr = -1;
	}
	if ((f = fopen(logpath, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

/* ------------------------------------------------------------ store */

/* Records, peers and events as one pinned peer's history goes. */
static void
records_peers_events(void **st)
{
	time_t now = time(NULL);
	struct outcome o;
	char sql[256], want[1024];
	uint64_t first;

	(void)st;
	fast(64, 16, 20, DAY * 1000u);
	open_store("pin = yes\npin_max_age = 10d\n", "");
	/* TLS, then a downgrade refused, then TLS with another
	 * certificate; the name is given as DNS writes it. */
	o = rec("MX.Example.NET.", 25, RES_TLS, now - 100);
	snprintf(o.dnssec, sizeof(o.dnssec), "secure");
	snprintf(o.tlsa, sizeof(o.tlsa), "3 1 1 %064d", 2);
	o.auth = AUTH_DANE_EE;
	first = o.session;
	posture_submit(&o);
	o = rec("mx.example.net", 25, RES_REFUSED, now - 50);
	o.downgrade = true;
	o.cause = CAUSE_PINNED;
	snprintf(o.reason, sizeof(o.reason), "STARTTLS not offered by "
	    "server; downgrade: ...");
	posture_submit(&o);
	o = rec("mx.example.net", 25, RES_TLS, now - 10);
	snprintf(o.cert_sha256, sizeof(o.cert_sha256), "%064d", 3);
	posture_submit(&o);
	/* Another peer: a DANE mismatch, then an injection. */
	o = rec("mx2.example.net", 25, RES_REFUSED, now - 5);
	o.cause = CAUSE_DANE_MISMATCH;
	snprintf(o.reason, sizeof(o.reason), "DANE authentication failed");
	posture_submit(&o);
	o = rec("mx2.example.net", 25, RES_ATTACK, now - 4);
	o.cause = CAUSE_INJECTION;
	snprintf(o.reason, sizeof(o.reason), "response injection");
	posture_submit(&o);

	assert_true(posture_idle(5000));
	assert_int_equal(COMMITTED, 5);
	assert_int_equal(LOST, 0);
	assert_int_equal(QUEUED, 0);
	assert_false(posture_broken());

	/* Read while the writer holds the file open (WAL). */
	assert_int_equal(q_int("PRAGMA user_version"),
	    POSTURE_SCHEMA_VERSION);
	assert_string_equal(q_text("PRAGMA journal_mode"), "wal");
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 5);
	assert_int_equal(q_int("SELECT count(*) FROM peers"), 2);
	assert_int_equal(q_int("SELECT sessions FROM peers WHERE "
	    "peer = 'mx.example.net'"), 3);
	assert_int_equal(q_int("SELECT n_tls * 100 + n_refused * 10 + "
	    "n_downgrade FROM peers WHERE peer = 'mx.example.net'"), 211);
	assert_int_equal(q_int("SELECT first_seen FROM peers WHERE "
	    "peer = 'mx.example.net'"), now - 100);
	assert_int_equal(q_int("SELECT last_seen FROM peers WHERE "
	    "peer = 'mx.example.net'"), now - 10);
	assert_int_equal(q_int("SELECT last_tls FROM peers WHERE "
	    "peer = 'mx.example.net'"), now - 10);
	assert_int_equal(q_int("SELECT pinned_until FROM peers WHERE "
	    "peer = 'mx.example.net'"), now - 10 + 10 * DAY);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM peers WHERE "
	    "peer = 'mx.example.net' AND cert_sha256 = '%064d'", 3);
	assert_int_equal(q_int(sql), 1);
	assert_int_equal(q_int("SELECT last_session = (SELECT max(id) FROM "
	    "sessions WHERE peer = 'mx.example.net') FROM peers WHERE "
	    "peer = 'mx.example.net'"), 1);
	/* A peer never seen with TLS has no pin. */
	assert_string_equal(q_text("SELECT pinned_until FROM peers WHERE "
	    "peer = 'mx2.example.net'"), "(null)");

	/* The events, in order. */
	assert_string_equal(q_text("SELECT group_concat(kind, ',') FROM "
	    "(SELECT kind FROM events ORDER BY id)"),
	    "downgrade,cert-change,dane-fail,injection");
	assert_string_equal(q_text("SELECT detail FROM events WHERE "
	    "kind = 'downgrade'"), "refused: STARTTLS not offered by server; "
	    "downgrade: ...");
	h_assert_has(q_text("SELECT detail FROM events WHERE "
	    "kind = 'cert-change'"), "public key unchanged");
	assert_int_equal(q_int("SELECT count(*) FROM events e JOIN sessions s "
	    "ON s.id = e.session_row WHERE e.kind = 'injection' AND "
	    "s.result = 'attack'"), 1);

	/* Every field of the record, and the RFC 8460 ones. */
	snprintf(want, sizeof(want), "%llu|%lld|out|outbound|smtp|"
	    "mx.example.net|192.0.2.25|25|127.0.0.1:40000|mx|1|tls|TLS1.3|"
	    "AES-256-GCM|X25519|dane-ee|secure|3 1 1 %064d|100|2000|42||0|0|"
	    "CN=MX.Example.NET.|CN=Test CA|%lld", (unsigned long long)first,
	    (long long)now - 100, 2, (long long)now - 100 + 30 * DAY);
	assert_string_equal(q_text("SELECT session || '|' || time || '|' || "
	    "service || '|' || direction || '|' || protocol || '|' || peer || "
	    "'|' || address || '|' || port || '|' || client || '|' || "
	    "name_source || '|' || starttls_offered || '|' || result || '|' || "
	    "tls_version || '|' || cipher || '|' || \"group\" || '|' || auth "
	    "|| '|' || dnssec || '|' || tlsa || '|' || bytes_in || '|' || "
	    "bytes_out || '|' || duration_ms || '|' || cause || '|' || resumed "
	    "|| '|' || downgrade || '|' || cert_subject || '|' || cert_issuer "
	    "|| '|' || cert_expires FROM sessions ORDER BY id LIMIT 1"), want);
	assert_string_equal(q_text("SELECT group_concat(x, ',') FROM (SELECT "
	    "policy_type || '/' || policy_domain || '/' || "
	    "coalesce(result_type, '-') || '/' || sending_ip AS x FROM "
	    "sessions ORDER BY id)"),
	    "tlsa/example.net/-/192.0.2.1,"
	    "no-policy-found/example.net/starttls-not-supported/192.0.2.1,"
	    "no-policy-found/example.net/-/192.0.2.1,"
	    "no-policy-found/example.net/tlsa-invalid/192.0.2.1,"
	    "no-policy-found/example.net/validation-failure/192.0.2.1");
	posture_close();
	/* A clean stop leaves one file, checkpointed. */
	snprintf(sql, sizeof(sql), "%s-wal", dbpath);
	assert_int_equal(access(dbpath, F_OK), 0);
	assert_int_not_equal(access(sql, F_OK), 0);
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 5);
}

/* A file of schema version 1 is brought forward, its rows kept; one of a
 * newer version is left alone, and the store counts as unusable. */
static void
migration(void **st)
{
	sqlite3 *db;
	char err[256];

	(void)st;
	fast(4, 4, 10, DAY * 1000u);
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_true(posture_migrate(db, 1, err, sizeof(err)));
	assert_int_equal(sqlite3_exec(db, "INSERT INTO sessions (session, "
	    "time, service, direction, protocol, peer, address, port, client, "
	    "name_source, starttls_offered, result, tls_version, cipher, "
	    "\"group\", cert_sha256, spki_sha256, cert_subject, cert_issuer, "
	    "auth, dnssec, tlsa, bytes_in, bytes_out, duration_ms, reason, "
	    "cause, resumed, downgrade) VALUES (7, strftime('%s', 'now'), "
	    "'out', 'outbound', "
	    "'smtp', 'old.example', '192.0.2.9', 25, '', 'config', 1, 'tls', "
	    "'TLS1.2', 'x', 'y', '', '', '', '', 'dane-ee', 'secure', "
	    "'3 1 1 00', 1, 2, 3, '', '', 0, 0)", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(q_int("PRAGMA user_version"), 1);

	open_store("", "");
	submit_n(1);
	assert_true(posture_idle(5000));
	assert_int_equal(q_int("PRAGMA user_version"),
	    POSTURE_SCHEMA_VERSION);
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 2);
	assert_string_equal(q_text("SELECT policy_type || ' ' || "
	    "policy_domain || ' ' || policy_string FROM sessions WHERE "
	    "session = 7"), "tlsa old.example 3 1 1 00");
	assert_int_equal(q_int("SELECT count(*) FROM sqlite_master WHERE "
	    "name = 'sessions_report'"), 1);
	posture_close();

	/* Written by a later tlshim: not ours to change. */
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	log_capture();
	open_store("", "");
	until(posture_broken(), 3000);
	submit_n(6);
	usleep(200 * 1000);
	assert_int_equal(QUEUED, 4);
	assert_int_equal(LOST, 2);
	assert_int_equal(COMMITTED, 0);
	posture_close();
	assert_int_equal(log_count("is newer than this tlshim's"), 1);
	assert_int_equal(q_int("PRAGMA user_version"), 99);
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 2);
	/* What waited at the stop could not be written: lost too. */
	assert_int_equal(LOST, 6);
}

/* A batch is committed when batch_max records wait, or batch_ms after
 * the first one came; posture_close commits the rest. */
static void
batching(void **st)
{
	(void)st;
	fast(256, 10, 60000, DAY * 1000u);
	open_store("", "");
	submit_n(25);
	until(COMMITTED == 20, 5000);
	usleep(300 * 1000);
	assert_int_equal(COMMITTED, 20);
	assert_int_equal(QUEUED, 5);
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 20);
	posture_close();
	assert_int_equal(COMMITTED, 25);
	assert_int_equal(QUEUED, 0);
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 25);

	/* Few records: the time limit commits them. */
	fast(256, 1000, 150, DAY * 1000u);
	open_store("", "");
	submit_n(3);
	usleep(50 * 1000);
	assert_int_equal(COMMITTED, 0);
	until(COMMITTED == 3, 3000);
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 28);
	assert_int_equal(q_int("SELECT sessions FROM peers"), 28);
}

/* No state_dir: records wait up to queue_max, the rest are lost and
 * counted; the store says so once, and recovers once the folder is
 * there. */
static void
queue_overflow(void **st)
{
	(void)st;
	rmdir(state);
	fast(8, 4, 10, DAY * 1000u);
	log_capture();
	open_store("", "");
	until(posture_broken(), 3000);
	submit_n(20);
	assert_int_equal(QUEUED, 8);
	assert_int_equal(LOST, 12);
	assert_int_equal(COMMITTED, 0);
	usleep(300 * 1000);		/* about ten retries */
	assert_true(posture_broken());
	assert_int_equal(mkdir(state, 0700), 0);
	until(COMMITTED == 8, 3000);
	assert_false(posture_broken());
	submit_n(2);
	assert_true(posture_idle(3000));
	assert_int_equal(COMMITTED, 10);
	assert_int_equal(LOST, 12);
	posture_close();
	assert_int_equal(log_count("unusable"), 1);
	assert_int_equal(log_count("usable again"), 1);
	/* Twelve records lost, one line about it. */
	assert_int_equal(log_count("queue full"), 1);
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 10);
}

/* ro_scenario - in a child that cannot write what it does not own (not
 * root): a read-only state_dir, for a new store and then for an existing
 * one; 0 or the line that failed */
#define CHECK(c)	do { if (!(c)) return __LINE__; } while (0)
static int
ro_scenario(void)
{
	int n;

	CHECK(chmod(state, 0500) == 0);
	open_store("", "");
	for (n = 0; n < 300 && !posture_broken(); n++)
		usleep(10000);
	CHECK(posture_broken());
	submit_n(3);
	usleep(100 * 1000);
	CHECK(QUEUED == 3 && COMMITTED == 0);
	CHECK(chmod(state, 0700) == 0);
	CHECK(posture_idle(3000));
	CHECK(COMMITTED == 3 && !posture_broken());
	posture_close();

	/* The file exists; the folder (and the file) turn read-only. */
	CHECK(chmod(dbpath, 0400) == 0 && chmod(state, 0500) == 0);
	open_store("", "");
	for (n = 0; n < 300 && !posture_broken(); n++)
		usleep(10000);
	CHECK(posture_broken());
	submit_n(2);
	usleep(100 * 1000);
	CHECK(COMMITTED == 0 && QUEUED == 2);
	CHECK(chmod(state, 0700) == 0 && chmod(dbpath, 0600) == 0);
	CHECK(posture_idle(3000));
	CHECK(COMMITTED == 2 && LOST == 0);
	posture_close();
	return 0;
}
#undef CHECK

static void
read_only_state_dir(void **st)
{
	int status;
	pid_t pid;

	(void)st;
	fast(16, 4, 10, DAY * 1000u);
	/* Root writes anywhere: the child becomes nobody, who owns the
	 * folder. */
	if (geteuid() == 0)
		assert_int_equal(chown(dir, 65534, 65534) |
		    chown(state, 65534, 65534), 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (geteuid() == 0 && (setgid(65534) != 0 ||
		    setuid(65534) != 0))
			_exit(1);
		_exit(ro_scenario());
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("read-only scenario failed at line %d",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 5);
}

/* A file that is not a database: unusable until it is moved away. */
static void
corrupt_file(void **st)
{
	char junk[300];
	FILE *f;

	(void)st;
	f = fopen(dbpath, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database, it is junk. ", f);
	fclose(f);
	fast(4, 4, 10, DAY * 1000u);
	log_capture();
	open_store("", "");
	until(posture_broken(), 3000);
	submit_n(6);
	usleep(200 * 1000);
	assert_int_equal(QUEUED, 4);
	assert_int_equal(LOST, 2);
	assert_true(posture_broken());
	snprintf(junk, sizeof(junk), "%s.junk", dbpath);
	assert_int_equal(rename(dbpath, junk), 0);
	until(COMMITTED == 4, 3000);
	assert_false(posture_broken());
	posture_close();
	assert_int_equal(log_count("not a database"), 1);
	assert_int_equal(log_count("usable again"), 1);
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 4);
}

/* Sessions older than posture_retention go, at start and then on each
 * pass; each peer keeps its last session, and every event stays. */
static void
retention(void **st)
{
	time_t now = time(NULL);
	struct outcome o;

	(void)st;
	fast(64, 16, 10, DAY * 1000u);
	open_store("pin = yes\n", "posture_retention = 1d\n");
	o = rec("a.example", 25, RES_TLS, now - 5 * DAY);
	posture_submit(&o);
	o = rec("a.example", 25, RES_REFUSED, now - 3 * DAY);
	o.downgrade = true;
	o.cause = CAUSE_PINNED;
	posture_submit(&o);
	o = rec("a.example", 25, RES_TLS, now);
	posture_submit(&o);
	o = rec("b.example", 25, RES_TLS, now - 4 * DAY);
	posture_submit(&o);
	assert_true(posture_idle(3000));
	assert_int_equal(q_int("SELECT count(*) FROM sessions"), 4);
	posture_close();

	/* At start. */
	fast(64, 16, 10, 200);
	open_store("pin = yes\n", "posture_retention = 1d\n");
	until(q_int("SELECT count(*) FROM sessions") == 2, 3000);
	assert_int_equal(q_int("SELECT count(*) FROM sessions WHERE "
	    "peer = 'b.example'"), 1);
	assert_int_equal(q_int("SELECT time FROM sessions WHERE "
	    "peer = 'a.example'"), now);
	assert_int_equal(q_int("SELECT sum(sessions) FROM peers"), 4);
	assert_int_equal(q_int("SELECT count(*) FROM events"), 1);

	/* While running: once b.example has a newer session, its old ones
	 * go at the next pass. */
	o = rec("b.example", 25, RES_TLS, now - 2 * DAY);
	posture_submit(&o);
	o = rec("b.example", 25, RES_TLS, now);
	posture_submit(&o);
	assert_true(posture_idle(3000));
	until(q_int("SELECT count(*) FROM sessions") == 2 &&
	    q_int("SELECT min(time) FROM sessions") == now, 3000);
	assert_int_equal(q_int("SELECT sum(sessions) FROM peers"), 6);
}

/* A reload: the new pin_max_age sets the next pins, the new retention
 * the next pass; the store stays where it was until a restart. */
static void
reload(void **st)
{
	time_t now = time(NULL);
	struct outcome o;
	char keep[sizeof(state)];

	(void)st;
	fast(64, 16, 10, 200);
	open_store("pin = yes\n", "");
	o = rec("r.example", 25, RES_TLS, now - 3 * DAY);
	posture_submit(&o);
	assert_true(posture_idle(3000));
	assert_int_equal(q_int("SELECT pinned_until FROM peers"),
	    now - 3 * DAY + 30 * DAY);

	snprintf(keep, sizeof(keep), "%s", state);
	snprintf(state, sizeof(state), "%s/elsewhere", dir);
	open_store("pin = yes\npin_max_age = 5d\n",
	    "posture_retention = 1d\n");
	snprintf(state, sizeof(state), "%s", keep);
	o = rec("r.example", 25, RES_TLS, now);
	posture_submit(&o);
	assert_true(posture_idle(3000));
	assert_int_equal(q_int("SELECT pinned_until FROM peers"),
	    now + 5 * DAY);
	/* The older session goes at the next pass, under the new
	 * retention; nothing went to the new folder. */
	until(q_int("SELECT count(*) FROM sessions") == 1, 3000);
	snprintf(keep, sizeof(keep), "%s/elsewhere", dir);
	assert_int_not_equal(access(keep, F_OK), 0);
	assert_int_equal(COMMITTED, 2);
}

/* full_tlsa - a DANE-authenticated record of peer whose TLSA RRset has
 * a digest and a whole certificate (3 0 0, matching type 0, 1200 bytes):
 * tlsa cuts the certificate short as on_tlsa does, policy_tlsa holds both
 * in full, and want (wantlen >= 2600) what the policy string must be,
 * written here without outcome_add_tlsa.  The server greeted as peer. */
static struct outcome
full_tlsa(const char *peer, time_t start, char *want, size_t wantlen)
{
	struct outcome o = rec(peer, 25, RES_TLS, start);
	uint8_t cert[1200], digest[32];
	size_t n;

	for (size_t i = 0; i < sizeof(cert); i++)
		cert[i] = (uint8_t)(i * 7 + 1);
	memset(digest, 0xab, sizeof(digest));
	snprintf(o.dnssec, sizeof(o.dnssec), "secure");
	o.auth = AUTH_DANE_EE;
	snprintf(o.tlsa, sizeof(o.tlsa), "3 1 1 %064d, 3 0 0 01080f...", 0);
	assert_true(outcome_add_tlsa(&o, 3, 1, 1, digest, sizeof(digest)));
	assert_true(outcome_add_tlsa(&o, 3, 0, 0, cert, sizeof(cert)));
	snprintf(want, wantlen, "%s ESMTP ready", peer);
	assert_true(outcome_set_helo(&o, want, strlen(want)));
	n = (size_t)snprintf(want, wantlen, "3 1 1 ");
	for (size_t i = 0; i < sizeof(digest); i++)
		n += (size_t)snprintf(want + n, wantlen - n, "%02x",
		    digest[i]);
	n += (size_t)snprintf(want + n, wantlen - n, ", 3 0 0 ");
	for (size_t i = 0; i < sizeof(cert); i++)
		n += (size_t)snprintf(want + n, wantlen - n, "%02x", cert[i]);
	assert_true(n < wantlen);
	return o;
}

/* The TLSRPT policy string is the TLSA RRset as published, however long
 * (RFC 8460 4.3): a whole certificate is kept whole there, while the tlsa
 * column keeps the short form people read.  A record without the full
 * text (written before it existed) falls back to tlsa. */
static void
policy_string_in_full(void **st)
{
	time_t now = time(NULL);
	struct outcome o;
	char want[4096], sql[256];
	uint64_t id;

	(void)st;
	fast(64, 16, 10, DAY * 1000u);
	open_store("", "");
	o = full_tlsa("mx.example.net", now, want, sizeof(want));
	assert_string_equal(o.policy_tlsa, want);
	assert_true(strlen(want) > sizeof(o.tlsa));
	assert_string_equal(o.helo, "mx.example.net");
	id = o.session;
	posture_submit(&o);
	/* The store has them now; the session's record no longer does. */
	assert_null(o.policy_tlsa);
	assert_null(o.helo);
	o = rec("mx2.example.net", 25, RES_TLS, now);
	snprintf(o.dnssec, sizeof(o.dnssec), "secure");
	snprintf(o.tlsa, sizeof(o.tlsa), "3 1 1 %064d", 5);
	o.auth = AUTH_DANE_EE;
	posture_submit(&o);
	assert_true(posture_idle(5000));
	assert_int_equal(COMMITTED, 2);

	snprintf(sql, sizeof(sql), "SELECT policy_string FROM sessions "
	    "WHERE session = %llu", (unsigned long long)id);
	assert_string_equal(q_text(sql), want);
	snprintf(sql, sizeof(sql), "SELECT policy_type || '|' || tlsa FROM "
	    "sessions WHERE session = %llu", (unsigned long long)id);
	snprintf(want, sizeof(want), "tlsa|3 1 1 %064d, 3 0 0 01080f...", 0);
	assert_string_equal(q_text(sql), want);
	snprintf(want, sizeof(want), "3 1 1 %064d", 5);
	assert_string_equal(q_text("SELECT policy_string FROM sessions WHERE "
	    "peer = 'mx2.example.net'"), want);
	/* The server's name from its greeting; unknown: NULL. */
	assert_string_equal(q_text("SELECT group_concat(coalesce("
	    "receiving_helo, '-'), ',') FROM (SELECT receiving_helo FROM "
	    "sessions ORDER BY id)"), "mx.example.net,-");

	/* Built one record at a time, as on_tlsa does: ", " between them,
	 * lower-case hex, nothing after a record without data. */
	memset(&o, 0, sizeof(o));
	assert_true(outcome_add_tlsa(&o, 2, 0, 1, (const uint8_t *)"\x0f\xA0",
	    2));
	assert_true(outcome_add_tlsa(&o, 3, 1, 0, NULL, 0));
	assert_string_equal(o.policy_tlsa, "2 0 1 0fa0, 3 1 0");
	outcome_clear_tlsa(&o);
	assert_null(o.policy_tlsa);

	/* The name is the greeting's first word, when it looks like one:
	 * never cut short, never with control bytes. */
	assert_true(outcome_set_helo(&o, "mx.example.org", 14));
	assert_string_equal(o.helo, "mx.example.org");
	assert_true(outcome_set_helo(&o, "[192.0.2.1] hi", 14));
	assert_string_equal(o.helo, "[192.0.2.1]");
	assert_true(outcome_set_helo(&o, "mx.example.org ESMTP", 6));
	assert_string_equal(o.helo, "mx.exa");	/* only len bytes */
	assert_true(outcome_set_helo(&o, " ESMTP", 6));
	assert_null(o.helo);
	assert_true(outcome_set_helo(&o, "", 0));
	assert_null(o.helo);
	assert_true(outcome_set_helo(&o, "mx\x01.example", 12));
	assert_null(o.helo);
	memset(want, 'a', 300);
	assert_true(outcome_set_helo(&o, want, 255));
	assert_int_equal(strlen(o.helo), 255);
	assert_true(outcome_set_helo(&o, want, 256));
	assert_null(o.helo);
	assert_true(outcome_set_helo(&o, "mx.example.org", 14));
	assert_true(outcome_set_helo(&o, NULL, 0));
	assert_null(o.helo);
	assert_true(outcome_set_helo(&o, "mx.example.org", 14));
	assert_true(outcome_add_tlsa(&o, 3, 1, 1, (const uint8_t *)"x", 1));
	outcome_release(&o);
	assert_null(o.policy_tlsa);
	assert_null(o.helo);
	outcome_release(&o);		/* twice is harmless */
}

/* Records that own their full TLSA text (and the server's name) and are
 * never written: lost to a full queue, given up at a stop while the store
 * is unusable (from the queue and from the writer's batch), or submitted
 * after the stop.  The submitter's pointers are NULL at once, and each
 * string is freed exactly once: the sanitizer build
 * (--enable-sanitizers) fails this program on a leak or a double free. */
static void
dropped_records_freed(void **st)
{
	struct outcome o;
	char want[4096];

	(void)st;
	rmdir(state);
	fast(8, 4, 10, DAY * 1000u);
	log_capture();
	open_store("", "");
	until(posture_broken(), 3000);
	for (int i = 0; i < 11; i++) {
		o = full_tlsa("mx.example.net", time(NULL), want, sizeof(want));
		posture_submit(&o);
		assert_null(o.policy_tlsa);
		assert_null(o.helo);
	}
	assert_int_equal(QUEUED, 8);
	assert_int_equal(LOST, 3);
	/* Still unusable at the stop: the writer takes a batch of four and
	 * gives it up with the four left in the queue. */
	posture_close();
	assert_int_equal(LOST, 11);
	assert_int_equal(QUEUED, 0);
	o = full_tlsa("mx.example.net", time(NULL), want, sizeof(want));
	posture_submit(&o);
	assert_null(o.policy_tlsa);
	assert_int_equal(log_count("queue full"), 1);

	/* And once the store works, a batch that was committed frees its
	 * records' texts too. */
	assert_int_equal(mkdir(state, 0700), 0);
	open_store("", "");
	for (int i = 0; i < 6; i++) {
		o = full_tlsa("mx.example.net", time(NULL), want, sizeof(want));
		posture_submit(&o);
	}
	assert_true(posture_idle(5000));
	assert_int_equal(COMMITTED, 6);
	assert_int_equal(q_int("SELECT count(*) FROM sessions WHERE "
	    "length(policy_string) > 2000"), 6);
	posture_close();
}

/* ------------------------------------------------------------ pins */

static void
pin_table(void **st)
{
	struct conf_service svc;
	struct outcome o;
	time_t now = time(NULL);
	char name[32];

	(void)st;
	memset(&svc, 0, sizeof(svc));
	svc.pin = PIN_YES;
	svc.level = LEV_MAY;
	svc.pin_max_age = 30 * DAY;
	posture_pin_note("mx.example.net", 25, "smtp", now - 10);
	posture_pin_note("old.example", 25, "smtp", now - 31 * DAY);

	o = rec("MX.Example.Net.", 25, RES_NONE, now);
	assert_true(posture_check_downgrade(&o, &svc));
	assert_true(o.downgrade);
	h_assert_has(o.reason, "downgrade: MX.Example.Net. port 25 was seen "
	    "with TLS and is pinned until ");
	assert_int_equal(posture_pinned_until("mx.example.net", 25, "smtp",
	    30 * DAY), now - 10 + 30 * DAY);

	svc.pin = PIN_REPORT_ONLY;
	o = rec("mx.example.net", 25, RES_NONE, now);
	assert_false(posture_check_downgrade(&o, &svc));
	assert_true(o.downgrade);
	h_assert_has(o.reason, "(pin = report-only: relayed)");

	svc.pin = PIN_NO;
	o = rec("mx.example.net", 25, RES_NONE, now);
	assert_false(posture_check_downgrade(&o, &svc));
	assert_false(o.downgrade);
	assert_string_equal(o.reason, "");

	/* security = none asked for plaintext. */
	svc.pin = PIN_YES;
	svc.level = LEV_NONE;
	assert_false(posture_check_downgrade(&o, &svc));
	assert_false(o.downgrade);
	svc.level = LEV_MAY;

	/* Another port or protocol is another peer. */
	o = rec("mx.example.net", 587, RES_NONE, now);
	assert_false(posture_check_downgrade(&o, &svc));
	o = rec("mx.example.net", 25, RES_NONE, now);
	snprintf(o.protocol, sizeof(o.protocol), "submission");
	assert_false(posture_check_downgrade(&o, &svc));

	/* An expired pin holds no more; a longer pin_max_age revives it. */
	o = rec("old.example", 25, RES_NONE, now);
	assert_false(posture_check_downgrade(&o, &svc));
	svc.pin_max_age = 60 * DAY;
	assert_true(posture_check_downgrade(&o, &svc));

	/* Bounded: the pin seen with TLS longest ago goes first. */
	posture_pin_clear();
	for (int i = 0; i < POSTURE_PIN_MAX; i++) {
		snprintf(name, sizeof(name), "p%d.example", i);
		posture_pin_note(name, 25, "smtp", now - DAY + i);
	}
	assert_int_equal(posture_pin_count(), POSTURE_PIN_MAX);
	posture_pin_note("p0.example", 25, "smtp", now);	/* refreshed */
	posture_pin_note("new.example", 25, "smtp", now);
	assert_int_equal(posture_pin_count(), POSTURE_PIN_MAX);
	assert_int_not_equal(posture_pinned_until("p0.example", 25, "smtp",
	    DAY), 0);
	assert_int_equal(posture_pinned_until("p1.example", 25, "smtp", DAY),
	    0);
	assert_int_not_equal(posture_pinned_until("new.example", 25, "smtp",
	    DAY), 0);
	posture_pin_clear();
	assert_int_equal(posture_pin_count(), 0);
}

/* Pins come from TLS and from secure TLSA records, at once, and come
 * back from the store after a restart. */
static void
pins_survive_restart(void **st)
{
	time_t now = time(NULL);
	struct outcome o;

	(void)st;
	fast(64, 16, 10, DAY * 1000u);
	open_store("pin = yes\n", "");
	o = rec("tls.example", 25, RES_TLS, now);
	posture_submit(&o);
	/* The handshake failed, but the TLSA records promise TLS. */
	o = rec("tlsa.example", 25, RES_FAILED, now);
	snprintf(o.dnssec, sizeof(o.dnssec), "secure");
	snprintf(o.tlsa, sizeof(o.tlsa), "3 1 1 %064d", 2);
	posture_submit(&o);
	/* Plaintext and insecure TLSA pin nothing. */
	o = rec("plain.example", 25, RES_PLAINTEXT, now);
	posture_submit(&o);
	o = rec("insecure.example", 25, RES_FAILED, now);
	snprintf(o.dnssec, sizeof(o.dnssec), "insecure");
	snprintf(o.tlsa, sizeof(o.tlsa), "3 1 1 %064d", 2);
	posture_submit(&o);
	assert_int_not_equal(posture_pinned_until("tls.example", 25, "smtp",
	    DAY), 0);
	assert_int_not_equal(posture_pinned_until("tlsa.example", 25, "smtp",
	    DAY), 0);
	assert_int_equal(posture_pinned_until("plain.example", 25, "smtp",
	    DAY), 0);
	assert_int_equal(posture_pinned_until("insecure.example", 25, "smtp",
	    DAY), 0);
	assert_true(posture_idle(3000));
	posture_close();
	assert_int_equal(posture_pin_count(), 0);

	open_store("pin = yes\n", "");
	until(posture_pin_count() == 2, 3000);
	assert_int_equal(posture_pinned_until("tls.example", 25, "smtp",
	    DAY), now + DAY);
	assert_int_equal(posture_pinned_until("tlsa.example", 25, "smtp",
	    DAY), now + DAY);
}

/* --------------------------------------------- through the session core */

#define GREET		P_SEND("220 mx.test ESMTP ready\r\n")
#define EHLO_SHIM	P_EXPECT("EHLO shim.test\r\n")
#define OFFER_TLS	P_SEND("250-mx.test\r\n250 STARTTLS\r\n")
#define NO_OFFER	P_SEND("250-mx.test\r\n250 SIZE 10240000\r\n")
#define ALERT		"\x15\x03\x03\x00\x02\x02\x28"

/* pinned_peer - a pin on the harness's upstream, 127.0.0.1:port */
static void
pinned_peer(struct harness *h)
{
	int port = h_free_port();

	h_use_peer_port(h, port);
	posture_pin_clear();
	posture_pin_note("127.0.0.1", (uint16_t)port, "smtp", time(NULL));
}

/* A pinned peer without STARTTLS: 421, refused, downgrade, recorded. */
static void
stripped_starttls_refused(void **st)
{
	struct harness *h = *st;
	static const struct h_step script[] = {
		GREET, EHLO_SHIM, NO_OFFER, P_EXPECT("QUIT\r\n"), P_END
	};
	const struct outcome *o;
	const char *got;

	pinned_peer(h);
	fast(16, 4, 10, DAY * 1000u);
	open_store("pin = yes\n", "");
	h_start(h, "security = may\npin = yes\n", script);
	h_connect(h);
	got = h_read_all(h, WAIT, NULL);
	h_assert_prefix(got, "421 4.7.0 ");
	o = h_outcome(h, WAIT);
	h_assert_result(o, RES_REFUSED);
	assert_int_equal(o->cause, CAUSE_PINNED);
	assert_true(o->downgrade);
	h_assert_has(o->reason, "STARTTLS not offered");
	h_assert_has(o->reason, "is pinned until");
	h_assert_has(got, "pin = yes");
	/* The name the server greeted with, for receiving-mx-helo. */
	assert_non_null(o->helo);
	assert_string_equal(o->helo, "mx.test");
	h_assert_peer_ok(h);
	h_stop(h);
	assert_true(posture_idle(3000));
	assert_string_equal(q_text("SELECT result || ' ' || downgrade || ' ' "
	    "|| cause || ' ' || result_type || ' ' || receiving_helo FROM "
	    "sessions"), "refused 1 pinned starttls-not-supported mx.test");
	assert_string_equal(q_text("SELECT kind FROM events"), "downgrade");
}

/* report-only: relayed in plaintext as before, marked and recorded. */
static void
stripped_starttls_report_only(void **st)
{
	struct harness *h = *st;
	static const struct h_step script[] = {
		GREET, EHLO_SHIM, NO_OFFER,
		P_EXPECT("EHLO client.test\r\n"), P_SEND("250 mx.test\r\n"),
		P_EXPECT("QUIT\r\n"), P_SEND("221 2.0.0 Bye\r\n"), P_CLOSE(),
		P_END
	};
	const struct outcome *o;

	pinned_peer(h);
	fast(16, 4, 10, DAY * 1000u);
	open_store("pin = report-only\n", "");
	h_start(h, "security = may\npin = report-only\n", script);
	h_connect(h);
	h_expect(h, "220 shim.test ESMTP");
	h_send(h, "EHLO client.test\r\n");
	h_expect(h, "250 mx.test");
	h_send(h, "QUIT\r\n");
	h_expect(h, "221 ");
	assert_true(h_eof(h, WAIT));
	h_close(h);
	o = h_outcome(h, WAIT);
	h_assert_result(o, RES_PLAINTEXT);
	assert_true(o->downgrade);
	h_assert_has(o->reason, "pin = report-only: relayed");
	h_assert_peer_ok(h);
	h_stop(h);
	assert_true(posture_idle(3000));
	h_assert_has(q_text("SELECT detail FROM events WHERE "
	    "kind = 'downgrade'"), "relayed (pin = report-only)");
}

/* A failed handshake with a pinned peer: no plaintext retry. */
static void
failed_handshake_refused(void **st)
{
	struct harness *h = *st;
	static const struct h_step script[] = {
		GREET, EHLO_SHIM, OFFER_TLS, P_EXPECT("STARTTLS\r\n"),
		P_SEND("220 2.0.0 Ready to start TLS\r\n"), P_WAIT_DATA(),
		P_SEND(ALERT), P_DRAIN(), P_END
	};
	const struct outcome *o;

	pinned_peer(h);
	h_start(h, "security = may\npin = yes\n", script);
	h_connect(h);
	h_assert_prefix(h_read_all(h, WAIT, NULL), "421 4.7.0 ");
	o = h_outcome(h, WAIT);
	h_assert_result(o, RES_REFUSED);
	assert_int_equal(o->cause, CAUSE_PINNED);
	assert_true(o->downgrade);
	h_assert_has(o->reason, "TLS handshake failed");
	h_assert_peer_ok(h);
	assert_int_equal(h_peer_nconn(h), 1);
}

/* pin = yes, but never seen with TLS: plaintext as may says. */
static void
unpinned_peer_relays(void **st)
{
	struct harness *h = *st;
	static const struct h_step script[] = {
		GREET, EHLO_SHIM, NO_OFFER,
		P_EXPECT("EHLO client.test\r\n"), P_SEND("250 mx.test\r\n"),
		P_EXPECT("QUIT\r\n"), P_SEND("221 2.0.0 Bye\r\n"), P_CLOSE(),
		P_END
	};
	const struct outcome *o;

	posture_pin_clear();
	h_start(h, "security = may\npin = yes\n", script);
	h_connect(h);
	h_expect(h, "220 shim.test ESMTP");
	h_send(h, "EHLO client.test\r\n");
	h_expect(h, "250 mx.test");
	h_send(h, "QUIT\r\n");
	h_expect(h, "221 ");
	assert_true(h_eof(h, WAIT));
	h_close(h);
	o = h_outcome(h, WAIT);
	h_assert_result(o, RES_PLAINTEXT);
	assert_false(o->downgrade);
	h_assert_peer_ok(h);
}

/* The harness fixture and the folder, together. */
static int
both_setup(void **st)
{
	return tmp_setup(st) != 0 ? -1 : h_setup(st);
}

static int
both_teardown(void **st)
{
	int rc = h_teardown(st);

	return tmp_teardown(st) != 0 ? -1 : rc;
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)
#define H(f)	cmocka_unit_test_setup_teardown(f, both_setup, both_teardown)
	const struct CMUnitTest tests[] = {
		T(records_peers_events),
		T(migration),
		T(batching),
		T(queue_overflow),
		T(read_only_state_dir),
		T(corrupt_file),
		T(retention),
		T(reload),
		T(policy_string_in_full),
		T(dropped_records_freed),
		T(pin_table),
		T(pins_survive_restart),
		H(stripped_starttls_refused),
		H(stripped_starttls_report_only),
		H(failed_handshake_refused),
		H(unpinned_peer_relays),
	};
#undef T
#undef H
	int rc;

	h_main_init();
	rc = cmocka_run_group_tests_name("posture", tests, NULL, NULL);
	h_main_done();
	return rc;
}
