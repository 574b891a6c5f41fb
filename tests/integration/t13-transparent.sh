#!/bin/bash
# t13-transparent.sh - transparent mode across network namespaces: a
# client, a router running tlshimd behind the shipped nftables recipes
# (contrib/nftables), and a server running a real Postfix with TLS.
#
#   client 10.13.1.2 fd13:1::2 --c0/r0-- router 10.13.1.1 fd13:1::1
#                                         10.13.2.1 fd13:2::1 --r1/s0--
#   server 10.13.2.2 fd13:2::2
#
# The client talks plaintext SMTP (and IMAP, to a real Dovecot there) to
# the server's address, as a legacy device does; the router's prerouting
# rules hand the connection to tlshimd, which relays it in TLS (Postfix's
# Received header and Dovecot's log say so).  TPROXY too.
# The DNS lab (NSD and a validating Unbound, dnslab.sh) runs on the
# router's loopback; the client resolves through tlshimd's DNS forwarder,
# so tlshimd learns the server's name: secure TLSA gives dane-ee, a wrong
# TLSA is refused, no name means encryption only (name_source=none).
# Also: IPv6, a connection made straight to the listener (refused, never
# looped), the per-host recipe (output chain, tlshimd's own connections
# skipped by their mark), dane-only without a name, and a forwarder that
# would forward to itself.  Nothing leaves the namespaces: every address
# is on their veths or loopbacks.  lib.sh deletes the namespaces, and
# whatever runs in them, at exit.
#
# Programs run in a namespace through small wrappers (in $LAB_TMP/nsbin,
# first on PATH): each runs the real program in the namespace named by
# T13_NS, or where it is when T13_NS is empty.  So lib.sh's helpers work
# unchanged inside a namespace: `in_ns NS pf_start` starts Postfix there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dnslab.sh"

LAB_IP=10.13.2.2		# the server (Postfix, and every lab host's A)
SRV6=fd13:2::2
RTR=10.13.1.1 RTR6=fd13:1::1
CLI=10.13.1.2
lab_init "postfix postconf swaks certtool nft ip dovecot curl $(dl_tools)"
command -v ip >/dev/null 2>&1 || skip_all "ip (iproute2) not installed"
NSC=tl13c-$$ NSR=tl13r-$$ NSS=tl13s-$$
lab_netns_add "$NSC" || skip_all "cannot create network namespaces (ip netns add)"
lab_netns_add "$NSR" && lab_netns_add "$NSS" ||
	bail "could make one network namespace but not three"
ip netns exec "$NSR" nft list tables >/dev/null 2>&1 ||
	skip_all "nft does not work in a network namespace"

TLSHIM_REAL=$TLSHIMD
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)

# ------------------------------------------------------------- wrappers

NSBIN=$LAB_TMP/nsbin
mkdir -p "$NSBIN"
# wrap NAME [REAL] - $NSBIN/NAME runs REAL (NAME found on PATH) in $T13_NS
wrap() {
	local _real=${2:-$(command -v "$1")}
	[ -n "$_real" ] || bail "$1 not found"
	cat >"$NSBIN/$1" <<-EOF
	#!/bin/sh
	# Runs $_real in the network namespace \$T13_NS (t13-transparent.sh).
	if [ -n "\${T13_NS:-}" ]; then
		exec ip netns exec "\$T13_NS" "$_real" "\$@"
	fi
	exec "$_real" "\$@"
	EOF
	chmod 755 "$NSBIN/$1"
}
for _t in swaks nsd unbound unbound-checkconf unbound-control drill \
    postfix dovecot curl; do
	wrap "$_t"
done
wrap python3 "$LAB_PYTHON"
wrap tlshimd "$TLSHIM_REAL"
PATH=$NSBIN:$PATH
LAB_PYTHON=$NSBIN/python3
TLSHIMD=$NSBIN/tlshimd
export PATH T13_NS=

# in_ns NS CMD... - CMD with its programs in namespace NS; its status
in_ns() {
	local _old=$T13_NS _rc=0
	T13_NS=$1
	shift
	"$@" || _rc=$?
	T13_NS=$_old
	return $_rc
}

# ------------------------------------------------------------- network

