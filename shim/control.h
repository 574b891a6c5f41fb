/*
 * control.h - the control socket: `tlshim ctl status|stats|reload`.
 *
 * A Unix stream socket (control_socket, mode 0600, owned by the daemon's
 * user) on the first worker's loop.  A client sends one command, as a
 * plain line ("status\n") or a JSON object ({"command":"status"}), and
 * gets one JSON object back, on one line, before the socket closes:
 * {"ok":true,"command":"status",...} or {"ok":false,"error":"..."}.
 */
#ifndef TLSHIM_CONTROL_H
#define TLSHIM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

struct server;
struct control;

#define CTL_REQ_MAX		1024	/* bytes of one request */
#define CTL_TIMEOUT_MS		5000
#define CTL_CONNS_MAX		8

enum ctl_cmd { CTL_BAD = 0, CTL_STATUS, CTL_STATS, CTL_RELOAD };

/* ctl_parse - the command in a request (len bytes: up to its newline or
 * the end); CTL_BAD with the reason in err */
enum ctl_cmd	ctl_parse(const char *req, size_t len, char *err,
		    size_t errlen);
/* ctl_cmd_name - "status", "stats", "reload" */
const char	*ctl_cmd_name(enum ctl_cmd);

/* What status tells about the daemon. */
struct control_env {
	struct server	*srv;		/* the first worker: conf in force */
	unsigned	 workers;
	const char	*metrics_listen;	/* as started; "" if none */
};

/* control_start - remove a stale socket at path (only if nothing answers
 * there), create the folder if it is missing, bind, and give the socket
 * (and a folder made here) to uid/gid; serve on loop.  Called before the
 * privilege drop.  NULL with err filled. */
struct control	*control_start(uv_loop_t *, const char *path, uid_t uid,
		    gid_t gid, const struct control_env *, char *err,
		    size_t errlen);
/* control_stop - close, and remove the socket file if it is still ours */
void		 control_stop(struct control *);

#endif
