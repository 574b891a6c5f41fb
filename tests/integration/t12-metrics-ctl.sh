#!/bin/bash
# t12-metrics-ctl.sh - the metrics page and the control socket of a
# tlshimd that drops privileges to a user of its own: curl scrapes
# /metrics and the counters move as real sessions through Postfix happen
# (one relayed in TLS, one refused for want of STARTTLS), an open session
# shows as active; other paths and methods get 404 and 405; `tlshim ctl
# status|stats` print JSON with the same numbers; `tlshim ctl reload`
# applies an edited file and reports a broken one; the socket is 0600 and
# the daemon's, so nobody else gets in; a stale socket left by a killed
# daemon does not stop the next one.
. "$(dirname "$0")/lib.sh"

lab_init postfix postconf swaks certtool curl setpriv stat
pki_make
pf_start

tlshim_find need
# The daemon's user: neither root nor nobody (who plays the outsider).
DUSER=daemon
id -u "$DUSER" >/dev/null 2>&1 || skip_all "no user $DUSER"
id -u nobody >/dev/null 2>&1 || skip_all "no user nobody"
# Both must reach the tools and the configuration as themselves.
for _u in "$DUSER" nobody; do
	setpriv --reuid "$_u" --regid "$(id -g "$_u")" --clear-groups \
	    test -x "$TLSHIM" || skip_all "$_u cannot run $TLSHIM"
done

lab_ports 4
set -- $PORTS
P_TLS=$1 P_REF=$2 P_NEW=$3 P_MET=$4
conf=$LAB_TMP/t12.conf
good=$LAB_TMP/good.conf
sock=$LAB_TMP/run/ctl.sock
MURL=http://$LAB_IP:$P_MET/metrics

tl_conf_global "$good" "user=$DUSER" "metrics_listen=$LAB_IP:$P_MET" \
    "control_socket=$sock" "workers=2"
tl_conf_service "$good" tls-out "$P_TLS" "$LAB_IP:$PF_GOOD" verify
tl_conf_service "$good" refuse-out "$P_REF" "$LAB_IP:$PF_PLAIN" encrypt
cp "$good" "$conf"
chmod 644 "$conf"
# The posture store writes here as the daemon's user.
chown -R "$DUSER" "$LAB_TMP/state"

# ctl [AS-USER] ARGS... - `tlshim ctl -c $conf ARGS`, as root or AS-USER
# (a name); stdout in OUT, stderr in ERR, exit status in RC
ctl() {
	local pre=()
	case $1 in
	-u) pre=(setpriv --reuid "$2" --regid "$(id -g "$2")" --clear-groups)
	    shift 2 ;;
	esac
	RC=0
	"${pre[@]}" "$TLSHIM" ctl -c "$conf" "$@" >"$LAB_TMP/ctl.out" \
	    2>"$LAB_TMP/ctl.err" || RC=$?
	OUT=$(cat "$LAB_TMP/ctl.out")
	ERR=$(cat "$LAB_TMP/ctl.err")
}

# jq_py EXPR - evaluate a Python expression over the JSON in $OUT (as j)
jq_py() {
	printf '%s' "$OUT" | "$LAB_PYTHON" -I -c '
import json, sys
j = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1" 2>&1
}

# scrape - the metrics page in $LAB_TMP/metrics
scrape() {
	curl -s --max-time 5 -o "$LAB_TMP/metrics" "$MURL"
}

# metric SAMPLE - the value of one sample (name and labels, as printed)
metric() {
	awk -v k="$1" '$1 == k { print $2 }' "$LAB_TMP/metrics"
}

S_TLS='tlshim_sessions_total{protocol="smtp",direction="outbound",result="tls"}'
S_REF='tlshim_sessions_total{protocol="smtp",direction="outbound",result="refused"}'
C_NOTLS='tlshim_refusals_total{cause="no-tls"}'
A_PKIX='tlshim_auth_total{auth="pkix"}'
ACT_TLS='tlshim_active_sessions{service="tls-out"}'

check "tlshimd starts as $DUSER with metrics and a control socket" tl_start "$conf"
check "metrics_listen accepts" wait_listen "$LAB_IP" "$P_MET" 10 "$TL_PID"
check "the log names the metrics page" grep -q "metrics on $MURL" "$TL_LOG"

# ------------------------------------------------------- the socket file

