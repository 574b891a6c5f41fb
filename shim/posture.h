/*
 * posture.h - the per-peer posture store and the downgrade pins.
 *
 * Every session's struct outcome is handed to posture_submit(), which
 * copies it into a bounded queue and returns at once: one writer thread
 * commits the records in batched SQLite transactions (state_dir/
 * posture.db, WAL) and keeps the peers and events tables.  A store that
 * cannot be written (full disk, read-only or missing state_dir, locked or
 * corrupt file) never stops the relay: records are counted as lost and the
 * writer retries until it recovers.
 *
 * The pins live in memory too, so the event loops can check them without
 * touching SQLite: posture_check_downgrade() is cheap and never blocks on
 * the disk.
 */
#ifndef TLSHIM_POSTURE_H
#define TLSHIM_POSTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct conf;
struct conf_service;
struct outcome;

#define POSTURE_DB_NAME		"posture.db"

/* posture_open - start the store (the writer thread), or take a reloaded
 * configuration.  false with err filled only for what cannot be retried
 * (no memory, no thread); an unusable database is not an error here: the
 * writer logs it and keeps trying. */
bool	posture_open(const struct conf *, char *err, size_t errlen);
/* posture_submit - queue one finished session's record; from any thread,
 * never blocks on the disk.  Also updates the in-memory pins at once.
 * What the record owns (policy_tlsa, helo) is taken, whether the record
 * is queued or lost: the caller's are NULL after. */
void	posture_submit(struct outcome *);
/* posture_queue_stats - records waiting now, lost since start (queue full
 * or store unusable), committed since start */
void	posture_queue_stats(uint64_t *queued, uint64_t *lost,
	    uint64_t *committed);
/* posture_close - commit what is queued, stop the writer, close the file */
void	posture_close(void);

/*
 * posture_check_downgrade - a session of svc to out's peer is about to go
 * on without TLS (STARTTLS missing, handshake failed).  If svc pins and
 * the peer was seen with TLS (or secure, usable TLSA) less than
 * pin_max_age ago, set out->downgrade; true when the session must be
 * refused (pin = yes; report-only relays).  Event loop safe.
 */
bool	posture_check_downgrade(struct outcome *,
	    const struct conf_service *svc);
/* posture_pinned_until - when the pin of (peer, port, protocol) ends for
 * max_age seconds; 0 when there is none (never seen with TLS) */
time_t	posture_pinned_until(const char *peer, uint16_t port,
	    const char *protocol, uint64_t max_age);

#endif
