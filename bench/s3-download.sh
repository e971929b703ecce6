#!/usr/bin/env bash
# A large LFS download from an S3 blob store through Haven, against curl
# fetching the same object straight from the S3 server (versitygw on the
# local disk, scripts/start-s3.sh), signed with the same keys. Haven streams
# the object, so both paths read the same bytes from the same S3 server; with
# REDIRECT=1 Haven runs with --blob-redirect and answers with a redirect to a
# presigned URL, which curl follows (-L). Runs interleaved, median of REPS.
# Target: Haven ≥ 0.8 × direct.
#
#   REDIRECT=1 bench/s3-download.sh  # the download redirected to S3
#
#   bench/s3-download.sh            # 1 GiB, 5 repetitions
#   SIZE_MB=256 REPS=3 bench/s3-download.sh
#   PROFILE=1 bench/s3-download.sh   # CPU profile of Haven during one download

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-5}
REDIRECT=${REDIRECT:-0}
need_tools


build_haven
start_s3
# s3://ACCESS:SECRET@HOST:PORT/BUCKET?…
S3_ACCESS=$(sed -E 's|^s3://([^:]+):.*|\1|' <<<"$HAVEN_TEST_S3_URL")
S3_SECRET=$(sed -E 's|^s3://[^:]+:([^@]+)@.*|\1|' <<<"$HAVEN_TEST_S3_URL")
S3_HOST=$(sed -E 's|^s3://[^@]+@([^/]+)/.*|\1|' <<<"$HAVEN_TEST_S3_URL")
S3_BUCKET=$(sed -E 's|^s3://[^@]+@[^/]+/([^?/]+).*|\1|' <<<"$HAVEN_TEST_S3_URL")

DATA=$WORK/data
mkdir -p "$DATA"
STORE=(--blob-store "$HAVEN_TEST_S3_URL")
SERVE=()
FOLLOW=()
WANT_REDIRECTS=0
if [[ $REDIRECT == 1 ]]; then
	SERVE=(--blob-redirect)
	FOLLOW=(-L)
	WANT_REDIRECTS=1
fi
"$HAVEN" user create bench --data "$DATA" "${STORE[@]}" >/dev/null 2>&1
TOKEN=$("$HAVEN" token create bench --role write --data "$DATA" "${STORE[@]}" 2>/dev/null | tail -n1)
[[ $TOKEN == hf_* ]] || die "no token: $TOKEN"
HAVEN_PORT=$(free_port)
HAVEN_URL=http://127.0.0.1:$HAVEN_PORT
if [[ ${PROFILE:-0} == 1 ]]; then
	HAVEN_PPROF_ADDR=127.0.0.1:$(free_port)
	PROFILE_DIR=${PROFILE_DIR:-${TMPDIR:-/tmp}/haven-bench-profiles}
	export HAVEN_PPROF_ADDR
fi
"$HAVEN" serve --addr "127.0.0.1:$HAVEN_PORT" --data "$DATA" --public-url "$HAVEN_URL" "${STORE[@]}" "${SERVE[@]}" >>"$WORK/haven.log" 2>&1 &
HAVEN_PID=$!
PIDS+=("$HAVEN_PID")
wait_http "$HAVEN_URL/api/health"

log "making a ${SIZE_MB} MiB file and uploading it"
make_file "$WORK/big.bin" "$SIZE_MB"
BYTES=$(stat -c %s "$WORK/big.bin")
create_repo dl
upload_lfs dl "$WORK/big.bin" big.bin
rm -f "$WORK/big.bin"

HAVEN_DL=$HAVEN_URL/bench/dl/resolve/main/big.bin
S3_DL=http://$S3_HOST/$S3_BUCKET/lfs/${LFS_OID:0:2}/${LFS_OID:2:2}/$LFS_OID
# versitygw asks for the payload hash header; a GET has the empty payload.
S3_SIGN=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS:$S3_SECRET"
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

