#!/bin/bash
# t06-pop3.sh - outbound POP3 through tlshimd to a private Dovecot.
#
# Dovecot ("tls", on $LAB_IP) offers STLS and refuses USER/PASS before it
# (disable_plaintext_auth = yes), so a plaintext client that logs in
# through tlshimd proves the upgrade.  Under security = verify, with STLS
# to the POP3 port and with tls = implicit to the POP3S port, poplib
# (USER/PASS, pipelined USER/PASS, AUTH PLAIN with and without an initial
# response), curl and fetchmail log in and retrieve the message the test
# put into the Maildir (with lines that need dot-stuffing), intact; the
# client never sees STLS in CAPA, and is refused if it tries it; the
# session line says protocol=pop3 result=tls auth=pkix.
#
# A second Dovecot ("plain", no TLS at all): at the default level
# (encrypt for pop3) the client gets "-ERR [SYS/TEMP] tlshim: ..." and
# result=refused; under may, USER/PASS and AUTH are answered "-ERR [AUTH]
# tlshim: ..." by tlshimd itself; with cleartext_auth = yes the login
# works in plaintext (result=plaintext).  The password never reaches the
# plain Dovecot unless cleartext_auth says so: its log
# (auth_debug_passwords) has no authentication, and a capture on lo (with
# tcpdump) has no password.
. "$(dirname "$0")/lib.sh"

lab_init dovecot certtool curl fetchmail
pki_make
dc_start
new_id msg
MSG=$ID
dc_deliver "$MSG" 64
dc_direct_check "$MSG"

# tlshimd listens on 127.0.0.1, like a shim for a legacy client on the
# same host.
TL_IP=127.0.0.1
conf=$LAB_TMP/t06.conf
tl_conf_global "$conf"
lab_ports 5 "$TL_IP" $((DC_PLAIN_POP3 + 1))
set -- $PORTS
declare -A LPORT UPEER UPORT
add() {	# add SERVICE PORT UPSTREAM_IP UPSTREAM_PORT SECURITY [KEY=VALUE...]
	local svc=$1 lp=$2 uip=$3 up=$4 sec=$5
	shift 5
	LPORT[$svc]=$lp UPEER[$svc]=$uip UPORT[$svc]=$up
	tl_conf_service "$conf" "$svc" "$TL_IP:$lp" "$uip:$up" "$sec" \
	    protocol=pop3 helo_name= "$@"
}
add pop3-verify "$1" "$LAB_IP" "$DC_POP3" verify
add pop3s-verify "$2" "$LAB_IP" "$DC_POP3S" verify tls=implicit
add plain-default "$3" "$DC_PLAIN_IP" "$DC_PLAIN_POP3" ""
add plain-may "$4" "$DC_PLAIN_IP" "$DC_PLAIN_POP3" may
add plain-cleartext "$5" "$DC_PLAIN_IP" "$DC_PLAIN_POP3" may cleartext_auth=yes

check "tlshimd -t accepts the test configuration" "$TLSHIMD" -t -c "$conf"
if ! tl_start "$conf"; then
	fail "tlshimd starts and listens"
	diag "$(cat "$conf")"
	done_testing
	exit 0
fi
pass "tlshimd starts and listens"

# pop3_py NAME SERVICE [labtool pop3 ARGS...] - poplib through tlshimd;
# the transcript (key=value lines) is $LAB_TMP/out/NAME.py, the message
# NAME.eml.  Sets RC.
pop3_py() {
	local n=$1 svc=$2
	shift 2
	RC=0
	lab_tool pop3 "$TL_IP" "${LPORT[$svc]}" --id "$MSG" --user "$DC_USER" \
	    --password "$DC_PASS" --save "$LAB_TMP/out/$n.eml" "$@" \
	    >"$LAB_TMP/out/$n.py" 2>&1 || RC=$?
}

# got NAME KEY - a key=value from that transcript
got() {
	py_get "$1" "$2"
}

