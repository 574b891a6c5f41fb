/*
 * ctl.c - `tlshim ctl [-c FILE] [--raw] status|stats|reload`: ask the
 * running daemon through its control socket and print the answer.
 *
 * Only control_socket is read from the file, leniently: a file that the
 * daemon would refuse must still lead to the daemon, so that `reload` can
 * report what is wrong with it.  The daemon answers one JSON object on one
 * line; this prints it indented for a person (--raw: as it came).
 * Exit 0 when the daemon said "ok": true; 3 otherwise, with a message on
 * stderr: no control_socket configured, daemon not running, permission
 * denied, or the daemon's own error (a reload that was not applied).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>

#include "shim/conf.h"
#include "tool/tool.h"

#define EXIT_ERR	3
#define PATH_LEN	sizeof(((struct sockaddr_un *)0)->sun_path)
#define ANSWER_MAX	(4 * 1024 * 1024)
#define WAIT_MS		30000	/* a reload loads certificates: allow time */

static void
usage(FILE *f)
{
	fprintf(f, "usage: tlshim ctl [-c FILE] [--raw] status|stats|reload\n"
	    "  -c FILE  the daemon's configuration, for control_socket "
	    "(default %s)\n"
	    "  --raw    print the daemon's JSON as it came, on one line\n",
	    CONF_DEFAULT_PATH);
}

/* on_ini - keep [global]'s control_socket, whatever else the file says */
static int
on_ini(void *user, const char *section, const char *key, const char *value)
{
	char *path = user;

	if (strcmp(section, "global") == 0 &&
	    strcmp(key, "control_socket") == 0)
		snprintf(path, PATH_LEN, "%s", value);
	return 1;
}

/* ---------------------------------------------------------------- JSON */

/* string_end - past the JSON string starting at s (at its quote) */
static const char *
string_end(const char *s)
{
	for (s++; *s != '\0' && *s != '"'; s++)
		if (*s == '\\' && s[1] != '\0')
			s++;
	return *s == '"' ? s + 1 : s;
}

static void
indent(FILE *f, int depth)
{
	fputc('\n', f);
	for (int i = 0; i < depth; i++)
		fputs("  ", f);
}

/* pretty - the JSON in s, one member per line, two spaces per level; an
 * empty object or array stays "{}" or "[]" */
static void
pretty(FILE *f, const char *s)
{
	int depth = 0;

	while (*s != '\0') {
		const char *e;

		switch (*s) {
		case '"':
			e = string_end(s);
			fwrite(s, 1, (size_t)(e - s), f);
			s = e;
			continue;
		case '{':
		case '[':
			e = s + 1;
			while (*e == ' ' || *e == '\n' || *e == '\r' ||
			    *e == '\t')
				e++;
			if (*e == (*s == '{' ? '}' : ']')) {
				fputc(*s, f);
				fputc(*e, f);
				s = e + 1;
				continue;
			}
			fputc(*s, f);
			indent(f, ++depth);
			break;
		case '}':
		case ']':
			indent(f, depth > 0 ? --depth : 0);
			fputc(*s, f);
			break;
		case ',':
			fputc(',', f);
			indent(f, depth);
			break;
		case ':':
			fputs(": ", f);
			break;
		case ' ': case '\n': case '\r': case '\t':
			break;
		default:
			fputc(*s, f);
		}
		s++;
	}
	fputc('\n', f);
}

/* top_member - the raw text of a member of the top-level object (a
 * string keeps its quotes), NULL if there is none */
static char *
top_member(const char *s, const char *key)
{
	size_t klen = strlen(key);
	int depth = 0;

	for (; *s != '\0'; s++) {
		if (*s == '"') {
			const char *e = string_end(s), *v;

			if (depth == 1 && (size_t)(e - s) == klen + 2 &&
			    strncmp(s + 1, key, klen) == 0) {
				for (v = e; *v == ' '; v++)
					;
				if (*v == ':') {
					for (v++; *v == ' '; v++)
						;
					e = *v == '"' ? string_end(v) :
					    v + strcspn(v, ",}] \n");
					return strndup(v, (size_t)(e - v));
				}
			}
			s = e - 1;
		} else if (*s == '{' || *s == '[')
			depth++;
		else if (*s == '}' || *s == ']')
			depth--;
	}
	return NULL;
}

