#!/bin/bash
# t04-daemon.sh - tlshimd as a daemon: -t and -V, configuration errors as
# "file:line: message" with exit 78, SIGHUP reload (new listeners appear,
# removed ones close, a broken file keeps the old configuration, and a
# session open across the reload still delivers), and SIGTERM (stop
# accepting, let the open session finish, exit 0).
. "$(dirname "$0")/lib.sh"

lab_init
pki_make
pf_start

lab_ports 3
set -- $PORTS
P1=$1 P2=$2 P3=$3
conf=$LAB_TMP/t04.conf

# ---------------------------------------------------------------- -t, -V

good=$LAB_TMP/good.conf
tl_conf_global "$good"
tl_conf_service "$good" first "$P1" "$LAB_IP:$PF_GOOD" verify
check "tlshimd -t -c good.conf exits 0" "$TLSHIMD" -t -c "$good"

# badconf NAME LINE-TEXT... - a copy of good.conf with LINE-TEXT appended
# to the service section; prints the number of the line that is wrong
badconf() {
	local f=$LAB_TMP/$1.conf
	shift
	cp "$good" "$f"
	printf '%s\n' "$@" >>"$f"
	wc -l <"$f" | tr -d ' '
}

# conf_error NAME LINE ERE DESC - tlshimd -t on NAME.conf exits 78 and
# says "NAME.conf:LINE: ..." matching ERE
conf_error() {
	local f=$LAB_TMP/$1.conf rc=0 out
	out=$("$TLSHIMD" -t -c "$f" 2>&1) || rc=$?
	is "$rc" 78 "$4: tlshimd -t exits 78"
	like "$out" "^$f:$2: " "$4: message starts with FILE:$2:"
	like "$out" "$3" "$4: message says what is wrong"
	[ "$rc" = 78 ] || diag "output: $out"
}

# editconf NAME SED-EXPR ERE - NAME.conf is good.conf through SED-EXPR;
# prints the number of the first line matching ERE in it
editconf() {
	sed "$2" "$good" >"$LAB_TMP/$1.conf"
	grep -nE -- "$3" "$LAB_TMP/$1.conf" | head -n 1 | cut -d: -f1
}

line=$(badconf unknown-key 'frobnicate = yes')
conf_error unknown-key "$line" frobnicate "unknown key"
line=$(editconf bad-level 's/^security = verify$/security = paranoid/' '^security')
conf_error bad-level "$line" paranoid "bad security level"
line=$(editconf bad-time 's/^connect_timeout = .*/connect_timeout = soon/' '^connect_timeout')
conf_error bad-time "$line" 'connect_timeout|soon' "bad time value"
line=$(editconf bad-proto 's/^protocol = smtp$/protocol = gopher/' '^protocol')
conf_error bad-proto "$line" gopher "unknown protocol"
# An unknown key in [global], near the top of the file.
f=$LAB_TMP/global-key.conf
{ sed -n '1,3p' "$good"; echo 'colour = blue'; sed -n '4,$p' "$good"; } >"$f"
conf_error global-key 4 colour "unknown key in [global]"
# A CA file that does not exist: reported at the line that names it.
f=$LAB_TMP/no-ca.conf
sed "s|^ca_file = .*|ca_file = $LAB_TMP/no-such-ca.pem|" "$good" >"$f"
conf_error no-ca "$(grep -n '^ca_file' "$f" | cut -d: -f1)" 'no-such-ca' "missing ca_file"

rc=0
out=$(timeout 10 "$TLSHIMD" -c "$LAB_TMP/unknown-key.conf" -f 2>&1) || rc=$?
is "$rc" 78 "tlshimd -f with a bad configuration exits 78 at once"

want=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' \
    "${top_srcdir:-$LAB_HERE/../..}/configure.ac")
rc=0
out=$("$TLSHIMD" -V 2>&1) || rc=$?
is "$rc" 0 "tlshimd -V exits 0"
like "$out" "^tlshimd ${want:-[0-9]+\.[0-9]+}" "tlshimd -V prints its version ($out)"

# ------------------------------------------------------------- SIGHUP

cp "$good" "$conf"
check "tlshimd starts with one service" tl_start "$conf"

# Workers share their listeners (SO_REUSEPORT), but another daemon on the
# same address must still fail instead of silently sharing the port.
second_daemon() {
	local out rc=0
	out=$(timeout 10 "$TLSHIMD" -f -c "$conf" 2>&1) || rc=$?
	[ "$rc" = 71 ] && printf '%s' "$out" | grep -q "address already in use"
}
check "a second tlshimd on the same address exits 71, address in use" second_daemon
check "the log says how many workers run" grep -qE "started with .*, [0-9]+ workers?" "$TL_LOG"