is "$(stat -c '%F %a %U' "$sock")" "socket 600 $DUSER" \
    "the control socket is a socket, mode 0600, owned by $DUSER"
is "$(stat -c '%U' "$LAB_TMP/run")" "$DUSER" \
    "the folder tlshimd made for it belongs to $DUSER"

# ---------------------------------------------------------- /metrics

hdr=$(curl -s --max-time 5 -D - -o "$LAB_TMP/metrics" "$MURL" | tr -d '\r')
like "$hdr" '^HTTP/1\.1 200 ' "GET /metrics: 200"
like "$hdr" 'Content-Type: text/plain; version=0\.0\.4' \
    "GET /metrics: Prometheus text format 0.0.4"
like "$hdr" 'Connection: close' "GET /metrics: Connection: close"
check "the page has HELP and TYPE for the session counter" \
    grep -qx '# TYPE tlshim_sessions_total counter' "$LAB_TMP/metrics"
is "$(metric "$S_TLS")" 0 "no TLS session counted yet"
is "$(metric "$ACT_TLS")" 0 "tls-out: no active session yet"
check "no sample line outside the format" "$LAB_PYTHON" -I -c '
import re, sys
label = r"[a-z_]+=\"([^\"\\]|\\.)*\""
pat = re.compile(r"^(# (HELP|TYPE) tlshim_[a-z_]+ .+|tlshim_[a-z_]+"
    r"(\{" + label + "(," + label + r")*\})? [0-9]+)$")
bad = [l for l in open(sys.argv[1]).read().splitlines() if not pat.match(l)]
print("\n".join(bad)); sys.exit(1 if bad else 0)' "$LAB_TMP/metrics"

code() {	# code CURL-ARGS... - the HTTP status only
	curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"
}
is "$(code "http://$LAB_IP:$P_MET/")" 404 "GET /: 404"
is "$(code "http://$LAB_IP:$P_MET/metrics/x")" 404 "GET /metrics/x: 404"
is "$(code -X POST -d x=1 "$MURL")" 405 "POST /metrics: 405"
is "$(code -X DELETE "$MURL")" 405 "DELETE /metrics: 405"
is "$(code -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$MURL")" 431 \
    "a request head over 8 KiB: 431"

# A client that never finishes its request is answered 408 and cut off
# after 5 seconds; meanwhile others are served.
slow() {
	"$LAB_PYTHON" -I -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
t = time.monotonic()
s.settimeout(15)
got = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    got += d
print(got.split(b"\r\n")[0].decode(), round(time.monotonic() - t))
' "$LAB_IP" "$P_MET"
}
slow >"$LAB_TMP/slow.out" 2>&1 &
SLOW=$!
lab_track "$SLOW"
sleep 1
check "a scrape is served while a slow client waits" scrape
py_wait "$SLOW" 20
like "$(cat "$LAB_TMP/slow.out")" '^HTTP/1\.1 408 Request Timeout [4-6]$' \
    "an unfinished request: 408 and closed after 5 s"

# ------------------------------------------------ counters move with sessions

scrape
tls0=$(metric "$S_TLS") pkix0=$(metric "$A_PKIX")
out0=$(metric tlshim_bytes_out_total)
tm=$(tl_mark)
new_id tls
check "a message through tls-out (verify) is delivered" swaks_send "$LAB_IP" "$P_TLS" "$ID"
delivery_checks "tls-out" "$ID" "$CHECK_RC"
line=$(tl_session "$tm" "service=tls-out ")
is "$(kv "$line" result)/$(kv "$line" auth)" tls/pkix "tls-out: logged result=tls auth=pkix"
tlsv=$(kv "$line" tls_version)
scrape
is "$(metric "$S_TLS")" $((tls0 + 1)) "sessions_total{result=tls} went up by one"
is "$(metric "$A_PKIX")" $((pkix0 + 1)) "auth_total{auth=pkix} went up by one"
is "$(metric "tlshim_handshakes_total{tls_version=\"$tlsv\"}")" 1 \
    "handshakes_total{tls_version=$tlsv} is one"
is "$(metric tlshim_bytes_out_total)" $((out0 + $(kv "$line" bytes_out))) \
    "bytes_out_total went up by the session's bytes_out"

