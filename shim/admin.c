/*
 * admin.c - start and stop the metrics page and the control socket.
 *
 * Both are bound at start, as root if tlshimd starts as root: the metrics
 * port may be privileged and the control socket's folder may be /run.  A
 * reload therefore cannot move them (the daemon no longer has the rights
 * to), and changing either takes a restart; admin_reloaded() says so in
 * the log.  They stop with the first worker's server, so that SIGTERM
 * still lets the loop run dry and the daemon exit.
 */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shim/admin.h"
#include "shim/control.h"
#include "shim/log.h"
#include "shim/metrics.h"
#include "shim/metrics_http.h"
#include "shim/oneshot.h"
#include "shim/server.h"
#include "shim/worker.h"

static struct oneshot_srv *metrics_srv;
static struct control *ctl;
static char started_metrics[sizeof(((struct conf_addr *)0)->text)];
static char started_socket[128];
static void (*chained_close)(struct server *);

/* on_first_close - the first worker is done serving: so are we */
static void
on_first_close(struct server *srv)
{
	oneshot_close(metrics_srv);
	metrics_srv = NULL;
	control_stop(ctl);
	ctl = NULL;
	if (chained_close != NULL)
		chained_close(srv);
}

bool
admin_start(const struct conf *conf, unsigned nworkers, char *err,
    size_t errlen)
{
	struct server *srv = workers_first();
	struct control_env env;
	struct passwd *pw;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	metrics_started(time(NULL));
	if (srv == NULL) {
		snprintf(err, errlen, "no worker to run the metrics on");
		return false;
	}
	if (conf->metrics_listen.len > 0) {
		if ((metrics_srv = metrics_http_start(srv->loop,
		    &conf->metrics_listen, err, errlen)) == NULL)
			return false;
		snprintf(started_metrics, sizeof(started_metrics), "%s",
		    conf->metrics_listen.text);
	}
	if (conf->control_socket != NULL) {
		/* The socket belongs to whoever the daemon will be. */
		if (conf->user != NULL && geteuid() == 0 &&
		    (pw = getpwnam(conf->user)) != NULL) {
			uid = pw->pw_uid;
			gid = pw->pw_gid;
		}
		memset(&env, 0, sizeof(env));
		env.srv = srv;
		env.workers = nworkers;
		env.metrics_listen = started_metrics;
		if ((ctl = control_start(srv->loop, conf->control_socket, uid,
		    gid, &env, err, errlen)) == NULL) {
			oneshot_close(metrics_srv);
			metrics_srv = NULL;
			return false;
		}
		snprintf(started_socket, sizeof(started_socket), "%s",
		    conf->control_socket);
	}
	chained_close = srv->on_close;
	srv->on_close = on_first_close;
	return true;
}

void
admin_reloaded(const struct conf *conf)
{
	const char *m = conf->metrics_listen.len > 0 ?
	    conf->metrics_listen.text : "";
	const char *c = conf->control_socket != NULL ?
	    conf->control_socket : "";

	if (strcmp(m, started_metrics) != 0)
		logmsg(LOG_L_WARN, "reload: metrics_listen changed to '%s'; "
		    "it stays '%s' until tlshimd restarts", m,
		    started_metrics);
	if (strcmp(c, started_socket) != 0)
		logmsg(LOG_L_WARN, "reload: control_socket changed to '%s'; "
		    "it stays '%s' until tlshimd restarts", c, started_socket);
}
