#!/bin/bash
# t14-tlsrpt.sh - `tlshim report tlsrpt` after real sessions: tlshimd
# relays to a real Postfix, finding it through the DNSSEC lab (dnslab.sh)
# as in t09: DANE-authenticated deliveries, one to a domain whose TLSA
# record does not match, one in plaintext (security = may, no STARTTLS),
# one refused because the TLSA records require the STARTTLS the server
# does not offer, TLS without a policy, a submission session that
# TLSRPT leaves out, and a delivery to a domain whose TLSA record is the
# server's whole certificate (3 0 0, mx-ee-full): its policy-string is
# that record in full, not the short form of the session line.  Failure
# entries name the server as it greeted (receiving-mx-helo), and so does
# `tlshim posture --json`.  The report of the day validates against RFC
# 8460's report format (tests/data/tlsrpt-schema.json, with
# python3-jsonschema), its counts and failure entries are those of the
# session lines tlshimd logged, and the validator itself rejects broken
# reports.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dnslab.sh"

lab_init "postfix postconf swaks certtool $(dl_tools)"
"$LAB_PYTHON" -c 'import jsonschema' 2>/dev/null ||
	skip_all "python3-jsonschema not installed"
TLSHIM=${TLSHIM:-}
if [ -z "$TLSHIM" ]; then
	for _c in "${top_builddir:-}/tlshim" "$(dirname "$TLSHIMD")/tlshim"; do
		[ -x "$_c" ] && TLSHIM=$_c && break
	done
fi
[ -n "$TLSHIM" ] && [ -x "$TLSHIM" ] || skip_all "tlshim not built (set TLSHIM)"
SCHEMA=${top_srcdir:-$LAB_HERE/../..}/tests/data/tlsrpt-schema.json
[ -r "$SCHEMA" ] || bail "no $SCHEMA"

pki_make
pf_start
dl_start "$LAB_IP" "$PF_GOOD $PF_PLAIN" "$LAB_PKI/good.pem" "$LAB_PKI/ca.pem"

conf=$LAB_TMP/t14.conf
db=$LAB_TMP/state/posture.db
D=dane.test
tl_conf_global "$conf" "resolver=$DL_RESOLVER" "dnssec=trust-ad" \
    "log_level=detail"
lab_ports 7
set -- $PORTS
P_DANE=$1 P_MAY=$2 P_PLAIN=$3 P_DPLAIN=$4 P_WRONG=$5 P_SUB=$6 P_FULL=$7
tl_conf_service "$conf" dane "$P_DANE" "mx:ee.$D:$PF_GOOD" dane
tl_conf_service "$conf" may "$P_MAY" "mx:ee.$D:$PF_GOOD" may
tl_conf_service "$conf" plain "$P_PLAIN" "mx:ee.$D:$PF_PLAIN" may
tl_conf_service "$conf" dane-plain "$P_DPLAIN" "mx:ee.$D:$PF_PLAIN" dane
tl_conf_service "$conf" wrong "$P_WRONG" "mx:wrong.$D:$PF_GOOD" dane
tl_conf_service "$conf" sub "$P_SUB" "srv:srv.$D" dane protocol=submission
tl_conf_service "$conf" full "$P_FULL" "mx:ee-full.$D:$PF_GOOD" dane

check "tlshimd starts and listens" tl_start "$conf"
tl_alive || bail "tlshimd did not start"

# report ARGS... - run tlshim report; stdout in $LAB_TMP/out/report.json,
# stderr in .err, exit status in RC
report() {
	RC=0
	"$TLSHIM" report "$@" >"$LAB_TMP/out/report.json" \
	    2>"$LAB_TMP/out/report.err" || RC=$?
}

# validate FILE - FILE is a report, or an array of reports, that RFC
# 8460's schema accepts; prints the errors otherwise
validate() {
	"$LAB_PYTHON" - "$SCHEMA" "$1" <<-'EOF'
	import json, sys
	from jsonschema import Draft7Validator
	schema = json.load(open(sys.argv[1]))
	Draft7Validator.check_schema(schema)
	v = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
	doc = json.load(open(sys.argv[2]))
	bad = 0
	for r in doc if isinstance(doc, list) else [doc]:
	    for e in v.iter_errors(r):
	        print("/".join(map(str, e.absolute_path)) + ": " + e.message)
	        bad += 1
	sys.exit(1 if bad else 0)
	EOF
}

