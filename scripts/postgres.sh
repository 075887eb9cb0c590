#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the tests, without systemd (see PEERS.md).
#   scripts/postgres.sh start   install if missing, start on 127.0.0.1:54329, print the URL
#   scripts/postgres.sh reset   drop and recreate the database
#   scripts/postgres.sh stop    stop it
#   scripts/postgres.sh url     print the URL
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${STRONGAUTH_PG_PORT:-54329}"
DIR="$PWD/.build-pg"
URL="postgres://sa:sa@127.0.0.1:$PORT/sa"
PGBIN=/usr/lib/postgresql/15/bin

as_postgres() { runuser -u postgres -- "$@"; }
psql_admin() { as_postgres "$PGBIN/psql" -h "$DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -q "$@"; }

ensure_installed() {
  if [[ ! -x "$PGBIN/initdb" ]]; then
    if [[ $(id -u) -ne 0 ]]; then
      echo "PostgreSQL 15 is not installed and this is not root: install it (apt-get install postgresql) or run as root" >&2
      exit 1
    fi
    echo "installing PostgreSQL 15 from Debian's packages…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/postgres.sh runs PostgreSQL as the postgres user and must run as root" >&2
    exit 1
  fi
}

running() { as_postgres "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" 2>/dev/null; }

start() {
  ensure_installed
  if running; then echo "$URL"; return; fi
  if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
    rm -rf "$DIR"; mkdir -p "$DIR"; chown postgres "$DIR"
    as_postgres "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  fi
  chown -R postgres "$DIR"
  as_postgres "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c max_connections=200 -c fsync=on" start >/dev/null
  if ! psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='sa'" | grep -q 1; then
    psql_admin -c "CREATE ROLE sa LOGIN PASSWORD 'sa'"
  fi
  if ! psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname='sa'" | grep -q 1; then
    psql_admin -c "CREATE DATABASE sa OWNER sa"
  fi
  echo "$URL"
}

case "${1:-}" in
  start) start ;;
  url) echo "$URL" ;;
  reset)
    start >/dev/null
    psql_admin -c "DROP DATABASE IF EXISTS sa WITH (FORCE)" -c "CREATE DATABASE sa OWNER sa"
    echo "$URL" ;;
  stop)
    if [[ -d "$DIR/data" ]]; then as_postgres "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true; fi ;;
  *) echo "usage: scripts/postgres.sh start|reset|stop|url" >&2; exit 2 ;;
esac