ref0=$(metric "$S_REF") notls0=$(metric "$C_NOTLS")
tm=$(tl_mark)
new_id refused
rc=0
py_send "$LAB_IP" "$P_REF" "$ID" >/dev/null || rc=$?
is "$rc" 3 "refuse-out (encrypt, no STARTTLS): the client gets no greeting"
line=$(tl_session "$tm" "service=refuse-out ")
is "$(kv "$line" result)/$(kv "$line" cause)" refused/no-tls \
    "refuse-out: logged result=refused cause=no-tls"
scrape
is "$(metric "$S_REF")" $((ref0 + 1)) "sessions_total{result=refused} went up by one"
is "$(metric "$C_NOTLS")" $((notls0 + 1)) "refusals_total{cause=no-tls} went up by one"
is "$(metric 'tlshim_refusals_total{cause="dane-mismatch"}')" 0 \
    "refusals_total{cause=dane-mismatch} stayed 0"
is "$(grep -c "$LAB_IP" "$LAB_TMP/metrics")" 0 \
    "no peer address in any label"

# An open session is active; status and /metrics agree.
new_id open
py_send_bg "$LAB_IP" "$P_TLS" "$ID" --ready-file "$LAB_TMP/o.ready" \
    --go-file "$LAB_TMP/o.go" --go-timeout 40
PID_O=$LAB_BG_PID
check "a session is open through tls-out" wait_file "$LAB_TMP/o.ready" 10 "$PID_O"
scrape
is "$(metric "$ACT_TLS")" 1 "active_sessions{service=tls-out} is 1"
ctl status
is "$(jq_py '[s["active_sessions"] for s in j["services"] if s["name"] == "tls-out"]')" \
    "[1]" "ctl status: tls-out has 1 active session"
touch "$LAB_TMP/o.go"
py_wait "$PID_O" 30
is "$PY_RC" 0 "the open session delivers"

# ---------------------------------------------------------- tlshim ctl

ctl status
is "$RC" 0 "ctl status (root): exit 0"
is "$(jq_py 'j["ok"], j["command"], j["pid"], j["workers"]')" \
    "(True, 'status', $TL_PID, 2)" "ctl status: ok, pid, 2 workers"
is "$(jq_py 'j["config"] == "'"$conf"'", j["version"] != "", j["uptime"] >= 0')" \
    "(True, True, True)" "ctl status: config path, version, uptime"
is "$(jq_py 'sorted((s["name"], s["listen"], s["security"])
    for s in j["services"])')" \
    "[('refuse-out', ['$LAB_IP:$P_REF'], 'encrypt'), \
('tls-out', ['$LAB_IP:$P_TLS'], 'verify')]" \
    "ctl status: the services, their listen addresses and levels"
is "$(jq_py 'j["metrics_listen"], j["control_socket"]')" \
    "('$LAB_IP:$P_MET', '$sock')" "ctl status: metrics_listen and control_socket"
like "$(head -n 3 "$LAB_TMP/ctl.out")" '^\{$' "ctl status: printed indented for a person"

ctl stats
scrape
is "$RC" 0 "ctl stats: exit 0"
is "$(jq_py '(j["sessions"]["smtp"]["outbound"]["tls"],
    j["refusals"]["no-tls"], j["bytes_out"])')" \
    "($(metric "$S_TLS"), $(metric "$C_NOTLS"), $(metric tlshim_bytes_out_total))" \
    "ctl stats: the same numbers as /metrics"
is "$(jq_py 'j["active_sessions"]["tls-out"], sorted(j["store"])')" \
    "(0, ['committed_records', 'lost_records', 'queue_depth'])" \
    "ctl stats: active sessions and the store's queue"

ctl --raw stats
is "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 1 "ctl --raw: the JSON on one line"

# Who may use the socket.
ctl -u "$DUSER" status
is "$RC" 0 "ctl status as $DUSER (the daemon's user): exit 0"
ctl -u nobody status
is "$RC" 3 "ctl status as nobody: exit 3"
like "$ERR" 'permission denied' "ctl as nobody: says permission denied"
is "$OUT" "" "ctl as nobody: prints no JSON"
# With the file opened up, the daemon still checks who is calling.
chmod 755 "$LAB_TMP/run"
chmod 666 "$sock"
ctl -u nobody status
is "$RC" 3 "socket opened to all, ctl as nobody: exit 3"
is "$(jq_py 'j["ok"], j["error"]')" "(False, \"permission denied: \
only root and the daemon's user may use the control socket\")" \
    "the daemon answers permission denied (SO_PEERCRED)"
