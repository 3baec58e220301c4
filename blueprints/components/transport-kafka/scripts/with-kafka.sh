#!/usr/bin/env bash
# Runs a command with KAFKA_BOOTSTRAP_SERVERS pointing at a Kafka broker, for
# the tests (`make test` runs every test suite through it).
#
# Usage: scripts/with-kafka.sh CMD [ARG...]
#
# When KAFKA_BOOTSTRAP_SERVERS is set, the command runs against that broker.
# Otherwise a throwaway single-node Kafka (KRaft: broker and controller in
# one JVM, its data in a temp dir) is started on free loopback ports,
# KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT is exported to the command, and the
# broker is stopped when the command ends. The broker comes from
# KAFKA_CLASSPATH (a folder of the broker's jars), or KAFKA_HOME (a Kafka
# distribution: its libs/), or the kafka-server-start.sh on PATH; it needs
# java (17+). None of them is an error: the Kafka tests never skip silently.
set -euo pipefail

die() {
	printf 'with-kafka.sh: %s\n' "$*" >&2
	exit 1
}

[ $# -gt 0 ] || die "usage: scripts/with-kafka.sh CMD [ARG...]"
if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
	exec "$@"
fi

# kafka_classpath: the folder of the broker's jars.
kafka_classpath() {
	if [ -n "${KAFKA_CLASSPATH:-}" ]; then
		[ -d "$KAFKA_CLASSPATH" ] || die "KAFKA_CLASSPATH=$KAFKA_CLASSPATH is not a folder (it names a folder of the Kafka broker's jars)"
		printf '%s' "$KAFKA_CLASSPATH"
	elif [ -n "${KAFKA_HOME:-}" ]; then
		[ -d "$KAFKA_HOME/libs" ] || die "KAFKA_HOME=$KAFKA_HOME has no libs/ folder (it names an unpacked Kafka distribution)"
		printf '%s' "$KAFKA_HOME/libs"
	elif command -v kafka-server-start.sh >/dev/null 2>&1; then
		local bin
		bin=$(dirname "$(command -v kafka-server-start.sh)")
		[ -d "$bin/../libs" ] || die "kafka-server-start.sh is on PATH, but $bin/../libs is not there"
		printf '%s' "$bin/../libs"
	else
		die "no Kafka broker, and the Kafka tests need one: set KAFKA_HOME to an unpacked Kafka 3.7+ distribution (https://kafka.apache.org/downloads), or KAFKA_CLASSPATH to a folder of its jars, or KAFKA_BOOTSTRAP_SERVERS to a broker to use"
	fi
}

classpath=$(kafka_classpath)
ls "$classpath"/kafka_2.1[23]-*.jar >/dev/null 2>&1 ||
	die "no kafka_2.13-*.jar in $classpath: it does not hold the Kafka broker's jars"
command -v java >/dev/null 2>&1 ||
	die "java is not on PATH, and the Kafka broker needs it: install a JDK or JRE 17+ (apt install openjdk-17-jre-headless)"

dir=$(mktemp -d "${TMPDIR:-/tmp}/with-kafka.XXXXXX")
pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	(exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1")
}

java_opts=(-Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true -cp "$classpath/*")

# Random free ports (the broker's, and the controller's next to it);
# another process may take one first, so retry a few times.
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	controller=$((port + 1))
	port_open "$port" && continue
	port_open "$controller" && continue
	rm -rf "$dir/data"
	cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
	java "${java_opts[@]}" kafka.tools.StorageTool format -t "$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null)" \
		-c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
		die "formatting the Kafka storage failed:
$(tail -5 "$dir/format.log")"
	java "${java_opts[@]}" -Dlog4j2.level=WARN kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || break
		port_open "$port" && break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null && port_open "$port"; then
		export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$port"
		status=0
		"$@" || status=$?
		exit "$status"
	fi
	wait "$pid" 2>/dev/null || true
	pid=
done
die "the Kafka broker did not start; its last log lines:
$(tail -5 "$dir/kafka.log" 2>/dev/null)"
