/*
 * conf.h - the loaded configuration: a plain, typed, immutable struct.
 *
 * conf_load() reads the INI file (libinih), checks every key and value and
 * returns a complete struct conf, or NULL and one "file:line: message".  A
 * loaded configuration is never changed: a reload builds a new one, and
 * sessions keep a reference (conf_ref) to the one they started with.
 */
#ifndef TLSHIM_CONF_H
#define TLSHIM_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct proto;
struct tls_client;

/* Order matters: every level from LEV_ENCRYPT up requires TLS. */
enum tls_level {
	LEV_NONE = 0, LEV_MAY, LEV_ENCRYPT, LEV_DANE, LEV_DANE_ONLY,
	LEV_VERIFY, LEV_LAST
};
enum tls_mode {
	TLSM_STARTTLS = 0, TLSM_IMPLICIT,
	TLSM_AUTO,		/* per SRV target: direct TLS where its
				 * label says so (XEP-0368) */
	TLSM_LAST
};
enum direction { DIR_OUTBOUND = 0, DIR_INBOUND, DIR_LAST };
/* How the upstream is found: a fixed host (name or address), the MX hosts
 * of a mail domain (RFC 5321 5.1), or the SRV records of a domain for the
 * protocol (RFC 6186, 8314); or, in transparent mode, the original
 * destination of each redirected connection. */
enum upstream_kind { UPK_HOST = 0, UPK_MX, UPK_SRV, UPK_TRANSPARENT,
	UPK_LAST };
/* How redirected connections arrive (upstream = transparent): NAT
 * (nftables redirect: SO_ORIGINAL_DST) or TPROXY (the local address). */
enum transparent_mode { TP_NONE = 0, TP_REDIRECT, TP_TPROXY, TP_LAST };
/* Whose DNSSEC verdict to believe: a loopback resolver's AD bit, or none. */
enum conf_dnssec { CONF_DNSSEC_TRUST_AD = 0, CONF_DNSSEC_OFF, CONF_DNSSEC_LAST };
/* Downgrade protection (posture.h): refuse plaintext to a peer seen with
 * TLS, only record it, or neither. */
enum pin_mode { PIN_NO = 0, PIN_YES, PIN_REPORT_ONLY, PIN_LAST };

const char	*level_name(enum tls_level);
const char	*tls_mode_name(enum tls_mode);
const char	*direction_name(enum direction);
const char	*upstream_kind_name(enum upstream_kind);
const char	*pin_mode_name(enum pin_mode);
/* level_requires_tls - may this level ever relay in plaintext? */
bool		 level_requires_tls(enum tls_level);

#define CONF_MAX_LISTEN		8
#define CONF_MAX_RESOLVERS	3
#define CONF_MAX_DNS_LISTEN	4
#define CONF_WORKERS_MAX	64
#define CONF_ERR_MAX		512

struct conf_error {
	char	msg[CONF_ERR_MAX];	/* "file:line: message" */
	int	line;			/* 0 when not tied to a line */
};

struct conf_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 text[64];	/* as written: "[::1]:25" */
};

struct conf_service {
	char			*name;		/* the section name */
	int			 line;		/* line of "[name]" */
	const struct proto	*proto;
	enum direction		 direction;
	struct conf_addr	 listen[CONF_MAX_LISTEN];
	size_t			 nlisten;
	enum upstream_kind	 upstream_kind;
	char			*upstream_host;	/* name or address literal;
						 * the domain for mx and srv */
	uint16_t		 upstream_port;	/* for mx: the port of every
						 * MX host; unused for srv */
	bool			 upstream_is_ip;
	enum transparent_mode	 transparent;	/* TP_NONE unless transparent */
	uint32_t		 so_mark;	/* on upstream sockets; 0: none */
	enum tls_mode		 tls;
	enum tls_level		 level;
	char			*helo_name;
	bool			 cleartext_auth;
	char			*ca_file;	/* this service's, or global's */
	int			 ca_file_line;	/* where it was set, for errors */
	unsigned		 connect_timeout_ms;
	unsigned		 handshake_timeout_ms;
	unsigned		 idle_timeout_ms;
	unsigned		 max_sessions;
	enum pin_mode		 pin;
	unsigned		 pin_max_age;	/* seconds */
	/* Runtime: TLS client credentials, filled by tls_conf_prepare()
	 * right after loading and released with the configuration. */
	struct tls_client	*tls_client;
};

struct conf {
	char			*path;
	unsigned		 refs;
	char			*state_dir;
	char			*ca_file;
	int			 ca_file_line;
	char			*user;		/* NULL: do not drop privileges */
	int			 log_level;	/* enum log_level */
	unsigned		 workers;	/* event loops; 0: one per CPU */
	struct conf_addr	 resolver[CONF_MAX_RESOLVERS];
	size_t			 nresolvers;	/* 0: /etc/resolv.conf's */
	int			 resolver_line;
	enum conf_dnssec	 dnssec;
	struct conf_addr	 dns_listen[CONF_MAX_DNS_LISTEN]; /* the DNS
						 * forwarder (dns_forward.h) */
	size_t			 ndns_listen;
	struct conf_addr	 metrics_listen;	/* len 0: no metrics */
	char			*control_socket;	/* NULL: none */
	unsigned		 posture_retention;	/* seconds */
	struct conf_service	*services;
	size_t			 nservices;
};

/* Defaults, in milliseconds where they are times. */
#define CONF_DEFAULT_CONNECT_TIMEOUT	30000
#define CONF_DEFAULT_HANDSHAKE_TIMEOUT	120000
#define CONF_DEFAULT_IDLE_TIMEOUT	300000
#define CONF_DEFAULT_MAX_SESSIONS	1000
/* In seconds. */
#define CONF_DEFAULT_PIN_MAX_AGE	(30u * 86400)
#define CONF_DEFAULT_POSTURE_RETENTION	(90u * 86400)
#define CONF_DEFAULT_CA_FILE		"/etc/ssl/certs/ca-certificates.crt"
#define CONF_DEFAULT_STATE_DIR		"/var/lib/tlshim"
#define CONF_DEFAULT_PATH		"/etc/tlshim/tlshim.conf"

/* conf_load - read and check a file; NULL with *err filled on error */
struct conf	*conf_load(const char *path, struct conf_error *err);
/* conf_parse - the same on text in memory; name is used in messages */
struct conf	*conf_parse(const char *text, size_t len, const char *name,
		    struct conf_error *err);
struct conf	*conf_ref(struct conf *);
void		 conf_unref(struct conf *);
/* conf_find_service - by section name, NULL if absent */
const struct conf_service *conf_find_service(const struct conf *,
		    const char *name);

#endif
