/*
 * tls_vcache.c - the bounded cache of certificate verdicts.
 *
 * The verdicts live in one static table of TLS_VCACHE_MAX slots: no
 * allocation, and a bound on memory known at build time.  A slot in use
 * sits on a hash bucket, to be found by its key, and on one use list,
 * most recently used first, to give the least recently used slot away
 * when the table is full.  A verdict found outlived (its time is over, or
 * the clock went back before it was made) is dropped where it is found.
 * Everything runs under one mutex and calls nothing out while holding it.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "shim/tls_vcache.h"

#define NBUCKETS	1024		/* a power of two */

struct ventry {
	struct ventry	*bnext;			/* bucket chain */
	struct ventry	*newer, *older;		/* use list */
	struct tls_vkey	 key;
	unsigned	 status;		/* GnuTLS verification status */
	time_t		 from, until;		/* holds in [from, until) */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct ventry table[TLS_VCACHE_MAX];
static struct ventry *buckets[NBUCKETS];
static struct ventry *newest, *oldest;	/* the use list */
static struct ventry *spare;		/* freed slots, through bnext */
static size_t nfresh;			/* slots never used yet */
static size_t nentries;
static uint64_t nhits, nmisses;

bool
tls_vcache_key(struct tls_vkey *k, const gnutls_datum_t *certs, unsigned n,
    uint64_t store, const char *name, bool is_ip)
{
	static const char tag[] = "tlshim verdict 1";
	gnutls_hash_hd_t h;
	unsigned char b[9];

	if (n == 0 || gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return false;
	/* Fixed-size fields first, the name with its NUL, then each
	 * certificate with its length: no two inputs give the same bytes. */
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(store >> (56 - 8 * i));
	b[8] = is_ip ? 'a' : 'n';
	if (gnutls_hash(h, tag, sizeof(tag)) < 0 ||
	    gnutls_hash(h, b, sizeof(b)) < 0 ||
	    gnutls_hash(h, name, strlen(name) + 1) < 0)
		goto fail;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = certs[i].size;
		unsigned char l[4] = { len >> 24, len >> 16, len >> 8, len };

		if (gnutls_hash(h, l, sizeof(l)) < 0 ||
		    gnutls_hash(h, certs[i].data, len) < 0)
			goto fail;
	}
	gnutls_hash_deinit(h, k->d);
	return true;
fail:
	gnutls_hash_deinit(h, NULL);
	return false;
}

/* bucket_of - the bucket of a key: SHA-256 output is already uniform */
static struct ventry **
bucket_of(const struct tls_vkey *k)
{
	uint32_t h;

	memcpy(&h, k->d, sizeof(h));
	return &buckets[h & (NBUCKETS - 1)];
}

/* find - the slot holding key, or NULL */
static struct ventry *
find(const struct tls_vkey *k)
{
	for (struct ventry *e = *bucket_of(k); e != NULL; e = e->bnext)
		if (memcmp(e->key.d, k->d, sizeof(k->d)) == 0)
			return e;
	return NULL;
}

/* use_unlink - take e off the use list */
static void
use_unlink(struct ventry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		oldest = e->newer;
	e->newer = e->older = NULL;
}

/* use_front - put e first on the use list (it is on no list) */
static void
use_front(struct ventry *e)
{
	e->newer = NULL;
	e->older = newest;
	if (newest != NULL)
		newest->newer = e;
	newest = e;
	if (oldest == NULL)
		oldest = e;
}

/* drop - take e off both lists and make its slot spare */
static void
drop(struct ventry *e)
{
	struct ventry **pp = bucket_of(&e->key);

	while (*pp != e)
		pp = &(*pp)->bnext;
	*pp = e->bnext;
	use_unlink(e);
	memset(e, 0, sizeof(*e));
	e->bnext = spare;
	spare = e;
	nentries--;
}

bool
tls_vcache_get(const struct tls_vkey *k, time_t now, unsigned *status)
{
	struct ventry *e;
	bool hit = false;

	pthread_mutex_lock(&mu);
	if ((e = find(k)) != NULL) {
		if (now < e->from || now >= e->until)
			drop(e);
		else {
			use_unlink(e);
			use_front(e);
			*status = e->status;
			hit = true;
		}
	}
	if (hit)
		nhits++;
	else
		nmisses++;
	pthread_mutex_unlock(&mu);
	return hit;
}

void
tls_vcache_put(const struct tls_vkey *k, unsigned status, time_t now,
    time_t until)
{
	struct ventry *e;

	if (until > now + TLS_VCACHE_MAX_AGE)
		until = now + TLS_VCACHE_MAX_AGE;
	if (until <= now)
		return;
	pthread_mutex_lock(&mu);
	if ((e = find(k)) != NULL)
		use_unlink(e);		/* a newer verdict replaces it */
	else {
		if (spare == NULL && nfresh >= TLS_VCACHE_MAX)
			drop(oldest);
		if (spare != NULL) {
			e = spare;
			spare = e->bnext;
		} else
			e = &table[nfresh++];
		e->key = *k;
		e->bnext = *bucket_of(k);
		*bucket_of(k) = e;
		nentries++;
	}
	e->status = status;
	e->from = now;
	e->until = until;
	use_front(e);
	pthread_mutex_unlock(&mu);
}

/* expiry - a certificate's expiry time, or (time_t)-1 */
static time_t
expiry(gnutls_x509_crt_t crt)
{
	return gnutls_x509_crt_get_expiration_time(crt);
}

time_t
tls_vcache_until(const gnutls_datum_t *certs, unsigned n,
    gnutls_x509_trust_list_t tl)
{
	gnutls_x509_crt_t crt, issuer;
	time_t until = 0, t;

	for (unsigned i = 0; i < n; i++) {
		if (gnutls_x509_crt_init(&crt) < 0)
			return 0;
		if (gnutls_x509_crt_import(crt, &certs[i],
		    GNUTLS_X509_FMT_DER) < 0 || (t = expiry(crt)) == -1) {
			gnutls_x509_crt_deinit(crt);
			return 0;
		}
		if (until == 0 || t < until)
			until = t;
		/* Anchors are time-checked too (GnuTLS does unless told
		 * not to).  Which certificate of the chain the verification
		 * stopped at is not known here: every anchor that issued
		 * one of them counts, which can only make the time
		 * shorter. */
		if (tl != NULL && gnutls_x509_trust_list_get_issuer(tl, crt,
		    &issuer, GNUTLS_TL_GET_COPY) == 0) {
			t = expiry(issuer);
			gnutls_x509_crt_deinit(issuer);
			if (t == -1) {
				gnutls_x509_crt_deinit(crt);
				return 0;
			}
			if (t < until)
				until = t;
		}
		gnutls_x509_crt_deinit(crt);
	}
	return until;
}

size_t
tls_vcache_count(void)
{
	size_t n;

	pthread_mutex_lock(&mu);
	n = nentries;
	pthread_mutex_unlock(&mu);
	return n;
}

void
tls_vcache_stats(uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&mu);
	*hits = nhits;
	*misses = nmisses;
	pthread_mutex_unlock(&mu);
}

void
tls_vcache_clear(void)
{
	pthread_mutex_lock(&mu);
	memset(table, 0, sizeof(table));
	memset(buckets, 0, sizeof(buckets));
	newest = oldest = spare = NULL;
	nfresh = nentries = 0;
	nhits = nmisses = 0;
	pthread_mutex_unlock(&mu);
}