# fetch NAME URL [CURL-ARGS...]: appends "speed haven-cpu-s s3-cpu-s" to
# $WORK/NAME.runs; fails unless the whole object arrived.
fetch() {
	local name=$1 url=$2 out code size speed h0 h1 s0 s1 redirects
	shift 2
	h0=$(cpu_ticks "$HAVEN_PID") s0=$(cpu_ticks "$HAVEN_TEST_S3_PID")
	out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{speed_download} %{num_redirects}' "$@" "$url")
	h1=$(cpu_ticks "$HAVEN_PID") s1=$(cpu_ticks "$HAVEN_TEST_S3_PID")
	read -r code size speed redirects <<<"$out"
	[[ $code == 200 && $size == "$BYTES" ]] || die "GET $url: HTTP $code, $size of $BYTES bytes"
	[[ $redirects == 0 || ($redirects == 1 && $url == "$HAVEN_DL") ]] || die "GET $url: $redirects redirects"
	[[ $url != "$HAVEN_DL" || $redirects == "$WANT_REDIRECTS" ]] || die "GET $url: $redirects redirects, want $WANT_REDIRECTS"
	echo "$speed $(awk -v t=$((h1 - h0)) -v hz="$CLK_TCK" 'BEGIN {print t/hz}') $(awk -v t=$((s1 - s0)) -v hz="$CLK_TCK" 'BEGIN {print t/hz}')" >>"$WORK/$name.runs"
}

log "warming the page cache"
fetch warm "$HAVEN_DL" "${FOLLOW[@]}"
fetch warm "$S3_DL" "${S3_SIGN[@]}"
if [[ ${PROFILE:-0} == 1 ]]; then
	(sleep 0.5 && profile_cpu 3 s3-download) &
	prof=$!
	fetch warm "$HAVEN_DL" "${FOLLOW[@]}"
	wait "$prof"
fi
: >"$WORK/haven.runs"
: >"$WORK/s3.runs"
for i in $(seq 1 "$REPS"); do
	fetch haven "$HAVEN_DL" "${FOLLOW[@]}"
	fetch s3 "$S3_DL" "${S3_SIGN[@]}"
	log "run $i/$REPS: haven $(mbps "$(tail -n1 "$WORK/haven.runs" | cut -d' ' -f1)" 1) MB/s, S3 direct $(mbps "$(tail -n1 "$WORK/s3.runs" | cut -d' ' -f1)" 1) MB/s"
done
cut -d' ' -f1 "$WORK/haven.runs" >"$WORK/haven.speeds"
cut -d' ' -f1 "$WORK/s3.runs" >"$WORK/s3.speeds"
H=$(median <"$WORK/haven.speeds")
D=$(median <"$WORK/s3.speeds")
RP=$(printf '%.2f' "$(median_ratio "$WORK/haven.speeds" "$WORK/s3.speeds")")
per_gib() { awk -v c="$1" -v b="$BYTES" 'BEGIN {printf "%.2f", c*1073741824/b}'; }

echo
echo "== S3 download: $((BYTES >> 20)) MiB LFS object, curl -o /dev/null, median of $REPS, interleaved"
echo "   $(machine_line)"
printf '%-34s %10s %16s %16s\n' path median "Haven CPU" "S3 server CPU"
via="curl → Haven /resolve → S3"
[[ $REDIRECT == 1 ]] && via="curl -L → Haven 302 → S3"
printf '%-34s %5s MB/s %10s s/GiB %10s s/GiB\n' "$via" "$(mbps "$H" 1)" \
	"$(per_gib "$(cut -d' ' -f2 "$WORK/haven.runs" | median)")" "$(per_gib "$(cut -d' ' -f3 "$WORK/haven.runs" | median)")"
printf '%-34s %5s MB/s %10s s/GiB %10s s/GiB\n' "curl → S3 (SigV4, same object)" "$(mbps "$D" 1)" "-" \
	"$(per_gib "$(cut -d' ' -f3 "$WORK/s3.runs" | median)")"
printf '%-34s %10s   target ≥ 0.80   %s\n' "median of paired ratios" "$RP" "$(verdict "$RP >= 0.8")"