/* unquote - a JSON string's text, for a message (escapes undone as far as
 * a terminal needs) */
static void
unquote(const char *q, char *out, size_t len)
{
	size_t n = 0;

	if (*q == '"')
		q++;
	for (; *q != '\0' && *q != '"' && n + 1 < len; q++) {
		if (*q == '\\' && q[1] != '\0') {
			q++;
			if (*q == 'n')
				out[n++] = ' ';
			else if (*q == 'u') {
				out[n++] = '?';
				q += strnlen(q + 1, 4);
			} else
				out[n++] = *q;
		} else
			out[n++] = *q;
	}
	out[n] = '\0';
}

/* ------------------------------------------------------------- socket */

/* ask - send cmd on path, read the answer into *ans; false with a
 * message for the operator */
static bool
ask(const char *path, const char *cmd, char **ans, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	size_t len = 0, cap = 0;
	char *buf = NULL, line[32];
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return false;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			snprintf(err, errlen, "tlshimd is not running: "
			    "nothing answers on %s (%s)", path, strerror(e));
		else if (e == EACCES || e == EPERM)
			snprintf(err, errlen, "permission denied on %s: only "
			    "root and the daemon's user may use it", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return false;
	}
	snprintf(line, sizeof(line), "%s\n", cmd);
	if (write(fd, line, strlen(line)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return false;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		ssize_t n;
		int rc = poll(&pfd, 1, WAIT_MS);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			snprintf(err, errlen, "no answer from tlshimd on %s "
			    "within %d s", path, WAIT_MS / 1000);
			goto fail;
		}
		if (len + 4096 + 1 > cap) {
			char *nb;

			cap = cap == 0 ? 16384 : cap * 2;
			if (cap > ANSWER_MAX || (nb = realloc(buf, cap)) ==
			    NULL) {
				snprintf(err, errlen, "answer too long");
				goto fail;
			}
			buf = nb;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len == 0) {
		snprintf(err, errlen, "tlshimd closed %s without an answer",
		    path);
		free(buf);
		return false;
	}
	buf[len] = '\0';
	*ans = buf;
	return true;
fail:
	close(fd);
	free(buf);
	return false;
}

int
tool_ctl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "raw", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cfile = CONF_DEFAULT_PATH, *cmd;
	char path[PATH_LEN] = "";
	char err[CONF_ERR_MAX + 128], msg[512], *ans = NULL, *ok, *e;
	bool raw = false, good;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfile = optarg; break;
		case 'r': raw = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_ERR;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_ERR;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "status") != 0 && strcmp(cmd, "stats") != 0 &&
	    strcmp(cmd, "reload") != 0) {
		fprintf(stderr, "tlshim ctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_ERR;
	}
	if (ini_parse(cfile, on_ini, path) < 0) {
		fprintf(stderr, "tlshim ctl: %s: cannot open: %s\n", cfile,
		    strerror(errno));
		return EXIT_ERR;
	}
	if (path[0] == '\0') {
		fprintf(stderr, "tlshim ctl: no control socket configured in "
		    "%s (set control_socket in [global])\n", cfile);
		return EXIT_ERR;
	}
	good = ask(path, cmd, &ans, err, sizeof(err));
	if (!good) {
		fprintf(stderr, "tlshim ctl: %s\n", err);
		return EXIT_ERR;
	}
	if (raw)
		fputs(ans, stdout);
	else
		pretty(stdout, ans);
	ok = top_member(ans, "ok");
	good = ok != NULL && strcmp(ok, "true") == 0;
	if (!good) {
		e = top_member(ans, "error");
		unquote(e != NULL ? e : "\"no \\\"ok\\\" in the answer\"", msg,
		    sizeof(msg));
		fprintf(stderr, "tlshim ctl: %s: %s\n", cmd, msg);
		free(e);
	}
	free(ok);
	free(ans);
	return good ? 0 : EXIT_ERR;
}