like "$ERR" 'permission denied' "ctl says permission denied"
check "the daemon logs the uid it refused" \
    grep -q "refused a client with uid $(id -u nobody) " "$TL_LOG"
chmod 750 "$LAB_TMP/run"
chmod 600 "$sock"

# ---------------------------------------------------------- ctl reload

cp "$good" "$conf.new"
tl_conf_service "$conf.new" new-out "$P_NEW" "$LAB_IP:$PF_GOOD" verify
mv "$conf.new" "$conf"
ctl reload
is "$RC" 0 "ctl reload after adding a service: exit 0"
is "$(jq_py 'j["ok"], j["applied"]')" "(True, True)" "ctl reload: applied"
check "the new service listens" wait_listen "$LAB_IP" "$P_NEW" 10 "$TL_PID"
ctl status
is "$(jq_py 'sorted(s["name"] for s in j["services"])')" \
    "['new-out', 'refuse-out', 'tls-out']" "ctl status: the new service is there"
tm=$(tl_mark)
new_id after-reload
check "a message through the new service is delivered" py_send "$LAB_IP" "$P_NEW" "$ID"
line=$(tl_session "$tm" "service=new-out ")
is "$(kv "$line" result)" tls "new-out: result=tls"

# A broken file: not applied, and the answer says why.
cp "$conf" "$conf.ok"
echo "colour = blue" >>"$conf"
bad_line=$(wc -l <"$conf" | tr -d ' ')
ctl reload
is "$RC" 3 "ctl reload with a broken file: exit 3"
is "$(jq_py 'j["ok"], j["applied"]')" "(False, False)" "ctl reload: not applied"
like "$(jq_py 'j["error"]')" "t12\.conf:$bad_line: .*colour" \
    "ctl reload: the error names the file, line and key"
like "$ERR" "colour" "ctl reload: stderr says why"
check "tlshimd still runs" tl_alive
check "the services still listen" wait_listen "$LAB_IP" "$P_NEW" 2 "$TL_PID"

# metrics_listen and control_socket take a restart: said in the log.
sed "s|^metrics_listen = .*|metrics_listen = $LAB_IP:1|" "$conf.ok" >"$conf"
ctl reload
is "$RC" 0 "ctl reload with another metrics_listen: applied"
check "the log says metrics_listen waits for a restart" \
    grep -q "metrics_listen changed to '$LAB_IP:1'; it stays '$LAB_IP:$P_MET'" "$TL_LOG"
check "the metrics page stays where it was" scrape
cp "$conf.ok" "$conf"

# ------------------------------------------------------- stop, stale socket

tl_stop
check "after SIGTERM the socket file is gone" test ! -e "$sock"
ctl status
is "$RC" 3 "ctl with tlshimd stopped: exit 3"
like "$ERR" 'not running' "ctl with tlshimd stopped: says it is not running"

check "tlshimd starts again" tl_start "$conf"
check "its control socket answers" "$TLSHIM" ctl -c "$conf" status
kill -KILL "$TL_PID"
py_wait "$TL_PID" 10
lab_untrack "$TL_PID"
check "kill -9 leaves the socket file behind" test -S "$sock"
check "the next tlshimd starts over the stale socket" tl_start "$conf"
check "it says it removed the stale socket" grep -q "removed a stale control socket $sock" "$TL_LOG"
ctl status
is "$RC/$(jq_py 'j["pid"]')" "0/$TL_PID" "ctl status reaches the new daemon"

# A second daemon must not take the socket of a running one.
alt=$LAB_TMP/alt.conf
tl_conf_global "$alt" "control_socket=$sock"
lab_ports 1
tl_conf_service "$alt" other "$PORTS" "$LAB_IP:$PF_GOOD" verify
rc=0
out=$(timeout 10 "$TLSHIMD" -f -c "$alt" 2>&1) || rc=$?
is "$rc" 71 "a second tlshimd with the same control_socket exits 71"
like "$out" "another process answers on it" "and says another process answers on it"
check "the first one's socket still answers" "$TLSHIM" ctl -c "$conf" status

# No control socket configured.
tl_conf_global "$alt"
tl_conf_service "$alt" other "$PORTS" "$LAB_IP:$PF_GOOD" verify
rc=0
out=$("$TLSHIM" ctl -c "$alt" status 2>&1) || rc=$?
is "$rc" 3 "ctl without control_socket in the file: exit 3"
like "$out" 'no control socket configured' "and says none is configured"

tl_final_checks
done_testing
