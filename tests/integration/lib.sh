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
	_tap_match 0 "$1" "$2" "$3" "expected to match"
}

# unlike GOT ERE DESC
unlike() {
	_tap_match 1 "$1" "$2" "$3" "expected not to match"
}

# _tap_match WANT GOT ERE DESC EXPECTED - one test point for like and
# unlike: passes when GOT matching ERE gives WANT (0 it matches, 1 it
# does not); EXPECTED says which, in the diagnostics
_tap_match() {
	local _rc=0
	printf '%s\n' "$2" | grep -Eq -- "$3" || _rc=1
	if [ "$_rc" = "$1" ]; then
		ok 0 "$4"
	else
		ok 1 "$4"
		diag "     got: '$2'" "$5: /$3/"
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
_lab_dc_pids=""		# Dovecot masters (process group leaders) to stop at exit
_lab_netns=""		# network namespaces to delete at exit (lab_netns_add)
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
	# read, not $(<FILE): under set -e, bash 5.2 exits the whole script
	# when $(<FILE) cannot open FILE, whatever "|| ..." follows.
	{ read -r _st <"/proc/$1/stat"; } 2>/dev/null || return 0
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
		# (Processes come and go while this runs: see _proc_field.)
		{ read -r _st <"$_f"; } 2>/dev/null || continue
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
	for _p in $_lab_dc_pids; do
		dc_stop "$_p"
	done
	for _n in $_lab_netns; do
		lab_netns_del "$_n"
	done
	if [ -n "$LAB_TMP" ] && [ -d "$LAB_TMP" ]; then
		if [ "$_tap_failed" -gt 0 ] || [ "$_lab_bailed" = 1 ] ||
		    { [ "$_rc" -ne 0 ] && [ "$_rc" -ne 99 ]; }; then
			for _f in "$LAB_TMP"/tlshimd*.log "$LAB_TMP"/pf/maillog \
			    "$LAB_TMP"/dc-*/dovecot.log; do
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

# ------------------------------------------------ network namespaces

# lab_netns_add NAME - a new network namespace with loopback up, deleted
# at exit (its veths go with it); 1 when it cannot be made (no
# privilege, no kernel support)
lab_netns_add() {
	ip netns add "$1" 2>/dev/null || return 1
	_lab_netns="$_lab_netns $1"
	ip -n "$1" link set lo up
}

# lab_netns_del NAME - end what still runs in the namespace (tracked
# processes are ended before), then delete it
lab_netns_del() {
	local _p
	for _p in $(ip netns pids "$1" 2>/dev/null); do
		_lab_kill "$_p"
	done
	ip netns del "$1" 2>/dev/null || true
	_lab_netns=$(printf '%s\n' $_lab_netns | grep -vx "$1" | tr '\n' ' ')
}

# ------------------------------------------------------------- setup

# lab_init [TOOL...] - check tools, make the temp folder, pick address
# and ports.  The tools default to what the private Postfix and its
# clients need (postfix postconf swaks certtool); a script that runs other
# servers names its own.
lab_init() {
	local _t _c _num _tools
	_tools=${*:-postfix postconf swaks certtool}
	[ "$(id -u)" = 0 ] || skip_all "needs root to run private servers (Postfix, Dovecot)"
	for _t in $_tools; do
		command -v "$_t" >/dev/null 2>&1 || skip_all "$_t not installed"
	done
	[ -x "$LAB_PYTHON" ] || skip_all "$LAB_PYTHON not installed"
	case " $_tools " in
	*" postfix "*)
		[ -x /usr/lib/postfix/sbin/master ] ||
		    [ -x "$(postconf -h daemon_directory)/master" ] ||
			skip_all "Postfix master not found"
		;;
	esac
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
#   good.pem good.key             DNS:localhost IP:127.0.0.1 IP:$LAB_IP,
#                                 and DNS:NAME for each NAME in the
#                                 variable PKI_EXTRA_DNS (space separated)
#   good-chain.pem                good.pem followed by ca.pem (a server
#                                 that sends its CA, as DANE-TA needs)
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
		set --		# the SANs of PKI_EXTRA_DNS
		for _d in ${PKI_EXTRA_DNS:-}; do
			set -- "$@" "dns_name = \"$_d\""
		done
		_leaf good localhost 2 'dns_name = "localhost"' "$@" \
		    'ip_address = "127.0.0.1"' "ip_address = \"$LAB_IP\""
		certtool --generate-certificate --load-privkey good.key \
		    --load-ca-certificate ca.pem --load-ca-privkey ca.key \
		    --template good.tmpl --outfile good.pem >/dev/null 2>&1
		cat good.pem ca.pem >good-chain.pem
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
#   PF_GOOD       STARTTLS offered, good certificate sent with its CA
#                 (good-chain.pem: DANE-TA needs the anchor in the chain)
#   PF_WRONG      STARTTLS offered, wrong-name certificate
#   PF_UNTRUSTED  STARTTLS offered, self-signed certificate
#   PF_PLAIN      no TLS at all
#   PF_SMTPS      implicit TLS (wrappermode), good certificate
# and PF_LOCAL on 127.0.0.1 (for upstream = localhost:PORT): STARTTLS
# offered, good certificate.  Each listener logs under its own syslog_name
# (lab/good, lab/wrong, lab/untrusted, lab/plain, lab/smtps, lab/local) to
# $PF_LOG.  Mail to anything@tlshim.test is delivered to the Maildir
# $LAB_MAILDIR.  With PF_IP6 set to an IPv6 address, PF_GOOD listens
# there too (lab/good6).  Needs pki_make first.
pf_start() {
	local _tls _tlsopt _p
	PF_DIR=$LAB_TMP/pf
	PF_LOG=$PF_DIR/maillog
	LAB_MAILDIR=$LAB_TMP/mail/Maildir
	mkdir -p "$PF_DIR/etc" "$PF_DIR/queue" "$PF_DIR/data" "$LAB_TMP/mail"
	# Postfix daemons run as postfix and must read the keys.
	mkdir -p "$PF_DIR/tls"
	cp "$LAB_PKI"/good.* "$LAB_PKI"/good-chain.pem "$LAB_PKI"/wrong.* \
	    "$LAB_PKI"/untrusted.* "$PF_DIR/tls/"
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
	$LAB_IP:$PF_GOOD inet n - n - - smtpd -o syslog_name=lab/good $_tlsopt=$_tls/good.key,$_tls/good-chain.pem
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

	# PF_IP6 (an IPv6 address): the good listener there too, same port.
	if [ -n "${PF_IP6:-}" ]; then
		sed -i 's/^inet_protocols = ipv4$/inet_protocols = all/' \
		    "$PF_DIR/etc/main.cf"
		echo "[$PF_IP6]:$PF_GOOD inet n - n - - smtpd -o syslog_name=lab/good6 $_tlsopt=$_tls/good.key,$_tls/good-chain.pem" \
		    >>"$PF_DIR/etc/master.cf"
	fi

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

# ---------------------------------------------------- private Dovecot

# dc_start - two private Dovecot instances for the IMAP and POP3 tests
# (needs pki_make).  Each has its own folder $LAB_TMP/dc-NAME holding its
# configuration, base_dir, state_dir, log, passwd-file and the user's
# Maildir, and runs as "dovecot -F -c FILE" in a process group of its own
# (stopped, and checked gone, at exit or by dc_stop_all):
#   "tls" on $LAB_IP, the good certificate, disable_plaintext_auth = yes
#   (a connection from 127.0.0.1 to $LAB_IP is not local to Dovecot, so
#   LOGINDISABLED shows before STARTTLS and LOGIN in plaintext is refused:
#   a plaintext client that logs in through tlshimd proves the upgrade):
#     DC_IMAP (STARTTLS)  DC_IMAPS (implicit TLS)
#     DC_POP3 (STLS)      DC_POP3S (implicit TLS)
#     log $DC_LOG, greeting "Dovecot lab $LAB_NAME tls ready."
#   "plain" on $DC_PLAIN_IP ($LAB_IP + 100 in the last byte), ssl = no and
#   disable_plaintext_auth = no:
#     DC_PLAIN_IMAP  DC_PLAIN_POP3, log $DC_PLAIN_LOG
# Ports are free ones, as for Postfix.  Both know one user, $DC_USER, whose
# password $DC_PASS is new for each run; each has its own Maildir (fill
# both with dc_deliver).  auth_debug_passwords is on: any authentication
# that reaches Dovecot is in its log ("client in: AUTH ... resp=BASE64").
dc_start() {
	local _o
	DC_USER=labuser
	DC_PASS=lab-pw-$$-$RANDOM$RANDOM
	if [ -z "${DC_PLAIN_IP:-}" ]; then
		_o=$((${LAB_IP##*.} + 100))
		[ "$_o" -le 254 ] || _o=$((_o - 200))
		DC_PLAIN_IP=${LAB_IP%.*}.$_o
	fi
	lab_ports 4
	set -- $PORTS
	DC_IMAP=$1 DC_IMAPS=$2 DC_POP3=$3 DC_POP3S=$4
	lab_ports 2 "$DC_PLAIN_IP" $((DC_POP3S + 1))
	set -- $PORTS
	DC_PLAIN_IMAP=$1 DC_PLAIN_POP3=$2
	DC_DIR=$LAB_TMP/dc-tls DC_PLAIN_DIR=$LAB_TMP/dc-plain
	DC_LOG=$DC_DIR/dovecot.log DC_PLAIN_LOG=$DC_PLAIN_DIR/dovecot.log
	DC_MAILDIR=$DC_DIR/home/Maildir DC_PLAIN_MAILDIR=$DC_PLAIN_DIR/home/Maildir
	_dc_instance tls "$LAB_IP" "$DC_IMAP" "$DC_IMAPS" "$DC_POP3" "$DC_POP3S"
	_dc_instance plain "$DC_PLAIN_IP" "$DC_PLAIN_IMAP" 0 "$DC_PLAIN_POP3" 0
}

# _dc_instance NAME IP IMAP IMAPS POP3 POP3S - write, start and wait for
# one instance (port 0: no such listener; NAME plain: no TLS at all)
_dc_instance() {
	local _n=$1 _ip=$2 _dir=$LAB_TMP/dc-$1 _ssl _pid _p
	mkdir -p "$_dir/run" "$_dir/state" "$_dir/home/Maildir/new" \
	    "$_dir/home/Maildir/cur" "$_dir/home/Maildir/tmp"
	# The mail processes run as nobody (uid and gid in the passwd-file).
	chown -R 65534:65534 "$_dir/home"
	chmod 755 "$_dir"
	printf '%s:{PLAIN}%s:65534:65534::%s::\n' "$DC_USER" "$DC_PASS" \
	    "$_dir/home" >"$_dir/passwd"
	# Read by Dovecot's auth process, which runs as the dovecot user.
	if chgrp dovecot "$_dir/passwd" 2>/dev/null; then
		chmod 640 "$_dir/passwd"
	else
		chmod 644 "$_dir/passwd"
	fi
	if [ "$_n" = plain ]; then
		_ssl="ssl = no
disable_plaintext_auth = no"
	else
		mkdir -p "$_dir/tls"
		cp "$LAB_PKI/good.pem" "$LAB_PKI/good.key" "$_dir/tls/"
		chmod 600 "$_dir/tls/good.key"
		_ssl="ssl = yes
ssl_cert = <$_dir/tls/good.pem
ssl_key = <$_dir/tls/good.key
disable_plaintext_auth = yes"
	fi
	cat >"$_dir/dovecot.conf" <<-EOF
	# Private Dovecot "$_n" for tlshim integration test $LAB_NAME.
	base_dir = $_dir/run
	state_dir = $_dir/state
	instance_name = lab-$LAB_NAME-$_n
	log_path = $_dir/dovecot.log
	protocols = imap pop3
	listen = $_ip
	$_ssl
	login_trusted_networks =
	login_greeting = Dovecot lab $LAB_NAME $_n ready.
	auth_mechanisms = plain login
	auth_verbose = yes
	auth_debug = yes
	auth_debug_passwords = yes
	passdb {
	  driver = passwd-file
	  args = scheme=PLAIN username_format=%u $_dir/passwd
	}
	userdb {
	  driver = passwd-file
	  args = username_format=%u $_dir/passwd
	}
	mail_location = maildir:~/Maildir
	service imap-login {
	  inet_listener imap {
	    port = $3
	  }
	  inet_listener imaps {
	    port = $4
	    ssl = yes
	  }
	}
	service pop3-login {
	  inet_listener pop3 {
	    port = $5
	  }
	  inet_listener pop3s {
	    port = $6
	    ssl = yes
	  }
	}
	EOF
	: >"$_dir/dovecot.log"
	setsid dovecot -F -c "$_dir/dovecot.conf" </dev/null \
	    >"$_dir/stdout" 2>"$_dir/stderr" &
	_pid=$!
	_lab_dc_pids="$_lab_dc_pids $_pid"
	eval "DC_PID_$_n=\$_pid"
	for _p in "$3" "$4" "$5" "$6"; do
		[ "$_p" != 0 ] || continue
		if ! wait_listen "$_ip" "$_p" 10 "$_pid" >"$_dir/wait.out" 2>&1; then
			diag "$(cat "$_dir/wait.out")"
			diag_file "$_dir/stderr"
			diag_file "$_dir/dovecot.log"
			bail "Dovecot $_n is not listening on $_ip:$_p"
		fi
	done
}

# dc_stop PID - stop the Dovecot whose master is PID (it leads its process
# group): TERM, then wait for the whole group to go (the master ends its
# children), KILL the group after 5 s; nothing of it is left afterwards
dc_stop() {
	local _i=0
	kill -TERM "$1" 2>/dev/null || true
	while _pgroup_alive "$1" && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if _pgroup_alive "$1"; then
		kill -KILL -- "-$1" 2>/dev/null || true
		_i=0
		while _pgroup_alive "$1" && [ $_i -lt 20 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
	fi
	wait "$1" 2>/dev/null || true
	_lab_dc_pids=$(printf '%s\n' $_lab_dc_pids | grep -vx "$1" | tr '\n' ' ')
}

# dc_stop_all - stop both instances now; 1 (with the leftovers on stdout)
# if any process of theirs is still there or a port still listens
dc_stop_all() {
	local _p _pids=$_lab_dc_pids _rc=0
	for _p in $_pids; do
		dc_stop "$_p"
	done
	for _p in $_pids; do
		if _pgroup_alive "$_p"; then
			echo "process group $_p is still alive"
			_rc=1
		fi
	done
	for _p in "$LAB_IP:$DC_IMAP" "$LAB_IP:$DC_IMAPS" "$LAB_IP:$DC_POP3" \
	    "$LAB_IP:$DC_POP3S" "$DC_PLAIN_IP:$DC_PLAIN_IMAP" \
	    "$DC_PLAIN_IP:$DC_PLAIN_POP3"; do
		wait_closed "${_p%:*}" "${_p##*:}" 3 >/dev/null ||
			{ echo "$_p still listens"; _rc=1; }
	done
	return $_rc
}

# dc_deliver ID [KIB] - put a message (labtool make-msg: Subject "tlshim
# test ID", body marker "body marker ID", KIB KiB more of body) into both
# instances' Maildirs, the Maildir way (tmp/, then rename into new/)
dc_deliver() {
	local _m _f
	_f=$(date +%s).M$(date +%N | cut -c1-6)P$$Q$LAB_SEQ.lab
	for _m in "$DC_MAILDIR" "$DC_PLAIN_MAILDIR"; do
		lab_tool make-msg --id "$1" --body-kib "${2:-0}" >"$_m/tmp/$_f" ||
			bail "labtool make-msg failed"
		chown 65534:65534 "$_m/tmp/$_f"
		mv "$_m/tmp/$_f" "$_m/new/$_f"
	done
}

# dc_mark LOG - the current length of a Dovecot log, for dc_since
dc_mark() {
	wc -l <"$1" | tr -d ' '
}

# dc_since LOG MARK - its lines written after MARK
dc_since() {
	tail -n "+$(($2 + 1))" "$1"
}

# dc_wait_line LOG MARK ERE [TIMEOUT] - wait for a new line matching ERE
# and print the first one (nothing after TIMEOUT s)
dc_wait_line() {
	local _end _l
	_end=$(($(date +%s) + ${4:-10}))
	while :; do
		_l=$(dc_since "$1" "$2" | grep -E -- "$3" | head -n 1) || true
		[ -n "$_l" ] && { printf '%s\n' "$_l"; return 0; }
		[ "$(date +%s)" -lt "$_end" ] || return 0
		sleep 0.1
	done
}

# dc_no_auth LOG MARK - no authentication reached that Dovecot after
# MARK: no auth request, no login, no failed attempt, and none of the
# password's wire forms (labtool secrets) in its log.  Prints what it
# found otherwise.
dc_no_auth() {
	local _rc=0 _s
	if dc_since "$1" "$2" | grep -E 'client in: AUTH|Login: user=|auth failed|[1-9][0-9]* attempts'; then
		_rc=1
	fi
	while read -r _s; do
		if dc_since "$1" "$2" | grep -F -- "$_s"; then
			echo "the password (as '$_s') is in $1"
			_rc=1
		fi
	done <<-EOF
	$(lab_tool secrets "$DC_USER" "$DC_PASS")
	EOF
	return $_rc
}

# dc_direct_check - the Dovecot lab is what the tests believe it is, with
# imaplib and poplib straight to it: the tls instance shows STARTTLS and
# LOGINDISABLED (STLS) in plaintext and refuses a plaintext login; with
# STARTTLS or implicit TLS its certificate verifies for $LAB_IP and the
# message ID is fetched; the plain instance offers no TLS and logs in in
# plaintext.  One TAP point each.  Needs a message delivered (ID).
dc_direct_check() {
	local _o=$LAB_TMP/out _rc _c
	_c=(--id "$1" --user "$DC_USER" --password "$DC_PASS" --ca "$LAB_PKI/ca.pem")
	_rc=0
	lab_tool imap "$LAB_IP" "$DC_IMAP" "${_c[@]}" >"$_o/dc-imap-plain" 2>&1 || _rc=$?
	is "$_rc" 4 "lab: IMAP LOGIN in plaintext to Dovecot is refused"
	like "$(sed -n 's/^greeting=//p' "$_o/dc-imap-plain")" \
	    '^\* OK \[CAPABILITY .*STARTTLS.*LOGINDISABLED' \
	    "lab: IMAP greeting shows STARTTLS and LOGINDISABLED"
	like "$(sed -n 's/^login=//p' "$_o/dc-imap-plain")" '^NO \[PRIVACYREQUIRED\]' \
	    "lab: Dovecot answers the plaintext LOGIN NO [PRIVACYREQUIRED]"
	check "lab: IMAP STARTTLS, certificate verifies, message fetched" \
	    lab_tool imap "$LAB_IP" "$DC_IMAP" "${_c[@]}" --starttls
	check "lab: IMAPS, certificate verifies, message fetched" \
	    lab_tool imap "$LAB_IP" "$DC_IMAPS" "${_c[@]}" --implicit
	_rc=0
	lab_tool pop3 "$LAB_IP" "$DC_POP3" "${_c[@]}" >"$_o/dc-pop3-plain" 2>&1 || _rc=$?
	is "$_rc" 4 "lab: POP3 USER/PASS in plaintext to Dovecot is refused"
	like "$(sed -n 's/^capa=//p' "$_o/dc-pop3-plain")" 'STLS' \
	    "lab: POP3 CAPA lists STLS"
	like "$(sed -n 's/^login=//p' "$_o/dc-pop3-plain")" '^-ERR \[AUTH\] Plaintext' \
	    "lab: Dovecot answers the plaintext PASS -ERR [AUTH]"
	check "lab: POP3 STLS, certificate verifies, message retrieved" \
	    lab_tool pop3 "$LAB_IP" "$DC_POP3" "${_c[@]}" --starttls
	check "lab: POP3S, certificate verifies, message retrieved" \
	    lab_tool pop3 "$LAB_IP" "$DC_POP3S" "${_c[@]}" --implicit
	check "lab: plain Dovecot: IMAP LOGIN in plaintext works" \
	    lab_tool imap "$DC_PLAIN_IP" "$DC_PLAIN_IMAP" "${_c[@]}"
	unlike "$(sed -n 's/^greeting=//p' "$LAB_TMP/check.out")" 'STARTTLS|LOGINDISABLED' \
	    "lab: plain Dovecot: no STARTTLS, no LOGINDISABLED"
	check "lab: plain Dovecot: POP3 USER/PASS in plaintext works" \
	    lab_tool pop3 "$DC_PLAIN_IP" "$DC_PLAIN_POP3" "${_c[@]}"
	unlike "$(sed -n 's/^capa=//p' "$LAB_TMP/check.out")" 'STLS' \
	    "lab: plain Dovecot: CAPA has no STLS"
}

# curl_fetch imap|pop3 HOST PORT NAME [CURL ARGS...] - curl logs in as
# $DC_USER (plaintext: curl uses no TLS unless told) and fetches the first
# message of INBOX into $LAB_TMP/out/NAME.curl; its -v transcript (the
# server's lines start "< ") is NAME.curl.trace.  curl's exit status.
curl_fetch() {
	local _url _o=$LAB_TMP/out/$4 _rc
	case $1 in
	imap) _url="imap://$2:$3/INBOX;MAILINDEX=1" ;;
	*) _url="pop3://$2:$3/1" ;;
	esac
	shift 4
	curl -sS -v --max-time 20 --user "$DC_USER:$DC_PASS" "$@" "$_url" \
	    -o "$_o.curl" 2>"$_o.curl.trace" && return 0
	_rc=$?
	grep -E '^[<>*] |^curl' "$_o.curl.trace" | tail -n 15	# for check
	return $_rc
}

# curl_greeting NAME - the first line the server sent in that transcript
curl_greeting() {
	sed -n 's/^< //p' "$LAB_TMP/out/$1.curl.trace" | head -n 1 | tr -d '\r'
}

# fm_fetch IMAP|POP3 HOST PORT NAME [FETCHMAIL ARGS...] - fetchmail, in
# plaintext (sslproto ''), logs in as $DC_USER, keeps the mail on the
# server and hands every message to the MDA "cat >> NAME.fetchmail" (in
# $LAB_TMP/out); its verbose output is NAME.fetchmail.log.  fetchmail's
# exit status (0: mail was fetched; 1: there was none).
fm_fetch() {
	local _n=$4 _o=$LAB_TMP/out/$4 _home=$LAB_TMP/fetchmail _rc
	mkdir -p "$_home"
	chmod 700 "$_home"
	cat >"$_o.fetchmailrc" <<-EOF
	set no bouncemail
	set no syslog
	poll $2 with proto $1 service $3 timeout 20
	    user "$DC_USER" there with password "$DC_PASS" is "root" here
	    options keep fetchall no rewrite sslproto ''
	    mda "cat >> $_o.fetchmail"
	EOF
	chmod 600 "$_o.fetchmailrc"
	shift 4
	# FETCHMAILHOME keeps its lock and id files here; FETCHMAILUSER keeps
	# the MDA running as root (it writes into $LAB_TMP/out).
	FETCHMAILHOME=$_home FETCHMAILUSER=root timeout 40 fetchmail \
	    -f "$_o.fetchmailrc" -v --nodetach --nosyslog \
	    --pidfile "$_home/$_n.pid" --idfile "$_home/$_n.ids" "$@" \
	    </dev/null >"$_o.fetchmail.log" 2>&1 && return 0
	_rc=$?
	tail -n 15 "$_o.fetchmail.log"	# for check's diagnostics
	return $_rc
}

# fetched_checks WHAT FILE ID - FILE holds the message ID, intact
fetched_checks() {
	check "$1: the message has its marker" grep -qF "body marker $3" "$2"
	check "$1: the message is intact (body hash)" lab_tool check-msg "$2"
}

# ------------------------------------------ IMAP and POP3 through tlshimd

# dc_relay_start imap|pop3 - the start of the IMAP and POP3 tests: lab_init,
# both Dovecots (dc_start) holding the message MSG (64 KiB more of body),
# checked straight (dc_direct_check); then tlshimd on TL_IP (127.0.0.1,
# like a shim for a legacy client on the same host) with five services of
# that protocol (DC_PROTO), their listen ports in LPORT and their upstream
# address and port in UPEER and UPORT:
#   PROTO-verify     the tls Dovecot's STARTTLS port, security = verify
#   PROTOs-verify    its implicit-TLS port, verify and tls = implicit
#   plain-default    the plain Dovecot, the protocol's default level
#   plain-may        the plain Dovecot, may
#   plain-cleartext  the plain Dovecot, may and cleartext_auth = yes
# When tlshimd does not start the test ends there.
dc_relay_start() {
	local _conf _p _tls _implicit _plain
	DC_PROTO=$1
	lab_init dovecot certtool curl fetchmail
	pki_make
	dc_start
	new_id msg
	MSG=$ID
	dc_deliver "$MSG" 64
	dc_direct_check "$MSG"

	TL_IP=127.0.0.1
	_conf=$LAB_TMP/$LAB_NAME.conf
	tl_conf_global "$_conf"
	lab_ports 5 "$TL_IP" $((DC_PLAIN_POP3 + 1))
	set -- $PORTS
	# The upstream ports: DC_IMAP, DC_IMAPS, DC_PLAIN_IMAP (or POP3).
	_p=${DC_PROTO^^}
	_tls=DC_$_p _implicit=DC_${_p}S _plain=DC_PLAIN_$_p
	_dc_service "$_conf" "$DC_PROTO-verify" "$1" "$LAB_IP" "${!_tls}" verify
	_dc_service "$_conf" "${DC_PROTO}s-verify" "$2" "$LAB_IP" "${!_implicit}" \
	    verify tls=implicit
	_dc_service "$_conf" plain-default "$3" "$DC_PLAIN_IP" "${!_plain}" ""
	_dc_service "$_conf" plain-may "$4" "$DC_PLAIN_IP" "${!_plain}" may
	_dc_service "$_conf" plain-cleartext "$5" "$DC_PLAIN_IP" "${!_plain}" may \
	    cleartext_auth=yes

	check "tlshimd -t accepts the test configuration" "$TLSHIMD" -t -c "$_conf"
	if ! tl_start "$_conf"; then
		fail "tlshimd starts and listens"
		diag "$(cat "$_conf")"
		done_testing
		exit 0
	fi
	pass "tlshimd starts and listens"
}

# _dc_service FILE NAME PORT UPSTREAM_IP UPSTREAM_PORT SECURITY
# [KEY=VALUE...] - one service of dc_relay_start, listening on TL_IP:PORT
_dc_service() {
	local _f=$1 _name=$2 _lp=$3 _uip=$4 _up=$5 _sec=$6
	shift 6
	LPORT[$_name]=$_lp UPEER[$_name]=$_uip UPORT[$_name]=$_up
	tl_conf_service "$_f" "$_name" "$TL_IP:$_lp" "$_uip:$_up" "$_sec" \
	    protocol="$DC_PROTO" helo_name= "$@"
}

# dc_py NAME SERVICE [labtool imap|pop3 ARGS...] - imaplib or poplib (as
# DC_PROTO) logs in as $DC_USER through tlshimd's SERVICE and fetches the
# message MSG; the transcript (key=value lines, read with py_get) is
# $LAB_TMP/out/NAME.py, the message NAME.eml.  Sets RC.
dc_py() {
	local _n=$1 _svc=$2
	shift 2
	RC=0
	lab_tool "$DC_PROTO" "$TL_IP" "${LPORT[$_svc]}" --id "$MSG" \
	    --user "$DC_USER" --password "$DC_PASS" \
	    --save "$LAB_TMP/out/$_n.eml" "$@" >"$LAB_TMP/out/$_n.py" 2>&1 ||
		RC=$?
}

# dc_session_tls LINE WHAT SERVICE - the session line of a session
# relayed inside verified TLS
dc_session_tls() {
	local _line=$1 _what=$2 _svc=$3
	tl_common_session_checks "$_line" "$_what" "$_svc" "${UPEER[$_svc]}" \
	    "${UPEER[$_svc]}" "${UPORT[$_svc]}" "$DC_PROTO"
	is "$(kv "$_line" result)" tls "$_what: result=tls"
	like "$(kv "$_line" tls_version)" '^TLS1\.[23]$' "$_what: tls_version TLS1.x"
	like "$(kv "$_line" cipher)" '.' "$_what: cipher logged"
	is "$(kv "$_line" auth)" pkix "$_what: auth=pkix"
}

# dc_login_checks WHAT MARK [TLS|plain] - the Dovecot ("tls" or "plain")
# logged the user in after MARK (by its DC_PROTO login process), over TLS
# or not
dc_login_checks() {
	local _log=$DC_LOG _l
	[ "${3:-TLS}" = TLS ] || _log=$DC_PLAIN_LOG
	_l=$(dc_wait_line "$_log" "$2" "$DC_PROTO-login: .*Login: user=<$DC_USER>")
	like "$_l" "Login: user=<$DC_USER>, method=" "$1: Dovecot logged the user in"
	if [ "${3:-TLS}" = TLS ]; then
		like "$_l" ', TLS, ' "$1: Dovecot says the connection was TLS"
	else
		unlike "$_l" ', TLS' "$1: Dovecot says the connection was plaintext"
	fi
}

# dc_secrets_in FILE... - print each wire form of the password (labtool
# secrets) that is in one of FILEs (text or a capture), each after a space
dc_secrets_in() {
	local _s
	while read -r _s; do
		grep -aqF -- "$_s" "$@" && printf ' %s' "$_s"
	done <<-EOF
	$(lab_tool secrets "$DC_USER" "$DC_PASS")
	EOF
	return 0
}

# dc_plain_checks MARK - the end of the sessions to the plain Dovecot
# that must carry no credentials (begun at MARK, its dc_mark, with
# cap_start "$DC_PLAIN_IP"): no authentication reached it, and the
# capture (with tcpdump) holds its greeting and no form of the password
dc_plain_checks() {
	check "plain Dovecot: no authentication reached it (default level and may)" \
	    dc_no_auth "$DC_PLAIN_LOG" "$1"
	cap_stop
	if [ -n "$CAP_PID" ]; then
		check "capture: the plain Dovecot's greeting is in it (the capture works)" \
		    grep -aqF "Dovecot lab $LAB_NAME plain ready" "$CAP_FILE"
		is "$(dc_secrets_in "$CAP_FILE")" "" \
		    "capture: the password crossed the wire in no form"
	else
		skip "capture on lo" "tcpdump not installed"
	fi
}

# dc_relay_finish - the end of the IMAP and POP3 tests: the password is in
# tlshimd's log in no form, tlshimd survived (tl_final_checks) and stopped
# without a sanitizer report, and both Dovecots stop, leaving nothing
dc_relay_finish() {
	is "$(dc_secrets_in "$LAB_TMP"/tlshimd.*.log)" "" \
	    "the password is in tlshimd's log in no form"
	tl_final_checks
	tl_stop
	tl_sanitizer_check "no sanitizer reports in tlshimd's log after it stopped"
	check "lab: both Dovecots stop, and nothing of them is left" dc_stop_all
}

# ------------------------------------------------------- packet capture

# cap_start IP - capture the loopback TCP traffic to and from IP into
# $CAP_FILE, when tcpdump is installed (CAP_PID is empty otherwise)
cap_start() {
	local _i=0
	CAP_PID='' CAP_FILE=$LAB_TMP/cap-$1.pcap
	command -v tcpdump >/dev/null 2>&1 || return 0
	# --immediate-mode: packets reach the file as they come (otherwise
	# they wait in the kernel's ring, and are lost when tcpdump ends).
	tcpdump -i lo -n -U --immediate-mode -s 0 -Z root -w "$CAP_FILE" \
	    "tcp and host $1" \
	    </dev/null >/dev/null 2>"$CAP_FILE.err" &
	CAP_PID=$!
	lab_track "$CAP_PID"
	while ! grep -q 'listening on' "$CAP_FILE.err" 2>/dev/null; do
		if [ $_i -ge 100 ] || ! running "$CAP_PID"; then
			diag_file "$CAP_FILE.err"
			tl_stop_pid_quiet "$CAP_PID"
			CAP_PID=''
			return 0
		fi
		sleep 0.05
		_i=$((_i + 1))
	done
	# The filter is attached by now; give the kernel a moment anyway.
	sleep 0.3
}

# cap_stop - end the capture (tcpdump writes out what it has)
cap_stop() {
	[ -n "${CAP_PID:-}" ] || return 0
	sleep 0.3
	# TERM, not INT: a background job of a script ignores SIGINT.
	kill -TERM "$CAP_PID" 2>/dev/null || true
	py_wait "$CAP_PID" 5
}

# tl_stop_pid_quiet PID - end a tracked helper process
tl_stop_pid_quiet() {
	_lab_kill "$1"
	lab_untrack "$1"
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

# refused_checks WHAT SERVICE - smtplib through SERVICE (its port in
# LPORT) is refused: no 220 greeting but "421 4.7.0 tlshim: ...", and
# nothing delivered.  Sets LINE to the session line, for the caller's
# checks of result and reason.
refused_checks() {
	local _tm _rc=0
	_tm=$(tl_mark)
	new_id "$2"
	py_send "$LAB_IP" "${LPORT[$2]}" "$ID" >/dev/null || _rc=$?
	is "$_rc" 3 "$1: the client gets no 220 greeting"
	like "$(py_get "$ID" greeting)" '^421 4\.7\.0 tlshim: ' \
	    "$1: the greeting is '421 4.7.0 tlshim: ...'"
	check "$1: nothing delivered" not_delivered "$ID"
	LINE=$(tl_session "$_tm" "service=$2 ")
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

# wait_for SECONDS CMD... - run CMD every 0.1 s until it succeeds, giving
# up after SECONDS (whole) of waiting; 0 if it succeeded, 1 if not
wait_for() {
	local _left=$(($1 * 10))
	shift
	until "$@"; do
		[ $_left -gt 0 ] || return 1
		sleep 0.1
		_left=$((_left - 1))
	done
}

# ----------------------------------------------------------- tlshimd

# tl_conf_global FILE [KEY=VALUE...] - start a tlshimd config (log_level
# info unless a log_level=... is given)
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
		case " $* " in
		*" log_level="*) ;;
		*) echo "log_level = info" ;;
		esac
		for _kv in "$@"; do
			echo "${_kv%%=*} = ${_kv#*=}"
		done
	} >"$_f"
}

# tl_conf_service FILE NAME LISTEN_PORT UPSTREAM SECURITY [KEY=VALUE...]
# - append a service listening on $LAB_IP:LISTEN_PORT (LISTEN_PORT may
# be a whole IP:PORT); later KEY=VALUEs override the defaults (protocol
# smtp, tls starttls, short timeouts).  An empty SECURITY, or KEY= with an
# empty value, leaves that key out (the daemon's default applies).
tl_conf_service() {
	local _f _name _lp _up _sec _defaults _kv _k _over _o
	_f=$1 _name=$2 _lp=$3 _up=$4 _sec=$5
	shift 5
	case $_lp in
	*:*) ;;
	*) _lp=$LAB_IP:$_lp ;;
	esac
	{
		echo
		echo "[$_name]"
		_defaults="protocol=smtp tls=starttls helo_name=shim.tlshim.test"
		_defaults="$_defaults connect_timeout=10s handshake_timeout=10s"
		_defaults="$_defaults idle_timeout=30s max_sessions=20"
		echo "listen = $_lp"
		echo "upstream = $_up"
		[ -z "$_sec" ] || echo "security = $_sec"
		for _kv in $_defaults; do
			_k=${_kv%%=*}
			_over=0
			for _o in "$@"; do
				[ "${_o%%=*}" = "$_k" ] && _over=1
			done
			[ $_over = 1 ] || echo "$_k = ${_kv#*=}"
		done
		for _kv in "$@"; do
			[ -z "${_kv#*=}" ] || echo "${_kv%%=*} = ${_kv#*=}"
		done
	} >>"$_f"
}

