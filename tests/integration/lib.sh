# lib.sh - shared harness for the tlshim integration tests.
#
# Sourced by each tests/integration/tNN-*.sh (bash).  It owns a temporary
# folder, every process a test starts (tlshimd, clients, a private Postfix)
# and their teardown, and prints TAP.  Everything listens on loopback only:
# each script gets its own 127.0.0.x address (from its tNN number) and
# ports probed free from a base derived from $$, so scripts can run in
# parallel, and the same script twice.
#
# Exit status: 0 whenever TAP was printed (failed assertions are "not ok"
# lines); 99 with "Bail out!" for harness errors; a missing tool is a
# "1..0 # SKIP reason" and exit 0.
#
# Environment: TLSHIMD (the daemon binary; the harness sets it),
# top_srcdir, top_builddir; LAB_IP overrides the address; LAB_KEEP=1 keeps
# the temporary folder (under LAB_TMPDIR, default /tmp); LAB_PYTHON is
# /usr/bin/python3 unless set.

set -eu

LAB_HERE=${LAB_HERE:-$(cd "$(dirname "$0")" && pwd)}
LAB_NAME=$(basename "$0" .sh)
LAB_PYTHON=${LAB_PYTHON:-/usr/bin/python3}
LAB_TOOL="$LAB_HERE/labtool.py"

# ------------------------------------------------------------------ TAP

_tap_n=0
_tap_failed=0
_tap_planned=

# diag - print a TAP comment (each line prefixed)
diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# diag_file FILE [N] - the last N lines of FILE as TAP comments
diag_file() {
	if [ -s "$1" ]; then
		echo "# --- last ${2:-30} lines of $1"
		tail -n "${2:-30}" "$1" | sed 's/^/#   /'
	else
		echo "# --- $1: empty or missing"
	fi
}

# plan N - announce the number of tests up front
plan() {
	_tap_planned=$1
	echo "1..$1"
}

# done_testing - print the plan at the end if none was given up front
done_testing() {
	[ -n "$_tap_planned" ] || echo "1..$_tap_n"
	_tap_planned=${_tap_planned:-$_tap_n}
}

# _tap_desc - a description safe for TAP ('#' starts a directive)
_tap_desc() {
	printf '%s' "$*" | tr '#\n' 'N '
}

# ok STATUS DESC - one test point: STATUS 0 passes
ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $(_tap_desc "$2")"
	else
		echo "not ok $_tap_n - $(_tap_desc "$2")"
		_tap_failed=$((_tap_failed + 1))
	fi
	return 0
}

pass() { ok 0 "$1"; }
fail() { ok 1 "$1"; }

# skip DESC REASON - a skipped test point
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $(_tap_desc "$1") # SKIP $(_tap_desc "$2")"
}

# check DESC CMD... - passes when CMD exits 0; its output goes to
# check.log and, on failure, into the TAP stream as comments.  CHECK_RC is
# CMD's exit status afterwards.
CHECK_RC=0
check() {
	local desc=$1 rc=0
	shift
	if "$@" >"$LAB_TMP/check.out" 2>&1; then
		ok 0 "$desc"
	else
		rc=$?
		ok 1 "$desc"
		diag "command: $* (exit $rc)"
		diag_file "$LAB_TMP/check.out" 20
	fi
	cat "$LAB_TMP/check.out" >>"$LAB_TMP/check.log"
	CHECK_RC=$rc
}

# is GOT WANT DESC
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "     got: '$1'" "expected: '$2'"
	fi
}

# like GOT ERE DESC - GOT matches the extended regular expression
like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "     got: '$1'" "expected to match: /$2/"
	fi
}

# unlike GOT ERE DESC
unlike() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		diag "     got: '$1'" "expected not to match: /$2/"
	else
		ok 0 "$3"
	fi
}

# skip_all REASON - the whole script is skipped
skip_all() {
	echo "1..0 # SKIP $(_tap_desc "$*")"
	_tap_planned=0
	exit 0
}

# bail REASON - harness error: not a test failure
bail() {
	echo "Bail out! $(_tap_desc "$*")"
	_lab_bailed=1
	exit 99
}

# --------------------------------------------------------- processes

_lab_pids=""		# background processes to end at exit
_lab_pf_dirs=""		# Postfix instances to stop at exit
_lab_bailed=0
LAB_TMP=""

# lab_track PID - end this process (and its process group, if it leads
# one) at exit
lab_track() {
	_lab_pids="$_lab_pids $1"
}

# lab_untrack PID
lab_untrack() {
	_lab_pids=$(printf '%s\n' $_lab_pids | grep -vx "$1" | tr '\n' ' ')
}

# _proc_field PID N - field N of /proc/PID/stat (3 state, 5 pgid); empty
# if there is no such process.  (No ps: procps may not be installed.)
_proc_field() {
	local _st _a
	{ _st=$(<"/proc/$1/stat"); } 2>/dev/null || return 0
	read -r -a _a <<<"${_st##*) }"
	printf '%s\n' "${_a[$(($2 - 3))]}"
}

# running PID - is PID alive and not a zombie?
running() {
	local _s
	_s=$(_proc_field "$1" 3)
	[ -n "$_s" ] && [ "$_s" != Z ] && [ "$_s" != X ]
}

