#!/usr/bin/env bash
# Runs a command with RABBITMQ_URL pointing at a RabbitMQ broker, for the
# tests (`make test` runs every test suite through it).
#
# Usage: scripts/with-rabbitmq.sh CMD [ARG...]
#
# When RABBITMQ_URL is set, the command runs against that broker. Otherwise
# a throwaway rabbitmq-server (its own node name, data and Erlang cookie in a
# temp dir) is started on a free loopback port with a random password,
# RABBITMQ_URL=amqp://braid:PASSWORD@127.0.0.1:PORT/ is exported to the
# command, and the broker is stopped when the command ends. No
# rabbitmq-server is an error: the RabbitMQ tests never skip silently.
set -euo pipefail

die() {
	printf 'with-rabbitmq.sh: %s\n' "$*" >&2
	exit 1
}

[ $# -gt 0 ] || die "usage: scripts/with-rabbitmq.sh CMD [ARG...]"
if [ -n "${RABBITMQ_URL:-}" ]; then
	exec "$@"
fi

# The server script itself: Debian's /usr/sbin/rabbitmq-server switches to
# the rabbitmq user, who cannot write our temp dir.
server=
for candidate in /usr/lib/rabbitmq/bin/rabbitmq-server "$(command -v rabbitmq-server 2>/dev/null || true)"; do
	if [ -n "$candidate" ] && [ -x "$candidate" ]; then
		server=$candidate
		break
	fi
done
[ -n "$server" ] ||
	die "rabbitmq-server is not on PATH, and the RabbitMQ tests need one: install RabbitMQ 3.10+ (apt install rabbitmq-server, brew install rabbitmq), or set RABBITMQ_URL to a broker to use"

dir=$(mktemp -d "${TMPDIR:-/tmp}/with-rabbitmq.XXXXXX")
pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		# The script's process group: the Erlang VM and its helpers.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

umask 077
password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
node=braid-$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# amqp_answers PORT: true when the broker answers the AMQP 0-9-1 header with
# connection.start (frame type 1, channel 0): it is booted, not only listening.
amqp_answers() {
	local reply
	reply=$(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'AMQP\0\0\011\001' >&3
		head -c 1 <&3 | od -An -tx1 | tr -d ' \n'
	) || return 1
	[ "$reply" = 01 ]
}

# A random free port (and the next one for Erlang distribution); another
# process may take one first, so retry a few times.
set -m
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	dist=$((port + 1))
	port_open "$port" && continue
	port_open "$dist" && continue
	printf 'listeners.tcp.default = 127.0.0.1:%s\ndefault_user = braid\ndefault_pass = %s\nloopback_users = none\n' \
		"$port" "$password" >"$dir/rabbitmq.conf"
	printf '[].\n' >"$dir/enabled_plugins"
	HOME=$dir RABBITMQ_NODENAME="$node@localhost" RABBITMQ_NODE_PORT=$port RABBITMQ_DIST_PORT=$dist \
		RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_PID_FILE="$dir/rabbitmq.pid" \
		"$server" >"$dir/rabbitmq.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || break
		amqp_answers "$port" && break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null && amqp_answers "$port"; then
		set +m
		export RABBITMQ_URL="amqp://braid:$password@127.0.0.1:$port/"
		status=0
		"$@" || status=$?
		exit "$status"
	fi
	wait "$pid" 2>/dev/null || true
	pid=
done
die "rabbitmq-server did not start; its last log lines:
$(tail -5 "$dir/rabbitmq.log" 2>/dev/null)"
