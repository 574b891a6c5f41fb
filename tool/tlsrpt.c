/*
 * tlsrpt.c - RFC 8460 (SMTP TLS Reporting) from the posture store: one
 * UTC day's outbound SMTP sessions added up per policy domain, policy and
 * failure, and written as the RFC's JSON (section 4.4).
 *
 * The store gives each session its RFC 8460 fields as it writes it
 * (shim/posture_schema.c): the policy type and string, the policy domain
 * (the mx:/srv: domain, or the host), and a result type when TLS was not
 * negotiated for a reason that is about TLS.  From those:
 *
 *  - success: relayed inside TLS with the policy satisfied: any TLS under
 *    "no-policy-found", DANE-authenticated TLS under "tlsa";
 *  - failure: every session with a result type.  That includes sessions
 *    relayed in plaintext although the level wanted TLS (may, or dane
 *    where the domain has no TLSA records): the mail went out, but not
 *    over TLS, which is exactly what a receiving domain publishes a
 *    TLSRPT record to hear about, so it is "starttls-not-supported" (or
 *    "validation-failure" when STARTTLS was offered and not used) under
 *    "no-policy-found", never a success;
 *  - neither: failures that are not about TLS (no address answered, a
 *    timeout, a protocol error: transient, RFC 8460 4.3.4), and services
 *    at security = none, which never try TLS.
 *
 * Only protocol smtp, direction outbound: TLSRPT is about MTA-to-MTA
 * delivery.  A session belongs to the day it started in.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/sbuf.h"
#include "tool/tlsrpt.h"
#include "tool/tool.h"

#define DAY	86400

/* The sessions of the day: ?1 <= time < ?2, ?3 the domain or NULL. */
#define DAY_WHERE \
	" FROM sessions WHERE time >= ?1 AND time < ?2 AND " \
	"protocol = 'smtp' AND direction = 'outbound' AND " \
	"(?3 IS NULL OR policy_domain = ?3) AND policy_domain IS NOT NULL "

/* Successes per policy (the policy string as the session stored it). */
static const char q_ok[] =
	"SELECT policy_domain, policy_type, coalesce(policy_string, ''), "
	"count(*)" DAY_WHERE "AND result_type IS NULL AND result = 'tls' AND "
	"(policy_type IS NOT 'tlsa' OR auth IN ('dane-ee', 'dane-ta')) "
	"GROUP BY 1, 2, 3";

/* Failures per policy and failure-details entry.  The reason code is the
 * cause word (the reason in words would split every entry by its
 * details); a plaintext relay has no cause, so it says what happened. */
static const char q_fail[] =
	"SELECT policy_domain, policy_type, coalesce(policy_string, ''), "
	"result_type, sending_ip, nullif(peer, ''), nullif(address, ''), "
	"receiving_helo, CASE WHEN cause <> '' THEN cause "
	"WHEN result = 'plaintext' THEN 'plaintext-fallback' END, count(*)"
	DAY_WHERE "AND result_type IS NOT NULL "
	"GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9";

