# dnslab.sh - a DNSSEC lab on loopback for the DANE tests.
#
# Sourced after lib.sh (bash).  NSD serves a lab root zone "." and the
# zones below, all signed with ldns-keygen/ldns-signzone at every start
# (fresh keys, signatures valid from an hour ago for 30 days), and two
# Unbounds resolve them: one validating with the lab root's DS as its
# only trust anchor, one that does not validate (module-config
# "iterator").  Every server listens on 127.0.0.1 (ports picked free for
# TCP and UDP), runs in the foreground without chroot or privilege drop,
# logs under $DL_DIR, and is tracked by lib.sh, so it dies at exit.
# Nothing leaves loopback: the Unbounds know only stub zones pointing at
# NSD (the lab root "." included, so no root priming and no query for an
# outside name ever goes out), send from 127.0.0.1 only, and have no
# automatic trust anchor updates.  A name outside the lab (example.com)
# gets a quick, secure NXDOMAIN from the lab root.
#
# Interface
#   dl_start ADDR "PORT..." LEAF_PEM CA_PEM [ADDR6]
#       build, sign and serve the zones (below) and start the servers;
#       bails (with the servers' logs) if one does not come up.  ADDR is
#       the IPv4 address of every host (usually $LAB_IP); TLSA records
#       are published at _PORT._tcp.HOST for each PORT; LEAF_PEM is the
#       server certificate (good.pem), CA_PEM its issuer (ca.pem); ADDR6
#       (e.g. ::1) adds an AAAA record to mx-ee only.  Sets:
#         DL_RESOLVER    127.0.0.1:PORT of the validating Unbound
#         DL_NOVALIDATE  127.0.0.1:PORT of the non-validating Unbound
#         DL_NSD         127.0.0.1:PORT of NSD (authoritative, no recursion)
#         DL_ANCHOR      the trust anchor file (DS of the lab root ".")
#         DL_DIR         $LAB_TMP/dns: zones (*.zone, *.signed), keys,
#                        configurations and logs (nsd.log, unbound-*.log)
#         DL_EE_SPKI256  hex SHA-256 of LEAF's SubjectPublicKeyInfo (3 1 1)
#         DL_EE_SPKI512  hex SHA-512 of LEAF's SPKI (3 1 2)
#         DL_EE_CERT256  hex SHA-256 of LEAF's DER certificate (3 0 1)
#         DL_EE_CERT     hex of LEAF's whole DER certificate (3 0 0)
#         DL_TA_CERT256  hex SHA-256 of CA's DER certificate (2 0 1)
#         DL_TA_SPKI256  hex SHA-256 of CA's SPKI (2 1 1)
#         DL_WRONG256    the wrong 3 1 1 digest (mx-wrong, mx.insecure.test)
#         DL_WRONG512    the wrong 3 1 2 digest (mx-agile)
#       Fresh keys and signatures at each start; dl_stop before starting
#       again.
#   dl_stop
#       stop the three servers; 0 when all are gone (lib.sh's cleanup
#       stops them anyway at exit).
#   dl_diag [N]
#       the last N (20) lines of the servers' logs as TAP comments; the
#       validating Unbound logs every validation failure and its reason
#       ("signature expired", "signature crypto failed"...).
#   dl_unbound_control v|n ARGS...
#       unbound-control on the validating (v) or the other (n) Unbound,
#       e.g. "dump_infra" (every server it talked to) or "flush_zone".
#   dl_query NAME TYPE [RESOLVER]
#       one query with the DO bit (drill) to RESOLVER (IP:PORT, default
#       $DL_RESOLVER).  Prints "status=RCODE ad=0|1 aa=0|1 answers=N" and
#       then one line "OWNER TYPE RDATA" per answer record (RRSIGs left
#       out); status=TIMEOUT when no answer came.  Returns 0 when an
#       answer came, whatever its rcode.
#   dl_rdata NAME TYPE [RESOLVER]
#       only the RDATA of the answer records of TYPE, one per line.
#
# Names (ADDR: the caller's address; PORT: each port given; "leaf" and
# "CA" are LEAF_PEM and CA_PEM).  Hosts each have "A ADDR" and TLSA
# records at _PORT._tcp.HOST for every PORT:
#
#   zone dane.test (signed, DS in the root): everything secure unless said
#   mx-ee           3 1 1 SHA-256(leaf SPKI)       DANE-EE match (+AAAA ADDR6)
#   mx-ee-full      3 0 0 leaf certificate          DANE-EE match, full cert
#   mx-ee-cert      3 0 1 SHA-256(leaf cert)        DANE-EE match
#   mx-ee-512       3 1 2 SHA-512(leaf SPKI)        DANE-EE match
#   mx-ta           2 0 1 SHA-256(CA cert)          DANE-TA: needs the CA in
#                                                   the chain and a leaf SAN
#                                                   for this name
#   mx-ta-spki      2 1 1 SHA-256(CA SPKI)          DANE-TA, same conditions
#   mx-ta-noname    2 0 1 SHA-256(CA cert)          as mx-ta; give the leaf
#                                                   no SAN for this name and
#                                                   DANE-TA's name check fails
#   mx-wrong        3 1 1 wrong digest              mismatch: refuse
#   mx-unusable     0 0 1 SHA-256(CA cert)          PKIX-TA/PKIX-EE only:
#                   1 1 1 SHA-256(leaf SPKI)        unusable for SMTP (they
#                                                   would match as 2/3)
#   mx-notlsa       none                            secure NXDOMAIN for TLSA
#   mx-agile        3 1 1 right, 3 1 2 wrong        must fail: digest agility
#                                                   (RFC 7671 section 9)
#   mx-tlsabogus    3 1 1 right, RRSIG corrupted    A secure; TLSA SERVFAIL
#   X.dane.test     MX 10 mx-X.dane.test for each host mx-X above
#                   (ee.dane.test, ee-full.dane.test, ta.dane.test, ...)
#   list.dane.test  MX 10 mx-wrong, MX 20 mx-ee     first fails, second passes
#   cname.dane.test CNAME mx-ee.dane.test
#   nullmx.dane.test MX 0 .                        null MX (RFC 7505)
#   implicit        3 1 1 SHA-256(leaf SPKI)       a host with no MX: the
#                                                   implicit MX of itself
#   _submission._tcp.srv.dane.test SRV 10 0 PORT1 mx-ee   (PORT1: the
#                   first port given)
#   _submission._tcp.srvlist.dane.test SRV 10 0 PORT1 mx-wrong,
#                   SRV 20 0 PORT1 mx-ee           first fails, second passes
#   _submission._tcp.nosrv.dane.test SRV 0 0 0 .   service not offered
#
#   With DL_XMPP="C S D" set before dl_start (client, server and direct
#   TLS ports, each also among the TLSA ports), XMPP names too (RFC 6120
#   3.2, RFC 7673, XEP-0368):
#   _xmpp-client._tcp.xee     SRV 10 0 C mx-ee   DANE-EE at the SRV target
#   _xmpp-server._tcp.xee     SRV 10 0 S mx-ee
#   _xmpp-client._tcp.xta     SRV 10 0 C mx-ta   DANE-TA (names: xta or mx-ta)
#   _xmpp-client._tcp.xwrong  SRV 10 0 C mx-wrong   mismatch: refuse
#   _xmpp-client._tcp.xlist   SRV 10 0 C mx-wrong, SRV 20 0 C mx-ee
#   _xmpps-client._tcp.xdirect SRV 10 0 D mx-ee  direct TLS first (auto),
#   _xmpp-client._tcp.xdirect SRV 20 0 C mx-ee   STARTTLS after it
#   _xmpp-client._tcp.xnone   SRV 0 0 0 .        not offered: no fallback
#   xnosrv                    A ADDR, 3 1 1 leaf  no SRV: the domain itself
#                                                 on the default port
#   _xmpp-client._tcp.insecure.test SRV 10 0 C mx-wrong.dane.test.
#                             an insecure SRV RRset: its target's TLSA must
#                             not be used (RFC 7673 3)
#
#   zone insecure.test (signed, but no DS in the root: insecure)
#   mx.insecure.test    3 1 1 wrong digest          to be ignored
#   insecure.test       MX 10 mx.insecure.test
#   tosecure.insecure.test  MX 10 mx-wrong.dane.test  an insecure MX RRset
#                       naming a secure host: its TLSA must not be used
#                       (RFC 7672 2.2.1)
#
#   zones expired.test and corrupt.test (DS in the root: bogus)
#   mx.expired.test     3 1 1 right; every signature expired two days ago
#   mx.corrupt.test     3 1 1 right; every RRSIG but the DNSKEY's corrupted
#   expired.test, corrupt.test   MX 10 mx.<zone>
#
#   lab root "." (signed, its DS is DL_ANCHOR): the delegations above and
#   nothing else, so every other name is a secure NXDOMAIN.
#
# Needs nsd, unbound, unbound-checkconf, ldns-keygen, ldns-signzone,
# drill (ldnsutils), certtool, sha256sum, sha512sum; dl_tools lists them
# for lab_init:  lab_init "$(dl_tools) postfix ...".