# _pgroup_alive PGID - does any live process of that group remain?
_pgroup_alive() {
	local _f _st _a
	for _f in /proc/[0-9]*/stat; do
		{ _st=$(<"$_f"); } 2>/dev/null || continue
		read -r -a _a <<<"${_st##*) }"
		[ "${_a[2]}" = "$1" ] && [ "${_a[0]}" != Z ] && return 0
	done
	return 1
}

# _lab_kill PID - TERM, wait up to 5 s, then KILL; the process group too
# when PID leads one (tlshimd is started with setsid)
_lab_kill() {
	local pgid i=0
	pgid=$(_proc_field "$1" 5)
	[ -n "$pgid" ] || return 0
	kill -TERM "$1" 2>/dev/null || true
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		# Reap it if it is our child, so kill -0 stops seeing it.
		if running "$1"; then
			sleep 0.1
		else
			wait "$1" 2>/dev/null || true
		fi
		i=$((i + 1))
	done
	if [ "$pgid" = "$1" ]; then
		kill -KILL -- "-$1" 2>/dev/null || true
	else
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}

_lab_cleanup() {
	_rc=$?
	set +e
	# Finish the cleanup even if the harness signals again (it is
	# bounded: a few seconds at most per process).
	trap - EXIT
	trap '' INT TERM HUP
	for _p in $_lab_pids; do
		_lab_kill "$_p"
	done
	for _d in $_lab_pf_dirs; do
		pf_stop "$_d"
	done
	if [ -n "$LAB_TMP" ] && [ -d "$LAB_TMP" ]; then
		if [ "$_tap_failed" -gt 0 ] || [ "$_lab_bailed" = 1 ] ||
		    { [ "$_rc" -ne 0 ] && [ "$_rc" -ne 99 ]; }; then
			for _f in "$LAB_TMP"/tlshimd*.log "$LAB_TMP"/pf/maillog; do
				[ -e "$_f" ] && diag_file "$_f" 40
			done
		fi
		if [ "${LAB_KEEP:-0}" = 1 ]; then
			diag "kept $LAB_TMP"
		else
			rm -rf "$LAB_TMP"
		fi
	fi
	if [ "$_rc" -eq 0 ] && [ -z "$_tap_planned" ] && [ "$_tap_n" -gt 0 ]; then
		# A script that ended without done_testing: make the harness
		# see a missing plan rather than a silent pass.
		echo "Bail out! $LAB_NAME ended without a plan"
		_rc=99
	fi
	exit "$_rc"
}

# ------------------------------------------------------------- setup

# lab_init - check tools, make the temp folder, pick address and ports
lab_init() {
	local _t _c _num
	[ "$(id -u)" = 0 ] || skip_all "needs root to run a private Postfix"
	for _t in postfix postconf swaks certtool; do
		command -v "$_t" >/dev/null 2>&1 || skip_all "$_t not installed"
	done
	[ -x "$LAB_PYTHON" ] || skip_all "$LAB_PYTHON not installed"
	[ -x /usr/lib/postfix/sbin/master ] || [ -x "$(postconf -h daemon_directory)/master" ] ||
		skip_all "Postfix master not found"
	command -v setsid >/dev/null 2>&1 || skip_all "setsid not installed"

	if [ -z "${TLSHIMD:-}" ]; then
		for _c in "${top_builddir:-}/tlshimd" "$LAB_HERE/../../tlshimd"; do
			[ -x "$_c" ] && TLSHIMD=$_c && break
		done
	fi
	if [ -n "${TLSHIMD:-}" ] && [ -x "$TLSHIMD" ]; then
		TLSHIMD=$(cd "$(dirname "$TLSHIMD")" && pwd)/$(basename "$TLSHIMD")
		export TLSHIMD
	elif [ "${LAB_NO_TLSHIMD:-0}" != 1 ]; then
		skip_all "tlshimd not built (set TLSHIMD)"
	fi

	trap _lab_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP

	# Not $TMPDIR: every folder above the Maildir must be searchable by
	# nobody, which a private TMPDIR may not be.
	LAB_TMP=$(mktemp -d "${LAB_TMPDIR:-/tmp}/tlshim-$LAB_NAME.XXXXXX") ||
		bail "mktemp failed"
	# The virtual delivery agent writes the Maildir as nobody: it must be
	# able to reach it.
	chmod 755 "$LAB_TMP"
	mkdir "$LAB_TMP/out"

	# One address per script: t01 -> 127.0.0.21, t02 -> 127.0.0.22...
	if [ -z "${LAB_IP:-}" ]; then
		_num=$(printf '%s\n' "$LAB_NAME" | sed -n 's/^t0*\([0-9][0-9]*\).*/\1/p')
		LAB_IP=127.0.0.$((20 + ${_num:-0} % 70))
	fi
	LAB_SEQ=0
	LAB_PORT_BASE=${LAB_PORT_BASE:-$((20000 + (($$ + RANDOM) % 400) * 25))}
}

# lab_tool ARGS... - run labtool.py with the system interpreter
lab_tool() {
	"$LAB_PYTHON" -I "$LAB_TOOL" "$@"
}

