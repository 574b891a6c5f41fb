#!/bin/sh
# replay_xmpp_stream.sh - run the xmpp_stream fuzz corpus through fuzz_xmpp_stream (TAP).
# Run by automake from the build folder with top_srcdir and top_builddir
# set; in builds without libFuzzer fuzz_xmpp_stream is linked with replay.c.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
bin="$top_builddir/tests/fuzz/fuzz_xmpp_stream"
if [ ! -x "$bin" ]; then
	echo "1..0 # SKIP $bin is not built"
	exit 0
fi
exec "$bin" "$top_srcdir/tests/fuzz/corpus/xmpp_stream"