# session_tls LINE WHAT SERVICE - the session line of a session relayed
# inside verified TLS
session_tls() {
	local line=$1 what=$2 svc=$3
	tl_common_session_checks "$line" "$what" "$svc" "${UPEER[$svc]}" \
	    "${UPEER[$svc]}" "${UPORT[$svc]}" pop3
	is "$(kv "$line" result)" tls "$what: result=tls"
	like "$(kv "$line" tls_version)" '^TLS1\.[23]$' "$what: tls_version TLS1.x"
	like "$(kv "$line" cipher)" '.' "$what: cipher logged"
	is "$(kv "$line" auth)" pkix "$what: auth=pkix"
}

# dovecot_login WHAT MARK [TLS|plain] - Dovecot ("tls" or "plain") logged
# the user in, over TLS or not
dovecot_login() {
	local log=$DC_LOG l
	[ "${3:-TLS}" = TLS ] || log=$DC_PLAIN_LOG
	l=$(dc_wait_line "$log" "$2" "pop3-login: .*Login: user=<$DC_USER>")
	like "$l" "Login: user=<$DC_USER>, method=" "$1: Dovecot logged the user in"
	if [ "${3:-TLS}" = TLS ]; then
		like "$l" ', TLS, ' "$1: Dovecot says the connection was TLS"
	else
		unlike "$l" ', TLS' "$1: Dovecot says the connection was plaintext"
	fi
}

# ---------------------------------------------------------- verify, TLS

for svc in pop3-verify pop3s-verify; do
	auths="user user-pipelined plain plain-ir"
	[ "$svc" = pop3-verify ] || auths="user plain-ir"
	for auth in $auths; do
		what=$svc/poplib-$auth
		n=$svc-py-$auth
		tm=$(tl_mark)
		dm=$(dc_mark "$DC_LOG")
		pop3_py "$n" "$svc" --auth "$auth"
		is "$RC" 0 "$what: logs in and retrieves the message through tlshimd"
		[ "$RC" = 0 ] || diag_file "$LAB_TMP/out/$n.py" 20
		fetched_checks "$what" "$LAB_TMP/out/$n.eml" "$MSG"
		line=$(tl_session "$tm" "service=$svc ")
		if [ "$auth" = user ]; then
			like "$(got "$n" greeting)" '^\+OK' "$what: greeted +OK"
			unlike "$(got "$n" greeting)" 'Dovecot lab' \
			    "$what: the greeting is not Dovecot's (tlshimd greets by itself)"
			unlike "$(got "$n" greeting)" '<[^>]*@[^>]*>' \
			    "$what: the greeting has no APOP timestamp"
			like "$(got "$n" capa)" '(^| )USER( |$)' "$what: CAPA lists USER"
			unlike "$(got "$n" capa)" 'STLS' "$what: CAPA does not list STLS"
			like "$(got "$n" stat)" '^[1-9]' "$what: STAT counts the message"
			dovecot_login "$what" "$dm" TLS
			session_tls "$line" "$what" "$svc"
			if [ $svc = pop3-verify ]; then
				is "$(kv "$line" starttls_offered)" yes "$what: starttls_offered=yes"
			fi
		else
			is "$(kv "$line" result)/$(kv "$line" auth)" tls/pkix \
			    "$what: result=tls auth=pkix"
		fi
	done

	# A client that asks the relay for STLS gets -ERR, and goes on.
	what=$svc/stls-probe
	n=$svc-probe
	pop3_py "$n" "$svc" --starttls-probe
	is "$RC" 0 "$what: after the refused STLS the session goes on"
	like "$(got "$n" stls)" '^-ERR' "$what: STLS gets -ERR"

	# curl (POP3 with SASL: AUTH PLAIN), plaintext to tlshimd.
	what=$svc/curl
	n=$svc-curl
	tm=$(tl_mark)
	check "$what: curl retrieves the message through tlshimd" \
	    curl_fetch pop3 "$TL_IP" "${LPORT[$svc]}" "$n"
	fetched_checks "$what" "$LAB_TMP/out/$n.curl" "$MSG"
	like "$(curl_greeting "$n")" '^\+OK' "$what: greeted +OK"
	line=$(tl_session "$tm" "service=$svc ")
	is "$(kv "$line" protocol)/$(kv "$line" result)/$(kv "$line" auth)" \
	    pop3/tls/pkix "$what: protocol=pop3 result=tls auth=pkix"

	# fetchmail, told not to try TLS itself (sslproto '').
	what=$svc/fetchmail
	n=$svc-fm
	tm=$(tl_mark)
	check "$what: fetchmail retrieves the message through tlshimd" \
	    fm_fetch POP3 "$TL_IP" "${LPORT[$svc]}" "$n"
	fetched_checks "$what" "$LAB_TMP/out/$n.fetchmail" "$MSG"
	line=$(tl_session "$tm" "service=$svc ")
	is "$(kv "$line" protocol)/$(kv "$line" result)/$(kv "$line" auth)" \
	    pop3/tls/pkix "$what: protocol=pop3 result=tls auth=pkix"