/* tlsrpt_day - parse the day; strict, so that a typo is an error */
bool
tlsrpt_day(const char *text, time_t now, time_t *day)
{
	struct tm	 tm, want, back;
	time_t		 t;

	if (strcmp(text, "today") == 0 || strcmp(text, "yesterday") == 0) {
		*day = now - now % DAY - (text[0] == 'y' ? DAY : 0);
		return true;
	}
	if (strlen(text) != 10 || text[4] != '-' || text[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9'))
			return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi(text) - 1900;
	tm.tm_mon = atoi(text + 5) - 1;
	tm.tm_mday = atoi(text + 8);
	want = tm;
	if (tm.tm_year < 70 || (t = timegm(&tm)) == (time_t)-1 ||
	    gmtime_r(&t, &back) == NULL)
		return false;
	/* timegm() makes February 30th March 2nd: not a day. */
	if (back.tm_year != want.tm_year || back.tm_mon != want.tm_mon ||
	    back.tm_mday != want.tm_mday)
		return false;
	*day = t;
	return true;
}

/* ----------------------------------------------------------- building */

/* nstrcmp - strcmp where NULL sorts first */
static int
nstrcmp(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

/* col - a text column, NULL for SQL NULL */
static const char *
col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* xdup - a copy of s (NULL stays NULL); *oom on failure */
static char *
xdup(const char *s, bool *oom)
{
	char	*d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*oom = true;
	return d;
}

/* grow - v (of n elements of size each) with room for one more, or NULL
 * (and v as it was) */
static void *
grow(void *v, size_t n, size_t size)
{
	return realloc(v, (n + 1) * size);
}

/* cmp_str - qsort order of strings */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sort - qsort, which must not be given the NULL of an empty array */
static void
sort(void *v, size_t n, size_t size, int (*cmp)(const void *,
    const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

/* records - the TLSA records of a policy string ("3 1 1 ab.., 2 0 1 ..",
 * as the session record lists them), sorted, each once: the same RRset
 * served in another order is the same policy */
static bool
records(const char *s, char ***out, size_t *n)
{
	char	**v = NULL, **nv, *copy, *p, *r;
	size_t	 k = 0;

	*out = NULL;
	*n = 0;
	if ((copy = strdup(s)) == NULL)
		return false;
	for (p = copy; (r = strsep(&p, ",")) != NULL; ) {
		while (*r == ' ')
			r++;
		if (*r == '\0')
			continue;
		if ((nv = grow(v, k, sizeof(*v))) == NULL)
			goto fail;
		v = nv;
		if ((v[k] = strdup(r)) == NULL)
			goto fail;
		k++;
	}
	free(copy);
	sort(v, k, sizeof(*v), cmp_str);
	for (size_t i = 1; i < k; )
		if (strcmp(v[i], v[i - 1]) == 0) {
			free(v[i]);
			memmove(&v[i], &v[i + 1], (k - i - 1) * sizeof(*v));
			k--;
		} else
			i++;
	*out = v;
	*n = k;
	return true;
fail:
	for (size_t i = 0; i < k; i++)
		free(v[i]);
	free(v);
	free(copy);
	return false;
}

/* free_records - what records() made */
static void
free_records(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* domain - the entry of name, made if new */
static struct tlsrpt_domain *
domain(struct tlsrpt *r, const char *name)
{
	struct tlsrpt_domain *d;

	for (size_t i = 0; i < r->ndom; i++)
		if (strcmp(r->dom[i].name, name) == 0)
			return &r->dom[i];
	if ((d = grow(r->dom, r->ndom, sizeof(*r->dom))) == NULL)
		return NULL;
	r->dom = d;
	d = &r->dom[r->ndom];
	memset(d, 0, sizeof(*d));
	if ((d->name = strdup(name)) == NULL)
		return NULL;
	r->ndom++;
	return d;
}

/* policy - d's policy of this type and policy string, made if new */
static struct tlsrpt_policy *
policy(struct tlsrpt_domain *d, const char *type, const char *string)
{
	struct tlsrpt_policy	*p;
	bool			 tlsa = strcmp(type, "tlsa") == 0;
	char			**v = NULL;
	size_t			 n = 0, i, j;

	/* No policy, no policy string (RFC 8460 4.4). */
	if (tlsa && !records(string, &v, &n))
		return NULL;
	for (i = 0; i < d->npol; i++) {
		p = &d->pol[i];
		if (p->tlsa != tlsa || p->nrecords != n)
			continue;
		for (j = 0; j < n && strcmp(p->records[j], v[j]) == 0; j++)
			;
		if (j == n) {
			free_records(v, n);
			return p;
		}
	}
	if ((p = grow(d->pol, d->npol, sizeof(*d->pol))) == NULL) {
		free_records(v, n);
		return NULL;
	}
	d->pol = p;
	p = &d->pol[d->npol++];
	memset(p, 0, sizeof(*p));
	p->tlsa = tlsa;
	p->records = v;
	p->nrecords = n;
	return p;
}

/* add_failure - count sessions into p's entry equal to f, made if new
 * (f's strings are copied) */
static bool
add_failure(struct tlsrpt_policy *p, const struct tlsrpt_failure *f)
{
	struct tlsrpt_failure	*e;
	bool			 oom = false;

	p->failed += f->count;
	for (size_t i = 0; i < p->nfail; i++) {
		e = &p->fail[i];
		if (nstrcmp(e->result_type, f->result_type) == 0 &&
		    nstrcmp(e->sending_ip, f->sending_ip) == 0 &&
		    nstrcmp(e->mx_host, f->mx_host) == 0 &&
		    nstrcmp(e->receiving_ip, f->receiving_ip) == 0 &&
		    nstrcmp(e->helo, f->helo) == 0 &&
		    nstrcmp(e->reason_code, f->reason_code) == 0) {
			e->count += f->count;
			return true;
		}
	}
	if ((e = grow(p->fail, p->nfail, sizeof(*p->fail))) == NULL)
		return false;
	p->fail = e;
	e = &p->fail[p->nfail++];
	e->result_type = xdup(f->result_type, &oom);
	e->sending_ip = xdup(f->sending_ip, &oom);
	e->mx_host = xdup(f->mx_host, &oom);
	e->receiving_ip = xdup(f->receiving_ip, &oom);
	e->helo = xdup(f->helo, &oom);
	e->reason_code = xdup(f->reason_code, &oom);
	e->count = f->count;
	return !oom;
}

/* query - prepare one of the two queries for the day and domain */
static sqlite3_stmt *
query(sqlite3 *db, const char *sql, time_t day, const char *dom)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)day);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)day + DAY);
	if (dom != NULL)
		sqlite3_bind_text(st, 3, dom, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 3);
	return st;
}

/* row - one row of either query into r: its domain and policy, then the
 * successes or the failure entry */
static bool
row(struct tlsrpt *r, sqlite3_stmt *st, bool failure)
{
	struct tlsrpt_domain	*d;
	struct tlsrpt_policy	*p;
	struct tlsrpt_failure	 f;
	int			 last = failure ? 9 : 3;

	if ((d = domain(r, col(st, 0))) == NULL ||
	    (p = policy(d, col(st, 1) != NULL ? col(st, 1) :
	    "no-policy-found", col(st, 2))) == NULL)
		return false;
	if (!failure) {
		p->ok += (uint64_t)sqlite3_column_int64(st, last);
		return true;
	}
	f.result_type = (char *)col(st, 3);
	f.sending_ip = (char *)col(st, 4);
	f.mx_host = (char *)col(st, 5);
	f.receiving_ip = (char *)col(st, 6);
	f.helo = (char *)col(st, 7);
	f.reason_code = (char *)col(st, 8);
	f.count = (uint64_t)sqlite3_column_int64(st, last);
	return add_failure(p, &f);
}

/* cmp_domain - reports by domain name */
static int
cmp_domain(const void *a, const void *b)
{
	return strcmp(((const struct tlsrpt_domain *)a)->name,
	    ((const struct tlsrpt_domain *)b)->name);
}

/* cmp_policy - no-policy-found first, then tlsa by its records */
static int
cmp_policy(const void *a, const void *b)
{
	const struct tlsrpt_policy *p = a, *q = b;
	int c;

	if (p->tlsa != q->tlsa)
		return p->tlsa - q->tlsa;
	for (size_t i = 0; i < p->nrecords && i < q->nrecords; i++)
		if ((c = strcmp(p->records[i], q->records[i])) != 0)
			return c;
	return (p->nrecords > q->nrecords) - (p->nrecords < q->nrecords);
}

/* cmp_failure - by result type, then host, addresses and reason code */
static int
cmp_failure(const void *a, const void *b)
{
	const struct tlsrpt_failure *e = a, *f = b;
	int c;

	if ((c = strcmp(e->result_type, f->result_type)) != 0 ||
	    (c = nstrcmp(e->mx_host, f->mx_host)) != 0 ||
	    (c = nstrcmp(e->receiving_ip, f->receiving_ip)) != 0 ||
	    (c = nstrcmp(e->sending_ip, f->sending_ip)) != 0 ||
	    (c = nstrcmp(e->helo, f->helo)) != 0)
		return c;
	return nstrcmp(e->reason_code, f->reason_code);
}

/* tlsrpt_load - both queries, then everything in a fixed order, so that
 * the same store gives the same report */
bool
tlsrpt_load(sqlite3 *db, time_t day, const char *dom, struct tlsrpt *r,
    char *err, size_t errlen)
{
	static const char *const sql[2] = { q_ok, q_fail };
	sqlite3_stmt	*st;
	int		 rc = SQLITE_DONE;

	memset(r, 0, sizeof(*r));
	r->day = day;
	for (int q = 0; q < 2 && rc == SQLITE_DONE; q++) {
		if ((st = query(db, sql[q], day, dom)) == NULL) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(db));
			tlsrpt_free(r);
			return false;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			if (!row(r, st, q == 1)) {
				snprintf(err, errlen, "out of memory");
				sqlite3_finalize(st);
				tlsrpt_free(r);
				return false;
			}
		if (rc != SQLITE_DONE)
			snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE) {
		tlsrpt_free(r);
		return false;
	}
	sort(r->dom, r->ndom, sizeof(*r->dom), cmp_domain);
	for (size_t i = 0; i < r->ndom; i++) {
		struct tlsrpt_domain *d = &r->dom[i];

		sort(d->pol, d->npol, sizeof(*d->pol), cmp_policy);
		for (size_t j = 0; j < d->npol; j++)
			sort(d->pol[j].fail, d->pol[j].nfail,
			    sizeof(*d->pol[j].fail), cmp_failure);
	}
	return true;
}

