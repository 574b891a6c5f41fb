/*
 * posture.c - the posture store's queue and its writer thread.
 *
 * The event loops hand each finished session's record to posture_submit(),
 * which copies it into a bounded ring under a mutex and returns: no loop
 * ever waits for the disk.  One writer thread takes the records in
 * batches (up to batch_max, or whatever came within batch_ms of the first)
 * and commits each batch in one transaction (posture_db.c).
 *
 * When the store is unusable (no state_dir, read-only, full, locked,
 * corrupt, a newer schema) the writer says so once, keeps the batch it
 * holds, and tries again every retry_ms; meanwhile records wait in the
 * ring, and once it is full every new one is counted as lost.  The relay
 * never notices.  On a clean stop (posture_close) the writer commits all
 * that waits before it ends.
 *
 * A record may own heap strings (policy_tlsa, helo: see result.h).  They
 * move with the record: posture_submit takes them from the session, take()
 * from the ring to the batch, and whoever ends the record's life frees
 * them: the writer after the commit, posture_submit when the ring is full
 * or the store is stopped, the writer (or posture_close) when what waits
 * is given up at the stop.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shim/log.h"
#include "shim/posture.h"
#include "shim/posture_int.h"

#define LOST_LOG_MS	60000		/* at most one "lost" line a minute */
#define DAY_MS		(24u * 3600 * 1000)

/* The ring holds pointers: a record (about 2.4 KB) is on the heap only
 * while it waits, up to queue_max of them, so an idle daemon keeps none.
 * A batch is committed at most 200 ms after its first record came. */
#define TUNE_DEFAULT	{ .queue_max = 1024, .batch_max = 128, \
			  .batch_ms = 200, .retry_ms = 5000, \
			  .prune_ms = DAY_MS }

static struct {
	pthread_mutex_t		 lock;		/* guards all of this */
	pthread_cond_t		 wake;		/* the writer waits here */
	pthread_cond_t		 idle;		/* posture_idle waits here */
	bool			 running;	/* the writer exists */
	bool			 stopping;
	pthread_t		 thread;
	struct posture_tune	 tune;
	struct posture_conf	*next_conf;	/* for the writer to adopt */
	struct outcome		**ring;		/* queue_max slots */
	size_t			 head, count;
	size_t			 inflight;	/* taken by the writer */
	bool			 broken;	/* the store is unusable */
	uint64_t		 lost, committed;
	uint64_t		 lost_logged_ms;
} P = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.tune = TUNE_DEFAULT,
};

/* now_ms - the monotonic clock, which the condition variable uses too */
static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* wait_until - on cond, until the monotonic time at_ms */
static void
wait_until(pthread_cond_t *cond, uint64_t at_ms)
{
	struct timespec	 ts = {
		.tv_sec = (time_t)(at_ms / 1000),
		.tv_nsec = (long)(at_ms % 1000) * 1000000,
	};

	pthread_cond_timedwait(cond, &P.lock, &ts);
}

/* posture_tune_set - the tuning of the next writer */
void
posture_tune_set(const struct posture_tune *t)
{
	static const struct posture_tune dflt = TUNE_DEFAULT;

	pthread_mutex_lock(&P.lock);
	P.tune = t != NULL ? *t : dflt;
	pthread_mutex_unlock(&P.lock);
}

/* ------------------------------------------------------ configuration */

/* conf_free - a copy made by conf_copy */
static void
conf_free(struct posture_conf *pc)
{
	if (pc == NULL)
		return;
	free(pc->state_dir);
	free(pc->svc);
	free(pc);
}

