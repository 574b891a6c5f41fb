/*
 * tool.h - the subcommands of the `tlshim` tool, one file each.
 *
 * Each takes the arguments after "tlshim" (argv[0] is the subcommand's
 * name) and returns the process's exit status.
 */
#ifndef TLSHIM_TOOL_H
#define TLSHIM_TOOL_H

/* tool_probe - `tlshim probe URL`: exit 0 authenticated, 1 encrypted
 * only, 2 plaintext or refused, 3 error */
int	tool_probe(int argc, char **argv);
/* tool_tlsa - `tlshim tlsa --cert FILE`: the TLSA records to publish for a
 * certificate (chain); exit 0, or 3 on any error (usage errors too) */
int	tool_tlsa(int argc, char **argv);

#endif
