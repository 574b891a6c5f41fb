#!/bin/bash
# lab-selftest.sh - check the lab alone (test CA, private Postfix, Maildir
# delivery, swaks and smtplib straight to Postfix), without tlshimd.
# Not part of `make check`; run it by hand when the lab itself is in doubt:
#   sudo tests/integration/lab-selftest.sh
LAB_NO_TLSHIMD=1
. "$(dirname "$0")/lib.sh"
lab_init
pki_make
pf_start
lab_direct_check
done_testing