/* conf_copy - what the writer needs of a configuration */
static struct posture_conf *
conf_copy(const struct conf *c)
{
	struct posture_conf	*pc = calloc(1, sizeof(*pc));

	if (pc == NULL)
		return NULL;
	pc->state_dir = strdup(c->state_dir);
	pc->retention = c->posture_retention;
	pc->svc = calloc(c->nservices + 1, sizeof(*pc->svc));
	if (pc->state_dir == NULL || pc->svc == NULL) {
		conf_free(pc);
		return NULL;
	}
	pc->nsvc = c->nservices;
	for (size_t i = 0; i < c->nservices; i++) {
		const struct conf_service *s = &c->services[i];
		struct posture_svc *ps = &pc->svc[i];

		snprintf(ps->name, sizeof(ps->name), "%s", s->name);
		ps->pin = s->pin;
		ps->pin_max_age = s->pin_max_age;
		ps->kind = s->upstream_kind;
		ps->level = s->level;
		posture_key(ps->domain, sizeof(ps->domain),
		    s->upstream_host != NULL ? s->upstream_host : "");
	}
	return pc;
}

/* -------------------------------------------------------------- writer */

/* The writer's own state: only its thread touches it. */
struct writer {
	struct posture_conf	*conf;
	struct pdb		*db;
	char			 path[PATH_MAX];
	struct outcome		**batch;	/* batch_max slots */
	size_t			 nbatch;
	uint64_t		 first_ms;	/* when a record first waited */
	uint64_t		 retry_at, prune_at;
	bool			 ever_open;
	char			 err[512];	/* the last problem logged */
};

/* record_free - a queued record's life ends: it and what it owns */
static void
record_free(struct outcome *r)
{
	if (r != NULL) {
		outcome_release(r);
		free(r);
	}
}

/* drop_ring - with the lock held: give up every record waiting in the
 * ring; how many there were */
static size_t
drop_ring(void)
{
	size_t	 n = P.count;

	for (size_t i = 0; i < n; i++) {
		size_t j = (P.head + i) % P.tune.queue_max;

		record_free(P.ring[j]);
		P.ring[j] = NULL;
	}
	P.head = P.count = 0;
	return n;
}

/* drop_batch - the writer's batch is done with (written or given up) */
static void
drop_batch(struct writer *w)
{
	for (size_t i = 0; i < w->nbatch; i++) {
		record_free(w->batch[i]);
		w->batch[i] = NULL;
	}
	w->nbatch = 0;
}

/* set_broken - log a change of the store's state, once */
static void
set_broken(struct writer *w, const char *err)
{
	bool	 was;

	pthread_mutex_lock(&P.lock);
	was = P.broken;
	P.broken = err != NULL;
	pthread_mutex_unlock(&P.lock);
	if (err == NULL) {
		if (was)
			logmsg(LOG_L_WARN, "posture store %s is usable again",
			    w->path);
		w->err[0] = '\0';
		return;
	}
	if (was && strcmp(err, w->err) == 0)
		return;
	snprintf(w->err, sizeof(w->err), "%s", err);
	logmsg(LOG_L_ERR, "posture store %s unusable: %s; sessions are "
	    "relayed as usual, their records wait in memory (up to %zu) and "
	    "are counted as lost beyond that; retrying every %u s", w->path,
	    err, P.tune.queue_max, (P.tune.retry_ms + 999) / 1000);
}

/* try_open - open the store; load the pins and prune on success */
static void
try_open(struct writer *w, uint64_t now)
{
	char	 err[512];
	size_t	 before;

	snprintf(w->path, sizeof(w->path), "%s/%s", w->conf->state_dir,
	    POSTURE_DB_NAME);
	if ((w->db = pdb_open(w->path, err, sizeof(err))) == NULL) {
		/* SQLite says "readonly database" or "unable to open"; the
		 * cause an operator can fix is often the folder. */
		if (access(w->conf->state_dir, W_OK | X_OK) != 0) {
			size_t n = strlen(err);

			snprintf(err + n, sizeof(err) - n, " (state_dir %s: %s)",
			    w->conf->state_dir, strerror(errno));
		}
		set_broken(w, err);
		w->retry_at = now + P.tune.retry_ms;
		return;
	}
	before = posture_pin_count();
	if (!pdb_load_pins(w->db, err, sizeof(err)))
		logmsg(LOG_L_WARN, "posture store %s: %s", w->path, err);
	if (!w->ever_open)
		logmsg(LOG_L_INFO, "posture store %s open, %zu pins loaded",
		    w->path, posture_pin_count() - before);
	w->ever_open = true;
	w->prune_at = now;		/* at start, then daily */
	set_broken(w, NULL);
}

