#!/bin/bash
# t11-posture.sh - the posture store and downgrade pinning, with real
# Postfix and Dovecot behind tlshimd.
#
# After SMTP sessions (verify, may without STARTTLS, two pinning services)
# and an IMAP one, the store (state_dir/posture.db) holds one record per
# session and `tlshim posture --json` shows each peer with the values the
# session lines logged (and the certificate hash openssl computes).
# Then Postfix is reconfigured so that the two pinned listeners (same
# address and port) no longer offer STARTTLS: under pin = yes the next
# session is refused with 421 4.7.0 and a `downgrade` event; under pin =
# report-only it is relayed and recorded.  Durability: tlshimd is killed
# with SIGKILL under traffic; the file passes PRAGMA integrity_check and
# holds every row of every batch it logged as committed; the pins come
# back after a restart.  A read-only state_dir (tlshimd running as nobody)
# and a full one (a small tmpfs) do not stop the relay, and the store
# catches up once they are fixed.
. "$(dirname "$0")/lib.sh"

lab_init postfix postconf swaks certtool dovecot curl openssl stat
pki_make
pf_start
dc_start
new_id msg
MSG=$ID
dc_deliver "$MSG" 4

tlshim_find need

# A tmpfs for the full-disk case, unmounted whatever happens.
FULL=$LAB_TMP/full
t11_cleanup() {
	_t11_rc=$?
	[ -n "${TL_PID:-}" ] && _lab_kill "$TL_PID"
	mountpoint -q "$FULL" 2>/dev/null && umount -l "$FULL"
	(exit $_t11_rc)
	_lab_cleanup
}
trap t11_cleanup EXIT

lab_ports 4
set -- $PORTS
P_GOOD=$1 P_PLAIN=$2 P_PINY=$3 P_PINR=$4
lab_ports 1 127.0.0.1 $((P_PINR + 1))
P_IMAP=$PORTS
conf=$LAB_TMP/t11.conf
state=$LAB_TMP/state
db=$state/posture.db
tl_conf_global "$conf" log_level=detail
tl_conf_service "$conf" good "$P_GOOD" "$LAB_IP:$PF_GOOD" verify
tl_conf_service "$conf" plain "$P_PLAIN" "$LAB_IP:$PF_PLAIN" may
tl_conf_service "$conf" pin-yes "$P_PINY" "$LAB_IP:$PF_WRONG" may pin=yes
tl_conf_service "$conf" pin-ro "$P_PINR" "$LAB_IP:$PF_UNTRUSTED" may \
    pin=report-only pin_max_age=2d
tl_conf_service "$conf" imap "127.0.0.1:$P_IMAP" "$LAB_IP:$DC_IMAP" verify \
    protocol=imap helo_name=

# posture ARGS... - run tlshim posture; stdout in $LAB_TMP/out/posture,
# stderr in .err, exit status in RC
posture() {
	RC=0
	"$TLSHIM" posture "$@" >"$LAB_TMP/out/posture" \
	    2>"$LAB_TMP/out/posture.err" || RC=$?
}

# pj PEER PORT EXPR - EXPR (Python, p: that peer's object, or None) on the
# last `tlshim posture --json` output
pj() {
	"$LAB_PYTHON" - "$LAB_TMP/out/posture" "$@" <<-'EOF'
	import json, sys, datetime
	d = json.load(open(sys.argv[1]))
	p = [x for x in d if x['peer'] == sys.argv[2] and
	     x['port'] == int(sys.argv[3])]
	def t(s):
	    return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ')
	v = eval(sys.argv[4], {'p': p[0] if p else None, 't': t, 'd': d})
	print(json.dumps(v) if not isinstance(v, str) else v)
	EOF
}

# has_sessions N - the store holds N sessions in all
has_sessions() {
	posture -c "$conf" --json
	[ "$RC" = 0 ] && [ "$(pj x 0 'sum(x["sessions"] for x in d)')" = "$1" ]
}

# wait_sessions N - until the store holds N sessions in all (10 s)
wait_sessions() {
	wait_for 10 has_sessions "$1" && return 0
	echo "the store does not hold $1 sessions"
	cat "$LAB_TMP/out/posture" "$LAB_TMP/out/posture.err"
	return 1
}

