/*
 * dnsserver.h - a scripted DNS server for tests: UDP and TCP on one
 * random free port of 127.0.0.1, on its own thread, answering each query
 * from a table of rules the test gives (answers built with ldns from
 * records in presentation form).  It logs every query it gets, so a test
 * can count them and look at what the client sent.
 *
 * A query is answered by the first rule whose name and type match; with
 * no matching rule the answer is REFUSED.  Over TCP the server reads
 * length-prefixed queries on each connection until the client closes it.
 */
#ifndef TLSHIM_TEST_DNSSERVER_H
#define TLSHIM_TEST_DNSSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DS_MAX_RR	64	/* records in one section of a rule */
#define DS_MAX_LOG	256	/* queries kept in the log */

/* Rule flags. */
#define DS_AD		0x01	/* set the AD bit */
#define DS_TC		0x02	/* over UDP: TC set and no records; over
				 * TCP: the whole answer */
#define DS_SILENT	0x04	/* never answer (a TCP connection is closed) */
#define DS_DECOYS	0x08	/* over UDP, before the answer, three NXDOMAIN
				 * answers that are not the answer: one with
				 * another ID, one to another question, one
				 * from another port */
#define DS_GARBAGE	0x10	/* a header (right ID, QR, one question) and
				 * nothing after it */
#define DS_TCP_HANGUP	0x20	/* over TCP: close without an answer */

struct ds_rule {
	const char	*name;		/* lower case, no final dot; NULL:
					 * any */
	uint16_t	 type;		/* 0: any */
	uint8_t		 rcode;		/* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN,
					 * 5 REFUSED */
	unsigned	 flags;		/* DS_* */
	unsigned	 delay_ms;	/* wait before answering */
	const char	*an[DS_MAX_RR];	/* answer section, NULL-terminated:
					 * "a.test. 300 IN A 192.0.2.1" */
	const char	*ns[4];		/* authority (the SOA of a negative
					 * answer) */
};

/* One query as the server got it. */
struct ds_query {
	char		 name[256];	/* lower case, no final dot */
	uint16_t	 type;
	uint16_t	 id;
	uint16_t	 port;		/* the client's source port */
	bool		 tcp;
	bool		 rd, edns, do_bit;
};

struct dnsserver;

/* ds_start - serve rules[0..n) (which must outlive the server); NULL
 * with a message on stderr when the sockets cannot be made */
struct dnsserver *ds_start(const struct ds_rule *rules, size_t n);
/* ds_stop - stop the thread, close the sockets, free; NULL is fine */
void		 ds_stop(struct dnsserver *);
/* ds_addr - 127.0.0.1 and the server's port */
void		 ds_addr(const struct dnsserver *, struct sockaddr_storage *);
int		 ds_port(const struct dnsserver *);
/* ds_count - queries received so far (over UDP and TCP), and over TCP */
unsigned	 ds_count(struct dnsserver *);
unsigned	 ds_count_tcp(struct dnsserver *);
/* ds_query - a copy of the i-th query received; false if there is none */
bool		 ds_query(struct dnsserver *, unsigned i, struct ds_query *);

#endif