/* commit - the batch in hand; on failure the store is closed and
 * retried later with the same batch */
static void
commit(struct writer *w, uint64_t now)
{
	char	 err[512];

	if (pdb_commit(w->db, w->batch, w->nbatch, w->conf, err,
	    sizeof(err))) {
		if (log_enabled(LOG_L_DETAIL))
			logmsg(LOG_L_DETAIL, "posture: committed %zu records, "
			    "session rows up to %lld", w->nbatch,
			    (long long)pdb_last_rowid(w->db));
		pthread_mutex_lock(&P.lock);
		P.committed += w->nbatch;
		P.inflight = 0;
		if (P.count == 0)
			pthread_cond_broadcast(&P.idle);
		pthread_mutex_unlock(&P.lock);
		drop_batch(w);
		return;
	}
	pdb_close(w->db);
	w->db = NULL;
	set_broken(w, err);
	w->retry_at = now + P.tune.retry_ms;
}

/* prune - the daily retention pass */
static void
prune(struct writer *w, uint64_t now)
{
	char	 err[512];
	long	 n;

	w->prune_at = now + P.tune.prune_ms;
	n = pdb_prune(w->db, time(NULL) - (time_t)w->conf->retention, err,
	    sizeof(err));
	if (n < 0)
		logmsg(LOG_L_WARN, "posture store %s: %s", w->path, err);
	else if (n > 0)
		logmsg(LOG_L_INFO, "posture store: %ld session records older "
		    "than %u days removed", n, w->conf->retention / 86400);
}

/* has_work - with the lock held: must the writer act now?  Otherwise
 * *at is when it must next look. */
static bool
has_work(struct writer *w, uint64_t now, uint64_t *at)
{
	*at = now + 3600 * 1000;
	if (P.stopping || P.next_conf != NULL)
		return true;
	if (w->db == NULL) {
		if (now >= w->retry_at)
			return true;
		*at = w->retry_at;
		return false;	/* records wait until it opens */
	}
	if (w->nbatch > 0 || P.count >= P.tune.batch_max ||
	    now >= w->prune_at)
		return true;
	if (w->prune_at < *at)
		*at = w->prune_at;
	if (P.count > 0) {
		if (w->first_ms == 0)
			w->first_ms = now;
		if (now >= w->first_ms + P.tune.batch_ms)
			return true;
		if (w->first_ms + P.tune.batch_ms < *at)
			*at = w->first_ms + P.tune.batch_ms;
	}
	return false;
}

/* take - with the lock held: move up to batch_max records into the
 * batch (they count as queued until committed) */
static void
take(struct writer *w)
{
	size_t	 cap = P.tune.queue_max;

	while (w->nbatch < P.tune.batch_max && P.count > 0) {
		w->batch[w->nbatch++] = P.ring[P.head];
		P.ring[P.head] = NULL;
		P.head = (P.head + 1) % cap;
		P.count--;
	}
	P.inflight = w->nbatch;
	w->first_ms = 0;
}

/* adopt - a reloaded configuration: retention and pins follow it; the
 * state_dir stays, like the user, until a restart (tlshimd made it, for
 * that user, at start) */
static void
adopt(struct writer *w, struct posture_conf *pc)
{
	if (w->conf != NULL) {
		char *dir = pc->state_dir;

		if (strcmp(dir, w->conf->state_dir) != 0)
			logmsg(LOG_L_WARN, "state_dir %s: the posture store "
			    "stays in %s until tlshimd restarts", dir,
			    w->conf->state_dir);
		pc->state_dir = w->conf->state_dir;
		w->conf->state_dir = dir;
	}
	conf_free(w->conf);
	w->conf = pc;
}

