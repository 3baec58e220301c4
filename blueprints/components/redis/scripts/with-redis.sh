#!/usr/bin/env bash
# Runs a command with REDIS_URL pointing at a Redis server, for the tests
# (`make test` runs every test suite through it).
#
# Usage: scripts/with-redis.sh CMD [ARG...]
#
# When REDIS_URL is set, the command runs against that server. Otherwise a
# throwaway redis-server is started on a free loopback port with a random
# password, REDIS_URL=redis://:PASSWORD@127.0.0.1:PORT/0 is exported to the
# command, and the server is stopped when the command ends. No redis-server on
# PATH is an error: the Redis tests never skip silently.
set -euo pipefail

die() {
	printf 'with-redis.sh: %s\n' "$*" >&2
	exit 1
}

[ $# -gt 0 ] || die "usage: scripts/with-redis.sh CMD [ARG...]"
if [ -n "${REDIS_URL:-}" ]; then
	exec "$@"
fi
command -v redis-server >/dev/null 2>&1 ||
	die "redis-server is not on PATH, and the Redis tests need one: install Redis 7+ (apt install redis-server, brew install redis), or set REDIS_URL to a Redis server to use"

dir=$(mktemp -d "${TMPDIR:-/tmp}/with-redis.XXXXXX")
pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

umask 077
password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A random free port; another process may take it first, so retry a few times.
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	port_open "$port" && continue
	printf 'port %s\nbind 127.0.0.1\nrequirepass %s\nsave ""\nappendonly no\ndir %s\n' \
		"$port" "$password" "$dir" >"$dir/redis.conf"
	redis-server "$dir/redis.conf" >"$dir/redis.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		port_open "$port" && break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null && port_open "$port"; then
		export REDIS_URL="redis://:$password@127.0.0.1:$port/0"
		status=0
		"$@" || status=$?
		exit "$status"
	fi
	wait "$pid" 2>/dev/null || true
	pid=
done
die "redis-server did not start; its last log lines:
$(tail -5 "$dir/redis.log" 2>/dev/null)"