DL_TOOLS="nsd unbound unbound-checkconf ldns-keygen ldns-signzone drill certtool sha256sum sha512sum"

# dl_tools - the tools the lab needs, for lab_init
dl_tools() {
	echo "$DL_TOOLS"
}

DL_DIR=""
DL_NSD_PID=""
DL_UV_PID=""
DL_UN_PID=""

# ------------------------------------------------------------- helpers

# _dl_hex FILE - FILE's bytes as lower-case hex, one line
_dl_hex() {
	od -An -v -tx1 "$1" | tr -d ' \n'
	echo
}

# _dl_sum ALG FILE - hex digest (sha256 or sha512) of FILE
_dl_sum() {
	"${1}sum" "$2" | cut -d' ' -f1
}

# _dl_split HEX - HEX cut into 64-character words (zone file syntax
# allows white space in the certificate data of a TLSA record)
_dl_split() {
	printf '%s\n' "$1" | fold -w 64 | tr '\n' ' '
}

# _dl_udp_free PORT... - are these UDP ports free on 127.0.0.1?
_dl_udp_free() {
	"$LAB_PYTHON" -I -c '
import socket, sys
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", int(p)))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
' "$@"
}

# _dl_ports N - set PORTS to N ports free on 127.0.0.1 for TCP and UDP,
# none of them one of the TLSA ports (a caller may not have bound those
# yet)
_dl_ports() {
	local _base=$LAB_PORT_BASE _try=0 _p _q _clash
	while :; do
		lab_ports "$1" 127.0.0.1 "$_base"
		_clash=0
		for _p in $PORTS; do
			for _q in $DL_PORTS; do
				[ "$_p" != "$_q" ] || _clash=1
			done
		done
		[ $_clash = 1 ] || ! _dl_udp_free $PORTS || return 0
		for _p in $PORTS; do _base=$((_p + 1)); done
		_try=$((_try + 1))
		[ $_try -lt 20 ] || bail "no $1 ports free for TCP and UDP on 127.0.0.1"
	done
}

