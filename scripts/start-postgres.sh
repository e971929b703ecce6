#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for tests on 127.0.0.1, in a new
# temporary folder, and prints shell lines to eval:
#
#   eval "$(scripts/start-postgres.sh [PORT])"
#   go test ./meta/...
#   scripts/stop-postgres.sh "$HAVEN_TEST_POSTGRES_DIR"
#
# Without PORT (or HAVEN_TEST_POSTGRES_PORT) a free port is chosen. The
# server trusts local connections, skips fsync and lives only as long as
# its folder. PostgreSQL refuses to run as root, so as root it runs as the
# "postgres" user (or "nobody"). When no PostgreSQL is installed it is
# installed from the distribution's packages.
set -euo pipefail

log() { printf 'start-postgres: %s\n' "$*" >&2; }

find_bin() {
	local d
	for d in ${PGBIN:-} /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

if ! pgbin=$(find_bin); then
	if [ "$(id -u)" -ne 0 ]; then
		log "PostgreSQL is not installed and only root can install it"
		exit 1
	fi
	log "installing PostgreSQL"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends postgresql >&2
	pgbin=$(find_bin)
fi

# as runs a command as the server's user.
owner=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
	owner=postgres
	id "$owner" >/dev/null 2>&1 || owner=nobody
fi
as() {
	if [ "$owner" = "$(id -un)" ]; then
		"$@"
	else
		runuser -u "$owner" -- "$@"
	fi
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/haven-postgres.XXXXXX")
touch "$dir/.haven-postgres" # lets stop-postgres.sh recognise the folder
echo "$pgbin" >"$dir/pgbin"
chown -R "$owner" "$dir"
chmod 0700 "$dir"
trap 'rm -rf "$dir"' ERR

as "$pgbin/initdb" -D "$dir/data" -U haven --auth=trust --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

port=${1:-${HAVEN_TEST_POSTGRES_PORT:-}}
tries=1
[ -n "$port" ] || tries=5
for ((i = 1; i <= tries; i++)); do
	p=${port:-$(free_port)}
	if as "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
		-o "-c listen_addresses=127.0.0.1 -p $p -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		>/dev/null 2>&1; then
		port=$p
		break
	fi
	# Another process may have taken the port between the check and the start.
	[ "$i" -lt "$tries" ] || { cat "$dir/server.log" >&2; rm -rf "$dir"; exit 1; }
done

as "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U haven haven

log "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') listening on 127.0.0.1:$port, data in $dir"
echo "export HAVEN_TEST_POSTGRES_DSN='postgres://haven@127.0.0.1:$port/haven?sslmode=disable'"
echo "export HAVEN_TEST_POSTGRES_DIR='$dir'"
