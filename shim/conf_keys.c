/*
 * conf_keys.c - what each configuration key accepts: the typed key tables
 * of [global] and of a service section, and their setters.
 *
 * Every key is one table row: its name, a setter for its type, the field
 * it fills and, for a file name, the field that remembers its line.  A
 * setter checks one value and stores it; the handler in conf_parse.c has
 * already refused unknown keys, empty values and keys given twice.
 * Values are checked here as far as text allows (syntax, ranges, known
 * names); files are not opened: tls_conf_prepare() loads them later.
 * The setters of addresses, names and other network values are in
 * conf_net.c.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugins/proto.h"
#include "shim/conf.h"
#include "shim/conf_int.h"

#define MSEC_MAX	(24u * 3600 * 1000)
#define DAYS_MAX	3650u		/* set_days: ten years */
#define SESSIONS_MAX	1000000u

/* The name setter stores any enum through an int. */
_Static_assert(sizeof(enum tls_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tls_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum direction) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_dnssec) == sizeof(int), "enum size");
_Static_assert(sizeof(enum transparent_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pin_mode) == sizeof(int), "enum size");

/* conf_bad_value - "invalid value 'V' for 'KEY': expected ..." */
bool
conf_bad_value(struct conf_parser *p, const struct conf_key *k, const char *value,
    const char *expected)
{
	/* inih keeps a '#' after a value in the value: when there is one,
	 * that is the likely mistake, so say it. */
	const char *hint = strstr(value, " #") != NULL ||
	    strstr(value, "\t#") != NULL ?
	    " (comments after a value start with ';')" : "";

	return conf_perr(p, p->lineno,
	    "invalid value '%s' for '%s': expected %s%s",
	    value, k->name, expected, hint);
}

/* ---------------------------------------------------------------- setters */

/* conf_set_later - a key of the design that this version does not implement */
bool
conf_set_later(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	(void)field;
	(void)value;
	return conf_perr(p, p->lineno, "'%s' " CONF_LATER, k->name);
}

/* set_str - any text */
static bool
set_str(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	char	**f = field;

	(void)k;
	free(*f);		/* the built-in default */
	if ((*f = strdup(value)) == NULL)
		return conf_perr(p, p->lineno, "out of memory");
	return true;
}

/* set_name - one of the names in k->names, stored as its int code */
static bool
set_name(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	const struct name_code	*nc = name_lookup(k->names, value);
	char			 list[128] = "one of ";

	if (nc == NULL) {
		for (nc = k->names; nc->name != NULL; nc++) {
			if (nc->later)
				continue;
			if (nc != k->names)
				strncat(list, ", ",
				    sizeof(list) - strlen(list) - 1);
			strncat(list, nc->name,
			    sizeof(list) - strlen(list) - 1);
		}
		return conf_bad_value(p, k, value, list);
	}
	if (nc->later)
		return conf_perr(p, p->lineno, "%s = %s " CONF_LATER, k->name,
		    value);
	*(int *)field = nc->code;
	return true;
}

/* set_bool - yes/no and the usual synonyms */
static bool
set_bool(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	const struct name_code	*nc = name_lookup(bool_names, value);

	if (nc == NULL)
		return conf_bad_value(p, k, value, "yes or no");
	*(bool *)field = nc->code != 0;
	return true;
}

/* set_msec - a duration: digits and an optional ms, s, m or h (seconds) */
static bool
set_msec(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 },
	};
	const char	*c = value;
	uint64_t	 n = 0;

	/* Stopping at MSEC_MAX digits-wise keeps n * unit far from overflow. */
	while (*c >= '0' && *c <= '9' && n <= MSEC_MAX)
		n = n * 10 + (uint64_t)(*c++ - '0');
	if (c == value || n == 0 || n > MSEC_MAX)
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(c, units[i].unit) == 0) {
			if (n * units[i].ms > MSEC_MAX)
				goto bad;
			*(unsigned *)field = (unsigned)(n * units[i].ms);
			return true;
		}
	}
bad:
	return conf_bad_value(p, k, value,
	    "a duration above 0 and at most 24h, such as 30s, 500ms, 5m");
}

/* set_days - a long duration, kept in seconds: digits and an optional s,
 * m, h or d (days); seconds without a unit, like set_msec */
static bool
set_days(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	static const struct { const char *unit; uint64_t s; } units[] = {
		{ "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
		{ "d", 86400 },
	};
	const uint64_t	 max = (uint64_t)DAYS_MAX * 86400;
	const char	*c = value;
	uint64_t	 n = 0;

	while (*c >= '0' && *c <= '9' && n <= max)
		n = n * 10 + (uint64_t)(*c++ - '0');
	if (c == value || n == 0 || n > max)
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(c, units[i].unit) == 0) {
			if (n * units[i].s > max)
				goto bad;
			*(unsigned *)field = (unsigned)(n * units[i].s);
			return true;
		}
	}
bad:
	return conf_bad_value(p, k, value,
	    "a duration above 0 and at most 3650d, such as 30d, 12h");
}

/* set_count - max_sessions: 1 to SESSIONS_MAX */
static bool
set_count(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	unsigned long	 n = 0;
	const char	*c;

	for (c = value; *c >= '0' && *c <= '9' && n <= SESSIONS_MAX; c++)
		n = n * 10 + (unsigned long)(*c - '0');
	if (c == value || *c != '\0' || n == 0 || n > SESSIONS_MAX)
		return conf_bad_value(p, k, value, "a number from 1 to 1000000");
	*(unsigned *)field = (unsigned)n;
	return true;
}

