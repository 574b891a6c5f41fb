/*
 * test_report.c - `tlshim report tlsrpt` (tool/report.c, tool/tlsrpt.c)
 * and the RFC 8460 fields the posture store writes for it
 * (shim/posture_schema.c).
 *
 * Session records go through the store's own API (posture_open,
 * posture_submit) into a temporary store, as tlshimd's sessions do; the
 * report is then built by the tool's code from that file.  What must
 * hold: successes and failures are counted per policy domain, policy
 * (the same TLSA RRset in another order is the same policy) and failure
 * entry; only outbound SMTP sessions of the day count, the day being
 * [00:00:00, 24:00:00) UTC; failures that are not about TLS and services
 * at security = none are left out; a plaintext relay where TLS was
 * wanted is a failure; what is not known is left out, not made up; the
 * JSON is well-formed whatever the strings hold; and the command's forms
 * and exit statuses.  Last, the store's migration from schema version 2.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "shim/conf.h"
#include "shim/posture.h"
#include "shim/posture_int.h"
#include "shim/result.h"
#include "shim/sbuf.h"
#include "tool/tlsrpt.h"
#include "tool/tool.h"

#define DAY	86400

static char dir[256];		/* the test folder */
static char confpath[320];
static char dbpath[320];
static char host[256];		/* gethostname(), the default org */
static time_t D;		/* the reported day: yesterday, 00:00 UTC */

/* The services the records belong to; the store looks up the level and
 * the policy domain by service name. */
static const char services[] =
	"[out-dane]\nprotocol = smtp\nlisten = 127.0.0.1:10025\n"
	"upstream = mx:Example.NET\nsecurity = dane\n"
	"[out-may]\nprotocol = smtp\nlisten = 127.0.0.1:10026\n"
	"upstream = mx:example.net\nsecurity = may\n"
	"[out-verify]\nprotocol = smtp\nlisten = 127.0.0.1:10027\n"
	"upstream = smarthost.example.org:25\nsecurity = verify\n"
	"[out-none]\nprotocol = smtp\nlisten = 127.0.0.1:10028\n"
	"upstream = mx:none.example\nsecurity = none\n"
	"[out-odd]\nprotocol = smtp\nlisten = 127.0.0.1:10029\n"
	"upstream = odd.example:25\nsecurity = may\n"
	"[sub]\nprotocol = submission\nlisten = 127.0.0.1:10587\n"
	"upstream = msa.example.net:587\nsecurity = may\n";

/* ------------------------------------------------------------ helpers */

/* rec - a record of service svc to peer, as a session would end it */
static struct outcome
rec(const char *svc, const char *peer, enum result r, time_t start)
{
	static uint64_t id = 0x100;
	struct outcome o;

	memset(&o, 0, sizeof(o));
	o.session = ++id;
	o.start = start;
	snprintf(o.service, sizeof(o.service), "%s", svc);
	snprintf(o.direction, sizeof(o.direction), "outbound");
	snprintf(o.protocol, sizeof(o.protocol), "%s",
	    strcmp(svc, "sub") == 0 ? "submission" : "smtp");
	snprintf(o.peer, sizeof(o.peer), "%s", peer);
	snprintf(o.addr, sizeof(o.addr), "192.0.2.25");
	snprintf(o.local, sizeof(o.local), "198.51.100.1");
	snprintf(o.client, sizeof(o.client), "127.0.0.1:40000");
	snprintf(o.name_source, sizeof(o.name_source), "mx");
	o.port = 25;
	o.result = r;
	o.starttls_offered = r == RES_TLS;
	if (r == RES_TLS) {
		snprintf(o.tls_version, sizeof(o.tls_version), "TLS1.3");
		o.auth = AUTH_UNTRUSTED;
	}
	return o;
}

/* dane - o checked against secure TLSA records */
static struct outcome
dane(struct outcome o, const char *tlsa, enum auth a)
{
	snprintf(o.dnssec, sizeof(o.dnssec), "secure");
	snprintf(o.tlsa, sizeof(o.tlsa), "%s", tlsa);
	if (o.result == RES_TLS)
		o.auth = a;
	return o;
}

/* failed - o refused or failed for cause, before connecting when addr is
 * false */
static struct outcome
failed(struct outcome o, enum cause c, bool addr)
{
	o.cause = c;
	snprintf(o.reason, sizeof(o.reason), "%s", cause_name(c));
	if (!addr)
		o.addr[0] = o.local[0] = '\0';
	return o;
}

static void
submit(struct outcome o)
{
	posture_submit(&o);
}

/* write_file - text into path */
static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The output of one tool_report() run. */
static char out[65536];
static char errout[4096];

/* report - run `tlshim report ARGS...` (NULL-terminated), capturing its
 * stdout and stderr; its exit status */
