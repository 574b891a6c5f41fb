# xmpplab.sh - a private Prosody and XMPP peers for the XMPP tests.
#
# Sourced after lib.sh (bash).  Prosody refuses to run as root and does
# not drop privileges itself: it runs as the prosody user (setpriv), with
# its configuration, data, certificate copy and log in $XL_DIR (under the
# lab's temporary folder), listening on $LAB_IP only, and is tracked by
# lib.sh so that it dies at exit.  Its users are made with prosodyctl
# against that configuration.  Its DNS stays on loopback: Prosody looks
# names up with lua-unbound, forwarding to the DNS lab's resolver
# ($DL_RESOLVER) or, without the lab, to a loopback port where nothing
# answers; without lua-unbound it would ask the system's resolver, so the
# script is skipped then.
#
# Interface
#   xl_ports - pick Prosody's ports (before dl_start, whose SRV records
#       name them): sets the XL_C2S... variables below
#   xl_start - Prosody on $LAB_IP, with the good certificate and its CA
#       ($LAB_PKI/good-chain.pem: DANE-TA needs the anchor in the chain);
#       needs pki_make and xl_ports first.  Sets:
#         XL_C2S      c2s port (STARTTLS)
#         XL_C2S_TLS  c2s direct TLS port (XEP-0368, "5223")
#         XL_S2S      s2s port (STARTTLS required, dialback)
#         XL_C2S_STD  5222 when it is free on $LAB_IP (then Prosody
#                     listens there too, for the SRV fallback), or ""
#         XL_DIR, XL_LOG (Prosody's log, debug level)
#       Hosts: req.test (TLS required), opt.test (TLS offered, not
#       required), plain.test (no TLS at all, plaintext logins allowed),
#       and each name in XL_HOSTS (TLS required).  alice and bob (password
#       "secret") exist on req.test, opt.test, plain.test and on each name
#       in XL_USERS.
#   xl_chat ID HOST PORT PEER_HOST PEER_PORT DOMAIN - bob@DOMAIN logs in
#       through PEER_HOST:PEER_PORT, alice@DOMAIN through HOST:PORT and
#       sends him a message he must receive (slixmpp, no TLS of their
#       own); the transcript is $LAB_TMP/out/ID.xmpp
#   xl_open ID HOST PORT DOMAIN - open a client stream to DOMAIN, print
#       the answer (reply=..., stream_error=...) into $LAB_TMP/out/ID.xmpp
#   xl_s2s ID HOST PORT ORIGIN DOMAIN - a legacy server's stream with a
#       dialback request (xmpplab.py s2s)
#   xl_get ID KEY - a key=value from a transcript
#   xl_log_since MARK - Prosody's log after line MARK (xl_mark)

XL_PY="$LAB_HERE/xmpplab.py"
XL_DIR=""
XL_LOG=""
XL_PID=""

# _xl_ctl ARGS... - prosodyctl as the prosody user, on our configuration
_xl_ctl() {
	setpriv --reuid prosody --regid prosody --init-groups \
	    prosodyctl --config "$XL_DIR/prosody.cfg.lua" "$@"
}

# _xl_conf - the private configuration
_xl_conf() {
	local _h _std="" _fwd=127.0.0.1@9
	[ -z "$XL_C2S_STD" ] || _std="; $XL_C2S_STD"
	[ -z "${DL_RESOLVER:-}" ] || _fwd=${DL_RESOLVER%:*}@${DL_RESOLVER##*:}
	cat <<-EOF
	-- Prosody for the tlshim XMPP tests ($LAB_NAME)
	pidfile = "$XL_DIR/prosody.pid"
	data_path = "$XL_DIR/data"
	log = { debug = "$XL_LOG" }
	interfaces = { "$LAB_IP" }
	c2s_ports = { $XL_C2S$_std }
	c2s_direct_tls_ports = { $XL_C2S_TLS }
	s2s_ports = { $XL_S2S }
	legacy_ssl_ports = { }
	http_ports = { }
	https_ports = { }
	admin_socket = "$XL_DIR/admin.sock"
	modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco";
	    "ping"; "posix" }
	modules_disabled = { "admin_shell"; "http"; "bosh"; "websocket";
	    "offline" }
	authentication = "internal_hashed"
	certificates = "$XL_DIR/certs"
	ssl = { certificate = "$XL_DIR/cert.pem"; key = "$XL_DIR/key.pem" }
	unbound = { resolvconf = false; hoststxt = false;
	    forward = "$_fwd";
	    options = { ["do-not-query-localhost:"] = "no" } }
	c2s_require_encryption = true
	s2s_require_encryption = true
	s2s_secure_auth = false
	VirtualHost "req.test"
	VirtualHost "opt.test"
	    c2s_require_encryption = false
	VirtualHost "plain.test"
	    modules_disabled = { "tls" }
	    c2s_require_encryption = false
	    allow_unencrypted_plain_auth = true
	EOF
	for _h in ${XL_HOSTS:-}; do
		printf 'VirtualHost "%s"\n' "$_h"
	done
}

