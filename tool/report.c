/*
 * report.c - `tlshim report tlsrpt`: RFC 8460 (SMTP TLS Reporting) JSON
 * reports built from the posture store.
 *
 *   tlshim report tlsrpt [-c FILE] [--day YYYY-MM-DD] [--domain D]
 *       [--org NAME] [--contact ADDR] [--id ID]
 *
 * One report per policy domain for one UTC day (default: yesterday, the
 * last whole day).  With --domain: that domain's report, one JSON object,
 * which is what gets sent to the domain's rua; nothing at all (and a note
 * on stderr) when it had no sessions that day.  Without: a JSON array of
 * every domain's report, "[]" for a quiet day.  What counts, and how, is
 * tool/tlsrpt.c's business.  Exit 0, or 3 on any error (no database, a
 * store too old for TLSRPT, a bad date or option).
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "shim/conf.h"
#include "shim/sbuf.h"
#include "tool/tlsrpt.h"
#include "tool/tool.h"

#define EXIT_ERR	3
#define PROG		"tlshim report"

/* usage - the synopsis and options */
static void
usage(FILE *f)
{
	fprintf(f, "usage: tlshim report tlsrpt [-c FILE] [--day YYYY-MM-DD] "
	    "[--domain D]\n"
	    "           [--org NAME] [--contact ADDR] [--id ID]\n"
	    "  -c FILE         tlshimd's configuration, for state_dir "
	    "(default %s)\n"
	    "  --day DAY       the UTC day: YYYY-MM-DD, today or yesterday "
	    "(default)\n"
	    "  --domain D      only this policy domain's report (one object;"
	    " without:\n"
	    "                  an array of every domain's)\n"
	    "  --org NAME      organization-name (default: the host name)\n"
	    "  --contact ADDR  contact-info (default: postmaster@ the host "
	    "name)\n"
	    "  --id ID         report-id (without --domain: ID_DOMAIN each; "
	    "default:\n"
	    "                  DAY_DOMAIN@HOST)\n", CONF_DEFAULT_PATH);
}

/* store_version - the file's schema version, -1 on error */
static int
store_version(sqlite3 *db)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
	    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* domain_key - the domain as the store keys it: lower case, without a
 * final dot; false when nothing is left */
static bool
domain_key(const char *in, char *out, size_t len)
{
	size_t	 n;

	snprintf(out, len, "%s", in);
	for (char *c = out; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	n = strlen(out);
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
	return n > 0 && strlen(in) < len;
}

/* emit - the report(s) of day (YYYY-MM-DD) into b */
static void
emit(const struct tlsrpt *r, const char *day, const char *only,
    const char *org, const char *contact, const char *id, const char *host,
    struct sbuf *b)
{
	struct tlsrpt_meta	 m = { .org = org, .contact = contact };
	char			 rid[600];

	if (only == NULL)
		sbuf_puts(b, "[");
	for (size_t i = 0; i < r->ndom; i++) {
		const struct tlsrpt_domain *d = &r->dom[i];

		/* Unique per reporter, day and domain, and the same when
		 * the same day is reported again. */
		if (id != NULL && only != NULL)
			snprintf(rid, sizeof(rid), "%s", id);
		else if (id != NULL)
			snprintf(rid, sizeof(rid), "%s_%s", id, d->name);
		else
			snprintf(rid, sizeof(rid), "%s_%s@%s", day, d->name,
			    host);
		m.id = rid;
		if (only == NULL)
			sbuf_puts(b, i > 0 ? ",\n  " : "\n  ");
		tlsrpt_json(r, d, &m, only == NULL ? 2 : 0, b);
	}
	if (only == NULL)
		sbuf_puts(b, r->ndom > 0 ? "\n]" : "]");
	sbuf_puts(b, "\n");
}

/* tool_report - `tlshim report tlsrpt`: exit 0, or 3 on an error */
int
tool_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "day", required_argument, NULL, 'd' },
		{ "domain", required_argument, NULL, 'D' },
		{ "org", required_argument, NULL, 'o' },
		{ "contact", required_argument, NULL, 'C' },
		{ "id", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*cfile = NULL, *daytext = "yesterday", *dom = NULL;
	const char	*org = NULL, *contact = NULL, *id = NULL;
	char		 path[PATH_MAX], key[256], host[256], mail[300];
	char		 err[256], daystr[16] = "";
	struct tlsrpt	 r;
	struct tm	 tm;
	struct sbuf	 b;
	sqlite3		*db;
	time_t		 day;
	int		 ch, v;
	bool		 ok;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "tlsrpt") != 0) {
		fprintf(stderr, "%s: the only report is tlsrpt\n", PROG);
		usage(stderr);
		return EXIT_ERR;
	}
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfile = optarg; break;
		case 'd': daytext = optarg; break;
		case 'D': dom = optarg; break;
		case 'o': org = optarg; break;
		case 'C': contact = optarg; break;
		case 'i': id = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_ERR;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_ERR;
	}
	if (!tlsrpt_day(daytext, time(NULL), &day)) {
		fprintf(stderr, "%s: --day %s: not a day (YYYY-MM-DD, today "
		    "or yesterday, in UTC)\n", PROG, daytext);
		return EXIT_ERR;
	}
	if (gmtime_r(&day, &tm) != NULL)
		strftime(daystr, sizeof(daystr), "%Y-%m-%d", &tm);
	if (dom != NULL && !domain_key(dom, key, sizeof(key))) {
		fprintf(stderr, "%s: --domain '%s': not a domain name\n", PROG,
		    dom);
		return EXIT_ERR;
	}
	if ((org != NULL && org[0] == '\0') || (id != NULL && id[0] == '\0')
	    || (contact != NULL && strchr(contact, '@') == NULL)) {
		fprintf(stderr, "%s: --org and --id cannot be empty; "
		    "--contact is a mail address (RFC 8460 4.4)\n", PROG);
		return EXIT_ERR;
	}
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(mail, sizeof(mail), "postmaster@%s", host);

	if (!tool_store_path(PROG, cfile, path, sizeof(path)) ||
	    (db = tool_store_open(PROG, path)) == NULL)
		return EXIT_ERR;
	if ((v = store_version(db)) < 2) {
		fprintf(stderr, "%s: %s has schema version %d, from before "
		    "TLSRPT: tlshimd brings it forward when it starts\n",
		    PROG, path, v);
		sqlite3_close(db);
		return EXIT_ERR;
	}
	ok = tlsrpt_load(db, day, dom != NULL ? key : NULL, &r, err,
	    sizeof(err));
	sqlite3_close(db);
	if (!ok) {
		fprintf(stderr, "%s: %s: %s\n", PROG, path, err);
		return EXIT_ERR;
	}
	if (dom != NULL && r.ndom == 0) {
		fprintf(stderr, "%s: no outbound SMTP sessions to %s on %s "
		    "(UTC): nothing to report\n", PROG, key, daystr);
		tlsrpt_free(&r);
		return 0;
	}
	sbuf_init(&b);
	emit(&r, daystr, dom != NULL ? key : NULL, org != NULL ? org : host,
	    contact != NULL ? contact : mail, id, host, &b);
	tlsrpt_free(&r);
	if (!sbuf_ok(&b)) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		sbuf_free(&b);
		return EXIT_ERR;
	}
	fwrite(sbuf_str(&b), 1, b.len, stdout);
	sbuf_free(&b);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write the report\n", PROG);
		return EXIT_ERR;
	}
	return 0;
}
