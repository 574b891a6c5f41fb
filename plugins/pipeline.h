/*
 * pipeline.h - commands sent upstream that await their replies, in order,
 * and the replies tlshim gives itself in their turn.
 *
 * For protocols without tags (SMTP, POP3) a reply is matched to its
 * command by order alone (RFC 2920, RFC 2449 PIPELINING).  When tlshim
 * answers a command itself, the answer must wait until the replies to the
 * commands pipelined before it have been relayed; it waits here.
 */
#ifndef TLSHIM_PIPELINE_H
#define TLSHIM_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#define PIPE_MAX	1024	/* commands awaiting replies */
#define PIPE_LOCAL_MAX	4	/* local answers waiting their turn */
#define PIPE_LOCAL	0xff	/* the kind of a locally answered command */
#define PIPE_EMPTY	0xfe	/* pipe_front() of an empty pipeline */

struct session;

struct pipeline {
	uint8_t		 kind[PIPE_MAX];	/* the protocol's command kinds */
	unsigned	 head, n;
	char		*local[PIPE_LOCAL_MAX];
	unsigned	 lhead, ln;
};

/* pipe_push - a command went upstream; false when the pipeline is full */
bool		pipe_push(struct pipeline *, uint8_t kind);
/* pipe_front - the kind of the oldest command, or PIPE_EMPTY */
uint8_t		pipe_front(const struct pipeline *);
/* pipe_pop - its reply is complete; local answers now due are written */
void		pipe_pop(struct pipeline *, struct session *);
/* pipe_answer - answer the client now, or in turn; -1 (reason recorded)
 * when too many local answers wait */
int		pipe_answer(struct pipeline *, struct session *,
		    const char *reply);
void		pipe_free(struct pipeline *);

#endif