net_setup() {
	set -e
	ip -n "$NSR" link add r0 type veth peer name c0 netns "$NSC"
	ip -n "$NSR" link add r1 type veth peer name s0 netns "$NSS"
	ip -n "$NSC" addr add "$CLI/24" dev c0
	ip -n "$NSC" addr add fd13:1::2/64 dev c0 nodad
	ip -n "$NSR" addr add "$RTR/24" dev r0
	ip -n "$NSR" addr add "$RTR6/64" dev r0 nodad
	ip -n "$NSR" addr add 10.13.2.1/24 dev r1
	ip -n "$NSR" addr add fd13:2::1/64 dev r1 nodad
	ip -n "$NSS" addr add "$LAB_IP/24" dev s0
	ip -n "$NSS" addr add "$SRV6/64" dev s0 nodad
	ip -n "$NSC" link set c0 up
	ip -n "$NSR" link set r0 up
	ip -n "$NSR" link set r1 up
	ip -n "$NSS" link set s0 up
	ip -n "$NSC" route add default via "$RTR"
	ip -n "$NSC" -6 route add default via "$RTR6"
	ip -n "$NSS" route add default via 10.13.2.1
	ip -n "$NSS" -6 route add default via fd13:2::1
	ip netns exec "$NSR" sysctl -qw net.ipv4.ip_forward=1 \
	    net.ipv6.conf.all.forwarding=1
	set +e
}
check "namespaces: veths, addresses, routes, forwarding" net_setup

# ------------------------------------------------------------- servers

pki_make
LAB_PORT_BASE_SAVED=$LAB_PORT_BASE
# Postfix in the server's namespace, on the real port 25 (PF_GOOD; the
# other listeners take the next ports), and on its IPv6 address.
LAB_PORT_BASE=25
PF_IP6=$SRV6 in_ns "$NSS" pf_start
LAB_PORT_BASE=$LAB_PORT_BASE_SAVED
is "$PF_GOOD" 25 "Postfix listens on port 25 in the server namespace"
# Dovecot there too, IMAP on the real port 143; its second (plaintext)
# instance wants an address of its own.
ip -n "$NSS" addr add 10.13.2.102/24 dev s0
DC_PLAIN_IP=10.13.2.102
LAB_PORT_BASE=143
in_ns "$NSS" dc_start
LAB_PORT_BASE=$LAB_PORT_BASE_SAVED
is "$DC_IMAP" 143 "Dovecot listens for IMAP on port 143 in the server namespace"
new_id msg
MSG=$ID
dc_deliver "$MSG"
# The DNS lab on the router's loopback: TLSA at _25._tcp and _143._tcp,
# mx-ee has AAAA.
in_ns "$NSR" dl_start "$LAB_IP" "$PF_GOOD $DC_IMAP" "$LAB_PKI/good.pem" \
    "$LAB_PKI/ca.pem" "$SRV6"

# ------------------------------------------------------------- tlshimd

# The shipped rule sets, with the lab's interface.
sed 's/^define lan_if = .*/define lan_if = "r0"/' \
    "$SRCDIR/contrib/nftables/tlshim-router.nft" >"$LAB_TMP/router.nft"
cp "$SRCDIR/contrib/nftables/tlshim-host.nft" "$LAB_TMP/host.nft"
check "nft loads the router recipe (prerouting)" \
    ip netns exec "$NSR" nft -f "$LAB_TMP/router.nft"
check "nft loads the per-host recipe (output), twice" sh -c \
    "ip netns exec $NSR nft -f $LAB_TMP/host.nft &&
     ip netns exec $NSR nft -f $LAB_TMP/host.nft"

# tl_conf FILE SECURITY [KEY=VALUE...] - tlshimd for the router: the
# recipes' ports; more [global] keys after SECURITY
tl_conf() {
	local _f=$1 _sec=$2
	shift 2
	tl_conf_global "$_f" "resolver=$DL_RESOLVER" "dnssec=trust-ad" \
	    "log_level=detail" "so_mark=0x746c" \
	    "dns_listen=$RTR:53 [$RTR6]:53 127.0.0.1:53" "workers=2" "$@"
	cat >>"$_f" <<-EOF

	[smtp]
	protocol = smtp
	; REDIRECT from the LAN lands on r0's addresses, from this host
	; (the output chain) on loopback.
	listen = $RTR:10025 [$RTR6]:10025 127.0.0.1:10025
	upstream = transparent
	security = $_sec
	helo_name = shim.tlshim.test
	connect_timeout = 10s
	handshake_timeout = 10s
	idle_timeout = 30s

	[imap]
	protocol = imap
	listen = $RTR:10143 [$RTR6]:10143 127.0.0.1:10143
	upstream = transparent
	security = $_sec
	connect_timeout = 10s
	handshake_timeout = 10s
	idle_timeout = 30s
	EOF
}

