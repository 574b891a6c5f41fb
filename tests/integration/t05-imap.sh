#!/bin/bash
# t05-imap.sh - outbound IMAP through tlshimd to a private Dovecot.
#
# Dovecot ("tls", on $LAB_IP) offers STARTTLS and shows LOGINDISABLED
# before it (disable_plaintext_auth = yes), so a plaintext client that
# logs in through tlshimd proves the upgrade.  Under security = verify,
# to the STARTTLS port and with tls = implicit to the IMAPS port, imaplib
# (LOGIN, LOGIN with literals, AUTHENTICATE PLAIN with and without
# SASL-IR), curl and fetchmail log in and fetch the message the test put
# into the Maildir; the greeting they see is tlshimd's own "* OK
# [CAPABILITY ...]" without STARTTLS and LOGINDISABLED; the session line
# says protocol=imap result=tls auth=pkix.
#
# A second Dovecot ("plain", no TLS at all): at the default level
# (encrypt for imap) the client gets "* BYE [UNAVAILABLE] tlshim: ..." and
# result=refused; under may, LOGIN and AUTHENTICATE are answered NO by
# tlshimd itself; with cleartext_auth = yes the login works in plaintext
# (result=plaintext).  The password never reaches the plain Dovecot unless
# cleartext_auth says so: its log (auth_debug_passwords) has no
# authentication, and a capture on lo (with tcpdump) has no password.
. "$(dirname "$0")/lib.sh"

dc_relay_start imap

# greeting_checks WHAT GREETING - tlshimd's own greeting, with the
# capabilities it learnt inside TLS
greeting_checks() {
	like "$2" '^\* OK \[CAPABILITY [^]]*IMAP4rev1' \
	    "$1: the greeting is '* OK [CAPABILITY IMAP4rev1 ...'"
	unlike "$2" 'STARTTLS|LOGINDISABLED' \
	    "$1: the greeting shows neither STARTTLS nor LOGINDISABLED"
	unlike "$2" 'Dovecot lab' "$1: the greeting is not Dovecot's"
}

# ---------------------------------------------------------- verify, TLS

for svc in imap-verify imaps-verify; do
	# imaplib with every way to send the password; the first one in
	# full detail.
	auths="login login-literal login-sync-literal plain plain-ir"
	[ "$svc" = imap-verify ] || auths="login plain-ir"
	for auth in $auths; do
		what=$svc/imaplib-$auth
		n=$svc-py-$auth
		tm=$(tl_mark)
		dm=$(dc_mark "$DC_LOG")
		dc_py "$n" "$svc" --auth "$auth"
		is "$RC" 0 "$what: logs in and fetches the message through tlshimd"
		[ "$RC" = 0 ] || diag_file "$LAB_TMP/out/$n.py" 20
		is "$(py_get "$n" login | cut -d' ' -f1)" OK "$what: login OK"
		fetched_checks "$what" "$LAB_TMP/out/$n.eml" "$MSG"
		line=$(tl_session "$tm" "service=$svc ")
		if [ "$auth" = login ]; then
			greeting_checks "$what" "$(py_get "$n" greeting)"
			unlike "$(py_get "$n" caps)" 'STARTTLS|LOGINDISABLED' \
			    "$what: CAPABILITY (asked by the client) lists neither STARTTLS nor LOGINDISABLED"
			like "$(py_get "$n" list)" '^OK .*INBOX' "$what: LIST shows INBOX"
			like "$(py_get "$n" select)" '^OK [1-9]' "$what: SELECT INBOX: messages exist"
			dc_login_checks "$what" "$dm" TLS
			dc_session_tls "$line" "$what" "$svc"
			if [ $svc = imap-verify ]; then
				is "$(kv "$line" starttls_offered)" yes "$what: starttls_offered=yes"
			fi
		else
			is "$(kv "$line" result)/$(kv "$line" auth)" tls/pkix \
			    "$what: result=tls auth=pkix"
		fi
	done

	# A client that asks the relay for STARTTLS gets no OK, and goes on.
	what=$svc/starttls-probe
	n=$svc-probe
	dc_py "$n" "$svc" --starttls-probe
	is "$RC" 0 "$what: after the refused STARTTLS the session goes on"
	like "$(py_get "$n" starttls)" '^(NO|BAD) ' "$what: STARTTLS gets NO or BAD"

	# curl (IMAP with SASL: AUTHENTICATE PLAIN), plaintext to tlshimd.
	what=$svc/curl
	n=$svc-curl
	tm=$(tl_mark)
	check "$what: curl fetches the message through tlshimd" \
	    curl_fetch imap "$TL_IP" "${LPORT[$svc]}" "$n"
	fetched_checks "$what" "$LAB_TMP/out/$n.curl" "$MSG"
	greeting_checks "$what" "$(curl_greeting "$n")"
	line=$(tl_session "$tm" "service=$svc ")
	is "$(kv "$line" protocol)/$(kv "$line" result)/$(kv "$line" auth)" \
	    imap/tls/pkix "$what: protocol=imap result=tls auth=pkix"

	# fetchmail, told not to try TLS itself (sslproto '').
	what=$svc/fetchmail
	n=$svc-fm
	tm=$(tl_mark)
	check "$what: fetchmail fetches the message through tlshimd" \
	    fm_fetch IMAP "$TL_IP" "${LPORT[$svc]}" "$n"
	fetched_checks "$what" "$LAB_TMP/out/$n.fetchmail" "$MSG"
	line=$(tl_session "$tm" "service=$svc ")
	is "$(kv "$line" protocol)/$(kv "$line" result)/$(kv "$line" auth)" \
	    imap/tls/pkix "$what: protocol=imap result=tls auth=pkix"
done

# ------------------------------------------ plain Dovecot: no credentials

