#!/bin/bash
# t10-xmpp.sh - XMPP through tlshim to a real Prosody (xmpplab.sh), with
# real clients (slixmpp) and a scripted legacy server.
#
# c2s: alice logs in through tlshim and sends bob (also through tlshim) a
# message he receives, with Prosody requiring STARTTLS, offering it, not
# having TLS at all, and on its direct TLS port; the session lines say
# TLS and how the server was authenticated (the certificate checked
# against the XMPP domain).  With the DNSSEC lab (dnslab.sh, DL_XMPP):
# upstream = srv finds Prosody by SRV records, and DANE at the SRV target
# gives dane-ee or dane-ta, a wrong TLSA refuses, an insecure SRV RRset
# keeps DANE out, "." refuses, no SRV falls back to the domain itself,
# and tls = auto takes the direct TLS record.  s2s: a legacy server's
# stream reaches Prosody's s2s port inside TLS and its dialback request
# gets there.  Then `tlshim probe xmpp://` on the same names.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dnslab.sh"
. "$(dirname "$0")/xmpplab.sh"

lab_init "prosody prosodyctl setpriv certtool $(dl_tools)"
id prosody >/dev/null 2>&1 || skip_all "no prosody user"
"$LAB_PYTHON" -c 'import slixmpp' 2>/dev/null ||
	skip_all "python3-slixmpp not installed for $LAB_PYTHON"

D=dane.test
# The certificate names the plain test domains and the DANE-TA target;
# the DANE-EE names it does not carry (DANE-EE ignores names).
PKI_EXTRA_DNS="req.test opt.test plain.test mx-ta.$D" pki_make
XL_HOSTS="xee.$D xta.$D xwrong.$D xlist.$D xdirect.$D xnone.$D xnosrv.$D insecure.test"
XL_USERS="xee.$D"
xl_ports
DL_XMPP="$XL_C2S $XL_S2S $XL_C2S_TLS"
dl_start "$LAB_IP" "$XL_C2S $XL_S2S $XL_C2S_TLS $XL_C2S_STD" \
    "$LAB_PKI/good.pem" "$LAB_PKI/ca.pem"
xl_start

tlshim_find
conf=$LAB_TMP/t10.conf
tl_conf_global "$conf" "resolver=$DL_RESOLVER" "dnssec=trust-ad" \
    "log_level=detail"
lab_ports 12
P=$LAB_IP
tl_add "$conf" verify "$P:$XL_C2S" verify protocol=xmpp-client
tl_add "$conf" verify2 "$P:$XL_C2S" verify protocol=xmpp-client
tl_add "$conf" may "$P:$XL_C2S" may protocol=xmpp-client
tl_add "$conf" encrypt "$P:$XL_C2S" encrypt protocol=xmpp-client
tl_add "$conf" cleartext "$P:$XL_C2S" may protocol=xmpp-client cleartext_auth=yes
tl_add "$conf" direct "$P:$XL_C2S_TLS" verify protocol=xmpp-client tls=implicit
tl_add "$conf" srv srv dane protocol=xmpp-client tls=auto
tl_add "$conf" srv2 srv dane protocol=xmpp-client tls=auto
tl_add "$conf" srv-only srv dane-only protocol=xmpp-client
tl_add "$conf" s2s "$P:$XL_S2S" verify protocol=xmpp-server
tl_add "$conf" s2s-srv srv dane protocol=xmpp-server

check "tlshimd -t accepts the XMPP configuration" "$TLSHIMD" -t -c "$conf"
check "tlshimd starts and listens" tl_start "$conf"
tl_alive || bail "tlshimd did not start"

# line SVC DOMAIN - the session line of SVC for DOMAIN after MARK
line() {
	tl_session "$MARK" "service=$1 .*domain=$2 " 15
}

# chat WHAT SVC SVC2 DOMAIN AUTH - alice and bob through two services;
# both session lines say TLS and AUTH; sets LINE (alice's)
chat() {
	local what=$1 l2
	MARK=$(tl_mark)
	new_id "$2"
	check "$what: bob receives alice's message" \
	    xl_chat "$ID" "$LAB_IP" "${LPORT[$2]}" "$LAB_IP" "${LPORT[$3]}" "$4"
	LINE=$(line "$2" "$4")
	l2=$(line "$3" "$4")
	is "$(kv "$LINE" result)/$(kv "$LINE" auth)" "tls/$5" \
	    "$what: alice's session is TLS, auth $5"
	is "$(kv "$l2" result)/$(kv "$l2" auth)" "tls/$5" \
	    "$what: bob's session is TLS, auth $5"
	is "$(kv "$LINE" protocol)/$(kv "$LINE" domain)" "xmpp-client/$4" \
	    "$what: protocol and domain in the record"
	like "$(kv "$LINE" bytes_in) $(kv "$LINE" bytes_out)" \
	    '^[1-9][0-9]* [1-9][0-9]*$' "$what: bytes counted both ways"
}