# t13_start CONF - tlshimd in the router's namespace (setsid, tracked);
# waits for its IPv4 listeners
t13_start() {
	TL_N=$((TL_N + 1))
	TL_LOG=$LAB_TMP/tlshimd.$TL_N.log
	T13_NS=$NSR setsid "$TLSHIMD" -c "$1" -f </dev/null \
	    >"$TL_LOG.stdout" 2>"$TL_LOG" &
	TL_PID=$!
	lab_track "$TL_PID"
	in_ns "$NSR" wait_listen "$RTR" 10025 10 "$TL_PID" >/dev/null &&
	    in_ns "$NSR" wait_listen 127.0.0.1 10025 10 "$TL_PID" >/dev/null &&
	    in_ns "$NSR" wait_listen "$RTR" 53 10 "$TL_PID" >/dev/null
}

conf=$LAB_TMP/t13.conf
tl_conf "$conf" dane
check "tlshimd -t accepts the transparent configuration" \
    "$TLSHIM_REAL" -t -c "$conf"
check "tlshimd starts in the router namespace" t13_start "$conf"
tl_alive || { diag_file "$TL_LOG"; bail "tlshimd did not start"; }
like "$(grep 'DNS forwarder listening' "$TL_LOG" | head -n 1)" \
    "$RTR:53" "the DNS forwarder listens on the router's LAN address"

# ------------------------------------------------------------- helpers

# resolve NAME TYPE [SERVER] - the client asks tlshim's forwarder; prints
# the answer's records of TYPE (their data)
resolve() {
	in_ns "$NSC" timeout 10 drill -Q "$1" "@${3:-$RTR}" "$2" 2>&1
}

# delivered_tls WHAT ID STATUS - after a send from the client:
# delivered, and Postfix got it over TLS
delivered_tls() {
	delivery_checks "$1" "$2" "$3"
}

# session MARK SESSION_ERE - the first session line after MARK
session() {
	tl_session "$1" "$2" 15
}

# send4 WHAT - swaks from the client, in plaintext, to the server's
# IPv4 address port 25; sets ID, RC and LINE (tlshimd's session line)
send4() {
	local tm
	tm=$(tl_mark)
	new_id "$1"
	RC=0
	in_ns "$NSC" swaks_send "$LAB_IP" 25 "$ID" >/dev/null || RC=$?
	LINE=$(session "$tm" "client=$CLI:")
}

# ------------------------------------------------------------- tests

# The client really reaches the server through the router: a plaintext
# SMTP session to 10.13.2.2:25, no name known yet (nothing resolved).
send4 noname
is "$RC" 0 "no name: swaks (plaintext) delivers to $LAB_IP:25"
delivered_tls "no name" "$ID" "$RC"
is "$(kv "$LINE" result)/$(kv "$LINE" auth)/$(kv "$LINE" name_source)" \
    tls/untrusted/none "no name: result=tls auth=untrusted name_source=none"
is "$(kv "$LINE" peer) $(kv "$LINE" addr) $(kv "$LINE" port)" \
    "$LAB_IP $LAB_IP 25" "no name: peer, addr and port are the original destination"
like "$(kv "$LINE" reason)" 'no name known' \
    "no name: the reason says DANE could not apply"
# The certificate names 10.13.2.2 and chains to the CA tlshimd trusts,
# yet without a name the session is not called authenticated.
like "$(kv "$LINE" reason)" 'authenticates no name' \
    "no name: a certificate for the address does not count"

# With the forwarder as the client's resolver: the name, and DANE.
like "$(resolve mx-ee.dane.test A)" "$LAB_IP" \
    "forwarder: the client resolves mx-ee.dane.test through tlshim"
send4 named
is "$RC" 0 "named: delivered"
delivered_tls "named" "$ID" "$RC"
is "$(kv "$LINE" result)/$(kv "$LINE" auth)/$(kv "$LINE" dnssec)" \
    tls/dane-ee/secure "named: result=tls auth=dane-ee dnssec=secure"