pm=$(dc_mark "$DC_PLAIN_LOG")
cap_start "$DC_PLAIN_IP"

# Default level (encrypt for imap): refused before the client says a word.
svc=plain-default
what=$svc/imaplib
n=$svc-py
tm=$(tl_mark)
dm=$(dc_mark "$DC_PLAIN_LOG")
dc_py "$n" "$svc"
is "$RC" 3 "$what: the client gets no OK greeting"
like "$(py_get "$n" greeting)" '^\* BYE \[UNAVAILABLE\] tlshim: ' \
    "$what: the greeting is '* BYE [UNAVAILABLE] tlshim: ...'"
line=$(tl_session "$tm" "service=$svc ")
is "$(kv "$line" protocol)" imap "$what: protocol=imap"
is "$(kv "$line" result)" refused "$what: result=refused"
is "$(kv "$line" starttls_offered)" no "$what: starttls_offered=no"
like "$(kv "$line" reason)" '.' "$what: a reason is logged"
like "$(dc_wait_line "$DC_PLAIN_LOG" "$dm" 'imap-login: .*Disconnected')" \
    "Disconnected.*no auth attempts" \
    "$what: tlshimd did ask the plain Dovecot, and sent no authentication"

what=$svc/curl
n=$svc-curl
rc=0
curl_fetch imap "$TL_IP" "${LPORT[$svc]}" "$n" >/dev/null || rc=$?
is "$([ "$rc" != 0 ] && echo failed || echo "exit 0")" failed "$what: curl fails"
like "$(curl_greeting "$n")" '^\* BYE \[UNAVAILABLE\] tlshim: ' \
    "$what: curl got '* BYE [UNAVAILABLE] tlshim: ...'"
what=$svc/fetchmail
n=$svc-fm
rc=0
fm_fetch IMAP "$TL_IP" "${LPORT[$svc]}" "$n" >/dev/null || rc=$?
like "$rc" '^[1-9]' "$what: fetchmail fails (exit $rc)"
check "$what: nothing was fetched" test ! -s "$LAB_TMP/out/$n.fetchmail"

# may: plaintext relay, but tlshimd answers LOGIN and AUTHENTICATE itself.
svc=plain-may
for auth in login login-literal login-sync-literal plain plain-ir; do
	what=$svc/imaplib-$auth
	n=$svc-py-$auth
	tm=$(tl_mark)
	dc_py "$n" "$svc" --auth "$auth"
	is "$RC" 4 "$what: the login is refused"
	like "$(py_get "$n" login)" '^NO \[[A-Z-]+\] tlshim: ' \
	    "$what: answered 'NO [CODE] tlshim: ...' ($(py_get "$n" login | cut -c1-40))"
	line=$(tl_session "$tm" "service=$svc ")
	is "$(kv "$line" protocol)/$(kv "$line" result)/$(kv "$line" starttls_offered)/$(kv "$line" auth)" \
	    imap/plaintext/no/none "$what: protocol=imap result=plaintext starttls_offered=no auth=none"
	if [ "$auth" = login ]; then
		like "$(py_get "$n" greeting)" '^\* OK' "$what: the client was greeted OK"
		# RFC 3501 6.2.3: a client must not send LOGIN then.
		like "$(py_get "$n" greeting)" 'LOGINDISABLED' \
		    "$what: the greeting shows LOGINDISABLED"
		unlike "$(py_get "$n" greeting)" 'AUTH=' \
		    "$what: the greeting offers no AUTH= mechanism"
	fi
done
what=$svc/curl
n=$svc-curl
rc=0
curl_fetch imap "$TL_IP" "${LPORT[$svc]}" "$n" >/dev/null || rc=$?
is "$([ "$rc" != 0 ] && echo failed || echo "exit 0")" failed "$what: curl cannot log in"
check "$what: nothing was fetched" test ! -s "$LAB_TMP/out/$n.curl"
what=$svc/fetchmail
n=$svc-fm
rc=0
fm_fetch IMAP "$TL_IP" "${LPORT[$svc]}" "$n" >/dev/null || rc=$?
like "$rc" '^[1-9]' "$what: fetchmail cannot log in (exit $rc)"
check "$what: nothing was fetched" test ! -s "$LAB_TMP/out/$n.fetchmail"

dc_plain_checks "$pm"

# cleartext_auth = yes: the login is relayed, in plaintext, and said so.
svc=plain-cleartext
what=$svc/imaplib
n=$svc-py
tm=$(tl_mark)
dm=$(dc_mark "$DC_PLAIN_LOG")
dc_py "$n" "$svc"
is "$RC" 0 "$what: logs in and fetches the message in plaintext"
[ "$RC" = 0 ] || diag_file "$LAB_TMP/out/$n.py" 20
fetched_checks "$what" "$LAB_TMP/out/$n.eml" "$MSG"
dc_login_checks "$what" "$dm" plain
line=$(tl_session "$tm" "service=$svc ")
tl_common_session_checks "$line" "$what" "$svc" "$DC_PLAIN_IP" "$DC_PLAIN_IP" \
    "$DC_PLAIN_IMAP" imap
is "$(kv "$line" result)/$(kv "$line" starttls_offered)/$(kv "$line" auth)" \
    plaintext/no/none "$what: result=plaintext starttls_offered=no auth=none"
is "$(kv "$line" tls_version)" "" "$what: no tls_version"
what=$svc/curl
n=$svc-curl
check "$what: curl fetches the message in plaintext" \
    curl_fetch imap "$TL_IP" "${LPORT[$svc]}" "$n"
fetched_checks "$what" "$LAB_TMP/out/$n.curl" "$MSG"

# --------------------------------------------------------------- the end

dc_relay_finish
done_testing
