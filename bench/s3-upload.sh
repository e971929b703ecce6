#!/usr/bin/env bash
# A large LFS upload into an S3 blob store through Haven (the signed PUT that
# the batch API hands out), against the same bytes sent straight to the S3
# server with minio-go's own multipart upload (bench/s3put: 8 MiB parts, 4 in
# flight), all to one versitygw on the local disk (scripts/start-s3.sh).
# With BASE_REV set (default main) a second Haven built from that revision
# runs beside the working tree's, on the same S3 server, so before and after
# are measured in the same run. The servers run without the background
# conversion to Xet, which would read each object back during the next
# upload. Metadata on SQLite: the PUT only reads the token and the
# repository. Runs interleaved, a fresh object each time,
# median of REPS; CPU seconds per GiB of Haven and of the S3 server.
#
#   bench/s3-upload.sh                  # 256 MiB, 5 repetitions, against main
#   SIZE_MB=512 REPS=3 BASE_REV= bench/s3-upload.sh   # no second Haven
#   PROFILE=1 bench/s3-upload.sh        # CPU profile of Haven during one upload

SIZE_MB=${SIZE_MB:-256}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools
REPS=${REPS:-5}
BASE_REV=${BASE_REV-main}

build_haven
NEW_BIN=$HAVEN NEW_LABEL=$HAVEN_LABEL
if [[ -n $BASE_REV ]]; then
	mv "$HAVEN" "$WORK/haven-new"
	NEW_BIN=$WORK/haven-new HAVEN=$WORK/haven-new # profile_cpu reads $HAVEN
	(PROFILE=0 HAVEN_REV=$BASE_REV build_haven && mv "$HAVEN" "$WORK/haven-base" && echo "$HAVEN_LABEL" >"$WORK/base-label")
	BASE_LABEL=$(cat "$WORK/base-label")
fi
log "building bench/s3put"
(cd "$REPO_ROOT" && go build -o "$WORK/s3put" ./bench/s3put)
start_s3

# serve NAME BIN: a Haven on the S3 store with its own data folder; sets
# URL_[NAME], TOKEN_[NAME], PID_[NAME].
declare -A URL_ TOKEN_ PID_
serve() {
	local name=$1 bin=$2 d=$WORK/$1 port
	mkdir -p "$d"
	"$bin" user create bench --data "$d" --blob-store "$HAVEN_TEST_S3_URL" >/dev/null 2>&1
	TOKEN_[$name]=$("$bin" token create bench --role write --data "$d" --blob-store "$HAVEN_TEST_S3_URL" 2>/dev/null | tail -n1)
	[[ ${TOKEN_[$name]} == hf_* ]] || die "$name: no token"
	port=$(free_port)
	URL_[$name]=http://127.0.0.1:$port
	local env=()
	if [[ ${PROFILE:-0} == 1 && $name == new ]]; then
		HAVEN_PPROF_ADDR=127.0.0.1:$(free_port)
		PROFILE_DIR=${PROFILE_DIR:-${TMPDIR:-/tmp}/haven-bench-profiles}
		env=(HAVEN_PPROF_ADDR="$HAVEN_PPROF_ADDR")
	fi
	env "${env[@]}" "$bin" serve --addr "127.0.0.1:$port" --data "$d" --public-url "${URL_[$name]}" \
		--blob-store "$HAVEN_TEST_S3_URL" --xet-convert=false --log-requests=false >>"$WORK/$name.log" 2>&1 &
	PIDS+=("$!")
	PID_[$name]=$!
	wait_http "${URL_[$name]}/api/health"
	HAVEN_URL=${URL_[$name]} TOKEN=${TOKEN_[$name]} create_repo up
}
serve new "$NEW_BIN"
SERVERS=(new)
if [[ -n $BASE_REV ]]; then
	serve base "$WORK/haven-base"
	SERVERS=(base new)
fi

log "making a ${SIZE_MB} MiB file"
make_file "$WORK/big.bin" "$SIZE_MB"
BYTES=$(stat -c %s "$WORK/big.bin")

