#!/bin/bash
# t09-dane-smtp.sh - DANE through tlshim to a real Postfix, with a real
# DNSSEC lab (NSD serving signed zones, Unbound validating them: see
# dnslab.sh).  Every row of the lab gives the delivery or refusal RFC 7672
# asks for, and nothing is ever delivered in plaintext or to an
# unauthenticated server when secure, usable TLSA records exist.  Then
# `tlshim probe` on the same rows, and the same names through a resolver
# that does not validate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dnslab.sh"

lab_init "postfix postconf swaks certtool $(dl_tools)"
# The leaf names the DANE-TA hosts (DANE-TA checks names; mx-ta-noname is
# left out on purpose).  DANE-EE ignores names.
PKI_EXTRA_DNS="mx-ta.dane.test mx-ta-spki.dane.test" pki_make
pf_start
# mx-ee also gets AAAA ::1, where nothing listens: both families are tried.
dl_start "$LAB_IP" "$PF_GOOD $PF_PLAIN" "$LAB_PKI/good.pem" "$LAB_PKI/ca.pem" ::1

tlshim_find
conf=$LAB_TMP/t09.conf
tl_conf_global "$conf" "resolver=$DL_RESOLVER" "dnssec=trust-ad" \
    "log_level=detail"
lab_ports 30
D=dane.test
tl_add "$conf" ee "mx-ee.$D:$PF_GOOD" dane
tl_add "$conf" ee-full "mx-ee-full.$D:$PF_GOOD" dane
tl_add "$conf" ee-cert "mx-ee-cert.$D:$PF_GOOD" dane
tl_add "$conf" ee-512 "mx-ee-512.$D:$PF_GOOD" dane
tl_add "$conf" ta "mx-ta.$D:$PF_GOOD" dane
tl_add "$conf" ta-spki "mx-ta-spki.$D:$PF_GOOD" dane
tl_add "$conf" ta-noname "mx-ta-noname.$D:$PF_GOOD" dane
tl_add "$conf" wrong "mx-wrong.$D:$PF_GOOD" dane
tl_add "$conf" agile "mx-agile.$D:$PF_GOOD" dane
tl_add "$conf" unusable "mx-unusable.$D:$PF_GOOD" dane
tl_add "$conf" notlsa "mx-notlsa.$D:$PF_GOOD" dane
tl_add "$conf" tlsabogus "mx-tlsabogus.$D:$PF_GOOD" dane
tl_add "$conf" insecure "mx.insecure.test:$PF_GOOD" dane
tl_add "$conf" expired "mx.expired.test:$PF_GOOD" dane
tl_add "$conf" corrupt "mx.corrupt.test:$PF_GOOD" dane
tl_add "$conf" mxlist "mx:list.$D:$PF_GOOD" dane
tl_add "$conf" mxee "mx:ee.$D:$PF_GOOD" dane
tl_add "$conf" plain-tlsa "mx-ee.$D:$PF_PLAIN" dane
tl_add "$conf" only-ee "mx-ee.$D:$PF_GOOD" dane-only
tl_add "$conf" only-notlsa "mx-notlsa.$D:$PF_GOOD" dane-only
tl_add "$conf" only-insecure "mx.insecure.test:$PF_GOOD" dane-only
tl_add "$conf" may-wrong "mx-wrong.$D:$PF_GOOD" may
tl_add "$conf" cname "cname.$D:$PF_GOOD" dane
tl_add "$conf" implicit "mx:implicit.$D:$PF_GOOD" dane
tl_add "$conf" nullmx "mx:nullmx.$D:$PF_GOOD" dane
tl_add "$conf" srv "srv:srv.$D" dane protocol=submission
tl_add "$conf" srvlist "srv:srvlist.$D" dane protocol=submission
tl_add "$conf" nosrv "srv:nosrv.$D" dane protocol=submission
tl_add "$conf" tosecure "mx:tosecure.insecure.test:$PF_GOOD" dane

check "tlshimd -t accepts the DANE configuration" "$TLSHIMD" -t -c "$conf"
check "tlshimd starts and listens" tl_start "$conf"
if ! tl_alive; then
	diag_file "$TL_LOG"
	bail "tlshimd did not start"
fi

