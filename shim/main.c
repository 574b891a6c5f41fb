/*
 * main.c - tlshimd: read the configuration, bind, drop privileges, run.
 *
 *   tlshimd -c FILE [-f] [-t] [-V]
 *
 * -t checks the configuration (and the CA files it names) and exits 0, or
 * 78 (EX_CONFIG) after printing "file:line: message".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <uv.h>

#include "shim/admin.h"
#include "shim/conf.h"
#include "shim/log.h"
#include "shim/posture.h"
#include "shim/server.h"
#include "shim/tls.h"
#include "shim/transparent.h"
#include "shim/worker.h"

#define EX_CONFIG_ERR	78	/* sysexits.h EX_CONFIG */

static void
usage(FILE *f)
{
	fprintf(f, "usage: tlshimd [-c FILE] [-f] [-t] [-V]\n"
	    "  -c FILE  configuration (default %s)\n"
	    "  -f       stay in the foreground, log to stderr\n"
	    "  -t       check the configuration and exit (0 valid, 78 not)\n"
	    "  -V       print the version and exit\n", CONF_DEFAULT_PATH);
}

/* load - the configuration with its TLS credentials, or NULL */
static struct conf *
load(const char *path)
{
	struct conf_error err;
	struct conf *conf;

	if ((conf = conf_load(path, &err)) == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return NULL;
	}
	if (!tls_conf_prepare(conf, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		conf_unref(conf);
		return NULL;
	}
	return conf;
}

/* make_state_dir - the state folder must exist before anything is kept
 * there; create it (one level) if it does not, for the user the daemon
 * becomes: the posture store is written after dropping privileges */
static bool
make_state_dir(const char *dir, const char *user)
{
	struct passwd *pw;
	struct stat st;

	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return true;
		fprintf(stderr, "tlshimd: state_dir %s is not a folder\n", dir);
		return false;
	}
	if (mkdir(dir, 0750) == 0) {
		if (user == NULL || geteuid() != 0 ||
		    (pw = getpwnam(user)) == NULL ||
		    chown(dir, pw->pw_uid, pw->pw_gid) == 0)
			return true;
	}
	fprintf(stderr, "tlshimd: state_dir %s: %s\n", dir, strerror(errno));
	return false;
}

/* drop_privileges - after binding, become the configured user */
static bool
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL) {
		if (geteuid() == 0)
			logmsg(LOG_L_WARN, "running as root: set user = in "
			    "[global] to drop privileges after binding");
		return true;
	}
	if (geteuid() != 0) {
		logmsg(LOG_L_WARN, "not root, so user = %s is not applied",
		    user);
		return true;
	}
	if ((pw = getpwnam(user)) == NULL) {
		logmsg(LOG_L_ERR, "user %s does not exist", user);
		return false;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		logmsg(LOG_L_ERR, "cannot become user %s: %s", user,
		    strerror(errno));
		return false;
	}
	return true;
}

/* daemonize - the classic double step: background, new session, no tty */
static bool
daemonize(void)
{
	int fd;

	switch (fork()) {
	case -1:
		return false;
	case 0:
		break;
	default:
		_exit(0);
	}
	if (setsid() < 0)
		return false;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return chdir("/") == 0;
}

int
main(int argc, char **argv)
{
	const char *path = CONF_DEFAULT_PATH;
	bool foreground = false, check = false;
	char abspath[PATH_MAX], err[CONF_ERR_MAX];
	struct conf *conf;
	unsigned nworkers;
	int c;

	while ((c = getopt(argc, argv, "c:ftVh")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			check = true;
			break;
		case 'V':
			printf("tlshimd %s (GnuTLS %s, libuv %s)\n",
			    PACKAGE_VERSION, gnutls_check_version(NULL),
			    uv_version_string());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;	/* EX_USAGE */
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 64;
	}
	if ((conf = load(path)) == NULL)
		return EX_CONFIG_ERR;
	if (conf->user != NULL && getpwnam(conf->user) == NULL) {
		fprintf(stderr, "%s: user %s does not exist\n", path,
		    conf->user);
		conf_unref(conf);
		return EX_CONFIG_ERR;
	}
	if (check) {
		printf("%s: configuration OK, %zu service%s\n", path,
		    conf->nservices, conf->nservices == 1 ? "" : "s");
		conf_unref(conf);
		return 0;
	}
	/* SIGHUP re-reads the file after chdir("/"). */
	if (realpath(path, abspath) == NULL)
		snprintf(abspath, sizeof(abspath), "%s", path);

	if (!make_state_dir(conf->state_dir, conf->user))
		return 73;	/* EX_CANTCREAT */
	signal(SIGPIPE, SIG_IGN);
	log_init("tlshimd", foreground, (enum log_level)conf->log_level);
	if (!foreground && !daemonize()) {
		fprintf(stderr, "tlshimd: cannot go to the background: %s\n",
		    strerror(errno));
		return 71;	/* EX_OSERR */
	}

	nworkers = workers_count(conf);
	if (!workers_init(conf, abspath, nworkers, err, sizeof(err))) {
		logmsg(LOG_L_ERR, "%s", err);
		if (foreground)
			fprintf(stderr, "tlshimd: %s\n", err);
		return 71;
	}
	/* Metrics and control socket: bound while still root. */
	if (!admin_start(conf, nworkers, err, sizeof(err))) {
		logmsg(LOG_L_ERR, "%s", err);
		if (foreground)
			fprintf(stderr, "tlshimd: %s\n", err);
		return 71;
	}
	/* so_mark needs CAP_NET_ADMIN: kept alone across the drop. */
	transparent_caps_keep(conf);
	if (!drop_privileges(conf->user))
		return 77;	/* EX_NOPERM */
	if (!transparent_caps_check(conf, err, sizeof(err))) {
		logmsg(LOG_L_ERR, "%s", err);
		if (foreground)
			fprintf(stderr, "tlshimd: %s\n", err);
		return 77;
	}
	/* As the user, so that the database is the user's.  Only a missing
	 * thread stops the start: a store that cannot be written yet is
	 * logged and retried while the relay runs. */
	if (!posture_open(conf, err, sizeof(err))) {
		logmsg(LOG_L_ERR, "%s", err);
		return 71;
	}
	logmsg(LOG_L_INFO, "tlshimd %s started with %s, %u worker%s",
	    PACKAGE_VERSION, abspath, nworkers, nworkers == 1 ? "" : "s");
	/* Each worker holds its own reference now. */
	conf_unref(conf);
	workers_run();
	/* Every loop has ended: commit what they left in the queue. */
	posture_close();
	logmsg(LOG_L_INFO, "tlshimd stopped");
	return 0;
}
