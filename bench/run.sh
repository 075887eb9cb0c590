#!/usr/bin/env bash
# The benchmark (not a test): a release build on this machine, wrk on the same machine.
#   bench/run.sh [--database postgres://…] [--duration SECONDS]
# A PostgreSQL database must be empty (scripts/postgres.sh reset) or created with the master key
# in STRONGAUTH_MASTER_KEY: the benchmark runs from a fresh directory with a fresh dev master key.
# Prints one markdown table (req/s and p99 per workload beside the /health ceiling) with the
# machine, commit and command; paste it into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=15
DATABASE=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --database) DATABASE="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    *) echo "usage: bench/run.sh [--database URL] [--duration SECONDS]" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

echo "building release…" >&2
swift build -c release --product strongauth --scratch-path .build-release >&2
BIN="$PWD/.build-release/release/strongauth"
WORK="$(mktemp -d)"
PORT=18080
DBARGS=()
[[ -n "$DATABASE" ]] && DBARGS=(--database "$DATABASE")

cd "$WORK"
export STRONGAUTH_PASSWORD_HASH_COST=10 STRONGAUTH_LOG_LEVEL=warning
CLIENT_JSON="$("$BIN" clients create --id "bench-$RANDOM$RANDOM" --scopes accounts --grants client_credentials,password,refresh_token "${DBARGS[@]}")"
CLIENT_ID="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["clientId"])' <<<"$CLIENT_JSON")"
CLIENT_SECRET="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["clientSecret"])' <<<"$CLIENT_JSON")"
export BENCH_BASIC="$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)"

"$BIN" serve --http-port "$PORT" "${DBARGS[@]}" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break; sleep 0.1; done

BASE="http://127.0.0.1:$PORT"
TOKEN="$(curl -fsS -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$BASE/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
curl -fsS -u "$CLIENT_ID:$CLIENT_SECRET" -d "token=$TOKEN" "$BASE/oauth/introspect" | grep -q '"active":true' \
  || { echo "introspection does not answer active=true; not benchmarking errors" >&2; exit 1; }

LUA="$OLDPWD/bench/form_post.lua"
results=()
measure() { # name target url [body]
  local name="$1" target="$2" url="$3" body="${4:-}" out
  if [[ -n "$body" ]]; then
    out="$(BENCH_BODY="$body" wrk -t2 -c64 -d"${DURATION}s" --latency -s "$LUA" "$url")"
  else
    out="$(wrk -t2 -c64 -d"${DURATION}s" --latency "$url")"
  fi
  local rps p50 p99 bad
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  bad="$(awk '/non-2xx:/ {print $2}' <<<"$out")"
  if grep -q "Non-2xx" <<<"$out" || [[ -n "$bad" && "$bad" != "0" ]]; then
    echo "$name: wrk saw non-2xx answers:"$'\n'"$out" >&2; exit 1
  fi
  results+=("| $name | $(printf '%.0f' "$rps") | $p50 | $p99 | $target |")
}

measure "GET /health (ceiling)" "—" "$BASE/health"
measure "client_credentials grant" "≥ 8,000" "$BASE/oauth/token" "grant_type=client_credentials"
measure "introspection (JWT)" "≥ 15,000" "$BASE/oauth/introspect" "token=$TOKEN"

RSS="$(awk '/VmHWM/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status)"
echo
echo "StrongAuth benchmark — $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$OLDPWD" rev-parse --short HEAD)"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem/ {print $2}') GiB"
if [[ -n "$DATABASE" ]]; then ENGINE="PostgreSQL 15 (same machine)"; else ENGINE="SQLite (WAL)"; fi
echo "database: $ENGINE; wrk -t2 -c64 -d${DURATION}s on the same machine; bcrypt cost 10"
echo
echo "| workload | req/s | p50 | p99 | target |"
echo "|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
echo
echo "server peak RSS (VmHWM): $RSS"
