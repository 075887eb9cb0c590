#!/usr/bin/env bash
# The benchmark (not a test): a release build on this machine, wrk on the same machine.
#   bench/run.sh [--database postgres://…] [--nodes 1|3] [--duration SECONDS]   (or DURATION=SECONDS)
#   bench/run.sh --binary PATH …   measures that build instead of building the checkout (A/B runs)
#   bench/run.sh --health-probe SECONDS …   the /health measured just before each row (default 2; 0: off)
# A PostgreSQL database must be empty (scripts/postgres.sh reset) or created with the master key
# in STRONGAUTH_MASTER_KEY: the benchmark runs from a fresh directory with a fresh dev master key.
# --nodes 3 (PostgreSQL only) starts three `strongauth serve` nodes on the one database (ports
# 18080-18082, one issuer); wrk runs one thread per node (-t3 -c63, bench/nodes.lua) and the SDK
# load generators send each request of a flow to the next node (--servers).
# Prints one markdown table (req/s and its share of /health's, the servers' CPU per operation and
# its multiples of /health's — the first row's, and a short /health run's just before the row —, p50, p99 and the servers' peak RSS during each workload, summed over
# the nodes, beside the same build's /health ceiling) with the machine, commit and command;
# paste it into docs/benchmarks.md.
set -euo pipefail
cd -P "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
DURATION="${DURATION:-15}"
DATABASE=""
NODES=1
PORT=18080
BINARY=""
HEALTH_PROBE="${HEALTH_PROBE:-2}"
usage() { echo "usage: bench/run.sh [--database URL] [--nodes 1|3] [--duration SECONDS] [--binary PATH] [--health-probe SECONDS]" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --database) [[ $# -ge 2 ]] || usage; DATABASE="$2"; shift 2 ;;
    --database=*) DATABASE="${1#*=}"; shift ;;
    --nodes) [[ $# -ge 2 ]] || usage; NODES="$2"; shift 2 ;;
    --nodes=*) NODES="${1#*=}"; shift ;;
    --duration) [[ $# -ge 2 ]] || usage; DURATION="$2"; shift 2 ;;
    --duration=*) DURATION="${1#*=}"; shift ;;
    --binary) [[ $# -ge 2 ]] || usage; BINARY="$2"; shift 2 ;;
    --binary=*) BINARY="${1#*=}"; shift ;;
    --health-probe) [[ $# -ge 2 ]] || usage; HEALTH_PROBE="$2"; shift 2 ;;
    --health-probe=*) HEALTH_PROBE="${1#*=}"; shift ;;
    *) usage ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$HEALTH_PROBE" =~ ^[0-9]+$ ]] || usage
[[ "$NODES" == 1 || "$NODES" == 3 ]] || usage
die() { echo "bench/run.sh: $*" >&2; exit 1; }
[[ "$NODES" == 1 || "$DATABASE" == postgres* ]] || die "--nodes $NODES needs --database postgres://… (nodes share one database)"
# The command line for the record, without the database password.
NODES_ARG=""
if [[ $NODES -gt 1 ]]; then NODES_ARG=" --nodes $NODES"; fi
COMMAND="bench/run.sh${DATABASE:+ --database ${DATABASE%%://*}://…@${DATABASE#*@}}$NODES_ARG --duration $DURATION --health-probe $HEALTH_PROBE"
# The server version of a PostgreSQL URL's database, when psql is at hand.
psql_version() {
  local psql
  psql="$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)"
  [[ -x "$psql" ]] || return 0
  PGCONNECT_TIMEOUT=5 "$psql" -X -tA "$DATABASE" -c "SHOW server_version" 2>/dev/null | cut -d' ' -f1 || true
}

if ! command -v wrk >/dev/null; then
  [[ $(id -u) -eq 0 ]] || die "wrk is not installed: sudo apt-get install -y wrk"
  echo "installing wrk…" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk curl >/dev/null
fi
command -v curl >/dev/null || die "curl is not installed: apt-get install -y curl"
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
for ((i = 0; i < NODES; i++)); do
  if curl -s -o /dev/null "http://127.0.0.1:$((PORT + i))/" 2>/dev/null; then
    die "something already listens on 127.0.0.1:$((PORT + i))"
  fi
done

if [[ -n "$BINARY" ]]; then
  # An A/B comparison measures kept copies of two builds, one after the other.
  BIN="$(realpath "$BINARY")"
  [[ -x "$BIN" ]] || die "--binary $BINARY is not an executable"
else
  echo "building release…" >&2
  swift build -c release --product strongauth --scratch-path .build-release >&2
  BIN="$REPO/.build-release/release/strongauth"
  [[ -x "$BIN" ]] || die "the release build did not produce $BIN"
fi
LUA="$REPO/bench/form_post.lua"
export BENCH_LUA_DIR="$REPO/bench"

