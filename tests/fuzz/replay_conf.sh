#!/bin/sh
# replay_conf.sh - run the conf fuzz corpus through fuzz_conf (TAP).
# Run by automake from the build folder with top_srcdir and top_builddir
# set; in builds without libFuzzer fuzz_conf is linked with replay.c.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
bin="$top_builddir/tests/fuzz/fuzz_conf"
if [ ! -x "$bin" ]; then
	echo "1..0 # SKIP $bin is not built"
	exit 0
fi
exec "$bin" "$top_srcdir/tests/fuzz/corpus/conf"