is "$(kv "$LINE" peer)/$(kv "$LINE" name_source)" mx-ee.dane.test/dns \
    "named: peer=mx-ee.dane.test name_source=dns"
like "$(kv "$LINE" tlsa)" "^3 1 1 $DL_EE_SPKI256" "named: the TLSA record used"

# A wrong TLSA for the name the client resolved: refused, not relayed.
like "$(resolve mx-wrong.dane.test A)" "$LAB_IP" "forwarder: mx-wrong resolved"
tm=$(tl_mark)
new_id wrong
rc=0
in_ns "$NSC" py_send "$LAB_IP" 25 "$ID" >/dev/null || rc=$?
is "$rc" 3 "wrong TLSA: the client gets no 220 greeting"
like "$(py_get "$ID" greeting)" '^421 4\.7\.0 tlshim: ' \
    "wrong TLSA: the greeting is 421 4.7.0"
check "wrong TLSA: nothing delivered" not_delivered "$ID"
LINE=$(session "$tm" "client=$CLI:")
is "$(kv "$LINE" result)/$(kv "$LINE" cause)/$(kv "$LINE" peer)" \
    refused/dane-mismatch/mx-wrong.dane.test \
    "wrong TLSA: result=refused cause=dane-mismatch peer=mx-wrong.dane.test"

# A name without TLSA: encrypted, as may.
resolve mx-notlsa.dane.test A >/dev/null
send4 notlsa
delivered_tls "notlsa" "$ID" "$RC"
is "$(kv "$LINE" auth)/$(kv "$LINE" name_source)/$(kv "$LINE" peer)" \
    untrusted/dns/mx-notlsa.dane.test "notlsa: untrusted, name from DNS"

# MX first, as an MTA does: the MX host name is the TLSA base (and, for
# SMTP, preferred to other names of the same address from then on).
like "$(resolve ee.dane.test MX)" 'mx-ee\.dane\.test' \
    "forwarder: MX answer relayed"
resolve mx-ee.dane.test A >/dev/null
send4 mx
delivered_tls "mx" "$ID" "$RC"
is "$(kv "$LINE" auth)/$(kv "$LINE" name_source)" dane-ee/dns-mx \
    "mx: auth=dane-ee name_source=dns-mx"

# --- IPv6: first without a name, then with the AAAA the client got.
v6_send() {	# v6_send WHAT - smtplib from the client to [fd13:2::2]:25
	local tm
	tm=$(tl_mark)
	new_id "$1"
	RC=0
	in_ns "$NSC" py_send "$SRV6" 25 "$ID" >/dev/null || RC=$?
	LINE=$(session "$tm" "client=fd13:1::2")
}
v6_send v6-noname
is "$RC" 0 "IPv6 no name: delivered to [$SRV6]:25"
delivered_tls "IPv6 no name" "$ID" "$RC"
is "$(kv "$LINE" auth)/$(kv "$LINE" name_source)/$(kv "$LINE" addr)" \
    "untrusted/none/$SRV6" "IPv6 no name: untrusted, name_source=none"
like "$(resolve mx-ee.dane.test AAAA "$RTR6")" "$SRV6" \
    "forwarder over IPv6: AAAA of mx-ee.dane.test"
v6_send v6-named
delivered_tls "IPv6 named" "$ID" "$RC"
# (mx-ee is an MX host since the MX test above.)
is "$(kv "$LINE" auth)/$(kv "$LINE" name_source)/$(kv "$LINE" peer)" \
    dane-ee/dns-mx/mx-ee.dane.test "IPv6 named: dane-ee"
like "$(pf_since 0 | grep 'lab/good6/smtpd' | grep -c 'connect from')" \
    '^[1-9]' "IPv6: Postfix's IPv6 listener took the sessions"

# --- IMAP: curl, plaintext to the server's port 143, logs in through
# tlshimd; Dovecot (LOGINDISABLED before TLS) says the login was in TLS.
resolve mx-ee.dane.test A >/dev/null
tm=$(tl_mark)
dm=$(dc_mark "$DC_LOG")
check "IMAP: curl (plaintext) fetches the message from $LAB_IP:143" \
    in_ns "$NSC" curl_fetch imap "$LAB_IP" 143 imap
fetched_checks "IMAP" "$LAB_TMP/out/imap.curl" "$MSG"
like "$(dc_wait_line "$DC_LOG" "$dm" "Login: user=<$DC_USER>")" ', TLS, ' \
    "IMAP: Dovecot logged the user in over TLS"
