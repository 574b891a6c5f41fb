/*
 * metrics.c - counters of finished sessions, gauges read on demand, and
 * the Prometheus text (exposition format 0.0.4) and JSON that show them.
 *
 * One struct metrics_counts lives for the whole process.  Each worker
 * adds a finished session's numbers to it with relaxed atomics: counters
 * need no ordering between them, and a scrape that sees one session's
 * result counted but not yet its bytes is a moment early, not wrong.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/proto.h"
#include "shim/metrics.h"
#include "shim/posture.h"
#include "shim/sbuf.h"
#include "shim/server.h"

static struct metrics_counts counters;
static time_t start_time;

static const char *const tlsv_names[MTLS_LAST] = {
	"TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3", "other"
};

/* CAUSE_NONE has no word ("" in the log line); a label needs one. */
#define CAUSE_NONE_LABEL	"unspecified"

#define ADD(field, v)	__atomic_add_fetch(&(field), (v), __ATOMIC_RELAXED)

const char *
metrics_tlsv_name(enum metrics_tlsv v)
{
	return (unsigned)v < MTLS_LAST ? tlsv_names[v] : "other";
}

/* proto_index - the plugin's place in the registry, -1 if not found */
static int
proto_index(const char *name)
{
	const struct proto *p;

	for (size_t i = 0; i < METRICS_PROTO_MAX &&
	    (p = proto_at(i)) != NULL; i++)
		if (strcmp(p->name, name) == 0)
			return (int)i;
	return -1;
}

static int
direction_index(const char *name)
{
	for (int d = 0; d < DIR_LAST; d++)
		if (strcmp(direction_name((enum direction)d), name) == 0)
			return d;
	return -1;
}

static enum metrics_tlsv
tlsv_index(const char *name)
{
	for (int v = 0; v < MTLS_OTHER; v++)
		if (strcmp(tlsv_names[v], name) == 0)
			return (enum metrics_tlsv)v;
	return MTLS_OTHER;
}

static int
dnssec_index(const char *name)
{
	for (int i = DNSSEC_UNKNOWN + 1; i < DNSSEC_LAST; i++)
		if (strcmp(dnssec_name((enum dnssec_state)i), name) == 0)
			return i;
	return -1;
}

/* metrics_session - count one finished session.  Called once per session
 * from the worker that ran it, after its record is final. */
void
metrics_session(const struct outcome *o)
{
	int p = proto_index(o->protocol), d = direction_index(o->direction);
	int sec;
	unsigned r = (unsigned)o->result, a = (unsigned)o->auth;
	unsigned c = (unsigned)o->cause < CAUSE_LAST ? (unsigned)o->cause : 0;

	if (p >= 0 && d >= 0 && r < RES_LAST)
		ADD(counters.sessions[p][d][r], 1);
	if (o->tls_version[0] != '\0') {
		ADD(counters.handshakes[tlsv_index(o->tls_version)], 1);
		if (o->resumed)
			ADD(counters.resumed, 1);
	}
	if (a < AUTH_LAST)
		ADD(counters.auth[a], 1);
	if (o->dnssec[0] != '\0' && (sec = dnssec_index(o->dnssec)) > 0)
		ADD(counters.dnssec[sec], 1);
	if (o->result == RES_REFUSED)
		ADD(counters.refusals[c], 1);
	else if (o->result == RES_FAILED || o->result == RES_ATTACK)
		ADD(counters.failures[c], 1);
	if (o->downgrade)
		ADD(counters.downgrades, 1);
	ADD(counters.bytes_in, o->bytes_in);
	ADD(counters.bytes_out, o->bytes_out);
}

void
metrics_started(time_t t)
{
	start_time = t;
}

void
metrics_reset(void)
{
	uint64_t *w = (uint64_t *)&counters;

	for (size_t i = 0; i < sizeof(counters) / sizeof(*w); i++)
		__atomic_store_n(&w[i], 0, __ATOMIC_RELAXED);
}