/* tlsrpt_free - everything r holds (a zeroed r is fine) */
void
tlsrpt_free(struct tlsrpt *r)
{
	for (size_t i = 0; i < r->ndom; i++) {
		struct tlsrpt_domain *d = &r->dom[i];

		for (size_t j = 0; j < d->npol; j++) {
			struct tlsrpt_policy *p = &d->pol[j];

			for (size_t k = 0; k < p->nfail; k++) {
				free(p->fail[k].result_type);
				free(p->fail[k].sending_ip);
				free(p->fail[k].mx_host);
				free(p->fail[k].receiving_ip);
				free(p->fail[k].helo);
				free(p->fail[k].reason_code);
			}
			free(p->fail);
			free_records(p->records, p->nrecords);
		}
		free(d->pol);
		free(d->name);
	}
	free(r->dom);
	memset(r, 0, sizeof(*r));
}

/* --------------------------------------------------------------- JSON */

/* nl - a new line indented by n spaces */
static void
nl(struct sbuf *b, int n)
{
	sbuf_printf(b, "\n%*s", n, "");
}

/* member - a new line, then "key": (the value follows) */
static void
member(struct sbuf *b, int n, const char *key)
{
	nl(b, n);
	sbuf_json_str(b, key);
	sbuf_puts(b, ": ");
}