done

# ------------------------------------------ plain Dovecot: no credentials

pm=$(dc_mark "$DC_PLAIN_LOG")
cap_start "$DC_PLAIN_IP"

# Default level (encrypt for pop3): refused before the client says a word.
svc=plain-default
what=$svc/poplib
n=$svc-py
tm=$(tl_mark)
dm=$(dc_mark "$DC_PLAIN_LOG")
pop3_py "$n" "$svc"
is "$RC" 3 "$what: the client gets no +OK greeting"
like "$(got "$n" greeting)" '^-ERR \[SYS/TEMP\] tlshim: ' \
    "$what: the greeting is '-ERR [SYS/TEMP] tlshim: ...'"
line=$(tl_session "$tm" "service=$svc ")
is "$(kv "$line" protocol)" pop3 "$what: protocol=pop3"
is "$(kv "$line" result)" refused "$what: result=refused"
is "$(kv "$line" starttls_offered)" no "$what: starttls_offered=no"
like "$(kv "$line" reason)" '.' "$what: a reason is logged"
like "$(dc_wait_line "$DC_PLAIN_LOG" "$dm" 'pop3-login: .*Disconnected')" \
    "Disconnected.*no auth attempts" \
    "$what: tlshimd did ask the plain Dovecot, and sent no authentication"

what=$svc/curl
n=$svc-curl
rc=0
curl_fetch pop3 "$TL_IP" "${LPORT[$svc]}" "$n" >/dev/null || rc=$?
is "$([ "$rc" != 0 ] && echo failed || echo "exit 0")" failed "$what: curl fails"
like "$(curl_greeting "$n")" '^-ERR \[SYS/TEMP\] tlshim: ' \
    "$what: curl got '-ERR [SYS/TEMP] tlshim: ...'"
what=$svc/fetchmail
n=$svc-fm
rc=0
fm_fetch POP3 "$TL_IP" "${LPORT[$svc]}" "$n" >/dev/null || rc=$?
like "$rc" '^[1-9]' "$what: fetchmail fails (exit $rc)"
check "$what: nothing was fetched" test ! -s "$LAB_TMP/out/$n.fetchmail"

# may: plaintext relay, but tlshimd answers USER, PASS and AUTH itself.
svc=plain-may
for auth in user user-pipelined plain plain-ir; do
	what=$svc/poplib-$auth
	n=$svc-py-$auth
	tm=$(tl_mark)
	pop3_py "$n" "$svc" --auth "$auth"
	is "$RC" 4 "$what: the login is refused"
	like "$(got "$n" login)" '^-ERR \[AUTH\] tlshim: ' \
	    "$what: answered '-ERR [AUTH] tlshim: ...' ($(got "$n" login | cut -c1-40))"
	if [ "$auth" = user-pipelined ]; then
		like "$(got "$n" pass)" '^-ERR \[AUTH\] tlshim: ' \
		    "$what: the pipelined PASS is answered '-ERR [AUTH] tlshim: ...' too"
	fi
	line=$(tl_session "$tm" "service=$svc ")
	is "$(kv "$line" protocol)/$(kv "$line" result)/$(kv "$line" starttls_offered)/$(kv "$line" auth)" \
	    pop3/plaintext/no/none "$what: protocol=pop3 result=plaintext starttls_offered=no auth=none"
	if [ "$auth" = user ]; then
		like "$(got "$n" greeting)" '^\+OK' "$what: the client was greeted +OK"
		unlike "$(got "$n" capa)" 'STLS' "$what: CAPA does not list STLS"
		unlike "$(got "$n" capa)" '(^| )(USER|SASL)( |$)' \
		    "$what: CAPA offers no login method (neither USER nor SASL)"
	fi