# rj EXPR - EXPR (Python) on the last report: r is the report (the JSON
# object, or the array), pol(type) the policy entry of that type in r,
# fails(type) its failure-details
rj() {
	"$LAB_PYTHON" - "$LAB_TMP/out/report.json" "$1" <<-'EOF'
	import json, sys
	r = json.load(open(sys.argv[1]))
	def pol(t, rep=None):
	    rep = rep or r
	    return [p for p in rep["policies"] if p["policy"]["policy-type"] == t][0]
	def fails(t, rep=None):
	    return pol(t, rep).get("failure-details", [])
	v = eval(sys.argv[2], {"r": r, "pol": pol, "fails": fails})
	print(json.dumps(v) if not isinstance(v, str) else v)
	EOF
}

# sql QUERY - one value from the store
sql() {
	"$LAB_PYTHON" -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=10)
r = c.execute(sys.argv[2]).fetchone()
print("" if r is None or r[0] is None else r[0])' "$db" "$1"
}

# wait_sessions N - until the store holds N session rows (10 s)
wait_sessions() {
	local i=0
	while [ $i -lt 100 ]; do
		[ "$(sql 'SELECT count(*) FROM sessions' 2>/dev/null)" = "$1" ] &&
		    return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "the store holds $(sql 'SELECT count(*) FROM sessions') sessions, not $1"
	return 1
}

# n SERVICE [KEY=VALUE...] - how many session lines of SERVICE say all that
n() {
	local svc=$1 kv l
	shift
	l=$(grep -E -- "$TL_SESSION_RE" "$TL_LOG" | grep -F -- " service=$svc ") || true
	for kv in "$@"; do
		l=$(printf '%s\n' "$l" | grep -F -- " $kv ") || true
	done
	[ -n "$l" ] && printf '%s\n' "$l" | wc -l || echo 0
}

# send SERVICE PORT RC - one message through tlshimd, the client's exit
# status RC (0 accepted, 3 refused with 421); LINE is its session line
send() {
	local tm rc=0
	tm=$(tl_mark)
	new_id "$1"
	py_send "$LAB_IP" "$2" "$ID" >/dev/null || rc=$?
	is "$rc" "$3" "$1: the client's exit status is $3"
	LINE=$(tl_session "$tm" "service=$1 ")
}

DAY0=$(date -u +%F)
send dane "$P_DANE" 0
is "$(kv "$LINE" result)/$(kv "$LINE" auth)" tls/dane-ee "dane: TLS, DANE-EE"
send dane "$P_DANE" 0
send dane "$P_DANE" 0
send may "$P_MAY" 0
is "$(kv "$LINE" result)/$(kv "$LINE" auth)/$(kv "$LINE" tlsa)" tls/untrusted/ \
    "may: TLS, not authenticated, no TLSA looked at"
send plain "$P_PLAIN" 0
is "$(kv "$LINE" result)/$(kv "$LINE" starttls_offered)" plaintext/no \
    "plain: relayed in plaintext, no STARTTLS offered"
send dane-plain "$P_DPLAIN" 3
is "$(kv "$LINE" result)/$(kv "$LINE" cause)" refused/no-tls \
    "dane-plain: refused, the TLSA records require TLS"
send wrong "$P_WRONG" 3
is "$(kv "$LINE" result)/$(kv "$LINE" cause)" refused/dane-mismatch \
    "wrong: refused, DANE mismatch"
tm=$(tl_mark)
new_id sub
check "sub: swaks submits through tlshimd" swaks_send "$LAB_IP" "$P_SUB" "$ID"
is "$(kv "$(tl_session "$tm" "service=sub ")" result)" tls "sub: TLS"
send full "$P_FULL" 0
is "$(kv "$LINE" result)/$(kv "$LINE" auth)" tls/dane-ee \
    "full: TLS, DANE-EE against the whole certificate (3 0 0)"
like "$(kv "$LINE" tlsa)" '^3 0 0 [0-9a-f]{64}\.\.\.$' \
    "full: the session line shows the record cut short"