/* str - "key": "value" and the comma before it unless first */
static void
str(struct sbuf *b, int n, bool first, const char *key, const char *v)
{
	if (!first)
		sbuf_puts(b, ",");
	member(b, n, key);
	sbuf_json_str(b, v);
}

/* num - "key": number, after a comma */
static void
num(struct sbuf *b, int n, const char *key, uint64_t v)
{
	sbuf_puts(b, ",");
	member(b, n, key);
	sbuf_printf(b, "%llu", (unsigned long long)v);
}

/* failure_json - one failure-details entry; what is not known is left
 * out rather than made up (a session refused before it connected has no
 * addresses) */
static void
failure_json(struct sbuf *b, int n, const struct tlsrpt_failure *f)
{
	sbuf_puts(b, "{");
	str(b, n + 2, true, "result-type", f->result_type);
	if (f->sending_ip != NULL)
		str(b, n + 2, false, "sending-mta-ip", f->sending_ip);
	if (f->mx_host != NULL)
		str(b, n + 2, false, "receiving-mx-hostname", f->mx_host);
	if (f->helo != NULL)
		str(b, n + 2, false, "receiving-mx-helo", f->helo);
	if (f->receiving_ip != NULL)
		str(b, n + 2, false, "receiving-ip", f->receiving_ip);
	num(b, n + 2, "failed-session-count", f->count);
	if (f->reason_code != NULL)
		str(b, n + 2, false, "failure-reason-code", f->reason_code);
	nl(b, n);
	sbuf_puts(b, "}");
}

