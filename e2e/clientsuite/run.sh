#!/usr/bin/env bash
# Runs huggingface_hub's own live tests (test_hf_api, test_file_download,
# test_snapshot_download, test_hf_file_system) against a fresh Haven server.
#
#   e2e/clientsuite/run.sh [pytest arguments...]
#
# Environment: PYTHON (default .venv/bin/python), HAVEN_CS_CACHE (where the suite's
# sdist and the pytest plugins are kept, default ~/.cache/haven-clientsuite),
# HAVEN_CS_TIMEOUT (seconds per test, default 180), HAVEN_CS_TESTS (what pytest
# runs, relative to the suite folder, default tests/), HAVEN_CS_KEEP=1 keeps the
# work folder (server data and log, junit.xml).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
uv=${UV:-$(dirname "$python")/uv}
cache=${HAVEN_CS_CACHE:-$HOME/.cache/haven-clientsuite}
timeout=${HAVEN_CS_TIMEOUT:-180}
files=(test_hf_api.py test_file_download.py test_snapshot_download.py test_hf_file_system.py)

version=$("$python" -c 'import huggingface_hub; print(huggingface_hub.__version__)')
mkdir -p "$cache"

# The tests of exactly the installed client, from its sdist (it ships tests/).
sdist="$cache/huggingface_hub-$version.tar.gz"
if [ ! -f "$sdist" ]; then
	"$python" -m pip download --quiet --no-deps --no-binary :all: -d "$cache" "huggingface_hub==$version"
fi
# pytest-timeout and pytest-mock (the suite's mocker fixture), beside the venv.
plugins="$cache/plugins"
if [ ! -f "$plugins/pytest_timeout.py" ] || [ ! -d "$plugins/pytest_mock" ]; then
	"$uv" pip install --quiet --python "$python" --no-deps --target "$plugins" \
		pytest-timeout==2.4.0 pytest-mock==3.17.0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/haven-clientsuite-XXXXXX")
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	if [ "${HAVEN_CS_KEEP:-0}" = 1 ]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

suite="$work/suite"
mkdir -p "$suite/tests"
tar -xzf "$sdist" -C "$work"
src="$work/huggingface_hub-$version/tests"
for f in "${files[@]}" testing_constants.py testing_utils.py; do cp "$src/$f" "$suite/tests/"; done
touch "$suite/tests/__init__.py"
cp "$here/conftest.py" "$suite/tests/conftest.py"
# The plugins load through their entry points (PYTHONPATH below).
printf '[pytest]\n' >"$suite/pytest.ini"

echo "building haven" >&2
(cd "$root" && go build -o "$work/haven" ./cmd/haven)
haven="$work/haven"
data="$work/data"
port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"

admin() { "$haven" "$@" --data "$data"; }
token() { admin token create "$1" --role write --name clientsuite | tail -n 1; }

# The accounts of the suite's staging hub (tests/testing_constants.py).
user=__DUMMY_HUB_USER__ other=DVUser ent_user=EnterpriseAdmin ent_org=EnterpriseOrgPrivate
admin user create "$user" --fullname "Dummy User" --password "clientsuite-$RANDOM$RANDOM" >/dev/null
admin user create "$other" --password "clientsuite-$RANDOM$RANDOM" >/dev/null
admin user create "$ent_user" --password "clientsuite-$RANDOM$RANDOM" >/dev/null
admin org create "$ent_org" --owner "$ent_user" >/dev/null
admin org set "$ent_org" --default-visibility private >/dev/null
admin org create valid_org_hub --fullname "Dummy Hub Org" --owner "$user" >/dev/null

export HAVEN_CS_ENDPOINT=$url HF_ENDPOINT=$url
export HAVEN_CS_USER=$user HAVEN_CS_TOKEN=$(token "$user")
export HAVEN_CS_OTHER_USER=$other HAVEN_CS_OTHER_TOKEN=$(token "$other")
export HAVEN_CS_ENTERPRISE_USER=$ent_user HAVEN_CS_ENTERPRISE_ORG=$ent_org HAVEN_CS_ENTERPRISE_TOKEN=$(token "$ent_user")
export HAVEN_CS_DESELECT="$here/deselect.txt"
export HF_TOKEN= HUGGING_FACE_HUB_TOKEN= DISABLE_SYMLINKS_IN_WINDOWS_TESTS=1
export HF_HUB_DISABLE_TELEMETRY=1 PYTHONPATH="$plugins${PYTHONPATH:+:$PYTHONPATH}"

"$haven" serve --addr "127.0.0.1:$port" --data "$data" --public-url "$url" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
	if curl -fsS "$url/api/health" >/dev/null 2>&1; then break; fi
	if ! kill -0 "$pid" 2>/dev/null; then cat "$work/server.log" >&2; exit 1; fi
	sleep 0.5
done
echo "haven serve on $url (log: $work/server.log)" >&2

set +e
(cd "$suite" && "$python" -m pytest -p no:cacheprovider --timeout "$timeout" -rfE -q \
	--junitxml "$work/junit.xml" "$@" ${HAVEN_CS_TESTS:-tests/})
rc=$?
set -e

[ -f "$work/junit.xml" ] || exit $rc
"$python" - "$work/junit.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET

suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
tests, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
passed = tests - failures - errors - skipped
runnable = passed + failures + errors
rate = 100.0 * passed / runnable if runnable else 0.0
print(f"passed {passed}  failed {failures}  errors {errors}  skipped {skipped}  "
      f"pass rate {passed}/{runnable} = {rate:.1f}%")
PY
exit $rc