/* writer_main - the writer thread: wait, take, open, commit, prune */
static void *
writer_main(void *arg)
{
	struct writer	*w = arg;
	uint64_t	 now, at;
	bool		 stopping;

	for (;;) {
		pthread_mutex_lock(&P.lock);
		while (!has_work(w, now = now_ms(), &at))
			wait_until(&P.wake, at);
		stopping = P.stopping;
		if (P.next_conf != NULL) {
			struct posture_conf *pc = P.next_conf;

			P.next_conf = NULL;
			pthread_mutex_unlock(&P.lock);
			adopt(w, pc);
			pthread_mutex_lock(&P.lock);
		}
		if (w->nbatch == 0 && (w->db != NULL || stopping))
			take(w);
		pthread_mutex_unlock(&P.lock);

		if (w->db == NULL && (now >= w->retry_at || stopping))
			try_open(w, now);
		if (w->db != NULL && w->nbatch > 0)
			commit(w, now);
		if (w->db != NULL && now >= w->prune_at)
			prune(w, now);
		if (!stopping)
			continue;
		pthread_mutex_lock(&P.lock);
		if (w->db == NULL) {
			/* Still unusable at the end: what waits is lost. */
			uint64_t n = w->nbatch + drop_ring();

			P.lost += n;
			P.inflight = 0;
			pthread_mutex_unlock(&P.lock);
			drop_batch(w);
			if (n > 0)
				logmsg(LOG_L_ERR, "posture store %s unusable at "
				    "stop: %llu records lost", w->path,
				    (unsigned long long)n);
			break;
		}
		if (w->nbatch == 0 && P.count == 0) {
			pthread_mutex_unlock(&P.lock);
			break;
		}
		pthread_mutex_unlock(&P.lock);
	}
	pdb_close(w->db);
	conf_free(w->conf);
	free(w->batch);
	free(w);
	return NULL;
}

/* ---------------------------------------------------------- public */

/* start - the ring and the writer thread; with the lock held */
static bool
start(struct posture_conf *pc, char *err, size_t errlen)
{
	pthread_condattr_t	 ca;
	struct writer		*w;
	int			 rc;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->batch = calloc(P.tune.batch_max, sizeof(*w->batch))) ==
	    NULL || (P.ring = calloc(P.tune.queue_max, sizeof(*P.ring))) ==
	    NULL) {
		if (w != NULL)
			free(w->batch);
		free(w);
		snprintf(err, errlen, "posture store: out of memory");
		return false;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&P.wake, &ca);
	pthread_cond_init(&P.idle, &ca);
	pthread_condattr_destroy(&ca);
	P.head = P.count = P.inflight = 0;
	P.lost = P.committed = 0;
	P.broken = P.stopping = false;
	P.lost_logged_ms = 0;
	P.next_conf = pc;
	if ((rc = pthread_create(&P.thread, NULL, writer_main, w)) != 0) {
		snprintf(err, errlen, "posture store: cannot start its "
		    "thread: %s", strerror(rc));
		P.next_conf = NULL;
		free(P.ring);
		P.ring = NULL;
		free(w->batch);
		free(w);
		pthread_cond_destroy(&P.wake);
		pthread_cond_destroy(&P.idle);
		return false;
	}
	P.running = true;
	return true;
}

/* posture_open - start the writer, or give it a reloaded configuration */
bool
posture_open(const struct conf *conf, char *err, size_t errlen)
{
	struct posture_conf	*pc = conf_copy(conf);
	bool			 ok = true;

	if (pc == NULL) {
		snprintf(err, errlen, "posture store: out of memory");
		return false;
	}
	pthread_mutex_lock(&P.lock);
	if (!P.running) {
		ok = start(pc, err, errlen);
		if (!ok)
			conf_free(pc);
	} else {
		conf_free(P.next_conf);
		P.next_conf = pc;
		pthread_cond_signal(&P.wake);
	}
	pthread_mutex_unlock(&P.lock);
	return ok;
}

/* posture_submit - copy the record into the ring, moving what it owns
 * along; count it lost when the ring is full (or no copy can be made).
 * The peer name is stored as its key. */
