#!/usr/bin/env bash
# Upload of a large file through the signed LFS PUT (the server hashes and
# size-checks the stream, fsyncs and renames it into place). Target: >= 250 MB/s.
# Baseline in the same run: writing the same bytes into the data folder with dd
# and fsync (the disk's own speed), and sha256sum of the file (one core's hash speed).
#
#   bench/upload.sh              # 1 GiB file, 7 repetitions
#   SIZE_MB=256 REPS=3 bench/upload.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-7}
need_tools
build_haven
setup_haven
start_haven
create_repo up

log "making a ${SIZE_MB} MiB file"
make_file "$WORK/big.bin" "$SIZE_MB"
BYTES=$(stat -c %s "$WORK/big.bin")
t0=$(date +%s.%N)
OID=$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)
t1=$(date +%s.%N)
HASH_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}')
STORED=$(blob_path "$OID")
DD_OUT=$DATA/blobs/dd-baseline.bin

: >"$WORK/put.speeds"
: >"$WORK/put.cpu"
: >"$WORK/dd.speeds"
for i in $(seq 1 "$REPS"); do
	rm -f "$STORED"
	href=$(lfs_upload_href up "$OID" "$BYTES")
	[[ -n $href ]] || die "the server already holds the object"
	c0=$(cpu_ticks "$HAVEN_PID")
	read -r secs code < <(lfs_put "$WORK/big.bin" "$href")
	c1=$(cpu_ticks "$HAVEN_PID")
	awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v b="$BYTES" 'BEGIN {print t/hz*1073741824/b}' >>"$WORK/put.cpu"
	[[ $code == 200 ]] || die "PUT answered $code: $(cat "$WORK/put.out")"
	[[ $(stat -c %s "$STORED") == "$BYTES" ]] || die "stored object has the wrong size"
	echo "$BYTES $secs" | awk '{print $1/$2}' >>"$WORK/put.speeds"

	rm -f "$DD_OUT"
	t0=$(date +%s.%N)
	dd if="$WORK/big.bin" of="$DD_OUT" bs=1M conv=fsync status=none
	t1=$(date +%s.%N)
	awk -v n="$BYTES" -v a="$t0" -v b="$t1" 'BEGIN {print n/(b-a)}' >>"$WORK/dd.speeds"
	rm -f "$DD_OUT"
	log "run $i/$REPS: haven PUT $(mbps "$(tail -n1 "$WORK/put.speeds")" 1) MB/s, dd+fsync $(mbps "$(tail -n1 "$WORK/dd.speeds")" 1) MB/s"
done

# The last upload becomes a file of the repository: the commit only succeeds
# for an object the server stored after verifying it.
commit up "{\"key\":\"lfsFile\",\"value\":{\"path\":\"big.bin\",\"algo\":\"sha256\",\"oid\":\"$OID\",\"size\":$BYTES}}"

P=$(median <"$WORK/put.speeds")
D=$(median <"$WORK/dd.speeds")
echo
echo "== upload: $((BYTES >> 20)) MiB through the signed LFS PUT (curl -T), median of $REPS"
echo "   $(machine_line)"
printf '%-36s %9s %9s %9s\n' "" "median" "min" "max"
printf '%-36s %4s MB/s %4s MB/s %4s MB/s\n' "haven LFS PUT (sha256 + fsync)" "$(mbps "$P" 1)" \
	"$(mbps "$(sort -g "$WORK/put.speeds" | head -n1)" 1)" "$(mbps "$(sort -g "$WORK/put.speeds" | tail -n1)" 1)"
printf '%-36s %4s MB/s %4s MB/s %4s MB/s\n' "baseline: dd conv=fsync, same disk" "$(mbps "$D" 1)" \
	"$(mbps "$(sort -g "$WORK/dd.speeds" | head -n1)" 1)" "$(mbps "$(sort -g "$WORK/dd.speeds" | tail -n1)" 1)"
printf '%-36s %4s s/GiB\n' "haven CPU during the PUT (median)" "$(median <"$WORK/put.cpu")"
printf '%-36s %4s MB/s\n' "reference: sha256sum (one run)" "$(mbps "$BYTES" "$HASH_S")"
printf '%-36s %9s\n' "ratio haven/dd" "$(ratio "$P" "$D")"
printf '%-36s %4s MB/s   target >= 250 MB/s   %s\n' "haven LFS PUT" "$(mbps "$P" 1)" "$(verdict "$P >= 250e6")"
