#!/usr/bin/env bash
# The project's test command (`make test`, `.ci/run`): installs the test
# dependencies, starts a throwaway PostgreSQL and S3 server, runs go vet and
# every Go test (unit, conformance against both services, end-to-end with the
# official clients), and stops the services on exit. Re-runnable; run as root
# on a fresh Debian machine it installs what is missing.
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf 'test.sh: %s\n' "$*" >&2; }

scripts/setup-test-deps.sh

cleanup() {
	local rc=$?
	if [ -n "${HAVEN_TEST_S3_PID:-}" ]; then
		kill "$HAVEN_TEST_S3_PID" 2>/dev/null || true
		wait "$HAVEN_TEST_S3_PID" 2>/dev/null || true
	fi
	if [ -n "${HAVEN_TEST_S3_DIR:-}" ] && [ -d "$HAVEN_TEST_S3_DIR" ]; then
		rm -rf "$HAVEN_TEST_S3_DIR"
	fi
	if [ -n "${containers_conf:-}" ]; then
		rm -f "$containers_conf"
	fi
	if [ -n "${HAVEN_TEST_POSTGRES_DIR:-}" ]; then
		scripts/stop-postgres.sh "$HAVEN_TEST_POSTGRES_DIR" || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting PostgreSQL"
pg_env=$(scripts/start-postgres.sh)
eval "$pg_env"
log "starting the S3 server"
s3_env=$(scripts/start-s3.sh)
eval "$s3_env"
export HAVEN_TEST_POSTGRES_DSN HAVEN_TEST_S3_URL
export HAVEN_TEST_REQUIRE_SERVICES=1

# The container engine's settings for the tests: runc (crun refuses the
# cgroup layout of some machines) and limits no higher than a sandbox allows.
containers_conf=$(mktemp "${TMPDIR:-/tmp}/haven-containers.XXXXXX.conf")
cat >"$containers_conf" <<'CONF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$containers_conf"

log "gofmt, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	printf 'gofmt would change:\n%s\n' "$unformatted" >&2
	exit 1
fi
go vet ./...
# The container image's build, with the Kubernetes runner built in.
go vet -tags kubernetes ./cmd/haven
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

log "go test ./..."
# e2e takes about 12 minutes on a quiet 2-core machine; the limit leaves room
# for a loaded one rather than failing a run that is only slow.
go test -count=1 -timeout 35m "$@" ./...