/* policy_json - one element of "policies" */
static void
policy_json(struct sbuf *b, int n, const char *dom,
    const struct tlsrpt_policy *p)
{
	sbuf_puts(b, "{");
	member(b, n + 2, "policy");
	sbuf_puts(b, "{");
	str(b, n + 4, true, "policy-type", p->tlsa ? "tlsa" :
	    "no-policy-found");
	if (p->tlsa) {
		/* Each record's RDATA, its four fields in presentation
		 * form (RFC 8460 4.5). */
		sbuf_puts(b, ",");
		member(b, n + 4, "policy-string");
		sbuf_puts(b, "[");
		for (size_t i = 0; i < p->nrecords; i++) {
			sbuf_puts(b, i > 0 ? "," : "");
			nl(b, n + 6);
			sbuf_json_str(b, p->records[i]);
		}
		nl(b, n + 4);
		sbuf_puts(b, "]");
	}
	str(b, n + 4, false, "policy-domain", dom);
	nl(b, n + 2);
	sbuf_puts(b, "},");
	member(b, n + 2, "summary");
	sbuf_puts(b, "{");
	member(b, n + 4, "total-successful-session-count");
	sbuf_printf(b, "%llu", (unsigned long long)p->ok);
	num(b, n + 4, "total-failure-session-count", p->failed);
	nl(b, n + 2);
	sbuf_puts(b, "}");
	if (p->nfail > 0) {
		sbuf_puts(b, ",");
		member(b, n + 2, "failure-details");
		sbuf_puts(b, "[");
		for (size_t i = 0; i < p->nfail; i++) {
			sbuf_puts(b, i > 0 ? "," : "");
			nl(b, n + 4);
			failure_json(b, n + 4, &p->fail[i]);
		}
		nl(b, n + 2);
		sbuf_puts(b, "]");
	}
	nl(b, n);
	sbuf_puts(b, "}");
}

/* tlsrpt_json - the report of d: the whole UTC day (RFC 8460 4.1), its
 * end the day's last second, as the RFC's own example writes it */
void
tlsrpt_json(const struct tlsrpt *r, const struct tlsrpt_domain *d,
    const struct tlsrpt_meta *m, int n, struct sbuf *b)
{
	char	 start[32], end[32];

	tool_utc(start, sizeof(start), r->day);
	tool_utc(end, sizeof(end), r->day + DAY - 1);
	sbuf_puts(b, "{");
	str(b, n + 2, true, "organization-name", m->org);
	sbuf_puts(b, ",");
	member(b, n + 2, "date-range");
	sbuf_puts(b, "{");
	str(b, n + 4, true, "start-datetime", start);
	str(b, n + 4, false, "end-datetime", end);
	nl(b, n + 2);
	sbuf_puts(b, "}");
	str(b, n + 2, false, "contact-info", m->contact);
	str(b, n + 2, false, "report-id", m->id);
	sbuf_puts(b, ",");
	member(b, n + 2, "policies");
	sbuf_puts(b, "[");
	for (size_t i = 0; i < d->npol; i++) {
		sbuf_puts(b, i > 0 ? "," : "");
		nl(b, n + 4);
		policy_json(b, n + 4, d->name, &d->pol[i]);
	}
	nl(b, n + 2);
	sbuf_puts(b, "]");
	nl(b, n);
	sbuf_puts(b, "}");
}
