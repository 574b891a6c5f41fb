#!/bin/sh
# replay_dns_answer.sh - run the dns_answer fuzz corpus through fuzz_dns_answer (TAP).
# Run by automake from the build folder with top_srcdir and top_builddir
# set; in builds without libFuzzer fuzz_dns_answer is linked with replay.c.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
bin="$top_builddir/tests/fuzz/fuzz_dns_answer"
if [ ! -x "$bin" ]; then
	echo "1..0 # SKIP $bin is not built"
	exit 0
fi
exec "$bin" "$top_srcdir/tests/fuzz/corpus/dns_answer"