/* set_workers - "auto" (0: one per online CPU) or 1 to CONF_WORKERS_MAX */
static bool
set_workers(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	unsigned long	 n = 0;
	const char	*c;

	if (strcasecmp(value, "auto") == 0) {
		*(unsigned *)field = 0;
		return true;
	}
	for (c = value; *c >= '0' && *c <= '9' && n <= CONF_WORKERS_MAX; c++)
		n = n * 10 + (unsigned long)(*c - '0');
	if (c == value || *c != '\0' || n == 0 || n > CONF_WORKERS_MAX)
		return conf_bad_value(p, k, value, "auto or a number from 1 to 64");
	*(unsigned *)field = (unsigned)n;
	return true;
}

/* set_proto - a registered protocol plugin */
static bool
set_proto(struct conf_parser *p, const struct conf_key *k, void *field,
    const char *value)
{
	const struct proto	*proto = NULL;
	char			 lower[32];
	size_t			 n = strlen(value);

	(void)k;
	if (n < sizeof(lower)) {
		for (size_t i = 0; i <= n; i++)
			lower[i] = (value[i] >= 'A' && value[i] <= 'Z') ?
			    (char)(value[i] - 'A' + 'a') : value[i];
		proto = proto_find(lower);
	}
	if (proto == NULL)
		return conf_perr(p, p->lineno,
		    "unknown protocol '%s' (known: %s)",
		    value, proto_names());
	*(const struct proto **)field = proto;
	return true;
}

/* ---------------------------------------------------------------- tables */

#define GLB(f)	offsetof(struct conf, f)
#define SVC(f)	offsetof(struct conf_service, f)

const struct conf_key conf_global_keys[] = {
	{ "state_dir",		set_str,  GLB(state_dir),  0, NULL, 0 },
	{ "ca_file",		set_str,  GLB(ca_file),    GLB(ca_file_line),
				NULL, 0 },
	{ "user",		set_str,  GLB(user),       0, NULL, 0 },
	{ "log_level",		set_name, GLB(log_level),  0, log_level_names,
				0 },
	/* Defaults for every service that does not set its own: they fill
	 * parser.dflt, which conf_inherit() applies at the end. */
	{ "connect_timeout",	set_msec, SVC(connect_timeout_ms), 0, NULL,
				KF_DEFAULTS },
	{ "handshake_timeout",	set_msec, SVC(handshake_timeout_ms), 0, NULL,
				KF_DEFAULTS },
	{ "idle_timeout",	set_msec, SVC(idle_timeout_ms), 0, NULL,
				KF_DEFAULTS },
	{ "max_sessions",	set_count, SVC(max_sessions), 0, NULL,
				KF_DEFAULTS },
	{ "resolver",		conf_set_resolver, GLB(resolver), 0, NULL, 0 },
	{ "dnssec",		set_name, GLB(dnssec),     0, dnssec_names, 0 },
	{ "control_socket",	conf_set_sockpath, GLB(control_socket), 0, NULL, 0 },
	{ "metrics_listen",	conf_set_addr, GLB(metrics_listen), 0, NULL, 0 },
	{ "workers",		set_workers, GLB(workers), 0, NULL, 0 },
	{ "so_mark",		conf_set_mark, SVC(so_mark),    0, NULL,
				KF_DEFAULTS },
	{ "dns_listen",		conf_set_dns_listen, GLB(dns_listen), 0, NULL, 0 },
	{ "posture_retention",	set_days, GLB(posture_retention), 0, NULL,
				0 },
	{ NULL,			NULL,     0, 0, NULL, 0 }
};

const struct conf_key conf_service_keys[] = {
	{ "protocol",		set_proto, SVC(proto),     0, NULL, 0 },
	{ "direction",		set_name,  SVC(direction), 0, direction_names,
				0 },
	{ "listen",		conf_set_listen, SVC(listen),   0, NULL, KF_MULTI },
	{ "upstream",		conf_set_upstream, SVC(upstream_host), 0, NULL, 0 },
	{ "tls",		set_name,  SVC(tls),       0, tls_mode_names,
				0 },
	{ "security",		set_name,  SVC(level),     0, level_names, 0 },
	{ "helo_name",		conf_set_helo,  SVC(helo_name), 0, NULL, 0 },
	{ "cleartext_auth",	set_bool,  SVC(cleartext_auth), 0, NULL, 0 },
	{ "ca_file",		set_str,   SVC(ca_file),   SVC(ca_file_line),
				NULL, 0 },
	{ "connect_timeout",	set_msec,  SVC(connect_timeout_ms), 0, NULL,
				0 },
	{ "handshake_timeout",	set_msec,  SVC(handshake_timeout_ms), 0,
				NULL, 0 },
	{ "idle_timeout",	set_msec,  SVC(idle_timeout_ms), 0, NULL, 0 },
	{ "max_sessions",	set_count, SVC(max_sessions), 0, NULL, 0 },
	{ "pin",		set_name,  SVC(pin),       0, pin_names, 0 },
	{ "pin_max_age",	set_days,  SVC(pin_max_age), 0, NULL, 0 },
	{ "cert",		conf_set_later, 0, 0, NULL, 0 },
	{ "key",		conf_set_later, 0, 0, NULL, 0 },
	{ "require_tls_for_login", conf_set_later, 0, 0, NULL, 0 },
	{ "transparent",	set_name,  SVC(transparent), 0,
				transparent_names, 0 },
	{ "so_mark",		conf_set_mark,  SVC(so_mark),   0, NULL, 0 },
	{ NULL,			NULL,      0, 0, NULL, 0 }
};

#define NKEYS(t)	(sizeof(t) / sizeof(t[0]))
_Static_assert(NKEYS(conf_global_keys) <= CONF_KEYS_MAX, "CONF_KEYS_MAX");
_Static_assert(NKEYS(conf_service_keys) <= CONF_KEYS_MAX, "CONF_KEYS_MAX");
