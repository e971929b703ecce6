#!/usr/bin/env bash
# start-s3.sh starts a throwaway S3 server for tests: versitygw with its posix
# backend on a temporary folder, listening on 127.0.0.1 on a free port, with
# random keys. It prints shell exports; use it as
#
#   eval "$(scripts/start-s3.sh)"
#   go test ./blob/...
#   kill "$HAVEN_TEST_S3_PID"; rm -rf "$HAVEN_TEST_S3_DIR"
#
# versitygw is installed into $(go env GOPATH)/bin on first use (about a
# minute and a half of building).
set -euo pipefail

version=v1.8.0
bucket=haven-test
bin="$(go env GOPATH)/bin/versitygw"

installed_version() {
	go version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/versity/versitygw" { print $3 }'
}

if [[ ! -x "$bin" || "$(installed_version "$bin")" != "$version" ]]; then
	echo "start-s3: installing versitygw $version into $(dirname "$bin")" >&2
	# Outside any module, so that the project's go.mod is not consulted.
	(cd / && GOFLAGS= go install "github.com/versity/versitygw/cmd/versitygw@$version") >&2
fi

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

base="$(mktemp -d "${TMPDIR:-/tmp}/haven-s3.XXXXXX")"
root="$base/data"
# The posix backend serves each folder under its root as a bucket.
mkdir -p "$root/$bucket"
access="haven$(random_hex 6)"
secret="$(random_hex 20)"

# Pick a free port; if another process takes it first the server exits and
# the next port is tried.
for _ in {1..10}; do
	port=$((20000 + RANDOM % 40000))
	port_in_use "$port" && continue
	setsid "$bin" --quiet --access "$access" --secret "$secret" --port "127.0.0.1:$port" \
		posix "$root" >"$base/versitygw.log" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 1 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		if port_in_use "$port"; then
			cat <<EOF
export HAVEN_TEST_S3_URL='s3://$access:$secret@127.0.0.1:$port/$bucket?secure=false&region=us-east-1'
export HAVEN_TEST_S3_PID=$pid
export HAVEN_TEST_S3_DIR='$base'
# stop with: kill \$HAVEN_TEST_S3_PID; rm -rf "\$HAVEN_TEST_S3_DIR"
EOF
			exit 0
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
done

echo "start-s3: versitygw did not start; its log:" >&2
cat "$base/versitygw.log" >&2
rm -rf "$base"
exit 1
