#!/usr/bin/env bash
# Server memory.
#
# 1. Downloads: 20 clients each download the large LFS file at once.
#    Target: Haven's peak RSS < 150 MB. Baseline in the same run: nginx
#    serving the same blob file to the same 20 clients.
# 2. Uploads: 10 Python clients (huggingface_hub upload_file) each upload a
#    different large file at once, once as plain LFS (HF_HUB_DISABLE_XET=1)
#    and once through Xet (hf_xet), each on a fresh server. Targets: peak RSS
#    < 200 MB, and a minute after the last upload RSS within 20% of the
#    server's idle RSS (the baseline, taken before the uploads). Needs the
#    Python test environment (.venv with huggingface_hub and hf_xet); skipped
#    without it. With BLOB=s3 the upload servers keep their objects in S3
#    (versitygw, scripts/start-s3.sh), so the S3 part buffers are counted;
#    S3_PARAMS adds parameters to the store's URL (max_buffers=4), and
#    SERVE_FLAGS words to `haven serve` (--xet-convert=false). Plain LFS
#    uploads are converted into Xet in the background: unless
#    --xet-convert=false, the part waits for the conversions (up to
#    CONVERT_WAIT s, 600), and the peak, the sampled RSS and the minute count
#    to their end (the peak at the uploads' end is reported too).
#
# Peak RSS is the kernel's high-water mark (VmHWM in /proc/PID/status) of a
# server started fresh for the measurement; VmRSS is also sampled every 50 ms.
#
#   bench/memory.sh
#   SIZE_MB=256 CLIENTS=20 bench/memory.sh
#   PARTS=upload UPLOAD_MB=256 UPLOADERS=10 bench/memory.sh
#   PARTS=upload UPLOAD_MODES=xet SETTLE=60 bench/memory.sh
#   PARTS=upload UPLOAD_MODES=lfs BLOB=s3 bench/memory.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools
CLIENTS=${CLIENTS:-20}
PARTS=${PARTS:-download upload}
UPLOADERS=${UPLOADERS:-10}
UPLOAD_MB=${UPLOAD_MB:-$SIZE_MB}
SETTLE=${SETTLE:-60}
PY=$REPO_ROOT/.venv/bin/python

# status_kb PID FIELD: a Vm* field of /proc/PID/status in kB (0 when gone).
status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k*1024/1e6}'; }

# sample PIDS...: until killed, writes the largest total VmRSS and the largest
# total RssAnon (heap, stacks: what is not file-backed) seen, in kB, to $WORK/sampled.
sample() {
	local max=0 maxanon=0 total anon pid
	while :; do
		read -r total anon < <(for pid in "$@"; do cat "/proc/$pid/status" 2>/dev/null; done |
			awk '$1 == "VmRSS:" {r += $2} $1 == "RssAnon:" {a += $2} END {print r + 0, a + 0}')
		if ((total > max || anon > maxanon)); then
			((total > max)) && max=$total
			((anon > maxanon)) && maxanon=$anon
			echo "$max $maxanon" >"$WORK/sampled"
		fi
		sleep 0.05
	done
}

# load URL: CLIENTS concurrent full downloads; prints wall seconds; fails on short reads.
load() {
	local i t0 t1 bad=0
	t0=$(date +%s.%N)
	for i in $(seq 1 "$CLIENTS"); do
		curl -sS -o /dev/null -w '%{http_code} %{size_download}\n' "$1" >"$WORK/client.$i" &
	done
	wait $(jobs -p | grep -vx "$SAMPLER") 2>/dev/null || true
	t1=$(date +%s.%N)
	for i in $(seq 1 "$CLIENTS"); do
		[[ $(cat "$WORK/client.$i") == "200 $BYTES" ]] || bad=$((bad + 1))
	done
	((bad == 0)) || die "$bad of $CLIENTS downloads from $1 failed"
	awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}'
}