# lab_ports N [IPS [BASE]] - set PORTS to N ports free on LAB_IP (or on
# each of IPS, comma separated), searching up from BASE or from a base
# picked once per run from the shell's pid and $RANDOM, so that parallel
# runs start far apart; below the ephemeral range.  Ports already
# listening are skipped, so later calls do not hand out what Postfix or
# tlshimd took.  Sets a variable (not $(...)) so that bail works.
lab_ports() {
	PORTS=$(lab_tool ports "${2:-$LAB_IP}" "$1" "${3:-$LAB_PORT_BASE}") ||
		bail "no $1 free ports on ${2:-$LAB_IP}: $PORTS"
}

# new_id TAG - set ID to a message id unique to this run (used as
# Message-Id <ID@client.test> and in the Subject)
new_id() {
	LAB_SEQ=$((LAB_SEQ + 1))
	ID=$(printf '%s-%s-%d-%d-%s' "$LAB_NAME" "$1" $$ "$LAB_SEQ" "$(date +%s%N | cut -c8-16)")
}

# wait_listen IP PORT [TIMEOUT [PID]] - until something listens there
wait_listen() {
	lab_tool wait-listen "$1" "$2" --timeout "${3:-10}" ${4:+--pid "$4"}
}

# wait_closed IP PORT [TIMEOUT] - until nothing listens there
wait_closed() {
	lab_tool wait-listen "$1" "$2" --timeout "${3:-10}" --closed
}

# -------------------------------------------------------- test PKI