xl_ports() {
	local _free
	lab_ports 3
	read -r XL_C2S XL_C2S_TLS XL_S2S <<<"$PORTS"
	# The default port, for the fallback without SRV records: only on
	# this test's own address, and only when nothing has it.
	XL_C2S_STD=""
	_free=$(lab_tool ports "$LAB_IP" 1 5222 2>/dev/null) || _free=""
	[ "$_free" != 5222 ] || XL_C2S_STD=5222
}

xl_start() {
	local _h _u
	[ -n "$LAB_PKI" ] || bail "xl_start before pki_make"
	[ -n "${XL_C2S:-}" ] || bail "xl_start before xl_ports"
	lua5.4 -e 'require "lunbound"' >/dev/null 2>&1 ||
		skip_all "lua-unbound not installed (Prosody would ask the system's resolver)"
	XL_DIR=$LAB_TMP/xl
	XL_LOG=$XL_DIR/prosody.log
	mkdir -p "$XL_DIR/data" "$XL_DIR/certs"
	cp "$LAB_PKI/good-chain.pem" "$XL_DIR/cert.pem"
	cp "$LAB_PKI/good.key" "$XL_DIR/key.pem"
	_xl_conf >"$XL_DIR/prosody.cfg.lua"
	chown -R prosody:prosody "$XL_DIR"
	chmod 600 "$XL_DIR/key.pem"
	for _h in req.test opt.test plain.test ${XL_USERS:-}; do
		for _u in alice bob; do
			_xl_ctl register "$_u" "$_h" secret >>"$XL_DIR/register.log" 2>&1 ||
				{ diag_file "$XL_DIR/register.log"; bail "prosodyctl register $_u@$_h failed"; }
		done
	done
	setsid setpriv --reuid prosody --regid prosody --init-groups \
	    prosody -F --config "$XL_DIR/prosody.cfg.lua" \
	    </dev/null >"$XL_DIR/prosody.out" 2>&1 &
	XL_PID=$!
	lab_track "$XL_PID"
	for _h in $XL_C2S $XL_C2S_TLS $XL_S2S $XL_C2S_STD; do
		if ! wait_listen "$LAB_IP" "$_h" 15 "$XL_PID" >"$LAB_TMP/out/xl-wait" 2>&1; then
			diag_file "$XL_DIR/prosody.out"
			diag_file "$XL_LOG"
			bail "Prosody is not listening on $LAB_IP:$_h"
		fi
	done
}

# _xl_py ID ARGS... - xmpplab.py, transcript in $LAB_TMP/out/ID.xmpp
_xl_py() {
	local _id=$1 _rc
	shift
	"$LAB_PYTHON" -I "$XL_PY" "$@" >"$LAB_TMP/out/$_id.xmpp" \
	    2>"$LAB_TMP/out/$_id.xmpp.err" && return 0
	_rc=$?
	cat "$LAB_TMP/out/$_id.xmpp"	# for check's diagnostics
	grep -v stringprep "$LAB_TMP/out/$_id.xmpp.err" | tail -n 5
	return $_rc
}

xl_chat() {
	_xl_py "$1" chat --host "$2" --port "$3" --peer-host "$4" \
	    --peer-port "$5" --jid "alice@$6" --password secret \
	    --peer-jid "bob@$6" --peer-password secret \
	    --body "tlshim test $1 $$" --timeout 20
}

xl_open() {
	_xl_py "$1" open --host "$2" --port "$3" --to "$4" --timeout 15
}

xl_s2s() {
	_xl_py "$1" s2s --host "$2" --port "$3" --origin "$4" --to "$5" \
	    --timeout 10
}

xl_get() {
	sed -n "s/^$2=//p" "$LAB_TMP/out/$1.xmpp" | head -n 1
}

# xl_mark - how many lines Prosody has logged so far
xl_mark() {
	wc -l <"$XL_LOG" 2>/dev/null || echo 0
}

xl_log_since() {
	tail -n "+$(($1 + 1))" "$XL_LOG"
}