# sql QUERY [DB] - one value, with Python's sqlite3
sql() {
	"$LAB_PYTHON" -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
r = c.execute(sys.argv[2]).fetchone()
print("" if r is None or r[0] is None else r[0])' "${2:-$db}" "$1"
}

# has_rows N [DB] - the sessions table holds N rows
has_rows() {
	[ "$(sql 'SELECT count(*) FROM sessions' "${2:-$db}")" = "$1" ]
}

check "tlshimd -t accepts pin, pin_max_age" "$TLSHIMD" -t -c "$conf"
posture -c "$conf"
is "$RC" 3 "tlshim posture before any store: exit 3"
like "$(cat "$LAB_TMP/out/posture.err")" "no posture database at $db" \
    "tlshim posture says there is no database yet"

check "tlshimd starts and listens" tl_start "$conf"
check "the store is created in state_dir" wait_file "$db" 5
is "$(sql 'PRAGMA journal_mode')" wal "the store is in WAL mode"
is "$(sql 'PRAGMA user_version')" 3 "the store has the current schema"

# --------------------------------------------------------- sessions

# send SERVICE PORT TAG - one message through tlshimd; LINE is its
# session line, SRC the client's exit status
send() {
	local tm
	tm=$(tl_mark)
	new_id "$3"
	SRC=0
	py_send "$LAB_IP" "$2" "$ID" >/dev/null || SRC=$?
	LINE=$(tl_session "$tm" "service=$1 ")
}

send good "$P_GOOD" good1
is "$SRC" 0 "good: the first message is accepted"
send good "$P_GOOD" good2
is "$SRC" 0 "good: the second message is accepted"
GOOD_LINE=$LINE
send plain "$P_PLAIN" plain
is "$SRC" 0 "plain: the message is accepted"
PLAIN_LINE=$LINE
send pin-yes "$P_PINY" piny1
is "$(kv "$LINE" result)" tls "pin-yes: the first session is TLS"
send pin-ro "$P_PINR" pinr1
is "$(kv "$LINE" result)" tls "pin-ro: the first session is TLS"
tm=$(tl_mark)
check "imap: curl fetches through tlshimd" curl_fetch imap 127.0.0.1 "$P_IMAP" imap
IMAP_LINE=$(tl_session "$tm" "service=imap ")
is "$(kv "$IMAP_LINE" result)" tls "imap: result=tls"

check "the store holds the 6 sessions" wait_sessions 6
is "$(pj x 0 'len(d)')" 5 "tlshim posture --json: 5 peers"

# The verified peer, against its session line and openssl.
CERT=$(openssl x509 -in "$LAB_PKI/good.pem" -outform DER | sha256sum | cut -d' ' -f1)
g() { pj "$LAB_IP" "$PF_GOOD" "$1"; }
is "$(g 'p["protocol"] + " " + p["direction"] + " " + p["address"]')" \
    "smtp outbound $LAB_IP" "good: protocol, direction, address"
is "$(g 'p["sessions"]')" 2 "good: 2 sessions"
like "$(g 'p["first_seen"] + " " + p["last_seen"]')" \
    '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z [0-9-]{10}T[0-9:]{8}Z$' \
    "good: first_seen and last_seen in ISO 8601 UTC"
is "$(g 't(p["first_seen"]) <= t(p["last_seen"])')" true "good: first <= last"
is "$(g 'p["last"]["result"]')" tls "good: last result tls"
is "$(g 'p["last"]["starttls_offered"]')" true "good: starttls_offered true"
is "$(g 'p["last"]["auth"]')" pkix "good: auth pkix"
for k in tls_version cipher group spki_sha256 dnssec tlsa reason; do
	is "$(g "p['last']['$k']")" "$(kv "$GOOD_LINE" "$k")" \
	    "good: last $k is the session line's"
done
like "$(g 'p["last"]["tls_version"]')" '^TLS1\.[23]$' "good: a TLS version"
is "$(g 'p["last"]["cert_sha256"]')" "$CERT" "good: cert_sha256 is the certificate's (openssl)"
is "$(g 'p["last"]["session"]')" "$(kv "$GOOD_LINE" session)" \
    "good: the last record is the last session"
is "$(g 'p["pinned_until"]')" null "good: no pin (pin = no)"
is "$(g 'p["events"]')" "[]" "good: no events"

