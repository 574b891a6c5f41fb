/*
 * control.c - the control socket: one command in, one JSON answer out.
 *
 * Who may talk is decided twice: the socket file is 0600 and belongs to
 * the daemon's user, so nobody else can connect at all; and the peer's
 * credentials (SO_PEERCRED) must be root's or the daemon's own, which
 * still holds if someone loosens the file's mode or hands the socket on.
 * Commands run on the first worker's loop, like SIGHUP's reload.
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "plugins/proto.h"
#include "shim/conf.h"
#include "shim/control.h"
#include "shim/log.h"
#include "shim/metrics.h"
#include "shim/oneshot.h"
#include "shim/sbuf.h"
#include "shim/server.h"
#include "shim/worker.h"

#define PATH_LEN	sizeof(((struct sockaddr_un *)0)->sun_path)

struct control {
	struct oneshot_srv	*srv;
	struct control_env	 env;
	char			 path[PATH_LEN];
	dev_t			 dev;		/* of the socket we made */
	ino_t			 ino;
	uint64_t		 started_ns;	/* uv_hrtime() at start */
};

static const char *const cmd_names[] = { "", "status", "stats", "reload" };

const char *
ctl_cmd_name(enum ctl_cmd c)
{
	return (unsigned)c <= CTL_RELOAD ? cmd_names[c] : "";
}

/* ---------------------------------------------------------------- parser */

static const char *
skip_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' ||
	    *s == '\n'))
		s++;
	return s;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* json_string - a JSON string at *sp into out (NUL-terminated, cut at
 * len); false if it is not one.  \u escapes beyond ASCII become '?': no
 * command has them, and the text only goes into error messages. */
static bool
json_string(const char **sp, const char *end, char *out, size_t len)
{
	const char *s = *sp;
	size_t n = 0;

	if (s >= end || *s++ != '"')
		return false;
	while (s < end && *s != '"') {
		char c = *s++;

		if ((unsigned char)c < 0x20)
			return false;
		if (c == '\\') {
			if (s >= end)
				return false;
			switch ((c = *s++)) {
			case '"': case '\\': case '/':
				break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				unsigned v = 0;

				for (int i = 0; i < 4; i++, s++) {
					int x = s < end ? hexval(*s) : -1;

					if (x < 0)
						return false;
					v = v * 16 + (unsigned)x;
				}
				c = v > 0 && v < 0x80 ? (char)v : '?';
				break;
			}
			default:
				return false;
			}
		}
		if (n + 1 < len)
			out[n++] = c;
	}
	if (s >= end)
		return false;
	out[n] = '\0';
	*sp = s + 1;
	return true;
}

/* json_scalar - skip a number, true, false or null */
static bool
json_scalar(const char **sp, const char *end)
{
	const char *s = *sp;

	while (s < end && (strchr("-+.0123456789eE", *s) != NULL ||
	    (*s >= 'a' && *s <= 'z')))
		s++;
	if (s == *sp)
		return false;
	*sp = s;
	return true;
}

/* json_command - the "command" member of a flat JSON object */
static bool
json_command(const char *s, const char *end, char *cmd, size_t len,
    char *err, size_t errlen)
{
	char key[64], val[64];
	bool found = false;

	s = skip_ws(s + 1, end);		/* past '{' */
	if (s < end && *s == '}')
		goto missing;
	for (;;) {
		if (!json_string(&s, end, key, sizeof(key)))
			goto bad;
		s = skip_ws(s, end);
		if (s >= end || *s++ != ':')
			goto bad;
		s = skip_ws(s, end);
		if (s < end && *s == '"') {
			if (!json_string(&s, end, val, sizeof(val)))
				goto bad;
			if (strcmp(key, "command") == 0) {
				snprintf(cmd, len, "%s", val);
				found = true;
			}
		} else if (strcmp(key, "command") == 0) {
			snprintf(err, errlen, "\"command\" must be a string");
			return false;
		} else if (!json_scalar(&s, end))
			goto bad;
		s = skip_ws(s, end);
		if (s < end && *s == ',') {
			s = skip_ws(s + 1, end);
			continue;
		}
		if (s < end && *s == '}')
			break;
		goto bad;
	}
	if (skip_ws(s + 1, end) != end)
		goto bad;
	if (found)
		return true;
missing:
	snprintf(err, errlen, "no \"command\" in the request");
	return false;
bad:
	snprintf(err, errlen, "the request is not a flat JSON object");
	return false;
}

