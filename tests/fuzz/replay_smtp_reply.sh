#!/bin/sh
# replay_smtp_reply.sh - run the smtp_reply fuzz corpus through fuzz_smtp_reply (TAP).
# Run by automake from the build folder with top_srcdir and top_builddir
# set; in builds without libFuzzer fuzz_smtp_reply is linked with replay.c.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
bin="$top_builddir/tests/fuzz/fuzz_smtp_reply"
if [ ! -x "$bin" ]; then
	echo "1..0 # SKIP $bin is not built"
	exit 0
fi
exec "$bin" "$top_srcdir/tests/fuzz/corpus/smtp_reply"
