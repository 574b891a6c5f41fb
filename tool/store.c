/*
 * store.c - the posture database as the tool's readers open it: where it
 * is (state_dir from the configuration) and how to open it read-only
 * beside a running tlshimd.  `tlshim posture` and `tlshim report` share
 * this, so both find the same file and say the same when it is missing.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "shim/conf.h"
#include "shim/posture.h"
#include "tool/tool.h"

/* tool_store_path - state_dir/posture.db from the configuration; without
 * -c and without the default file, the default state_dir */
bool
tool_store_path(const char *prog, const char *cfile, char *path,
    size_t len)
{
	struct conf_error	 err;
	struct conf		*c;
	const char		*file;

	file = cfile != NULL ? cfile : CONF_DEFAULT_PATH;
	if (cfile == NULL && access(file, F_OK) != 0 && errno == ENOENT) {
		snprintf(path, len, "%s/%s", CONF_DEFAULT_STATE_DIR,
		    POSTURE_DB_NAME);
		return true;
	}
	if ((c = conf_load(file, &err)) == NULL) {
		fprintf(stderr, "%s: %s\n", prog, err.msg);
		return false;
	}
	snprintf(path, len, "%s/%s", c->state_dir, POSTURE_DB_NAME);
	conf_unref(c);
	return true;
}

/*
 * tool_store_open - read-only.  Run as root on the daemon's file, become
 * its owner first: a reader of a WAL database may create the -shm and
 * -wal files, and root's would lock the daemon out of its own store.
 */
sqlite3 *
tool_store_open(const char *prog, const char *path)
{
	struct stat	 st;
	sqlite3		*db;
	sqlite3_stmt	*v;
	int		 version = 0;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			fprintf(stderr, "%s: no posture database at %s yet: "
			    "tlshimd creates it when it starts (is state_dir "
			    "right?)\n", prog, path);
		else
			fprintf(stderr, "%s: %s: %s\n", prog, path,
			    strerror(errno));
		return NULL;
	}
	if (geteuid() == 0 && st.st_uid != 0 &&
	    (setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0)) {
		fprintf(stderr, "%s: cannot become the owner of %s: %s\n",
		    prog, path, strerror(errno));
		return NULL;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "%s: %s: %s\n", prog, path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &v, NULL) ==
	    SQLITE_OK && sqlite3_step(v) == SQLITE_ROW)
		version = sqlite3_column_int(v, 0);
	else
		fprintf(stderr, "%s: %s: %s\n", prog, path,
		    sqlite3_errmsg(db));
	sqlite3_finalize(v);
	if (version < 1) {
		if (version == 0)
			fprintf(stderr, "%s: %s holds no posture records "
			    "yet\n", prog, path);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

const char *
tool_utc(char *buf, size_t len, time_t t)
{
	struct tm tm;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (gmtime_r(&t, &tm) != NULL)
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}
