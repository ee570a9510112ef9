#!/usr/bin/env bash
# Provisions and runs the real engines on this machine: PostgreSQL and a single-node KRaft
# Apache Kafka broker, with their data in the git-ignored .cache/services/.
#
#   bash scripts/services.sh up       install what is missing, start both, wait until they answer
#   bash scripts/services.sh down     stop both
#   bash scripts/services.sh status   print each one's state; exit 0 only if both are up
#   … up|down|status pg|kafka         the same for one of them (the fault tests stop and restart
#                                     their own instances this way)
#
# `up` prints only `export NAME=value` lines on stdout (everything else goes to stderr), so
#   eval "$(bash scripts/services.sh up)"
# sets DATABASE_URL and KAFKA_BROKERS for the calling shell.
#
# Overridable: PGPORT (5432), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# SERVICES_DIR (.cache/services), SERVICES_TIMEOUT (seconds to wait for each, 90),
# KAFKA_HEAP (-Xmx512m), KAFKA_LIBS_DIR (the broker's jars, $SERVICES_DIR/kafka/libs: point a
# second instance at the first one's to skip resolving them again).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${SERVICES_DIR:-$ROOT/.cache/services}"
PGPORT="${PGPORT:-5432}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
TIMEOUT="${SERVICES_TIMEOUT:-90}"
KAFKA_HEAP="${KAFKA_HEAP:--Xmx512m}"

PG_DIR="$SERVICES_DIR/pg" # may move, see choose_pg_dir
PG_LOG="$PG_DIR.log"
KAFKA_DIR="$SERVICES_DIR/kafka"
KAFKA_LIBS="${KAFKA_LIBS_DIR:-$KAFKA_DIR/libs}"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_POM="$ROOT/scripts/kafka/pom.xml"

DB_NAME=audience
DB_USER=audience
DB_PASSWORD=audience
# Superuser password, used only over 127.0.0.1 by this script.
PG_SUPERPASS=postgres