# put NAME ROUND: one upload of a fresh object (the file plus a marker);
# appends "MB/s haven-cpu-s s3-cpu-s" to $WORK/NAME.runs.
put() {
	local name=$1 oid href secs code h0 h1 s0 s1 pid=
	printf 'round %s %s %s' "$2" "$name" "$RANDOM" >>"$WORK/big.bin"
	oid=$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)
	local size
	size=$(stat -c %s "$WORK/big.bin")
	if [[ $name != direct ]]; then
		HAVEN_URL=${URL_[$name]} TOKEN=${TOKEN_[$name]}
		href=$(lfs_upload_href up "$oid" "$size")
		[[ -n $href ]] || die "$name: no upload URL"
		pid=${PID_[$name]}
	fi
	local prof=
	if [[ $2 == profile ]]; then
		# Both servers' CPU while the PUT runs: Haven's with pprof, the S3
		# server's with perf when it is installed.
		(sleep 0.3 && profile_cpu "${PROFILE_SECS:-3}" s3-upload) &
		prof=$!
		if command -v perf >/dev/null; then
			mkdir -p "$PROFILE_DIR"
			perf record -g -o "$PROFILE_DIR/s3-server.perf" -p "$HAVEN_TEST_S3_PID" -- sleep "$((${PROFILE_SECS:-3} + 1))" >/dev/null 2>&1 &
			prof="$prof $!"
		fi
	fi
	h0=$(cpu_ticks $pid) s0=$(cpu_ticks "$HAVEN_TEST_S3_PID")
	if [[ $name == direct ]]; then
		secs=$("$WORK/s3put" -url "$HAVEN_TEST_S3_URL" -file "$WORK/big.bin" -key "direct/$oid")
	else
		read -r secs code < <(lfs_put "$WORK/big.bin" "$href")
		[[ $code == 200 ]] || die "$name: PUT answered $code: $(cat "$WORK/put.out")"
	fi
	h1=$(cpu_ticks $pid) s1=$(cpu_ticks "$HAVEN_TEST_S3_PID")
	[[ -z $prof ]] || wait $prof || true
	truncate -s "$BYTES" "$WORK/big.bin"
	echo "$(mbps "$size" "$secs") $(awk -v t=$((h1 - h0)) -v hz="$CLK_TCK" 'BEGIN {print t/hz}') $(awk -v t=$((s1 - s0)) -v hz="$CLK_TCK" 'BEGIN {print t/hz}')" >>"$WORK/$name.runs"
}

RUNNERS=("${SERVERS[@]}" direct)
for r in "${RUNNERS[@]}"; do : >"$WORK/$r.runs"; done
if [[ ${PROFILE:-0} == 1 ]]; then
	put new profile
	[[ ! -f $PROFILE_DIR/s3-server.perf ]] || log "perf profile of the S3 server: $PROFILE_DIR/s3-server.perf"
	: >"$WORK/new.runs"
fi
for i in $(seq 1 "$REPS"); do
	for r in "${RUNNERS[@]}"; do put "$r" "$i"; done
	log "run $i/$REPS: $(for r in "${RUNNERS[@]}"; do printf '%s %s MB/s  ' "$r" "$(tail -n1 "$WORK/$r.runs" | cut -d' ' -f1)"; done)"
done

per_gib() { awk -v c="$1" -v b="$BYTES" 'BEGIN {printf "%.2f", c*1073741824/b}'; }
col() { cut -d' ' -f"$2" "$WORK/$1.runs" | median; }
range() { cut -d' ' -f1 "$WORK/$1.runs" | sort -g | sed -n '1p;$p' | paste -sd- -; }
echo
echo "== S3 upload: $((BYTES >> 20)) MiB LFS object, signed PUT (curl -T), median of $REPS, interleaved"
echo "   $(machine_line)"
printf '%-44s %14s %14s %10s %16s\n' path "median MB/s" "(runs)" "Haven CPU" "S3 server CPU"
for r in "${RUNNERS[@]}"; do
	case $r in
	new) label="curl → Haven ($NEW_LABEL) → S3" ;;
	base) label="curl → Haven ($BASE_LABEL) → S3" ;;
	direct) label="s3put → S3 (minio-go, 8 MiB × 4)" ;;
	esac
	hc="-"
	[[ $r != direct ]] && hc="$(per_gib "$(col "$r" 2)") s/GiB"
	printf '%-44s %14s %14s %10s %10s s/GiB\n' "$label" "$(col "$r" 1)" "($(range "$r"))" "$hc" "$(per_gib "$(col "$r" 3)")"
done
if [[ -n $BASE_REV ]]; then
	printf '%-44s %14s\n' "new / base, median of paired ratios" "$(printf '%.2f' "$(median_ratio <(cut -d' ' -f1 "$WORK/new.runs") <(cut -d' ' -f1 "$WORK/base.runs"))")"
fi
printf '%-44s %14s\n' "new / direct, median of paired ratios" "$(printf '%.2f' "$(median_ratio <(cut -d' ' -f1 "$WORK/new.runs") <(cut -d' ' -f1 "$WORK/direct.runs"))")"
