/*
 * admin.h - the daemon's own interfaces: the metrics page
 * (metrics_listen) and the control socket (control_socket), both on the
 * first worker's loop.
 */
#ifndef TLSHIM_ADMIN_H
#define TLSHIM_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "shim/conf.h"

/* admin_start - bind what conf asks for; after workers_init and before
 * the privilege drop (a port below 1024, a socket in /run).  They close
 * when the first worker's server closes (SIGTERM).  false with err. */
bool	admin_start(const struct conf *, unsigned nworkers, char *err,
	    size_t errlen);
/* admin_reloaded - conf is now in force: metrics_listen and
 * control_socket keep their values until a restart, so say so if they
 * changed */
void	admin_reloaded(const struct conf *);

#endif
