/*
 * conf_int.h - private to conf.c, conf_parse.c and conf_keys.c: the name
 * tables, the parser state the key setters work on, and the helpers the
 * three share.
 */
#ifndef TLSHIM_CONF_INT_H
#define TLSHIM_CONF_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "shim/conf.h"

/* One spelling of one enum value.  later: designed (DESIGN.md) but not
 * implemented yet, so the parser refuses it with a clear message rather
 * than calling it unknown. */
struct name_code {
	const char	*name;
	int		 code;
	bool		 later;
};

extern const struct name_code level_names[];
extern const struct name_code tls_mode_names[];
extern const struct name_code direction_names[];
extern const struct name_code log_level_names[];
extern const struct name_code dnssec_names[];
extern const struct name_code transparent_names[];
extern const struct name_code bool_names[];
extern const struct name_code pin_names[];

/* name_lookup - the entry spelled name (any case), NULL if none */
const struct name_code *name_lookup(const struct name_code *,
		    const char *name);

/* conf_new - an empty configuration holding the [global] defaults */
struct conf	*conf_new(const char *name);
/* conf_inherit - fill what services left unset from dflt and built-ins */
bool		 conf_inherit(struct conf *, const struct conf_service *dflt,
		    const char *helo);
/* conf_set_error - "name:line: msg", or "name: msg" when line is 0 */
void		 conf_set_error(struct conf_error *, const char *name,
		    int line, const char *msg);

/* ---------------------------------------------------------------- parser */

#define CONF_KEYS_MAX	32		/* entries in the largest key table */
#define CONF_LATER	"is not supported by this version of tlshim yet"

struct conf_parser;
struct conf_key;

/* A setter checks one value and stores it in field; false after
 * conf_perr(). */
typedef bool	conf_setter(struct conf_parser *, const struct conf_key *,
		    void *field, const char *value);

enum {
	KF_MULTI = 1,			/* may be given more than once */
	KF_DEFAULTS = 2			/* [global]: a default for services */
};

struct conf_key {
	const char		*name;
	conf_setter		*set;
	size_t			 off;		/* the field it fills */
	size_t			 line_off;	/* its line's int field, or 0 */
	const struct name_code	*names;		/* for set_name */
	unsigned		 flags;
};

/* Where each listen address was given, for the duplicate message. */
struct svc_lines {
	int		 listen[CONF_MAX_LISTEN];
};

/* The state of one conf_parse(); conf_parse.c owns it. */
struct conf_parser {
	struct conf		*conf;		/* being built */
	const char		*name;		/* file name for messages */
	const char		*text;
	size_t			 len, pos;
	int			 lineno;	/* of the line inih is on */
	struct conf_error	*err;
	bool			 failed;	/* an error is recorded: stop */
	enum { SEC_NONE, SEC_GLOBAL, SEC_SERVICE } sec;
	const struct conf_key	*keys;		/* the current section's */
	int			 set_line[CONF_KEYS_MAX]; /* 0: not set */
	int			 global_line;	/* of "[global]", 0: none yet */
	struct svc_lines	*lines;		/* one per service */
	struct conf_service	 dflt;		/* [global]'s for services */
};

/* Section key tables (conf_keys.c). */
extern const struct conf_key conf_global_keys[];
extern const struct conf_key conf_service_keys[];
/* conf_bad_value - "invalid value 'V' for 'KEY': expected ..."; false */
bool		 conf_bad_value(struct conf_parser *, const struct conf_key *,
		    const char *value, const char *expected);
/* The setters of network values (conf_net.c), for the key tables. */
conf_setter	 conf_set_listen, conf_set_upstream, conf_set_resolver,
		 conf_set_addr, conf_set_sockpath, conf_set_mark,
		 conf_set_dns_listen, conf_set_helo;
/* conf_set_later - the setter of designed keys not implemented yet */
bool		 conf_set_later(struct conf_parser *, const struct conf_key *,
		    void *field, const char *value);
/* conf_check_transparent - what upstream = transparent asks of the rest
 * of a finished service section (conf_net.c); false after conf_perr() */
bool		 conf_check_transparent(struct conf_parser *,
		    struct conf_service *);
/* conf_dns_name_ok - a host name we accept (conf_net.c) */
bool		 conf_dns_name_ok(const char *s, size_t n);
/* conf_perr - record the first error; returns false (conf_parse.c) */
bool		 conf_perr(struct conf_parser *, int line, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/* conf_cur_svc - the service whose section is being read */
struct conf_service *conf_cur_svc(struct conf_parser *);

#endif
