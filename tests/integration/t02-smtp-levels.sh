#!/bin/bash
# t02-smtp-levels.sh - what each security level does when the upstream
# cannot give it what it wants: no STARTTLS at all, a certificate for the
# wrong name, a self-signed one; and cleartext AUTH.  Refusals must reach
# the legacy client as "421 4.7.0 tlshim: ..." with nothing delivered and
# result=refused; what is allowed must be delivered and logged for what
# it was.
. "$(dirname "$0")/lib.sh"

lab_init
pki_make
pf_start

conf=$LAB_TMP/t02.conf
tl_conf_global "$conf"
lab_ports 11
tl_add "$conf" may-plain "$LAB_IP:$PF_PLAIN" may
tl_add "$conf" encrypt-plain "$LAB_IP:$PF_PLAIN" encrypt
tl_add "$conf" verify-wrong "$LAB_IP:$PF_WRONG" verify
tl_add "$conf" verify-untrusted "$LAB_IP:$PF_UNTRUSTED" verify
tl_add "$conf" encrypt-untrusted "$LAB_IP:$PF_UNTRUSTED" encrypt
tl_add "$conf" may-wrong "$LAB_IP:$PF_WRONG" may
tl_add "$conf" auth-smtp "$LAB_IP:$PF_PLAIN" may
tl_add "$conf" auth-submission "$LAB_IP:$PF_PLAIN" may protocol=submission
tl_add "$conf" auth-allowed "$LAB_IP:$PF_PLAIN" may cleartext_auth=yes
tl_add "$conf" auth-allowed-sub "$LAB_IP:$PF_PLAIN" may protocol=submission \
    cleartext_auth=yes
tl_add "$conf" none-good "$LAB_IP:$PF_GOOD" none

check "tlshimd -t accepts the test configuration" "$TLSHIMD" -t -c "$conf"
check "tlshimd starts and listens" tl_start "$conf"

# --- may without STARTTLS: plaintext, and said so
for client in swaks py; do
	svc=may-plain what=may-plain/$client
	tm=$(tl_mark)
	new_id "$svc-$client"
	if [ $client = swaks ]; then
		check "$what: swaks delivers" swaks_send "$LAB_IP" "${LPORT[$svc]}" "$ID"
	else
		check "$what: smtplib delivers" py_send "$LAB_IP" "${LPORT[$svc]}" "$ID"
	fi
	delivery_checks "$what" "$ID" "$CHECK_RC" plain
	line=$(tl_session "$tm" "service=$svc ")
	tl_common_session_checks "$line" "$what" "$svc" "$LAB_IP" "$LAB_IP" "$PF_PLAIN"
	is "$(kv "$line" result)" plaintext "$what: result=plaintext"
	is "$(kv "$line" starttls_offered)" no "$what: starttls_offered=no"
	is "$(kv "$line" auth)" none "$what: auth=none"
	is "$(kv "$line" tls_version)" "" "$what: no tls_version"
done

# refused SERVICE LISTENER [REASON_ERE...] - the client is refused with
# 421 4.7.0 before anything reaches Postfix's queue; sets LINE
refused() {
	local svc=$1 listener=$2 what="$1/refused" pm re disc
	shift 2
	pm=$(pf_mark)
	refused_checks "$what" "$svc"
	is "$(kv "$LINE" result)" refused "$what: result=refused"
	like "$(kv "$LINE" reason)" '.' "$what: a reason is logged"
	for re in "$@"; do
		like "$(kv "$LINE" reason)" "$re" "$what: reason matches /$re/"
	done
	disc=$(pf_disconnect "$pm" "$listener")
	like "$disc" 'disconnect from' "$what: Postfix saw tlshimd's session end"
	unlike "$disc" ' (mail|rcpt|data|auth)=' "$what: Postfix saw no MAIL, RCPT, DATA or AUTH"
}

# --- encrypt without STARTTLS: refused
refused encrypt-plain plain
is "$(kv "$LINE" starttls_offered)" no "encrypt-plain: starttls_offered=no"
new_id encrypt-plain-swaks
rc=0
swaks_send "$LAB_IP" "${LPORT[encrypt-plain]}" "$ID" >/dev/null || rc=$?
like "$(grep '^<\*\* ' "$LAB_TMP/out/$ID.swaks" | head -n 1)" '^<\*\* 421 4\.7\.0 tlshim: ' \
    "encrypt-plain/swaks: swaks is refused with 421 4.7.0"
check "encrypt-plain/swaks: nothing delivered" not_delivered "$ID"

# --- verify with the wrong name: refused, and the reason says which name
refused verify-wrong wrong "$LAB_IP" '[Nn]ame'
like "$(kv "$LINE" starttls_offered)" yes "verify-wrong: starttls_offered=yes"