bool
metrics_snap_add_service(struct metrics_snap *m, const char *name,
    unsigned active)
{
	struct metrics_service *n;

	if ((n = realloc(m->svc, (m->nsvc + 1) * sizeof(*n))) == NULL)
		return false;
	m->svc = n;
	n = &m->svc[m->nsvc++];
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->active = active;
	return true;
}

struct collect {
	struct metrics_snap	*m;
	bool			 failed;
};

static void
add_service(void *arg, const char *name, unsigned active)
{
	struct collect *k = arg;

	if (!metrics_snap_add_service(k->m, name, active))
		k->failed = true;
}

/* metrics_snapshot - copy every counter (one relaxed load each) and read
 * the gauges */
bool
metrics_snapshot(struct metrics_snap *m)
{
	const uint64_t *src = (const uint64_t *)&counters;
	uint64_t *dst = (uint64_t *)&m->c;
	struct collect k = { m, false };

	_Static_assert(sizeof(struct metrics_counts) % sizeof(uint64_t) == 0,
	    "metrics_counts holds only uint64_t");
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < sizeof(m->c) / sizeof(*dst); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	server_active_each(add_service, &k);
	if (k.failed) {
		metrics_snap_free(m);
		return false;
	}
	posture_queue_stats(&m->store_queued, &m->store_lost,
	    &m->store_committed);
	m->start_time = start_time;
	return true;
}

void
metrics_snap_free(struct metrics_snap *m)
{
	free(m->svc);
	m->svc = NULL;
	m->nsvc = 0;
}

/* ------------------------------------------------------------ Prometheus */

/* family - the # HELP and # TYPE lines of one metric.  In HELP text a
 * backslash and a line feed are escaped; the texts are ours, but the
 * format says so and a parser relies on it. */
static void
family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sbuf_printf(b, "# HELP %s ", name);
	for (; *help != '\0'; help++) {
		if (*help == '\\')
			sbuf_puts(b, "\\\\");
		else if (*help == '\n')
			sbuf_puts(b, "\\n");
		else
			sbuf_add(b, help, 1);
	}
	sbuf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* label_value - a label value between its quotes: backslash, double quote
 * and line feed escaped.  Service names come from the configuration file
 * and may hold any of them. */
static void
label_value(struct sbuf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			sbuf_puts(b, "\\\\");
		else if (*v == '"')
			sbuf_puts(b, "\\\"");
		else if (*v == '\n')
			sbuf_puts(b, "\\n");
		else
			sbuf_add(b, v, 1);
	}
}

/* sample - one line: name{k1="v1",...} value; labels is a NULL-ended
 * list of names and values, NULL for none */
static void
sample(struct sbuf *b, const char *name, const char *const *labels,
    uint64_t v)
{
	sbuf_puts(b, name);
	if (labels != NULL && labels[0] != NULL) {
		for (size_t i = 0; labels[i] != NULL; i += 2) {
			sbuf_printf(b, "%c%s=\"", i == 0 ? '{' : ',',
			    labels[i]);
			label_value(b, labels[i + 1]);
			sbuf_puts(b, "\"");
		}
		sbuf_puts(b, "}");
	}
	sbuf_printf(b, " %llu\n", (unsigned long long)v);
}

/* one_label - a family with one label over a table of values */
static void
one_label(struct sbuf *b, const char *name, const char *key,
    const char *(*label)(unsigned), unsigned from, unsigned to,
    const uint64_t *v)
{
	for (unsigned i = from; i < to; i++) {
		const char *l[] = { key, label(i), NULL };

		sample(b, name, l, v[i]);
	}
}

static const char *
tlsv_label(unsigned i)
{
	return metrics_tlsv_name((enum metrics_tlsv)i);
}

static const char *
auth_label(unsigned i)
{
	return auth_name((enum auth)i);
}

static const char *
dnssec_label(unsigned i)
{
	return dnssec_name((enum dnssec_state)i);
}

static const char *
cause_label(unsigned i)
{
	return i == CAUSE_NONE ? CAUSE_NONE_LABEL : cause_name((enum cause)i);
}