# delivered SERVICE AUTH DNSSEC - the message arrives over TLS and the
# session line says how it was authenticated; sets LINE
delivered() {
	local svc=$1 what="$1/delivered" tm
	tm=$(tl_mark)
	new_id "$svc"
	check "$what: swaks delivers through tlshim" \
	    swaks_send "$LAB_IP" "${LPORT[$svc]}" "$ID"
	delivery_checks "$what" "$ID" "$CHECK_RC"
	LINE=$(tl_session "$tm" "service=$svc ")
	is "$(kv "$LINE" result)/$(kv "$LINE" auth)" "tls/$2" \
	    "$what: result=tls auth=$2"
	is "$(kv "$LINE" dnssec)" "$3" "$what: dnssec=$3"
}

# refused SERVICE RESULT DNSSEC [REASON_ERE] - the client gets 421 4.7.0,
# nothing reaches Postfix's queue; sets LINE
refused() {
	local what="$1/refused"
	refused_checks "$what" "$1"
	is "$(kv "$LINE" result)" "$2" "$what: result=$2"
	is "$(kv "$LINE" dnssec)" "$3" "$what: dnssec=$3"
	[ -z "${4:-}" ] || like "$(kv "$LINE" reason)" "$4" \
	    "$what: reason matches /$4/"
}

# --- secure, usable TLSA: authenticated, whatever the record's form
delivered ee dane-ee secure
like "$(kv "$LINE" tlsa)" "^3 1 1 $DL_EE_SPKI256" "ee: the record used is logged"
is "$(kv "$LINE" name_source)/$(kv "$LINE" peer)" "config/mx-ee.$D" "ee: peer and name_source"
sid=$(kv "$LINE" session)
like "$(grep -F "$sid" "$TL_LOG" | grep -F 'connect to ::1 port')" 'refused' \
    "ee: the AAAA address was tried first, then the A address"
delivered ee-full dane-ee secure
delivered ee-cert dane-ee secure
delivered ee-512 dane-ee secure
delivered ta dane-ta secure
delivered ta-spki dane-ta secure
delivered cname dane-ee secure

# --- a TLSA record that does not match: refused, never relayed
refused wrong refused secure 'DANE'
is "$(kv "$LINE" cause)" dane-mismatch "wrong: cause=dane-mismatch"
like "$(kv "$LINE" starttls_offered)" yes "wrong: STARTTLS was offered and taken"
refused agile refused secure 'DANE'
refused ta-noname refused secure 'DANE.*(name|mx-ta-noname)'

# --- only unusable records: TLS without authentication (RFC 7672 2.2)
delivered unusable untrusted secure
like "$(kv "$LINE" reason)" 'unusable' "unusable: the reason says the records were unusable"

# --- no TLSA (secure denial): as may
delivered notlsa untrusted secure

# --- DNSSEC-insecure zone: its (wrong) TLSA is ignored, as may
delivered insecure untrusted insecure

# --- bogus: never "no TLSA", the host is not used
refused tlsabogus failed bogus 'TLSA'
is "$(kv "$LINE" cause)" dns "tlsabogus: cause=dns"
refused expired failed bogus
refused corrupt failed bogus

# --- MX: the first host fails DANE, the second passes
delivered mxlist dane-ee secure
is "$(kv "$LINE" peer)/$(kv "$LINE" name_source)" "mx-ee.$D/mx" \
    "mxlist: delivered through the second MX host"
like "$(kv "$LINE" reason)" "mx-wrong\.$D: DANE" \
    "mxlist: the first host's DANE failure is recorded"
delivered mxee dane-ee secure
# A domain without MX records is its own MX host (RFC 5321 5.1); a null
# MX (RFC 7505) accepts no mail.
delivered implicit dane-ee secure
is "$(kv "$LINE" peer)/$(kv "$LINE" name_source)" "implicit.$D/mx" \
    "implicit: the domain itself is the host"
refused nullmx refused secure 'null MX'

# An insecure MX RRset: DANE does not apply to the hosts it names, even
# a secure one with (here, wrong) TLSA records (RFC 7672 2.2.1).
delivered tosecure untrusted insecure
is "$(kv "$LINE" peer)/$(kv "$LINE" tlsa)" "mx-wrong.$D/" \
    "tosecure: the secure host's TLSA records were not used"

# --- SRV (RFC 6186): _submission._tcp, the port from the record
delivered srv dane-ee secure
is "$(kv "$LINE" peer):$(kv "$LINE" port)/$(kv "$LINE" name_source)" \
    "mx-ee.$D:$PF_GOOD/srv" "srv: the SRV target and port are used"
