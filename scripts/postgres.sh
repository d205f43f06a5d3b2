#!/usr/bin/env bash
# A throwaway PostgreSQL server for development and tests (scale-out mode), started from the
# Debian `postgresql` binaries without touching the system cluster:
#
#   bash scripts/postgres.sh start    # initdb (first time) + start; prints the URL
#   bash scripts/postgres.sh url      # postgresql://heritage@127.0.0.1:<port>/heritage
#   bash scripts/postgres.sh status   # exit 0 when it answers
#   bash scripts/postgres.sh stop     # fast shutdown (the cluster stays for the next start)
#   bash scripts/postgres.sh destroy  # stop and delete the cluster directory
#
# Settings (environment):
#   HERITAGE_PG_DIR   cluster directory   (default: ${TMPDIR:-/tmp}/heritage-postgres-<uid>)
#   HERITAGE_PG_PORT  port on 127.0.0.1   (default: a free port chosen at initdb, then kept)
#
# PostgreSQL refuses to run as root, so when started by root the cluster belongs to the
# `postgres` system user (created by `apt-get install postgresql`). Authentication is `trust`
# on 127.0.0.1 only, and fsync is off: this server is for tests, never for real data.
set -euo pipefail

PG_DIR="${HERITAGE_PG_DIR:-${TMPDIR:-/tmp}/heritage-postgres-$(id -u)}"
DATA="$PG_DIR/data"
LOG="$PG_DIR/server.log"
PORT_FILE="$PG_DIR/port"
DB_NAME=heritage
DB_USER=heritage

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  if [ -z "$dir" ] || [ ! -x "$dir/pg_ctl" ]; then
    echo "postgres.sh: PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2
    exit 1
  fi
  echo "$dir"
}

# Run a command as the cluster's owner (postgres when we are root, else ourselves).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port() {
  if [ -n "${HERITAGE_PG_PORT:-}" ]; then echo "$HERITAGE_PG_PORT"; return; fi
  if [ -f "$PORT_FILE" ]; then cat "$PORT_FILE"; return; fi
  echo "postgres.sh: no cluster in $PG_DIR yet; run: bash scripts/postgres.sh start" >&2
  exit 1
}

url() {
  echo "postgresql://$DB_USER@127.0.0.1:$(port)/$DB_NAME"
}

is_running() {
  [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

init_cluster() {
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "postgres.sh: running as root needs the 'postgres' user (apt-get install postgresql)" >&2; exit 1; }
    chown postgres: "$PG_DIR"
    # the parent may be private to root (e.g. /root/...): postgres must be able to reach the dir
    parent="$(dirname "$PG_DIR")"
    runuser -u postgres -- test -x "$parent" || { echo "postgres.sh: user postgres cannot enter $parent; set HERITAGE_PG_DIR elsewhere" >&2; exit 1; }
  fi
  chmod 700 "$PG_DIR"
  local p="${HERITAGE_PG_PORT:-$(free_port)}"
  as_owner "$BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
    || { echo "postgres.sh: initdb failed, see $PG_DIR/initdb.log" >&2; tail -5 "$PG_DIR/initdb.log" >&2; exit 1; }
  cat >>"$DATA/postgresql.conf" <<EOF
# --- heritage test server (scripts/postgres.sh) ---
listen_addresses = '127.0.0.1'
port = $p
unix_socket_directories = '$PG_DIR'
max_connections = 400
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_min_error_statement = panic
EOF
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$DATA/pg_hba.conf"
  echo "$p" >"$PORT_FILE"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DATA/postgresql.conf" "$DATA/pg_hba.conf" "$PORT_FILE"; fi
}

start() {
  if [ ! -f "$DATA/PG_VERSION" ]; then init_cluster; fi
  if ! is_running; then
    touch "$LOG"; if [ "$(id -u)" -eq 0 ]; then chown postgres: "$LOG"; fi
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -o "-p $(port)" start >/dev/null \
      || { echo "postgres.sh: the server did not start, see $LOG" >&2; tail -5 "$LOG" >&2; exit 1; }
  fi
  # the application database (idempotent)
  local p; p="$(port)"
  if ! as_owner "$BIN/psql" -h 127.0.0.1 -p "$p" -U "$DB_USER" -d postgres -tAc \
      "select 1 from pg_database where datname = '$DB_NAME'" | grep -q 1; then
    as_owner "$BIN/createdb" -h 127.0.0.1 -p "$p" -U "$DB_USER" "$DB_NAME"
  fi
  url
}

stop() {
  if is_running; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  fi
}

status() {
  if is_running && as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$(port)"; then
    echo "running: $(url) (cluster $PG_DIR)"
  else
    echo "not running (cluster $PG_DIR)"
    return 3
  fi
}

BIN="$(pg_bin)"
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) url ;;
  destroy) stop; rm -rf "$PG_DIR" ;;
  *) echo "usage: $0 start|stop|status|url|destroy" >&2; exit 2 ;;
esac
