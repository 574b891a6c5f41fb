/*
 * name_map.c - addresses to the names DNS answers gave for them, and the
 * names MX answers named: two bounded tables behind one mutex.
 *
 * Each table is an array of entries allocated once, a hash index with
 * chains through the array, and an age list (most recently learned
 * first): when the table is full the entry learned longest ago makes
 * room, so a burst of answers never grows memory.  Expired entries are
 * dropped when a lookup walks past them, or when they reach the end of
 * the age list.  Indices, not pointers, so that the whole table is two
 * allocations.
 */
#include "config.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "shim/dns_msg.h"
#include "shim/name_map.h"

#define NIL	(-1)

struct nm_entry {
	int32_t		 hnext;		/* hash chain, or the free list */
	int32_t		 older, newer;	/* the age list */
	uint64_t	 expires;	/* ms */
	uint64_t	 seq;		/* when learned: larger is newer */
	struct nm_addr	 addr;		/* the address table's key */
	struct nm_addr	 asker;		/* who was told (family 0: unknown) */
	char		 name[DNS_NAME_MAX]; /* the MX table's key */
};

struct nm_table {
	struct nm_entry	*e;
	int32_t		*bucket;
	size_t		 max, nbuckets, count;
	int32_t		 newest, oldest, free;
	bool		 by_name;	/* keyed by name (MX), else address */
};

struct name_map {
	pthread_mutex_t	 lock;
	struct nm_table	 addrs, mx;
	uint64_t	 seq;
};

/* hash - FNV-1a */
static uint32_t
hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static size_t
addr_len(const struct nm_addr *a)
{
	return a->family == AF_INET6 ? 16 : 4;
}

static bool
addr_eq(const struct nm_addr *x, const struct nm_addr *y)
{
	return x->family == y->family && x->family != 0 &&
	    memcmp(x->a, y->a, addr_len(x)) == 0;
}

/* slot - the bucket of a key */
static size_t
slot(const struct nm_table *t, const struct nm_addr *addr, const char *name)
{
	uint32_t h = t->by_name ? hash(name, strlen(name)) :
	    hash(addr->a, addr_len(addr)) ^ (uint32_t)addr->family;

	return h & (t->nbuckets - 1);
}

/* t_init - max entries, all free */
static bool
t_init(struct nm_table *t, size_t max, bool by_name)
{
	memset(t, 0, sizeof(*t));
	t->by_name = by_name;
	t->max = max;
	for (t->nbuckets = 16; t->nbuckets < max; t->nbuckets <<= 1)
		;
	t->e = calloc(max, sizeof(*t->e));
	t->bucket = malloc(t->nbuckets * sizeof(*t->bucket));
	if (t->e == NULL || t->bucket == NULL)
		return false;
	for (size_t i = 0; i < t->nbuckets; i++)
		t->bucket[i] = NIL;
	for (size_t i = 0; i < max; i++)
		t->e[i].hnext = i + 1 < max ? (int32_t)(i + 1) : NIL;
	t->free = 0;
	t->newest = t->oldest = NIL;
	return true;
}

static void
t_free(struct nm_table *t)
{
	free(t->e);
	free(t->bucket);
}

/* age_unlink - take entry i off the age list */
static void
age_unlink(struct nm_table *t, int32_t i)
{
	struct nm_entry *e = &t->e[i];

	if (e->older != NIL)
		t->e[e->older].newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer != NIL)
		t->e[e->newer].older = e->older;
	else
		t->newest = e->older;
}

/* age_push - entry i is the newest */
static void
age_push(struct nm_table *t, int32_t i)
{
	struct nm_entry *e = &t->e[i];

	e->newer = NIL;
	e->older = t->newest;
	if (t->newest != NIL)
		t->e[t->newest].newer = i;
	t->newest = i;
	if (t->oldest == NIL)
		t->oldest = i;
}

/* t_remove - drop entry i, whose predecessor in its chain is prev (NIL:
 * it is first) */
static void
t_remove(struct nm_table *t, size_t b, int32_t prev, int32_t i)
{
	if (prev == NIL)
		t->bucket[b] = t->e[i].hnext;
	else
		t->e[prev].hnext = t->e[i].hnext;
	age_unlink(t, i);
	t->e[i].hnext = t->free;
	t->free = i;
	t->count--;
}