# The lab's Postfix greets as "220 mx.tlshim.test ESMTP ...".
HELO=mx.tlshim.test
is "$(kv "$LINE" helo)" "$HELO" "full: the session line names the server as it greeted"
check "the store holds the 9 sessions" wait_sessions 9

# ------------------------------------------------ one domain's report

report tlsrpt -c "$conf" --day today --domain "ee.$D" --org "tlshim t14" \
    --contact tlsrpt@t14.test
is "$RC" 0 "report --domain ee.$D: exit 0"
check "report --domain ee.$D: RFC 8460's schema accepts it" \
    validate "$LAB_TMP/out/report.json"
is "$(rj 'r["organization-name"] + " " + r["contact-info"]')" \
    "tlshim t14 tlsrpt@t14.test" "the organization and contact given"
is "$(rj 'r["date-range"]["start-datetime"] + " " + r["date-range"]["end-datetime"]')" \
    "${DAY0}T00:00:00Z ${DAY0}T23:59:59Z" "the date range is today, UTC"
is "$(rj 'sorted(p["policy"]["policy-type"] for p in r["policies"])')" \
    '["no-policy-found", "tlsa"]' "two policies: tlsa and no-policy-found"
is "$(rj '[p["policy"]["policy-domain"] for p in r["policies"]]')" \
    "[\"ee.$D\", \"ee.$D\"]" "policy-domain is the mx: domain"
is "$(rj '[s.lower() for s in pol("tlsa")["policy"]["policy-string"]]')" \
    "[\"3 1 1 $(printf '%s' "$DL_EE_SPKI256" | tr 'A-F' 'a-f')\"]" \
    "tlsa: policy-string is the TLSA record of mx-ee"
is "$(rj '"policy-string" in pol("no-policy-found")["policy"]')" false \
    "no-policy-found: no policy-string"

if [ "$DAY0" = "$(date -u +%F)" ]; then
	same() { is "$@"; }
else
	same() { skip "$3" "the UTC day changed during the test"; }
fi
# Counts: the session lines of each service, as tlshimd logged them.
same "$(rj 'pol("tlsa")["summary"]["total-successful-session-count"]')" \
    "$(n dane result=tls auth=dane-ee)" \
    "tlsa: successes = the DANE-EE sessions logged (3)"
same "$(rj 'pol("tlsa")["summary"]["total-failure-session-count"]')" \
    "$(n dane-plain result=refused cause=no-tls)" \
    "tlsa: failures = the refusals for missing STARTTLS logged (1)"
same "$(rj 'pol("no-policy-found")["summary"]["total-successful-session-count"]')" \
    "$(n may result=tls)" "no-policy-found: successes = may's TLS sessions (1)"
same "$(rj 'pol("no-policy-found")["summary"]["total-failure-session-count"]')" \
    "$(n plain result=plaintext starttls_offered=no)" \
    "no-policy-found: failures = the plaintext relays logged (1)"
is "$(n dane result=tls auth=dane-ee)/$(n dane-plain result=refused)" 3/1 \
    "the log holds the DANE sessions sent"
is "$(n may result=tls)/$(n plain result=plaintext)" 1/1 \
    "the log holds the may sessions sent"
# Failure entries: the result type, the hosts and addresses logged.
PL=$(grep -E -- "$TL_SESSION_RE" "$TL_LOG" | grep -F -- " service=plain " | tail -n 1)
is "$(rj 'len(fails("no-policy-found"))')" 1 "no-policy-found: one failure entry"
is "$(rj 'fails("no-policy-found")[0]["result-type"]')" starttls-not-supported \
    "the plaintext relay: starttls-not-supported"
F='fails("no-policy-found")[0]'
is "$(rj "$F['receiving-mx-hostname'] + ' ' + $F['receiving-ip']")" \
    "$(kv "$PL" peer) $(kv "$PL" addr)" \
    "the plaintext relay: the MX host and address logged"
is "$(rj 'fails("no-policy-found")[0]["failed-session-count"]')" 1 \
    "the plaintext relay: one session"
like "$(rj 'fails("no-policy-found")[0]["sending-mta-ip"]')" '^127\.' \
    "the plaintext relay: tlshimd's own address as sending-mta-ip"