delivered srvlist dane-ee secure
like "$(kv "$LINE" reason)" "mx-wrong\.$D: DANE" \
    "srvlist: the first target's DANE failure is recorded"
refused nosrv refused secure 'not offered'

# --- secure TLSA, server without STARTTLS: refused, never plaintext
refused plain-tlsa refused secure 'TLS'
is "$(kv "$LINE" starttls_offered)/$(kv "$LINE" cause)" no/no-tls \
    "plain-tlsa: starttls_offered=no cause=no-tls"

# --- dane-only
delivered only-ee dane-ee secure
refused only-notlsa refused secure 'dane-only'
is "$(kv "$LINE" cause)" dane-required "only-notlsa: cause=dane-required"
refused only-insecure refused insecure 'dane-only'

# --- may never looks at TLSA
delivered may-wrong untrusted secure
is "$(kv "$LINE" tlsa)" "" "may-wrong: no TLSA used"

# --- tlshim probe: the same code, one session, an exit status
if [ -x "$TLSHIM" ]; then
	probe() {	# probe NAME PORT EXPECTED_RC [RESOLVER]
		local rc=0
		"$TLSHIM" probe --json --resolver "${4:-$DL_RESOLVER}" -c "$conf" \
		    "smtp://$1:$2" >"$LAB_TMP/out/probe-$1.json" \
		    2>"$LAB_TMP/out/probe-$1.err" || rc=$?
		is "$rc" "$3" "probe $1: exit $3"
		[ "$rc" = "$3" ] || diag_file "$LAB_TMP/out/probe-$1.json"
	}
	pj() {	# pj NAME KEY - a field of probe NAME's JSON
		"$LAB_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		    "$LAB_TMP/out/probe-$1.json" "$2" 2>/dev/null
	}
	probe "mx-ee.$D" "$PF_GOOD" 0
	is "$(pj "mx-ee.$D" auth)/$(pj "mx-ee.$D" tlsa_dnssec)" dane-ee/secure \
	    "probe mx-ee: auth dane-ee, TLSA secure"
	like "$(pj "mx-ee.$D" tlsa_records)" "3 1 1 $DL_EE_SPKI256" \
	    "probe mx-ee: the TLSA record is shown"
	like "$(pj "mx-ee.$D" addresses)" "$LAB_IP" "probe mx-ee: the address is shown"
	probe "mx-ta.$D" "$PF_GOOD" 0
	is "$(pj "mx-ta.$D" auth)" dane-ta "probe mx-ta: auth dane-ta"
	probe "mx-wrong.$D" "$PF_GOOD" 2
	is "$(pj "mx-wrong.$D" result)" refused "probe mx-wrong: refused"
	probe "mx-notlsa.$D" "$PF_GOOD" 1
	is "$(pj "mx-notlsa.$D" result)/$(pj "mx-notlsa.$D" auth)" tls/untrusted \
	    "probe mx-notlsa: encrypted, not authenticated"
	probe "mx-ee.$D" "$PF_PLAIN" 2
	probe "mx.expired.test" "$PF_GOOD" 3
	"$TLSHIM" probe --resolver "$DL_RESOLVER" -c "$conf" \
	    "smtp://mx-ee.$D:$PF_GOOD" >"$LAB_TMP/out/probe.txt" 2>&1 || true
	like "$(grep '^verdict' "$LAB_TMP/out/probe.txt")" 'authenticated \(exit 0\)' \
	    "probe (text): the verdict line"
	like "$(grep '^auth' "$LAB_TMP/out/probe.txt")" 'dane-ee' "probe (text): auth"
	rc=0
	"$TLSHIM" probe "ftp://x.test" >/dev/null 2>&1 || rc=$?
	is "$rc" 3 "probe: an unknown scheme is an error (exit 3)"
else
	skip "tlshim probe" "tlshim not built (set TLSHIM)"
fi

# --- a resolver that does not validate: nothing is secure, DANE is off
tl_stop
conf2=$LAB_TMP/t09-novalidate.conf
tl_conf_global "$conf2" "resolver=$DL_NOVALIDATE"
lab_ports 1
tl_add "$conf2" nv-wrong "mx-wrong.$D:$PF_GOOD" dane
check "tlshimd starts with the non-validating resolver" tl_start "$conf2"
delivered nv-wrong untrusted insecure

tl_final_checks
done_testing