# opened WHAT SVC DOMAIN RESULT AUTH - open a stream, close it; sets LINE
opened() {
	MARK=$(tl_mark)
	new_id "$2"
	xl_open "$ID" "$LAB_IP" "${LPORT[$2]}" "$3" >/dev/null 2>&1 || true
	LINE=$(line "$2" "$3")
	is "$(kv "$LINE" result)/$(kv "$LINE" auth)" "$4/$5" \
	    "$1: result $4, auth $5"
}

# --- c2s to Prosody by address: the domain is the reference identity
chat "STARTTLS required" verify verify2 req.test pkix
is "$(kv "$LINE" starttls_offered)/$(kv "$LINE" peer)/$(kv "$LINE" name_source)" \
    "yes/$LAB_IP/config" "STARTTLS required: offered, peer, name_source"
like "$(kv "$LINE" tls_version)" '^TLS1\.[23]$' "STARTTLS required: TLS 1.2+"
chat "STARTTLS offered" verify verify2 opt.test pkix
chat "direct TLS (5223-style port)" direct direct req.test pkix
is "$(kv "$LINE" port)/$(kv "$LINE" starttls_offered)" "$XL_C2S_TLS/no" \
    "direct TLS: the direct port, no STARTTLS"

# No TLS at all: encrypt refuses; may relays, but no credential crosses
# (the login fails, the features offer no way to send one).
opened "no TLS, encrypt" encrypt plain.test refused none
is "$(kv "$LINE" cause)/$(kv "$LINE" starttls_offered)" "no-tls/no" \
    "no TLS, encrypt: cause no-tls"
is "$(xl_get "$ID" stream_error)" "remote-connection-failed" \
    "no TLS, encrypt: the client gets a stream error"
opened "no TLS, may" may plain.test plaintext none
unlike "$(xl_get "$ID" reply)" "mechanisms" \
    "no TLS, may: no SASL mechanisms offered on the cleartext leg"
new_id may-login
MARK=$(tl_mark)
if xl_chat "$ID" "$LAB_IP" "${LPORT[may]}" "$LAB_IP" "${LPORT[may]}" \
    plain.test >/dev/null 2>&1; then
	fail "no TLS, may: logging in must fail"
else
	pass "no TLS, may: logging in fails (credentials stay home)"
fi
chat_plain() {
	MARK=$(tl_mark)
	new_id cleartext
	check "no TLS, cleartext_auth = yes: bob receives alice's message" \
	    xl_chat "$ID" "$LAB_IP" "${LPORT[cleartext]}" "$LAB_IP" \
	    "${LPORT[cleartext]}" plain.test
	LINE=$(line cleartext plain.test)
	is "$(kv "$LINE" result)/$(kv "$LINE" auth)" "plaintext/none" \
	    "no TLS, cleartext_auth = yes: recorded as plaintext"
}
chat_plain

# Verification checks the domain, not the host: the certificate does not
# name xee.dane.test, so verify refuses it there (by address, no DANE).
opened "verify, domain not in the certificate" verify "xee.$D" refused untrusted
is "$(kv "$LINE" cause)" certificate "verify: cause certificate"

# --- SRV and DANE (RFC 7673) through the DNSSEC lab
chat "SRV, DANE-EE at the SRV target" srv srv2 "xee.$D" dane-ee
is "$(kv "$LINE" peer):$(kv "$LINE" port)/$(kv "$LINE" name_source)/$(kv "$LINE" dnssec)" \
    "mx-ee.$D:$XL_C2S/srv/secure" "SRV: peer is the SRV target, port from SRV"
like "$(kv "$LINE" tlsa)" "^3 1 1 " "SRV: the TLSA record used is recorded"
opened "SRV, DANE-TA" srv "xta.$D" tls dane-ta
opened "SRV, wrong TLSA" srv "xwrong.$D" refused untrusted
is "$(kv "$LINE" cause)" dane-mismatch "SRV, wrong TLSA: cause dane-mismatch"
is "$(xl_get "$ID" stream_error)" "remote-connection-failed" \
    "SRV, wrong TLSA: the client gets a stream error"
