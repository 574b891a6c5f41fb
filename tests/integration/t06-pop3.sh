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

dc_relay_start pop3

# ---------------------------------------------------------- verify, TLS

for svc in pop3-verify pop3s-verify; do
	auths="user user-pipelined plain plain-ir"
	[ "$svc" = pop3-verify ] || auths="user plain-ir"
	for auth in $auths; do
		what=$svc/poplib-$auth
		n=$svc-py-$auth
		tm=$(tl_mark)
		dm=$(dc_mark "$DC_LOG")
		dc_py "$n" "$svc" --auth "$auth"
		is "$RC" 0 "$what: logs in and retrieves the message through tlshimd"
		[ "$RC" = 0 ] || diag_file "$LAB_TMP/out/$n.py" 20
		fetched_checks "$what" "$LAB_TMP/out/$n.eml" "$MSG"
		line=$(tl_session "$tm" "service=$svc ")
		if [ "$auth" = user ]; then
			like "$(py_get "$n" greeting)" '^\+OK' "$what: greeted +OK"
			unlike "$(py_get "$n" greeting)" 'Dovecot lab' \
			    "$what: the greeting is not Dovecot's (tlshimd greets by itself)"
			unlike "$(py_get "$n" greeting)" '<[^>]*@[^>]*>' \
			    "$what: the greeting has no APOP timestamp"
			like "$(py_get "$n" capa)" '(^| )USER( |$)' "$what: CAPA lists USER"
			unlike "$(py_get "$n" capa)" 'STLS' "$what: CAPA does not list STLS"
			like "$(py_get "$n" stat)" '^[1-9]' "$what: STAT counts the message"
			dc_login_checks "$what" "$dm" TLS
			dc_session_tls "$line" "$what" "$svc"
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
	dc_py "$n" "$svc" --starttls-probe
	is "$RC" 0 "$what: after the refused STLS the session goes on"
	like "$(py_get "$n" stls)" '^-ERR' "$what: STLS gets -ERR"

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
dc_py "$n" "$svc"
is "$RC" 3 "$what: the client gets no +OK greeting"
like "$(py_get "$n" greeting)" '^-ERR \[SYS/TEMP\] tlshim: ' \
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
	dc_py "$n" "$svc" --auth "$auth"
	is "$RC" 4 "$what: the login is refused"
	like "$(py_get "$n" login)" '^-ERR \[AUTH\] tlshim: ' \
	    "$what: answered '-ERR [AUTH] tlshim: ...' ($(py_get "$n" login | cut -c1-40))"
	if [ "$auth" = user-pipelined ]; then
		like "$(py_get "$n" pass)" '^-ERR \[AUTH\] tlshim: ' \
		    "$what: the pipelined PASS is answered '-ERR [AUTH] tlshim: ...' too"
	fi
	line=$(tl_session "$tm" "service=$svc ")
	is "$(kv "$line" protocol)/$(kv "$line" result)/$(kv "$line" starttls_offered)/$(kv "$line" auth)" \
	    pop3/plaintext/no/none "$what: protocol=pop3 result=plaintext starttls_offered=no auth=none"
	if [ "$auth" = user ]; then
		like "$(py_get "$n" greeting)" '^\+OK' "$what: the client was greeted +OK"
		unlike "$(py_get "$n" capa)" 'STLS' "$what: CAPA does not list STLS"
		unlike "$(py_get "$n" capa)" '(^| )(USER|SASL)( |$)' \
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

dc_plain_checks "$pm"

# cleartext_auth = yes: the login is relayed, in plaintext, and said so.
svc=plain-cleartext
what=$svc/poplib
n=$svc-py
tm=$(tl_mark)
dm=$(dc_mark "$DC_PLAIN_LOG")
dc_py "$n" "$svc"
is "$RC" 0 "$what: logs in and retrieves the message in plaintext"
[ "$RC" = 0 ] || diag_file "$LAB_TMP/out/$n.py" 20
fetched_checks "$what" "$LAB_TMP/out/$n.eml" "$MSG"
dc_login_checks "$what" "$dm" plain
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

dc_relay_finish
done_testing
