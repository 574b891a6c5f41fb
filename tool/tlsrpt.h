/*
 * tlsrpt.h - RFC 8460 (SMTP TLS Reporting) reports from the posture
 * store: what one UTC day's outbound SMTP sessions add up to, per policy
 * domain, policy and kind of failure (tlsrpt_load), and that as the RFC's
 * JSON (tlsrpt_json).  tool/report.c is the command around it.
 *
 * A loaded report owns every string and array in it; tlsrpt_free()
 * releases them all.
 */
#ifndef TLSHIM_TLSRPT_H
#define TLSHIM_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <sqlite3.h>

struct sbuf;

/* The sessions of one failure-details entry: equal in every field. */
struct tlsrpt_failure {
	char		*result_type;	/* RFC 8460 4.3 */
	char		*sending_ip;	/* sending-mta-ip; NULL: not known */
	char		*mx_host;	/* receiving-mx-hostname; NULL: none */
	char		*receiving_ip;	/* NULL: never connected */
	char		*helo;		/* receiving-mx-helo; NULL: unknown */
	char		*reason_code;	/* failure-reason-code; NULL: none */
	uint64_t	 count;
};

/* One applied policy of a domain, and its sessions. */
struct tlsrpt_policy {
	bool			 tlsa;		/* else "no-policy-found" */
	char			**records;	/* tlsa: TLSA RDATA, sorted */
	size_t			 nrecords;
	uint64_t		 ok, failed;	/* the summary */
	struct tlsrpt_failure	*fail;		/* by result type, host... */
	size_t			 nfail;
};

/* One policy domain: one report. */
struct tlsrpt_domain {
	char			*name;
	struct tlsrpt_policy	*pol;		/* no-policy-found first */
	size_t			 npol;
};

struct tlsrpt {
	time_t			 day;		/* 00:00:00 UTC of the day */
	struct tlsrpt_domain	*dom;		/* by name */
	size_t			 ndom;
};

/* What the report says of its author. */
struct tlsrpt_meta {
	const char	*org;		/* organization-name */
	const char	*contact;	/* contact-info */
	const char	*id;		/* report-id */
};

/* tlsrpt_day - the start (00:00:00 UTC) of the day text names:
 * "YYYY-MM-DD", "today" or "yesterday" (UTC, from now); false for
 * anything else, a 31st of February included */
bool	tlsrpt_day(const char *text, time_t now, time_t *day);
/* tlsrpt_load - the day's sessions from a posture store of schema
 * version 2 or later, for every policy domain or (domain not NULL) that
 * one; false with err */
bool	tlsrpt_load(sqlite3 *, time_t day, const char *domain,
	    struct tlsrpt *, char *err, size_t errlen);
void	tlsrpt_free(struct tlsrpt *);
/* tlsrpt_json - domain d's report, each line after the first indented
 * by indent spaces, no newline after the closing brace */
void	tlsrpt_json(const struct tlsrpt *, const struct tlsrpt_domain *d,
	    const struct tlsrpt_meta *, int indent, struct sbuf *);

#endif