/* ctl_parse - "status" on a line of its own (blanks around it are fine),
 * or {"command":"status"} */
enum ctl_cmd
ctl_parse(const char *req, size_t len, char *err, size_t errlen)
{
	const char *end, *s = req, *nl;
	char cmd[64];
	size_t n;

	if ((nl = memchr(req, '\n', len)) != NULL)
		len = (size_t)(nl - req);
	end = req + len;
	s = skip_ws(s, end);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r'))
		end--;
	if (s == end) {
		snprintf(err, errlen, "empty request: expected status, stats "
		    "or reload");
		return CTL_BAD;
	}
	if (*s == '{') {
		if (!json_command(s, end, cmd, sizeof(cmd), err, errlen))
			return CTL_BAD;
	} else {
		n = (size_t)(end - s);
		snprintf(cmd, sizeof(cmd), "%.*s", (int)(n < sizeof(cmd) ?
		    n : sizeof(cmd) - 1), s);
		if (n >= sizeof(cmd))
			cmd[sizeof(cmd) - 2] = '?';	/* too long anyway */
	}
	for (int c = CTL_STATUS; c <= CTL_RELOAD; c++)
		if (strcmp(cmd, cmd_names[c]) == 0)
			return (enum ctl_cmd)c;
	snprintf(err, errlen, "unknown command '%.40s': expected status, "
	    "stats or reload", cmd);
	return CTL_BAD;
}

/* --------------------------------------------------------------- answers */

static void
answer_error(struct sbuf *out, const char *cmd, const char *msg)
{
	sbuf_puts(out, "{\"ok\":false,");
	if (cmd != NULL)
		sbuf_printf(out, "\"command\":\"%s\",", cmd);
	sbuf_puts(out, "\"error\":");
	sbuf_json_str(out, msg);
	sbuf_puts(out, "}\n");
}

struct active_of {
	const char	*name;
	unsigned	 active;
};

static void
find_active(void *arg, const char *name, unsigned active)
{
	struct active_of *a = arg;

	if (strcmp(a->name, name) == 0)
		a->active = active;
}

/* upstream_text - the upstream as the configuration writes it */
static void
upstream_text(const struct conf_service *svc, char *buf, size_t len)
{
	const char *h = svc->upstream_host != NULL ? svc->upstream_host : "";

	switch (svc->upstream_kind) {
	case UPK_HOST:
		snprintf(buf, len, strchr(h, ':') != NULL ? "[%s]:%u" :
		    "%s:%u", h, svc->upstream_port);
		break;
	case UPK_MX:
		snprintf(buf, len, "mx:%s", h);
		break;
	case UPK_SRV:
		snprintf(buf, len, "srv%s%s", h[0] != '\0' ? ":" : "", h);
		break;
	default:		/* transparent: each connection's own */
		snprintf(buf, len, "%s",
		    upstream_kind_name(svc->upstream_kind));
	}
}

