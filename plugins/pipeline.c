/*
 * pipeline.c - reply order for protocols without tags (SMTP, POP3).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "plugins/pipeline.h"
#include "plugins/proto.h"

bool
pipe_push(struct pipeline *p, uint8_t kind)
{
	if (p->n == PIPE_MAX)
		return false;
	p->kind[(p->head + p->n) % PIPE_MAX] = kind;
	p->n++;
	return true;
}

uint8_t
pipe_front(const struct pipeline *p)
{
	return p->n > 0 ? p->kind[p->head] : PIPE_EMPTY;
}

/* flush_local - local answers whose turn has come: at the head of the
 * pipeline, with no relayed command before them */
static void
flush_local(struct pipeline *p, struct session *s)
{
	while (p->n > 0 && p->kind[p->head] == PIPE_LOCAL && p->ln > 0) {
		char *r = p->local[p->lhead];

		sess_write_down(s, r, strlen(r));
		free(r);
		p->lhead = (p->lhead + 1) % PIPE_LOCAL_MAX;
		p->ln--;
		p->head = (p->head + 1) % PIPE_MAX;
		p->n--;
	}
}

void
pipe_pop(struct pipeline *p, struct session *s)
{
	if (p->n > 0) {
		p->head = (p->head + 1) % PIPE_MAX;
		p->n--;
	}
	flush_local(p, s);
}

int
pipe_answer(struct pipeline *p, struct session *s, const char *reply)
{
	char *copy;

	if (p->n == 0) {
		sess_write_down(s, reply, strlen(reply));
		return 0;
	}
	if (p->ln == PIPE_LOCAL_MAX || (copy = strdup(reply)) == NULL) {
		sess_set_result(s, RES_NONE, "client pipelined too many "
		    "commands that tlshim answers itself");
		return -1;
	}
	if (!pipe_push(p, PIPE_LOCAL)) {
		free(copy);
		sess_set_result(s, RES_NONE, "client pipelined more than %d "
		    "commands", PIPE_MAX);
		return -1;
	}
	p->local[(p->lhead + p->ln) % PIPE_LOCAL_MAX] = copy;
	p->ln++;
	return 0;
}

void
pipe_free(struct pipeline *p)
{
	for (unsigned i = 0; i < p->ln; i++)
		free(p->local[(p->lhead + i) % PIPE_LOCAL_MAX]);
	p->ln = 0;
	p->n = 0;
}