static int
report(const char *first, ...)
{
	char *argv[32], path[400];
	int argc = 0, rc, fd1, fd2, fd;
	va_list ap;
	FILE *f;
	size_t n;

	argv[argc++] = (char *)"report";
	va_start(ap, first);
	for (const char *a = first; a != NULL && argc < 31;
	    a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	fd1 = dup(1);
	fd2 = dup(2);
	snprintf(path, sizeof(path), "%s/stdout", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	dup2(fd, 1);
	close(fd);
	snprintf(path, sizeof(path), "%s/stderr", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	dup2(fd, 2);
	close(fd);
	rc = tool_report(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(fd1, 1);
	dup2(fd2, 2);
	close(fd1);
	close(fd2);

	snprintf(path, sizeof(path), "%s/stdout", dir);
	assert_non_null(f = fopen(path, "r"));
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	snprintf(path, sizeof(path), "%s/stderr", dir);
	assert_non_null(f = fopen(path, "r"));
	n = fread(errout, 1, sizeof(errout) - 1, f);
	errout[n] = '\0';
	fclose(f);
	return rc;
}

/* A small JSON reader, only to say whether text is one well-formed JSON
 * value (RFC 8259): what matters here is that no string from a record or
 * an option can break out of its quotes. */
static bool json_value(const char **);

static void
json_ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

static bool
json_string(const char **p)
{
	if (*(*p)++ != '"')
		return false;
	for (;;) {
		unsigned char c = (unsigned char)*(*p)++;

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;	/* raw control character, or the end */
		if (c != '\\')
			continue;
		c = (unsigned char)*(*p)++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++, (*p)++)
				if (strchr("0123456789abcdefABCDEF", **p) ==
				    NULL || **p == '\0')
					return false;
		} else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
			return false;
	}
}

static bool
json_members(const char **p, char close, bool object)
{
	json_ws(p);
	if (**p == close) {
		(*p)++;
		return true;
	}
	for (;;) {
		json_ws(p);
		if (object) {
			if (!json_string(p))
				return false;
			json_ws(p);
			if (*(*p)++ != ':')
				return false;
		}
		if (!json_value(p))
			return false;
		json_ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		if (*(*p)++ != ',')
			return false;
	}
}

static bool
json_value(const char **p)
{
	json_ws(p);
	switch (**p) {
	case '{':
		(*p)++;
		return json_members(p, '}', true);
	case '[':
		(*p)++;
		return json_members(p, ']', false);
	case '"':
		return json_string(p);
	default:
		if (strncmp(*p, "true", 4) == 0 ||
		    strncmp(*p, "null", 4) == 0) {
			*p += 4;
			return true;
		}
		if (strncmp(*p, "false", 5) == 0) {
			*p += 5;
			return true;
		}
		if (**p == '-' || (**p >= '0' && **p <= '9')) {
			(*p)++;
			while (**p >= '0' && **p <= '9')
				(*p)++;
			return true;
		}
		return false;
	}
}

/* starts, ends - s begins or ends with t */
static bool
starts(const char *s, const char *t)
{
	return strncmp(s, t, strlen(t)) == 0;
}

static bool
ends(const char *s, const char *t)
{
	return strlen(s) >= strlen(t) && strcmp(s + strlen(s) - strlen(t),
	    t) == 0;
}

/* json_ok - text is exactly one JSON value (and white space) */
static bool
json_ok(const char *text)
{
	const char *p = text;

	if (!json_value(&p))
		return false;
	json_ws(&p);
	return *p == '\0';
}

/* load - the report of day from the test store */
static void
load(time_t day, const char *domain, struct tlsrpt *r)
{
	sqlite3 *db;
	char err[256];

	assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	if (!tlsrpt_load(db, day, domain, r, err, sizeof(err)))
		fail_msg("tlsrpt_load: %s", err);
	sqlite3_close(db);
}

static const struct tlsrpt_domain *
find_domain(const struct tlsrpt *r, const char *name)
{
	for (size_t i = 0; i < r->ndom; i++)
		if (strcmp(r->dom[i].name, name) == 0)
			return &r->dom[i];
	fail_msg("no report for %s", name);
	return NULL;
}

/* failure_is - entry e says this */
static void
failure_is(const struct tlsrpt_failure *e, const char *type,
    const char *mx, const char *rip, const char *sip, const char *code,
    uint64_t n)
{
	assert_string_equal(e->result_type, type);
	if (mx == NULL)
		assert_null(e->mx_host);
	else
		assert_string_equal(e->mx_host, mx);
	if (rip == NULL)
		assert_null(e->receiving_ip);
	else
		assert_string_equal(e->receiving_ip, rip);
	if (sip == NULL)
		assert_null(e->sending_ip);
	else
		assert_string_equal(e->sending_ip, sip);
	if (code == NULL)
		assert_null(e->reason_code);
	else
		assert_string_equal(e->reason_code, code);
	assert_null(e->helo);
	assert_int_equal(e->count, n);
}

/* ------------------------------------------------------------ fixture */

#define TLSA_A		"3 1 1 aaaa"
#define TLSA_B		"2 0 1 bbbb"

/* Matching type 0: a whole key and a whole certificate, far more than the
 * 512 bytes of the record's short tlsa text.  FULL_KEY and FULL_CERT are
 * their lengths in bytes, full() their data. */
#define FULL_DAY	(D - 3 * DAY)
#define FULL_KEY	600
#define FULL_CERT	1100

static uint8_t
full(size_t i, unsigned salt)
{
	return (uint8_t)(i * 13 + salt);
}

/* full_text - the presentation form of one of them, as the report must
 * give it */
static void
full_text(char *buf, size_t len, const char *usm, size_t n, unsigned salt)
{
	size_t w = (size_t)snprintf(buf, len, "%s ", usm);

	for (size_t i = 0; i < n && w + 3 <= len; i++)
		w += (size_t)snprintf(buf + w, len - w, "%02x", full(i, salt));
}

/* dane_full - o checked against both, in that order or (swap) the other,
 * the record built as on_tlsa builds it */
static struct outcome
dane_full(struct outcome o, bool swap)
{
	uint8_t key[FULL_KEY], cert[FULL_CERT];

	for (size_t i = 0; i < FULL_KEY; i++)
		key[i] = full(i, 1);
	for (size_t i = 0; i < FULL_CERT; i++)
		cert[i] = full(i, 2);
	o = dane(o, swap ? "2 0 0 0205..., 3 1 0 010e..." :
	    "3 1 0 010e..., 2 0 0 0205...", AUTH_DANE_TA);
	assert_true(outcome_add_tlsa(&o, swap ? 2 : 3, swap ? 0 : 1, 0,
	    swap ? cert : key, swap ? FULL_CERT : FULL_KEY));
	assert_true(outcome_add_tlsa(&o, swap ? 3 : 2, swap ? 1 : 0, 0,
	    swap ? key : cert, swap ? FULL_KEY : FULL_CERT));
	return o;
}

/*
 * The store for the report tests.  On day D, to example.net (out-dane
 * and out-may, both mx:example.net):
 *   tlsa {2 0 1 bbbb, 3 1 1 aaaa}: 2 DANE successes (the RRset in both
 *     orders), 2 + 1 mismatches (two hosts), a STARTTLS-less server;
 *   no-policy-found: 1 TLS session (may, unauthenticated); dane-required
 *     and a bogus lookup before connecting; a plaintext relay without
 *     STARTTLS, one after a failed handshake; a pinned refusal after a
 *     failed handshake; an injection.
 * Not counted: a connection failure, a lookup timeout, sessions the
 * second before D and at D + 1 day, an inbound one, a submission one,
 * a plaintext one of a security = none service.
 * To smarthost.example.org (out-verify): an expired and an untrusted
 * certificate.  To the odd peer (out-odd, a fixed host whose name holds
 * what JSON must escape): one refusal.
 */
static int
store_setup(void **st)
{
	struct posture_tune t = {
		.queue_max = 256, .batch_max = 64, .batch_ms = 5,
		.retry_ms = 30, .prune_ms = 3600 * 1000u,
	};
	struct conf_error cerr;
	struct conf *c;
	struct outcome o;
	char text[2048], perr[256], state[300];
	time_t now = time(NULL);

	(void)st;
	D = now - now % DAY - DAY;
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	snprintf(dir, sizeof(dir), "/tmp/test_report.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(dbpath, sizeof(dbpath), "%s/%s", state, POSTURE_DB_NAME);
	snprintf(confpath, sizeof(confpath), "%s/tlshim.conf", dir);
	if (mkdir(state, 0700) != 0)
		return -1;
	snprintf(text, sizeof(text), "[global]\nstate_dir = %s\n%s", state,
	    services);
	write_file(confpath, text);
	if ((c = conf_load(confpath, &cerr)) == NULL) {
		fprintf(stderr, "conf: %s\n", cerr.msg);
		return -1;
	}
	posture_tune_set(&t);
	if (!posture_open(c, perr, sizeof(perr))) {
		fprintf(stderr, "posture_open: %s\n", perr);
		return -1;
	}
	conf_unref(c);

	/* example.net, tlsa */
	submit(dane(rec("out-dane", "mx1.example.net", RES_TLS, D),
	    TLSA_A ", " TLSA_B, AUTH_DANE_EE));
	submit(dane(rec("out-dane", "MX1.Example.NET.", RES_TLS,
	    D + DAY - 1), TLSA_B ", " TLSA_A, AUTH_DANE_TA));
	o = failed(dane(rec("out-dane", "mx1.example.net", RES_REFUSED,
	    D + 100), TLSA_A ", " TLSA_B, AUTH_NONE), CAUSE_DANE_MISMATCH,
	    true);
	o.starttls_offered = true;
	submit(o);
	submit(o);
	snprintf(o.peer, sizeof(o.peer), "mx2.example.net");
	snprintf(o.addr, sizeof(o.addr), "2001:db8::25");
	snprintf(o.local, sizeof(o.local), "2001:db8::1");
	submit(o);
	submit(failed(dane(rec("out-dane", "mx1.example.net", RES_REFUSED,
	    D + 200), TLSA_B ", " TLSA_A, AUTH_NONE), CAUSE_NO_TLS, true));

	/* example.net, no-policy-found */
	submit(rec("out-may", "mx1.example.net", RES_TLS, D + 300));
	o = failed(rec("out-dane", "mx3.example.net", RES_REFUSED, D + 400),
	    CAUSE_DANE_REQUIRED, false);
	snprintf(o.dnssec, sizeof(o.dnssec), "insecure");
	submit(o);
	o = failed(rec("out-dane", "mx1.example.net", RES_FAILED, D + 500),
	    CAUSE_DNS, false);
	snprintf(o.dnssec, sizeof(o.dnssec), "bogus");
	submit(o);
	submit(rec("out-may", "mx1.example.net", RES_PLAINTEXT, D + 600));
	o = rec("out-may", "mx1.example.net", RES_PLAINTEXT, D + 700);
	o.starttls_offered = true;
	snprintf(o.reason, sizeof(o.reason), "TLS handshake failed (x); "
	    "retried in plaintext");
	submit(o);
	o = failed(rec("out-may", "mx1.example.net", RES_REFUSED, D + 800),
	    CAUSE_PINNED, true);
	o.starttls_offered = true;
	o.downgrade = true;
	submit(o);
	submit(failed(rec("out-may", "mx1.example.net", RES_ATTACK, D + 900),
	    CAUSE_INJECTION, true));

	/* Not counted. */
	submit(failed(rec("out-dane", "mx1.example.net", RES_FAILED, D + 1000),
	    CAUSE_CONNECT, false));
	o = failed(rec("out-dane", "mx1.example.net", RES_FAILED, D + 1100),
	    CAUSE_DNS, false);
	snprintf(o.dnssec, sizeof(o.dnssec), "indeterminate");
	submit(o);
	submit(dane(rec("out-dane", "mx1.example.net", RES_TLS, D - 1),
	    TLSA_A, AUTH_DANE_EE));
	submit(failed(rec("out-may", "mx1.example.net", RES_REFUSED, D + DAY),
	    CAUSE_NO_TLS, true));
	o = rec("out-may", "mx1.example.net", RES_TLS, D + 1200);
	snprintf(o.direction, sizeof(o.direction), "inbound");
	submit(o);
	submit(rec("sub", "msa.example.net", RES_TLS, D + 1300));
	submit(rec("out-none", "mx.none.example", RES_PLAINTEXT, D + 1400));

	/* smarthost.example.org */
	o = failed(rec("out-verify", "smarthost.example.org", RES_REFUSED,
	    D + 1500), CAUSE_CERT, true);
	o.starttls_offered = true;
	o.cert_expires = D - 10;
	submit(o);
	o.cert_expires = D + 10 * DAY;
	o.start = D + 1600;
	submit(o);

	/* The odd peer: a quote, a backslash and a control character. */
	submit(failed(rec("out-odd", "od\"d\\\x01.example", RES_REFUSED,
	    D + 1700), CAUSE_NO_TLS, true));

	/* On FULL_DAY, alone: records of matching type 0 in full, the
	 * RRset served in both orders, and two mismatches: one at a server
	 * that greeted with its name, one whose name is not known. */
	submit(dane_full(rec("out-dane", "mx1.example.net", RES_TLS,
	    FULL_DAY + 10), false));
	submit(dane_full(rec("out-dane", "mx1.example.net", RES_TLS,
	    FULL_DAY + 20), true));
	o = failed(dane_full(rec("out-dane", "mx1.example.net", RES_REFUSED,
	    FULL_DAY + 30), false), CAUSE_DANE_MISMATCH, true);
	assert_true(outcome_set_helo(&o, "mx1.example.net ESMTP", 21));
	submit(o);
	submit(failed(dane_full(rec("out-dane", "mx1.example.net",
	    RES_REFUSED, FULL_DAY + 40), true), CAUSE_DANE_MISMATCH, true));

	if (!posture_idle(10000))
		return -1;
	posture_close();
	posture_tune_set(NULL);
	return 0;
}

static int
store_teardown(void **st)
{
	char cmd[300];

	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* -------------------------------------------------------------- tests */

/* The store writes each session's result type from its cause, its level
 * and what happened (RFC 8460 4.3). */
static void
result_types(void **st)
{
	struct outcome o = rec("out-may", "mx.example", RES_REFUSED, D);

	(void)st;
	o.cause = CAUSE_NO_TLS;
	assert_string_equal(posture_result_type(&o, LEV_DANE),
	    "starttls-not-supported");
	o.cause = CAUSE_PINNED;
	assert_string_equal(posture_result_type(&o, LEV_MAY),
	    "starttls-not-supported");
	o.starttls_offered = true;	/* the handshake failed */
	assert_string_equal(posture_result_type(&o, LEV_MAY),
	    "validation-failure");
	o.cause = CAUSE_HANDSHAKE;
	assert_string_equal(posture_result_type(&o, LEV_ENCRYPT),
	    "validation-failure");
	o.cause = CAUSE_INJECTION;
	assert_string_equal(posture_result_type(&o, LEV_MAY),
	    "validation-failure");
	o.cause = CAUSE_CERT;
	assert_string_equal(posture_result_type(&o, LEV_VERIFY),
	    "certificate-not-trusted");
	o.cert_expires = D - 1;
	assert_string_equal(posture_result_type(&o, LEV_VERIFY),
	    "certificate-expired");
	o.cause = CAUSE_DANE_MISMATCH;
	assert_string_equal(posture_result_type(&o, LEV_DANE),
	    "tlsa-invalid");
	o.cause = CAUSE_DANE_REQUIRED;
	assert_string_equal(posture_result_type(&o, LEV_DANE_ONLY),
	    "dane-required");
	o.cause = CAUSE_DNS;
	snprintf(o.dnssec, sizeof(o.dnssec), "bogus");
	assert_string_equal(posture_result_type(&o, LEV_DANE),
	    "dnssec-invalid");
	snprintf(o.dnssec, sizeof(o.dnssec), "indeterminate");
	assert_null(posture_result_type(&o, LEV_DANE));
	/* Not about TLS, or transient (RFC 8460 4.3.4). */
	o.cause = CAUSE_CONNECT;
	assert_null(posture_result_type(&o, LEV_DANE));
	o.cause = CAUSE_TIMEOUT;
	assert_null(posture_result_type(&o, LEV_DANE));
	o.cause = CAUSE_PROTOCOL;
	assert_null(posture_result_type(&o, LEV_DANE));
	/* Plaintext where TLS was wanted; under none, never. */
	o = rec("out-may", "mx.example", RES_PLAINTEXT, D);
	assert_string_equal(posture_result_type(&o, LEV_MAY),
	    "starttls-not-supported");
	assert_string_equal(posture_result_type(&o, LEV_DANE),
	    "starttls-not-supported");
	o.starttls_offered = true;
	assert_string_equal(posture_result_type(&o, LEV_MAY),
	    "validation-failure");
	assert_null(posture_result_type(&o, LEV_NONE));
	o = rec("out-may", "mx.example", RES_TLS, D);
	assert_null(posture_result_type(&o, LEV_MAY));
}

/* Counts per policy domain, policy and failure entry. */
static void
counts(void **st)
{
	const struct tlsrpt_domain *d;
	const struct tlsrpt_policy *p;
	struct tlsrpt r;

	(void)st;
	load(D, NULL, &r);
	assert_int_equal(r.ndom, 3);
	/* Sorted by name; none.example's plaintext is not there, nor
	 * msa.example.net's submission. */
	assert_string_equal(r.dom[0].name, "example.net");
	assert_string_equal(r.dom[1].name, "od\"d\\\x01.example");
	assert_string_equal(r.dom[2].name, "smarthost.example.org");

	d = find_domain(&r, "example.net");
	assert_int_equal(d->npol, 2);
	p = &d->pol[0];
	assert_false(p->tlsa);
	assert_int_equal(p->nrecords, 0);
	assert_int_equal(p->ok, 1);
	assert_int_equal(p->failed, 6);
	assert_int_equal(p->nfail, 6);
	failure_is(&p->fail[0], "dane-required", "mx3.example.net", NULL,
	    NULL, "dane-required", 1);
	failure_is(&p->fail[1], "dnssec-invalid", "mx1.example.net", NULL,
	    NULL, "dns", 1);
	failure_is(&p->fail[2], "starttls-not-supported", "mx1.example.net",
	    "192.0.2.25", "198.51.100.1", "plaintext-fallback", 1);
	failure_is(&p->fail[3], "validation-failure", "mx1.example.net",
	    "192.0.2.25", "198.51.100.1", "injection", 1);
	failure_is(&p->fail[4], "validation-failure", "mx1.example.net",
	    "192.0.2.25", "198.51.100.1", "pinned", 1);
	failure_is(&p->fail[5], "validation-failure", "mx1.example.net",
	    "192.0.2.25", "198.51.100.1", "plaintext-fallback", 1);

	/* One policy for the RRset, whatever order it was served in. */
	p = &d->pol[1];
	assert_true(p->tlsa);
	assert_int_equal(p->nrecords, 2);
	assert_string_equal(p->records[0], TLSA_B);
	assert_string_equal(p->records[1], TLSA_A);
	assert_int_equal(p->ok, 2);
	assert_int_equal(p->failed, 4);
	assert_int_equal(p->nfail, 3);
	failure_is(&p->fail[0], "starttls-not-supported", "mx1.example.net",
	    "192.0.2.25", "198.51.100.1", "no-tls", 1);
	failure_is(&p->fail[1], "tlsa-invalid", "mx1.example.net",
	    "192.0.2.25", "198.51.100.1", "dane-mismatch", 2);
	failure_is(&p->fail[2], "tlsa-invalid", "mx2.example.net",
	    "2001:db8::25", "2001:db8::1", "dane-mismatch", 1);

	d = find_domain(&r, "smarthost.example.org");
	assert_int_equal(d->npol, 1);
	assert_int_equal(d->pol[0].ok, 0);
	assert_int_equal(d->pol[0].failed, 2);
	failure_is(&d->pol[0].fail[0], "certificate-expired",
	    "smarthost.example.org", "192.0.2.25", "198.51.100.1",
	    "certificate", 1);
	failure_is(&d->pol[0].fail[1], "certificate-not-trusted",
	    "smarthost.example.org", "192.0.2.25", "198.51.100.1",
	    "certificate", 1);
	tlsrpt_free(&r);

	/* --domain: the store's form of the name. */
	load(D, "smarthost.example.org", &r);
	assert_int_equal(r.ndom, 1);
	assert_string_equal(r.dom[0].name, "smarthost.example.org");
	tlsrpt_free(&r);
	load(D, "none.example", &r);
	assert_int_equal(r.ndom, 0);
	tlsrpt_free(&r);
}

/* A session belongs to the day it started in: [00:00:00, 24:00:00). */
static void
day_boundaries(void **st)
{
	struct tlsrpt r;
	time_t t;

	(void)st;
	/* The day before holds only the session of its last second. */
	load(D - DAY, NULL, &r);
	assert_int_equal(r.ndom, 1);
	assert_int_equal(r.dom[0].npol, 1);
	assert_true(r.dom[0].pol[0].tlsa);
	assert_string_equal(r.dom[0].pol[0].records[0], TLSA_A);
	assert_int_equal(r.dom[0].pol[0].ok, 1);
	assert_int_equal(r.dom[0].pol[0].failed, 0);
	tlsrpt_free(&r);
	/* The day after, only the one at its first second. */
	load(D + DAY, NULL, &r);
	assert_int_equal(r.ndom, 1);
	assert_int_equal(r.dom[0].npol, 1);
	assert_false(r.dom[0].pol[0].tlsa);
	assert_int_equal(r.dom[0].pol[0].ok, 0);
	assert_int_equal(r.dom[0].pol[0].failed, 1);
	failure_is(&r.dom[0].pol[0].fail[0], "starttls-not-supported",
	    "mx1.example.net", "192.0.2.25", "198.51.100.1", "no-tls", 1);
	tlsrpt_free(&r);
	load(D - 2 * DAY, NULL, &r);
	assert_int_equal(r.ndom, 0);
	tlsrpt_free(&r);

	/* Parsing the day. */
	assert_true(tlsrpt_day("2024-02-29", 0, &t));
	assert_int_equal(t, 1709164800);
	assert_true(tlsrpt_day("1970-01-01", 0, &t));
	assert_int_equal(t, 0);
	assert_true(tlsrpt_day("today", 1709164800 + 3600, &t));
	assert_int_equal(t, 1709164800);
	assert_true(tlsrpt_day("yesterday", 1709164800, &t));
	assert_int_equal(t, 1709164800 - DAY);
	assert_false(tlsrpt_day("2023-02-29", 0, &t));
	assert_false(tlsrpt_day("2024-13-01", 0, &t));
	assert_false(tlsrpt_day("2024-04-31", 0, &t));
	assert_false(tlsrpt_day("2024-1-01", 0, &t));
	assert_false(tlsrpt_day("2024-01-01x", 0, &t));
	assert_false(tlsrpt_day("1969-12-31", 0, &t));
	assert_false(tlsrpt_day("", 0, &t));
}

/* One report, exactly: the order, the fields, the indentation. */
static void
json_text(void **st)
{
	static const char want[] =
	    "{\n"
	    "  \"organization-name\": \"Org\",\n"
	    "  \"date-range\": {\n"
	    "    \"start-datetime\": \"%s\",\n"
	    "    \"end-datetime\": \"%s\"\n"
	    "  },\n"
	    "  \"contact-info\": \"tlsrpt@org.example\",\n"
	    "  \"report-id\": \"id-1\",\n"
	    "  \"policies\": [\n"
	    "    {\n"
	    "      \"policy\": {\n"
	    "        \"policy-type\": \"no-policy-found\",\n"
	    "        \"policy-domain\": \"smarthost.example.org\"\n"
	    "      },\n"
	    "      \"summary\": {\n"
	    "        \"total-successful-session-count\": 0,\n"
	    "        \"total-failure-session-count\": 2\n"
	    "      },\n"
	    "      \"failure-details\": [\n"
	    "        {\n"
	    "          \"result-type\": \"certificate-expired\",\n"
	    "          \"sending-mta-ip\": \"198.51.100.1\",\n"
	    "          \"receiving-mx-hostname\": \"smarthost.example.org\",\n"
	    "          \"receiving-ip\": \"192.0.2.25\",\n"
	    "          \"failed-session-count\": 1,\n"
	    "          \"failure-reason-code\": \"certificate\"\n"
	    "        },\n"
	    "        {\n"
	    "          \"result-type\": \"certificate-not-trusted\",\n"
	    "          \"sending-mta-ip\": \"198.51.100.1\",\n"
	    "          \"receiving-mx-hostname\": \"smarthost.example.org\",\n"
	    "          \"receiving-ip\": \"192.0.2.25\",\n"
	    "          \"failed-session-count\": 1,\n"
	    "          \"failure-reason-code\": \"certificate\"\n"
	    "        }\n"
	    "      ]\n"
	    "    }\n"
	    "  ]\n"
	    "}";
	struct tlsrpt_meta m = { "Org", "tlsrpt@org.example", "id-1" };
	char start[32], end[32], expect[sizeof(want) + 64];
	struct tlsrpt r;
	struct sbuf b;
	struct tm tm;

	(void)st;
	gmtime_r(&D, &tm);
	strftime(start, sizeof(start), "%Y-%m-%dT00:00:00Z", &tm);
	strftime(end, sizeof(end), "%Y-%m-%dT23:59:59Z", &tm);
	snprintf(expect, sizeof(expect), want, start, end);
	load(D, "smarthost.example.org", &r);
	sbuf_init(&b);
	tlsrpt_json(&r, &r.dom[0], &m, 0, &b);
	assert_true(sbuf_ok(&b));
	assert_string_equal(sbuf_str(&b), expect);
	assert_true(json_ok(sbuf_str(&b)));
	sbuf_free(&b);

	/* A tlsa policy lists its records; a domain with no failure has no
	 * failure-details. */
	tlsrpt_free(&r);
	load(D - DAY, NULL, &r);
	sbuf_init(&b);
	tlsrpt_json(&r, &r.dom[0], &m, 0, &b);
	assert_non_null(strstr(sbuf_str(&b), "\"policy-type\": \"tlsa\",\n"
	    "        \"policy-string\": [\n"
	    "          \"3 1 1 aaaa\"\n"
	    "        ],\n"
	    "        \"policy-domain\": \"example.net\"\n"));
	assert_null(strstr(sbuf_str(&b), "failure-details"));
	assert_true(json_ok(sbuf_str(&b)));
	sbuf_free(&b);
	tlsrpt_free(&r);
}

/* A TLSA record of matching type 0 is a whole key or certificate; the
 * policy string is the records as published (RFC 8460 4.3), not the
 * short form the session line shows, and the same RRset in another order
 * is still one policy. */
static void
full_records(void **st)
{
	char key[2 * FULL_KEY + 16], cert[2 * FULL_CERT + 16];
	char want[2 * (FULL_KEY + FULL_CERT) + 200], day[16];
	const struct tlsrpt_policy *p;
	struct tlsrpt r;
	struct tm tm;
	time_t t;

	(void)st;
	full_text(key, sizeof(key), "3 1 0", FULL_KEY, 1);
	full_text(cert, sizeof(cert), "2 0 0", FULL_CERT, 2);
	assert_int_equal(strlen(cert), 6 + 2 * FULL_CERT);
	load(FULL_DAY, NULL, &r);
	assert_int_equal(r.ndom, 1);
	assert_int_equal(r.dom[0].npol, 1);
	p = &r.dom[0].pol[0];
	assert_true(p->tlsa);
	assert_int_equal(p->nrecords, 2);
	assert_string_equal(p->records[0], cert);
	assert_string_equal(p->records[1], key);
	assert_int_equal(p->ok, 2);
	assert_int_equal(p->failed, 2);
	assert_int_equal(p->nfail, 2);
	/* The server's name (receiving-mx-helo) tells the entries apart;
	 * unknown sorts first. */
	failure_is(&p->fail[0], "tlsa-invalid", "mx1.example.net",
	    "192.0.2.25", "198.51.100.1", "dane-mismatch", 1);
	assert_string_equal(p->fail[1].helo, "mx1.example.net");
	assert_int_equal(p->fail[1].count, 1);
	assert_string_equal(p->fail[1].result_type, "tlsa-invalid");
	tlsrpt_free(&r);

	/* The command prints them whole, in one valid report. */
	t = FULL_DAY;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	assert_int_equal(report("tlsrpt", "-c", confpath, "--day", day,
	    "--domain", "example.net", NULL), 0);
	assert_true(json_ok(out));
	snprintf(want, sizeof(want), "\"policy-string\": [\n"
	    "          \"%s\",\n"
	    "          \"%s\"\n"
	    "        ],\n", cert, key);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "\"receiving-mx-hostname\": "
	    "\"mx1.example.net\",\n"
	    "          \"receiving-mx-helo\": \"mx1.example.net\",\n"));
}

/* Whatever a name or an option holds, it stays inside its string. */
static void
escaping(void **st)
{
	(void)st;
	assert_int_equal(report("tlsrpt", "-c", confpath, "--org",
	    "Ex \"Corp\" \\ Ltd\n\x7f", "--contact", "a\tb@c.example", "--id",
	    "\x01", NULL), 0);
	assert_true(json_ok(out));
	assert_non_null(strstr(out, "\"organization-name\": "
	    "\"Ex \\\"Corp\\\" \\\\ Ltd\\n\\u007f\""));
	assert_non_null(strstr(out, "\"contact-info\": \"a\\tb@c.example\""));
	assert_non_null(strstr(out, "\"report-id\": \"\\u0001_od\\\"d\\\\"
	    "\\u0001.example\""));
	assert_non_null(strstr(out, "\"policy-domain\": "
	    "\"od\\\"d\\\\\\u0001.example\""));
	assert_non_null(strstr(out, "\"receiving-mx-hostname\": "
	    "\"od\\\"d\\\\\\u0001.example\""));
}

/* The command: its forms, defaults and exit statuses. */
static void
command(void **st)
{
	char day[16], prev[16], want[600], path[400], text[600];
	struct tm tm;
	sqlite3 *db;
	time_t t;

	(void)st;
	gmtime_r(&D, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	t = D - DAY;
	gmtime_r(&t, &tm);
	strftime(prev, sizeof(prev), "%Y-%m-%d", &tm);

	/* Default day: yesterday; without --domain, an array of them. */
	assert_int_equal(report("tlsrpt", "-c", confpath, NULL), 0);
	assert_true(json_ok(out));
	assert_true(starts(out, "[\n  {\n    \"organization-name\": "));
	snprintf(want, sizeof(want), "\"organization-name\": \"%s\"", host);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "\"contact-info\": \"postmaster@%s\"",
	    host);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "\"report-id\": \"%s_example.net@%s\"",
	    day, host);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "\"report-id\": "
	    "\"%s_smarthost.example.org@%s\"", day, host);
	assert_non_null(strstr(out, want));
	assert_true(ends(out, "\n  }\n]\n"));

	/* --domain: one object, the name in any case, with a final dot. */
	assert_int_equal(report("tlsrpt", "-c", confpath, "--day", day,
	    "--domain", "Example.NET.", "--org", "O", "--contact",
	    "r@o.example", "--id", "X", NULL), 0);
	assert_true(json_ok(out));
	assert_true(starts(out, "{\n  \"organization-name\": \"O\",\n"));
	assert_non_null(strstr(out, "\"report-id\": \"X\""));
	assert_non_null(strstr(out, "\"total-successful-session-count\": 2,"
	    "\n        \"total-failure-session-count\": 4"));
	assert_null(strstr(out, "smarthost"));
	assert_true(ends(out, "\n}\n"));
	/* --id without --domain: ID_DOMAIN each. */
	assert_int_equal(report("tlsrpt", "-c", confpath, "--day", day,
	    "--id", "X", NULL), 0);
	assert_non_null(strstr(out, "\"report-id\": \"X_example.net\""));
	assert_non_null(strstr(out,
	    "\"report-id\": \"X_smarthost.example.org\""));

	/* Nothing that day: [] for all, nothing at all for one domain. */
	assert_int_equal(report("tlsrpt", "-c", confpath, "--day",
	    "2001-01-01", NULL), 0);
	assert_string_equal(out, "[]\n");
	assert_int_equal(report("tlsrpt", "-c", confpath, "--day", prev,
	    "--domain", "smarthost.example.org", NULL), 0);
	assert_string_equal(out, "");
	assert_non_null(strstr(errout, "nothing to report"));
	assert_non_null(strstr(errout, prev));

	/* Errors: exit 3 and a message. */
	assert_int_equal(report("tlsrpt", "-c", confpath, "--day",
	    "2023-02-29", NULL), 3);
	assert_non_null(strstr(errout, "not a day"));
	assert_string_equal(out, "");
	assert_int_equal(report("tlsrpt", "-c", confpath, "--contact",
	    "nobody", NULL), 3);
	assert_int_equal(report("tlsrpt", "-c", confpath, "--domain", ".",
	    NULL), 3);
	assert_int_equal(report("dmarc", "-c", confpath, NULL), 3);
	assert_int_equal(report("tlsrpt", "-c", confpath, "extra", NULL), 3);
	assert_int_equal(report("tlsrpt", "--help", NULL), 0);
	assert_non_null(strstr(out, "usage: tlshim report tlsrpt"));

	/* No database: state_dir without a store. */
	snprintf(path, sizeof(path), "%s/empty.conf", dir);
	snprintf(text, sizeof(text), "[global]\nstate_dir = %s\n%s", dir,
	    services);
	write_file(path, text);
	assert_int_equal(report("tlsrpt", "-c", path, NULL), 3);
	assert_non_null(strstr(errout, "no posture database at"));
	/* A configuration that does not load. */
	snprintf(text, sizeof(text), "%s/missing.conf", dir);
	assert_int_equal(report("tlsrpt", "-c", text, NULL), 3);

	/* A store of schema version 1, before TLSRPT. */
	snprintf(text, sizeof(text), "%s/%s", dir, POSTURE_DB_NAME);
	assert_int_equal(sqlite3_open(text, &db), SQLITE_OK);
	assert_true(posture_migrate(db, 1, want, sizeof(want)));
	sqlite3_close(db);
	assert_int_equal(report("tlsrpt", "-c", path, NULL), 3);
	assert_non_null(strstr(errout, "before TLSRPT"));
}

