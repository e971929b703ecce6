#!/usr/bin/env bash
# Installs what the test suites need: git-lfs and PostgreSQL from Debian,
# a Python virtual environment with the official Hugging Face client, and the
# JavaScript client for the e2e/js suite. Safe to run again; fast once done.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

HF_HUB_VERSION=2.4.0
PYTEST_VERSION=9.2.0
DATASETS_VERSION=5.2.0 # e2e/python_datasets: load_dataset against the hub and its viewer
UV_VERSION=0.13.8            # builds the Python environments of Spaces (the process runner)
GRADIO_CLIENT_VERSION=2.7.2  # e2e/python_spaces: calls a Gradio Space through Haven's proxy
OPENAI_VERSION=3.51.0        # e2e/python_inference: the OpenAI SDK against /inference/v1

log() { printf 'setup-test-deps: %s\n' "$*" >&2; }

# Debian packages, only when something is missing.
missing=()
command -v git >/dev/null 2>&1 || missing+=(git)
command -v git-lfs >/dev/null 2>&1 || missing+=(git-lfs)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	missing+=(postgresql)
fi
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
# Headless Chromium for the browser tests of the web pages (e2e/browser).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# A container engine for the OCI runner's tests (runner/oci, Docker Spaces),
# with runc and a static busybox to build test images from: no registry.
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
[ -x /bin/busybox ] || missing+=(busybox-static)
if ((${#missing[@]})); then
	if [ "$(id -u)" -ne 0 ]; then
		log "missing ${missing[*]} and not root: install them first"
		exit 1
	fi
	log "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# git-lfs filters for the current user (the e2e tests set up their own HOME as well).
if ! git config --global --get filter.lfs.process >/dev/null 2>&1; then
	git lfs install --skip-repo >/dev/null
fi

# Python: a virtual environment with pinned clients. A stamp file records the pins
# so a re-run does nothing unless they change.
py_stamp=".venv/.haven-deps"
py_want="huggingface_hub==${HF_HUB_VERSION} pytest==${PYTEST_VERSION} datasets==${DATASETS_VERSION} uv==${UV_VERSION} gradio_client==${GRADIO_CLIENT_VERSION} openai==${OPENAI_VERSION}"
if [ ! -x .venv/bin/python ] || [ "$(cat "$py_stamp" 2>/dev/null)" != "$py_want" ]; then
	if [ ! -x .venv/bin/python ]; then
		log "creating .venv"
		python3 -m venv .venv || {
			if [ "$(id -u)" -eq 0 ]; then
				apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
				python3 -m venv .venv
			else
				exit 1
			fi
		}
	fi
	log "pip install $py_want"
	# shellcheck disable=SC2086
	.venv/bin/python -m pip install -q --disable-pip-version-check $py_want
	printf '%s' "$py_want" >"$py_stamp"
fi

# JavaScript: npm ci from the committed lock file, only when the lock changed.
# e2e/js holds the official JavaScript client, e2e/browser playwright-core.
for js_dir in e2e/js e2e/browser; do
	js_stamp="$js_dir/node_modules/.haven-lock-sha"
	lock_sha=$(sha256sum "$js_dir/package-lock.json" | cut -d' ' -f1)
	if [ "$(cat "$js_stamp" 2>/dev/null)" != "$lock_sha" ]; then
		log "npm ci in $js_dir"
		(cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
		printf '%s' "$lock_sha" >"$js_stamp"
	fi
done

# ONNX Runtime's shared library for the Go engine's tests, as the npm package
# onnxruntime-node ships it; without its install script, which fetches
# optional files from elsewhere.
ort_stamp=e2e/onnxruntime/node_modules/.haven-lock-sha
ort_sha=$(sha256sum e2e/onnxruntime/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$ort_stamp" 2>/dev/null)" != "$ort_sha" ]; then
	log "npm ci --ignore-scripts in e2e/onnxruntime"
	(cd e2e/onnxruntime && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
	printf '%s' "$ort_sha" >"$ort_stamp"
fi

log "ok (root $root)"
