/*
 * worker.h - several event loops, one per thread, each a struct server
 * with its own listeners on the same addresses (SO_REUSEPORT: the kernel
 * spreads new connections).  Nothing is shared on the hot path: a session
 * lives and dies on the loop that accepted it.
 */
#ifndef TLSHIM_WORKER_H
#define TLSHIM_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "shim/conf.h"

struct server;

/* workers_count - how many loops conf asks for ("auto": online CPUs) */
unsigned	workers_count(const struct conf *);
/* workers_init - n servers bound to conf's addresses (nothing runs yet);
 * false with a message */
bool		workers_init(struct conf *, const char *conf_path, unsigned n,
		    char *err, size_t errlen);
/* workers_reload - load the configuration file again and apply it on
 * every worker (SIGHUP); on the first worker's loop only.  false with
 * the reason in err (may be NULL) when the running one stays. */
bool		workers_reload(char *err, size_t errlen);
/* workers_first - the first worker's server, on the main thread */
struct server	*workers_first(void);
/* workers_run - start the threads, run the first loop here until every
 * loop is done (SIGTERM), and join */
void		workers_run(void);

#endif