/* t_remove_any - drop entry i, wherever it is in its chain */
static void
t_remove_any(struct nm_table *t, int32_t i)
{
	size_t b = slot(t, &t->e[i].addr, t->e[i].name);
	int32_t prev = NIL;

	for (int32_t j = t->bucket[b]; j != NIL; j = t->e[j].hnext) {
		if (j == i) {
			t_remove(t, b, prev, i);
			return;
		}
		prev = j;
	}
}

/* t_take - a free entry, making room by dropping the oldest if needed */
static int32_t
t_take(struct nm_table *t)
{
	int32_t i;

	if (t->free == NIL)
		t_remove_any(t, t->oldest);
	i = t->free;
	t->free = t->e[i].hnext;
	t->count++;
	return i;
}

/* t_put - learn key (addr, name) for ttl seconds; refreshes an entry
 * already there */
static void
t_put(struct name_map *m, struct nm_table *t, const struct nm_addr *addr,
    const char *name, uint32_t ttl, const struct nm_addr *asker,
    uint64_t now)
{
	size_t b = slot(t, addr, name), n = strlen(name);
	int32_t i;

	if (n == 0 || n >= DNS_NAME_MAX)
		return;
	if (ttl < NAME_MAP_TTL_MIN)
		ttl = NAME_MAP_TTL_MIN;
	if (ttl > NAME_MAP_TTL_MAX)
		ttl = NAME_MAP_TTL_MAX;
	for (i = t->bucket[b]; i != NIL; i = t->e[i].hnext)
		if ((t->by_name || addr_eq(&t->e[i].addr, addr)) &&
		    strcmp(t->e[i].name, name) == 0)
			break;
	if (i == NIL) {
		i = t_take(t);
		memset(&t->e[i], 0, sizeof(t->e[i]));
		if (!t->by_name)
			t->e[i].addr = *addr;
		memcpy(t->e[i].name, name, n + 1);
		t->e[i].hnext = t->bucket[b];
		t->bucket[b] = i;
	} else
		age_unlink(t, i);
	age_push(t, i);
	t->e[i].expires = now + (uint64_t)ttl * 1000;
	t->e[i].seq = ++m->seq;
	if (asker != NULL && asker->family != 0)
		t->e[i].asker = *asker;
}

/* ------------------------------------------------------------ public */

