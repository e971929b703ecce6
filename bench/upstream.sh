#!/usr/bin/env bash
# The pull-through cache: a large file of an upstream hub's repository served
# from the cache of a hub started with --upstream, against the same file
# stored in a local repository of that same hub. Target: cached >= 0.9x local.
#
# Two servers: the upstream (bench/up holds one SIZE_MB MiB LFS file) and the
# hub (--upstream pointing at it; bench/local holds the same bytes). The first
# GET through the hub fills its cache (timed, for scale); then REPS runs of
# each, interleaved, curl -o /dev/null, page cache warm.
#
#   bench/upstream.sh
#   SIZE_MB=256 REPS=3 bench/upstream.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-7}
need_tools
build_haven
setup_haven
start_haven
UP_URL=$HAVEN_URL
UP_PID=$HAVEN_PID

log "making a ${SIZE_MB} MiB file and uploading it to the upstream"
make_file "$WORK/big.bin" "$SIZE_MB"
create_repo up
upload_lfs up "$WORK/big.bin" big.bin
BYTES=$(stat -c %s "$WORK/big.bin")

log "starting the hub with --upstream $UP_URL"
HUB_DATA=$WORK/hub
mkdir -p "$HUB_DATA"
"$HAVEN" user create bench --data "$HUB_DATA" >/dev/null 2>&1
HUB_TOKEN=$("$HAVEN" token create bench --role write --data "$HUB_DATA" 2>/dev/null | tail -n1)
HUB_PORT=$(free_port)
HUB_URL=http://127.0.0.1:$HUB_PORT
"$HAVEN" serve --addr "127.0.0.1:$HUB_PORT" --data "$HUB_DATA" --public-url "$HUB_URL" \
	--upstream "$UP_URL" --upstream-allow-private >>"$WORK/hub.log" 2>&1 &
HUB_PID=$!
PIDS+=("$HUB_PID")
wait_http "$HUB_URL/api/health"

log "storing the same file in the hub's own bench/local"
# The helpers talk to $HAVEN_URL with $TOKEN: point them at the hub.
HAVEN_URL=$HUB_URL TOKEN=$HUB_TOKEN create_repo local
HAVEN_URL=$HUB_URL TOKEN=$HUB_TOKEN upload_lfs local "$WORK/big.bin" big.bin
rm -f "$WORK/big.bin"

CACHED=$HUB_URL/bench/up/resolve/main/big.bin
LOCAL=$HUB_URL/bench/local/resolve/main/big.bin

# fetch URL: prints bytes/s and the hub's CPU seconds; fails unless the
# whole file arrived.
fetch() {
	local url=$1 out code size speed c0 c1
	c0=$(cpu_ticks "$HUB_PID")
	out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' "$url")
	c1=$(cpu_ticks "$HUB_PID")
	read -r code size speed <<<"$out"
	[[ $code == 200 && $size == "$BYTES" ]] || die "GET $url: HTTP $code, $size of $BYTES bytes"
	echo "$speed $(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN {print t/hz}')"
}

log "first GET through the hub: fills the cache from the upstream"
FILL=$(fetch "$CACHED" | cut -d' ' -f1)
[[ -n $(find "$HUB_DATA/blobs/upstream/lfs" -type f -name "$LFS_OID") ]] || die "the file was not cached"
log "warming the page cache"
fetch "$CACHED" >/dev/null
fetch "$LOCAL" >/dev/null

: >"$WORK/cached.runs"
: >"$WORK/local.runs"
for i in $(seq 1 "$REPS"); do
	# Interleaved, in turns first, so that background noise and order hit both alike.
	if ((i % 2)); then
		fetch "$CACHED" >>"$WORK/cached.runs"
		fetch "$LOCAL" >>"$WORK/local.runs"
	else
		fetch "$LOCAL" >>"$WORK/local.runs"
		fetch "$CACHED" >>"$WORK/cached.runs"
	fi
	log "run $i/$REPS: cached $(mbps "$(tail -n1 "$WORK/cached.runs" | cut -d' ' -f1)" 1) MB/s, local $(mbps "$(tail -n1 "$WORK/local.runs" | cut -d' ' -f1)" 1) MB/s"
done
cut -d' ' -f1 "$WORK/cached.runs" >"$WORK/cached.speeds"
cut -d' ' -f1 "$WORK/local.runs" >"$WORK/local.speeds"
C=$(median <"$WORK/cached.speeds")
L=$(median <"$WORK/local.speeds")
RP=$(printf '%.2f' "$(median_ratio "$WORK/cached.speeds" "$WORK/local.speeds")")
per_gib() { awk -v c="$1" -v b="$BYTES" 'BEGIN {printf "%.2f", c*1073741824/b}'; }
CCPU=$(cut -d' ' -f2 "$WORK/cached.runs" | median)
LCPU=$(cut -d' ' -f2 "$WORK/local.runs" | median)

echo
echo "== upstream: $((BYTES >> 20)) MiB LFS file through the pull-through cache, curl -o /dev/null, median of $REPS (page cache warm)"
echo "   $(machine_line)"
printf '%-34s %10s %14s\n' "hub" "median" "hub CPU"
printf '%-34s %5s MB/s %8s s/GiB\n' "cached upstream file" "$(mbps "$C" 1)" "$(per_gib "$CCPU")"
printf '%-34s %5s MB/s %8s s/GiB\n' "same file in a local repository" "$(mbps "$L" 1)" "$(per_gib "$LCPU")"
printf '%-34s %5s MB/s\n' "first GET (fetched and verified)" "$(mbps "$FILL" 1)"
printf '%-34s %10s   target >= 0.90   %s\n' "median of paired ratios" "$RP" "$(verdict "$RP >= 0.9")"
