/*
 * tlshim.c - the `tlshim` tool: find the subcommand and run it.
 *
 *   tlshim SUBCOMMAND [ARGS...]
 *
 * Each subcommand lives in its own file (tool/tool.h) and gets argv from
 * its own name on.  The list below is DESIGN.md's; a subcommand without
 * code yet says so and exits 3, like any other error, so that a script
 * can tell "not done" from "done and said no" only by the message.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "tool/tool.h"

#define EXIT_ERR	3

static const struct subcommand {
	const char	*name;
	int		(*run)(int, char **);	/* NULL: not written yet */
	const char	*synopsis;
} subcommands[] = {
	{ "probe",	tool_probe,	"probe URL [-c FILE] [--resolver "
	    "HOST:PORT] [--json]" },
	{ "posture",	tool_posture,	"posture [-c FILE] [--peer NAME] "
	    "[--json]" },
	{ "report",	tool_report,	"report tlsrpt [-c FILE] "
	    "[--day YYYY-MM-DD] [--domain D] [--org ...]" },
	{ "tlsa",	tool_tlsa,	"tlsa --cert FILE [--ca] "
	    "[--selector 0|1] [--mtype 1|2] [--port N]" },
	{ "ctl",	tool_ctl,	"ctl [-c FILE] [--raw] "
	    "status|stats|reload" },
	{ NULL,		NULL,		NULL }
};

static void
usage(FILE *f)
{
	const struct subcommand *s;

	fprintf(f, "usage: tlshim SUBCOMMAND [ARGS...]\n");
	for (s = subcommands; s->name != NULL; s++)
		fprintf(f, "       tlshim %s%s\n", s->synopsis,
		    s->run == NULL ? "   (coming)" : "");
	fprintf(f, "       tlshim -V\n"
	    "`tlshim SUBCOMMAND --help` describes one; see tlshim(1).\n");
}

int
main(int argc, char **argv)
{
	const struct subcommand *s;

	if (argc < 2) {
		usage(stderr);
		return EXIT_ERR;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("tlshim %s (GnuTLS %s)\n", PACKAGE_VERSION,
		    gnutls_check_version(NULL));
		return 0;
	}
	for (s = subcommands; s->name != NULL; s++) {
		if (strcmp(argv[1], s->name) != 0)
			continue;
		if (s->run == NULL) {
			fprintf(stderr, "tlshim: %s is not available in this "
			    "version yet\n", s->name);
			return EXIT_ERR;
		}
		return s->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "tlshim: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_ERR;
}