void
posture_submit(struct outcome *o)
{
	struct outcome	*rec;
	char		 key[sizeof(o->peer)];
	uint64_t	 lost = 0, now;

	posture_key(key, sizeof(key), o->peer);
	/* From here on the copy owns the strings, whatever becomes of it;
	 * without a copy the session keeps them, and frees them. */
	if ((rec = malloc(sizeof(*rec))) != NULL) {
		*rec = *o;
		o->policy_tlsa = NULL;
		o->helo = NULL;
		memcpy(rec->peer, key, sizeof(key));
	}
	pthread_mutex_lock(&P.lock);
	if (!P.running || P.stopping) {
		pthread_mutex_unlock(&P.lock);
		record_free(rec);
		return;
	}
	/* The pin holds from now on, whatever happens to the record. */
	if (posture_tls_seen(o))
		posture_pin_note(key, o->port, o->protocol, o->start);
	if (rec == NULL || P.count == P.tune.queue_max) {
		P.lost++;
		now = now_ms();
		if (P.lost_logged_ms == 0 ||
		    now >= P.lost_logged_ms + LOST_LOG_MS) {
			P.lost_logged_ms = now;
			lost = P.lost;
		}
	} else {
		P.ring[(P.head + P.count) % P.tune.queue_max] = rec;
		rec = NULL;		/* the ring's now */
		if (++P.count == 1 || P.count == P.tune.batch_max)
			pthread_cond_signal(&P.wake);
	}
	pthread_mutex_unlock(&P.lock);
	record_free(rec);
	if (lost > 0)
		logmsg(LOG_L_WARN, "posture store queue full (%zu records): "
		    "the record of session %016llx is lost, %llu so far",
		    P.tune.queue_max, (unsigned long long)o->session,
		    (unsigned long long)lost);
}

/* posture_queue_stats - the three numbers of the metrics */
void
posture_queue_stats(uint64_t *queued, uint64_t *lost, uint64_t *committed)
{
	pthread_mutex_lock(&P.lock);
	if (queued != NULL)
		*queued = P.count + P.inflight;
	if (lost != NULL)
		*lost = P.lost;
	if (committed != NULL)
		*committed = P.committed;
	pthread_mutex_unlock(&P.lock);
}

/* posture_broken - did the last attempt to use the store fail? */
bool
posture_broken(void)
{
	bool	 b;

	pthread_mutex_lock(&P.lock);
	b = P.broken;
	pthread_mutex_unlock(&P.lock);
	return b;
}

/* posture_idle - for tests and the control socket: wait for the queue */
bool
posture_idle(unsigned timeout_ms)
{
	uint64_t	 end = now_ms() + timeout_ms;
	bool		 idle;

	pthread_mutex_lock(&P.lock);
	while (P.running && (P.count > 0 || P.inflight > 0) &&
	    now_ms() < end)
		wait_until(&P.idle, end);
	idle = !P.running || (P.count == 0 && P.inflight == 0);
	pthread_mutex_unlock(&P.lock);
	return idle;
}

/* posture_close - commit what waits, end the writer, forget the pins */
void
posture_close(void)
{
	pthread_mutex_lock(&P.lock);
	if (!P.running) {
		pthread_mutex_unlock(&P.lock);
		return;
	}
	P.stopping = true;
	pthread_cond_signal(&P.wake);
	pthread_mutex_unlock(&P.lock);
	pthread_join(P.thread, NULL);

	pthread_mutex_lock(&P.lock);
	P.running = false;
	P.stopping = false;
	conf_free(P.next_conf);
	P.next_conf = NULL;
	/* The writer left nothing behind; should it ever, nothing leaks. */
	(void)drop_ring();
	free(P.ring);
	P.ring = NULL;
	P.inflight = 0;
	pthread_cond_broadcast(&P.idle);
	pthread_cond_destroy(&P.wake);
	pthread_cond_destroy(&P.idle);
	pthread_mutex_unlock(&P.lock);
	posture_pin_clear();
}
