#!/bin/bash
# smoke.sh - a few seconds of the benchmark tools under `make check`, so
# they cannot rot: the sink, tlshimd in front of it with verification,
# loadgen (short sessions and one message), idle, and stunnel4 with the
# configuration bench/run gives it (skipped if it is not installed).
# Prints TAP; a missing tool is "1..0 # SKIP" and exit 0.  Loopback only;
# every process started here is stopped by its pid at exit.
set -u

top=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
TLSHIMD=${TLSHIMD:-$top/tlshimd}
BIN=${BENCH_BIN:-$top/bench}
STUNNEL=${STUNNEL:-stunnel4}

skip_all() { echo "1..0 # SKIP $*"; exit 0; }
for t in certtool timeout; do
	command -v $t >/dev/null 2>&1 || skip_all "$t not installed"
done
[ -x "$TLSHIMD" ] || skip_all "tlshimd not built"
for p in loadgen sink idle; do
	[ -x "$BIN/$p" ] || skip_all "bench/$p not built"
done

T=$(mktemp -d /tmp/tlshim-bench-smoke.XXXXXX) || { echo "Bail out! mktemp"; exit 99; }
PIDS="" n=0 failed=0
# alive PID - running, not a zombie waiting to be reaped
alive() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}
cleanup() {
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $PIDS; do
		for _ in $(seq 50); do alive "$p" || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "$failed" = 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	else
		echo "# kept $T"
	fi
}
trap cleanup EXIT

ok() {	# ok STATUS DESC [LOG]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		[ -n "${3:-}" ] && [ -e "$3" ] && sed 's/^/# /' "$3" | tail -n 20
	fi
}
kv() { printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2; exit }'; }
listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p="0100007F:$hex" '$2 == p && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp
}
wait_listen() {	# PORT PID
	for _ in $(seq 100); do
		listening "$1" && return 0
		alive "$2" || return 1
		sleep 0.1
	done
	return 1
}
free_port() {
	local p=$1
	while listening "$p"; do p=$((p + 1)); done
	echo "$p"
}

echo "1..9"

(
	set -e
	cd "$T"
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile ca.key
	printf 'cn = "smoke CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >ca.tmpl
	certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile server.key
	printf '%s\n' 'cn = "localhost"' 'dns_name = "localhost"' tls_www_server \
	    signing_key 'expiration_days = 2' >server.tmpl
	certtool --generate-certificate --load-privkey server.key \
	    --load-ca-certificate ca.pem --load-ca-privkey ca.key \
	    --template server.tmpl --outfile server.pem
) >"$T/pki.log" 2>&1 || { echo "Bail out! certtool failed"; exit 99; }

base=$((22000 + ($$ % 400) * 10))
P_SINK=$(free_port $base)
P_PLAIN=$(free_port $((P_SINK + 1)))
P_TLSHIM=$(free_port $((P_PLAIN + 1)))
P_STUNNEL=$(free_port $((P_TLSHIM + 1)))

"$BIN/sink" -a 127.0.0.1:$P_SINK -c "$T/server.pem" -k "$T/server.key" -T \
    >"$T/sink.log" 2>&1 &
SINK=$!
PIDS="$PIDS $SINK"
"$BIN/sink" -a 127.0.0.1:$P_PLAIN -P >"$T/plain.log" 2>&1 &
PIDS="$PIDS $!"
wait_listen $P_SINK $SINK && wait_listen $P_PLAIN $!
ok $? "the sinks listen (STARTTLS with tickets, and plaintext)" "$T/sink.log"

cat >"$T/tlshim.conf" <<EOF
[global]
state_dir = $T/state
ca_file = $T/ca.pem
log_level = warn
workers = 1

[bench]
protocol = smtp
listen = 127.0.0.1:$P_TLSHIM
upstream = localhost:$P_SINK
security = verify
helo_name = localhost
EOF
mkdir -p "$T/state"
"$TLSHIMD" -c "$T/tlshim.conf" -f >"$T/tlshimd.log" 2>&1 &
TPID=$!
PIDS="$PIDS $TPID"
wait_listen $P_TLSHIM $TPID
ok $? "tlshimd starts in front of the sink" "$T/tlshimd.log"

