#!/bin/bash
# t07-tlshim-tlsa.sh - `tlshim tlsa`: the printed TLSA data must equal an
# independent computation (the SPKI or certificate DER from certtool, and
# from openssl when it is installed, hashed with sha256sum/sha512sum), for
# an RSA and an ECDSA certificate, a chain, DER input and --ca; and the
# exit status and messages on bad input.
#
# It runs no server, so it needs neither root nor lib.sh's lab_init: it
# uses lib.sh for TAP and the cleanup of its temporary folder only.  The
# certificates are the fixed ones of tests/unit/data/dane.
. "$(dirname "$0")/lib.sh"

command -v certtool >/dev/null 2>&1 || skip_all "certtool not installed"
for _t in sha256sum sha512sum; do
	command -v "$_t" >/dev/null 2>&1 || skip_all "$_t not installed"
done
TLSHIM=${TLSHIM:-}
if [ -z "$TLSHIM" ]; then
	for _c in "${top_builddir:-}/tlshim" "$LAB_HERE/../../tlshim"; do
		[ -x "$_c" ] && TLSHIM=$_c && break
	done
fi
[ -n "$TLSHIM" ] && [ -x "$TLSHIM" ] || skip_all "tlshim not built (set TLSHIM)"
DATA=${top_srcdir:-$LAB_HERE/../..}/tests/unit/data/dane
[ -r "$DATA/mx-a.pem" ] || bail "no certificates in $DATA"
HAVE_OPENSSL=0
command -v openssl >/dev/null 2>&1 && HAVE_OPENSSL=1

LAB_TMP=$(mktemp -d "${LAB_TMPDIR:-/tmp}/tlshim-$LAB_NAME.XXXXXX") ||
	bail "mktemp failed"
trap _lab_cleanup EXIT
T=$LAB_TMP

# digest ALG FILE - hex digest of a file (ALG: 256 or 512)
digest() {
	"sha$1sum" <"$2" | cut -d' ' -f1
}

# spki_certtool PEM OUT / spki_openssl PEM OUT - the SubjectPublicKeyInfo
# of a certificate, DER, two ways
spki_certtool() {
	certtool --pubkey-info --infile "$1" --outder --outfile "$2" \
	    >/dev/null 2>&1
}
spki_openssl() {
	openssl x509 -in "$1" -noout -pubkey |
	    openssl pkey -pubin -outform DER -out "$2"
}

# cert_der PEM OUT - the certificate itself, DER
cert_der() {
	certtool --certificate-info --infile "$1" --outder --outfile "$2" \
	    >/dev/null 2>&1
}

# want USAGE SELECTOR MTYPE PEM - the record computed here, with certtool
want() {
	local f=$T/want.der
	if [ "$2" = 1 ]; then spki_certtool "$4" "$f"; else cert_der "$4" "$f"; fi
	[ -s "$f" ] || bail "certtool could not read $4"
	printf '%s %s %s %s\n' "$1" "$2" "$3" \
	    "$(digest "$([ "$3" = 1 ] && echo 256 || echo 512)" "$f")"
}

