/*
 * conf.c - the configuration: name tables, the finished struct conf, its
 * defaults, loading from a file and reference counting.
 *
 * Reading the INI text and checking each key lives in conf_parse.c; this
 * file owns what a struct conf looks like once it is complete (defaults,
 * inheritance from [global]) and how it is freed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "shim/conf.h"
#include "shim/conf_int.h"
#include "shim/log.h"
#include "shim/tls.h"

/*
 * One table per enum: the parser reads it, level_name() and friends print
 * it, so a value is spelled the same in the file, the logs and `-t`.
 */
const struct name_code level_names[] = {
	{ "none",	LEV_NONE,	false },
	{ "may",	LEV_MAY,	false },
	{ "encrypt",	LEV_ENCRYPT,	false },
	{ "dane",	LEV_DANE,	false },
	{ "dane-only",	LEV_DANE_ONLY,	false },
	{ "verify",	LEV_VERIFY,	false },
	{ NULL,		-1,		false }
};
const struct name_code tls_mode_names[] = {
	{ "starttls",	TLSM_STARTTLS,	false },
	{ "implicit",	TLSM_IMPLICIT,	false },
	{ "auto",	TLSM_AUTO,	false },
	{ NULL,		-1,		false }
};
const struct name_code direction_names[] = {
	{ "outbound",	DIR_OUTBOUND,	false },
	{ "inbound",	DIR_INBOUND,	true },
	{ NULL,		-1,		false }
};
const struct name_code transparent_names[] = {
	{ "redirect",	TP_REDIRECT,	false },
	{ "tproxy",	TP_TPROXY,	false },
	{ NULL,		-1,		false }
};
const struct name_code dnssec_names[] = {
	{ "trust-ad",	CONF_DNSSEC_TRUST_AD,	false },
	{ "off",	CONF_DNSSEC_OFF,	false },
	{ NULL,		-1,			false }
};
const struct name_code log_level_names[] = {
	{ "err",	LOG_L_ERR,	false },
	{ "warn",	LOG_L_WARN,	false },
	{ "info",	LOG_L_INFO,	false },
	{ "detail",	LOG_L_DETAIL,	false },
	{ "proto",	LOG_L_PROTO,	false },
	{ "trace",	LOG_L_TRACE,	false },
	{ NULL,		-1,		false }
};
const struct name_code pin_names[] = {
	{ "no",		PIN_NO,		false },
	{ "yes",	PIN_YES,	false },
	{ "report-only", PIN_REPORT_ONLY, false },
	{ NULL,		-1,		false }
};
/* Several spellings per value: printing uses the first, "yes"/"no". */
const struct name_code bool_names[] = {
	{ "yes", 1, false }, { "no", 0, false },
	{ "true", 1, false }, { "false", 0, false },
	{ "on", 1, false }, { "off", 0, false },
	{ "1", 1, false }, { "0", 0, false },
	{ NULL, -1, false }
};

