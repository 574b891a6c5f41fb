/*
 * dns_cache.c - the DNS client's answer records and its per-loop cache.
 *
 * A record (struct dns_rec) is shared: the cache holds one reference and
 * each request it answers holds one until its callback has returned, so
 * evicting an entry never frees an answer a callback is reading.
 *
 * The cache is a hash table of chains plus one LRU list.  Each loop has
 * its own (dns.h), so nothing here locks.  Expired entries are not swept:
 * one is dropped when a lookup finds it, or earlier when the table is full
 * and it is the least recently used, which bounds the memory either way.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shim/dns.h"
#include "shim/dns_int.h"

struct cache_ent {
	struct cache_ent	*hnext;		/* hash chain */
	struct cache_ent	*newer, *older;	/* LRU list */
	uint32_t		 hash;
	uint16_t		 type;
	uint64_t		 expires;	/* ms, caller's clock */
	struct dns_rec		*rec;		/* one reference */
	char			 name[];
};

struct dns_cache {
	struct cache_ent	*bucket[DNS_CACHE_BUCKETS];
	struct cache_ent	*newest, *oldest;
	size_t			 n;
};

/* dns_rec_new - an empty record with one reference */
struct dns_rec *
dns_rec_new(void)
{
	struct dns_rec *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->refs = 1;
	r->ans.status = DNS_OK;
	return r;
}

/* dns_rec_ref - one more holder */
struct dns_rec *
dns_rec_ref(struct dns_rec *r)
{
	r->refs++;
	return r;
}

/* dns_rec_unref - one holder less; the last one frees */
void
dns_rec_unref(struct dns_rec *r)
{
	if (r == NULL || --r->refs > 0)
		return;
	dns_answer_free(&r->ans);
	free(r);
}

/* key_hash - FNV-1a over the name and the type */
static uint32_t
key_hash(const char *name, uint16_t type)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	h = (h ^ (type >> 8)) * 16777619u;
	h = (h ^ (type & 0xff)) * 16777619u;
	return h;
}

/* dns_cache_new - an empty cache */
struct dns_cache *
dns_cache_new(void)
{
	return calloc(1, sizeof(struct dns_cache));
}

/* lru_unlink - take e out of the LRU list */
static void
lru_unlink(struct dns_cache *c, struct cache_ent *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

/* lru_push - make e the most recently used */
static void
lru_push(struct dns_cache *c, struct cache_ent *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest != NULL)
		c->newest->newer = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

/* ent_remove - unlink e from its chain and the LRU list, and free it */
static void
ent_remove(struct dns_cache *c, struct cache_ent *e)
{
	struct cache_ent **pp;

	for (pp = &c->bucket[e->hash % DNS_CACHE_BUCKETS]; *pp != e;
	    pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	lru_unlink(c, e);
	dns_rec_unref(e->rec);
	free(e);
	c->n--;
}

/* ent_find - the entry for name/type, expired or not */
static struct cache_ent *
ent_find(struct dns_cache *c, const char *name, uint16_t type, uint32_t h)
{
	struct cache_ent *e;

	for (e = c->bucket[h % DNS_CACHE_BUCKETS]; e != NULL; e = e->hnext)
		if (e->hash == h && e->type == type &&
		    strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* dns_cache_free - drop every entry and the cache */
void
dns_cache_free(struct dns_cache *c)
{
	if (c == NULL)
		return;
	while (c->oldest != NULL)
		ent_remove(c, c->oldest);
	free(c);
}

/* dns_cache_get - the live record for name/type, or NULL */
struct dns_rec *
dns_cache_get(struct dns_cache *c, const char *name, uint16_t type,
    uint64_t now)
{
	struct cache_ent *e;

	if ((e = ent_find(c, name, type, key_hash(name, type))) == NULL)
		return NULL;
	if (e->expires <= now) {
		ent_remove(c, e);
		return NULL;
	}
	lru_unlink(c, e);
	lru_push(c, e);
	return e->rec;
}

/* dns_cache_put - keep rec for ttl seconds (capped), evicting if full */
void
dns_cache_put(struct dns_cache *c, const char *name, uint16_t type,
    struct dns_rec *rec, uint32_t ttl, uint64_t now)
{
	struct cache_ent *e;
	uint32_t h = key_hash(name, type);
	size_t len = strlen(name) + 1;

	if (ttl == 0)
		return;
	if (ttl > DNS_TTL_MAX)
		ttl = DNS_TTL_MAX;
	if ((e = ent_find(c, name, type, h)) != NULL)
		ent_remove(c, e);
	if (c->n >= DNS_CACHE_MAX)
		ent_remove(c, c->oldest);
	/* Out of memory: the answer is simply not cached. */
	if ((e = malloc(sizeof(*e) + len)) == NULL)
		return;
	memcpy(e->name, name, len);
	e->hash = h;
	e->type = type;
	e->expires = now + (uint64_t)ttl * 1000;
	e->rec = dns_rec_ref(rec);
	e->hnext = c->bucket[h % DNS_CACHE_BUCKETS];
	c->bucket[h % DNS_CACHE_BUCKETS] = e;
	lru_push(c, e);
	c->n++;
}

/* dns_cache_count - entries held, expired ones not yet dropped included */
size_t
dns_cache_count(const struct dns_cache *c)
{
	return c->n;
}