pl() { pj "$LAB_IP" "$PF_PLAIN" "$1"; }
is "$(pl 'p["last"]["result"] + " " + p["last"]["auth"]')" "plaintext none" \
    "plain: result plaintext, auth none"
is "$(pl 'p["last"]["starttls_offered"]')" false "plain: starttls_offered false"
is "$(pl 'p["last"]["tls_version"] + p["last"]["cipher"]')" "" "plain: no TLS details"
is "$(pl 'p["last"]["reason"]')" "$(kv "$PLAIN_LINE" reason)" "plain: the reason logged"
like "$(pl 'p["last"]["reason"]')" 'STARTTLS not offered' "plain: the reason says why"

im() { pj "$LAB_IP" "$DC_IMAP" "$1"; }
is "$(im 'p["protocol"] + " " + p["last"]["result"] + " " + p["last"]["auth"]')" \
    "imap tls pkix" "imap: protocol imap, tls, pkix"
is "$(im 'p["last"]["cipher"]')" "$(kv "$IMAP_LINE" cipher)" "imap: the cipher logged"

is "$(pj "$LAB_IP" "$PF_WRONG" '(t(p["pinned_until"]) - t(p["last_seen"])).days')" 30 \
    "pin-yes: pinned until last TLS + 30 days (default pin_max_age)"
is "$(pj "$LAB_IP" "$PF_UNTRUSTED" '(t(p["pinned_until"]) - t(p["last_seen"])).days')" 2 \
    "pin-ro: pinned until last TLS + pin_max_age (2d)"
is "$(pj "$LAB_IP" "$PF_WRONG" 'p["last"]["auth"]')" untrusted \
    "pin-yes: TLS was untrusted (may does not check names)"

posture -c "$conf"
is "$RC" 0 "tlshim posture (table): exit 0"
like "$(head -n 1 "$LAB_TMP/out/posture")" '^PEER +PORT +PROTOCOL +SESSIONS' \
    "tlshim posture: a header line"
like "$(cat "$LAB_TMP/out/posture")" "$LAB_IP +$PF_GOOD +smtp +2 " \
    "tlshim posture: the good peer's line"
posture -c "$conf" --peer "$LAB_IP"
like "$(cat "$LAB_TMP/out/posture")" "pinned until +[0-9-]{10}T" \
    "tlshim posture --peer: the pin of the pinned peers"

# ------------------------------------------------------- downgrade

# Postfix's two TLS listeners stop offering STARTTLS: same address, same
# port, the peer tlshimd pinned.
postconf -c "$PF_DIR/etc" -P \
    "$LAB_IP:$PF_WRONG/inet/smtpd_tls_security_level=none" \
    "$LAB_IP:$PF_UNTRUSTED/inet/smtpd_tls_security_level=none"
postfix -c "$PF_DIR/etc" reload >/dev/null 2>&1
no_starttls() {	# no_starttls PORT - Postfix there offers no STARTTLS
	lab_tool send "$LAB_IP" "$1" --id probe --no-mail \
	    >"$LAB_TMP/out/probe" 2>&1 || true
	! grep -q '^ehlo_keyword=STARTTLS' "$LAB_TMP/out/probe"
}
check "lab: Postfix no longer offers STARTTLS on the wrong listener" \
    wait_for 10 no_starttls "$PF_WRONG"
check "lab: nor on the untrusted listener" wait_for 10 no_starttls "$PF_UNTRUSTED"

send pin-yes "$P_PINY" piny2
PINY_LINE=$LINE
is "$SRC" 3 "pin-yes: the client gets no greeting"
like "$(py_get "$ID" greeting)" '^421 4\.7\.0 tlshim: ' \
    "pin-yes: the client gets 421 4.7.0"
check "pin-yes: nothing delivered" not_delivered "$ID"
is "$(kv "$LINE" result)/$(kv "$LINE" cause)" refused/pinned \
    "pin-yes: result=refused cause=pinned"
like "$(kv "$LINE" reason)" 'STARTTLS not offered.*pinned until' \
    "pin-yes: the reason says STARTTLS went missing from a pinned peer"