# --- verify with a certificate from an unknown issuer: refused
refused verify-untrusted untrusted

# --- encrypt accepts the self-signed certificate, but does not trust it
svc=encrypt-untrusted what=encrypt-untrusted/py
tm=$(tl_mark)
new_id "$svc"
check "$what: smtplib delivers" py_send "$LAB_IP" "${LPORT[$svc]}" "$ID"
delivery_checks "$what" "$ID" "$CHECK_RC"
line=$(tl_session "$tm" "service=$svc ")
tl_common_session_checks "$line" "$what" "$svc" "$LAB_IP" "$LAB_IP" "$PF_UNTRUSTED"
is "$(kv "$line" result)/$(kv "$line" auth)" tls/untrusted "$what: result=tls auth=untrusted"

# --- may does not check names either: TLS, not authenticated
svc=may-wrong what=may-wrong/py
tm=$(tl_mark)
new_id "$svc"
check "$what: smtplib delivers" py_send "$LAB_IP" "${LPORT[$svc]}" "$ID"
delivery_checks "$what" "$ID" "$CHECK_RC"
line=$(tl_session "$tm" "service=$svc ")
is "$(kv "$line" result)/$(kv "$line" auth)" tls/untrusted "$what: result=tls auth=untrusted"

# --- cleartext AUTH: refused by tlshimd itself unless cleartext_auth = yes
for svc in auth-smtp auth-submission; do
	what=$svc/cleartext-auth
	pm=$(pf_mark)
	new_id "$svc"
	check "$what: smtplib session runs (EHLO, AUTH PLAIN, QUIT)" \
	    py_send "$LAB_IP" "${LPORT[$svc]}" "$ID" --auth-plain --no-mail
	like "$(py_get "$ID" auth)" '^538 ' "$what: AUTH PLAIN in cleartext gets 538"
	unlike "$(py_get "$ID" auth)" 'authentication not enabled' \
	    "$what: the 538 is tlshimd's, not Postfix's"
	disc=$(pf_disconnect "$pm" plain)
	like "$disc" ' ehlo=[0-9]+ .*quit=1 ' "$what: the session reached Postfix (EHLO and QUIT relayed)"
	unlike "$disc" 'auth=' "$what: Postfix never saw an AUTH command"
	if grep -F 'dGVzdHVzZXIAdGVzdHBhc3N3b3Jk' "$LAB_TMP"/tlshimd.*.log >/dev/null; then
		fail "$what: the credentials are not in tlshimd's log"
	else
		pass "$what: the credentials are not in tlshimd's log"
	fi
done
for svc in auth-allowed auth-allowed-sub; do
	what=$svc/cleartext-auth-yes
	pm=$(pf_mark)
	new_id "$svc"
	check "$what: smtplib session runs (EHLO, AUTH PLAIN, QUIT)" \
	    py_send "$LAB_IP" "${LPORT[$svc]}" "$ID" --auth-plain --no-mail
	like "$(py_get "$ID" auth)" '^503 5\.5\.1 Error: authentication not enabled' \
	    "$what: AUTH is relayed, and answered by Postfix (no SASL there)"
	disc=$(pf_disconnect "$pm" plain)
	like "$disc" ' auth=0/1 ' "$what: Postfix saw the AUTH command"
done

# --- none: plaintext even though the server offers STARTTLS, and the
# client is not offered STARTTLS either (tlshimd filters Postfix's EHLO)
svc=none-good what=none-good/py
tm=$(tl_mark)
pm=$(pf_mark)
new_id "$svc"
check "$what: smtplib session with a STARTTLS attempt delivers" \
    py_send "$LAB_IP" "${LPORT[$svc]}" "$ID" --starttls-probe
kws=$(sed -n 's/^ehlo_keyword=//p' "$LAB_TMP/out/$ID.py" | tr '\n' ' ')
like "$kws" 'SIZE' "$what: EHLO keywords were read ($kws)"
unlike "$kws" 'STARTTLS' "$what: EHLO reply does not list STARTTLS"
like "$(py_get "$ID" starttls)" '^5[0-9][0-9] ' "$what: STARTTLS gets a 5xx from tlshimd"
delivery_checks "$what" "$ID" "$CHECK_RC" plain
disc=$(pf_disconnect "$pm" good)
like "$disc" ' data=1 ' "$what: Postfix saw the DATA"
unlike "$disc" 'starttls' "$what: Postfix saw no STARTTLS at all"
line=$(tl_session "$tm" "service=$svc ")
is "$(kv "$line" result)" plaintext "$what: result=plaintext"
is "$(kv "$line" auth)" none "$what: auth=none"

tl_final_checks
done_testing
