/*
 * log.h - logging with named verbosity levels.
 *
 * In the foreground (-f) lines go to stderr, otherwise to syslog.  Every
 * line about a session starts with the session id and service, so one grep
 * finds a whole conversation.
 */
#ifndef TLSHIM_LOG_H
#define TLSHIM_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_L_ERR = 0,		/* something is broken */
	LOG_L_WARN,		/* something is odd, service goes on */
	LOG_L_INFO,		/* ops: start, stop, one summary per session */
	LOG_L_DETAIL,		/* session milestones: connected, TLS up */
	LOG_L_PROTO,		/* protocol lines (credentials masked) */
	LOG_L_TRACE		/* everything */
};

struct session;

void	log_init(const char *ident, bool to_stderr, enum log_level);
void	log_set_level(enum log_level);
enum log_level log_get_level(void);
bool	log_enabled(enum log_level);
/* log_parse_level - "err".."trace" to a level, -1 if unknown */
int	log_parse_level(const char *);

void	logmsg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* slog - a line about one session; s may be NULL */
void	slog(enum log_level, const struct session *s, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	vslog(enum log_level, const struct session *s, const char *fmt,
	    va_list) __attribute__((format(printf, 3, 0)));

#endif
