#!/usr/bin/env bash
# Webhook fan-out: 1,000 events to 10 webhooks, every delivery seen by a
# receiver, with the delivery service stopped and started again on the same
# SQLite database part way through, on 2 cores (TestFanOutThroughput in
# webhooks/throughput_test.go). The baseline is the same 10,000 payloads
# posted straight to the receiver in the same run. Target: all 10,000
# delivered within 30 s, none lost (duplicates are allowed: delivery is
# at least once).
#
#   bench/webhooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	pin=(taskset -c 0,1)
fi
HAVEN_BENCH_WEBHOOKS=1 GOMAXPROCS=2 "${pin[@]}" go test -count=1 -run '^TestFanOutThroughput$' -v ./webhooks | grep '^|'