LINE=$(session "$tm" "service=imap ")
is "$(kv "$LINE" protocol)/$(kv "$LINE" result)/$(kv "$LINE" auth)/$(kv "$LINE" port)" \
    imap/tls/dane-ee/143 "IMAP: protocol=imap result=tls auth=dane-ee port=143"
is "$(kv "$LINE" peer)/$(kv "$LINE" name_source)" mx-ee.dane.test/dns-mx \
    "IMAP: the name from the forwarder"

# --- Straight to the listener, not redirected: refused, never looped.
direct() {	# direct ADDR - connect to tlshimd's listener itself
	local tm n0
	tm=$(tl_mark)
	new_id direct
	rc=0
	in_ns "$NSC" py_send "$1" 10025 "$ID" >/dev/null || rc=$?
	is "$rc" 3 "direct to $1 port 10025: no 220 greeting"
	like "$(py_get "$ID" greeting)" '^421 4\.7\.0 tlshim: ' \
	    "direct to $1: 421 4.7.0"
	LINE=$(session "$tm" "client=")
	is "$(kv "$LINE" result)/$(kv "$LINE" cause)" refused/not-redirected \
	    "direct to $1: result=refused cause=not-redirected"
	sleep 1
	n0=$(tl_mark)
	is "$((n0 - tm))" 1 "direct to $1: one session, no loop"
}
direct "$RTR"
direct "$RTR6"

# --- The per-host recipe: a program on the router itself connects to
# the server; the output chain redirects it to 127.0.0.1:10025, and
# tlshimd's own connection, marked, passes.
in_ns "$NSR" timeout 10 drill -Q mx-ee.dane.test @127.0.0.1 A >/dev/null 2>&1
tm=$(tl_mark)
new_id host
rc=0
in_ns "$NSR" swaks_send "$LAB_IP" 25 "$ID" >/dev/null || rc=$?
is "$rc" 0 "host recipe: a local program delivers to $LAB_IP:25"
delivered_tls "host recipe" "$ID" "$rc"
sleep 1
is "$(($(tl_mark) - tm))" 1 "host recipe: one session (tlshimd's own connection was not redirected)"
LINE=$(session "$tm" ".")
is "$(kv "$LINE" result)/$(kv "$LINE" auth)/$(kv "$LINE" port)" tls/dane-ee/25 \
    "host recipe: tls, dane-ee, port 25"

# --- dane-only: no name refuses; a name authenticates.  This tlshimd
# drops privileges (user = nobody): it keeps CAP_NET_ADMIN, alone, for
# so_mark.
tl_stop
conf2=$LAB_TMP/t13-only.conf
tl_conf "$conf2" dane-only user=nobody
# A state folder tlshimd makes itself, for nobody.
sed -i "s|^state_dir = .*|state_dir = $LAB_TMP/state-nobody|" "$conf2"
check "tlshimd starts with security = dane-only, as nobody" t13_start "$conf2"
is "$(awk '/^Uid:/ { print $2 }' "/proc/$TL_PID/status")" \
    "$(id -u nobody)" "as nobody: tlshimd dropped privileges"
is "$(awk '/^CapEff:/ { print $2 }' "/proc/$TL_PID/status")/$(awk \
    '/^CapPrm:/ { print $2 }' "/proc/$TL_PID/status")" \
    0000000000001000/0000000000001000 \
    "as nobody: CAP_NET_ADMIN is its only capability"
tm=$(tl_mark)
new_id only-noname
rc=0
in_ns "$NSC" py_send "$LAB_IP" 25 "$ID" >/dev/null || rc=$?
is "$rc" 3 "dane-only, no name: refused before the greeting"
LINE=$(session "$tm" "client=$CLI:")
is "$(kv "$LINE" result)/$(kv "$LINE" cause)/$(kv "$LINE" name_source)" \
    refused/no-name/none "dane-only, no name: cause=no-name name_source=none"
