/*
 * transparent.h - transparent mode: connections the firewall redirected
 * to tlshim, relayed to where the client meant them to go.
 *
 * upstream = transparent: the original destination of each connection is
 * the upstream (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST after an nftables
 * redirect; the accepted socket's own address under TPROXY).  Its name,
 * which a plaintext client never sends, comes from the DNS forwarder's
 * name map (name_map.h) or from the protocol (XMPP's stream "to"):
 *
 *   name_source   where the name came from
 *   dns           an A or AAAA answer the forwarder relayed
 *   dns-mx        the same, for a host an MX answer named (SMTP)
 *   none          no name: opportunistic only (dane acts as may, never
 *                 authenticated); dane-only and verify refuse
 *   (a plugin's)  the name a client-first client gave before the
 *                 upstream was chosen (XMPP's stream "to": the plugin
 *                 calls sess_set_dest with its source): it comes first
 *
 * With a name, the session is what a configured upstream of that name
 * would be (DNSSEC, TLSA base, SNI, verify), but it connects only to the
 * address the client chose.  A connection whose original destination is
 * tlshim itself (made to the listener, not redirected) is refused: relayed,
 * it would come back to tlshim.
 *
 * Loop avoidance: upstream sockets carry so_mark (SO_MARK, set before
 * connect), which the shipped nftables rules skip.  SO_MARK needs
 * CAP_NET_ADMIN: when tlshimd drops privileges (user =) it keeps that one
 * capability and no other (transparent_caps_*).
 */
#ifndef TLSHIM_TRANSPARENT_H
#define TLSHIM_TRANSPARENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct conf;
struct session;

/*
 * transparent_target - for a session of an upstream = transparent
 * service: the original destination (*orig, *port), and what to connect
 * as: the name known for it (*is_ip false) or its address as text (*is_ip
 * true).  Records name_source.  False when it refused the session (not
 * redirected, or no name for a level that needs one).
 */
bool	transparent_target(struct session *, char *host, size_t hostlen,
	    uint16_t *port, bool *is_ip, struct sockaddr_storage *orig);
/*
 * transparent_only - the addresses found for the target (addr[0..n))
 * give way to orig, the one the client chose: returns 1 with addr[0] =
 * *orig, or 0 after refusing.  Adjusts the level where the name gave no
 * DANE decision (no name, or no address records for it).
 */
size_t	transparent_only(struct session *, struct sockaddr_storage *addr,
	    size_t n, const struct sockaddr_storage *orig);
/*
 * transparent_auth - after certificate verification gave ok: a session
 * with no name for its server (name_source=none) is not authenticated,
 * whatever an address in the certificate says (the client named no
 * server), so ok becomes false with why said and the record untrusted.
 */
bool	transparent_auth(struct session *, bool ok, char *why,
	    size_t whylen);

/* upstream_set_mark - SO_MARK = so_mark on the (initialized) upstream
 * socket, before connect; 0 or a libuv error */
int	upstream_set_mark(struct session *);
/* transparent_listen_opt - IP_TRANSPARENT (IPV6_TRANSPARENT) on a
 * listener's socket, before bind (TPROXY); 0 or -errno */
int	transparent_listen_opt(int fd, int family);

/* transparent_caps_keep - before dropping privileges: keep capabilities
 * across setuid when conf needs CAP_NET_ADMIN (so_mark) */
void	transparent_caps_keep(const struct conf *);
/* transparent_caps_check - after: CAP_NET_ADMIN alone is kept (every
 * other capability dropped), and SO_MARK works; false with err if not */
bool	transparent_caps_check(const struct conf *, char *err, size_t errlen);

#endif