static void
answer_status(struct control *ctl, struct sbuf *out)
{
	const struct server *srv = ctl->env.srv;
	const struct conf *conf = srv->conf;
	char up[320];

	sbuf_printf(out, "{\"ok\":true,\"command\":\"status\",\"version\":"
	    "\"%s\",\"pid\":%ld,\"uptime\":%llu,\"workers\":%u,\"config\":",
	    PACKAGE_VERSION, (long)getpid(),
	    (unsigned long long)((uv_hrtime() - ctl->started_ns) /
	    1000000000u), ctl->env.workers);
	sbuf_json_str(out, srv->conf_path);
	sbuf_printf(out, ",\"draining\":%s,\"metrics_listen\":",
	    srv->draining ? "true" : "false");
	sbuf_json_str(out, ctl->env.metrics_listen);
	sbuf_puts(out, ",\"control_socket\":");
	sbuf_json_str(out, ctl->path);
	sbuf_puts(out, ",\"services\":[");
	for (size_t i = 0; i < conf->nservices; i++) {
		const struct conf_service *svc = &conf->services[i];
		struct active_of a = { svc->name, 0 };

		server_active_each(find_active, &a);
		upstream_text(svc, up, sizeof(up));
		sbuf_puts(out, i > 0 ? ",{\"name\":" : "{\"name\":");
		sbuf_json_str(out, svc->name);
		sbuf_printf(out, ",\"protocol\":\"%s\",\"direction\":\"%s\","
		    "\"listen\":[", svc->proto->name,
		    direction_name(svc->direction));
		for (size_t j = 0; j < svc->nlisten; j++) {
			if (j > 0)
				sbuf_puts(out, ",");
			sbuf_json_str(out, svc->listen[j].text);
		}
		sbuf_puts(out, "],\"upstream\":");
		sbuf_json_str(out, up);
		sbuf_printf(out, ",\"security\":\"%s\","
		    "\"active_sessions\":%u}", level_name(svc->level),
		    a.active);
	}
	sbuf_puts(out, "]}\n");
}

static void
answer_stats(struct sbuf *out)
{
	struct metrics_snap m;
	struct sbuf j;

	if (!metrics_snapshot(&m)) {
		answer_error(out, "stats", "out of memory");
		return;
	}
	sbuf_init(&j);
	metrics_json(&m, &j);
	metrics_snap_free(&m);
	/* The same object, with "ok" and "command" in front. */
	sbuf_puts(out, "{\"ok\":true,\"command\":\"stats\",");
	sbuf_puts(out, sbuf_str(&j) + 1);
	sbuf_puts(out, "\n");
	if (!sbuf_ok(&j))
		out->failed = true;
	sbuf_free(&j);
}

static void
answer_reload(struct sbuf *out)
{
	char err[CONF_ERR_MAX];

	err[0] = '\0';
	logmsg(LOG_L_INFO, "reload asked for on the control socket");
	if (workers_reload(err, sizeof(err))) {
		sbuf_puts(out, "{\"ok\":true,\"command\":\"reload\","
		    "\"applied\":true}\n");
		return;
	}
	sbuf_puts(out, "{\"ok\":false,\"command\":\"reload\",\"applied\":"
	    "false,\"error\":");
	sbuf_json_str(out, err[0] != '\0' ? err : "reload failed");
	sbuf_puts(out, "}\n");
}

static bool
line_complete(const char *buf, size_t len)
{
	return memchr(buf, '\n', len) != NULL;
}

/* admit - root, or the daemon's own user */
static bool
admit(void *arg, int fd, struct sbuf *out)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	(void)arg;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    (cred.uid == 0 || cred.uid == geteuid()))
		return true;
	logmsg(LOG_L_WARN, "control socket: refused a client with uid %ld "
	    "(only root and uid %ld may use it)",
	    len == sizeof(cred) ? (long)cred.uid : -1L, (long)geteuid());
	answer_error(out, NULL, "permission denied: only root and the "
	    "daemon's user may use the control socket");
	return false;
}

static void
answer(void *arg, const char *buf, size_t len, enum oneshot_end how,
    struct sbuf *out)
{
	struct control *ctl = arg;
	char err[160];
	enum ctl_cmd cmd;

	if (how == OS_TIMEOUT || (how == OS_EOF && len == 0))
		return;
	if (how == OS_TOOBIG) {
		answer_error(out, NULL, "request too long");
		return;
	}
	switch ((cmd = ctl_parse(buf, len, err, sizeof(err)))) {
	case CTL_STATUS:
		answer_status(ctl, out);
		break;
	case CTL_STATS:
		answer_stats(out);
		break;
	case CTL_RELOAD:
		answer_reload(out);
		break;
	default:
		answer_error(out, NULL, err);
	}
	if (cmd != CTL_BAD)
		logmsg(LOG_L_DETAIL, "control socket: %s", ctl_cmd_name(cmd));
}

