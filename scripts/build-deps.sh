#!/usr/bin/env bash
# What `swift build` needs beyond Swift itself: SQLite's library and header (the store's SQLite
# connections are GRDB's, over the system SQLite — Debian's libsqlite3-dev; macOS has it).
# Installs it with apt-get as root when missing; otherwise says what to install and fails.
#   scripts/build-deps.sh        (scripts/demo and scripts/test call it before building)
set -euo pipefail
[[ "$(uname -s)" == Linux ]] || exit 0
if [[ -f /usr/include/sqlite3.h ]] && ldconfig -p 2>/dev/null | grep -q 'libsqlite3\.so '; then exit 0; fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "scripts/build-deps.sh: SQLite's development files are missing: sudo apt-get install -y libsqlite3-dev" >&2
  exit 1
fi
echo "==> apt-get install libsqlite3-dev" >&2
DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsqlite3-dev >/dev/null
