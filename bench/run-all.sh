#!/usr/bin/env bash
# Runs every benchmark (download, upload, api-latency, memory) against one
# build of the server and prints their result tables together at the end.
# Environment: SIZE_MB, REPS, DURATION, CLIENTS, HAVEN_REV, HAVEN_BIN, PROFILE
# (see bench/README.md). Exits non-zero when a script fails to run; a missed
# target is reported as FAIL in the tables but does not fail the run.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools
build_haven
export HAVEN_BIN=$HAVEN

status=0
for b in download upload api-latency memory; do
	log "---- $b"
	if ! "$BENCH_DIR/$b.sh" | tee "$WORK/$b.out"; then
		echo "$b: did not complete" >>"$WORK/failed"
		status=1
	fi
done

echo
echo "================ Haven benchmarks: summary ================"
for b in download upload api-latency memory; do
	sed -n '/^== /,$p' "$WORK/$b.out"
	echo
done
[[ ! -f $WORK/failed ]] || cat "$WORK/failed"
exit "$status"