/* metrics_text - every family, every known label set (zeros included, so
 * that rate() works from the first session on) */
void
metrics_text(const struct metrics_snap *m, struct sbuf *b)
{
	const struct metrics_counts *c = &m->c;
	const struct proto *p;

	family(b, "tlshim_build_info", "gauge",
	    "The running tlshimd's version; always 1.");
	{
		const char *l[] = { "version", PACKAGE_VERSION, NULL };

		sample(b, "tlshim_build_info", l, 1);
	}
	family(b, "tlshim_start_time_seconds", "gauge",
	    "When tlshimd started, in seconds since the epoch.");
	sample(b, "tlshim_start_time_seconds", NULL,
	    m->start_time > 0 ? (uint64_t)m->start_time : 0);

	family(b, "tlshim_sessions_total", "counter",
	    "Sessions ended, by protocol, direction and result.");
	for (size_t i = 0; i < METRICS_PROTO_MAX &&
	    (p = proto_at(i)) != NULL; i++)
		for (int d = 0; d < DIR_LAST; d++)
			for (int r = RES_NONE + 1; r < RES_LAST; r++) {
				const char *l[] = { "protocol", p->name,
				    "direction",
				    direction_name((enum direction)d),
				    "result", result_name((enum result)r),
				    NULL };

				sample(b, "tlshim_sessions_total", l,
				    c->sessions[i][d][r]);
			}

	family(b, "tlshim_handshakes_total", "counter",
	    "TLS handshakes completed with the upstream, by TLS version.");
	one_label(b, "tlshim_handshakes_total", "tls_version", tlsv_label, 0,
	    MTLS_LAST, c->handshakes);
	family(b, "tlshim_resumed_handshakes_total", "counter",
	    "Of those, handshakes that resumed an earlier TLS session.");
	sample(b, "tlshim_resumed_handshakes_total", NULL, c->resumed);

	family(b, "tlshim_auth_total", "counter",
	    "Sessions ended, by how the upstream was authenticated "
	    "(none: no TLS or no certificate).");
	one_label(b, "tlshim_auth_total", "auth", auth_label, 0, AUTH_LAST,
	    c->auth);
	family(b, "tlshim_dnssec_total", "counter",
	    "Sessions that looked names up, by the weakest DNSSEC status "
	    "of their lookups.");
	one_label(b, "tlshim_dnssec_total", "dnssec", dnssec_label,
	    DNSSEC_UNKNOWN + 1, DNSSEC_LAST, c->dnssec);

	family(b, "tlshim_refusals_total", "counter",
	    "Sessions refused by policy, by cause.");
	one_label(b, "tlshim_refusals_total", "cause", cause_label, 0,
	    CAUSE_LAST, c->refusals);
	family(b, "tlshim_failures_total", "counter",
	    "Sessions that failed or met hostile behaviour, by cause.");
	one_label(b, "tlshim_failures_total", "cause", cause_label, 0,
	    CAUSE_LAST, c->failures);
	family(b, "tlshim_downgrades_total", "counter",
	    "Sessions to a pinned peer that came without the TLS it had "
	    "(refused under pin = yes, relayed under report-only).");
	sample(b, "tlshim_downgrades_total", NULL, c->downgrades);

	family(b, "tlshim_bytes_in_total", "counter",
	    "Bytes relayed from upstreams to legacy clients.");
	sample(b, "tlshim_bytes_in_total", NULL, c->bytes_in);
	family(b, "tlshim_bytes_out_total", "counter",
	    "Bytes relayed from legacy clients to upstreams.");
	sample(b, "tlshim_bytes_out_total", NULL, c->bytes_out);

	family(b, "tlshim_active_sessions", "gauge",
	    "Sessions running now, by service.");
	for (size_t i = 0; i < m->nsvc; i++) {
		const char *l[] = { "service", m->svc[i].name, NULL };

		sample(b, "tlshim_active_sessions", l, m->svc[i].active);
	}

	family(b, "tlshim_store_queue_depth", "gauge",
	    "Session records waiting for the posture store's writer.");
	sample(b, "tlshim_store_queue_depth", NULL, m->store_queued);
	family(b, "tlshim_store_lost_records_total", "counter",
	    "Session records the posture store could not keep (queue full "
	    "or database unusable).");
	sample(b, "tlshim_store_lost_records_total", NULL, m->store_lost);
	family(b, "tlshim_store_committed_records_total", "counter",
	    "Session records committed to the posture store.");
	sample(b, "tlshim_store_committed_records_total", NULL,
	    m->store_committed);
}

