#!/usr/bin/env bash
# Runs the spec files (vitest) that @huggingface/hub ships in its npm package
# against a fresh Haven server.
#
#   e2e/clientsuite-js/run.sh [vitest arguments...]
#
# Environment: HAVEN_CSJS_CACHE (where vitest is installed, default
# ~/.cache/haven-clientsuite-js), HAVEN_CSJS_TIMEOUT (milliseconds per test,
# default 60000), HAVEN_CSJS_TESTS (spec files, relative to the package root,
# default all of src/), HAVEN_CSJS_XET=false serves without Xet (haven serve
# --xet=false), HAVEN_CSJS_KEEP=1 keeps the work folder (server data and log,
# report.json).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pkg="$root/e2e/js/node_modules/@huggingface/hub"
cache=${HAVEN_CSJS_CACHE:-$HOME/.cache/haven-clientsuite-js}
timeout=${HAVEN_CSJS_TIMEOUT:-60000}
vitest_version=3.2.4

[ -f "$pkg/src/test/consts.ts" ] || { echo "no $pkg/src: run npm ci in e2e/js first" >&2; exit 1; }
version=$(node -p "require('$pkg/package.json').version")
dep() { node -p "require('$root/e2e/js/node_modules/$1/package.json').version"; }

# vitest and the package's own dependencies, beside the repository rather than in it.
modules="$cache/$version/node_modules"
if [ ! -x "$modules/.bin/vitest" ]; then
	mkdir -p "$cache/$version"
	echo '{"private": true}' >"$cache/$version/package.json"
	(cd "$cache/$version" && npm install --no-audit --no-fund --silent "vitest@$vitest_version" \
		"@huggingface/tasks@$(dep @huggingface/tasks)" "@huggingface/xetchunk-wasm@$(dep @huggingface/xetchunk-wasm)")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/haven-clientsuite-js-XXXXXX")
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	if [ "${HAVEN_CSJS_KEEP:-0}" = 1 ]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The package's sources and specs, as shipped.
suite="$work/hub"
mkdir -p "$suite"
cp -r "$pkg/src" "$pkg/index.ts" "$pkg/tsconfig.json" "$pkg/package.json" "$suite/"
chmod -R u+w "$suite"
ln -s "$modules" "$suite/node_modules"
cp "$here/guard.ts" "$suite/src/test/haven-guard.ts"

echo "building haven" >&2
(cd "$root" && go build -o "$work/haven" ./cmd/haven)
haven="$work/haven"
data="$work/data"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
url="http://localhost:$port"

admin() { "$haven" "$@" --data "$data"; }

# The account of the suite's CI hub (src/test/consts.ts): the user hub.js, whose
# write token is named as on that hub.
user=hub.js
admin user create "$user" --fullname "@huggingface/hub CI bot" --email "hub.js@localhost" \
	--password "clientsuite-$RANDOM$RANDOM" >/dev/null
token=$(admin token create "$user" --role write --name ci-hub.js | tail -n 1)

# TEST_COOKIE is a browser session on the CI hub; only the OAuth spec uses it,
# and that one is deselected (Haven is no OAuth provider for other apps).
cat >"$suite/src/test/consts.ts" <<TS
export const TEST_HUB_URL = "$url";
export const TEST_USER = "$user";
export const TEST_ACCESS_TOKEN = "$token";
export const TEST_COOKIE = "$token";
TS

# deselect.txt: whole spec files are excluded, single tests skipped by the guard.
mapfile -t entries < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$here/deselect.txt")
files=() tests=()
for e in "${entries[@]}"; do
	if [[ "$e" == *" > "* ]]; then tests+=("$e"); else files+=("$e"); fi
done
# Buckets keep their files in Xet only: without it their upload specs cannot run.
if [ "${HAVEN_CSJS_XET:-true}" = false ]; then
	tests+=("src/lib/copy-files.spec.ts > copyFile / copyFiles / copyFolder (integration) > *")
fi
json() { node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- "$@"; }
export HAVEN_CS_DESELECT_TESTS=$(json ${tests[@]+"${tests[@]}"})
cat >"$suite/vitest.config.mts" <<TS
import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		testTimeout: $timeout,
		hookTimeout: $timeout,
		setupFiles: ["./src/test/haven-guard.ts"],
		exclude: ["**/node_modules/**", ...$(json ${files[@]+"${files[@]}"})],
	},
});
TS

export HF_TOKEN= HUGGING_FACE_HUB_TOKEN= HF_ENDPOINT=$url HF_HUB_DISABLE_TELEMETRY=1
export HF_HOME="$work/hf-home"

"$haven" serve --addr "127.0.0.1:$port" --data "$data" --public-url "$url" --xet="${HAVEN_CSJS_XET:-true}" \
	>"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
	if curl -fsS "$url/api/health" >/dev/null 2>&1; then break; fi
	if ! kill -0 "$pid" 2>/dev/null; then cat "$work/server.log" >&2; exit 1; fi
	sleep 0.5
done
echo "haven serve on $url (log: $work/server.log)" >&2
export HAVEN_CS_STANDINS=$(node "$here/standins.mjs" "$url" "$user" "$token" "$suite/src/lib")

set +e
# shellcheck disable=SC2086
(cd "$suite" && node_modules/.bin/vitest run --reporter=default --reporter=json \
	--outputFile.json="$work/report.json" "$@" ${HAVEN_CSJS_TESTS:-})
rc=$?
set -e

[ -f "$work/report.json" ] || exit $rc
node "$here/summary.mjs" "$work/report.json" "$HAVEN_CS_DESELECT_TESTS" "${#files[@]}"
exit $rc