WORK="$(mktemp -d)"
SERVERS=()
OUR_SERVERS=()
cleanup() {
  [[ -z "${PEER_PID:-}" ]] || kill -TERM "$PEER_PID" 2>/dev/null || true
  [[ -z "${SIDE_PID:-}" ]] || kill -TERM "$SIDE_PID" 2>/dev/null || true
  # A run that died while another server's rows were measured: ours are in OUR_SERVERS.
  for pid in "${OUR_SERVERS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SERVERS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SERVERS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
DBARGS=()
[[ -n "$DATABASE" ]] && DBARGS=(--database "$DATABASE")

# The CLI and the server share the work directory (its data/: SQLite file, dev master key).
cd "$WORK"
# Rate limits off: from one address they would shed exactly the load being measured (by design).
export STRONGAUTH_PASSWORD_HASH_COST=10 STRONGAUTH_LOG_LEVEL=warning STRONGAUTH_RATE_LIMITS_ENABLED=false
# Shine's short-lived tokens are prepared before they are measured, which takes longer than the
# one minute they live by default.
export STRONGAUTH_APPROVALS_ACTION_TOKEN_LIFETIME_SECONDS=3600
# finAPI's process tokens are exchanged 10 times each; the bench exchanges each up to 1,000 times.
PROCESS_EXCHANGES=1000
export STRONGAUTH_PROCESSES_MAX_EXCHANGES=$PROCESS_EXCHANGES
json() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
CLIENT_JSON="$("$BIN" clients create --id "bench-$(date +%s)-$RANDOM" --scopes accounts \
  --grants client_credentials,password,refresh_token "${DBARGS[@]}")"
CLIENT_ID="$(json clientId <<<"$CLIENT_JSON")"
CLIENT_SECRET="$(json clientSecret <<<"$CLIENT_JSON")"
BENCH_BASIC="$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)"
export BENCH_BASIC

# The nodes share the work directory (the dev master key, the SMS file) and one issuer.
BASE="http://127.0.0.1:$PORT"
export STRONGAUTH_ISSUER="$BASE"
URLS=()
START_NS=$(date +%s%N)
for ((i = 0; i < NODES; i++)); do
  "$BIN" serve --http-port "$((PORT + i))" "${DBARGS[@]}" >"$WORK/server-$i.log" 2>&1 &
  SERVERS+=($!)
  URLS+=("http://127.0.0.1:$((PORT + i))")
done
SERVER="${SERVERS[0]}"
# Our servers, for the /health probe while another server's rows (the peer's, a side server's) are measured.
MAIN_SERVERS=("${SERVERS[@]}")
alive() { for pid in "${SERVERS[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done; }
logs() { for ((i = 0; i < NODES; i++)); do echo "--- node $i"; tail -n 40 "$WORK/server-$i.log"; done >&2; }
# Cold start (target in docs/benchmarks.md: ready in ≤ 1 s): from launching node 0 to its first 200 from /ready, polled
# every 10 ms (the database is already migrated by the CLI above, as on every start but the first).
READY_MS=""
for url in "${URLS[@]}"; do
  for _ in $(seq 1 3000); do
    if curl -fsS -o /dev/null "$url/ready" 2>/dev/null; then
      [[ -n "$READY_MS" ]] || READY_MS=$(( ($(date +%s%N) - START_NS) / 1000000 ))
      break
    fi
    alive || { logs; die "a server exited"; }
    sleep 0.01
  done
  curl -fsS -o /dev/null "$url/ready" || { logs; die "GET $url/ready is not 2xx after 30 s"; }
done
SERVER_LIST="$(IFS=,; echo "${URLS[*]}")"
if [[ $NODES -gt 1 ]]; then
  export BENCH_NODES="$(IFS=,; echo "${URLS[*]#http://}")"
  WRK_ARGS=(-t"$NODES" -c$((21 * NODES)))
else
  unset BENCH_NODES
  WRK_ARGS=(-t2 -c64)
fi
export BENCH_THREADS="${WRK_ARGS[0]#-t}"

# The servers' peak RSS during one workload, summed over the nodes: writing 5 to
# /proc/PID/clear_refs resets VmHWM (Linux ≥ 4.0) at the start; VmHWM is read at the end. Where
# that is not allowed, the peak since the start is reported, marked with *.
rss_reset() {
  RSS_EXACT=1
  for pid in "${SERVERS[@]}"; do echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || RSS_EXACT=0; done
}
rss_peak() {
  local total=0 kb
  for pid in "${SERVERS[@]}"; do
    kb="$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")"
    total=$((total + kb))
  done
  printf '%s MB%s' "$(awk -v kb="$total" 'BEGIN {printf "%.0f", kb / 1024}')" "$([[ $RSS_EXACT -eq 1 ]] || echo '*')"
}

# The servers' CPU per operation: utime + stime of the server processes (/proc/PID/stat fields 14
# and 15, in clock ticks) over one workload, divided by the operations answered in it. Unlike
# req/s it does not move when other processes share the cores, so rows compare across runs and
# machines as multiples of /health's figure in the same run (issue "performance close to the
# machine's limit": the goals are such multiples).
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() {
  local total=0 ticks
  for pid in "${SERVERS[@]}"; do
    ticks="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
    total=$((total + ticks))
  done
  echo "$total"
}
cpu_reset() { CPU_START="$(cpu_ticks)"; }
# Before each row: the /health probe, then the row's peak RSS and CPU start from here.
start_row() {
  probe_health
  rss_reset
  cpu_reset
}
# What /health costs just before each row (a short run on our servers): on a shared machine the
# cost of everything drifts by tens of percent over a run's minutes, and a row's multiple of the
# first /health row carries that drift (docs/benchmarks.md, sixteenth pass); its multiple of the
# /health measured seconds before it does not, or far less.
NEAR_HEALTH_US=""
probe_health() {
  [[ "$HEALTH_PROBE" -gt 0 ]] || return 0
  local before after out n
  before="$(SERVERS=("${MAIN_SERVERS[@]}"); cpu_ticks)"
  out="$(wrk "${WRK_ARGS[@]}" -d"${HEALTH_PROBE}s" -s "$REPO/bench/get.lua" "$BASE/health")"
  after="$(SERVERS=("${MAIN_SERVERS[@]}"); cpu_ticks)"
  n="$(awk '/requests in/ {print $1}' <<<"$out")"
  NEAR_HEALTH_US="$(awk -v t="$((after - before))" -v hz="$CLK_TCK" -v n="$n" 'BEGIN {if (n > 0) printf "%.1f", t * 1000000 / hz / n}')"
}
HEALTH_RPS=""
HEALTH_CPU_US=""
# Appends a table row: name, req/s (operations per second), operations answered, p50, p99, target.
row() {
  local name="$1" rps="$2" ops="$3" p50="$4" p99="$5" target="$6" used us share multiple
  used=$(( $(cpu_ticks) - CPU_START ))
  us="$(awk -v t="$used" -v hz="$CLK_TCK" -v n="$ops" 'BEGIN {if (n > 0) printf "%.0f", t * 1000000 / hz / n; else print "—"}')"
  if [[ -z "$HEALTH_RPS" ]]; then HEALTH_RPS="$rps"; HEALTH_CPU_US="$us"; fi
  share="$(awk -v r="$rps" -v h="$HEALTH_RPS" 'BEGIN {printf "%.3f", r / h}')"
  multiple="$(awk -v u="$us" -v h="$HEALTH_CPU_US" 'BEGIN {if (u + 0 > 0 && h + 0 > 0) printf "%.1f×", u / h; else print "—"}')"
  LAST_NEAR="$(awk -v u="$us" -v h="$NEAR_HEALTH_US" 'BEGIN {if (u + 0 > 0 && h + 0 > 0) printf "%.2f", u / h; else print ""}')"
  results+=("| $name | $(printf '%.0f' "$rps") | $share | $us | $multiple | $(near_cell "$LAST_NEAR") | $p50 | $p99 | $(rss_peak) | $target |")
  LAST_PART="$us/$LAST_NEAR/$rps"
}
# The multiple of the nearby /health as a cell ("—" when the probe is off).
near_cell() { if [[ -n "$1" ]]; then awk -v m="$1" 'BEGIN {printf "%.1f×", m}'; else echo "—"; fi; }
# Appends a row whose CPU per operation is the sum of the given rows' (the requests of one flow,
# each measured alone); each part is a row's LAST_PART, "µs/multiple of its nearby /health/req/s".
# The nearby multiple of the sum is the sum of the parts' own, and its rate the flows per second
# those rows allow one after the other, 1 / Σ(1 / req/s) — what the server does per flow, without
# the CPU of an SDK load generator signing on the same cores (the flows row above pays that).
sum_row() { # name part…
  local name="$1" us=0 near=0 seconds=0 part part_us part_near part_rps
  shift
  for part in "$@"; do
    IFS=/ read -r part_us part_near part_rps <<<"$part"
    us=$((us + part_us))
    if [[ -n "$part_near" && -n "$near" ]]; then near="$(awk -v a="$near" -v b="$part_near" 'BEGIN {printf "%.2f", a + b}')"; else near=""; fi
    seconds="$(awk -v s="$seconds" -v r="$part_rps" 'BEGIN {printf "%.9f", s + 1 / r}')"
  done
  local rate share
  rate="$(awk -v s="$seconds" 'BEGIN {printf "%.0f", 1 / s}')"
  share="$(awk -v r="$rate" -v h="$HEALTH_RPS" 'BEGIN {printf "%.3f", r / h}')"
  results+=("| $name | $rate | $share | $us | $(awk -v u="$us" -v h="$HEALTH_CPU_US" 'BEGIN {printf "%.1f×", u / h}') | $(near_cell "$near") | — | — | — | — |")
}

# One request of each workload first, by curl: every one must be 2xx, or there is nothing to measure.
curl -fsS -o /dev/null "$BASE/health" || die "GET /health is not 2xx"
token() { curl -fsS -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$BASE/oauth/token"; }
token >/dev/null || die "the client_credentials grant is not 2xx"

results=()
# One wrk workload: `script` against `url`, a table row, and wrk's output in WRK_OUT. An answer
# that is not 2xx (wrk's count, or the script's "non-2xx: N") stops the run.
measure_script() { # name target url script
  local name="$1" target="$2" url="$3" script="$4" out
  echo "measuring $name for ${DURATION}s…" >&2
  start_row
  out="$(wrk "${WRK_ARGS[@]}" -d"${DURATION}s" --latency -s "$script" "$url")"
  alive || { logs; die "a server died during $name"; }
  local rps p50 p99 bad total
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  total="$(awk '/requests in/ {print $1}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  bad="$(awk '/^non-2xx:/ {print $2}' <<<"$out")"
  if grep -q "Non-2xx" <<<"$out" || [[ -n "$bad" && "$bad" != "0" ]]; then
    die "$name: wrk saw answers that are not 2xx${BENCH_EXPECT:+ or lack $BENCH_EXPECT}:"$'\n'"$out"
  fi
  [[ -n "$rps" && -n "$p99" ]] || die "$name: could not read wrk's output:"$'\n'"$out"
  if grep -q "Socket errors" <<<"$out"; then
    echo "warning: $name: $(grep "Socket errors" <<<"$out")" >&2
  fi
  row "$name" "$rps" "$total" "$p50" "$p99" "$target"
  WRK_OUT="$out"
}
# A plain GET, or a form POST (form_post.lua) whose every answer must contain `expect` if given.
measure() { # name target url [form body [expected text in each answer]]
  if [[ -n "${4:-}" ]]; then
    BENCH_BODY="$4" BENCH_EXPECT="${5:-}" measure_script "$1" "$2" "$3" "$LUA"
  else
    measure_script "$1" "$2" "$3" "$REPO/bench/get.lua"
  fi
}

measure "GET /health (ceiling)" "—" "$BASE/health"
measure "client_credentials grant" "≥ 8,000" "$BASE/oauth/token" "grant_type=client_credentials"

# The peer, in the same run on the same machine: glewlwyd 2.7 (Debian's package, an OAuth 2 server
# in C) answering the same grant with ES256 tokens from SQLite (bench/glewlwyd.sh sets it up).
if ! command -v glewlwyd >/dev/null && [[ $(id -u) -eq 0 ]]; then
  echo "installing glewlwyd (the peer row)…" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq glewlwyd sqlite3 >/dev/null 2>&1 || true
fi
if command -v glewlwyd >/dev/null; then
  PEER_PID="$("$REPO/bench/glewlwyd.sh" "$WORK/glewlwyd" 14593)" || die "glewlwyd could not be set up (see $WORK/glewlwyd/glewlwyd.log)"
  OUR_SERVERS=("${SERVERS[@]}")
  OUR_BASIC="$BENCH_BASIC"
  SERVERS=("$PEER_PID")
  BENCH_BASIC="$(printf 'bench:bench-secret' | base64 -w0)"
  measure "peer: glewlwyd 2.7 client_credentials grant (ES256, SQLite)" "—" "http://127.0.0.1:14593/api/glwd/token" \
    "grant_type=client_credentials&scope=accounts" '"access_token"'
  kill -TERM "$PEER_PID" 2>/dev/null || true
  wait "$PEER_PID" 2>/dev/null || true
  SERVERS=("${OUR_SERVERS[@]}")
  BENCH_BASIC="$OUR_BASIC"
else
  results+=("| peer: glewlwyd (not installed: apt-get install glewlwyd) | — | — | — | — | — | — | — | — | — |")
fi

# The same grant bound to a DPoP key (RFC 9449): a fresh ES256 proof per request (wrk cannot sign,
# so the SDK drives it: `strongauth bench dpop-tokens`): the server verifies the proof, spends its
# jti in the replay guard and signs a cnf.jkt-bound token.
echo "measuring DPoP-bound grants for ${DURATION}s…" >&2
start_row
DPOP_JSON="$("$BIN" bench dpop-tokens --server "$BASE" --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" --concurrency 32 \
  --duration "$DURATION")" || die "the DPoP grant run failed: $DPOP_JSON"
row "client_credentials grant, DPoP-bound (a fresh proof each)" "$(json perSecond <<<"$DPOP_JSON")" "$(json grants <<<"$DPOP_JSON")" \
  "$(json p50 <<<"$DPOP_JSON")" "$(json p99 <<<"$DPOP_JSON")" "—"

# A fresh token for introspection, that must stay active for the whole run (else the run would
# measure answers of {"active":false}; the Lua script counts those as failures too).
TOKEN_JSON="$(token)" || die "the client_credentials grant is not 2xx"
TOKEN="$(json access_token <<<"$TOKEN_JSON")"
EXPIRES_IN="$(json expires_in <<<"$TOKEN_JSON" 2>/dev/null || echo 0)"
if [[ "$EXPIRES_IN" =~ ^[0-9]+$ && "$EXPIRES_IN" -gt 0 && "$EXPIRES_IN" -le $((DURATION + 5)) ]]; then
  die "access tokens live ${EXPIRES_IN}s, too short for a ${DURATION}s run: raise STRONGAUTH_TOKENS_ACCESS_LIFETIME_SECONDS"
fi
curl -fsS -u "$CLIENT_ID:$CLIENT_SECRET" -d "token=$TOKEN" "$BASE/oauth/introspect" | grep -q '"active":true' \
  || die "introspection does not answer 2xx with \"active\":true; not benchmarking errors"
measure "introspection (JWT)" "≥ 15,000" "$BASE/oauth/introspect" "token=$TOKEN" '"active":true'

# The password grant (target in docs/benchmarks.md: within 10 % of the password hash's own cost). bcrypt alone, at the
# same cost, on this machine's cores and through the same thread pool as the server, is measured
# first by `strongauth bench password-hash` (the servers idle meanwhile); a grant is that one
# verification plus a form, a read, a refresh-token insert and an ES256 signature.
# 128 users, logged in in turn: one user's concurrent password checks are capped at the lockout
# limit (attempts are reserved before the check), so one user under 64 connections would measure
# "locked" answers.
BENCH_USER="bench-user-$RANDOM"
"$BIN" users create --username "$BENCH_USER" --password bench-password --phone +4915100000042 "${DBARGS[@]}" >/dev/null
seq 0 127 | xargs -P 4 -I{} "$BIN" users create --username "$BENCH_USER-pw-{}" --password bench-password \
  --phone +4915100000042 "${DBARGS[@]}" >/dev/null || die "creating the password-grant users failed"
echo "measuring bcrypt alone for ${DURATION}s…" >&2
HASH_JSON="$("$BIN" bench password-hash --cost 10 --duration "$DURATION")" || die "measuring bcrypt failed: $HASH_JSON"
HASH_RATE="$(json perSecond <<<"$HASH_JSON")"
export BENCH_ROTATE=128
measure "password grant (bcrypt cost 10)" "≥ $(( HASH_RATE * 9 / 10 )) (90 % of bcrypt alone: $HASH_RATE/s)" \
  "$BASE/oauth/token" "grant_type=password&username=$BENCH_USER-pw-{n}&password=bench-password" '"access_token"'
unset BENCH_ROTATE

# The authorization code exchange (PKCE S256): codes are first made through the hosted login by
# the 128 users above (a browser's GET /oauth/authorize and password form each: bcrypt-bound),
# for at most 40 s (codes live 60 s), then all redeemed at the token endpoint as fast as it goes.
CODE_CLIENT_JSON="$("$BIN" clients create --id "bench-code-$RANDOM" --scopes accounts --grants authorization_code \
  --redirect-uri https://bench.example/cb "${DBARGS[@]}")"
echo "measuring the authorization code exchange…" >&2
start_row
CODES_JSON="$("$BIN" bench authorization-codes --server "$BASE" --client-id "$(json clientId <<<"$CODE_CLIENT_JSON")" \
  --client-secret "$(json clientSecret <<<"$CODE_CLIENT_JSON")" --username "$BENCH_USER-pw" --users 128 --password bench-password \
  --prepare $(( DURATION < 40 ? DURATION : 40 )) --concurrency 32)" || die "the authorization code run failed: $CODES_JSON"
# Its CPU per operation includes making the codes (a bcrypt login each): read it as an upper bound.
row "authorization code exchange (PKCE; $(json codes <<<"$CODES_JSON") codes from the hosted login at $(json loginsPerSecond <<<"$CODES_JSON")/s; CPU incl. the logins)" \
  "$(json perSecond <<<"$CODES_JSON")" "$(json exchanges <<<"$CODES_JSON")" "$(json p50 <<<"$CODES_JSON")" "$(json p99 <<<"$CODES_JSON")" "—"

# Device challenge create + sign + verify pairs (target in docs/benchmarks.md: ≥ 3,000/s). wrk cannot sign, so the
# SDK drives it (`strongauth bench device-challenges`): the user above, a device bound through
# the real flow (OTP read from the file channel in $WORK/data), then 32 phones looping for DURATION s.
export STRONGAUTH_CLIENT_SECRET="$CLIENT_SECRET" STRONGAUTH_USER_PASSWORD=bench-password
PHONE=(--server "$BASE" --client-id "$CLIENT_ID" --username "$BENCH_USER" --key-store "$WORK/keys")
DEVICE_ID="$("$BIN" device bind "${PHONE[@]}" --notifications "$WORK/data/notifications.jsonl" | json deviceId)"
echo "measuring device challenges for ${DURATION}s…" >&2
start_row
PAIRS_JSON="$("$BIN" bench device-challenges "${PHONE[@]}" --servers "$SERVER_LIST" --device-id "$DEVICE_ID" --concurrency 32 --duration "$DURATION")" \
  || die "the device-challenge run failed: $PAIRS_JSON"
row "device challenge create + verify (pairs)" "$(json pairsPerSecond <<<"$PAIRS_JSON")" "$(json pairs <<<"$PAIRS_JSON")" \
  "$(json p50 <<<"$PAIRS_JSON")" "$(json p99 <<<"$PAIRS_JSON")" "≥ 3,000"

# ABN AMRO logins with a bound device (`strongauth bench session-logins`): GET /session/loginchallenge
# without a cookie (a new anonymous session) and PUT /session/loginresponse signed by the device
# key. 16 users with an account, a card and a device bound through the real flow, one loop each
# (a user logs in from one phone at a time); the SDK signs on the same cores it measures.
: > "$WORK/logins.txt"
for i in $(seq 10 25); do
  "$BIN" users create --username "$BENCH_USER-abn-$i" --password bench-password --phone "+491512000000$i" \
    --account "$(( 7000000 + i ))" --card 1 "${DBARGS[@]}" >/dev/null || die "creating the login users failed"
  LOGIN_DEVICE="$("$BIN" device bind --server "$BASE" --client-id "$CLIENT_ID" --username "$BENCH_USER-abn-$i" --key-store "$WORK/keys" \
    --notifications "$WORK/data/notifications.jsonl" | json deviceId)" || die "binding the login users' devices failed"
  echo "$(( 7000000 + i )) 1 $LOGIN_DEVICE" >> "$WORK/logins.txt"
done
echo "measuring ABN AMRO logins for ${DURATION}s…" >&2
start_row
LOGINS_JSON="$("$BIN" bench session-logins --server "$BASE" --key-store "$WORK/keys" --logins "$WORK/logins.txt" --duration "$DURATION")" \
  || die "the session-login run failed: $LOGINS_JSON"
row "ABN AMRO login, bound device (challenge + response)" "$(json loginsPerSecond <<<"$LOGINS_JSON")" "$(json logins <<<"$LOGINS_JSON")" \
  "$(json p50 <<<"$LOGINS_JSON")" "$(json p99 <<<"$LOGINS_JSON")" "—"

# The pair's two requests alone, driven by wrk, so that the figures are the server's work only
# (the SDK above signs on the same cores it measures): creating a challenge, with the user's
# bearer token; then verifying prepared answers (`strongauth bench device-challenge-answers`
# creates the challenges and signs them first; each is sent once).
ANSWERS_COUNT=$(( DURATION * 5000 + 10000 ))
echo "preparing $ANSWERS_COUNT device challenge answers…" >&2
ANSWERS_JSON="$("$BIN" bench device-challenge-answers "${PHONE[@]}" --device-id "$DEVICE_ID" --count "$ANSWERS_COUNT" \
  --output "$WORK/answers.tsv")" || die "preparing the device challenge answers failed: $ANSWERS_JSON"
export BENCH_BEARER="$(json bearer <<<"$ANSWERS_JSON")"
measure_script "device challenge create alone (wrk)" "—" "$BASE/api/user/devices/$DEVICE_ID/challenges" "$REPO/bench/bearer_post.lua"
PAIR_PARTS=("$LAST_PART")
BENCH_FILE="$WORK/answers.tsv" measure_script "device challenge verify alone (wrk, prepared answers)" "—" "$BASE/" \
  "$REPO/bench/prepared_posts.lua"
(( $(awk '/requests in/ {print $1}' <<<"$WRK_OUT") < ANSWERS_COUNT )) \
  || die "the verify run used up all $ANSWERS_COUNT prepared answers; prepare more"
sum_row "device challenge pair: its two requests by wrk (sum of the two rows above; req/s: one after the other)" "${PAIR_PARTS[@]}" "$LAST_PART"
unset BENCH_BEARER

# Operation create → approve → status flows (target in docs/benchmarks.md: ≥ 2,000/s), through the SDK: the integrator
# creates, the bound phone above lists and approves with its key, the integrator reads APPROVED.
OPS_APP="bench-ops-$RANDOM"
"$BIN" apps create --id "$OPS_APP" "${DBARGS[@]}" >/dev/null
OPS_USER_JSON="$("$BIN" integration-users create --name "$OPS_APP-user" --app "$OPS_APP" "${DBARGS[@]}")"
export STRONGAUTH_INTEGRATION_PASSWORD="$(json password <<<"$OPS_USER_JSON")"
echo "measuring operation flows for ${DURATION}s…" >&2
start_row
FLOWS_JSON="$("$BIN" bench operation-flows "${PHONE[@]}" --servers "$SERVER_LIST" --device-id "$DEVICE_ID" --integration-user "$OPS_APP-user" \
  --concurrency 32 --duration "$DURATION")" || die "the operation-flow run failed: $FLOWS_JSON"
row "operation create → approve → status (flows; the list showed $(printf '%.1f' "$(json meanPendingListed <<<"$FLOWS_JSON")") pending on average)" "$(json flowsPerSecond <<<"$FLOWS_JSON")" "$(json flows <<<"$FLOWS_JSON")" \
  "$(json p50 <<<"$FLOWS_JSON")" "$(json p99 <<<"$FLOWS_JSON")" "≥ 2,000"

# The flow's four requests alone, driven by wrk like the pair's halves above (the SDK's generator
# signs and decodes on the same cores it measures): the phone's pending list while 18 operations
# are pending (what the phone of the flows row saw on average: its `meanPendingListed`, 17.6–18.0
# at 32 concurrent flows), the approval of operations
# created and signed beforehand (`strongauth bench operation-answers`; each sent once), the
# integrator's status read and its create. The last row sums their CPU per request: one flow's
# server work.
OPS_BASIC="$(printf '%s:%s' "$OPS_APP-user" "$STRONGAUTH_INTEGRATION_PASSWORD" | base64 -w0)"
PENDING_JSON="$("$BIN" bench operation-answers "${PHONE[@]}" --device-id "$DEVICE_ID" --integration-user "$OPS_APP-user" --count 18 \
  --output "$WORK/pending.tsv")" || die "preparing 18 pending operations failed: $PENDING_JSON"
BENCH_BEARER="$(json bearer <<<"$PENDING_JSON")" measure_script "operation pending list, 18 pending (wrk)" "—" "$BASE/api/user/approvals" \
  "$REPO/bench/bearer_get.lua"
FLOW_PARTS=("$LAST_PART")
OPS_COUNT=$(( DURATION * 5000 + 10000 ))
echo "preparing $OPS_COUNT operation approvals…" >&2
APPROVALS_JSON="$("$BIN" bench operation-answers "${PHONE[@]}" --device-id "$DEVICE_ID" --integration-user "$OPS_APP-user" \
  --count "$OPS_COUNT" --output "$WORK/approvals.tsv")" || die "preparing the operation approvals failed: $APPROVALS_JSON"
BENCH_BEARER="$(json bearer <<<"$APPROVALS_JSON")" BENCH_FILE="$WORK/approvals.tsv" \
  measure_script "operation approve alone (wrk, prepared approvals)" "—" "$BASE/" "$REPO/bench/prepared_posts.lua"
(( $(awk '/requests in/ {print $1}' <<<"$WRK_OUT") < OPS_COUNT )) || die "the approve run used up all $OPS_COUNT prepared approvals; prepare more"
FLOW_PARTS+=("$LAST_PART")
BENCH_BASIC="$OPS_BASIC" measure_script "operation status alone (wrk)" "—" \
  "$BASE/powerauth-cloud/v2/operations/$(json operationId <<<"$APPROVALS_JSON")" "$REPO/bench/basic_json.lua"
FLOW_PARTS+=("$LAST_PART")
BENCH_BASIC="$OPS_BASIC" BENCH_BODY="{\"userId\":\"$BENCH_USER\",\"template\":\"default.payment\",\"parameters\":{\"amount\":\"63.99\",\"currency\":\"EUR\",\"account\":\"CZ32493745\"}}" \
  measure_script "operation create alone (wrk)" "—" "$BASE/powerauth-cloud/v2/operations" "$REPO/bench/basic_json.lua"
FLOW_PARTS+=("$LAST_PART")
sum_row "operation flow: its four requests by wrk (sum of the four rows above; req/s: one after the other)" "${FLOW_PARTS[@]}"

# Shine's action requests (docs/approvals.md), each request alone by wrk with the client's HTTP
# Basic credentials: the bank's create (a transfer for the bench user), its poll of a confirmed
# request (which answers the short-lived token) and the resource server's use of a token
# (`strongauth bench action-tokens` creates, confirms on the bound device and polls them first;
# each is sent once).
TOKENS_COUNT=$(( DURATION * 8000 + 10000 ))
echo "preparing $TOKENS_COUNT short-lived tokens…" >&2
TOKENS_JSON="$("$BIN" bench action-tokens "${PHONE[@]}" --device-id "$DEVICE_ID" --count "$TOKENS_COUNT" --output "$WORK/tokens.tsv")" \
  || die "preparing the short-lived tokens failed: $TOKENS_JSON"
BENCH_BODY="{\"action\":\"bank:transfers:create\",\"uid\":\"$BENCH_USER\",\"payload\":{\"amount\":234,\"currency\":\"EUR\",\"bankTransferRecipientId\":\"BANK_TRANSFER_RECIPIENT_ID\",\"reference\":\"Invoice 1\"}}" \
  measure_script "action request create alone (wrk)" "—" "$BASE/v2/authentication/oauth2/action_request" "$REPO/bench/basic_json.lua"
measure_script "action request poll alone, confirmed (wrk)" "—" \
  "$BASE/v2/authentication/oauth2/action_request/$(json actionRequestId <<<"$TOKENS_JSON")/poll" "$REPO/bench/basic_json.lua"
BENCH_FILE="$WORK/tokens.tsv" measure_script "short-lived token use alone (wrk, prepared tokens)" "—" "$BASE/" \
  "$REPO/bench/prepared_posts.lua"
(( $(awk '/requests in/ {print $1}' <<<"$WRK_OUT") < TOKENS_COUNT )) || die "the token run used up all $TOKENS_COUNT prepared tokens; prepare more"

# finAPI's process tokens (docs/processes.md): the bench client creates processes, 100 a request,
# and wrk exchanges their tokens for access tokens round robin (prepared_gets.lua); the bench
# server lets a token be exchanged PROCESS_EXCHANGES times instead of finAPI's 10.
PROCESS_COUNT=1000
PROCESS_CAPACITY=$(( PROCESS_COUNT * PROCESS_EXCHANGES ))
echo "preparing $PROCESS_COUNT process tokens…" >&2
"$REPO/bench/process_tokens.sh" "$BASE" "$CLIENT_ID" "$CLIENT_SECRET" "$PROCESS_COUNT" bench >"$WORK/processes.txt" \
  || die "creating processes failed"
BENCH_FILE="$WORK/processes.txt" measure_script "process token exchange alone (wrk, 1,000 tokens)" "—" "$BASE/" \
  "$REPO/bench/prepared_gets.lua"
(( $(awk '/requests in/ {print $1}' <<<"$WRK_OUT") < PROCESS_CAPACITY )) || die "the exchange run used up all $PROCESS_CAPACITY exchanges; prepare more"

# PowerAuth signature verification through the integration API (target in docs/benchmarks.md: ≥ 6,000/s), each request
# a fresh valid signature (prepared by `strongauth bench powerauth-signatures`, replayed by
# powerauth_verify.lua; an answer without "signatureValid":true fails the run).
PA_REQUESTS=$(( DURATION * 12000 + 20000 ))
# 64 activations per wrk thread, far more than its connections: powerauth_verify.lua sends an
# activation's next signature only after the answer to its previous one, so none is overtaken.
PA_ACTIVATIONS=$((64 * BENCH_THREADS))
PA_JSON="$("$BIN" bench powerauth-signatures --activations "$PA_ACTIVATIONS" --count "$PA_REQUESTS" --output "$WORK/powerauth.jsonl" "${DBARGS[@]}")" \
  || die "preparing the PowerAuth signatures failed: $PA_JSON"
echo "measuring PowerAuth signature verify for ${DURATION}s…" >&2
start_row
PA_OUT="$(BENCH_BASIC="$(json basic <<<"$PA_JSON")" BENCH_FILE="$WORK/powerauth.jsonl" BENCH_ACTIVATIONS="$PA_ACTIVATIONS" \
  wrk "${WRK_ARGS[@]}" -d"${DURATION}s" --latency -s "$REPO/bench/powerauth_verify.lua" "$BASE/powerauth-cloud/v2/signature/verify")"
alive || { logs; die "a server died during the PowerAuth run"; }
PA_RPS="$(awk '/^Requests\/sec:/ {print $2}' <<<"$PA_OUT")"
PA_BAD="$(awk '/^non-2xx:/ {print $2}' <<<"$PA_OUT")"
PA_TOTAL="$(awk '/requests in/ {print $1}' <<<"$PA_OUT")"
(( PA_TOTAL < PA_REQUESTS )) || die "PowerAuth: the run used up all $PA_REQUESTS prepared signatures; prepare more"
# Refusals fail the run, but the table is still printed (the row says how many): a benchmark of
# refusals must not pass for one of verifications, and the other rows are still worth reading.
PA_NOTE=""
if [[ "$PA_BAD" != "0" ]]; then
  PA_NOTE=" ✘ $PA_BAD of $PA_TOTAL answers not a valid signature"
  FAILED_RUN=1
  echo "bench/run.sh: PowerAuth: $PA_BAD of $PA_TOTAL answers were not a valid signature:"$'\n'"$PA_OUT" >&2
fi
row "PowerAuth signature verify (valid, counter update)" "$PA_RPS" "$PA_TOTAL" "$(awk '$1=="50%" {print $2}' <<<"$PA_OUT")" \
  "$(awk '$1=="99%" {print $2}' <<<"$PA_OUT")" "≥ 6,000$PA_NOTE"

# A second server of the same build beside the first (one node), whose rows are measured with
# its process alone in SERVERS: started by `start_side_server PORT LOG COMMAND…` (waits for
# /ready, sets SIDE_PID), ended by `stop_side_server`.
start_side_server() { # port log command…
  local port="$1" log="$2"
  shift 2
  "$@" --http-port "$port" "${DBARGS[@]}" >"$log" 2>&1 &
  SIDE_PID=$!
  for _ in $(seq 1 3000); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/ready" 2>/dev/null && break
    kill -0 "$SIDE_PID" 2>/dev/null || { tail -n 40 "$log" >&2; die "the server on port $port exited"; }
    sleep 0.01
  done
  OUR_SERVERS=("${SERVERS[@]}")
  SERVERS=("$SIDE_PID")
}
stop_side_server() {
  kill -TERM "$SIDE_PID" 2>/dev/null || true
  wait "$SIDE_PID" 2>/dev/null || true
  SIDE_PID=""
  SERVERS=("${OUR_SERVERS[@]}")
}

# The floor (one node): the same server plus routes that do only a workload's unavoidable work
# (`strongauth bench floor-server`): a POST with a form body, one read of the client's row, one
# ES256 signature, both (a client_credentials grant cannot cost less), one P-256 verification.
# What a signature or a verification costs against /health differs from machine to machine;
# these rows say what they cost on this one, beside the workloads above.
if [[ $NODES -eq 1 ]]; then
  FLOOR_PORT=$((PORT + 20))
  start_side_server "$FLOOR_PORT" "$WORK/floor.log" "$BIN" bench floor-server --client-id "$CLIENT_ID"
  for floor in "post:floor: a POST with a form body, no work" "read:floor: + one read of the client's row" \
    "sign:floor: + one ES256 signature" "read-sign:floor: + the read and the signature (a grant's unavoidable work)" \
    "verify:floor: + one P-256 verification"; do
    measure "${floor#*:}" "—" "http://127.0.0.1:$FLOOR_PORT/floor/${floor%%:*}" "grant_type=client_credentials"
  done
  stop_side_server
fi

# As packaged (packaging/strongauth.json): a JSON log line per request at level info. The rows
# above run at level warning, which writes no line per request; these two say what the line
# costs, on a second server of the same build and database.
if [[ $NODES -eq 1 ]]; then
  LOGGED_PORT=$((PORT + 21))
  STRONGAUTH_LOG_LEVEL=info STRONGAUTH_LOG_FORMAT=json start_side_server "$LOGGED_PORT" "$WORK/logged.log" "$BIN" serve
  measure "GET /health, logged as packaged (a JSON line per request)" "—" "http://127.0.0.1:$LOGGED_PORT/health"
  measure "client_credentials grant, logged as packaged" "—" "http://127.0.0.1:$LOGGED_PORT/oauth/token" "grant_type=client_credentials"
  grep -q '"path":"/oauth/token"' "$WORK/logged.log" || die "the logging server wrote no access log line"
  stop_side_server
fi

# /health once more, last: the machine's drift over the run. Every multiple above is of the first
# /health row; rows measured minutes later carry whatever this row moved (docs/benchmarks.md,
# sixteenth pass).
measure "GET /health again, at the end (the machine's drift since the first row)" "—" "$BASE/health"

RSS_TOTAL=0
for pid in "${SERVERS[@]}"; do
  RSS_TOTAL=$((RSS_TOTAL + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")))
done
case "$DATABASE" in
  "") ENGINE="SQLite (WAL, data/ of a fresh directory)" ;;
  postgres*) ENGINE="PostgreSQL $(psql_version) at ${DATABASE#*@}" ;;
  *) ENGINE="$DATABASE" ;;
esac
echo
if [[ -n "$BINARY" ]]; then BUILT="binary $BINARY"; else BUILT="commit $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"; fi
echo "StrongAuth benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $BUILT"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/^Mem/ {print $2}') GiB"
echo "database: $ENGINE; $NODES node$([[ $NODES -gt 1 ]] && echo s) ($SERVER_LIST); wrk ${WRK_ARGS[*]} -d${DURATION}s on the same machine; bcrypt cost 10"
echo "command: $COMMAND"
echo
echo "| workload | req/s | share of /health | server CPU µs/op | × /health's | × the /health just before | p50 | p99 | peak RSS$([[ $NODES -gt 1 ]] && echo " (sum of $NODES nodes)") | target |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
echo
echo "cold start: node 0 answered /ready 200 ${READY_MS} ms after launch (target ≤ 1,000 ms)"
echo "server RSS at the end: $((RSS_TOTAL / 1024)) MB$([[ $NODES -gt 1 ]] && echo " (sum of $NODES nodes)"); peak RSS is VmHWM over each workload (* = since the start: clear_refs not allowed)"
[[ -z "${FAILED_RUN:-}" ]] || die "the run had refusals (see the table)"
