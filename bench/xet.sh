#!/usr/bin/env bash
# Xet storage: deduplication of an edited file and download speeds.
#
# 1. Upload a file with the default Python client (hf_xet), change 1% of it in
#    five places, upload it again. Reports the bytes the server received for
#    the second upload (counted by a relay in front of the server that every
#    request, Hub API and CAS, goes through) and the growth of the Xet store.
#    Targets: both < 5% of the file.
# 2. Download the Xet-stored file through resolve with curl (the server
#    reconstructs it) and the same bytes stored as a plain LFS object.
#    Target: Xet >= 0.7x the LFS throughput.
# 3. The Xet client's own download (hf_hub_download through the CAS).
#
#   bench/xet.sh                 # 1 GiB file, 3 download repetitions
#   SIZE_MB=256 REPS=2 bench/xet.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPS=${REPS:-3}
PY=$REPO_ROOT/.venv/bin/python
[[ -x $PY ]] && "$PY" -c 'import hf_xet' 2>/dev/null || die "needs .venv with huggingface_hub and hf_xet (scripts/setup-test-deps.sh)"
need_tools
build_haven
setup_haven

# A relay that counts the bytes clients send; the server's public URL points
# at it, so CAS traffic goes through it too.
RELAY_PORT=$(free_port)
HAVEN_PORT=$(free_port)
HAVEN_URL=http://127.0.0.1:$RELAY_PORT
"$PY" - "$RELAY_PORT" "$HAVEN_PORT" "$WORK/received" <<'PY' &
import asyncio, sys
listen, target, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
total = 0
async def pipe(r, w, count):
    global total
    try:
        while data := await r.read(1 << 20):
            if count:
                total += len(data)
            w.write(data)
            await w.drain()
    finally:
        w.close()
async def handle(cr, cw):
    sr, sw = await asyncio.open_connection("127.0.0.1", target)
    await asyncio.gather(pipe(cr, sw, True), pipe(sr, cw, False), return_exceptions=True)
async def report():
    while True:
        with open(out + ".tmp", "w") as f:
            f.write(str(total))
        import os; os.replace(out + ".tmp", out)
        await asyncio.sleep(0.1)
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    asyncio.create_task(report())
    await server.serve_forever()
asyncio.run(main())
PY
PIDS+=("$!")
"$HAVEN" serve --addr "127.0.0.1:$HAVEN_PORT" --data "$DATA" --public-url "$HAVEN_URL" >>"$WORK/haven.log" 2>&1 &
HAVEN_PID=$!
PIDS+=("$HAVEN_PID")
wait_http "$HAVEN_URL/api/health"
create_repo xet
create_repo lfs

export HF_ENDPOINT=$HAVEN_URL HF_TOKEN=$TOKEN HF_HOME=$WORK/hf HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1
unset HF_HUB_DISABLE_XET

log "making a ${SIZE_MB} MiB file and an edited copy (1% changed in 5 places)"
make_file "$WORK/v1.bin" "$SIZE_MB"
"$PY" - "$WORK/v1.bin" "$WORK/v2.bin" <<'PY'
import os, sys
data = bytearray(open(sys.argv[1], "rb").read())
n = len(data) // 500  # 0.2% per place, 1% in all
for i in range(5):
    off = (i * 2 + 1) * len(data) // 11
    data[off:off + n] = os.urandom(n)
open(sys.argv[2], "wb").write(data)
PY
BYTES=$(stat -c %s "$WORK/v1.bin")

xet_upload() { "$PY" -c "
import sys
from huggingface_hub import HfApi
HfApi().upload_file(path_or_fileobj=sys.argv[1], path_in_repo='model.bin', repo_id='bench/xet')
" "$1"; }
store_size() { du -sb "$DATA/blobs/xet" 2>/dev/null | cut -f1; }
rx() { sleep 0.3; cat "$WORK/received"; }

t0=$(date +%s.%N)
xet_upload "$WORK/v1.bin"
t1=$(date +%s.%N)
S1=$(store_size)
R0=$(rx)
xet_upload "$WORK/v2.bin"
t2=$(date +%s.%N)
R1=$(rx)
S2=$(store_size)

upload_lfs lfs "$WORK/v2.bin" model.bin

# Downloads talk to the server directly: restart it with its own URL as the
# public one (so that the CAS URL skips the relay too).
stop_haven
HAVEN_URL=http://127.0.0.1:$HAVEN_PORT
"$HAVEN" serve --addr "127.0.0.1:$HAVEN_PORT" --data "$DATA" --public-url "$HAVEN_URL" >>"$WORK/haven.log" 2>&1 &
HAVEN_PID=$!
PIDS+=("$HAVEN_PID")
wait_http "$HAVEN_URL/api/health"
export HF_ENDPOINT=$HAVEN_URL

speed() { awk -v b="$BYTES" -v s="$1" 'BEGIN {printf "%.0f", b / s / 1e6}'; }
curl_speed() {
	curl -sS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" "$HAVEN_URL/bench/$1/resolve/main/model.bin"
}
best() { sort -g | head -n1; }

log "downloading through resolve ($REPS times each)"
XET_S=$(for _ in $(seq "$REPS"); do curl_speed xet; done | best)
LFS_S=$(for _ in $(seq "$REPS"); do curl_speed lfs; done | best)

log "downloading with the Xet client"
CLIENT_S=$(for i in $(seq "$REPS"); do
	rm -rf "$WORK/hf/hub"
	"$PY" -c "
import time
from huggingface_hub import hf_hub_download
t = time.time()
hf_hub_download('bench/xet', 'model.bin')
print(time.time() - t)"
done | best)

awk -v size="$BYTES" -v s1="$S1" -v s2="$S2" -v r="$((R1 - R0))" \
	-v u1="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" -v u2="$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}')" 'BEGIN {
	printf "file                           %d bytes\n", size
	printf "first upload                   %.1f s, Xet store %d bytes (%.1f%% of the file)\n", u1, s1, 100*s1/size
	printf "second upload (1%% edited)      %.1f s\n", u2
	printf "  bytes received by the server %d (%.2f%% of the file, target < 5%%)\n", r, 100*r/size
	printf "  Xet store growth             %d (%.2f%% of the file, target < 5%%)\n", s2-s1, 100*(s2-s1)/size
}'
echo "resolve, Xet-stored (curl)     $(speed "$XET_S") MB/s"
echo "resolve, plain LFS (curl)      $(speed "$LFS_S") MB/s"
awk -v x="$XET_S" -v l="$LFS_S" 'BEGIN {printf "  ratio Xet/LFS                %.2f (target >= 0.70)\n", l/x}'
echo "Xet client (hf_hub_download)   $(speed "$CLIENT_S") MB/s"