DATABASE_URL="postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PGPORT/$DB_NAME"
KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# Runs a command as root: directly when we are root, else through sudo without a prompt.
as_root() {
  if is_root; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else die "need root (or password-less sudo) to run: $*"
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Prints the tail of a log file on stderr (used when a service fails to come up).
tail_log() {
  if [ -f "$1" ]; then
    log "---- last lines of $1 ----"
    tail -n "${2:-40}" "$1" >&2 || true
    log "----"
  fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- PostgreSQL

PGBIN=""
find_pg_bin() {
  local d
  # Debian keeps server binaries per major version; take the newest one present.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then PGBIN="$d"; return 0; fi
  done
  d="$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")"
  if [ -x "$d/initdb" ] && [ -x "$d/psql" ] && [ -x "$d/pg_isready" ]; then PGBIN="$d"; return 0; fi
  return 1
}

ensure_pg_installed() {
  find_pg_bin && return 0
  apt_install postgresql
  find_pg_bin || die "postgresql installed but no server binaries found under /usr/lib/postgresql"
  # The package creates and may start a default cluster on 5432; this script's cluster owns
  # the port, so stop the packaged one and keep it from starting on boot.
  if command -v pg_lsclusters >/dev/null 2>&1; then
    local ver name
    while read -r ver name _; do
      as_root pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
      [ -f "/etc/postgresql/$ver/$name/start.conf" ] &&
        echo manual | as_root tee "/etc/postgresql/$ver/$name/start.conf" >/dev/null
    done < <(pg_lsclusters -h 2>/dev/null || true)
  fi
}

# Runs a PostgreSQL server tool as the cluster's owner: `postgres` when we are root
# (initdb and postgres refuse to run as root), else ourselves.
pg_as_owner() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The cluster lives in .cache/services/pg, unless we are root and the postgres user cannot reach
# that folder (a checkout in a private home): then in a folder of its own under /var/tmp.
choose_pg_dir() {
  PG_DIR="$SERVICES_DIR/pg"
  if is_root && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$SERVICES_DIR"; then
    # Named after the checkout, or after SERVICES_DIR when that is not the default (a second
    # instance, e.g. the fault tests', must not share the first one's cluster).
    local key="$ROOT"
    [ "$SERVICES_DIR" = "$ROOT/.cache/services" ] || key="$SERVICES_DIR"
    PG_DIR="/var/tmp/audience-manager-pg-$(printf '%s' "$key" | sha256sum | cut -c1-12)"
  fi
  PG_LOG="$PG_DIR.log"
}

pg_running() { pg_as_owner "$PGBIN/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; }

pg_super_psql() {
  PGPASSWORD="$PG_SUPERPASS" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" \
    -U postgres -d postgres -At "$@"
}

pg_init() {
  [ -f "$PG_DIR/PG_VERSION" ] && return 0
  log "initdb $PG_DIR"
  mkdir -p "$PG_DIR"
  chmod 700 "$PG_DIR"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user (it comes with the postgresql package)"
    chown postgres: "$PG_DIR"
    runuser -u postgres -- test -w "$PG_DIR" || die "user postgres cannot write to $PG_DIR"
  fi
  local pwfile
  pwfile="$(mktemp)"
  printf '%s\n' "$PG_SUPERPASS" >"$pwfile"
  if is_root; then chown postgres: "$pwfile"; fi
  pg_as_owner "$PGBIN/initdb" -D "$PG_DIR" -U postgres --pwfile="$pwfile" -E UTF8 \
    --locale=C --auth-local=trust --auth-host=scram-sha-256 >"$PG_LOG.initdb" 2>&1 ||
    { rm -f "$pwfile"; tail_log "$PG_LOG.initdb"; die "initdb failed"; }
  rm -f "$pwfile"
}

pg_up() {
  ensure_pg_installed
  choose_pg_dir
  [ "$PG_DIR" = "$SERVICES_DIR/pg" ] || log "user postgres cannot reach $SERVICES_DIR; using $PG_DIR"
  pg_init
  if pg_running; then
    log "postgres already running ($PG_DIR)"
  else
    if tcp_open "$PGPORT"; then
      die "port $PGPORT is taken by another process; stop it or set PGPORT"
    fi
    log "starting postgres on 127.0.0.1:$PGPORT"
    [ -f "$PG_LOG" ] || : >"$PG_LOG"
    if is_root; then chown postgres: "$PG_LOG"; fi
    # No unix socket: its path could exceed the 107-byte limit in a deep checkout, and
    # /var/run/postgresql is not writable without root.
    pg_as_owner "$PGBIN/pg_ctl" -D "$PG_DIR" -l "$PG_LOG" -w -t "$TIMEOUT" \
      -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >&2 ||
      { tail_log "$PG_LOG"; die "postgres did not start"; }
  fi
  local deadline=$((SECONDS + TIMEOUT))
  until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; do
    [ "$SECONDS" -lt "$deadline" ] || { tail_log "$PG_LOG"; die "postgres not ready after ${TIMEOUT}s"; }
    sleep 0.5
  done
  pg_super_psql >/dev/null <<SQL || { tail_log "$PG_LOG"; die "could not create role/database"; }
SELECT 'CREATE ROLE $DB_USER LOGIN PASSWORD ''$DB_PASSWORD'''
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') \gexec
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB_NAME') \gexec
-- The test suites create a throwaway database per suite.
ALTER ROLE $DB_USER CREATEDB;
SQL
  "$PGBIN/psql" -X -q -At "$DATABASE_URL" -c 'select 1' >/dev/null ||
    { tail_log "$PG_LOG"; die "postgres is up but $DATABASE_URL does not answer"; }
  log "postgres ready: $DATABASE_URL"
}

pg_down() {
  find_pg_bin || { log "postgres: not installed"; return 0; }
  choose_pg_dir
  if [ -f "$PG_DIR/PG_VERSION" ] && pg_running; then
    log "stopping postgres"
    pg_as_owner "$PGBIN/pg_ctl" -D "$PG_DIR" -m fast -w -t 60 stop >&2
  else
    log "postgres: not running"
  fi
}

pg_status() {
  choose_pg_dir
  if find_pg_bin && [ -f "$PG_DIR/PG_VERSION" ] && pg_running &&
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; then
    log "postgres: up ($DATABASE_URL)"
    return 0
  fi
  log "postgres: down"
  return 1
}

# ---------------------------------------------------------------- Kafka

JAVA=java
java_major() { "$1" -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1; }

# Kafka 4.x brokers need Java 17 or newer.
ensure_java_maven() {
  local pkgs=() major
  major="$( (command -v java >/dev/null 2>&1 && java_major java) || echo 0)"
  [ "${major:-0}" -ge 17 ] || pkgs+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
  [ "${#pkgs[@]}" = 0 ] || apt_install "${pkgs[@]}"
  if [ "${major:-0}" -lt 17 ]; then
    JAVA="$(ls -d /usr/lib/jvm/java-17-openjdk-*/bin/java 2>/dev/null | head -n 1)"
    [ -n "$JAVA" ] || die "no Java 17 found after installing openjdk-17-jre-headless"
  fi
}

kafka_libs() {
  local stamp="$KAFKA_LIBS/.pom.sha256" want
  want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && ls "$KAFKA_LIBS"/kafka_2.13-*.jar >/dev/null 2>&1; then
    return 0
  fi
  log "resolving Kafka jars with Maven (first run only)"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  # Maven 3.8 prints colour codes even with -q -B; strip them.
  mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIBS" 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g' >&2 ||
    die "mvn could not resolve the Kafka jars listed in $KAFKA_POM"
  echo "$want" >"$stamp"
}

kafka_config() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by scripts/services.sh on every 'up'; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
EOF
  cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
EOF
}

KAFKA_JAVA_OPTS=()
kafka_java_opts() {
  KAFKA_JAVA_OPTS=("$KAFKA_HEAP" -Xms128m -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties" "-Dkafka.logs.dir=$KAFKA_DIR")
}

kafka_format() {
  [ -f "$KAFKA_DIR/data/meta.properties" ] && return 0
  local cluster_id
  # A Kafka cluster id is 16 random bytes in URL-safe base64 without padding.
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  log "formatting Kafka storage (cluster $cluster_id)"
  "$JAVA" "${KAFKA_JAVA_OPTS[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$KAFKA_DIR/server.properties" >"$KAFKA_DIR/format.log" 2>&1 ||
    { tail_log "$KAFKA_DIR/format.log"; die "kafka storage format failed"; }
}

kafka_pid_alive() {
  [ -f "$KAFKA_PID" ] || return 1
  local pid
  pid="$(cat "$KAFKA_PID")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka '
}

# A real Metadata request through kafkajs when it is installed, else only a TCP probe.
kafka_answers() {
  tcp_open "$KAFKA_PORT" || return 1
  if [ -f "$ROOT/node_modules/kafkajs/package.json" ] && command -v node >/dev/null 2>&1; then
    (cd "$ROOT" && KAFKA_PROBE_BROKER="$KAFKA_BROKERS" node -e '
      const { Kafka, logLevel } = require("kafkajs");
      const kafka = new Kafka({ clientId: "services-probe", brokers: [process.env.KAFKA_PROBE_BROKER],
        logLevel: logLevel.NOTHING, connectionTimeout: 2000, requestTimeout: 3000, retry: { retries: 0 } });
      const admin = kafka.admin();
      const timer = setTimeout(() => process.exit(1), 5000);
      admin.connect().then(() => admin.listTopics()).then(() => admin.disconnect())
        .then(() => { clearTimeout(timer); process.exit(0); }, () => process.exit(1));
    ') >/dev/null 2>&1
  fi
}

kafka_up() {
  ensure_java_maven
  kafka_libs
  kafka_java_opts
  if kafka_pid_alive; then
    log "kafka already running (pid $(cat "$KAFKA_PID"))"
  else
    tcp_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process; stop it or set KAFKA_PORT"
    tcp_open "$KAFKA_CONTROLLER_PORT" &&
      die "port $KAFKA_CONTROLLER_PORT is taken by another process; stop it or set KAFKA_CONTROLLER_PORT"
    kafka_config
    kafka_format
    log "starting kafka on $KAFKA_BROKERS"
    : >"$KAFKA_LOG"
    nohup "$JAVA" "${KAFKA_JAVA_OPTS[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
      >>"$KAFKA_LOG" 2>&1 </dev/null &
    echo $! >"$KAFKA_PID"
  fi
  local deadline=$((SECONDS + TIMEOUT))
  until kafka_answers; do
    kafka_pid_alive || { tail_log "$KAFKA_LOG"; die "kafka exited during startup"; }
    [ "$SECONDS" -lt "$deadline" ] || { tail_log "$KAFKA_LOG"; die "kafka not answering after ${TIMEOUT}s"; }
    sleep 0.5
  done
  log "kafka ready: $KAFKA_BROKERS"
}

kafka_down() {
  if ! kafka_pid_alive; then
    log "kafka: not running"
    rm -f "$KAFKA_PID"
    return 0
  fi
  local pid i
  pid="$(cat "$KAFKA_PID")"
  log "stopping kafka (pid $pid)"
  kill -TERM "$pid"
  # A controlled shutdown takes a few seconds; force it only if it hangs.
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "kafka did not stop in 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$KAFKA_PID"
}

kafka_status() {
  if kafka_pid_alive && kafka_answers; then
    log "kafka: up ($KAFKA_BROKERS, pid $(cat "$KAFKA_PID"))"
    return 0
  fi
  log "kafka: down"
  return 1
}

# ---------------------------------------------------------------- main

cmd="${1:-}"
only="${2:-}"
case "$only" in
  "" | pg | kafka) ;;
  *) echo "usage: $0 up|down|status [pg|kafka]" >&2; exit 2 ;;
esac
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
case "$cmd" in
  up)
    mkdir -p "$SERVICES_DIR"
    if want pg; then pg_up; fi
    if want kafka; then kafka_up; fi
    if want pg; then printf 'export DATABASE_URL=%s\n' "$DATABASE_URL"; fi
    if want kafka; then printf 'export KAFKA_BROKERS=%s\n' "$KAFKA_BROKERS"; fi
    ;;
  down)
    rc=0
    if want kafka; then kafka_down || rc=1; fi
    if want pg; then pg_down || rc=1; fi
    exit "$rc"
    ;;
  status)
    rc=0
    if want pg; then pg_status || rc=1; fi
    if want kafka; then kafka_status || rc=1; fi
    exit "$rc"
    ;;
  *)
    echo "usage: $0 up|down|status [pg|kafka]" >&2
    exit 2
    ;;
esac
