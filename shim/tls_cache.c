/*
 * tls_cache.c - the bounded cache of TLS sessions to resume upstream.
 *
 * Entries sit on two lists: a hash bucket, newest first, to find a key's
 * entries, and one age list over all of them, to drop the oldest when the
 * cache is full.  Expired entries are dropped where a walk meets them, and
 * by age when room is needed.  Everything here runs under one mutex and
 * never calls out while holding it; what goes in or out is a copy.
 *
 * The data are session secrets (a ticket and its resumption secret): they
 * are wiped before their memory is given back.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shim/tls_cache.h"

#define NBUCKETS	256		/* a power of two */

struct entry {
	struct entry	*bnext, *bprev;		/* bucket, newest first */
	struct entry	*newer, *older;		/* age list, all keys */
	uint32_t	 hash;
	uint64_t	 expires_ms;		/* monotonic */
	char		*key;
	unsigned char	*data;
	size_t		 len;
	struct tls_verdict v;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry *buckets[NBUCKETS];
static struct entry *oldest, *newest;
static size_t nentries;

/* tls_cache_clock_ms - monotonic milliseconds: wall clock steps must not
 * matter */
uint64_t
tls_cache_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* key_hash - FNV-1a */
static uint32_t
key_hash(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 16777619u;
	}
	return h;
}

void
tls_cache_data_free(void *data, size_t len)
{
	if (data == NULL)
		return;
	explicit_bzero(data, len);
	free(data);
}

/* entry_free - wipe and free one entry, already unlinked */
static void
entry_free(struct entry *e)
{
	tls_cache_data_free(e->data, e->len);
	free(e->key);
	free(e);
}

/* unlink_entry - take e off both lists; the caller frees or returns it */
static void
unlink_entry(struct entry *e)
{
	if (e->bprev != NULL)
		e->bprev->bnext = e->bnext;
	else
		buckets[e->hash & (NBUCKETS - 1)] = e->bnext;
	if (e->bnext != NULL)
		e->bnext->bprev = e->bprev;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		oldest = e->newer;
	nentries--;
}

/* drop - unlink and free */
static void
drop(struct entry *e)
{
	unlink_entry(e);
	entry_free(e);
}

bool
tls_cache_put(const char *key, const void *data, size_t len,
    const struct tls_verdict *v, unsigned lifetime)
{
	struct entry *e, *next, *last_of_key = NULL;
	uint32_t h = key_hash(key);
	uint64_t now = tls_cache_clock_ms(), expires;
	unsigned of_key = 0;

	if (len == 0 || strlen(key) >= TLS_CACHE_KEY_MAX)
		return false;
	expires = now + (uint64_t)lifetime * 1000;
	if (expires > v->verified_ms + (uint64_t)TLS_CACHE_MAX_AGE * 1000)
		expires = v->verified_ms + (uint64_t)TLS_CACHE_MAX_AGE * 1000;
	if (expires <= now)
		return false;
	/* The copies are made before the lock is taken. */
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return false;
	if ((e->key = strdup(key)) == NULL ||
	    (e->data = malloc(len)) == NULL) {
		free(e->key);
		free(e);
		return false;
	}
	memcpy(e->data, data, len);
	e->len = len;
	e->v = *v;
	e->hash = h;
	e->expires_ms = expires;

	pthread_mutex_lock(&mu);
	for (struct entry *x = buckets[h & (NBUCKETS - 1)]; x != NULL;
	    x = next) {
		next = x->bnext;
		if (x->expires_ms <= now) {
			drop(x);
			continue;
		}
		if (x->hash == h && strcmp(x->key, key) == 0) {
			of_key++;
			last_of_key = x;	/* the bucket is newest first */
		}
	}
	if (of_key >= TLS_CACHE_PER_KEY)
		drop(last_of_key);
	else if (nentries >= TLS_CACHE_MAX)
		drop(oldest);
	e->bnext = buckets[h & (NBUCKETS - 1)];
	if (e->bnext != NULL)
		e->bnext->bprev = e;
	buckets[h & (NBUCKETS - 1)] = e;
	e->older = newest;
	if (newest != NULL)
		newest->newer = e;
	newest = e;
	if (oldest == NULL)
		oldest = e;
	nentries++;
	pthread_mutex_unlock(&mu);
	return true;
}

bool
tls_cache_take(const char *key, void **data, size_t *len,
    struct tls_verdict *v)
{
	struct entry *e, *next, *found = NULL;
	uint32_t h = key_hash(key);
	uint64_t now = tls_cache_clock_ms();

	pthread_mutex_lock(&mu);
	for (e = buckets[h & (NBUCKETS - 1)]; e != NULL; e = next) {
		next = e->bnext;
		if (e->expires_ms <= now) {
			drop(e);
			continue;
		}
		if (e->hash == h && strcmp(e->key, key) == 0) {
			found = e;
			unlink_entry(e);
			break;
		}
	}
	pthread_mutex_unlock(&mu);
	if (found == NULL)
		return false;
	*data = found->data;
	*len = found->len;
	*v = found->v;
	free(found->key);
	free(found);
	return true;
}

size_t
tls_cache_count(void)
{
	size_t n;

	pthread_mutex_lock(&mu);
	n = nentries;
	pthread_mutex_unlock(&mu);
	return n;
}

void
tls_cache_clear(void)
{
	pthread_mutex_lock(&mu);
	while (oldest != NULL)
		drop(oldest);
	pthread_mutex_unlock(&mu);
}
