#!/bin/sh
# make-certs.sh - make the fixed certificates of the DANE tests, once.
#
# The PEM files beside this script were made by it and are committed, so
# that tests/unit/test_dane.c (and anything else that wants a known chain)
# sees the same bytes on every run: rerun it only to change the set, and
# commit what it writes.  It needs certtool (gnutls-bin).
#
#   root.pem           CA "tlshim DANE test root", self-signed, RSA 2048
#   inter.pem          CA "tlshim DANE test intermediate", from root, P-256
#   mx-a.pem           leaf mx.a.test (DNS SAN, and *.mx.a.test), from
#                      inter, RSA 2048
#   b.pem              leaf b.test (DNS SAN), from inter, P-256
#   expired.pem        leaf mx.a.test from inter, valid 2020 to 2021 only
#   selfsigned.pem     leaf mx.a.test, self-signed (not a CA)
#   rogue-ca.pem       CA "tlshim DANE rogue CA", self-signed, P-256
#   rogue-leaf.pem     leaf mx.a.test from rogue-ca
#   twin-ca.pem        CA self-signed with the very name of inter.pem (a
#                      rogue that copies the intermediate's subject)
#   twin-leaf.pem      leaf mx.a.test from twin-ca
#   leaf-issued.pem    leaf mx.a.test signed by b.pem's key: b.test is no
#                      CA, so a chain through it must not verify
#   *-key.pem          the private key of each (test keys, nothing else)
#
# Validity: 2024-01-01 to 2099-12-31, except expired.pem.  Serial numbers
# and dates are fixed; keys and signatures are new on each run.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
command -v certtool >/dev/null 2>&1 || {
	echo "make-certs.sh: certtool (gnutls-bin) is needed" >&2
	exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

FROM='activation_date = "2024-01-01 00:00:00 UTC"'
UNTIL='expiration_date = "2099-12-31 23:59:59 UTC"'

# key NAME rsa|ecdsa - a new private key in NAME-key.pem
key() {
	case $2 in
	rsa)	certtool --generate-privkey --key-type=rsa --bits=2048 \
		    --outfile "$here/$1-key.pem" 2>/dev/null ;;
	ecdsa)	certtool --generate-privkey --key-type=ecdsa \
		    --curve=secp256r1 --outfile "$here/$1-key.pem" 2>/dev/null ;;
	esac
}

# tmpl NAME LINE... - a certtool template for NAME
tmpl() {
	_n=$1
	shift
	printf '%s\n' "$@" >"$tmp/$_n.tmpl"
}

# selfsign NAME - NAME.pem signed by its own key
selfsign() {
	certtool --generate-self-signed --hash=SHA256 \
	    --load-privkey "$here/$1-key.pem" --template "$tmp/$1.tmpl" \
	    --outfile "$tmp/$1.out" 2>/dev/null
	certtool --certificate-info --no-text --infile "$tmp/$1.out" \
	    --outfile "$here/$1.pem"
}

# issue NAME CA - NAME.pem signed by CA's key
issue() {
	certtool --generate-certificate --hash=SHA256 \
	    --load-privkey "$here/$1-key.pem" \
	    --load-ca-certificate "$here/$2.pem" \
	    --load-ca-privkey "$here/$2-key.pem" \
	    --template "$tmp/$1.tmpl" --outfile "$tmp/$1.out" 2>/dev/null
	certtool --certificate-info --no-text --infile "$tmp/$1.out" \
	    --outfile "$here/$1.pem"
}

CA='ca
cert_signing_key
crl_signing_key'
LEAF='tls_www_server
signing_key
encryption_key'

key root rsa
tmpl root 'cn = "tlshim DANE test root"' 'organization = "tlshim tests"' \
    'serial = 1' "$FROM" "$UNTIL" "$CA"
selfsign root

key inter ecdsa
tmpl inter 'cn = "tlshim DANE test intermediate"' \
    'organization = "tlshim tests"' 'serial = 2' "$FROM" "$UNTIL" "$CA" \
    'path_len = 0'
issue inter root

key mx-a rsa
tmpl mx-a 'cn = "mx.a.test"' 'dns_name = "mx.a.test"' \
    'dns_name = "*.mx.a.test"' 'serial = 3' "$FROM" "$UNTIL" "$LEAF"
issue mx-a inter

key b ecdsa
tmpl b 'cn = "b.test"' 'dns_name = "b.test"' 'serial = 4' "$FROM" "$UNTIL" \
    "$LEAF"
issue b inter

key expired ecdsa
tmpl expired 'cn = "mx.a.test"' 'dns_name = "mx.a.test"' 'serial = 5' \
    'activation_date = "2020-01-01 00:00:00 UTC"' \
    'expiration_date = "2021-01-01 00:00:00 UTC"' "$LEAF"
issue expired inter

key selfsigned ecdsa
tmpl selfsigned 'cn = "mx.a.test"' 'dns_name = "mx.a.test"' 'serial = 6' \
    "$FROM" "$UNTIL" "$LEAF"
selfsign selfsigned

key rogue-ca ecdsa
tmpl rogue-ca 'cn = "tlshim DANE rogue CA"' 'organization = "tlshim tests"' \
    'serial = 7' "$FROM" "$UNTIL" "$CA"
selfsign rogue-ca

key rogue-leaf ecdsa
tmpl rogue-leaf 'cn = "mx.a.test"' 'dns_name = "mx.a.test"' 'serial = 8' \
    "$FROM" "$UNTIL" "$LEAF"
issue rogue-leaf rogue-ca

key twin-ca ecdsa
tmpl twin-ca 'cn = "tlshim DANE test intermediate"' \
    'organization = "tlshim tests"' 'serial = 9' "$FROM" "$UNTIL" "$CA"
selfsign twin-ca

key twin-leaf ecdsa
tmpl twin-leaf 'cn = "mx.a.test"' 'dns_name = "mx.a.test"' 'serial = 10' \
    "$FROM" "$UNTIL" "$LEAF"
issue twin-leaf twin-ca

key leaf-issued ecdsa
tmpl leaf-issued 'cn = "mx.a.test"' 'dns_name = "mx.a.test"' 'serial = 11' \
    "$FROM" "$UNTIL" "$LEAF"
issue leaf-issued b

echo "make-certs.sh: certificates written to $here"
