#!/usr/bin/env bash
# Download of a large LFS file through /resolve, against nginx serving the
# same blob file from the same disk. Target: Haven >= 0.9x nginx.
#
#   bench/download.sh            # 1 GiB file, 7 repetitions each
#   SIZE_MB=256 REPS=3 bench/download.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-7}
need_tools
build_haven
setup_haven
start_haven

log "making a ${SIZE_MB} MiB file and uploading it"
make_file "$WORK/big.bin" "$SIZE_MB"
create_repo dl
upload_lfs dl "$WORK/big.bin" big.bin
rm -f "$WORK/big.bin"
BLOB=$(blob_path "$LFS_OID")
BYTES=$(stat -c %s "$BLOB")
start_nginx "$DATA/blobs/lfs"

HAVEN_DL=$HAVEN_URL/bench/dl/resolve/main/big.bin
NGINX_DL=$NGINX_URL/${LFS_OID:0:2}/${LFS_OID:2:2}/$LFS_OID

mapfile -t NPIDS < <(nginx_pids)

# fetch URL PIDS...: prints bytes/s and the CPU seconds the server processes
# used; fails unless the whole file arrived.
fetch() {
	local url=$1 out code size speed c0 c1
	shift
	c0=$(cpu_ticks "$@")
	out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' "$url")
	c1=$(cpu_ticks "$@")
	read -r code size speed <<<"$out"
	[[ $code == 200 && $size == "$BYTES" ]] || die "GET $url: HTTP $code, $size of $BYTES bytes"
	echo "$speed $(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN {print t/hz}')"
}

log "warming the page cache"
fetch "$HAVEN_DL" "$HAVEN_PID" >/dev/null
fetch "$NGINX_DL" "${NPIDS[@]}" >/dev/null

: >"$WORK/haven.runs"
: >"$WORK/nginx.runs"
for i in $(seq 1 "$REPS"); do
	# Interleaved, so that background noise hits both alike.
	fetch "$HAVEN_DL" "$HAVEN_PID" >>"$WORK/haven.runs"
	fetch "$NGINX_DL" "${NPIDS[@]}" >>"$WORK/nginx.runs"
	log "run $i/$REPS: haven $(mbps "$(tail -n1 "$WORK/haven.runs" | cut -d' ' -f1)" 1) MB/s, nginx $(mbps "$(tail -n1 "$WORK/nginx.runs" | cut -d' ' -f1)" 1) MB/s"
done
cut -d' ' -f1 "$WORK/haven.runs" >"$WORK/haven.speeds"
cut -d' ' -f1 "$WORK/nginx.runs" >"$WORK/nginx.speeds"

H=$(median <"$WORK/haven.speeds")
N=$(median <"$WORK/nginx.speeds")
R=$(ratio "$H" "$N")
# Each haven run against the nginx run right after it: less sensitive to drifting background load.
RP=$(printf '%.2f' "$(median_ratio "$WORK/haven.speeds" "$WORK/nginx.speeds")")
# Server CPU seconds per GiB sent: independent of how busy the machine was.
HCPU=$(cut -d' ' -f2 "$WORK/haven.runs" | median)
NCPU=$(cut -d' ' -f2 "$WORK/nginx.runs" | median)
per_gib() { awk -v c="$1" -v b="$BYTES" 'BEGIN {printf "%.2f", c*1073741824/b}'; }
HMIN=$(sort -g "$WORK/haven.speeds" | head -n1)
HMAX=$(sort -g "$WORK/haven.speeds" | tail -n1)
NMIN=$(sort -g "$WORK/nginx.speeds" | head -n1)
NMAX=$(sort -g "$WORK/nginx.speeds" | tail -n1)

echo
echo "== download: $((BYTES >> 20)) MiB LFS file, curl -o /dev/null, median of $REPS (page cache warm)"
echo "   $(machine_line)"
printf '%-28s %10s %10s %10s %14s\n' "server" "median" "min" "max" "server CPU"
printf '%-28s %5s MB/s %5s MB/s %5s MB/s %8s s/GiB\n' "haven /resolve" "$(mbps "$H" 1)" "$(mbps "$HMIN" 1)" "$(mbps "$HMAX" 1)" "$(per_gib "$HCPU")"
printf '%-28s %5s MB/s %5s MB/s %5s MB/s %8s s/GiB\n' "nginx (same blob file)" "$(mbps "$N" 1)" "$(mbps "$NMIN" 1)" "$(mbps "$NMAX" 1)" "$(per_gib "$NCPU")"
printf '%-28s %10s\n' "ratio of medians" "$R"
printf '%-28s %10s   target >= 0.90   %s\n' "median of paired ratios" "$RP" "$(verdict "$RP >= 0.9")"