# run ARGS... - tlshim's stdout in OUT, stderr in ERR, status in RC
run() {
	RC=0
	"$TLSHIM" "$@" >"$T/out" 2>"$T/err" || RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# line N - line N of the last OUT
line() {
	sed -n "${1}p" "$T/out"
}

# ------------------------------------------------ one certificate, two key types

for c in mx-a:RSA:mx.a.test b:ECDSA:b.test; do
	name=${c%%:*}
	rest=${c#*:}
	kind=${rest%%:*}
	host=${rest#*:}
	pem=$DATA/$name.pem

	run tlsa --cert "$pem"
	is "$RC" 0 "$kind leaf: exit 0"
	is "$(line 1)" "$(want 3 1 1 "$pem")" "$kind leaf: 3 1 1 is the SPKI's SHA2-256 (certtool)"
	if [ "$HAVE_OPENSSL" = 1 ]; then
		spki_openssl "$pem" "$T/spki.der"
		is "$(line 1)" "3 1 1 $(digest 256 "$T/spki.der")" \
		    "$kind leaf: 3 1 1 is the SPKI's SHA2-256 (openssl)"
	else
		skip "$kind leaf: 3 1 1 checked with openssl" "openssl not installed"
	fi
	is "$(line 2)" "_25._tcp.$host. IN TLSA $(line 1 | cut -d' ' -f1-4)" \
	    "$kind leaf: owner name from the first DNS name"
	is "$(wc -l <"$T/out" | tr -d ' ')" 2 "$kind leaf: one record, one zone line"
	is "$ERR" "" "$kind leaf: nothing on stderr"

	run tlsa --cert "$pem" --mtype 2
	is "$(line 1)" "$(want 3 1 2 "$pem")" "$kind leaf: --mtype 2 is SHA2-512"
	run tlsa --cert "$pem" --selector 0
	is "$(line 1)" "$(want 3 0 1 "$pem")" "$kind leaf: --selector 0 hashes the certificate"
	if [ "$HAVE_OPENSSL" = 1 ]; then
		openssl x509 -in "$pem" -outform DER -out "$T/cert.der"
		is "$(line 1)" "3 0 1 $(digest 256 "$T/cert.der")" \
		    "$kind leaf: 3 0 1 agrees with openssl"
	else
		skip "$kind leaf: 3 0 1 checked with openssl" "openssl not installed"
	fi
	run tlsa --cert "$pem" --selector 0 --mtype 2 --port 465
	is "$(line 1)" "$(want 3 0 2 "$pem")" "$kind leaf: 3 0 2"
	like "$(line 2)" "^_465\\._tcp\\.$host\\. IN TLSA 3 0 2 [0-9a-f]{128}\$" \
	    "$kind leaf: --port 465 in the owner name"
done

# ------------------------------------------------------------ chains, DER, --ca

cat "$DATA/mx-a.pem" "$DATA/inter.pem" "$DATA/root.pem" >"$T/chain.pem"
run tlsa --cert "$T/chain.pem"
is "$RC" 0 "chain: exit 0"
is "$(line 1)" "$(want 3 1 1 "$DATA/mx-a.pem")" "chain: 3 1 1 for the leaf"
is "$(line 2)" "$(want 2 1 1 "$DATA/root.pem")" "chain: 2 1 1 for the topmost certificate"
is "$(line 3)" "_25._tcp.mx.a.test. IN TLSA $(line 1)" "chain: zone line for the leaf"
is "$(line 4)" "_25._tcp.mx.a.test. IN TLSA $(line 2)" "chain: zone line for the TA"

# A key in the file (combined key and chain) is skipped.
cat "$DATA/b-key.pem" "$DATA/b.pem" "$DATA/inter.pem" >"$T/combined.pem"
run tlsa --cert "$T/combined.pem"
is "$RC:$(line 1):$(line 2)" \
    "0:$(want 3 1 1 "$DATA/b.pem"):$(want 2 1 1 "$DATA/inter.pem")" \
    "key, leaf and CA in one file"

cert_der "$DATA/b.pem" "$T/b.der"
run tlsa --cert "$T/b.der"
is "$RC:$(line 1)" "0:$(want 3 1 1 "$DATA/b.pem")" "DER input"

run tlsa --cert "$DATA/inter.pem" --ca
is "$RC:$(line 1)" "0:$(want 2 1 1 "$DATA/inter.pem")" "--ca: 2 1 1 for the first certificate"
like "$(line 2)" "^; publish at _25\\._tcp\\." "--ca: no host name to offer"
is "$ERR" "" "--ca on a CA: no warning"
run tlsa --cert "$DATA/mx-a.pem" --ca
like "$ERR" "not a CA certificate" "--ca on a leaf: a warning"

# -------------------------------------------------------------- bad input

# bad DESC ERE ARGS... - tlshim exits 3, says ERE on stderr, prints nothing
bad() {
	local desc=$1 ere=$2
	shift 2
	run "$@"
	is "$RC" 3 "$desc: exit 3"
	like "$ERR" "$ere" "$desc: message"
	is "$OUT" "" "$desc: nothing on stdout"
}

: >"$T/empty"
printf 'not a certificate\n' >"$T/text"
head -c 300 "$T/b.der" >"$T/cut.der"
printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' \
    >"$T/badpem.pem"
bad "missing file" "$T/none: No such file" tlsa --cert "$T/none"
bad "empty file" "no certificate" tlsa --cert "$T/empty"
bad "text file" "no certificate" tlsa --cert "$T/text"
bad "cut DER" "no certificate" tlsa --cert "$T/cut.der"
bad "bad PEM" "tlsa: $T/badpem.pem: " tlsa --cert "$T/badpem.pem"
bad "key only" "no certificate" tlsa --cert "$DATA/b-key.pem"
bad "a folder" "tlsa: $T" tlsa --cert "$T"
bad "no --cert" "--cert FILE is needed" tlsa
bad "--mtype 0" "--mtype must be" tlsa --cert "$DATA/b.pem" --mtype 0
bad "--selector 2" "--selector must be" tlsa --cert "$DATA/b.pem" --selector 2
bad "--port 0" "--port must be" tlsa --cert "$DATA/b.pem" --port 0
bad "extra argument" "unexpected arguments" tlsa --cert "$DATA/b.pem" extra
bad "unknown option" "usage: tlshim tlsa" tlsa --cert "$DATA/b.pem" --bogus
bad "no subcommand" "usage: tlshim SUBCOMMAND"
bad "unknown subcommand" "unknown subcommand 'frobnicate'" frobnicate
# Every subcommand is built in by now (t09 tests probe, t11 posture, t12
# ctl, t14 report): none says it is coming.
for sub in probe posture report ctl; do
	run "$sub"
	unlike "$ERR" "not available" "$sub is built in"
done

run tlsa --help
is "$RC" 0 "tlsa --help: exit 0"
like "$OUT" "^usage: tlshim tlsa --cert FILE" "tlsa --help: usage on stdout"
run -V
like "$RC:$OUT" "^0:tlshim [0-9]" "-V: the version"

done_testing