/* Version 2 rows get version 3's result types and policy domains. */
static void
migration_2_to_3(void **st)
{
	char path[400], err[256];
	sqlite3 *db;
	sqlite3_stmt *q;
	static const char *const want[] = {
		"1|starttls-not-supported|mx.example",
		"2|validation-failure|mx.example",
		"3|-|mx.example",
		"4|validation-failure|mx.example",
		"5|certificate-expired|mx.example",
		"6|certificate-not-trusted|mx.example",
		"7|-|peer.example",
		"8|tlsa-invalid|mx.example",
	};
	size_t n = 0;

	(void)st;
	snprintf(path, sizeof(path), "%s/v2.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_true(posture_migrate(db, 2, err, sizeof(err)));
#define V2ROW(id, result, offered, expires, reason, cause, rt, domain) \
	"INSERT INTO sessions (session, time, service, direction, protocol, " \
	"peer, address, port, client, name_source, starttls_offered, " \
	"result, " \
	"tls_version, cipher, \"group\", cert_sha256, spki_sha256, " \
	"cert_subject, cert_issuer, cert_expires, auth, dnssec, tlsa, " \
	"bytes_in, bytes_out, duration_ms, reason, cause, resumed, " \
	"downgrade, policy_type, policy_string, policy_domain, result_type) " \
	"VALUES (" id ", 1000, 's', 'outbound', 'smtp', 'peer.example', " \
	"'192.0.2.1', 25, '', 'mx', " offered ", '" result "', '', '', '', " \
	"'', '', '', '', " expires ", 'none', '', '', 0, 0, 0, '" reason \
	"', '" cause "', 0, 0, 'no-policy-found', '', '" domain "', " rt ");"
	assert_int_equal(sqlite3_exec(db,
	    V2ROW("1", "plaintext", "0", "NULL", "STARTTLS not offered by "
	    "server", "", "NULL", "mx.example")
	    V2ROW("2", "plaintext", "1", "NULL", "TLS handshake failed (x); "
	    "retried in plaintext", "", "NULL", "mx.example")
	    V2ROW("3", "plaintext", "0", "NULL", "security = none", "", "NULL",
	    "mx.example")
	    V2ROW("4", "refused", "1", "NULL", "TLS handshake failed",
	    "pinned", "'starttls-not-supported'", "mx.example")
	    V2ROW("5", "refused", "1", "999", "expired", "certificate",
	    "'certificate-not-trusted'", "mx.example")
	    V2ROW("6", "refused", "1", "2000", "untrusted", "certificate",
	    "'certificate-not-trusted'", "mx.example")
	    V2ROW("7", "tls", "1", "NULL", "", "", "NULL", "transparent")
	    V2ROW("8", "refused", "1", "NULL", "DANE", "dane-mismatch",
	    "'tlsa-invalid'", "mx.example"),
	    NULL, NULL, NULL), SQLITE_OK);
#undef V2ROW
	assert_true(posture_migrate(db, POSTURE_SCHEMA_VERSION, err,
	    sizeof(err)));
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT session || '|' || "
	    "coalesce(result_type, '-') || '|' || policy_domain FROM sessions "
	    "ORDER BY session", -1, &q, NULL), SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		assert_true(n < sizeof(want) / sizeof(want[0]));
		assert_string_equal((const char *)sqlite3_column_text(q, 0),
		    want[n]);
		n++;
	}
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), POSTURE_SCHEMA_VERSION);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(result_types),
		cmocka_unit_test(counts),
		cmocka_unit_test(day_boundaries),
		cmocka_unit_test(json_text),
		cmocka_unit_test(full_records),
		cmocka_unit_test(escaping),
		cmocka_unit_test(command),
		cmocka_unit_test(migration_2_to_3),
	};

	return cmocka_run_group_tests_name("report", tests, store_setup,
	    store_teardown);
}
