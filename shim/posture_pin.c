/*
 * posture_pin.c - the downgrade pins, in memory: for each peer (name, port,
 * protocol) the last time it was seen with TLS.
 *
 * The event loops check a pin where a session would go on without TLS, so
 * the table never touches the disk: posture_submit() notes every TLS
 * session as it ends, and the writer thread loads what the store remembers
 * when it opens it.  One mutex guards the table; every operation is a
 * hash lookup, except that a full table drops its oldest pin (a scan, at
 * most once per new peer).  Peers that drop out were not seen with TLS
 * for the longest time, which is what an expiring pin would do anyway.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/log.h"
#include "shim/posture.h"
#include "shim/posture_int.h"

#define PIN_BUCKETS	4096		/* a power of two */

struct pin {
	struct pin	*next;
	time_t		 last_tls;
	uint16_t	 port;
	char		 protocol[16];
	char		 peer[];		/* a key (posture_key) */
};

static struct {
	pthread_mutex_t	 lock;
	struct pin	*bucket[PIN_BUCKETS];
	size_t		 n;
} pins = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* posture_key - lower case, no final dot: "MX.Example.NET." and
 * "mx.example.net" are one peer */
void
posture_key(char *dst, size_t len, const char *peer)
{
	size_t	 i;

	if (len == 0)
		return;
	for (i = 0; peer[i] != '\0' && i + 1 < len; i++)
		dst[i] = (peer[i] >= 'A' && peer[i] <= 'Z') ?
		    (char)(peer[i] - 'A' + 'a') : peer[i];
	if (i > 1 && dst[i - 1] == '.')
		i--;
	dst[i] = '\0';
}

/* hash - FNV-1a over the name, the port and the protocol */
static size_t
hash(const char *peer, uint16_t port, const char *protocol)
{
	uint32_t	 h = 2166136261u;

	for (const char *c = peer; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	h = (h ^ (port >> 8)) * 16777619u;
	for (const char *c = protocol; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	return h & (PIN_BUCKETS - 1);
}

/* find - the pin of a peer, or NULL; with the lock held */
static struct pin *
find(const char *peer, uint16_t port, const char *protocol)
{
	struct pin	*p = pins.bucket[hash(peer, port, protocol)];

	for (; p != NULL; p = p->next)
		if (p->port == port && strcmp(p->peer, peer) == 0 &&
		    strcmp(p->protocol, protocol) == 0)
			return p;
	return NULL;
}

/* drop_oldest - make room: free the pin seen with TLS longest ago */
static void
drop_oldest(void)
{
	struct pin	**oldest = NULL, *p;

	for (size_t b = 0; b < PIN_BUCKETS; b++)
		for (struct pin **pp = &pins.bucket[b]; *pp != NULL;
		    pp = &(*pp)->next)
			if (oldest == NULL || (*pp)->last_tls <
			    (*oldest)->last_tls)
				oldest = pp;
	if (oldest == NULL)
		return;
	p = *oldest;
	*oldest = p->next;
	free(p);
	pins.n--;
}

/* posture_pin_note - peer was seen with TLS at t (the newest time wins) */
void
posture_pin_note(const char *peer, uint16_t port, const char *protocol,
    time_t t)
{
	struct pin	*p;
	size_t		 len = strlen(peer), b;

	pthread_mutex_lock(&pins.lock);
	if ((p = find(peer, port, protocol)) != NULL) {
		if (t > p->last_tls)
			p->last_tls = t;
		pthread_mutex_unlock(&pins.lock);
		return;
	}
	if (pins.n >= POSTURE_PIN_MAX)
		drop_oldest();
	if ((p = malloc(sizeof(*p) + len + 1)) != NULL) {
		memcpy(p->peer, peer, len + 1);
		snprintf(p->protocol, sizeof(p->protocol), "%s", protocol);
		p->port = port;
		p->last_tls = t;
		b = hash(peer, port, protocol);
		p->next = pins.bucket[b];
		pins.bucket[b] = p;
		pins.n++;
	}
	pthread_mutex_unlock(&pins.lock);
}

/* posture_pinned_until - last TLS + max_age, or 0 without a pin */
time_t
posture_pinned_until(const char *peer, uint16_t port, const char *protocol,
    uint64_t max_age)
{
	const struct pin	*p;
	char			 key[256];
	time_t			 until = 0;

	posture_key(key, sizeof(key), peer);
	pthread_mutex_lock(&pins.lock);
	if ((p = find(key, port, protocol)) != NULL)
		until = p->last_tls + (time_t)max_age;
	pthread_mutex_unlock(&pins.lock);
	return until;
}

/* posture_pin_clear - forget every pin (the store closes) */
void
posture_pin_clear(void)
{
	pthread_mutex_lock(&pins.lock);
	for (size_t b = 0; b < PIN_BUCKETS; b++) {
		while (pins.bucket[b] != NULL) {
			struct pin *p = pins.bucket[b];

			pins.bucket[b] = p->next;
			free(p);
		}
	}
	pins.n = 0;
	pthread_mutex_unlock(&pins.lock);
}

/* posture_pin_count - how many pins are held */
size_t
posture_pin_count(void)
{
	size_t	 n;

	pthread_mutex_lock(&pins.lock);
	n = pins.n;
	pthread_mutex_unlock(&pins.lock);
	return n;
}

/*
 * posture_check_downgrade - the session is about to go on without TLS.
 * Where svc pins and the peer was seen with TLS within pin_max_age, this
 * is the downgrade the pin exists for (a stripped STARTTLS, a broken
 * handshake): mark the record, say so in its reason, and tell the caller
 * whether to refuse.  security = none asked for plaintext: never a
 * downgrade.
 */
bool
posture_check_downgrade(struct outcome *o, const struct conf_service *svc)
{
	time_t		 until, now = time(NULL);
	struct tm	 tm;
	char		 when[32];

	if (svc->pin == PIN_NO || svc->level == LEV_NONE)
		return false;
	until = posture_pinned_until(o->peer, o->port, o->protocol,
	    svc->pin_max_age);
	if (until <= now)
		return false;
	o->downgrade = true;
	gmtime_r(&until, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	outcome_add_reason(o, "downgrade: %s port %u was seen with TLS and "
	    "is pinned until %s%s", o->peer, o->port, when,
	    svc->pin == PIN_YES ? "" : " (pin = report-only: relayed)");
	return svc->pin == PIN_YES;
}