# ------------------------------------------------------- zone templates

# _dl_host NAME [TLSA-RDATA...] - NAME's address records and its TLSA
# records at _PORT._tcp.NAME for every port (relative to $ORIGIN)
_dl_host() {
	local _n=$1 _p _r
	shift
	printf '%-40s A\t%s\n' "$_n" "$DL_ADDR"
	for _p in $DL_PORTS; do
		for _r in "$@"; do
			printf '%-40s TLSA\t%s\n' "_$_p._tcp.$_n" "$_r"
		done
	done
}

# _dl_apex ZONE - SOA and NS of ZONE; the name server is ns.ZONE (ns.test
# for the root) at 127.0.0.1, never queried: the Unbounds reach NSD
# through stub zones
_dl_apex() {
	local _ns=ns.$1
	[ "$1" != . ] || _ns=ns.test.
	cat <<-EOF
	\$ORIGIN $1
	\$TTL 300
	@	SOA	$_ns hostmaster.test. ( $DL_SERIAL 3600 600 86400 60 )
	@	NS	$_ns
	$_ns	A	127.0.0.1
	EOF
}

# _dl_xmpp_dane - the XMPP names of dane.test (DL_XMPP="C S D" ports)
_dl_xmpp_dane() {
	local _c _s _d
	read -r _c _s _d <<<"$DL_XMPP"
	printf '%-40s SRV\t10 0 %s mx-ee\n' _xmpp-client._tcp.xee "$_c"
	printf '%-40s SRV\t10 0 %s mx-ee\n' _xmpp-server._tcp.xee "$_s"
	printf '%-40s SRV\t10 0 %s mx-ta\n' _xmpp-client._tcp.xta "$_c"
	printf '%-40s SRV\t10 0 %s mx-wrong\n' _xmpp-client._tcp.xwrong "$_c"
	printf '%-40s SRV\t10 0 %s mx-wrong\n' _xmpp-client._tcp.xlist "$_c"
	printf '%-40s SRV\t20 0 %s mx-ee\n' _xmpp-client._tcp.xlist "$_c"
	printf '%-40s SRV\t10 0 %s mx-ee\n' _xmpps-client._tcp.xdirect "$_d"
	printf '%-40s SRV\t20 0 %s mx-ee\n' _xmpp-client._tcp.xdirect "$_c"
	printf '%-40s SRV\t0 0 0 .\n' _xmpp-client._tcp.xnone
	_dl_host xnosrv "3 1 1 $DL_EE_SPKI256"
}