struct name_map *
name_map_new(size_t max)
{
	struct name_map *m;

	if (max < 1 || max > (size_t)INT32_MAX / 2 ||
	    (m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if (!t_init(&m->addrs, max, false) ||
	    !t_init(&m->mx, max, true) ||
	    pthread_mutex_init(&m->lock, NULL) != 0) {
		t_free(&m->addrs);
		t_free(&m->mx);
		free(m);
		return NULL;
	}
	return m;
}

void
name_map_free(struct name_map *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	t_free(&m->addrs);
	t_free(&m->mx);
	free(m);
}

void
name_map_add(struct name_map *m, const struct nm_addr *addr,
    const char *name, uint32_t ttl, const struct nm_addr *asker,
    uint64_t now)
{
	if (addr->family != AF_INET && addr->family != AF_INET6)
		return;
	pthread_mutex_lock(&m->lock);
	t_put(m, &m->addrs, addr, name, ttl, asker, now);
	pthread_mutex_unlock(&m->lock);
}

void
name_map_add_mx(struct name_map *m, const char *host, uint32_t ttl,
    uint64_t now)
{
	pthread_mutex_lock(&m->lock);
	t_put(m, &m->mx, NULL, host, ttl, NULL, now);
	pthread_mutex_unlock(&m->lock);
}

/* is_mx - is name a live MX host name?  (Lock held.) */
static bool
is_mx(struct nm_table *t, const char *name, uint64_t now)
{
	size_t b = slot(t, NULL, name);
	int32_t prev = NIL;

	for (int32_t i = t->bucket[b]; i != NIL; prev = i,
	    i = t->e[i].hnext) {
		if (strcmp(t->e[i].name, name) != 0)
			continue;
		if (t->e[i].expires > now)
			return true;
		t_remove(t, b, prev, i);
		return false;
	}
	return false;
}

enum nm_kind
name_map_find(struct name_map *m, const struct nm_addr *addr,
    const struct nm_addr *client, bool prefer_mx, uint64_t now,
    char *name, size_t namelen)
{
	struct nm_table *t = &m->addrs;
	enum nm_kind kind = NM_NONE;
	int32_t i, next, prev = NIL, best = NIL;
	int best_score = -1;
	bool best_mx = false;
	size_t b;

	if (namelen > 0)
		name[0] = '\0';
	if (addr->family != AF_INET && addr->family != AF_INET6)
		return NM_NONE;
	pthread_mutex_lock(&m->lock);
	b = slot(t, addr, NULL);
	for (i = t->bucket[b]; i != NIL; i = next) {
		struct nm_entry *e = &t->e[i];
		bool mx;
		int score;

		next = e->hnext;
		if (!addr_eq(&e->addr, addr)) {
			prev = i;
			continue;
		}
		if (e->expires <= now) {
			t_remove(t, b, prev, i);
			continue;
		}
		prev = i;
		mx = is_mx(&m->mx, e->name, now);
		/* The client's own question says most about what it meant;
		 * for SMTP an MX host name is the TLSA base (RFC 7672
		 * 2.2.1); among equals, the last answer. */
		score = (prefer_mx && mx ? 1 : 0) +
		    (client != NULL && addr_eq(&e->asker, client) ? 2 : 0);
		if (score > best_score ||
		    (score == best_score && e->seq > t->e[best].seq)) {
			best = i;
			best_score = score;
			best_mx = mx;
		}
	}
	if (best != NIL && strlen(t->e[best].name) < namelen) {
		strcpy(name, t->e[best].name);
		kind = best_mx ? NM_MX : NM_ADDR;
	}
	pthread_mutex_unlock(&m->lock);
	return kind;
}

void
name_map_count(struct name_map *m, size_t *naddr, size_t *nmx)
{
	pthread_mutex_lock(&m->lock);
	if (naddr != NULL)
		*naddr = m->addrs.count;
	if (nmx != NULL)
		*nmx = m->mx.count;
	pthread_mutex_unlock(&m->lock);
}

size_t
name_map_learn(struct name_map *m, const uint8_t *wire, size_t len,
    uint16_t id, const char *qname, uint16_t qtype,
    const struct nm_addr *asker, uint64_t now)
{
	struct dns_answer a;
	char host[DNS_NAME_MAX];
	size_t learned = 0;

	if (qtype != DNS_T_A && qtype != DNS_T_AAAA && qtype != DNS_T_MX)
		return 0;
	/* The strict parser: the answer must be to this question, and only
	 * records at the end of the question's CNAME chain count.  The name
	 * kept is the one the client asked for: tlshim follows the CNAME
	 * itself when it looks for TLSA records (RFC 7671 7). */
	if (dns_answer_parse(wire, len, id, qname, qtype, &a, NULL, 0) !=
	    DNS_E_OK)
		return 0;
	if (a.tc || a.status != DNS_OK) {
		dns_answer_free(&a);
		return 0;
	}
	for (size_t i = 0; i < a.n; i++) {
		const struct dns_rr *rr = &a.rr[i];

		if (qtype == DNS_T_MX) {
			/* "." (RFC 7505) names no host. */
			if (rr->u.mx.host[0] == '\0' ||
			    !dns_name_normalize(rr->u.mx.host, host,
			    sizeof(host)))
				continue;
			name_map_add_mx(m, host, a.ttl, now);
		} else {
			struct nm_addr ad;

			memset(&ad, 0, sizeof(ad));
			ad.family = rr->u.a.family;
			memcpy(ad.a, rr->u.a.addr,
			    ad.family == AF_INET6 ? 16 : 4);
			name_map_add(m, &ad, qname, a.ttl, asker, now);
		}
		learned++;
	}
	dns_answer_free(&a);
	return learned;
}

bool
nm_addr_from(struct nm_addr *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		a->family = AF_INET;
		memcpy(a->a, &sin->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		a->family = AF_INET6;
		memcpy(a->a, &sin6->sin6_addr, 16);
		return true;
	}
	return false;
}

uint64_t
name_map_now(void)
{
	return uv_hrtime() / 1000000;
}

static struct name_map *global_map;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void
global_make(void)
{
	__atomic_store_n(&global_map, name_map_new(NAME_MAP_MAX),
	    __ATOMIC_RELEASE);
}

bool
name_map_global_init(void)
{
	pthread_once(&global_once, global_make);
	return global_map != NULL;
}

struct name_map *
name_map_global(void)
{
	/* Written once before any reader can see a forwarder. */
	return __atomic_load_n(&global_map, __ATOMIC_ACQUIRE);
}