# pki_make - a test CA and the server certificates, in $LAB_TMP/pki:
#   ca.pem                        the CA tlshimd trusts (ca_file)
#   good.pem good.key             DNS:localhost IP:127.0.0.1 IP:$LAB_IP
#   wrong.pem wrong.key           DNS:other.test IP:127.0.0.99 only
#   untrusted.pem untrusted.key   self-signed, right names, not in ca.pem
pki_make() {
	LAB_PKI=$LAB_TMP/pki
	mkdir -p "$LAB_PKI"
	(
		set -e
		cd "$LAB_PKI"
		_key() {
			certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
			    --outfile "$1" >/dev/null 2>&1
		}
		cat >ca.tmpl <<-EOF
		cn = "tlshim integration test CA $$"
		organization = "tlshim tests"
		serial = 1
		expiration_days = 7
		ca
		cert_signing_key
		crl_signing_key
		EOF
		_key ca.key
		certtool --generate-self-signed --load-privkey ca.key \
		    --template ca.tmpl --outfile ca.pem >/dev/null 2>&1

		_leaf() {	# name cn serial san-lines...
			_n=$1 _cn=$2 _serial=$3
			shift 3
			{
				echo "cn = \"$_cn\""
				echo "organization = \"tlshim tests\""
				echo "serial = $_serial"
				echo "expiration_days = 7"
				for _s in "$@"; do echo "$_s"; done
				echo "tls_www_server"
				echo "signing_key"
				echo "encryption_key"
			} >"$_n.tmpl"
			_key "$_n.key"
		}
		_leaf good localhost 2 'dns_name = "localhost"' \
		    'ip_address = "127.0.0.1"' "ip_address = \"$LAB_IP\""
		certtool --generate-certificate --load-privkey good.key \
		    --load-ca-certificate ca.pem --load-ca-privkey ca.key \
		    --template good.tmpl --outfile good.pem >/dev/null 2>&1
		_leaf wrong other.test 3 'dns_name = "other.test"' \
		    'ip_address = "127.0.0.99"'
		certtool --generate-certificate --load-privkey wrong.key \
		    --load-ca-certificate ca.pem --load-ca-privkey ca.key \
		    --template wrong.tmpl --outfile wrong.pem >/dev/null 2>&1
		_leaf untrusted localhost 4 'dns_name = "localhost"' \
		    'ip_address = "127.0.0.1"' "ip_address = \"$LAB_IP\""
		certtool --generate-self-signed --load-privkey untrusted.key \
		    --template untrusted.tmpl --outfile untrusted.pem >/dev/null 2>&1
		chmod 644 ./*.pem
		chmod 600 ./*.key
	) || bail "could not make the test PKI with certtool"
	for _f in ca good wrong untrusted; do
		[ -s "$LAB_PKI/$_f.pem" ] || bail "certtool made no $_f.pem"
	done
}

# ---------------------------------------------------- private Postfix

# pf_start - a private Postfix in $LAB_TMP/pf, listening on $LAB_IP:
#   PF_GOOD       STARTTLS offered, good certificate
#   PF_WRONG      STARTTLS offered, wrong-name certificate
#   PF_UNTRUSTED  STARTTLS offered, self-signed certificate
#   PF_PLAIN      no TLS at all
#   PF_SMTPS      implicit TLS (wrappermode), good certificate
# and PF_LOCAL on 127.0.0.1 (for upstream = localhost:PORT): STARTTLS
# offered, good certificate.  Each listener logs under its own syslog_name
# (lab/good, lab/wrong, lab/untrusted, lab/plain, lab/smtps, lab/local) to
# $PF_LOG.  Mail to anything@tlshim.test is delivered to the Maildir
# $LAB_MAILDIR.  Needs pki_make first.
pf_start() {
	local _tls _tlsopt _p
	PF_DIR=$LAB_TMP/pf
	PF_LOG=$PF_DIR/maillog
	LAB_MAILDIR=$LAB_TMP/mail/Maildir
	mkdir -p "$PF_DIR/etc" "$PF_DIR/queue" "$PF_DIR/data" "$LAB_TMP/mail"
	# Postfix daemons run as postfix and must read the keys.
	mkdir -p "$PF_DIR/tls"
	cp "$LAB_PKI"/good.* "$LAB_PKI"/wrong.* "$LAB_PKI"/untrusted.* "$PF_DIR/tls/"
	chown -R postfix "$PF_DIR/tls"
	chmod 700 "$PF_DIR/tls"
	chown postfix "$PF_DIR/data"
	mkdir -p "$LAB_MAILDIR/new" "$LAB_MAILDIR/cur" "$LAB_MAILDIR/tmp"
	chown -R nobody:nogroup "$LAB_TMP/mail"
	: >"$PF_LOG"
	chmod 644 "$PF_LOG"

	lab_ports 5
	set -- $PORTS
	PF_GOOD=$1 PF_WRONG=$2 PF_UNTRUSTED=$3 PF_PLAIN=$4 PF_SMTPS=$5
	# Above the five (they are in ascending order and not bound yet),
	# free on 127.0.0.1 and on LAB_IP alike.
	lab_ports 1 "127.0.0.1,$LAB_IP" $((PF_SMTPS + 1))
	PF_LOCAL=$PORTS

	_tls=$PF_DIR/tls
	cat >"$PF_DIR/etc/main.cf" <<-EOF
	# Private Postfix for tlshim integration test $LAB_NAME.
	compatibility_level = 3.6
	queue_directory = $PF_DIR/queue
	data_directory = $PF_DIR/data
	mail_owner = postfix
	setgid_group = postdrop
	syslog_name = lab
	maillog_file = $PF_LOG
	maillog_file_prefixes = $LAB_TMP
	myhostname = mx.tlshim.test
	mydomain = tlshim.test
	myorigin = \$myhostname
	mydestination =
	inet_interfaces = loopback-only
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
	smtpd_banner = \$myhostname ESMTP Postfix lab $LAB_NAME
	smtpd_peername_lookup = no
	smtpd_client_restrictions =
	smtpd_helo_required = no
	disable_vrfy_command = yes
	alias_maps =
	alias_database =
	local_recipient_maps =
	biff = no
	relayhost =
	virtual_mailbox_domains = tlshim.test
	virtual_mailbox_base = $LAB_TMP/mail
	virtual_mailbox_maps = static:Maildir/
	virtual_uid_maps = static:65534
	virtual_gid_maps = static:65534
	virtual_minimum_uid = 100
	smtpd_tls_security_level = none
	smtpd_tls_loglevel = 1
	smtpd_tls_received_header = yes
	smtpd_tls_session_cache_database =
	smtp_tls_session_cache_database =
	smtpd_sasl_auth_enable = no
	queue_run_delay = 5s
	minimal_backoff_time = 5s
	maximal_backoff_time = 10s
	delay_warning_time = 0
	in_flow_delay = 0
	smtpd_error_sleep_time = 0
	smtpd_soft_error_limit = 100
	smtpd_hard_error_limit = 100
	smtpd_client_connection_rate_limit = 0
	anvil_rate_time_unit = 60s
	EOF

	_tlsopt="-o smtpd_tls_security_level=may -o smtpd_tls_chain_files"
	cat >"$PF_DIR/etc/master.cf" <<-EOF
	# Listeners: all on $LAB_IP (PF_LOCAL on 127.0.0.1), never elsewhere.
	$LAB_IP:$PF_GOOD inet n - n - - smtpd -o syslog_name=lab/good $_tlsopt=$_tls/good.key,$_tls/good.pem
	$LAB_IP:$PF_WRONG inet n - n - - smtpd -o syslog_name=lab/wrong $_tlsopt=$_tls/wrong.key,$_tls/wrong.pem
	$LAB_IP:$PF_UNTRUSTED inet n - n - - smtpd -o syslog_name=lab/untrusted $_tlsopt=$_tls/untrusted.key,$_tls/untrusted.pem
	$LAB_IP:$PF_PLAIN inet n - n - - smtpd -o syslog_name=lab/plain -o smtpd_tls_security_level=none
	$LAB_IP:$PF_SMTPS inet n - n - - smtpd -o syslog_name=lab/smtps -o smtpd_tls_wrappermode=yes $_tlsopt=$_tls/good.key,$_tls/good.pem
	127.0.0.1:$PF_LOCAL inet n - n - - smtpd -o syslog_name=lab/local $_tlsopt=$_tls/good.key,$_tls/good.pem
	pickup     unix  n - n 60 1 pickup
	cleanup    unix  n - n - 0 cleanup
	qmgr       unix  n - n 300 1 qmgr
	tlsmgr     unix  - - n 1000? 1 tlsmgr
	rewrite    unix  - - n - - trivial-rewrite
	bounce     unix  - - n - 0 bounce
	defer      unix  - - n - 0 bounce
	trace      unix  - - n - 0 bounce
	verify     unix  - - n - 1 verify
	flush      unix  n - n 1000? 0 flush
	proxymap   unix  - - n - - proxymap
	proxywrite unix  - - n - 1 proxymap
	smtp       unix  - - n - - smtp
	relay      unix  - - n - - smtp
	showq      unix  n - n - - showq
	error      unix  - - n - - error
	retry      unix  - - n - - error
	discard    unix  - - n - - discard
	local      unix  - n n - - local
	virtual    unix  - n n - - virtual
	lmtp       unix  - - n - - lmtp
	anvil      unix  - - n - 1 anvil
	scache     unix  - - n - 1 scache
	postlog    unix-dgram n - n - 1 postlogd
	EOF

	_lab_pf_dirs="$_lab_pf_dirs $PF_DIR"
	if ! postfix -c "$PF_DIR/etc" start >"$PF_DIR/start.out" 2>&1; then
		diag_file "$PF_DIR/start.out"
		diag_file "$PF_LOG"
		bail "private Postfix did not start"
	fi
	for _p in $PF_GOOD $PF_WRONG $PF_UNTRUSTED $PF_PLAIN $PF_SMTPS; do
		wait_listen "$LAB_IP" "$_p" 10 >/dev/null ||
			bail "Postfix is not listening on $LAB_IP:$_p"
	done
	wait_listen 127.0.0.1 "$PF_LOCAL" 10 >/dev/null ||
		bail "Postfix is not listening on 127.0.0.1:$PF_LOCAL"
}

# _pf_master_pid DIR - the master's pid, empty if not running
_pf_master_pid() {
	local _f _pid
	_f=$1/queue/pid/master.pid
	[ -s "$_f" ] || return 0
	_pid=$(tr -dc '0-9' <"$_f")
	[ -n "$_pid" ] && kill -0 "$_pid" 2>/dev/null && echo "$_pid"
	return 0
}

# pf_stop DIR - stop that instance, and make sure none of it is left
pf_stop() {
	local _pid _i
	_pid=$(_pf_master_pid "$1")
	[ -n "$_pid" ] || return 0
	# The master leads its own process group (Postfix calls setsid): TERM
	# to the master ends its children; KILL the group if it lingers.
	kill -TERM "$_pid" 2>/dev/null || true
	_i=0
	while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL -- "-$_pid" 2>/dev/null || true
	_i=0
	while _pgroup_alive "$_pid" && [ $_i -lt 20 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}

# pf_mark - the current length of the Postfix log, for pf_since
pf_mark() {
	wc -l <"$PF_LOG" | tr -d ' '
}

# pf_since MARK - Postfix log lines written after MARK
pf_since() {
	tail -n "+$(($1 + 1))" "$PF_LOG"
}

# pf_wait_line MARK ERE [TIMEOUT] - wait for a new log line matching ERE
# and print the first such line (nothing, after TIMEOUT s, if none)
pf_wait_line() {
	local _end _l _dead=0
	_end=$(($(date +%s) + ${3:-10}))
	while :; do
		_l=$(pf_since "$1" | grep -E -- "$2" | head -n 1) || true
		[ -n "$_l" ] && { printf '%s\n' "$_l"; return 0; }
		[ "$(date +%s)" -lt "$_end" ] || return 0
		# With tlshimd gone no new session will come: allow a second
		# for Postfix's log to catch up, not the whole timeout.
		if [ -n "${TL_PID:-}" ] && ! tl_alive; then
			[ $_dead -lt 10 ] || return 0
			_dead=$((_dead + 1))
		fi
		sleep 0.1
	done
}

# pf_disconnect MARK LISTENER - Postfix's "disconnect from" line (with its
# command counts: ehlo=2 starttls=1 ...) of the next session on LISTENER
# (good, wrong, untrusted, plain, smtps, local) after MARK
pf_disconnect() {
	pf_wait_line "$1" "lab/$2/smtpd\\[[0-9]+\\]: disconnect from " "${3:-10}"
}

# lab_direct_check - the lab is what the tests believe it is: straight to
# Postfix, each certificate verifies (or not) as intended, and swaks and
# smtplib deliver to the Maildir.  One TAP point each.
lab_direct_check() {
	local _ca _rc
	_ca=$LAB_PKI/ca.pem
	check "lab: good cert verifies for $LAB_IP" \
	    lab_tool tls-check "$LAB_IP" "$PF_GOOD" --ca "$_ca" --name "$LAB_IP"
	check "lab: good cert verifies for localhost on 127.0.0.1" \
	    lab_tool tls-check 127.0.0.1 "$PF_LOCAL" --ca "$_ca" --name localhost
	check "lab: implicit-TLS listener verifies" \
	    lab_tool tls-check "$LAB_IP" "$PF_SMTPS" --ca "$_ca" --name "$LAB_IP" --implicit
	_rc=0
	lab_tool tls-check "$LAB_IP" "$PF_WRONG" --ca "$_ca" --name "$LAB_IP" \
	    >"$LAB_TMP/out/lab-wrong" 2>&1 || _rc=$?
	is "$_rc" 3 "lab: wrong-name cert fails verification"
	_rc=0
	lab_tool tls-check "$LAB_IP" "$PF_UNTRUSTED" --ca "$_ca" --name "$LAB_IP" \
	    >"$LAB_TMP/out/lab-untrusted" 2>&1 || _rc=$?
	is "$_rc" 3 "lab: untrusted cert fails verification"
	_rc=0
	lab_tool tls-check "$LAB_IP" "$PF_PLAIN" --ca "$_ca" --name "$LAB_IP" \
	    >"$LAB_TMP/out/lab-plain" 2>&1 || _rc=$?
	is "$_rc" 4 "lab: plain listener offers no STARTTLS"
	new_id lab-swaks
	if swaks --support 2>&1 | grep -q '^=== TLS supported'; then
		check "lab: swaks with STARTTLS straight to Postfix" \
		    swaks_send "$LAB_IP" "$PF_GOOD" "$ID" --tls --tls-verify \
		    --tls-ca-path "$_ca"
	else
		# swaks without Net::SSLeay (libnet-ssleay-perl) cannot do TLS;
		# the tests only need it in plaintext, towards tlshimd.
		check "lab: swaks straight to Postfix (no TLS in this swaks)" \
		    swaks_send "$LAB_IP" "$PF_PLAIN" "$ID"
	fi
	check "lab: that message is in the Maildir" maildir_wait "$ID"
	new_id lab-py
	check "lab: smtplib straight to Postfix (no TLS listener)" \
	    py_send "$LAB_IP" "$PF_PLAIN" "$ID" --body-kib 64
	check "lab: that message is in the Maildir, body intact" \
	    maildir_check_body "$ID"
}

# ----------------------------------------------------------- Maildir

# maildir_find ID - print the delivered file holding Message-Id <ID@...>
maildir_find() {
	grep -l -F -- "<$1@client.test>" "$LAB_MAILDIR"/new/* "$LAB_MAILDIR"/cur/* \
	    2>/dev/null | head -n 1
}

# maildir_wait ID [TIMEOUT] - wait until the message arrived
maildir_wait() {
	local _end _m
	_end=$(($(date +%s) + ${2:-15}))
	while :; do
		_m=$(maildir_find "$1") || true
		[ -n "$_m" ] && { echo "$_m"; return 0; }
		if [ "$(date +%s)" -ge "$_end" ]; then
			echo "message <$1@client.test> not delivered"
			return 1
		fi
		sleep 0.1
	done
}

# maildir_check_body ID [TIMEOUT] - it arrived and its body is what was
# sent
maildir_check_body() {
	local _m
	_m=$(maildir_wait "$1" "${2:-15}") || { echo "$_m"; return 1; }
	lab_tool check-msg "$_m"
}

# delivery_checks WHAT ID CLIENT_STATUS [plain] - the message arrived
# intact, and through TLS (or, with "plain", in plaintext) by Postfix's
# Received header.  Waits for delivery only when the client said it was
# accepted (otherwise the checks fail at once).
delivery_checks() {
	local wait=15
	[ "$3" = 0 ] || wait=0
	check "$1: the message is in the Maildir, body intact" \
	    maildir_check_body "$2" "$wait"
	if [ "${4:-tls}" = plain ]; then
		like "$(received_header "$2")" '^Received: from .* by mx\.tlshim\.test' \
		    "$1: Postfix's Received header is there"
		unlike "$(received_header "$2")" 'using TLS' \
		    "$1: Postfix received it in plaintext (Received header)"
	else
		like "$(received_header "$2")" 'using TLSv1\.[0-9]' \
		    "$1: Postfix received it over TLS (Received header)"
	fi
}

# not_delivered ID - Postfix never received a message with this id: no
# cleanup line for it, and nothing in the Maildir (after a short settle)
not_delivered() {
	sleep 1
	if grep -F -- "message-id=<$1@client.test>" "$PF_LOG"; then
		echo "Postfix received <$1@client.test>"
		return 1
	fi
	if [ -n "$(maildir_find "$1")" ]; then
		echo "<$1@client.test> is in the Maildir"
		return 1
	fi
	return 0
}

# received_header ID - print the delivered message's newest Received
# header, unfolded: Postfix's, which says whether its client used TLS
# ("using TLSv1.3 with cipher ..."); nothing if not delivered
received_header() {
	local _m
	_m=$(maildir_find "$1")
	[ -n "$_m" ] || return 0
	# The first Received: header, unfolded.
	awk 'BEGIN{r=0} /^$/{exit} /^Received:/{if(r)exit; r=1; printf "%s", $0; next}
	    r && /^[ \t]/{printf " %s", $0; next} r{exit}' "$_m" | tr -s ' \t' ' '
	echo
}

# ----------------------------------------------------------- clients

# swaks_send HOST PORT ID [SWAKS ARGS...] - one message with swaks; the
# transcript is in $LAB_TMP/out/ID.swaks
swaks_send() {
	local _h _p _id _body _rc
	_h=$1 _p=$2 _id=$3
	shift 3
	_body="Sent by swaks through tlshim, test $_id."
	swaks --server "$_h" --port "$_p" --ehlo client.test \
	    --from sender@client.test --to rcpt@tlshim.test \
	    --header "Subject: tlshim test $_id" \
	    --header "Message-Id: <$_id@client.test>" \
	    --add-header "X-Body-Sha256: $(printf '%s\n' "$_body" | sha256sum | cut -d' ' -f1)" \
	    --body "$_body" \
	    --timeout 10 "$@" >"$LAB_TMP/out/$_id.swaks" 2>&1 && return 0
	_rc=$?
	tail -n 15 "$LAB_TMP/out/$_id.swaks"	# for check's diagnostics
	return $_rc
}

# py_send HOST PORT ID [labtool send ARGS...] - one message with smtplib;
# the transcript (key=value lines) is in $LAB_TMP/out/ID.py
py_send() {
	local _h _p _id _rc
	_h=$1 _p=$2 _id=$3
	shift 3
	lab_tool send "$_h" "$_p" --id "$_id" "$@" >"$LAB_TMP/out/$_id.py" 2>&1 && return 0
	_rc=$?
	cat "$LAB_TMP/out/$_id.py"	# for check's diagnostics
	return $_rc
}

# py_get ID KEY - a key=value from that transcript (first occurrence)
py_get() {
	sed -n "s/^$2=//p" "$LAB_TMP/out/$1.py" | head -n 1
}

# py_send_bg HOST PORT ID [ARGS...] - py_send in the background: sets
# LAB_BG_PID (tracked for cleanup); collect with py_wait
py_send_bg() {
	local _h _p _id
	_h=$1 _p=$2 _id=$3
	shift 3
	# A plain command, not the lab_tool function: $! must be python's own
	# pid, not a subshell's, so that cleanup can end it.
	"$LAB_PYTHON" -I "$LAB_TOOL" send "$_h" "$_p" --id "$_id" "$@" \
	    >"$LAB_TMP/out/$_id.py" 2>&1 &
	LAB_BG_PID=$!
	lab_track "$LAB_BG_PID"
}

# py_wait PID [TIMEOUT] - wait for a background client (or tlshimd) and
# set PY_RC to its exit status (124 when it did not finish in time, and
# it is killed).  Never call it in $(...): only this shell can reap it.
py_wait() {
	local _end
	_end=$(($(date +%s) + ${2:-30}))
	PY_RC=
	while running "$1"; do
		if [ "$(date +%s)" -ge "$_end" ]; then
			_lab_kill "$1"
			lab_untrack "$1"
			PY_RC=124
			return 0
		fi
		sleep 0.1
	done
	PY_RC=0
	wait "$1" || PY_RC=$?
	lab_untrack "$1"
}

# wait_file FILE [TIMEOUT [PID]] - until FILE exists (or PID, the process
# that should create it, has exited)
wait_file() {
	local _end
	_end=$(($(date +%s) + ${2:-10}))
	while [ ! -e "$1" ]; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		if [ -n "${3:-}" ] && ! running "$3"; then
			[ -e "$1" ]
			return
		fi
		sleep 0.05
	done
}

# ----------------------------------------------------------- tlshimd

# tl_conf_global FILE [KEY=VALUE...] - start a tlshimd config
tl_conf_global() {
	local _f _kv
	_f=$1
	shift
	mkdir -p "$LAB_TMP/state"
	{
		echo "; tlshimd config written by $LAB_NAME"
		echo "[global]"
		echo "state_dir = $LAB_TMP/state"
		echo "ca_file = $LAB_PKI/ca.pem"
		echo "log_level = info"
		for _kv in "$@"; do
			echo "${_kv%%=*} = ${_kv#*=}"
		done
	} >"$_f"
}

# tl_conf_service FILE NAME LISTEN_PORT UPSTREAM SECURITY [KEY=VALUE...]
# - append a service listening on $LAB_IP:LISTEN_PORT; later KEY=VALUEs
# override the defaults (protocol smtp, tls starttls, short timeouts)
tl_conf_service() {
	local _f _name _lp _up _sec _defaults _kv _k _over _o
	_f=$1 _name=$2 _lp=$3 _up=$4 _sec=$5
	shift 5
	{
		echo
		echo "[$_name]"
		_defaults="protocol=smtp tls=starttls helo_name=shim.tlshim.test"
		_defaults="$_defaults connect_timeout=10s handshake_timeout=10s"
		_defaults="$_defaults idle_timeout=30s max_sessions=20"
		echo "listen = $LAB_IP:$_lp"
		echo "upstream = $_up"
		echo "security = $_sec"
		for _kv in $_defaults; do
			_k=${_kv%%=*}
			_over=0
			for _o in "$@"; do
				[ "${_o%%=*}" = "$_k" ] && _over=1
			done
			[ $_over = 1 ] || echo "$_k = ${_kv#*=}"
		done
		for _kv in "$@"; do
			echo "${_kv%%=*} = ${_kv#*=}"
		done
	} >>"$_f"
}

# tl_start CONF - run "$TLSHIMD -c CONF -f" in the background (its own
# process group), stderr to $TL_LOG; wait until every listen address in
# CONF accepts.  Sets TL_PID.  Returns 1 (with diagnostics) if it exits or
# does not listen within 10 s.
TL_N=0
tl_start() {
	TL_N=$((TL_N + 1))
	TL_LOG=$LAB_TMP/tlshimd.$TL_N.log
	setsid "$TLSHIMD" -c "$1" -f </dev/null >"$TL_LOG.stdout" 2>"$TL_LOG" &
	TL_PID=$!
	lab_track "$TL_PID"
	tl_wait_listening "$1"
}

# tl_wait_listening CONF - every listen address in CONF accepts
tl_wait_listening() {
	local _a
	for _a in $(sed -n 's/^[ \t]*listen[ \t]*=[ \t]*\([^ ;\t]*\).*/\1/p' "$1"); do
		if ! wait_listen "${_a%:*}" "${_a##*:}" 10 "$TL_PID" >"$LAB_TMP/out/wait" 2>&1; then
			diag "tlshimd is not listening on $_a: $(cat "$LAB_TMP/out/wait")"
			diag_file "$TL_LOG"
			return 1
		fi
	done
}

# tl_alive - is tlshimd still running?
tl_alive() {
	running "$TL_PID"
}

# tl_wait_exit [TIMEOUT] - wait for tlshimd to exit; sets TL_RC to its
# exit status (124 if it had to be killed).  Not in $(...).
tl_wait_exit() {
	py_wait "$TL_PID" "${1:-15}"
	TL_RC=$PY_RC
}

# tl_stop - TERM tlshimd and reap it
tl_stop() {
	if [ -n "${TL_PID:-}" ]; then
		_lab_kill "$TL_PID"
		lab_untrack "$TL_PID"
	fi
}

# A session summary line: "session=<16 hex> service=... result=...".
TL_SESSION_RE='(^|[ :])session=[0-9a-f]{16} .*service=.* result='

# tl_mark - how many session lines tlshimd has logged so far
tl_mark() {
	grep -cE -- "$TL_SESSION_RE" "$TL_LOG" 2>/dev/null || true
}

# tl_session MARK [ERE [TIMEOUT]] - wait for the first session line after
# MARK (that also matches ERE) and print it (nothing after TIMEOUT s, or
# at once if tlshimd is gone)
tl_session() {
	local _end _l _dead=0
	_end=$(($(date +%s) + ${3:-10}))
	while :; do
		_l=$(grep -E -- "$TL_SESSION_RE" "$TL_LOG" | tail -n "+$(($1 + 1))" |
		    grep -E -- "${2:-.}" | head -n 1) || true
		[ -n "$_l" ] && { printf '%s\n' "$_l"; return 0; }
		[ "$_dead" = 0 ] || return 0
		tl_alive || _dead=1
		[ "$(date +%s)" -lt "$_end" ] || return 0
		sleep 0.1
	done
}

# kv LINE KEY - the value of KEY in a key=value line ("..." unquoted)
kv() {
	printf '%s\n' "$1" | awk -v want="$2" '
	{
		s = $0
		while (length(s) > 0) {
			sub(/^ +/, "", s)
			if (match(s, /^[A-Za-z_][A-Za-z0-9_]*=/)) {
				k = substr(s, 1, RLENGTH - 1)
				s = substr(s, RLENGTH + 1)
				v = ""
				if (substr(s, 1, 1) == "\"") {
					s = substr(s, 2)
					while (length(s) > 0) {
						c = substr(s, 1, 1)
						if (c == "\\") { v = v substr(s, 2, 1); s = substr(s, 3); continue }
						s = substr(s, 2)
						if (c == "\"") break
						v = v c
					}
				} else {
					i = index(s, " ")
					if (i == 0) { v = s; s = "" }
					else { v = substr(s, 1, i - 1); s = substr(s, i) }
				}
				if (k == want) { print v; found = 1; exit }
			} else {
				i = index(s, " ")
				if (i == 0) s = ""
				else s = substr(s, i)
			}
		}
	}
	END { exit 0 }'
}

# tl_common_session_checks LINE WHAT SERVICE PEER ADDR PORT [PROTOCOL] -
# the summary line exists and names the service, direction, protocol,
# peer, address, port and the client, and counted bytes both ways
tl_common_session_checks() {
	local line=$1 what="$2: session line"
	like "$line" "session=[0-9a-f]{16} " "$what logged, with a session id"
	is "$(kv "$line" service)/$(kv "$line" direction)/$(kv "$line" protocol)" \
	    "$3/outbound/${7:-smtp}" "$what: service, direction, protocol"
	is "$(kv "$line" peer) $(kv "$line" addr) $(kv "$line" port)" \
	    "$4 $5 $6" "$what: peer, addr, port"
	like "$(kv "$line" client)" '^127\.[0-9.]+:[0-9]+$' "$what: client=IP:PORT"
	is "$(kv "$line" name_source)" config "$what: name_source=config"
	like "$(kv "$line" bytes_in) $(kv "$line" bytes_out)" \
	    '^[1-9][0-9]* [1-9][0-9]*$' "$what: bytes counted both ways"
}

# tl_final_checks - tlshimd survived the test and no sanitizer spoke
tl_final_checks() {
	check "tlshimd is still running" tl_alive
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$LAB_TMP"/tlshimd.*.log; then
		fail "no sanitizer reports in tlshimd's log"
		grep -hE -A5 'AddressSanitizer|LeakSanitizer|runtime error:' \
		    "$LAB_TMP"/tlshimd.*.log | head -n 40 | sed 's/^/#   /'
	else
		pass "no sanitizer reports in tlshimd's log"
	fi
}