# The dane.test zone: the table at the top of this file.
_dl_zone_dane() {
	local _h
	_dl_apex dane.test.
	cat <<-EOF
	; MX sets (X.dane.test MX 10 mx-X for each host follow the hosts)
	list	MX	10 mx-wrong
	list	MX	20 mx-ee
	cname	CNAME	mx-ee
	nullmx	MX	0 .
	EOF
	# SRV (submission, RFC 6186), on the first port given.
	_h=${DL_PORTS%% *}
	printf '%-40s SRV\t10 0 %s mx-ee\n' _submission._tcp.srv "$_h"
	printf '%-40s SRV\t10 0 %s mx-wrong\n' _submission._tcp.srvlist "$_h"
	printf '%-40s SRV\t20 0 %s mx-ee\n' _submission._tcp.srvlist "$_h"
	printf '%-40s SRV\t0 0 0 .\n' _submission._tcp.nosrv
	[ -z "${DL_XMPP:-}" ] || _dl_xmpp_dane
	_dl_host implicit "3 1 1 $DL_EE_SPKI256"
	_dl_host mx-ee "3 1 1 $DL_EE_SPKI256"
	[ -z "$DL_ADDR6" ] || printf '%-40s AAAA\t%s\n' mx-ee "$DL_ADDR6"
	_dl_host mx-ee-full "3 0 0 ( $(_dl_split "$DL_EE_CERT") )"
	_dl_host mx-ee-cert "3 0 1 $DL_EE_CERT256"
	_dl_host mx-ee-512 "3 1 2 $DL_EE_SPKI512"
	_dl_host mx-ta "2 0 1 $DL_TA_CERT256"
	_dl_host mx-ta-spki "2 1 1 $DL_TA_SPKI256"
	_dl_host mx-ta-noname "2 0 1 $DL_TA_CERT256"
	_dl_host mx-wrong "3 1 1 $DL_WRONG256"
	_dl_host mx-unusable "0 0 1 $DL_TA_CERT256" "1 1 1 $DL_EE_SPKI256"
	_dl_host mx-notlsa
	_dl_host mx-agile "3 1 1 $DL_EE_SPKI256" "3 1 2 $DL_WRONG512"
	_dl_host mx-tlsabogus "3 1 1 $DL_EE_SPKI256"
	for _h in $DL_DANE_HOSTS; do
		printf '%-40s MX\t10 mx-%s\n' "$_h" "$_h"
	done
}
DL_DANE_HOSTS="ee ee-full ee-cert ee-512 ta ta-spki ta-noname wrong unusable
notlsa agile tlsabogus"

# _dl_zone_simple ZONE TLSA-RDATA - one host mx.ZONE and ZONE MX 10 mx.ZONE
# (insecure.test, expired.test, corrupt.test)
_dl_zone_simple() {
	_dl_apex "$1"
	printf '@\tMX\t10 mx\n'
	_dl_host mx "$2"
}

# The lab root: the delegations (DS only for the zones meant to be
# secure or bogus), and ns.test for its own NS.
_dl_zone_root() {
	local _z
	_dl_apex .
	for _z in dane.test. insecure.test. expired.test. corrupt.test.; do
		printf '%s\tNS\tns.%s\n' "$_z" "$_z"
		printf 'ns.%s\tA\t127.0.0.1\n' "$_z"
	done
	for _z in dane expired corrupt; do
		# ldns-keygen's .ds file: "NAME<TAB>IN<TAB>DS ..."
		cat "$DL_DIR/keys/$_z.ds"
	done
}

# ------------------------------------------------------------- signing

# _dl_keygen ZONE TAG - one ECDSA P-256 key (flags 257: it signs
# everything) for ZONE, as keys/TAG.{key,private,ds}
_dl_keygen() {
	local _base _x
	_base=$(cd "$DL_DIR/keys" && ldns-keygen -a ECDSAP256SHA256 -k "$1") ||
		return 1
	for _x in key private ds; do
		mv "$DL_DIR/keys/$_base.$_x" "$DL_DIR/keys/$2.$_x" || return 1
	done
}

