/*
 * probe.h - what `tlshim probe` knows of one probe: the session run
 * (probe.c) and the report made of it (probe_report.c).
 */
#ifndef TLSHIM_PROBE_H
#define TLSHIM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "shim/conf.h"
#include "shim/dns.h"
#include "shim/result.h"
#include "shim/server.h"

/* What a URL scheme means: protocol, TLS mode, what a client says to
 * leave, and for a client-first protocol what it says first (a format
 * taking the URL's host). */
struct scheme {
	const char	*scheme;
	const char	*protocol;
	enum tls_mode	 tls;
	const char	*bye;
	const char	*hello;
};

struct probe {
	const struct scheme	*scheme;
	char			 host[256];
	uint16_t		 port;		/* 0: the protocol's */
	bool			 is_ip;
	bool			 json;
	uv_loop_t		 loop;
	struct server		 srv;
	bool			 srv_up;
	uint16_t		 listen_port;
	/* The lookups shown in the report. */
	struct dns_client	*dns;
	struct dns_req		*req[3];
	unsigned		 pending;
	bool			 from_hosts;	/* /etc/hosts answered */
	bool			 tlsa_asked;
	char			 addrs[512];
	enum dnssec_state	 addr_sec;
	enum dns_status		 tlsa_status;
	enum dnssec_state	 tlsa_sec;
	char			 tlsa_name[300];
	char			 tlsa[1024];
	size_t			 tlsa_usable;
	/* The legacy client's side. */
	uv_tcp_t		 client;
	uv_connect_t		 creq;
	uv_write_t		 wreq;
	uv_write_t		 hreq;		/* the hello */
	char			 hello[600];
	bool			 client_open;
	bool			 bye_sent;
	char			 greeting[256];
	char			 rbuf[4096];
	uv_timer_t		 deadline;
	/* The session's record. */
	struct outcome		 out;
	bool			 have_out;
	char			 error[256];
};

/* probe_verdict - the exit status: 0 authenticated (dane-ee, dane-ta,
 * pkix), 1 encrypted but not authenticated, 2 plaintext or refused,
 * 3 error */
int	probe_verdict(const struct probe *);
/* probe_report_json, probe_report_text - the report on stdout, for the
 * URL asked and its verdict rc */
void	probe_report_json(const struct probe *, const char *url, int rc);
void	probe_report_text(const struct probe *, const char *url, int rc);

#endif