send pin-ro "$P_PINR" pinr2
is "$SRC" 0 "pin-ro: the message is accepted (report-only)"
check "pin-ro: it is delivered" maildir_wait "$ID"
is "$(kv "$LINE" result)" plaintext "pin-ro: result=plaintext"
like "$(kv "$LINE" reason)" 'report-only' "pin-ro: the reason says report-only"

check "the store holds 8 sessions" wait_sessions 8
w() { pj "$LAB_IP" "$PF_WRONG" "$1"; }
is "$(w 'p["sessions"]')" 2 "pin-yes: 2 sessions"
is "$(w 'p["last"]["result"] + " " + str(p["last"]["downgrade"])')" "refused True" \
    "pin-yes: the last record is refused, downgrade"
is "$(w 'p["counts"]["downgrade"]')" 1 "pin-yes: one downgrade counted"
is "$(w '[e["kind"] for e in p["events"]]')" '["downgrade"]' "pin-yes: a downgrade event"
like "$(w 'p["events"][0]["detail"]')" '^refused: ' "pin-yes: the event says refused"
is "$(w 'p["events"][0]["session"]')" "$(kv "$PINY_LINE" session)" \
    "pin-yes: the event names the refused session"
u() { pj "$LAB_IP" "$PF_UNTRUSTED" "$1"; }
is "$(u 'p["last"]["result"] + " " + str(p["last"]["downgrade"])')" "plaintext True" \
    "pin-ro: the last record is plaintext, downgrade"
like "$(u 'p["events"][-1]["kind"] + ": " + p["events"][-1]["detail"]')" \
    '^downgrade: relayed \(pin = report-only\)' "pin-ro: a downgrade event, relayed"
is "$(sql "SELECT count(*) FROM sessions WHERE downgrade = 1 AND result = 'refused' AND result_type = 'starttls-not-supported'")" 1 \
    "the refused downgrade is a TLSRPT starttls-not-supported failure"

# ------------------------------------------------------- durability

# Traffic: two clients sending in a loop, then SIGKILL.
loop() {	# loop PORT TAG - send until killed
	local n=0
	while :; do
		n=$((n + 1))
		"$LAB_PYTHON" -I "$LAB_TOOL" send "$LAB_IP" "$1" --id "$2-$n-$$" \
		    >/dev/null 2>&1 || true
	done
}
before=$(sql 'SELECT count(*) FROM sessions')
loop "$P_GOOD" k1 &
L1=$!
lab_track "$L1"
loop "$P_PLAIN" k2 &
L2=$!
lab_track "$L2"
sleep 4
kill -KILL "$TL_PID"
wait "$TL_PID" 2>/dev/null || true
lab_untrack "$TL_PID"
kill "$L1" "$L2" 2>/dev/null || true
wait "$L1" "$L2" 2>/dev/null || true
lab_untrack "$L1"
lab_untrack "$L2"
running "$TL_PID" && fail "tlshimd was killed" || pass "tlshimd was killed with SIGKILL under traffic"

is "$(sql 'PRAGMA integrity_check')" ok "after SIGKILL: PRAGMA integrity_check is ok"
upto=$(sed -n 's/.*posture: committed [0-9]* records, session rows up to \([0-9]*\).*/\1/p' "$TL_LOG" | tail -n 1)
like "$upto" '^[0-9]+$' "tlshimd logged committed batches"
is "$(sql "SELECT count(*) FROM sessions WHERE id <= ${upto:-0}")" "${upto:-x}" \
    "after SIGKILL: every row of every committed batch is there"
rows=$(sql 'SELECT count(*) FROM sessions')
like "$((rows - before))" '^[1-9][0-9]+$' "the traffic added records ($((rows - before)))"
"$LAB_PYTHON" -c 'import sqlite3, sys
for (s,) in sqlite3.connect(sys.argv[1]).execute("SELECT session FROM sessions"):
    print("session=%016x " % s)' "$db" >"$LAB_TMP/out/ids"
missing=$(grep -vcFf <(grep -oE 'session=[0-9a-f]{16} ' "$TL_LOG" "$LAB_TMP"/tlshimd.*.log | sed 's/^[^:]*://' | sort -u) "$LAB_TMP/out/ids" || true)
is "$missing" 0 "every stored session was logged by tlshimd"
posture -c "$conf" --json
is "$RC" 0 "tlshim posture reads the store after the crash"

