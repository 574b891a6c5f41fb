#!/bin/bash
# t08-dnslab.sh - the DNSSEC lab of dnslab.sh, alone (no tlshimd, no
# Postfix): both Unbounds answer every name of the lab's table as it
# says, with AD from the validating one exactly where the data is secure,
# SERVFAIL where it is bogus, TLSA data equal to what openssl computes
# from the certificates, nothing sent off loopback for an outside name,
# and every server gone after dl_stop.
LAB_NO_TLSHIMD=1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dnslab.sh"

lab_init "$(dl_tools) openssl"
# (As the DANE tests will: a SAN for the DANE-TA host, a chain with the CA.)
PKI_EXTRA_DNS="mx-ta.dane.test mx-ta-spki.dane.test"
pki_make
lab_ports 2
TPORTS=$PORTS
dl_start "$LAB_IP" "$TPORTS" "$LAB_PKI/good.pem" "$LAB_PKI/ca.pem" ::1
diag "validating $DL_RESOLVER, non-validating $DL_NOVALIDATE, NSD $DL_NSD," \
    "TLSA ports $TPORTS"
V=$DL_RESOLVER
N=$DL_NOVALIDATE

# q NAME TYPE [RESOLVER] - query; HEAD is "RCODE ad=X", DATA the RDATA
# of the answers of TYPE (sorted, one per line)
q() {
	local _o
	_o=$(dl_query "$1" "$2" "${3:-$V}") || true
	HEAD=$(printf '%s\n' "$_o" | head -n 1 | sed 's/^status=\([A-Z]*\) \(ad=[01]\).*/\1 \2/')
	DATA=$(printf '%s\n' "$_o" | awk -v t="$2" 'NR > 1 && $2 == t {
		$1 = ""; $2 = ""; sub(/^  /, ""); print }' | LC_ALL=C sort)
}

# ---------------------------------------- what the certificates give

# Computed here with openssl, independently of the lab (certtool).
_pem_der() { openssl x509 -in "$1" -outform DER; }
_spki_der() { openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER; }
_sha() { "${1}sum" | cut -d' ' -f1; }
EE_SPKI256=$(_spki_der "$LAB_PKI/good.pem" | _sha sha256)
EE_SPKI512=$(_spki_der "$LAB_PKI/good.pem" | _sha sha512)
EE_CERT256=$(_pem_der "$LAB_PKI/good.pem" | _sha sha256)
EE_CERT=$(_pem_der "$LAB_PKI/good.pem" | "$LAB_PYTHON" -c \
    'import sys; print(sys.stdin.buffer.read().hex())')
