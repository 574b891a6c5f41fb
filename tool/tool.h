/*
 * tool.h - the subcommands of the `tlshim` tool, one file each.
 *
 * Each takes the arguments after "tlshim" (argv[0] is the subcommand's
 * name) and returns the process's exit status.
 */
#ifndef TLSHIM_TOOL_H
#define TLSHIM_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct sqlite3;

/* tool_probe - `tlshim probe URL`: exit 0 authenticated, 1 encrypted
 * only, 2 plaintext or refused, 3 error */
int	tool_probe(int argc, char **argv);
/* tool_tlsa - `tlshim tlsa --cert FILE`: the TLSA records to publish for a
 * certificate (chain); exit 0, or 3 on any error (usage errors too) */
int	tool_tlsa(int argc, char **argv);
/* tool_posture - `tlshim posture`: the recorded posture per peer; exit 0,
 * or 3 on any error (no database yet) */
int	tool_posture(int argc, char **argv);
/* tool_report - `tlshim report tlsrpt`: RFC 8460 reports from the posture
 * store; exit 0, or 3 on any error (no database, a bad date) */
int	tool_report(int argc, char **argv);

/* tool_utc - t as RFC 3339 UTC ("2026-11-23T04:20:00Z") in buf; "" when
 * it cannot be.  In store.c, which every subcommand's build (and the
 * report's unit test) links. */
const char *tool_utc(char *buf, size_t len, time_t t);

/* tool_ctl - `tlshim ctl status|stats|reload` through the daemon's
 * control socket: exit 0, or 3 with a message */
int	tool_ctl(int argc, char **argv);

/* store.c: the posture database, as `posture` and `report` read it.
 * Errors are printed to stderr after "prog: ". */
/* tool_store_path - state_dir/posture.db of the configuration cfile
 * (NULL: the default one, or the default state_dir without it) */
bool	tool_store_path(const char *prog, const char *cfile, char *path,
	    size_t len);
/* tool_store_open - open path read-only beside a running tlshimd; NULL
 * when there is no file, or no records yet */
struct sqlite3 *tool_store_open(const char *prog, const char *path);

#endif