downloads() {
	build_haven
	setup_haven
	start_haven
	log "making a ${SIZE_MB} MiB file and uploading it"
	make_file "$WORK/big.bin" "$SIZE_MB"
	create_repo mem
	upload_lfs mem "$WORK/big.bin" big.bin
	rm -f "$WORK/big.bin"
	BYTES=$(stat -c %s "$(blob_path "$LFS_OID")")
	# Warm the page cache so that both servers read from memory.
	cat "$(blob_path "$LFS_OID")" >/dev/null

	# A fresh server: its high-water mark then covers only this load.
	stop_haven
	start_haven
	curl -fsS -o /dev/null "$HAVEN_URL/api/models/bench/mem"

	# Haven.
	H_IDLE=$(status_kb "$HAVEN_PID" VmRSS)
	echo "0 0" >"$WORK/sampled"
	sample "$HAVEN_PID" &
	SAMPLER=$!
	log "$CLIENTS clients downloading from haven"
	H_SECS=$(load "$HAVEN_URL/bench/mem/resolve/main/big.bin")
	kill "$SAMPLER"
	wait "$SAMPLER" 2>/dev/null || true
	read -r H_SAMPLED H_ANON <"$WORK/sampled"
	H_HWM=$(status_kb "$HAVEN_PID" VmHWM)
	stop_haven

	# nginx, one worker per core, same file.
	start_nginx "$DATA/blobs/lfs"
	mapfile -t NPIDS < <(nginx_pids)
	N_IDLE=0
	for p in "${NPIDS[@]}"; do N_IDLE=$((N_IDLE + $(status_kb "$p" VmRSS))); done
	echo "0 0" >"$WORK/sampled"
	sample "${NPIDS[@]}" &
	SAMPLER=$!
	log "$CLIENTS clients downloading from nginx (${#NPIDS[@]} processes)"
	N_SECS=$(load "$NGINX_URL/${LFS_OID:0:2}/${LFS_OID:2:2}/$LFS_OID")
	kill "$SAMPLER"
	wait "$SAMPLER" 2>/dev/null || true
	read -r N_SAMPLED N_ANON <"$WORK/sampled"
	N_HWM=0
	N_WORKER_HWM=0
	for p in "${NPIDS[@]}"; do
		v=$(status_kb "$p" VmHWM)
		N_HWM=$((N_HWM + v))
		((v > N_WORKER_HWM)) && N_WORKER_HWM=$v
	done

	agg() { awk -v n="$CLIENTS" -v b="$BYTES" -v s="$1" 'BEGIN {printf "%.0f", n*b/s/1e6}'; }

	echo
	echo "== memory: $CLIENTS concurrent downloads of a $((BYTES >> 20)) MiB LFS file (page cache warm)"
	echo "   $(machine_line)"
	printf '%-30s %10s %12s %12s %12s %8s %12s\n' server "idle RSS" "peak VmHWM" "max sampled" "of it anon" "wall s" "aggregate"
	printf '%-30s %7s MB %9s MB %9s MB %9s MB %8.1f %7s MB/s\n' "haven /resolve" "$(mb "$H_IDLE")" "$(mb "$H_HWM")" \
		"$(mb "$H_SAMPLED")" "$(mb "$H_ANON")" "$H_SECS" "$(agg "$H_SECS")"
	printf '%-30s %7s MB %9s MB %9s MB %9s MB %8.1f %7s MB/s\n' "nginx (all ${#NPIDS[@]} processes)" "$(mb "$N_IDLE")" \
		"$(mb "$N_HWM")" "$(mb "$N_SAMPLED")" "$(mb "$N_ANON")" "$N_SECS" "$(agg "$N_SECS")"
	printf '%-30s %10s %9s MB\n' "nginx (largest process)" "" "$(mb "$N_WORKER_HWM")"
	printf '%-30s %10s %9s MB   target < 150 MB   %s\n' "haven peak" "" "$(mb "$H_HWM")" "$(verdict "$H_HWM * 1024 < 150e6")"
}