# Session A: connected through [first], EHLO done, then waits for the
# go-file while tlshimd reloads around it.
new_id open-across-reload
ID_A=$ID
tm_a=$(tl_mark)
py_send_bg "$LAB_IP" "$P1" "$ID_A" --ready-file "$LAB_TMP/a.ready" \
    --go-file "$LAB_TMP/a.go" --go-timeout 40
PID_A=$LAB_BG_PID
check "session A is open (greeting and EHLO done)" wait_file "$LAB_TMP/a.ready" 10 "$PID_A"

# reload FILE - install FILE as the configuration and send SIGHUP
reload() {
	cp "$1" "$conf.new"
	mv "$conf.new" "$conf"
	kill -HUP "$TL_PID" 2>/dev/null || diag "tlshimd is not running: no SIGHUP sent"
}

two=$LAB_TMP/two.conf
cp "$good" "$two"
tl_conf_service "$two" second "$P2" "localhost:$PF_LOCAL" verify
reload "$two"
check "after SIGHUP, the new service listens" wait_listen "$LAB_IP" "$P2" 10 "$TL_PID"
check "tlshimd is still running after SIGHUP" tl_alive

# send_via PORT SERVICE CLIENT WHAT - deliver one message and check it
send_via() {
	local tm line
	tm=$(tl_mark)
	new_id "$2"
	if [ "$3" = swaks ]; then
		check "$4: swaks delivers" swaks_send "$LAB_IP" "$1" "$ID"
	else
		check "$4: smtplib delivers" py_send "$LAB_IP" "$1" "$ID"
	fi
	delivery_checks "$4" "$ID" "$CHECK_RC"
	line=$(tl_session "$tm" "service=$2 ")
	is "$(kv "$line" result)/$(kv "$line" auth)" tls/pkix "$4: result=tls auth=pkix"
}

send_via "$P2" second swaks "new service after reload"
send_via "$P1" first py "old service after reload"

# A broken file: the reload is refused, the running configuration stays.
bad=$LAB_TMP/broken.conf
sed '$s/$/\nsecurity_level_typo = paranoid/' "$two" >"$bad"
reload "$bad"
sleep 1
check "a broken file on SIGHUP does not stop tlshimd" tl_alive
check "the old services still listen" wait_listen "$LAB_IP" "$P2" 1 "$TL_PID"
like "$(grep -c 'security_level_typo' "$TL_LOG")" '^[1-9]' "the reload error is logged"
send_via "$P1" first swaks "old service after a failed reload"

# Session A goes on now, after two reloads.
touch "$LAB_TMP/a.go"
py_wait "$PID_A" 30
is "$PY_RC" 0 "session A (open across the reloads) delivers"
delivery_checks "session A" "$ID_A" "$PY_RC"
line=$(tl_session "$tm_a" "service=first .*client=127\.0\.0\.1:$(py_get "$ID_A" local | sed 's/.*://') ")
is "$(kv "$line" result)" tls "session A: logged with result=tls"

# A reload that removes a service closes its listener.
only2=$LAB_TMP/only-second.conf
tl_conf_global "$only2"
tl_conf_service "$only2" second "$P2" "localhost:$PF_LOCAL" verify
reload "$only2"
check "a service removed by SIGHUP stops listening" wait_closed "$LAB_IP" "$P1" 10
send_via "$P2" second py "remaining service after a removal"

# ------------------------------------------------------------- SIGTERM

new_id open-across-term
ID_B=$ID
tm_b=$(tl_mark)
py_send_bg "$LAB_IP" "$P2" "$ID_B" --ready-file "$LAB_TMP/b.ready" \
    --go-file "$LAB_TMP/b.go" --go-timeout 40
PID_B=$LAB_BG_PID
check "session B is open (greeting and EHLO done)" wait_file "$LAB_TMP/b.ready" 10 "$PID_B"
kill -TERM "$TL_PID" 2>/dev/null || diag "tlshimd is not running: no SIGTERM sent"
check "after SIGTERM, tlshimd stops listening" wait_closed "$LAB_IP" "$P2" 10
not_connectable() { ! lab_tool connect "$1" "$2" --timeout 2; }
check "after SIGTERM, a new connection is refused" not_connectable "$LAB_IP" "$P2"
check "with session B open, tlshimd keeps running" tl_alive
touch "$LAB_TMP/b.go"
py_wait "$PID_B" 30
is "$PY_RC" 0 "session B (open across SIGTERM) delivers"
delivery_checks "session B" "$ID_B" "$PY_RC"
tl_wait_exit 15
is "$TL_RC" 0 "tlshimd exits 0 once session B is done"
line=$(tl_session "$tm_b" "service=second " 1)
is "$(kv "$line" result)" tls "session B: logged with result=tls"

tl_sanitizer_check "no sanitizer reports in tlshimd's log"
done_testing