check "dane-only, no name: nothing delivered" not_delivered "$ID"
resolve mx-ee.dane.test A >/dev/null
send4 only-named
delivered_tls "dane-only, named" "$ID" "$RC"
is "$(kv "$LINE" auth)" dane-ee "dane-only, named: dane-ee"
# Its own connection was marked (as nobody): the per-host recipe leaves
# it alone, one session.
in_ns "$NSR" timeout 10 drill -Q mx-ee.dane.test @127.0.0.1 A >/dev/null 2>&1
tm=$(tl_mark)
new_id only-host
rc=0
in_ns "$NSR" swaks_send "$LAB_IP" 25 "$ID" >/dev/null || rc=$?
delivered_tls "as nobody, host recipe" "$ID" "$rc"
sleep 1
is "$(($(tl_mark) - tm))" 1 "as nobody, host recipe: one session, no loop"
unlike "$(cat "$TL_LOG")" 'SO_MARK|so_mark =' "as nobody: so_mark worked"

# --- TPROXY instead of NAT: the shipped tproxy recipe, its policy
# routing, and transparent = tproxy on wildcard listeners.
tl_stop
ip netns exec "$NSR" nft delete table inet tlshim_router
sed 's/^define lan_if = .*/define lan_if = "r0"/' \
    "$SRCDIR/contrib/nftables/tlshim-router-tproxy.nft" >"$LAB_TMP/tproxy.nft"
tproxy_setup() {
	set -e
	ip netns exec "$NSR" nft -f "$LAB_TMP/tproxy.nft"
	ip -n "$NSR" rule add fwmark 0x7470 lookup 100
	ip -n "$NSR" route add local 0.0.0.0/0 dev lo table 100
	ip -n "$NSR" -6 rule add fwmark 0x7470 lookup 100
	ip -n "$NSR" -6 route add local ::/0 dev lo table 100
	set +e
}
check "tproxy: the recipe and its policy routing load" tproxy_setup
# tlshimd is not running: the connection must not pass in plaintext.
new_id tproxy-down
rc=0
in_ns "$NSC" py_send "$LAB_IP" 25 "$ID" --timeout 3 >/dev/null || rc=$?
isnt_zero() { [ "$1" != 0 ]; }
check "tproxy, tlshimd down: the client cannot connect" isnt_zero "$rc"
check "tproxy, tlshimd down: nothing delivered" not_delivered "$ID"
conf4=$LAB_TMP/t13-tproxy.conf
tl_conf "$conf4" dane
sed -i "s|^listen = $RTR:10025 .*|listen = 0.0.0.0:10025 [::]:10025|
    s|^listen = $RTR:10143 .*|listen = 0.0.0.0:10143 [::]:10143|
    s|^upstream = transparent$|upstream = transparent\ntransparent = tproxy|" \
    "$conf4"
check "tlshimd starts with transparent = tproxy" t13_start "$conf4"
send4 tproxy-noname
delivered_tls "tproxy, no name" "$ID" "$RC"
is "$(kv "$LINE" auth)/$(kv "$LINE" name_source)/$(kv "$LINE" addr):$(kv "$LINE" port)" \
    "untrusted/none/$LAB_IP:25" "tproxy, no name: the original destination, untrusted"
resolve mx-ee.dane.test A >/dev/null
send4 tproxy-named
delivered_tls "tproxy, named" "$ID" "$RC"
is "$(kv "$LINE" auth)/$(kv "$LINE" peer)" dane-ee/mx-ee.dane.test \
    "tproxy, named: dane-ee"
resolve mx-ee.dane.test AAAA "$RTR6" >/dev/null
v6_send tproxy-v6
delivered_tls "tproxy, IPv6" "$ID" "$RC"
is "$(kv "$LINE" auth)/$(kv "$LINE" addr)" "dane-ee/$SRV6" "tproxy, IPv6: dane-ee"
direct "$RTR"

# --- A forwarder that would forward to itself is refused at start.
conf3=$LAB_TMP/t13-loop.conf
tl_conf_global "$conf3" "resolver=$RTR:5353" "dns_listen=$RTR:5353"
cat >>"$conf3" <<EOF
[smtp]
protocol = smtp
listen = $RTR:10099
upstream = transparent
EOF
rc=0
T13_NS=$NSR "$TLSHIMD" -c "$conf3" -f >"$LAB_TMP/out/loop.out" 2>&1 || rc=$?
is "$rc" 71 "a resolver that is dns_listen itself: tlshimd does not start"
like "$(cat "$LAB_TMP/out/loop.out")" 'queries would loop' \
    "...and says why"

tl_final_checks
in_ns "$NSR" dl_stop || true
done_testing