# _dl_sign TAG [INCEPTION EXPIRATION] - sign zones/TAG.zone with
# keys/TAG into zones/TAG.signed (dates in seconds since the epoch)
_dl_sign() {
	local _i=${2:-$((DL_NOW - 3600))} _e=${3:-$((DL_NOW + 30 * 86400))}
	ldns-signzone -i "$_i" -e "$_e" -f "$DL_DIR/zones/$1.signed" \
	    "$DL_DIR/zones/$1.zone" "$DL_DIR/keys/$1"
}

# _dl_corrupt FILE ERE - flip one character of the signature of every
# RRSIG in the signed zone FILE whose "OWNER TYPE-COVERED" matches ERE
# (an awk -v string: write [.] rather than \.); fails if none matched
_dl_corrupt() {
	awk -v re="$2" 'BEGIN { OFS = "\t" }
	$4 == "RRSIG" && ($1 " " $5) ~ re {
		s = $NF
		c = substr(s, 10, 1)
		$NF = substr(s, 1, 9) (c == "A" ? "B" : "A") substr(s, 11)
		n++
	}
	{ print }
	END { if (n == 0) exit 1 }' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

# _dl_make_zones - keys, zones and signatures under $DL_DIR (each step
# checked: "set -e" does not hold in a function called before "||")
_dl_make_zones() {
	local _d=$DL_DIR/zones
	mkdir -p "$DL_DIR/keys" "$_d" || return 1
	_dl_keygen . root || return 1
	_dl_keygen dane.test. dane || return 1
	_dl_keygen insecure.test. insecure || return 1
	_dl_keygen expired.test. expired || return 1
	_dl_keygen corrupt.test. corrupt || return 1

	_dl_zone_dane >"$_d/dane.zone" &&
	{ _dl_zone_simple insecure.test. "3 1 1 $DL_WRONG256" &&
	  printf 'tosecure\tMX\t10 mx-wrong.dane.test.\n' &&
	  { [ -z "${DL_XMPP:-}" ] || printf '_xmpp-client._tcp\tSRV\t10 0 %s mx-wrong.dane.test.\n' \
	    "${DL_XMPP%% *}"; }; } >"$_d/insecure.zone" &&
	_dl_zone_simple expired.test. "3 1 1 $DL_EE_SPKI256" >"$_d/expired.zone" &&
	_dl_zone_simple corrupt.test. "3 1 1 $DL_EE_SPKI256" >"$_d/corrupt.zone" &&
	_dl_zone_root >"$_d/root.zone" || return 1

	_dl_sign root && _dl_sign dane && _dl_sign insecure && _dl_sign corrupt ||
		return 1
	# Signed 30 days ago, expired 2 days ago: beyond any clock skew
	# Unbound allows (val-sig-skew-max is one day).
	_dl_sign expired $((DL_NOW - 30 * 86400)) $((DL_NOW - 2 * 86400)) ||
		return 1
	_dl_corrupt "$_d/dane.signed" '[.]_tcp[.]mx-tlsabogus[.]dane[.]test[.] TLSA$' &&
	# Every RRSIG but the DNSKEY's: the keys validate, the data does not.
	_dl_corrupt "$_d/corrupt.signed" ' (SOA|NS|A|MX|TLSA|NSEC)$' &&
	cp "$DL_DIR/keys/root.ds" "$DL_ANCHOR"
}

# ------------------------------------------------------- configurations

_dl_nsd_conf() {
	local _z
	cat <<-EOF
	# NSD for the tlshim DNSSEC lab ($LAB_NAME)
	server:
	    ip-address: 127.0.0.1@$DL_NSD_PORT
	    port: $DL_NSD_PORT
	    do-ip4: yes
	    do-ip6: no
	    username: ""
	    chroot: ""
	    zonesdir: "$DL_DIR/zones"
	    database: ""
	    zonelistfile: "$DL_DIR/nsd.zonelist"
	    xfrdfile: "$DL_DIR/nsd.xfrd"
	    xfrdir: "$DL_DIR"
	    pidfile: "$DL_DIR/nsd.pid"
	    logfile: "$DL_DIR/nsd.log"
	    server-count: 1
	    reuseport: no
	    verbosity: 1
	    hide-version: yes
	    hide-identity: yes
	remote-control:
	    control-enable: no
	EOF
	for _z in root:. dane:dane.test. insecure:insecure.test. \
	    expired:expired.test. corrupt:corrupt.test.; do
		printf 'zone:\n    name: "%s"\n    zonefile: "%s.signed"\n' \
		    "${_z#*:}" "${_z%%:*}"
	done
}

# _dl_unbound_conf v|n PORT - the validating (v) or iterating-only (n)
# Unbound
_dl_unbound_conf() {
	local _z _mod="validator iterator" _n=$DL_DIR/unbound-$1
	[ "$1" = v ] || _mod=iterator
	cat <<-EOF
	# Unbound ($1: $_mod) for the tlshim DNSSEC lab ($LAB_NAME)
	server:
	    interface: 127.0.0.1
	    port: $2
	    do-ip4: yes
	    do-ip6: no
	    do-udp: yes
	    do-tcp: yes
	    access-control: 127.0.0.0/8 allow
	    # Only ever send from loopback: a query to anything else fails.
	    outgoing-interface: 127.0.0.1
	    do-not-query-localhost: no
	    chroot: ""
	    username: ""
	    directory: "$DL_DIR"
	    pidfile: "$_n.pid"
	    logfile: "$_n.log"
	    use-syslog: no
	    log-time-ascii: yes
	    verbosity: 1
	    log-servfail: yes
	    val-log-level: 2
	    num-threads: 1
	    so-reuseport: no
	    outgoing-range: 64
	    num-queries-per-thread: 32
	    msg-cache-size: 1m
	    rrset-cache-size: 2m
	    key-cache-size: 1m
	    neg-cache-size: 1m
	    infra-cache-numhosts: 100
	    module-config: "$_mod"
	    # Unbound answers for test. itself by default (RFC 6761).
	    local-zone: "test." nodefault
	    trust-anchor-signaling: no
	    root-key-sentinel: no
	    harden-referral-path: no
	    minimal-responses: no
	    prefetch: no
	    serve-expired: no
	EOF
	[ "$1" = n ] || printf '    trust-anchor-file: "%s"\n' "$DL_ANCHOR"
	cat <<-EOF
	remote-control:
	    control-enable: yes
	    control-interface: "$_n.ctl"
	    control-use-cert: no
	EOF
	# Every lab zone is a stub, the root included: Unbound never primes
	# the real root servers and never follows the lab's NS records (they
	# say 127.0.0.1 on port 53, where nothing of the lab listens).
	for _z in . dane.test. insecure.test. expired.test. corrupt.test.; do
		cat <<-EOF
		stub-zone:
		    name: "$_z"
		    stub-addr: 127.0.0.1@$DL_NSD_PORT
		    stub-prime: no
		    stub-first: no
		EOF
	done
}

# ------------------------------------------------------------- servers

# dl_diag [N] - the last N (20) lines of the lab's logs as TAP comments
dl_diag() {
	local _f
	for _f in "$DL_DIR"/nsd.log "$DL_DIR"/nsd.out "$DL_DIR"/unbound-v.log \
	    "$DL_DIR"/unbound-v.out "$DL_DIR"/unbound-n.log "$DL_DIR"/unbound-n.out; do
		[ ! -e "$_f" ] || diag_file "$_f" "${1:-20}"
	done
}

# _dl_fail WHAT - bail with the lab's logs
_dl_fail() {
	dl_diag
	bail "DNS lab: $*"
}

# _dl_spawn VAR LOG CMD... - start CMD in its own process group, tracked
_dl_spawn() {
	local _var=$1 _log=$2
	shift 2
	setsid "$@" </dev/null >"$_log" 2>&1 &
	lab_track $!
	eval "$_var=\$!"
}

# _dl_wait_up PID PORT WHAT - PID listens on 127.0.0.1:PORT (TCP) and
# answers a query for the lab root's SOA (UDP); otherwise 1 with the
# reason in DL_WHY
_dl_wait_up() {
	local _i=0 _out
	if ! wait_listen 127.0.0.1 "$2" 10 "$1" >"$DL_DIR/wait.out" 2>&1; then
		DL_WHY="$3 is not listening on 127.0.0.1:$2 ($(cat "$DL_DIR/wait.out"))"
		return 1
	fi
	while :; do
		_out=$(dl_query . SOA "127.0.0.1:$2" 2>&1 | head -n 1) || true
		case $_out in
		status=NOERROR*) return 0 ;;
		esac
		running "$1" || { DL_WHY="$3 exited"; return 1; }
		[ $_i -lt 50 ] || {
			DL_WHY="$3 does not answer for the lab root ($_out)"
			return 1
		}
		sleep 0.1
		_i=$((_i + 1))
	done
}

