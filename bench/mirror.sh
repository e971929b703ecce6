#!/usr/bin/env bash
# Mirrors: copying a repository from another hub, against git itself.
#
# 1. A source Haven holds bench/big: one SIZE_MB (1024) MiB LFS file and
#    FILES (1000) small files. `haven mirror add` copies it into a second data
#    folder (refs, git objects, the LFS file verified by its SHA-256); best of
#    REPS (3). Baseline, in the same run: `git clone` (LFS smudge off) and
#    `git lfs pull` of the same repository from the same source, best of REPS.
#    Target: mirror speed >= 0.8x the baseline's (baseline time / mirror time).
# 2. A no-op sync of a mirror of bench/history, COMMITS (10000) commits:
#    `haven mirror sync` when nothing changed, median of REPS; the time of the
#    whole command (process start, database, git fetch negotiation). Target
#    < 1 s.
#
#   bench/mirror.sh
#   SIZE_MB=256 COMMITS=2000 bench/mirror.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-3}
FILES=${FILES:-1000}
COMMITS=${COMMITS:-10000}
need_tools
command -v git-lfs >/dev/null 2>&1 || need_pkg git-lfs git-lfs
build_haven
setup_haven
start_haven
export GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 HOME=$WORK/home
mkdir -p "$HOME"
git config --global user.name bench
git config --global user.email bench@example.test
git lfs install >/dev/null
auth_url=http://bench:$TOKEN@127.0.0.1:$HAVEN_PORT

log "source: bench/big with a ${SIZE_MB} MiB LFS file and $FILES small files"
create_repo big
make_file "$WORK/big.bin" "$SIZE_MB"
upload_lfs big "$WORK/big.bin" weights.bin
python3 - "$WORK/small.ndjson" "$FILES" <<'PY'
import base64, json, os, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        data = os.urandom(600).hex().encode()
        f.write(json.dumps({"key": "file", "value": {"path": "files/%04d.txt" % i, "encoding": "base64",
                                                    "content": base64.b64encode(data).decode()}}) + "\n")
PY
mapfile -t lines <"$WORK/small.ndjson"
commit big "${lines[@]}"

log "baseline: git clone + git lfs pull"
base_times=()
for i in $(seq "$REPS"); do
	rm -rf "$WORK/clone"
	start=$(date +%s.%N)
	GIT_LFS_SKIP_SMUDGE=1 git clone -q "$auth_url/bench/big" "$WORK/clone"
	git -C "$WORK/clone" lfs pull >/dev/null
	end=$(date +%s.%N)
	cmp -s "$WORK/clone/weights.bin" "$WORK/big.bin" || die "the clone's weights.bin differs"
	base_times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b-a}')")
done
rm -rf "$WORK/clone"

log "haven mirror add"
mirror_times=()
for i in $(seq "$REPS"); do
	MDATA=$WORK/mirror-$i
	mkdir -p "$MDATA"
	"$HAVEN" user create bench --data "$MDATA" >/dev/null 2>&1
	start=$(date +%s.%N)
	"$HAVEN" mirror add "$HAVEN_URL/bench/big" --as bench/big --token "$TOKEN" --mirror-allow-private --data "$MDATA" \
		>"$WORK/mirror.out" 2>&1 || die "mirror add failed: $(tail -5 "$WORK/mirror.out")"
	end=$(date +%s.%N)
	mirror_times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b-a}')")
	oid=$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)
	[[ $(sha256sum "$MDATA/blobs/lfs/${oid:0:2}/${oid:2:2}/$oid" | cut -d' ' -f1) == "$oid" ]] || die "the mirror's LFS object differs"
	[[ $i -lt $REPS ]] && rm -rf "$MDATA"
done

log "source: bench/history with $COMMITS commits (git fast-import, pushed)"
create_repo history
git init -q --bare "$WORK/history.git"
python3 - "$COMMITS" <<'PY' | git -C "$WORK/history.git" fast-import --quiet
import sys
n = int(sys.argv[1])
out = sys.stdout
for i in range(1, n + 1):
    data = ("commit %d\n" % i).encode()
    msg = b"commit %d\n" % i
    out.write("commit refs/heads/main\nmark :%d\ncommitter bench <bench@example.test> %d +0000\n" % (i, 1700000000 + i))
    out.write("data %d\n%s" % (len(msg), msg.decode()))
    if i > 1:
        out.write("from :%d\n" % (i - 1))
    out.write("M 100644 inline file-%d.txt\ndata %d\n%s\n" % (i % 100, len(data), data.decode()))
PY
git -C "$WORK/history.git" push -q -f "$auth_url/bench/history" main
"$HAVEN" mirror add "$HAVEN_URL/bench/history" --as bench/history --token "$TOKEN" --mirror-allow-private --data "$MDATA" \
	>"$WORK/mirror.out" 2>&1 || die "mirror add failed: $(tail -5 "$WORK/mirror.out")"
noop_times=()
for i in $(seq "$REPS"); do
	start=$(date +%s.%N)
	"$HAVEN" mirror sync bench/history --mirror-allow-private --data "$MDATA" >"$WORK/sync.out" 2>&1 ||
		die "sync failed: $(tail -5 "$WORK/sync.out")"
	end=$(date +%s.%N)
	noop_times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b-a}')")
done
grep -q "0 refs moved" "$WORK/sync.out" || die "the no-op sync moved refs: $(cat "$WORK/sync.out")"

best() { printf '%s\n' "$@" | sort -n | head -n1; }
base=$(best "${base_times[@]}")
mir=$(best "${mirror_times[@]}")
noop=$(printf '%s\n' "${noop_times[@]}" | median)
r=$(ratio "$base" "$mir")
machine_line
echo "mirror of ${SIZE_MB} MiB LFS + $FILES files: ${mir}s (runs: ${mirror_times[*]}); git clone + git lfs pull ${base}s (runs: ${base_times[*]}); speed ${r}x the baseline (target >= 0.8): $(verdict "$r >= 0.8")"
echo "no-op sync of $COMMITS commits: ${noop}s median (runs: ${noop_times[*]}; target < 1 s): $(verdict "$noop < 1")"
