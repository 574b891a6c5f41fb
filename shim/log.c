/*
 * log.c - log lines to stderr (foreground) or syslog, by named level.
 *
 * Session lines carry the session id and service first, so that every line
 * of one conversation can be found with one grep.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "shim/log.h"
#include "shim/session.h"

static const char *const level_names[] = {
	"err", "warn", "info", "detail", "proto", "trace"
};
static const int level_syslog[] = {
	LOG_ERR, LOG_WARNING, LOG_INFO, LOG_INFO, LOG_DEBUG, LOG_DEBUG
};

static struct {
	const char	*ident;
	bool		 to_stderr;
	enum log_level	 level;
} logstate = { "tlshimd", true, LOG_L_INFO };

/* log_init - where lines go and from which level on */
void
log_init(const char *ident, bool to_stderr, enum log_level level)
{
	logstate.ident = ident;
	logstate.to_stderr = to_stderr;
	logstate.level = level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_level(enum log_level level)
{
	logstate.level = level;
}

enum log_level
log_get_level(void)
{
	return logstate.level;
}

bool
log_enabled(enum log_level level)
{
	return level <= logstate.level;
}

/* log_parse_level - a level by name, -1 if unknown */
int
log_parse_level(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(level_names[i], name) == 0)
			return (int)i;
	return -1;
}

/* emit - write one finished line */
static void
emit(enum log_level level, const char *line)
{
	if (logstate.to_stderr) {
		/* One fprintf per line: stderr is unbuffered, and one write
		 * keeps lines from two threads from interleaving. */
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s[%ld]: %s: %s\n", stamp,
		    ts.tv_nsec / 1000000, logstate.ident, (long)getpid(),
		    level_names[level], line);
	} else
		syslog(level_syslog[level], "%s", line);
}

void
logmsg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	emit(level, line);
}

void
vslog(enum log_level level, const struct session *s, const char *fmt,
    va_list ap)
{
	char line[2048];
	int n = 0;

	if (!log_enabled(level))
		return;
	if (s != NULL)
		n = snprintf(line, sizeof(line), "%016llx %s %s: ",
		    (unsigned long long)s->id, s->conf->name,
		    sess_state_name(s->state));
	if (n < 0)
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	emit(level, line);
}

void
slog(enum log_level level, const struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vslog(level, s, fmt, ap);
	va_end(ap);
}