opened "SRV list, first target fails DANE" srv "xlist.$D" tls dane-ee
is "$(kv "$LINE" peer)" "mx-ee.$D" "SRV list: the second target is used"
like "$(kv "$LINE" reason)" "mx-wrong.$D" "SRV list: the first failure is recorded"
opened "tls = auto, direct TLS SRV first" srv "xdirect.$D" tls dane-ee
is "$(kv "$LINE" port)/$(kv "$LINE" starttls_offered)" "$XL_C2S_TLS/no" \
    "tls = auto: the _xmpps-client target, direct TLS"
opened "SRV target \".\"" srv "xnone.$D" refused none
like "$(kv "$LINE" reason)" "not offered" "SRV \".\": no fallback"
opened "insecure SRV RRset" srv insecure.test tls untrusted
is "$(kv "$LINE" peer)/$(kv "$LINE" dnssec)" "mx-wrong.$D/insecure" \
    "insecure SRV: its target's wrong TLSA is not used (RFC 7673 3)"
opened "insecure SRV, dane-only" srv-only insecure.test refused none
if [ -n "$XL_C2S_STD" ]; then
	opened "no SRV: the domain on port 5222" srv "xnosrv.$D" tls dane-ee
	is "$(kv "$LINE" peer):$(kv "$LINE" port)/$(kv "$LINE" name_source)" \
	    "xnosrv.$D:5222/xmpp-to" "no SRV: the domain's own address, 5222"
else
	skip "no SRV: the domain on port 5222" "5222 taken on $LAB_IP"
	skip "no SRV: the domain's own address, 5222" "5222 taken on $LAB_IP"
fi

# --- s2s: a legacy server's stream, inside TLS, dialback to Prosody.
# The legacy server's domain is this test's own address: Prosody checks
# a dialback key by connecting back to it, and an address needs no DNS
# (Prosody would ask the system's resolver, off loopback).
ORIGIN=$LAB_IP
KEY=0123456789abcdef0123456789abcdef
XM=$(xl_mark)
MARK=$(tl_mark)
new_id s2s
xl_s2s "$ID" "$LAB_IP" "${LPORT[s2s]}" "$ORIGIN" req.test >/dev/null 2>&1 || true
like "$(xl_get "$ID" reply)" "xmlns:db='jabber:server:dialback'.* to='$ORIGIN'" \
    "s2s: the answer keeps the dialback namespace, to the legacy domain"
is "$(xl_get "$ID" dialback_offered)" yes "s2s: Prosody's features inside TLS"
LINE=$(tl_session "$MARK" "service=s2s " 20)
is "$(kv "$LINE" result)/$(kv "$LINE" auth)/$(kv "$LINE" protocol)" \
    "tls/pkix/xmpp-server" "s2s: TLS, pkix, xmpp-server"
like "$(xl_log_since "$XM" | grep -c "asking $ORIGIN if key $KEY belongs to them")" \
    '^[1-9]' "s2s: the dialback request reached Prosody, key intact"
like "$(xl_log_since "$XM" | grep -c 'Stream encrypted')" \
    '^[1-9]' "s2s: Prosody saw the stream encrypted"
diag "s2s: dialback answer: '$(xl_get "$ID" dialback_result)'"
MARK=$(tl_mark)
new_id s2s-srv
xl_s2s "$ID" "$LAB_IP" "${LPORT[s2s-srv]}" "$ORIGIN" "xee.$D" >/dev/null 2>&1 || true
LINE=$(tl_session "$MARK" "service=s2s-srv " 20)
is "$(kv "$LINE" result)/$(kv "$LINE" auth)/$(kv "$LINE" peer):$(kv "$LINE" port)" \
    "tls/dane-ee/mx-ee.$D:$XL_S2S" "s2s by _xmpp-server SRV: DANE-EE at the target"

# --- tlshim probe
probe() {	# probe WHAT URL EXIT AUTH
	local out rc=0
	out=$("$TLSHIM" probe --resolver "$DL_RESOLVER" --json "$2" 2>&1) || rc=$?
	is "$rc" "$3" "probe $1: exit $3"
	like "$out" "\"auth\": \"$4\"" "probe $1: auth $4"
}
probe "xmpp://xee" "xmpp://xee.$D" 0 dane-ee
probe "xmpp://xwrong" "xmpp://xwrong.$D" 2 untrusted
probe "xmpp-server://xee" "xmpp-server://xee.$D" 0 dane-ee

tl_final_checks
done_testing
