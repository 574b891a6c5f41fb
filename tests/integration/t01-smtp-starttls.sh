#!/bin/bash
# t01-smtp-starttls.sh - outbound SMTP through tlshimd to a real Postfix
# that offers STARTTLS: security may, encrypt and verify, the upstream
# named by IP literal and by "localhost", swaks and smtplib as the legacy
# clients.  Every message must arrive in the Maildir, through TLS, and
# tlshimd's session line must say so.  A client that tries STARTTLS itself
# gets tlshimd's 5xx and never sees STARTTLS advertised.
. "$(dirname "$0")/lib.sh"

lab_init
pki_make
pf_start
lab_direct_check

conf=$LAB_TMP/t01.conf
tl_conf_global "$conf"
lab_ports 8
set -- $PORTS
declare -A LPORT PEER ADDR UPORT
i=0
for lev in may encrypt verify; do
	for up in ip lh; do
		i=$((i + 1))
		svc=$lev-$up
		LPORT[$svc]=${!i}
		if [ $up = ip ]; then
			PEER[$svc]=$LAB_IP ADDR[$svc]=$LAB_IP UPORT[$svc]=$PF_GOOD
		else
			PEER[$svc]=localhost ADDR[$svc]=127.0.0.1 UPORT[$svc]=$PF_LOCAL
		fi
		tl_conf_service "$conf" "$svc" "${LPORT[$svc]}" \
		    "${PEER[$svc]}:${UPORT[$svc]}" "$lev"
	done
done
# The self-signed (untrusted) certificate under may and encrypt.
for lev in may encrypt; do
	i=$((i + 1))
	svc=$lev-untrusted
	LPORT[$svc]=${!i}
	PEER[$svc]=$LAB_IP ADDR[$svc]=$LAB_IP UPORT[$svc]=$PF_UNTRUSTED
	tl_conf_service "$conf" "$svc" "${LPORT[$svc]}" "$LAB_IP:$PF_UNTRUSTED" "$lev"
done

check "tlshimd -t accepts the test configuration" "$TLSHIMD" -t -c "$conf"
check "tlshimd starts and listens" tl_start "$conf"

# deliver SERVICE CLIENT AUTH [ARGS] - one message through SERVICE with
# CLIENT (swaks|py), checked end to end
deliver() {
	local svc=$1 client=$2 want_auth=$3 tm pm line what
	shift 3
	what="$svc/$client"
	tm=$(tl_mark)
	new_id "$svc-$client"
	if [ "$client" = swaks ]; then
		check "$what: swaks delivers through tlshimd" \
		    swaks_send "$LAB_IP" "${LPORT[$svc]}" "$ID" "$@"
	else
		check "$what: smtplib delivers through tlshimd" \
		    py_send "$LAB_IP" "${LPORT[$svc]}" "$ID" "$@"
	fi
	delivery_checks "$what" "$ID" "$CHECK_RC"
	line=$(tl_session "$tm" "service=$svc ")
	tl_common_session_checks "$line" "$what" "$svc" "${PEER[$svc]}" \
	    "${ADDR[$svc]}" "${UPORT[$svc]}"
	is "$(kv "$line" result)" tls "$what: result=tls"
	is "$(kv "$line" starttls_offered)" yes "$what: starttls_offered=yes"
	like "$(kv "$line" tls_version)" '^TLS1\.[23]$' "$what: tls_version TLS1.x"
	like "$(kv "$line" cipher)" '.' "$what: cipher logged"
	like "$(kv "$line" auth)" "^($want_auth)\$" "$what: auth=$want_auth"
	DELIVERED_LINE=$line
}

for svc in may-ip may-lh encrypt-ip encrypt-lh; do
	# The certificate is good, but these levels do not ask for it: either
	# word is honest.
	deliver "$svc" swaks 'pkix|untrusted'
	deliver "$svc" py 'pkix|untrusted'
done
deliver verify-ip swaks pkix
deliver verify-ip py pkix --body-kib 1024
like "$(kv "$DELIVERED_LINE" bytes_out)" '^[0-9]{7,}$' \
    "verify-ip/py: bytes_out counts the 1 MiB message"
deliver verify-lh swaks pkix
deliver verify-lh py pkix
deliver may-untrusted py untrusted
deliver encrypt-untrusted swaks untrusted

# The legacy client tries STARTTLS through tlshimd: tlshimd answers 5xx
# itself, Postfix never sees a second STARTTLS, and the EHLO reply the
# client saw (Postfix's, relayed inside TLS) did not list STARTTLS.
for svc in may-ip verify-lh; do
	tm=$(tl_mark)
	pm=$(pf_mark)
	new_id "$svc-probe"
	check "$svc/probe: smtplib session with a STARTTLS attempt delivers" \
	    py_send "$LAB_IP" "${LPORT[$svc]}" "$ID" --starttls-probe
	like "$(py_get "$ID" greeting)" '^220 shim\.tlshim\.test ESMTP tlshim' \
	    "$svc/probe: greeting is tlshimd's own"
	like "$(py_get "$ID" ehlo)" '^250 mx\.tlshim\.test' \
	    "$svc/probe: EHLO reply is Postfix's, relayed"
	kws=$(sed -n 's/^ehlo_keyword=//p' "$LAB_TMP/out/$ID.py" | tr '\n' ' ')
	like "$kws" 'SIZE' "$svc/probe: EHLO keywords were read ($kws)"
	unlike "$kws" 'STARTTLS' "$svc/probe: EHLO reply does not list STARTTLS"
	like "$(py_get "$ID" starttls)" '^5[0-9][0-9] ' \
	    "$svc/probe: STARTTLS gets a 5xx"
	unlike "$(py_get "$ID" starttls)" 'TLS already active' \
	    "$svc/probe: the 5xx is tlshimd's, not Postfix's"
	delivery_checks "$svc/probe" "$ID" "$CHECK_RC"
	if [ "$svc" = may-ip ]; then listener=good; else listener=local; fi
	disc=$(pf_disconnect "$pm" "$listener")
	like "$disc" ' starttls=1 ' "$svc/probe: Postfix saw exactly one STARTTLS (tlshimd's)"
	unlike "$disc" 'starttls=[0-9]+/' "$svc/probe: Postfix saw no failed STARTTLS"
	like "$disc" ' ehlo=2 .* data=1 ' "$svc/probe: Postfix saw both EHLOs and the DATA"
	line=$(tl_session "$tm" "service=$svc ")
	is "$(kv "$line" result)" tls "$svc/probe: result=tls"
done

tl_final_checks
done_testing