/* name_lookup - the entry spelled name (any case), NULL if none */
const struct name_code *
name_lookup(const struct name_code *t, const char *name)
{
	for (; t->name != NULL; t++)
		if (strcasecmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* name_of - the first spelling of code, "?" for a value not in t */
static const char *
name_of(const struct name_code *t, int code)
{
	for (; t->name != NULL; t++)
		if (t->code == code)
			return t->name;
	return "?";
}

/* level_name - "may", "dane", ... */
const char *
level_name(enum tls_level l)
{
	return name_of(level_names, (int)l);
}

/* tls_mode_name - "starttls" or "implicit" */
const char *
tls_mode_name(enum tls_mode m)
{
	return name_of(tls_mode_names, (int)m);
}

/* direction_name - "outbound" or "inbound" */
const char *
direction_name(enum direction d)
{
	return name_of(direction_names, (int)d);
}

/* upstream_kind_name - "host", "mx", "srv" or "transparent" */
const char *
upstream_kind_name(enum upstream_kind k)
{
	static const char *const names[] = { "host", "mx", "srv",
	    "transparent" };

	return k < UPK_LAST ? names[k] : "?";
}

/* pin_mode_name - "no", "yes" or "report-only" */
const char *
pin_mode_name(enum pin_mode m)
{
	return name_of(pin_names, (int)m);
}

/* level_requires_tls - may this level ever relay in plaintext? */
bool
level_requires_tls(enum tls_level l)
{
	/* The enum is ordered: none and may are the only levels that ever
	 * fall back to plaintext. */
	return l >= LEV_ENCRYPT;
}

/* conf_new - an empty configuration holding the [global] defaults */
struct conf *
conf_new(const char *name)
{
	struct conf	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->refs = 1;
	c->log_level = LOG_L_INFO;
	c->posture_retention = CONF_DEFAULT_POSTURE_RETENTION;
	c->path = strdup(name);
	c->state_dir = strdup(CONF_DEFAULT_STATE_DIR);
	c->ca_file = strdup(CONF_DEFAULT_CA_FILE);
	if (c->path == NULL || c->state_dir == NULL || c->ca_file == NULL) {
		conf_unref(c);
		return NULL;
	}
	return c;
}

/*
 * conf_inherit - give each service what it did not set itself: [global]'s
 * values, which may have been read after the service's section, or the
 * built-in defaults.  dflt holds [global]'s service defaults, 0 where
 * [global] did not set them either.  False only when out of memory.
 */
bool
conf_inherit(struct conf *c, const struct conf_service *dflt,
    const char *helo)
{
	for (size_t i = 0; i < c->nservices; i++) {
		struct conf_service *s = &c->services[i];

#define INHERIT(f, builtin) \
		if (s->f == 0) \
			s->f = dflt->f != 0 ? dflt->f : (builtin)
		INHERIT(connect_timeout_ms, CONF_DEFAULT_CONNECT_TIMEOUT);
		INHERIT(handshake_timeout_ms, CONF_DEFAULT_HANDSHAKE_TIMEOUT);
		INHERIT(idle_timeout_ms, CONF_DEFAULT_IDLE_TIMEOUT);
		INHERIT(max_sessions, CONF_DEFAULT_MAX_SESSIONS);
		INHERIT(so_mark, 0);
		INHERIT(pin_max_age, CONF_DEFAULT_PIN_MAX_AGE);
#undef INHERIT
		if (s->ca_file == NULL) {
			if ((s->ca_file = strdup(c->ca_file)) == NULL)
				return false;
			s->ca_file_line = c->ca_file_line;
		}
		if (s->helo_name == NULL &&
		    (s->helo_name = strdup(helo)) == NULL)
			return false;
	}
	return true;
}

/* conf_set_error - fill err with "name:line: message" ("name: ..." if 0) */
void
conf_set_error(struct conf_error *err, const char *name, int line,
    const char *msg)
{
	int	 n;

	if (err == NULL)
		return;
	if (line > 0)
		n = snprintf(err->msg, sizeof(err->msg), "%s:%d: %s", name,
		    line, msg);
	else
		n = snprintf(err->msg, sizeof(err->msg), "%s: %s", name, msg);
	/* A truncated message still names the file and line, which is what
	 * the operator needs first. */
	if (n < 0)
		err->msg[0] = '\0';
	err->line = line;
}

/* Larger than any sane configuration; a guard against reading /dev/zero. */
#define CONF_FILE_MAX	(1024 * 1024)

/* conf_load - read and check a file; NULL with *err filled on error */
struct conf *
conf_load(const char *path, struct conf_error *err)
{
	struct conf	*c;
	FILE		*f;
	char		*text, msg[CONF_ERR_MAX];
	size_t		 len, n;
	int		 saved;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
		conf_set_error(err, path, 0, msg);
		return NULL;
	}
	/* One byte more than the limit tells "too large" from "just fits". */
	if ((text = malloc(CONF_FILE_MAX + 1)) == NULL) {
		fclose(f);
		conf_set_error(err, path, 0, "out of memory");
		return NULL;
	}
	len = 0;
	while ((n = fread(text + len, 1, CONF_FILE_MAX + 1 - len, f)) > 0)
		len += n;
	saved = errno;
	if (ferror(f)) {
		snprintf(msg, sizeof(msg), "cannot read: %s", strerror(saved));
		conf_set_error(err, path, 0, msg);
		c = NULL;
	} else if (len > CONF_FILE_MAX) {
		snprintf(msg, sizeof(msg), "file too large (max %d bytes)",
		    CONF_FILE_MAX);
		conf_set_error(err, path, 0, msg);
		c = NULL;
	} else
		c = conf_parse(text, len, path, err);
	fclose(f);
	free(text);
	return c;
}

/* conf_ref - one more holder of c */
struct conf *
conf_ref(struct conf *c)
{
	/* Sessions on every worker thread hold references. */
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

/* conf_unref - drop one reference; the last one frees everything */
void
conf_unref(struct conf *c)
{
	if (c == NULL || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < c->nservices; i++) {
		struct conf_service *s = &c->services[i];

		free(s->name);
		free(s->upstream_host);
		free(s->helo_name);
		free(s->ca_file);
		if (s->tls_client != NULL)
			tls_client_free(s->tls_client);
	}
	free(c->services);
	free(c->path);
	free(c->state_dir);
	free(c->ca_file);
	free(c->user);
	free(c->control_socket);
	free(c);
}

/* conf_find_service - by section name, NULL if absent */
const struct conf_service *
conf_find_service(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}