done
what=$svc/curl
n=$svc-curl
rc=0
curl_fetch pop3 "$TL_IP" "${LPORT[$svc]}" "$n" >/dev/null || rc=$?
is "$([ "$rc" != 0 ] && echo failed || echo "exit 0")" failed "$what: curl cannot log in"
check "$what: nothing was fetched" test ! -s "$LAB_TMP/out/$n.curl"
what=$svc/fetchmail
n=$svc-fm
rc=0
fm_fetch POP3 "$TL_IP" "${LPORT[$svc]}" "$n" >/dev/null || rc=$?
like "$rc" '^[1-9]' "$what: fetchmail cannot log in (exit $rc)"
check "$what: nothing was fetched" test ! -s "$LAB_TMP/out/$n.fetchmail"
if grep -q 'POP3> USER' "$LAB_TMP/out/$n.fetchmail.log"; then
	like "$(sed -n 's/^fetchmail: POP3< //p' "$LAB_TMP/out/$n.fetchmail.log" | grep -- '^-ERR' | head -n 1)" \
	    '^-ERR \[AUTH\] tlshim: ' "$what: fetchmail's USER got '-ERR [AUTH] tlshim: ...'"
else
	pass "$what: fetchmail did not even try USER"
fi

check "plain Dovecot: no authentication reached it (default level and may)" \
    dc_no_auth "$DC_PLAIN_LOG" "$pm"
cap_stop
if [ -n "$CAP_PID" ]; then
	check "capture: the plain Dovecot's greeting is in it (the capture works)" \
	    grep -aqF "Dovecot lab $LAB_NAME plain ready" "$CAP_FILE"
	found=
	while read -r s; do
		grep -aqF -- "$s" "$CAP_FILE" && found="$found $s"
	done <<-EOF
	$(lab_tool secrets "$DC_USER" "$DC_PASS")
	EOF
	is "$found" "" "capture: the password crossed the wire in no form"
else
	skip "capture on lo" "tcpdump not installed"
fi

# cleartext_auth = yes: the login is relayed, in plaintext, and said so.
svc=plain-cleartext
what=$svc/poplib
n=$svc-py
tm=$(tl_mark)
dm=$(dc_mark "$DC_PLAIN_LOG")
pop3_py "$n" "$svc"
is "$RC" 0 "$what: logs in and retrieves the message in plaintext"
[ "$RC" = 0 ] || diag_file "$LAB_TMP/out/$n.py" 20
fetched_checks "$what" "$LAB_TMP/out/$n.eml" "$MSG"
dovecot_login "$what" "$dm" plain
line=$(tl_session "$tm" "service=$svc ")
tl_common_session_checks "$line" "$what" "$svc" "$DC_PLAIN_IP" "$DC_PLAIN_IP" \
    "$DC_PLAIN_POP3" pop3
is "$(kv "$line" result)/$(kv "$line" starttls_offered)/$(kv "$line" auth)" \
    plaintext/no/none "$what: result=plaintext starttls_offered=no auth=none"
is "$(kv "$line" tls_version)" "" "$what: no tls_version"
what=$svc/curl
n=$svc-curl
check "$what: curl retrieves the message in plaintext" \
    curl_fetch pop3 "$TL_IP" "${LPORT[$svc]}" "$n"
fetched_checks "$what" "$LAB_TMP/out/$n.curl" "$MSG"

# --------------------------------------------------------------- the end

found=
while read -r s; do
	grep -qF -- "$s" "$LAB_TMP"/tlshimd.*.log && found="$found $s"
done <<-EOF
$(lab_tool secrets "$DC_USER" "$DC_PASS")
EOF
is "$found" "" "the password is in tlshimd's log in no form"
tl_final_checks
tl_stop
# A sanitizer build reports leaks when tlshimd exits.
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$LAB_TMP"/tlshimd.*.log; then
	fail "no sanitizer reports in tlshimd's log after it stopped"
	grep -hE -A5 'AddressSanitizer|LeakSanitizer|runtime error:' \
	    "$LAB_TMP"/tlshimd.*.log | head -n 40 | sed 's/^/#   /'
else
	pass "no sanitizer reports in tlshimd's log after it stopped"
fi
check "lab: both Dovecots stop, and nothing of them is left" dc_stop_all
done_testing
