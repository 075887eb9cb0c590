#!/usr/bin/env bash
# The soak (not a test): mixed load against a release build for a long time, the server's memory
# sampled every 10 s; fails when memory grows after the warm-up by more than a margin.
#   bench/soak.sh [--database postgres://…] [--duration SECONDS] [--warmup SECONDS] [--margin MB]
#   defaults: 600 s of load, 60 s warm-up, 24 MB margin (env DURATION, WARMUP, MARGIN_MB)
# Load, all at once for the whole duration (every answer checked):
#   wrk -t1 -c8 client_credentials grants, wrk -t1 -c8 introspections (form_post.lua),
#   `strongauth bench device-challenges` (8 phones: create + sign + verify, confirmed tokens),
#   `strongauth bench operation-flows` (8 flows: create → list → approve → status).
# Memory: VmRSS of the server every 10 s. Growth = mean of the last 3 samples − mean of the first 3
# samples after the warm-up; the soak fails if it exceeds the margin, or if any request failed.
# Prints the series and a summary for docs/benchmarks.md.
set -euo pipefail
cd -P "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
DURATION="${DURATION:-600}"
WARMUP="${WARMUP:-60}"
MARGIN_MB="${MARGIN_MB:-24}"
DATABASE=""
PORT=18090
INTERVAL=10
usage() { echo "usage: bench/soak.sh [--database URL] [--duration SECONDS] [--warmup SECONDS] [--margin MB]" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --database) [[ $# -ge 2 ]] || usage; DATABASE="$2"; shift 2 ;;
    --duration) [[ $# -ge 2 ]] || usage; DURATION="$2"; shift 2 ;;
    --warmup) [[ $# -ge 2 ]] || usage; WARMUP="$2"; shift 2 ;;
    --margin) [[ $# -ge 2 ]] || usage; MARGIN_MB="$2"; shift 2 ;;
    *) usage ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$WARMUP" =~ ^[0-9]+$ && "$MARGIN_MB" =~ ^[0-9]+$ ]] || usage
die() { echo "bench/soak.sh: $*" >&2; exit 1; }
(( DURATION >= WARMUP + 6 * INTERVAL )) || die "--duration must leave at least $((6 * INTERVAL)) s after the ${WARMUP} s warm-up"
COMMAND="bench/soak.sh${DATABASE:+ --database ${DATABASE%%://*}://…@${DATABASE#*@}} --duration $DURATION --warmup $WARMUP --margin $MARGIN_MB"

if ! command -v wrk >/dev/null; then
  [[ $(id -u) -eq 0 ]] || die "wrk is not installed: sudo apt-get install -y wrk"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk curl >/dev/null
fi
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
curl -s -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && die "something already listens on 127.0.0.1:$PORT"

echo "building release…" >&2
swift build -c release --product strongauth --scratch-path .build-release >&2
BIN="$REPO/.build-release/release/strongauth"
export BENCH_LUA_DIR="$REPO/bench"
unset BENCH_NODES

WORK="$(mktemp -d)"
SERVER=""
LOADS=()
cleanup() {
  for pid in "${LOADS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  if [[ -n "$SERVER" ]]; then kill -TERM "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
DBARGS=()
[[ -n "$DATABASE" ]] && DBARGS=(--database "$DATABASE")
cd "$WORK"
# Tokens must outlive the soak (introspection of one token, the phones' one login).
# Rate limits off, as in bench/run.sh: from one address they would shed the load being soaked.
export STRONGAUTH_PASSWORD_HASH_COST=10 STRONGAUTH_LOG_LEVEL=warning STRONGAUTH_RATE_LIMITS_ENABLED=false
export STRONGAUTH_TOKENS_ACCESS_LIFETIME_SECONDS=$((DURATION + 600))
json() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

CLIENT_JSON="$("$BIN" clients create --id "soak-$(date +%s)-$RANDOM" --scopes accounts \
  --grants client_credentials,password,refresh_token "${DBARGS[@]}")"
CLIENT_ID="$(json clientId <<<"$CLIENT_JSON")"
CLIENT_SECRET="$(json clientSecret <<<"$CLIENT_JSON")"
export BENCH_BASIC="$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)"

"$BIN" serve --http-port "$PORT" "${DBARGS[@]}" >"$WORK/server.log" 2>&1 &
SERVER=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "$BASE/ready" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { tail -n 40 "$WORK/server.log" >&2; die "the server exited"; }
  sleep 0.1
done
curl -fsS -o /dev/null "$BASE/ready" || die "GET /ready is not 2xx after 30 s"
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER/status"; }
START_RSS="$(rss_mb)"

TOKEN="$(curl -fsS -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$BASE/oauth/token" | json access_token)"
SOAK_USER="soak-user-$RANDOM"
"$BIN" users create --username "$SOAK_USER" --password soak-password --phone +4915100000077 "${DBARGS[@]}" >/dev/null
export STRONGAUTH_CLIENT_SECRET="$CLIENT_SECRET" STRONGAUTH_USER_PASSWORD=soak-password
PHONE=(--server "$BASE" --client-id "$CLIENT_ID" --username "$SOAK_USER" --key-store "$WORK/keys")
DEVICE_ID="$("$BIN" device bind "${PHONE[@]}" --notifications "$WORK/data/notifications.jsonl" | json deviceId)"
OPS_APP="soak-ops-$RANDOM"
"$BIN" apps create --id "$OPS_APP" "${DBARGS[@]}" >/dev/null
export STRONGAUTH_INTEGRATION_PASSWORD="$("$BIN" integration-users create --name "$OPS_APP-user" --app "$OPS_APP" "${DBARGS[@]}" | json password)"

echo "soaking for ${DURATION}s (warm-up ${WARMUP}s, margin ${MARGIN_MB} MB)…" >&2
BENCH_BODY="grant_type=client_credentials" BENCH_EXPECT="" \
  wrk -t1 -c8 -d"${DURATION}s" -s "$REPO/bench/form_post.lua" "$BASE/oauth/token" >"$WORK/load-grants.txt" 2>&1 &
LOADS+=($!)
BENCH_BODY="token=$TOKEN" BENCH_EXPECT='"active":true' \
  wrk -t1 -c8 -d"${DURATION}s" -s "$REPO/bench/form_post.lua" "$BASE/oauth/introspect" >"$WORK/load-introspect.txt" 2>&1 &
LOADS+=($!)
"$BIN" bench device-challenges "${PHONE[@]}" --device-id "$DEVICE_ID" --concurrency 8 --duration "$DURATION" \
  >"$WORK/load-challenges.json" 2>"$WORK/load-challenges.err" &
LOADS+=($!)
"$BIN" bench operation-flows "${PHONE[@]}" --device-id "$DEVICE_ID" --integration-user "$OPS_APP-user" --concurrency 8 \
  --duration "$DURATION" >"$WORK/load-flows.json" 2>"$WORK/load-flows.err" &
LOADS+=($!)

SAMPLES=()  # "seconds MB"
STARTED=$SECONDS
printf '%6s  %8s\n' "t (s)" "RSS (MB)" >&2
while (( SECONDS - STARTED < DURATION )); do
  sleep "$INTERVAL"
  kill -0 "$SERVER" 2>/dev/null || { tail -n 40 "$WORK/server.log" >&2; die "the server died during the soak"; }
  sample="$((SECONDS - STARTED)) $(rss_mb)"
  SAMPLES+=("$sample")
  printf '%6s  %8s\n' $sample >&2
done
FAILED=0
for pid in "${LOADS[@]}"; do wait "$pid" || FAILED=1; done
LOADS=()

# Every answer of every load must have been a success.
check_wrk() { # name file
  local bad total
  bad="$(awk '/^non-2xx:/ {print $2}' "$2")"
  total="$(awk '/requests in/ {print $1}' "$2")"
  [[ "$bad" == "0" && -n "$total" ]] || { echo "$1: $bad of $total answers failed:" >&2; cat "$2" >&2; FAILED=1; }
  echo "$total"
}
GRANTS="$(check_wrk "client_credentials" "$WORK/load-grants.txt")"
INTROSPECTIONS="$(check_wrk "introspection" "$WORK/load-introspect.txt")"
PAIRS="$(json pairs <"$WORK/load-challenges.json" 2>/dev/null || echo "?")"
FLOWS="$(json flows <"$WORK/load-flows.json" 2>/dev/null || echo "?")"
for load in challenges flows; do
  failures="$(json failures <"$WORK/load-$load.json" 2>/dev/null || echo "?")"
  [[ "$failures" == "0" ]] || { echo "$load: $failures failures: $(cat "$WORK/load-$load.err")" >&2; FAILED=1; }
done

ANALYSIS="$(printf '%s\n' "${SAMPLES[@]}" | awk -v warmup="$WARMUP" -v margin="$MARGIN_MB" '
  BEGIN { n = 0; peak = 0 }
  $1 >= warmup { t[n] = $1; m[n] = $2; n++ }
  { if ($2 > peak) peak = $2 }
  END {
    if (n < 6) { print "too few samples after the warm-up"; exit 2 }
    first = (m[0] + m[1] + m[2]) / 3; last = (m[n-1] + m[n-2] + m[n-3]) / 3
    # least-squares slope over the samples after the warm-up, in MB per minute
    for (i = 0; i < n; i++) { st += t[i]; sm += m[i]; stt += t[i] * t[i]; stm += t[i] * m[i] }
    slope = (n * stm - st * sm) / (n * stt - st * st) * 60
    printf "after warm-up %.1f MB, at the end %.1f MB: growth %+.1f MB (margin %d MB), slope %+.2f MB/min, peak %.1f MB\n", first, last, last - first, margin, slope, peak
    exit (last - first > margin) ? 1 : 0
  }')" && GROWTH_OK=1 || GROWTH_OK=0

echo
echo "StrongAuth soak — $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/^Mem/ {print $2}') GiB"
echo "database: $([[ -n "$DATABASE" ]] && echo "PostgreSQL at ${DATABASE#*@}" || echo "SQLite (WAL)"); command: $COMMAND"
echo "load for ${DURATION}s: $GRANTS client_credentials grants, $INTROSPECTIONS introspections, $PAIRS device challenge pairs, $FLOWS operation flows"
echo "RSS at start ${START_RSS} MB; samples every ${INTERVAL}s (t s: MB):"
printf '%s\n' "${SAMPLES[@]}" | awk '{ printf "%s%s: %s", (NR > 1 ? ", " : ""), $1, $2 } END { print "" }'
echo "$ANALYSIS"
if [[ $FAILED -ne 0 ]]; then
  # What the server said about it: its warnings and errors, most frequent first.
  echo "server warnings and errors (count, message):"
  grep -E ' (warning|error|critical) ' "$WORK/server.log" | sed -E 's/^[^ ]+ //; s/[0-9a-f]{8}-[0-9a-f-]{27}/<id>/g' | sort | uniq -c | sort -rn | head -n 20
  echo "SOAK FAILED: requests failed"; exit 1
fi
if [[ $GROWTH_OK -ne 1 ]]; then echo "SOAK FAILED: memory grew by more than ${MARGIN_MB} MB after the warm-up"; exit 1; fi
echo "soak passed: memory flat within ${MARGIN_MB} MB, every request succeeded"