# lg ARGS... - loadgen, bounded; LINE is its result line
lg() {
	LINE=$(timeout -k 2 30 "$BIN/loadgen" -T 10000 "$@" 2>"$T/loadgen.err" | grep '^LOADGEN')
	[ -n "$LINE" ] && [ "$(kv "$LINE" errors)" = 0 ] && [ "$(kv "$LINE" ok)" = "$WANT" ]
}

WANT=20
lg -a 127.0.0.1:$P_TLSHIM -c 4 -n 20 -s 0
ok $? "20 short sessions through tlshimd, 4 at a time, no error: $(kv "$LINE" sessions_per_s)/s" "$T/loadgen.err"

WANT=1
lg -a 127.0.0.1:$P_TLSHIM -c 1 -n 1 -s 64k
ok $? "one 64 KiB message through tlshimd: $(kv "$LINE" data_mbps) MB/s" "$T/loadgen.err"

WANT=10
lg -a 127.0.0.1:$P_PLAIN -c 1 -n 10 -s 1k
ok $? "10 sessions with 1 KiB straight to the plaintext sink: p50 $(kv "$LINE" p50_ms) ms" "$T/loadgen.err"

timeout -k 2 60 "$BIN/idle" -a 127.0.0.1:$P_TLSHIM -n 10 -x -H 1 >"$T/idle.log" 2>&1
done_line=$(grep '^IDLE done' "$T/idle.log")
[ "$(kv "$done_line" ok)" = 10 ] && [ "$(kv "$done_line" errors)" = 0 ]
ok $? "idle holds 10 sessions through tlshimd, then each sends a message" "$T/idle.log"

# The sink counts what it got: 20 + 1 + 10 TLS sessions, 11 messages.
kill -USR1 $SINK
sleep 0.3
stats=$(grep '^SINK stats' "$T/sink.log" | tail -1)
[ "$(kv "$stats" tls)" = 31 ] && [ "$(kv "$stats" messages)" = 11 ] &&
    [ "$(kv "$stats" errors)" = 0 ]
ok $? "the sink saw 31 TLS sessions and 11 messages, no error: $stats" "$T/sink.log"

if command -v "$STUNNEL" >/dev/null 2>&1; then
	cat >"$T/stunnel.conf" <<-EOF
	foreground = yes
	pid = $T/stunnel.pid
	syslog = no
	output = $T/stunnel.log
	debug = warning

	[bench]
	client = yes
	protocol = smtp
	accept = 127.0.0.1:$P_STUNNEL
	connect = localhost:$P_SINK
	CAfile = $T/ca.pem
	verifyChain = yes
	checkHost = localhost
	EOF
	"$STUNNEL" "$T/stunnel.conf" >"$T/stunnel.out" 2>&1 &
	PIDS="$PIDS $!"
	WANT=5
	wait_listen $P_STUNNEL $! && lg -a 127.0.0.1:$P_STUNNEL -c 2 -n 5 -s 1k
	ok $? "5 sessions with 1 KiB through stunnel as bench/run sets it up" "$T/stunnel.log"
else
	n=$((n + 1))
	echo "ok $n - stunnel # SKIP $STUNNEL not installed"
fi

# bench/run itself, tiny: its phases run and its table comes out whole.
stop_all() { for p in $PIDS; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; PIDS=""; }
stop_all
args=(--smoke --only short,resume,bulk,latency --out "$T/table.txt")
command -v "$STUNNEL" >/dev/null 2>&1 || args+=(--no-stunnel)
BENCH_BIN=$BIN TLSHIMD=$TLSHIMD STUNNEL=$STUNNEL BENCH_MAX_S=120 \
    timeout -k 5 240 bash "$(dirname "$0")/run" "${args[@]}" >"$T/run.log" 2>&1
rc=$?
rows=0
for r in "short sessions/s, c=16, full hs (1 core)" \
    "short sessions/s, c=16, resumption (1 core)" \
    "bulk DATA MB/s, one session (1 core)" \
    "added p50 latency ms, one client, full hs" "per relay CPU-second"; do
	grep -qF "$r" "$T/table.txt" 2>/dev/null && rows=$((rows + 1))
done
[ $rc = 0 ] && [ $rows = 5 ] && ! grep -q '\.errors=[1-9-]' "$T/table.txt"
ok $? "bench/run --smoke: exit 0, every phase's rows in its table, no errors" "$T/run.log"
exit 0