PL_ID=$((16#$(kv "$PL" session)))
is "$(rj 'fails("no-policy-found")[0]["sending-mta-ip"]')" \
    "$(sql "SELECT sending_ip FROM sessions WHERE session = $PL_ID")" \
    "the plaintext relay: the sending address the store holds"
is "$(rj '[f["result-type"] + " " + f["receiving-mx-hostname"]
    for f in fails("tlsa")]')" \
    "[\"starttls-not-supported mx-ee.$D\"]" \
    "tlsa: the refusal without STARTTLS is starttls-not-supported"
is "$(rj '[f.get("receiving-mx-helo") for f in fails("tlsa") + fails("no-policy-found")]')" \
    "[\"$HELO\", \"$HELO\"]" \
    "the failures name the server as it greeted (receiving-mx-helo)"

# ------------------------------------- a whole certificate as the policy

# RFC 8460 4.3: the policy string is the TLSA RRset, each record in
# presentation form; a certificate is not cut short there (the session's
# short text is 512 bytes at most, the record alone is longer).
FULL="3 0 0 $DL_EE_CERT"
check "ee-full.$D: the record is longer than 512 characters (${#FULL})" \
    test "${#FULL}" -gt 512
report tlsrpt -c "$conf" --day today --domain "ee-full.$D"
is "$RC" 0 "report --domain ee-full.$D: exit 0"
check "report --domain ee-full.$D: RFC 8460's schema accepts it" \
    validate "$LAB_TMP/out/report.json"
is "$(rj '[p["policy"]["policy-type"] for p in r["policies"]]')" '["tlsa"]' \
    "ee-full.$D: one policy, tlsa"
is "$(rj 'pol("tlsa")["policy"]["policy-string"]')" "[\"$FULL\"]" \
    "ee-full.$D: policy-string is the 3 0 0 record of mx-ee-full, whole"
same "$(rj 'pol("tlsa")["summary"]["total-successful-session-count"]')" \
    "$(n full result=tls auth=dane-ee)" "ee-full.$D: the DANE-EE session logged"
is "$(sql "SELECT policy_string = '$FULL' FROM sessions WHERE service = 'full'")" 1 \
    "ee-full.$D: the store holds the record whole as the policy string"
like "$(sql "SELECT tlsa FROM sessions WHERE service = 'full'")" \
    '^3 0 0 [0-9a-f]{64}\.\.\.$' "ee-full.$D: and the short form as tlsa"

# ------------------------------------------------ every domain's report

report tlsrpt -c "$conf" --day today
is "$RC" 0 "report (every domain): exit 0"
check "report (every domain): RFC 8460's schema accepts each" \
    validate "$LAB_TMP/out/report.json"
is "$(rj '[x["policies"][0]["policy"]["policy-domain"] for x in r]')" \
    "[\"ee-full.$D\", \"ee.$D\", \"wrong.$D\"]" \
    "one report per policy domain; the submission session is not there"
like "$(rj '" ".join(x["report-id"] for x in r)')" \
    "^${DAY0}_ee-full\.$D@.+ ${DAY0}_ee\.$D@.+ ${DAY0}_wrong\.$D@.+\$" \
    "each report has its own id"
is "$(rj 'r[0]["policies"][0]["policy"]["policy-string"]')" "[\"$FULL\"]" \
    "ee-full.$D: the record whole in the report of every domain too"
W='r[2]["policies"]'
is "$(rj "len($W)")" 1 "wrong.$D: one policy"
P="$W[0]['policy']"
is "$(rj "$P['policy-type'] + ' ' + ' '.join($P['policy-string']).lower()")" \
    "tlsa 3 1 1 $(printf '%s' "$DL_WRONG256" | tr 'A-F' 'a-f')" \
    "wrong.$D: the (wrong) TLSA record is the policy"
WL=$(grep -E -- "$TL_SESSION_RE" "$TL_LOG" | grep -F -- " service=wrong " | tail -n 1)
WP=$(kv "$WL" peer) WA=$(kv "$WL" addr)
S="$W[0]['summary']"
same "$(rj "[$S['total-successful-session-count'],
    $S['total-failure-session-count']]")" \
    "[0, $(n wrong result=refused cause=dane-mismatch)]" \
    "wrong.$D: no success, the DANE refusals logged"
is "$(rj "[(f['result-type'], f['receiving-mx-hostname'], f['receiving-ip'],
    f['failed-session-count'], f['failure-reason-code'])
    for f in $W[0]['failure-details']]")" \
    "[[\"tlsa-invalid\", \"$WP\", \"$WA\", 1, \"dane-mismatch\"]]" \
    "wrong.$D: tlsa-invalid at the MX host and address logged"
is "$(rj "[f.get('receiving-mx-helo') for f in $W[0]['failure-details']]")" \
    "[\"$(kv "$WL" helo)\"]" "wrong.$D: receiving-mx-helo is the name logged"

# tlshim posture --json: the last session's server name, as greeted.
RC=0
"$TLSHIM" posture -c "$conf" --json >"$LAB_TMP/out/posture.json" \
    2>"$LAB_TMP/out/posture.err" || RC=$?
is "$RC" 0 "tlshim posture --json: exit 0"
is "$("$LAB_PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(x["last"]["helo"] for x in d if x["peer"] == sys.argv[2]))' \
    "$LAB_TMP/out/posture.json" "mx-ee-full.$D")" "$HELO" \
    "tlshim posture --json: the last session's helo for mx-ee-full.$D"