/* ------------------------------------------------------------------ JSON */

/* json_table - "key":{"label":n,...} over a table of values */
static void
json_table(struct sbuf *b, const char *key, const char *(*label)(unsigned),
    unsigned from, unsigned to, const uint64_t *v)
{
	sbuf_printf(b, ",\"%s\":{", key);
	for (unsigned i = from; i < to; i++) {
		if (i > from)
			sbuf_puts(b, ",");
		sbuf_json_str(b, label(i));
		sbuf_printf(b, ":%llu", (unsigned long long)v[i]);
	}
	sbuf_puts(b, "}");
}

/* metrics_json - {"sessions":{"smtp":{"outbound":{"tls":1,...}}}, ...}:
 * the families of metrics_text, with the same names less "tlshim_" and
 * "_total" */
void
metrics_json(const struct metrics_snap *m, struct sbuf *b)
{
	const struct metrics_counts *c = &m->c;
	const struct proto *p;

	sbuf_printf(b, "{\"start_time\":%llu,\"sessions\":{",
	    m->start_time > 0 ? (unsigned long long)m->start_time : 0ULL);
	for (size_t i = 0; i < METRICS_PROTO_MAX &&
	    (p = proto_at(i)) != NULL; i++) {
		sbuf_printf(b, "%s", i > 0 ? "," : "");
		sbuf_json_str(b, p->name);
		sbuf_puts(b, ":{");
		for (int d = 0; d < DIR_LAST; d++) {
			sbuf_printf(b, "%s\"%s\":{", d > 0 ? "," : "",
			    direction_name((enum direction)d));
			for (int r = RES_NONE + 1; r < RES_LAST; r++)
				sbuf_printf(b, "%s\"%s\":%llu",
				    r > RES_NONE + 1 ? "," : "",
				    result_name((enum result)r),
				    (unsigned long long)c->sessions[i][d][r]);
			sbuf_puts(b, "}");
		}
		sbuf_puts(b, "}");
	}
	sbuf_puts(b, "}");
	json_table(b, "handshakes", tlsv_label, 0, MTLS_LAST, c->handshakes);
	sbuf_printf(b, ",\"resumed_handshakes\":%llu",
	    (unsigned long long)c->resumed);
	json_table(b, "auth", auth_label, 0, AUTH_LAST, c->auth);
	json_table(b, "dnssec", dnssec_label, DNSSEC_UNKNOWN + 1, DNSSEC_LAST,
	    c->dnssec);
	json_table(b, "refusals", cause_label, 0, CAUSE_LAST, c->refusals);
	json_table(b, "failures", cause_label, 0, CAUSE_LAST, c->failures);
	sbuf_printf(b, ",\"downgrades\":%llu,\"bytes_in\":%llu,"
	    "\"bytes_out\":%llu,\"active_sessions\":{",
	    (unsigned long long)c->downgrades,
	    (unsigned long long)c->bytes_in,
	    (unsigned long long)c->bytes_out);
	for (size_t i = 0; i < m->nsvc; i++) {
		if (i > 0)
			sbuf_puts(b, ",");
		sbuf_json_str(b, m->svc[i].name);
		sbuf_printf(b, ":%u", m->svc[i].active);
	}
	sbuf_printf(b, "},\"store\":{\"queue_depth\":%llu,"
	    "\"lost_records\":%llu,\"committed_records\":%llu}}",
	    (unsigned long long)m->store_queued,
	    (unsigned long long)m->store_lost,
	    (unsigned long long)m->store_committed);
}
