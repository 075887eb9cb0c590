#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the tests and the benchmark, without systemd (see PEERS.md).
#   scripts/postgres.sh start    install if missing, start on 127.0.0.1:54329, print the URL
#   scripts/postgres.sh reset    drop and recreate database sa (starts the server if needed)
#   scripts/postgres.sh stop     stop the server this checkout started
#   scripts/postgres.sh url      print the URL
#   scripts/postgres.sh socket-url   print the URL over the Unix-domain socket (this checkout's server)
#   scripts/postgres.sh status   say whether it answers
# The URL is postgres://sa:sa@127.0.0.1:54329/sa (role sa, password sa, database sa).
# The cluster lives in .build-pg/ of the checkout (git-ignored). When the postgres user cannot
# reach that directory (a checkout under /root) or its socket path would be too long,
# .build-pg is a symbolic link to a directory under /tmp instead.
# As root, PostgreSQL runs as the postgres user (it refuses root); as another user, as that user.
# STRONGAUTH_PG_PORT overrides the port (default 54329).
set -euo pipefail
cd -P "$(dirname "${BASH_SOURCE[0]}")/.."

PORT="${STRONGAUTH_PG_PORT:-54329}"
LINK="$PWD/.build-pg"
URL="postgres://sa:sa@127.0.0.1:$PORT/sa"
PGBIN=/usr/lib/postgresql/15/bin
IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1
DIR=""
[[ -d "$LINK" ]] && DIR="$(readlink -f "$LINK")"

say() { echo "postgres.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# Runs a command as the user that owns the cluster.
as_owner() {
  if [[ $IS_ROOT -eq 1 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
# psql as the superuser over this checkout's Unix socket (trust authentication).
psql_admin() {
  as_owner "$PGBIN/psql" -X -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q "$@"
}
# psql as sa over TCP (password authentication), as any client would connect.
psql_sa() {
  PGCONNECT_TIMEOUT=5 PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -q "$URL" "$@"
}

ensure_installed() {
  if [[ ! -x "$PGBIN/initdb" ]]; then
    if [[ $IS_ROOT -ne 1 ]]; then
      die "PostgreSQL 15 is not installed ($PGBIN/initdb is missing) and this is not root:" \
        "install it (sudo apt-get install -y postgresql) or run this script as root"
    fi
    say "installing PostgreSQL 15 from Debian's packages…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
    [[ -x "$PGBIN/initdb" ]] || die "apt-get installed postgresql but $PGBIN/initdb is still missing (not Debian 12?)"
  fi
  if [[ $IS_ROOT -eq 1 ]] && ! id postgres >/dev/null 2>&1; then
    die "there is no postgres user to run PostgreSQL as (Debian's postgresql package creates it)"
  fi
}

answers() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1; }
sa_works() { psql_sa -tAc "SELECT 1" >/dev/null 2>&1; }
# Whether the server on the port is the one this checkout started (its socket is in our directory).
ours() { [[ -n "$DIR" && -S "$DIR/.s.PGSQL.$PORT" ]]; }

# Whether the cluster's owner can write to directory $1 and the socket path fits (107 bytes).
usable() {
  local socket="$1/.s.PGSQL.$PORT"
  [[ ${#socket} -le 100 ]] || return 1
  as_owner test -w "$1" -a -x "$1"
}

# Makes .build-pg (or a /tmp directory it links to) and sets DIR.
prepare_dir() {
  if [[ -L "$LINK" && ! -d "$LINK" ]]; then rm -f "$LINK"; fi   # /tmp was cleaned since
  if [[ ! -e "$LINK" ]]; then
    mkdir -p "$LINK"
    [[ $IS_ROOT -eq 1 ]] && chown postgres "$LINK"
    if ! usable "$LINK"; then
      rmdir "$LINK"
      local tmp
      tmp="$(mktemp -d /tmp/strongauth-pg.XXXXXX)"
      ln -s "$tmp" "$LINK"
      say "the postgres user cannot use $LINK (or its socket path is too long): using $tmp"
    fi
  fi
  DIR="$(readlink -f "$LINK")"
  if [[ $IS_ROOT -eq 1 ]]; then
    chown -R postgres "$DIR"
  elif [[ ! -w "$DIR" ]]; then
    die "$DIR is not writable by $(id -un) (made by root earlier?): run as root or remove it"
  fi
}

# Creates role sa (password sa, may create databases) and database sa if missing.
ensure_role_and_database() {
  psql_admin -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sa') THEN
        CREATE ROLE sa LOGIN CREATEDB PASSWORD 'sa';
      ELSE
        ALTER ROLE sa LOGIN CREATEDB PASSWORD 'sa';
      END IF;
    END \$\$;"
  if ! psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'sa'" | grep -q 1; then
    psql_admin -c "CREATE DATABASE sa OWNER sa"
  fi
}

start() {
  ensure_installed
  if answers; then
    if sa_works; then echo "$URL"; return; fi
    if ours; then ensure_role_and_database; echo "$URL"; return; fi
    die "something answers on 127.0.0.1:$PORT but sa/sa cannot log in to database sa there;" \
      "it is not a server this checkout started: stop it, or choose another port with STRONGAUTH_PG_PORT"
  fi
  prepare_dir
  if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
    rm -rf "$DIR/data"
    as_owner "$PGBIN/initdb" -D "$DIR/data" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  if ! as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c max_connections=200" \
      start >/dev/null; then
    tail -n 30 "$DIR/log" >&2 || true
    die "PostgreSQL did not start (log: $DIR/log)"
  fi
  ensure_role_and_database
  sa_works || die "PostgreSQL started but sa/sa cannot log in over TCP (log: $DIR/log)"
  echo "$URL"
}

reset() {
  start >/dev/null
  if ours; then
    psql_admin -c "DROP DATABASE IF EXISTS sa WITH (FORCE)" -c "CREATE DATABASE sa OWNER sa"
  else
    # Another checkout's server on the same port: empty the database as its owner.
    say "the server on port $PORT was started elsewhere: dropping everything sa owns in database sa"
    psql_sa -c "DROP OWNED BY sa CASCADE" -c "CREATE SCHEMA IF NOT EXISTS public"
  fi
  echo "$URL"
}

stop() {
  if [[ -n "$DIR" && -f "$DIR/data/postmaster.pid" ]]; then
    ensure_installed
    as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
  elif answers; then
    say "the server on port $PORT was not started from this checkout; leaving it alone"
  fi
}

case "${1:-}" in
  start) start ;;
  reset) reset ;;
  stop) stop ;;
  url) echo "$URL" ;;
  socket-url)
    ours || die "no server started from this checkout: its socket directory is unknown"
    echo "postgres://sa:sa@/sa?host=$DIR&port=$PORT" ;;
  status)
    if answers; then
      if ours; then echo "running on 127.0.0.1:$PORT from $DIR"; else echo "something else answers on 127.0.0.1:$PORT"; fi
    else
      echo "not running"; exit 3
    fi ;;
  *) echo "usage: scripts/postgres.sh start|reset|stop|url|socket-url|status" >&2; exit 2 ;;
esac