static const struct oneshot_ops ctl_ops = {
	.name = "control socket",
	.req_max = CTL_REQ_MAX,
	.timeout_ms = CTL_TIMEOUT_MS,
	.conns_max = CTL_CONNS_MAX,
	.complete = line_complete,
	.admit = admit,
	.answer = answer,
};

/* ------------------------------------------------------------ the socket */

/* make_folder - the socket's folder, made (one level) if missing and then
 * given to the daemon's user, who must be able to remove the socket at
 * exit; a folder that exists is left as it is */
static bool
make_folder(const char *path, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	char copy[PATH_LEN];
	const char *dir;
	struct stat st;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return true;
		snprintf(err, errlen, "control_socket %s: %s is not a folder",
		    path, dir);
		return false;
	}
	if (errno != ENOENT || mkdir(dir, 0750) < 0) {
		snprintf(err, errlen, "control_socket %s: folder %s: %s",
		    path, dir, strerror(errno));
		return false;
	}
	if (geteuid() == 0 && uid != (uid_t)-1 && chown(dir, uid, gid) < 0) {
		snprintf(err, errlen, "control_socket %s: chown %s: %s", path,
		    dir, strerror(errno));
		return false;
	}
	return true;
}

/* clear_stale - a socket file left by a daemon that died is removed, but
 * only when nothing answers on it: a running daemon keeps its socket */
static bool
clear_stale(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc, e;

	if (lstat(sun->sun_path, &st) < 0)
		return true;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control_socket %s exists and is not a "
		    "socket", sun->sun_path);
		return false;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return false;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "control_socket %s: another process "
		    "answers on it (is tlshimd already running?)",
		    sun->sun_path);
		return false;
	}
	if (e != ECONNREFUSED && e != ENOENT) {
		snprintf(err, errlen, "control_socket %s: %s", sun->sun_path,
		    strerror(e));
		return false;
	}
	if (unlink(sun->sun_path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "control_socket %s: cannot remove the "
		    "stale socket: %s", sun->sun_path, strerror(errno));
		return false;
	}
	logmsg(LOG_L_INFO, "removed a stale control socket %s",
	    sun->sun_path);
	return true;
}

struct control *
control_start(uv_loop_t *loop, const char *path, uid_t uid, gid_t gid,
    const struct control_env *env, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct control *ctl;
	struct stat st;
	mode_t old;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control_socket %s: path too long",
		    path);
		return NULL;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (!make_folder(path, uid, gid, err, errlen) ||
	    !clear_stale(&sun, err, errlen))
		return NULL;
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->env = *env;
	ctl->started_ns = uv_hrtime();
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		free(ctl);
		return NULL;
	}
	/* Made 0600 from the start: no moment where others could connect. */
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || (geteuid() == 0 &&
	    uid != (uid_t)-1 && chown(path, uid, gid) < 0) ||
	    stat(path, &st) < 0) {
		snprintf(err, errlen, "control_socket %s: %s", path,
		    strerror(errno));
		if (rc == 0)
			unlink(path);
		close(fd);
		free(ctl);
		return NULL;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	if ((ctl->srv = oneshot_open(loop, fd, true, &ctl_ops, ctl, err,
	    errlen)) == NULL) {
		unlink(path);
		free(ctl);
		return NULL;
	}
	logmsg(LOG_L_INFO, "control socket %s", path);
	return ctl;
}

/* control_stop - the socket file goes too, if it is still the one made
 * here (a second daemon may have replaced it); after the privilege drop
 * that needs a folder the daemon's user may write, hence make_folder */
void
control_stop(struct control *ctl)
{
	struct stat st;

	if (ctl == NULL)
		return;
	oneshot_close(ctl->srv);
	if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino && unlink(ctl->path) < 0)
		logmsg(LOG_L_DETAIL, "cannot remove the control socket %s: "
		    "%s", ctl->path, strerror(errno));
	free(ctl);
}