# _dl_serve - pick ports, write the configurations, start NSD and the
# two Unbounds; 1 (DL_WHY says why, the servers are stopped) if one of
# them does not come up
_dl_serve() {
	local _t
	_dl_ports 3
	set -- $PORTS
	DL_NSD_PORT=$1
	DL_NSD=127.0.0.1:$1 DL_RESOLVER=127.0.0.1:$2 DL_NOVALIDATE=127.0.0.1:$3
	_dl_nsd_conf >"$DL_DIR/nsd.conf"
	_dl_unbound_conf v "$2" >"$DL_DIR/unbound-v.conf"
	_dl_unbound_conf n "$3" >"$DL_DIR/unbound-n.conf"
	for _t in v n; do
		unbound-checkconf "$DL_DIR/unbound-$_t.conf" >"$DL_DIR/unbound-$_t.out" 2>&1 ||
			_dl_fail "unbound-checkconf rejects unbound-$_t.conf"
	done
	if command -v nsd-checkconf >/dev/null 2>&1; then
		nsd-checkconf "$DL_DIR/nsd.conf" >"$DL_DIR/nsd.out" 2>&1 ||
			_dl_fail "nsd-checkconf rejects nsd.conf"
	fi
	_dl_spawn DL_NSD_PID "$DL_DIR/nsd.out" nsd -d -c "$DL_DIR/nsd.conf"
	_dl_wait_up "$DL_NSD_PID" "$1" NSD || { dl_stop; return 1; }
	_dl_spawn DL_UV_PID "$DL_DIR/unbound-v.out" unbound -d -c "$DL_DIR/unbound-v.conf"
	_dl_spawn DL_UN_PID "$DL_DIR/unbound-n.out" unbound -d -c "$DL_DIR/unbound-n.conf"
	_dl_wait_up "$DL_UV_PID" "$2" "validating Unbound" &&
	    _dl_wait_up "$DL_UN_PID" "$3" "non-validating Unbound" ||
		{ dl_stop; return 1; }
}