# The listen port of each service tl_add wrote (dc_relay_start also keeps
# each service's upstream address and port).
declare -A LPORT UPEER UPORT

# tl_add FILE NAME UPSTREAM SECURITY [KEY=VALUE...] - tl_conf_service on
# the first port of PORTS (from lab_ports), which it takes out of PORTS
# and keeps in LPORT[NAME]
tl_add() {
	local _f=$1 _name=$2 _lp
	shift 2
	read -r _lp PORTS <<<"$PORTS"
	[ -n "$_lp" ] || bail "tl_add $_name: no port left in PORTS"
	LPORT[$_name]=$_lp
	tl_conf_service "$_f" "$_name" "$_lp" "$@"
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
	tl_sanitizer_check "no sanitizer reports in tlshimd's log"
}

# tl_sanitizer_check DESC - one test point: no sanitizer report in any
# tlshimd log so far (a sanitizer build reports leaks when tlshimd exits)
tl_sanitizer_check() {
	local _re='AddressSanitizer|LeakSanitizer|runtime error:'
	if grep -qE "$_re" "$LAB_TMP"/tlshimd.*.log; then
		fail "$1"
		grep -hE -A5 "$_re" "$LAB_TMP"/tlshimd.*.log | head -n 40 |
		    sed 's/^/#   /'
	else
		pass "$1"
	fi
}

# tlshim_find [need] - set TLSHIM to the tlshim tool: $TLSHIM if set,
# else the one built with tlshimd, else empty; with "need", a test
# without it is skipped
tlshim_find() {
	local _c
	if [ -z "${TLSHIM:-}" ]; then
		TLSHIM=
		for _c in "${top_builddir:-}/tlshim" "$(dirname "$TLSHIMD")/tlshim"; do
			[ -x "$_c" ] && TLSHIM=$_c && break
		done
	fi
	[ "${1:-}" != need ] || [ -x "$TLSHIM" ] ||
		skip_all "tlshim not built (set TLSHIM)"
}
