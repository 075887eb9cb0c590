#!/usr/bin/env bash
# System calls per request (not a test): a census that holds on a noisy machine, where CPU time
# does not. One fresh SQLite server of a release build; for each workload, wrk for DURATION s
# while `perf stat -e 'syscalls:sys_enter_*'` counts the server's calls in a window of it; the
# counts are divided by the requests answered in that window.
#   bench/syscalls.sh [--binary PATH] [--duration SECONDS] [--top N]
# Needs perf with tracepoints (root, or kernel.perf_event_paranoid ≤ -1) and wrk. Workloads:
# GET /health, the client_credentials grant, introspection, a device challenge's creation and
# its verification (prepared answers, as in bench/run.sh). An unexpected call shows up here as a
# count that does not belong: the sixteenth pass in docs/benchmarks.md found a temporary file
# written page by page this way. To see which file a call writes to:
#   perf record -e syscalls:sys_enter_pwrite64 -p PID -- sleep 2; perf script -F event,trace; ls -l /proc/PID/fd
set -euo pipefail
cd -P "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
DURATION=6
TOP=8
BINARY=""
usage() { echo "usage: bench/syscalls.sh [--binary PATH] [--duration SECONDS] [--top N]" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) [[ $# -ge 2 ]] || usage; BINARY="$2"; shift 2 ;;
    --duration) [[ $# -ge 2 ]] || usage; DURATION="$2"; shift 2 ;;
    --top) [[ $# -ge 2 ]] || usage; TOP="$2"; shift 2 ;;
    *) usage ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 4 && "$TOP" =~ ^[0-9]+$ ]] || usage
die() { echo "bench/syscalls.sh: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is not installed"
command -v perf >/dev/null || die "perf is not installed"
perf stat -e 'syscalls:sys_enter_getpid' -- true >/dev/null 2>&1 || die "perf cannot count system calls here (root, or perf_event_paranoid)"
if [[ -z "$BINARY" ]]; then
  echo "building the release binary…" >&2
  swift build -c release --scratch-path .build-release --product strongauth >&2
  BINARY="$REPO/.build-release/release/strongauth"
fi
BIN="$(realpath "$BINARY")"

WORK="$(mktemp -d)"
SERVER=""
cleanup() {
  [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
PORT=18095
BASE="http://127.0.0.1:$PORT"
export STRONGAUTH_PASSWORD_HASH_COST=4 STRONGAUTH_LOG_LEVEL=warning STRONGAUTH_RATE_LIMITS_ENABLED=false STRONGAUTH_ISSUER="$BASE"
json() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
CLIENT_JSON="$("$BIN" clients create --id "census-$RANDOM" --scopes accounts --grants client_credentials,password,refresh_token)"
CLIENT_ID="$(json clientId <<<"$CLIENT_JSON")"
CLIENT_SECRET="$(json clientSecret <<<"$CLIENT_JSON")"
export STRONGAUTH_CLIENT_SECRET="$CLIENT_SECRET" STRONGAUTH_USER_PASSWORD=census-password
"$BIN" users create --username census-user --password census-password --phone +4915100000042 >/dev/null
"$BIN" serve --http-port "$PORT" >server.log 2>&1 &
SERVER=$!
for _ in $(seq 300); do curl -fsS -o /dev/null "$BASE/ready" 2>/dev/null && break; sleep 0.05; done
curl -fsS -o /dev/null "$BASE/ready" || die "the server did not start: $(tail -5 server.log)"

PHONE=(--server "$BASE" --client-id "$CLIENT_ID" --username census-user --key-store "$WORK/keys")
DEVICE_ID="$("$BIN" device bind "${PHONE[@]}" --notifications "$WORK/data/notifications.jsonl" | json deviceId)"
ANSWERS_JSON="$("$BIN" bench device-challenge-answers "${PHONE[@]}" --device-id "$DEVICE_ID" \
  --count $((DURATION * 4000 + 5000)) --output "$WORK/answers.tsv")"
TOKEN="$(curl -fsS -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$BASE/oauth/token" | json access_token)"
export BENCH_BASIC="$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)" BENCH_THREADS=2 BENCH_LUA_DIR="$REPO/bench"
export BENCH_BEARER="$(json bearer <<<"$ANSWERS_JSON")"

# One workload: wrk for DURATION s; perf counts from its first second for DURATION - 2 s.
census() { # name url script [form body]
  local name="$1" url="$2" script="$3" window=$((DURATION - 2)) out rps
  (sleep 1; perf stat -e 'syscalls:sys_enter_*' -p "$SERVER" -o "$WORK/stat.txt" -- sleep "$window" >/dev/null 2>&1) &
  local counting=$!
  out="$(BENCH_BODY="${4:-}" wrk -t2 -c64 -d"${DURATION}s" -s "$script" "$url")"
  wait "$counting"
  if grep -q "Non-2xx" <<<"$out" || [[ "$(awk '/^non-2xx:/ {print $2}' <<<"$out")" =~ ^[1-9] ]]; then
    die "$name: answers that are not 2xx"$'\n'"$out"
  fi
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  echo
  echo "$name ($(printf '%.0f' "$rps") req/s): system calls per request"
  awk -v r="$rps" -v w="$window" '$1 + 0 > 0 && $2 ~ /^syscalls:sys_enter_/ {
      gsub(/,/, "", $1); sub(/^syscalls:sys_enter_/, "", $2); printf "%8.2f  %s\n", $1 / (r * w), $2 }' "$WORK/stat.txt" \
    | sort -rn | head -n "$TOP"
}
cd "$REPO"
census "GET /health" "$BASE/health" bench/get.lua
census "client_credentials grant" "$BASE/oauth/token" bench/form_post.lua "grant_type=client_credentials"
census "introspection" "$BASE/oauth/introspect" bench/form_post.lua "token=$TOKEN"
census "device challenge create" "$BASE/api/user/devices/$DEVICE_ID/challenges" bench/bearer_post.lua
BENCH_FILE="$WORK/answers.tsv" census "device challenge verify (prepared answers)" "$BASE/" bench/prepared_posts.lua
