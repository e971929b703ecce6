#!/usr/bin/env bash
# Stops a server started by start-postgres.sh and removes its folder.
#
#   scripts/stop-postgres.sh [DIR]   (default: $HAVEN_TEST_POSTGRES_DIR)
#
# It only touches folders that start-postgres.sh made, so it is safe in a
# trap: trap 'scripts/stop-postgres.sh "$HAVEN_TEST_POSTGRES_DIR"' EXIT
set -euo pipefail

dir=${1:-${HAVEN_TEST_POSTGRES_DIR:-}}
if [ -z "$dir" ] || [ ! -f "$dir/.haven-postgres" ]; then
	printf 'stop-postgres: %s is not a folder made by start-postgres.sh\n' "${dir:-(none)}" >&2
	exit 1
fi

pgbin=$(cat "$dir/pgbin")
owner=$(stat -c %U "$dir/data")
if [ -f "$dir/data/postmaster.pid" ]; then
	if [ "$owner" = "$(id -un)" ]; then
		"$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	else
		runuser -u "$owner" -- "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	fi
fi
rm -rf "$dir"