TA_CERT256=$(_pem_der "$LAB_PKI/ca.pem" | _sha sha256)
TA_SPKI256=$(_spki_der "$LAB_PKI/ca.pem" | _sha sha256)
[ ${#EE_SPKI256} = 64 ] && [ ${#EE_SPKI512} = 128 ] && [ ${#TA_CERT256} = 64 ] &&
    [ ${#EE_CERT} -gt 200 ] || bail "openssl could not read the test certificates"

sans=$(openssl x509 -in "$LAB_PKI/good.pem" -noout -ext subjectAltName 2>&1 |
    tail -n +2 | tr -d ' \n')
is "$sans" "DNS:localhost,DNS:mx-ta.dane.test,DNS:mx-ta-spki.dane.test,IPAddress:127.0.0.1,IPAddress:$LAB_IP" \
    "pki_make: good.pem has the SANs of PKI_EXTRA_DNS"
is "$(sha256sum <"$LAB_PKI/good-chain.pem")" \
    "$(cat "$LAB_PKI/good.pem" "$LAB_PKI/ca.pem" | sha256sum)" \
    "pki_make: good-chain.pem is good.pem then ca.pem"

# ------------------------------------------------------------ servers

q . SOA "$DL_NSD"
is "$HEAD" "NOERROR ad=0" "NSD serves the lab root"
like "$(dl_query . SOA "$DL_NSD" | head -n 1)" ' aa=1 ' "NSD answers with authority"
q . DNSKEY
is "$HEAD" "NOERROR ad=1" "validating: the lab root's DNSKEY is secure (trust anchor)"
q . DNSKEY "$N"
is "$HEAD" "NOERROR ad=0" "non-validating: no AD, ever"

# ------------------------------------------------------ dane.test hosts

HOSTS="mx-ee mx-ee-full mx-ee-cert mx-ee-512 mx-ta mx-ta-spki mx-ta-noname
mx-wrong mx-unusable mx-notlsa mx-agile mx-tlsabogus"
bad=""
for h in $HOSTS; do
	q "$h.dane.test" A
	[ "$HEAD $DATA" = "NOERROR ad=1 $LAB_IP" ] || bad="$bad $h($HEAD $DATA)"
done
is "$bad" "" "validating: every dane.test host has A $LAB_IP with AD"
bad=""
for h in $HOSTS; do
	q "$h.dane.test" A "$N"
	[ "$HEAD $DATA" = "NOERROR ad=0 $LAB_IP" ] || bad="$bad $h($HEAD $DATA)"
done
is "$bad" "" "non-validating: the same addresses, without AD"
q mx-ee.dane.test AAAA
is "$HEAD $DATA" "NOERROR ad=1 ::1" "mx-ee has the AAAA given (::1), secure"
q mx-ta.dane.test AAAA
is "$HEAD $DATA" "NOERROR ad=1 " "mx-ta has no AAAA: secure NODATA"

# tlsa HOST WANT DESC - for every port, the TLSA set of HOST (sorted,
# one record per line) is WANT, with AD
tlsa() {
	local _p _w
	_w=$(printf '%s\n' "$2" | LC_ALL=C sort)
	for _p in $TPORTS; do
		q "_$_p._tcp.$1.dane.test" TLSA
		is "$HEAD" "NOERROR ad=1" "_$_p._tcp.$1: secure TLSA answer"
		is "$DATA" "$_w" "_$_p._tcp.$1: $3"
	done
}
tlsa mx-ee "3 1 1 $EE_SPKI256" "3 1 1 SHA-256 of the leaf's SPKI"
tlsa mx-ee-full "3 0 0 $EE_CERT" "3 0 0 the leaf's whole certificate"
tlsa mx-ee-cert "3 0 1 $EE_CERT256" "3 0 1 SHA-256 of the leaf's certificate"
tlsa mx-ee-512 "3 1 2 $EE_SPKI512" "3 1 2 SHA-512 of the leaf's SPKI"
tlsa mx-ta "2 0 1 $TA_CERT256" "2 0 1 SHA-256 of the CA's certificate"
tlsa mx-ta-spki "2 1 1 $TA_SPKI256" "2 1 1 SHA-256 of the CA's SPKI"
tlsa mx-ta-noname "2 0 1 $TA_CERT256" "2 0 1 SHA-256 of the CA's certificate"
tlsa mx-unusable "0 0 1 $TA_CERT256
1 1 1 $EE_SPKI256" "only PKIX-TA and PKIX-EE records (that would match)"

set -- $TPORTS
P1=$1
q "_$P1._tcp.mx-wrong.dane.test" TLSA
is "$HEAD" "NOERROR ad=1" "mx-wrong: secure TLSA answer"
like "$DATA" '^3 1 1 [0-9a-f]{64}$' "mx-wrong: one 3 1 1 record"
unlike "$DATA" "$EE_SPKI256|$EE_CERT256|$TA_CERT256" "mx-wrong: its digest matches nothing"
q "_$P1._tcp.mx-agile.dane.test" TLSA
is "$HEAD" "NOERROR ad=1" "mx-agile: secure TLSA answer"
is "$(printf '%s\n' "$DATA" | head -n 1)" "3 1 1 $EE_SPKI256" "mx-agile: the right 3 1 1"
like "$(printf '%s\n' "$DATA" | sed -n 2p)" '^3 1 2 [0-9a-f]{128}$' "mx-agile: and a 3 1 2"
unlike "$DATA" "$EE_SPKI512" "mx-agile: whose SHA-512 digest is wrong"

# Secure denial: no TLSA at all under mx-notlsa.
q "_$P1._tcp.mx-notlsa.dane.test" TLSA
is "$HEAD $DATA" "NXDOMAIN ad=1 " "mx-notlsa: TLSA name is a secure NXDOMAIN"
q mx-notlsa.dane.test TLSA
is "$HEAD $DATA" "NOERROR ad=1 " "mx-notlsa: TLSA at the host name is a secure NODATA"

# Bogus TLSA, fine address.
q mx-tlsabogus.dane.test A
is "$HEAD $DATA" "NOERROR ad=1 $LAB_IP" "mx-tlsabogus: the address is secure"
for p in $TPORTS; do
	q "_$p._tcp.mx-tlsabogus.dane.test" TLSA
	is "$HEAD $DATA" "SERVFAIL ad=0 " "mx-tlsabogus: TLSA at port $p is SERVFAIL (bogus)"
done
q "_$P1._tcp.mx-tlsabogus.dane.test" TLSA "$N"
is "$HEAD $DATA" "NOERROR ad=0 3 1 1 $EE_SPKI256" \
    "mx-tlsabogus: the non-validating resolver gives the records"

# ------------------------------------------------------------ MX sets

# mx_list DOMAIN [RESOLVER] - "PREF HOST ..." in order of preference
mx_list() {
	q "$1" MX "${2:-$V}"
	MX=$(printf '%s\n' "$DATA" | sort -n | tr '\n' ' ')
}
mx_list list.dane.test
is "$HEAD/$MX" "NOERROR ad=1/10 mx-wrong.dane.test. 20 mx-ee.dane.test. " \
    "list.dane.test: MX 10 mx-wrong, 20 mx-ee, secure"
bad=""
for h in $HOSTS; do
	mx_list "${h#mx-}.dane.test"
	[ "$HEAD/$MX" = "NOERROR ad=1/10 $h.dane.test. " ] || bad="$bad ${h#mx-}($HEAD/$MX)"
done
is "$bad" "" "X.dane.test MX 10 mx-X.dane.test for every host, secure"
q cname.dane.test A
is "$HEAD $DATA" "NOERROR ad=1 $LAB_IP" "cname.dane.test: address through the CNAME, secure"
like "$(dl_query cname.dane.test A | sed -n 2p)" \
    '^cname\.dane\.test\. CNAME mx-ee\.dane\.test\.$' "cname.dane.test: CNAME mx-ee.dane.test"

# ------------------------------------------------------------- insecure

q insecure.test DS
is "$HEAD $DATA" "NOERROR ad=1 " "insecure.test: no DS in the root (secure NODATA)"
q mx.insecure.test A
is "$HEAD $DATA" "NOERROR ad=0 $LAB_IP" "mx.insecure.test: address, insecure (no AD)"
q "_$P1._tcp.mx.insecure.test" TLSA
like "$HEAD $DATA" '^NOERROR ad=0 3 1 1 [0-9a-f]{64}$' "mx.insecure.test: a TLSA record, insecure"
unlike "$DATA" "$EE_SPKI256" "mx.insecure.test: its digest is wrong"
mx_list insecure.test
is "$HEAD/$MX" "NOERROR ad=0/10 mx.insecure.test. " "insecure.test: MX 10 mx.insecure.test, insecure"

# ---------------------------------------------------------------- bogus

# bogus NAME TYPE WANT - SERVFAIL from the validating resolver; the
# non-validating one answers "NOERROR ad=0 WANT"
bogus() {
	q "$1" "$2"
	is "$HEAD $DATA" "SERVFAIL ad=0 " "$1 $2: SERVFAIL from the validating resolver"
	q "$1" "$2" "$N"
	is "$HEAD $DATA" "NOERROR ad=0 $3" "$1 $2: answered by the non-validating resolver"
}
for z in expired corrupt; do
	bogus "mx.$z.test" A "$LAB_IP"
	bogus "$z.test" MX "10 mx.$z.test."
	bogus "_$P1._tcp.mx.$z.test" TLSA "3 1 1 $EE_SPKI256"
done
q expired.test DS
is "$HEAD" "NOERROR ad=1" "expired.test: its DS is in the root, secure"
q corrupt.test DS
is "$HEAD" "NOERROR ad=1" "corrupt.test: its DS is in the root, secure"
# Bogus for the right reason (val-log-level 2 logs each failure).
check "expired.test: Unbound says the signatures expired" \
    grep -E 'validation failure <[^>]*expired\.test\..*signature expired' \
    "$DL_DIR/unbound-v.log"
check "corrupt.test: Unbound says a signature failed" \
    grep -E 'validation failure <[^>]*corrupt\.test\..*signature crypto failed' \
    "$DL_DIR/unbound-v.log"
check "mx-tlsabogus: Unbound says a signature failed" \
    grep -E 'validation failure <_[0-9]+\._tcp\.mx-tlsabogus\.dane\.test\. TLSA.*signature crypto failed' \
    "$DL_DIR/unbound-v.log"

# --------------------------------------------------------- outside names

# Capture DNS leaving loopback while outside names are asked for (when
# tcpdump is there).  Packets to the system's own resolvers are left out:
# they are other programs' (Unbound never reads resolv.conf).
filter='(port 53 or port 853) and not (src net 127.0.0.0/8 and dst net 127.0.0.0/8)'
filter="$filter and not (ip6 and src host ::1 and dst host ::1)"
for ns in $(sed -n 's/^nameserver[ \t]*\([0-9a-fA-F.:]*\).*/\1/p' /etc/resolv.conf 2>/dev/null); do
	filter="$filter and not host $ns"
done
CAP=$LAB_TMP/outside.pcap
CAP_PID=
if command -v tcpdump >/dev/null 2>&1; then
	tcpdump -i any -n -U --immediate-mode -Z root -w "$CAP" "$filter" \
	    </dev/null >/dev/null 2>"$CAP.err" &
	CAP_PID=$!
	lab_track "$CAP_PID"
	wait_file "$CAP" 5 "$CAP_PID" || true
	i=0
	while ! grep -q 'listening on' "$CAP.err" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	sleep 0.3
fi
for r in "$V" "$N"; do
	t0=$(date +%s%N)
	q example.com A "$r"
	ms=$((($(date +%s%N) - t0) / 1000000))
	w=ad=1
	[ "$r" = "$V" ] || w=ad=0
	is "$HEAD $DATA" "NXDOMAIN $w " "example.com via $r: NXDOMAIN from the lab root"
	ok $((ms < 5000 ? 0 : 1)) "example.com via $r: answered at once (${ms} ms)"
	q "www.example.org" AAAA "$r"
	is "$HEAD" "NXDOMAIN $w" "www.example.org AAAA via $r: NXDOMAIN"
done
for w in v n; do
	infra=$(dl_unbound_control "$w" dump_infra 2>&1) || true
	is "$(printf '%s\n' "$infra" | awk '{print $1}' | sort -u | tr '\n' ' ')" \
	    "127.0.0.1@$DL_NSD_PORT " "unbound-$w asked no server but NSD (dump_infra)"
done
if [ -n "$CAP_PID" ]; then
	sleep 0.3
	tl_stop_pid_quiet "$CAP_PID"
	out=$(tcpdump -n -r "$CAP" 2>/dev/null) || true
	is "$out" "" "no DNS packet left loopback (tcpdump -i any)"
	[ -z "$out" ] || diag "$out"
else
	skip "no DNS packet left loopback" "tcpdump not installed"
fi

# ---------------------------------------------------------------- stop

pids="$DL_NSD_PID $DL_UV_PID $DL_UN_PID"
check "dl_stop ends NSD, its children and both Unbounds" dl_stop
left=""
for p in $pids; do
	if running "$p" || _pgroup_alive "$p"; then
		left="$left $p"
	fi
done
is "$left" "" "no lab process is left"
for hp in "$DL_NSD" "$DL_RESOLVER" "$DL_NOVALIDATE"; do
	check "nothing listens on $hp any more" wait_closed "${hp%:*}" "${hp##*:}" 5
done

done_testing