RC=0
"$TLSHIM" posture -c "$conf" --peer "mx-ee-full.$D" >"$LAB_TMP/out/posture.txt" \
    2>"$LAB_TMP/out/posture.err" || RC=$?
is "$RC" 0 "tlshim posture --peer: exit 0"
like "$(cat "$LAB_TMP/out/posture.txt")" "greeted as $HELO" \
    "tlshim posture --peer: the last session's server name, as greeted"

# ------------------------------------------------ the validator, and errors

# broken EXPR DESC - ee.$D's report (the last run's) with EXPR (Python,
# on r) applied is rejected by the schema
cp "$LAB_TMP/out/report.json" "$LAB_TMP/out/good.json"
broken() {
	"$LAB_PYTHON" - "$LAB_TMP/out/good.json" "$1" "ee.$D" >"$LAB_TMP/out/broken.json" <<-'EOF'
	import json, sys
	r = [x for x in json.load(open(sys.argv[1]))
	     if x["policies"][0]["policy"]["policy-domain"] == sys.argv[3]][0]
	exec(sys.argv[2])
	print(json.dumps(r))
	EOF
	if validate "$LAB_TMP/out/broken.json" >"$LAB_TMP/out/broken.txt"; then
		fail "the schema rejects a report with $2"
	else
		pass "the schema rejects a report with $2"
	fi
}
broken 'r["policies"][0]["failure-details"] = [
    {"result-type": "success", "failed-session-count": 1}]' \
    'a result type RFC 8460 does not have'
broken 'del r["policies"][0]["summary"]' 'no summary'
broken 'r["policies"][0]["summary"]["total-successful-session-count"] = "3"' \
    'a count as a string'
broken 'r["policies"][1]["policy"]["policy-string"] = "3 1 1 ab"' \
    'a policy-string that is not an array'
broken 'r["date-range"]["start-datetime"] = "yesterday"' 'a date that is not RFC 3339'
broken 'r["policies"] = r["policies"][0]' 'policies not an array'

report tlsrpt -c "$conf" --day 2001-01-01
is "$RC/$(cat "$LAB_TMP/out/report.json")" "0/[]" "a day without sessions: []"
report tlsrpt -c "$conf" --day today --domain nowhere.test
is "$RC/$(cat "$LAB_TMP/out/report.json")" "0/" \
    "a domain without sessions: no report, exit 0"
report tlsrpt -c "$conf" --day 2026-13-01
is "$RC" 3 "a bad date: exit 3"
like "$(cat "$LAB_TMP/out/report.err")" 'not a day' "a bad date: says so"
tl_conf_global "$LAB_TMP/other.conf"
sed -i "s|^state_dir = .*|state_dir = $LAB_TMP/nostate|" "$LAB_TMP/other.conf"
tl_conf_service "$LAB_TMP/other.conf" x "$P_DANE" "mx:ee.$D" dane
report tlsrpt -c "$LAB_TMP/other.conf"
is "$RC" 3 "no posture database: exit 3"
like "$(cat "$LAB_TMP/out/report.err")" "no posture database at $LAB_TMP/nostate" \
    "no posture database: says where it looked"

tl_final_checks
done_testing