# dl_start ADDR "PORT..." LEAF_PEM CA_PEM [ADDR6] - see the top of the file
dl_start() {
	local _leaf=$3 _ca=$4 _t _f
	[ -n "$LAB_TMP" ] || bail "dl_start before lab_init"
	[ -s "$_leaf" ] && [ -s "$_ca" ] || bail "dl_start: no certificate $_leaf or $_ca"
	DL_ADDR=$1 DL_PORTS=$2 DL_ADDR6=${5:-}
	for _t in $DL_PORTS; do
		case $_t in
		[1-9] | [1-9][0-9] | [1-9][0-9][0-9] | [1-9][0-9][0-9][0-9] | [1-9][0-9][0-9][0-9][0-9]) ;;
		*) bail "dl_start: not a port: $_t" ;;
		esac
	done
	[ -n "$DL_PORTS" ] || bail "dl_start: no TLSA ports"
	DL_DIR=$LAB_TMP/dns
	DL_ANCHOR=$DL_DIR/root-anchor.ds
	DL_NOW=$(date +%s)
	DL_SERIAL=$DL_NOW
	mkdir -p "$DL_DIR/der"

	# The TLSA data, from the certificates with certtool.
	_t=$DL_DIR/der
	certtool -i --infile "$_leaf" --outder --outfile "$_t/leaf.der" >/dev/null 2>&1 &&
	certtool --pubkey-info --load-certificate "$_leaf" --outder \
	    --outfile "$_t/leaf.spki" >/dev/null 2>&1 &&
	certtool -i --infile "$_ca" --outder --outfile "$_t/ca.der" >/dev/null 2>&1 &&
	certtool --pubkey-info --load-certificate "$_ca" --outder \
	    --outfile "$_t/ca.spki" >/dev/null 2>&1 &&
	[ -s "$_t/leaf.der" ] && [ -s "$_t/leaf.spki" ] && [ -s "$_t/ca.der" ] &&
	    [ -s "$_t/ca.spki" ] || bail "DNS lab: certtool could not read $_leaf or $_ca"
	DL_EE_CERT=$(_dl_hex "$_t/leaf.der")
	DL_EE_CERT256=$(_dl_sum sha256 "$_t/leaf.der")
	DL_EE_SPKI256=$(_dl_sum sha256 "$_t/leaf.spki")
	DL_EE_SPKI512=$(_dl_sum sha512 "$_t/leaf.spki")
	DL_TA_CERT256=$(_dl_sum sha256 "$_t/ca.der")
	DL_TA_SPKI256=$(_dl_sum sha256 "$_t/ca.spki")
	# Digests of something else: right length, matching nothing.
	DL_WRONG256=$(printf 'not %s' "$DL_EE_SPKI256" | sha256sum | cut -d' ' -f1)
	DL_WRONG512=$(printf 'not %s' "$DL_EE_SPKI512" | sha512sum | cut -d' ' -f1)

	_dl_make_zones >"$DL_DIR/sign.log" 2>&1 || {
		diag_file "$DL_DIR/sign.log"
		bail "DNS lab: could not make or sign the zones"
	}

	# Another run may bind a port between the check and the start: then
	# try again with other ports.
	for _t in 1 2 3; do
		_dl_serve && return 0
		[ $_t -lt 3 ] && grep -qsi 'in use' "$DL_DIR"/nsd.log "$DL_DIR"/nsd.out \
		    "$DL_DIR"/unbound-?.log "$DL_DIR"/unbound-?.out || break
		LAB_PORT_BASE=$((LAB_PORT_BASE + 100))
		diag "DNS lab: a port was taken, trying again ($DL_WHY)"
		for _f in "$DL_DIR"/nsd.log "$DL_DIR"/nsd.out "$DL_DIR"/unbound-?.log \
		    "$DL_DIR"/unbound-?.out; do
			[ ! -e "$_f" ] || mv "$_f" "$_f.try$_t"
		done
	done
	_dl_fail "$DL_WHY"
}

