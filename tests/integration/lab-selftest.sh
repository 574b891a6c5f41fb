#!/bin/bash
# lab-selftest.sh - check the lab alone (test CA, private Postfix, Maildir
# delivery, swaks and smtplib straight to Postfix; and, when Dovecot is
# installed, the private Dovecots with imaplib and poplib), without
# tlshimd.
# Not part of `make check`; run it by hand when the lab itself is in doubt:
#   sudo tests/integration/lab-selftest.sh
LAB_NO_TLSHIMD=1
. "$(dirname "$0")/lib.sh"
lab_init
pki_make
pf_start
lab_direct_check
if command -v dovecot >/dev/null 2>&1; then
	dc_start
	new_id lab-dovecot
	dc_deliver "$ID" 16
	dc_direct_check "$ID"
	check "lab: both Dovecots stop, and nothing of them is left" dc_stop_all
fi
done_testing
