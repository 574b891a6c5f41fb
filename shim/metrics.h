/*
 * metrics.h - process-wide counters of finished sessions, and their
 * Prometheus text and JSON forms.
 *
 * Counters are plain atomics bumped once per session from its struct
 * outcome (metrics_session, from any worker, no lock); gauges (active
 * sessions, the posture store's queue) are read when someone asks.  Every
 * label is a fixed word of the vocabulary (result, auth, cause, TLS
 * version) or a service name from the configuration: never a peer.
 */
#ifndef TLSHIM_METRICS_H
#define TLSHIM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shim/conf.h"
#include "shim/dns_msg.h"
#include "shim/result.h"

struct sbuf;

#define METRICS_PROTO_MAX	16	/* registered protocol plugins */

/* TLS versions, as GnuTLS names them in outcome.tls_version. */
enum metrics_tlsv {
	MTLS_10 = 0, MTLS_11, MTLS_12, MTLS_13, MTLS_OTHER, MTLS_LAST
};

struct metrics_counts {
	/* [protocol plugin index (proto_at)][direction][result] */
	uint64_t	 sessions[METRICS_PROTO_MAX][DIR_LAST][RES_LAST];
	uint64_t	 handshakes[MTLS_LAST];
	uint64_t	 resumed;
	uint64_t	 auth[AUTH_LAST];
	uint64_t	 dnssec[DNSSEC_LAST];	/* [0]: no lookup, not shown */
	uint64_t	 refusals[CAUSE_LAST];	/* result refused */
	uint64_t	 failures[CAUSE_LAST];	/* result failed or attack */
	uint64_t	 downgrades;
	uint64_t	 bytes_in, bytes_out;
};

/* Active sessions of one service (its name is configuration). */
struct metrics_service {
	char		 name[64];
	unsigned	 active;
};

/* Everything one scrape or `tlshim ctl stats` shows, read at one time,
 * so that both show the same numbers. */
struct metrics_snap {
	struct metrics_counts	 c;
	struct metrics_service	*svc;
	size_t			 nsvc;
	uint64_t		 store_queued, store_lost, store_committed;
	time_t			 start_time;
};

/* metrics_session - count one finished session; any thread */
void	metrics_session(const struct outcome *);
/* metrics_started - remember when the daemon started (a gauge) */
void	metrics_started(time_t);
/* metrics_reset - every counter back to 0 (tests) */
void	metrics_reset(void);
/* metrics_snapshot - the counters and gauges now; false if out of
 * memory.  Free with metrics_snap_free. */
bool	metrics_snapshot(struct metrics_snap *);
/* metrics_snap_add_service - one more active-sessions gauge */
bool	metrics_snap_add_service(struct metrics_snap *, const char *name,
	    unsigned active);
void	metrics_snap_free(struct metrics_snap *);
/* metrics_text - the Prometheus text exposition format, version 0.0.4 */
void	metrics_text(const struct metrics_snap *, struct sbuf *);
/* metrics_json - the same numbers as one JSON object */
void	metrics_json(const struct metrics_snap *, struct sbuf *);
/* metrics_tlsv_name - "TLS1.3", ..., "other" */
const char *metrics_tlsv_name(enum metrics_tlsv);

#endif
