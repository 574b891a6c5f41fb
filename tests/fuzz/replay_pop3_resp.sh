#!/bin/sh
# replay_pop3_resp.sh - run the pop3_resp fuzz corpus through fuzz_pop3_resp (TAP).
# Run by automake from the build folder with top_srcdir and top_builddir
# set; in builds without libFuzzer fuzz_pop3_resp is linked with replay.c.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
bin="$top_builddir/tests/fuzz/fuzz_pop3_resp"
if [ ! -x "$bin" ]; then
	echo "1..0 # SKIP $bin is not built"
	exit 0
fi
exec "$bin" "$top_srcdir/tests/fuzz/corpus/pop3_resp"