# uploads MODE: UPLOADERS Python clients at once, each uploading its own
# UPLOAD_MB file to its own repository of a fresh server; MODE is lfs
# (HF_HUB_DISABLE_XET=1) or xet. Prints one table row and appends the
# verdicts to $WORK/verdicts.
uploads() {
	local mode=$1 i bad=0 t0 t1 idle idleanon hwm after afteranon sampled anon logstart conv
	local -a up=()
	DATA=$WORK/data-$mode
	mkdir -p "$DATA"
	"$HAVEN" user create bench --data "$DATA" "${STORE[@]}" >/dev/null 2>&1
	TOKEN=$("$HAVEN" token create bench --role write --data "$DATA" "${STORE[@]}" 2>/dev/null | tail -n1)
	logstart=$(($(stat -c %s "$WORK/haven.log" 2>/dev/null || echo 0) + 1))
	start_haven "${STORE[@]}" ${SERVE_FLAGS:-}
	for i in $(seq 1 "$UPLOADERS"); do create_repo "up$i"; done
	sleep 2
	idle=$(status_kb "$HAVEN_PID" VmRSS)
	idleanon=$(status_kb "$HAVEN_PID" RssAnon)
	echo "0 0" >"$WORK/sampled"
	sample "$HAVEN_PID" &
	SAMPLER=$!
	log "$UPLOADERS clients uploading ${UPLOAD_MB} MiB each ($mode)"
	t0=$(date +%s.%N)
	for i in $(seq 1 "$UPLOADERS"); do
		(
			[[ $mode == lfs ]] && export HF_HUB_DISABLE_XET=1
			HF_ENDPOINT=$HAVEN_URL HF_TOKEN=$TOKEN HF_HOME=$WORK/hf-$mode-$i HF_HUB_DISABLE_PROGRESS_BARS=1 \
				HF_HUB_DISABLE_TELEMETRY=1 "$PY" -c '
import sys
from huggingface_hub import HfApi
HfApi().upload_file(path_or_fileobj=sys.argv[1], path_in_repo="big.bin", repo_id=sys.argv[2])' \
				"$WORK/up.$i" "bench/up$i" >"$WORK/uploader.$i" 2>&1
		) &
		up+=("$!")
	done
	wait "${up[@]}" || true
	t1=$(date +%s.%N)
	read -r sampled anon <"$WORK/sampled"
	hwm=$(status_kb "$HAVEN_PID" VmHWM)
	for i in $(seq 1 "$UPLOADERS"); do
		curl -fsS -o /dev/null -r 0-0 "$HAVEN_URL/bench/up$i/resolve/main/big.bin" || {
			bad=$((bad + 1))
			tail -n 5 "$WORK/uploader.$i" >&2
		}
	done
	((bad == 0)) || die "$bad of $UPLOADERS $mode uploads failed"
	# LFS uploads are converted into Xet in the background (unless
	# --xet-convert=false): wait for the conversions, whose memory counts too.
	conv=""
	if [[ $mode == lfs && " ${SERVE_FLAGS:-} " != *" --xet-convert=false "* ]]; then
		local n=0 waited=0
		while ((waited < ${CONVERT_WAIT:-600})); do
			n=$(tail -c +"$logstart" "$WORK/haven.log" | grep -c 'converted an LFS object' || true)
			((n >= UPLOADERS)) && break
			sleep 1
			waited=$((waited + 1))
		done
		conv="; $n of $UPLOADERS conversions done $(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b-a}') s after the uploads"
		conv+="; at the uploads' end: peak $(mb "$hwm") MB, max sampled $(mb "$sampled") MB (anonymous $(mb "$anon") MB)"
		read -r sampled anon <"$WORK/sampled"
		hwm=$(status_kb "$HAVEN_PID" VmHWM)
	fi
	kill "$SAMPLER"
	wait "$SAMPLER" 2>/dev/null || true
	log "waiting ${SETTLE} s"
	sleep "$SETTLE"
	after=$(status_kb "$HAVEN_PID" VmRSS)
	afteranon=$(status_kb "$HAVEN_PID" RssAnon)
	stop_haven
	rm -rf "$DATA"
	printf '%-22s %7s MB %9s MB %9s MB %9s MB %9s MB %8.1f %7s MB/s\n' "haven ($mode)" "$(mb "$idle")" "$(mb "$hwm")" \
		"$(mb "$sampled")" "$(mb "$anon")" "$(mb "$after")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}')" \
		"$(awk -v n="$UPLOADERS" -v m="$UPLOAD_MB" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n*m*1048576/(b-a)/1e6}')"
	printf '%-22s peak %s MB < 200 MB: %s; after %s s %s MB within 20%% of idle %s MB: %s (anonymous: %s MB, idle %s MB)%s\n' \
		"haven ($mode)" "$(mb "$hwm")" "$(verdict "$hwm * 1024 < 200e6")" "$SETTLE" "$(mb "$after")" "$(mb "$idle")" \
		"$(verdict "$after <= 1.2 * $idle")" "$(mb "$afteranon")" "$(mb "$idleanon")" "$conv" >>"$WORK/verdicts"
}

if [[ " $PARTS " == *" download "* ]]; then
	downloads
fi
if [[ " $PARTS " == *" upload "* ]]; then
	[[ -x $PY ]] && "$PY" -c 'import huggingface_hub, hf_xet' 2>/dev/null ||
		die "the upload part needs .venv with huggingface_hub and hf_xet (scripts/setup-test-deps.sh); PARTS=download skips it"
	[[ -n ${HAVEN:-} ]] || build_haven
	STORE=()
	if [[ ${BLOB:-} == s3 ]]; then
		start_s3
		STORE=(--blob-store "$HAVEN_TEST_S3_URL${S3_PARAMS:+&$S3_PARAMS}")
	fi
	log "making $UPLOADERS different files of ${UPLOAD_MB} MiB"
	for i in $(seq 1 "$UPLOADERS"); do
		head -c $((UPLOAD_MB << 20)) /dev/zero |
			openssl enc -aes-128-ctr -nosalt -pass "pass:haven-upload-$i" -pbkdf2 2>/dev/null >"$WORK/up.$i"
	done
	: >"$WORK/verdicts"
	: >"$WORK/rows"
	for mode in ${UPLOAD_MODES:-lfs xet}; do
		uploads "$mode" >>"$WORK/rows"
	done
	echo
	echo "== memory: $UPLOADERS concurrent uploads of different ${UPLOAD_MB} MiB files (huggingface_hub upload_file)${STORE:+, blobs in S3}"
	echo "   $(machine_line)"
	printf '%-22s %10s %12s %12s %12s %12s %8s %12s\n' server "idle RSS" "peak VmHWM" "max sampled" "of it anon" \
		"${SETTLE} s later" "wall s" "aggregate"
	cat "$WORK/rows"
	cat "$WORK/verdicts"
fi
