#!/bin/bash
# t03-smtp-implicit.sh - tls = implicit: tlshimd handshakes as soon as it
# is connected (like port 465) to a Postfix in smtpd_tls_wrappermode, and
# relays the plaintext client inside that TLS.  An implicit-TLS service
# pointed at a plaintext server must refuse, never fall back.
. "$(dirname "$0")/lib.sh"

lab_init
pki_make
pf_start

conf=$LAB_TMP/t03.conf
tl_conf_global "$conf"
lab_ports 4
tl_add "$conf" implicit-verify "$LAB_IP:$PF_SMTPS" verify tls=implicit
tl_add "$conf" implicit-encrypt "$LAB_IP:$PF_SMTPS" encrypt tls=implicit
tl_add "$conf" implicit-may "$LAB_IP:$PF_SMTPS" may tls=implicit
tl_add "$conf" implicit-to-plain "$LAB_IP:$PF_PLAIN" encrypt tls=implicit

check "tlshimd -t accepts the test configuration" "$TLSHIMD" -t -c "$conf"
check "tlshimd starts and listens" tl_start "$conf"

# deliver SERVICE CLIENT AUTH_ERE - one message, checked end to end
deliver() {
	local svc=$1 client=$2 want_auth=$3 what="$1/$2" tm pm line disc
	tm=$(tl_mark)
	pm=$(pf_mark)
	new_id "$svc-$client"
	if [ "$client" = swaks ]; then
		check "$what: swaks delivers through tlshimd" \
		    swaks_send "$LAB_IP" "${LPORT[$svc]}" "$ID"
	else
		check "$what: smtplib delivers through tlshimd" \
		    py_send "$LAB_IP" "${LPORT[$svc]}" "$ID" --starttls-probe --body-kib 256
		like "$(py_get "$ID" greeting)" '^220 shim\.tlshim\.test ESMTP tlshim' \
		    "$what: greeting is tlshimd's own"
		like "$(py_get "$ID" starttls)" '^5[0-9][0-9] ' \
		    "$what: the client's STARTTLS gets a 5xx"
	fi
	delivery_checks "$what" "$ID" "$CHECK_RC"
	disc=$(pf_disconnect "$pm" smtps)
	like "$disc" ' data=1 ' "$what: Postfix (wrappermode) saw the DATA"
	unlike "$disc" 'starttls' "$what: Postfix saw no STARTTLS: TLS was implicit"
	line=$(tl_session "$tm" "service=$svc ")
	tl_common_session_checks "$line" "$what" "$svc" "$LAB_IP" "$LAB_IP" "$PF_SMTPS"
	is "$(kv "$line" result)" tls "$what: result=tls"
	like "$(kv "$line" tls_version)" '^TLS1\.[23]$' "$what: tls_version TLS1.x"
	like "$(kv "$line" auth)" "^($want_auth)\$" "$what: auth=$want_auth"
}

deliver implicit-verify swaks pkix
deliver implicit-verify py pkix
deliver implicit-encrypt swaks 'pkix|untrusted'
deliver implicit-may py 'pkix|untrusted'

# Implicit TLS towards a server that speaks plaintext: the handshake
# cannot succeed, and tlshimd must refuse rather than relay in the clear.
what=implicit-to-plain
refused_checks "$what" implicit-to-plain
like "$(kv "$LINE" result)" '^(refused|failed)$' "$what: result=refused or failed"
like "$(kv "$LINE" reason)" '.' "$what: a reason is logged"

tl_final_checks
done_testing