check "tlshimd starts again on the same store" tl_start "$conf"
check "it loads the pins" grep -qE 'posture store .* open, [2-9][0-9]* pins loaded' "$TL_LOG"
send pin-yes "$P_PINY" piny3
like "$(py_get "$ID" greeting)" '^421 4\.7\.0 ' "after the restart the pin still refuses"
check "the store takes new records" wait_sessions $((rows + 1))
tl_stop

# ------------------------------------------------ read-only state_dir

# tlshimd as nobody: it makes state_dir for that user; made read-only, the
# relay goes on and the store catches up when it is writable again.
ro=$LAB_TMP/rostate
roconf=$LAB_TMP/ro.conf
sed "s|^state_dir = .*|state_dir = $ro|; /^\[global\]/a user = nobody" "$conf" >"$roconf"
roposture() { posture -c "$roconf" --json; }
check "tlshimd starts as nobody" tl_start "$roconf"
is "$(stat -c %U "$ro" 2>&1)" nobody "state_dir is created for the user"
check "the store is created" wait_file "$ro/posture.db" 5
is "$(stat -c %U "$ro/posture.db" 2>&1)" nobody "posture.db belongs to the user"
tl_stop
chmod 0500 "$ro"
check "tlshimd starts with a read-only state_dir" tl_start "$roconf"
send good "$P_GOOD" ro1
is "$SRC/$(kv "$LINE" result)" 0/tls "read-only state_dir: the relay goes on"
send good "$P_GOOD" ro2
is "$SRC" 0 "read-only state_dir: and on"
check "the store says it is unusable" grep -q 'posture store .* unusable: ' "$TL_LOG"
chmod 0700 "$ro"
check "the store recovers by itself" \
    wait_for 10 grep -q 'posture store .* usable again' "$TL_LOG"
is "$(grep -c 'posture store .* unusable: ' "$TL_LOG")" 1 "the problem was logged once"
ro_committed() {	# ro_committed - tlshim posture reads both records of good
	roposture
	[ "$RC" = 0 ] && [ "$(pj "$LAB_IP" "$PF_GOOD" 'p and p["sessions"]')" = 2 ]
}
wait_for 5 ro_committed || true
is "$RC/$(pj "$LAB_IP" "$PF_GOOD" 'p and p["sessions"]')" 0/2 \
    "the waiting records were committed; tlshim posture reads them"
[ "$RC" = 0 ] || diag_file "$LAB_TMP/out/posture.err"
tl_stop

# ------------------------------------------------------- full disk

if ! mkdir -p "$FULL" || ! mount -t tmpfs -o size=400k,mode=0755 tmpfs "$FULL" 2>/dev/null; then
	skip "full state_dir" "cannot mount a tmpfs"
else
	fconf=$LAB_TMP/full.conf
	sed "s|^state_dir = .*|state_dir = $FULL|" "$conf" >"$fconf"
	check "tlshimd starts on a small tmpfs" tl_start "$fconf"
	send good "$P_GOOD" full1
	wait_for 5 has_rows 1 "$FULL/posture.db" || true
	is "$(sql 'SELECT count(*) FROM sessions' "$FULL/posture.db")" 1 "the first record is stored"
	dd if=/dev/zero of="$FULL/filler" bs=4k >/dev/null 2>&1 || true
	send good "$P_GOOD" full2
	is "$SRC/$(kv "$LINE" result)" 0/tls "full state_dir: the relay goes on"
	send plain "$P_PLAIN" full3
	is "$SRC" 0 "full state_dir: and on"
	check "the store says the disk is full" \
	    wait_for 5 grep -q 'posture store .* unusable: .*full' "$TL_LOG"
	rm -f "$FULL/filler"
	check "the store recovers once there is room" \
	    wait_for 10 grep -q 'usable again' "$TL_LOG"
	wait_for 5 has_rows 3 "$FULL/posture.db" || true
	is "$(sql 'SELECT count(*) FROM sessions' "$FULL/posture.db")" 3 \
	    "the records that waited are stored"
	is "$(sql 'PRAGMA integrity_check' "$FULL/posture.db")" ok "and the file is sound"
	tl_stop
fi

tl_sanitizer_check "no sanitizer reports in tlshimd's logs"
done_testing