# dl_stop - stop the lab's servers; 0 when none is left
dl_stop() {
	local _p _rc=0
	for _p in $DL_UV_PID $DL_UN_PID $DL_NSD_PID; do
		_lab_kill "$_p"
		lab_untrack "$_p"
		# NSD's children are in its process group.
		! _pgroup_alive "$_p" || _rc=1
		! running "$_p" || _rc=1
	done
	DL_UV_PID="" DL_UN_PID="" DL_NSD_PID=""
	return $_rc
}

# dl_unbound_control v|n ARGS... - unbound-control on one of the Unbounds
dl_unbound_control() {
	local _w=$1
	shift
	unbound-control -c "$DL_DIR/unbound-$_w.conf" "$@"
}

# dl_query NAME TYPE [RESOLVER] - see the top of the file
dl_query() {
	local _r=${3:-$DL_RESOLVER} _out
	_out=$(timeout 10 drill -D -a -p "${_r##*:}" "$1" "@${_r%:*}" "$2" 2>&1) || true
	printf '%s\n' "$_out" | awk -v want="$2" '
	/->>HEADER<<-/ {
		for (i = 1; i <= NF; i++)
			if ($i == "rcode:") { st = $(i + 1); sub(/,$/, "", st) }
	}
	/^;; flags:/ {
		f = $0; sub(/^;; flags: */, "", f); sub(/;.*/, "", f)
		ad = (" " f " ") ~ / ad / ? 1 : 0
		aa = (" " f " ") ~ / aa / ? 1 : 0
	}
	/^;; ANSWER SECTION:/ { sec = 1; next }
	/^;; / { sec = 0 }
	sec && NF >= 5 && $4 != "RRSIG" {
		line = $1 " " $4
		for (i = 5; i <= NF; i++) line = line " " $i
		ans[++n] = line
	}
	END {
		if (st == "") { print "status=TIMEOUT ad=0 aa=0 answers=0"; exit 1 }
		printf "status=%s ad=%d aa=%d answers=%d\n", st, ad, aa, n
		for (i = 1; i <= n; i++) print ans[i]
	}'
}

# dl_rdata NAME TYPE [RESOLVER] - the RDATA of the answers of TYPE
dl_rdata() {
	dl_query "$@" | awk -v t="$2" 'NR > 1 && $2 == t {
		$1 = ""; $2 = ""; sub(/^  /, ""); print }'
}
