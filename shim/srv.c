/*
 * srv.c - the order in which to try SRV targets (RFC 2782, "Usage
 * rules"): by priority, then by a weighted random draw within each
 * priority, repeated until every record of that priority is placed.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>

#include <gnutls/crypto.h>

#include "shim/srv.h"

/* draw - a random number below total (total > 0) */
static uint32_t
draw(uint32_t total)
{
	uint32_t r = 0;

	(void)gnutls_rnd(GNUTLS_RND_NONCE, &r, sizeof(r));
	return r % total;
}

size_t
srv_order(const struct srv_rec *r, size_t n, size_t *order, size_t max)
{
	bool *used;
	size_t out = 0;

	if (n == 0 || max == 0 || (used = calloc(n, sizeof(*used))) == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		used[i] = r[i].target[0] == '\0';
	while (out < max) {
		uint32_t best = UINT32_MAX, total = 0, pick, acc = 0;
		size_t chosen = n;

		for (size_t i = 0; i < n; i++)
			if (!used[i] && r[i].prio < best)
				best = r[i].prio;
		if (best == UINT32_MAX)
			break;
		/* Weight + 1: RFC 2782 gives weight 0 "a very small chance";
		 * one in (sum + count) is small and never none. */
		for (size_t i = 0; i < n; i++)
			if (!used[i] && r[i].prio == best)
				total += r[i].weight + 1u;
		pick = draw(total);
		for (size_t i = 0; i < n && chosen == n; i++) {
			if (used[i] || r[i].prio != best)
				continue;
			acc += r[i].weight + 1u;
			if (pick < acc)
				chosen = i;
		}
		used[chosen] = true;
		order[out++] = chosen;
	}
	free(used);
	return out;
}
