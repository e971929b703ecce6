#!/usr/bin/env bash
# Server CPU of one large upload, by upload path, on one server in one run:
#
# 1. hf_xet through the /v1 routes (POST /v1/xorbs, POST /v1/shards), as the
#    client uploads when the server offers nothing newer (the baseline);
# 2. hf_xet through upload grants and /v2/shards (its default);
# 3. huggingface_hub with HF_HUB_DISABLE_XET=1 (LFS batch API and signed PUTs),
#    and the background conversion of that object to a Xet file, which starts
#    as soon as the PUT is stored: CPU from the start of the upload until the
#    server logs the conversion;
# 4. the same LFS upload on the server restarted with --xet-convert=false.
#
# Each upload is a different file of random bytes (no dedup between them).
# CPU is the server's user+system time (/proc/PID/stat) across the upload.
# The request log shows that each upload took the routes it was meant to.
#
#   bench/xet-cpu.sh                 # 1 GiB files, 3 repetitions
#   SIZE_MB=256 REPS=1 bench/xet-cpu.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-3}
PY=$REPO_ROOT/.venv/bin/python
[[ -x $PY ]] && "$PY" -c 'import hf_xet' 2>/dev/null || die "needs .venv with huggingface_hub and hf_xet (scripts/setup-test-deps.sh)"
need_tools
build_haven
setup_haven
start_haven
export HF_ENDPOINT=$HAVEN_URL HF_TOKEN=$TOKEN HF_HOME=$WORK/hf HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1
unset HF_HUB_DISABLE_XET HF_XET_CLIENT_LEGACY_DIRECT_XORB_UPLOAD HF_XET_CLIENT_SHARD_API_VERSION

# random_file PATH SEED: SIZE_MB MiB of random bytes, different for each seed.
random_file() {
	head -c $((SIZE_MB << 20)) /dev/zero |
		openssl enc -aes-128-ctr -nosalt -pass "pass:haven-xet-cpu-$2" -pbkdf2 2>/dev/null >"$1"
}

# upload REPO FILE [ENV...]: uploads FILE as model.bin with huggingface_hub in
# a fresh process (the client reads its settings at import).
upload() {
	local repo=$1 file=$2
	shift 2
	env "$@" "$PY" -c "
import sys
from huggingface_hub import HfApi
HfApi().upload_file(path_or_fileobj=sys.argv[1], path_in_repo='model.bin', repo_id=sys.argv[2])
" "$file" "bench/$repo"
}

# routes: counts of the upload routes in the request log so far.
routes() {
	local l=$WORK/haven.log
	sleep 0.5 # the server writes its log every 200 ms
	printf 'v1/xorbs=%s v1/shards=%s grants=%s v2/shards=%s lfs-put=%s' \
		"$(grep -c 'method=POST path=/v1/xorbs/' "$l" || true)" "$(grep -c 'method=POST path=/v1/shards ' "$l" || true)" \
		"$(grep -c 'method=POST path=/v1/xorb-grants/' "$l" || true)" "$(grep -c 'method=POST path=/v2/shards ' "$l" || true)" \
		"$(grep -c 'method=PUT path=/lfs/' "$l" || true)"
}

# converted OID: whether the server has logged the conversion of OID (resolve
# would tell too, but it remembers for 5 s that an object was not converted).
converted() { grep -q "msg=\"xet: converted an LFS object\" oid=$1" "$WORK/haven.log"; }

secs() { awk -v t="$1" -v c="$CLK_TCK" 'BEGIN {printf "%.2f", t / c}'; }
RESULTS=$WORK/results
: >"$RESULTS"
for rep in $(seq "$REPS"); do
	for mode in v1 v2 lfs lfsplain; do
		if [[ $mode == lfsplain ]]; then
			stop_haven
			HAVEN_XET_CONVERT=false start_haven
			export HF_ENDPOINT=$HAVEN_URL
		fi
		repo=$mode-$rep
		create_repo "$repo"
		random_file "$WORK/$repo.bin" "$mode$rep"
		before=$(routes)
		c0=$(cpu_ticks "$HAVEN_PID")
		t0=$(date +%s.%N)
		case $mode in
		v1) upload "$repo" "$WORK/$repo.bin" HF_XET_CLIENT_LEGACY_DIRECT_XORB_UPLOAD=1 HF_XET_CLIENT_SHARD_API_VERSION=1 ;;
		v2) upload "$repo" "$WORK/$repo.bin" ;;
		lfs | lfsplain) upload "$repo" "$WORK/$repo.bin" HF_HUB_DISABLE_XET=1 ;;
		esac
		t1=$(date +%s.%N)
		c1=$(cpu_ticks "$HAVEN_PID")
		conv=-
		if [[ $mode == lfs ]]; then
			deadline=$(($(date +%s) + 1800))
			oid=$(sha256sum "$WORK/$repo.bin" | cut -d' ' -f1)
			until converted "$oid"; do
				(($(date +%s) < deadline)) || die "model.bin of $repo was not converted within 30 minutes"
				sleep 0.2
			done
			c2=$(cpu_ticks "$HAVEN_PID")
			conv="upload and conversion $(secs $((c2 - c0))) s CPU, converted $(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s after the upload ended"
		fi
		if [[ $mode == lfsplain ]]; then
			stop_haven
			start_haven
			export HF_ENDPOINT=$HAVEN_URL
		fi
		log "$mode: upload $(secs $((c1 - c0))) s CPU; routes before: $before; after: $(routes)"
		printf '%s\t%s\t%s\t%s\n' "$mode" "$(secs $((c1 - c0)))" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')" "$conv" >>"$RESULTS"
		rm -f "$WORK/$repo.bin"
	done
done

echo "$(machine_line)"
echo "file: $SIZE_MB MiB of random bytes; server CPU (user+system) per upload; $REPS repetitions, modes interleaved"
awk -F'\t' '
	BEGIN {
		name["v1"] = "hf_xet, /v1 routes (baseline)"; name["v2"] = "hf_xet, grants + /v2/shards"
		name["lfs"] = "LFS, converted"; name["lfsplain"] = "LFS, --xet-convert=false"
	}
	{ printf "%-32s upload %6s s CPU, %6s s wall%s\n", name[$1], $2, $3, ($4 == "-" ? "" : "; " $4) }' "$RESULTS"
if ((REPS > 1)); then
	echo "medians:"
	for mode in v1 v2 lfs lfsplain; do
		printf '  %-10s %s s CPU\n' "$mode" "$(awk -F'\t' -v m="$mode" '$1 == m {print $2}' "$RESULTS" | median)"
	done
fi
