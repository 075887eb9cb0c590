#!/usr/bin/env bash
# Paired A/B of two release builds: both serve at once, under the same load, on the same cores.
#
#   bench/duo.sh --a /tmp/strongauth-a --b /tmp/strongauth-b [--workload verify] [--duration 4] [--rounds 6]
#   bench/duo.sh --a B --b B --env-b "STRONGAUTH_X=1"     # one build, a setting switched in B only
#   bench/duo.sh --a B --b B --workload-a health --workload-b verify   # a multiple of /health's, at the same moment
#   bench/duo.sh --a B --b B --env-b "STRONGAUTH_DATABASE_URL=postgres://…" --pin --workload cc   # PostgreSQL against SQLite
#     (over TCP: scripts/postgres.sh reset; over the Unix-domain socket: scripts/postgres.sh socket-url)
#   bench/duo.sh --a B --b B --workload verify --pin --perf /tmp/verify.perf   # B's whole stacks in round 1, for perf report
#   bench/duo.sh --a OLD --serve-a --b B --workload-a health --workload-b cc --pin   # against an older build's /health
#
# On a shared machine a server's CPU per operation drifts by ±15 % between runs minutes apart,
# so two builds measured one after the other cannot be told apart by less than that. Here the two
# servers (each with its own SQLite directory, client, user and bound device) take the same
# workload at the same moment — one wrk thread with 32 connections each — so whatever else the
# machine runs slows both alike; each round prints each server's CPU µs per answered request
# (Δ utime+stime from /proc ÷ requests) and B/A. An A/A run (the same binary twice) shows the
# method's own spread (±2 % per round on the 2-core VM of docs/benchmarks.md). Run both orders
# (--a X --b Y, then --a Y --b X): a change that pays shows on the same side of 1 in both.
#
# The faster server answers more of the shared load, and under the group commit more load makes
# each write cheaper: B/A can exaggerate a difference, never reverse it. For absolute figures use
# bench/run.sh.
#
# Workloads: verify (device challenge answers, prepared and signed beforehand, each sent once),
# create (device challenge creation), cc (client_credentials grant), introspect, powerauth
# (PowerAuth signature verification through the integration API, signatures prepared by
# `strongauth bench powerauth-signatures` for fresh activations each round), process (finAPI's
# process token exchange, 1,000 tokens round robin, as bench/run.sh's row), the operation flow's
# four requests as bench/run.sh's rows (op-list with 18 pending, op-approve with approvals signed just
# before each round, op-status, op-create; the flow is their sum), health, and the
# floors of bench/run.sh (`strongauth bench floor-server`'s routes, which both servers serve):
# floor-post (a form POST, no work), floor-read (+ a read of the client's row), floor-read-sign
# (+ one ES256 signature: a grant's unavoidable work), floor-verify (one P-256 verification).
# --workload-a/--workload-b give each side its own: one build twice, /health on A and a workload
# on B, prints the workload's multiple of /health's CPU per request measured at the same moment
# on the same cores — the figure issue 19's goals are written in, without the minutes of drift
# between the rows of one bench/run.sh.
#
# --perf FILE records server B during the first round with whole call stacks (`perf record
# --call-graph dwarf`: the frame-pointer stacks of `-g` stop inside Swift's async frames), for
# `perf report -i FILE --children` or `perf script -i FILE -F comm,tid,ip,sym | bench/perf_tasks.py
# --callers SYMBOL`; read the later rounds' figures, the first pays for the sampling.
# --pin runs both servers on CPU 0 and everything else — wrk, and any PostgreSQL already running
# (its processes are moved) — on the other CPUs: each server's CPU per request is then its own
# work, not shared with the database's on the same cores, as on a machine where PostgreSQL runs
# elsewhere. With B on PostgreSQL and A on SQLite (`--env-b STRONGAUTH_DATABASE_URL=…` on an
# empty database, `scripts/postgres.sh reset`), B/A is what one request costs a node on
# PostgreSQL as a multiple of SQLite; where CPU 0 is the bottleneck, PostgreSQL's throughput is
# 1/(B/A) of SQLite's (issue 19: ≥ 0.6, i.e. B/A ≤ 1.67).
# --serve-a starts A with `strongauth serve` instead of `bench floor-server`, for a build older
# than the floor routes (before 152b0c4): A then takes health, cc or introspect only — e.g. the
# build issue 19's goals were set against (a86054d), whose /health is the yardstick the goals'
# multiples were written in (docs/benchmarks.md, twenty-sixth pass).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
A="" B="" ENV_A="" ENV_B="" PIN=0 PERF="" SERVE_A=0 WORKLOAD=verify WORKLOAD_A="" WORKLOAD_B="" DURATION=4 ROUNDS=6
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --a) A="$2"; shift 2 ;;
    --b) B="$2"; shift 2 ;;
    --env-a) ENV_A="$2"; shift 2 ;;
    --env-b) ENV_B="$2"; shift 2 ;;
    --pin) PIN=1; shift ;;
    --perf) PERF="$(realpath -m "$2")"; shift 2 ;;
    --serve-a) SERVE_A=1; shift ;;
    --workload) WORKLOAD="$2"; shift 2 ;;
    --workload-a) WORKLOAD_A="$2"; shift 2 ;;
    --workload-b) WORKLOAD_B="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage 2 ;;
  esac
done
[[ -x "$A" && -x "$B" ]] || { echo "--a and --b must name strongauth binaries" >&2; usage 2; }
WORKLOAD_A="${WORKLOAD_A:-$WORKLOAD}" WORKLOAD_B="${WORKLOAD_B:-$WORKLOAD}"
for workload in "$WORKLOAD_A" "$WORKLOAD_B"; do
  case "$workload" in verify | create | cc | introspect | powerauth | process | op-list | op-approve | op-status | op-create | health | floor-post | floor-read | floor-read-sign | floor-verify) ;; *) echo "unknown workload: $workload" >&2; exit 2 ;; esac
done
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
[[ $SERVE_A == 0 || "$WORKLOAD_A" =~ ^(health|cc|introspect)$ ]] || { echo "--serve-a: A takes health, cc or introspect only" >&2; exit 2; }
[[ -z "$PERF" ]] || command -v perf >/dev/null || { echo "--perf needs perf (apt-get install linux-perf)" >&2; exit 1; }
A="$(realpath "$A")"; B="$(realpath "$B")"
SERVER_CPU=() LOAD_CPU=() LOAD_CPUS=""
if [[ $PIN == 1 ]]; then
  command -v taskset >/dev/null || { echo "--pin needs taskset (util-linux)" >&2; exit 1; }
  [[ $(nproc) -ge 2 ]] || { echo "--pin needs two CPUs or more" >&2; exit 1; }
  LOAD_CPUS="1-$(($(nproc) - 1))"
  SERVER_CPU=(taskset -c 0) LOAD_CPU=(taskset -c "$LOAD_CPUS")
fi
# Moves PostgreSQL's processes (new backends inherit the postmaster's CPUs) to `cpus`.
pin_postgres() { for pid in $(pgrep -x postgres || true); do taskset -a -p -c "$1" "$pid" >/dev/null 2>&1 || true; done; }

export STRONGAUTH_PASSWORD_HASH_COST=4 STRONGAUTH_LOG_LEVEL=warning STRONGAUTH_RATE_LIMITS_ENABLED=false
# finAPI's process tokens are exchanged 10 times each; the process workload exchanges each up to 1,000 times.
export STRONGAUTH_PROCESSES_MAX_EXCHANGES=1000
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [[ $PIN == 0 ]] || pin_postgres "0-$(($(nproc) - 1))"
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
json() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# One server in $WORK/<side>: a client, a user with a bound device, and (verify) one file of
# prepared answers per round, so that no answer is sent twice.
setup() { # side binary port "K=V …" workload
  local side="$1" binary="$2" port="$3" settings="$4" workload="$5"
  local dir="$WORK/$side" base="http://127.0.0.1:$3"
  mkdir -p "$dir"
  cd "$dir"
  local client id secret user device answers round
  client="$(env $settings STRONGAUTH_ISSUER="$base" "$binary" clients create --id "duo-$side" --scopes accounts \
    --grants client_credentials,password,refresh_token)"
  id="$(json clientId <<<"$client")"; secret="$(json clientSecret <<<"$client")"
  user="duo-$side"
  env $settings "$binary" users create --username "$user" --password duo-password --phone +4915100000042 >/dev/null
  # The API plus the floor routes (/floor/…, reading this side's client), as bench/run.sh's floor
  # rows; the API alone for an older A (--serve-a).
  local command=(bench floor-server --http-port "$port" --client-id "$id")
  [[ "$side" == b || $SERVE_A == 0 ]] || command=(serve --http-port "$port")
  env $settings STRONGAUTH_ISSUER="$base" "${SERVER_CPU[@]}" "$binary" "${command[@]}" >server.log 2>&1 &
  PIDS+=("$!")
  echo "$!" >pid
  for _ in $(seq 300); do curl -fsS -o /dev/null "$base/ready" 2>/dev/null && break; sleep 0.05; done
  curl -fsS -o /dev/null "$base/ready" || { echo "server $side did not start (see $dir/server.log)" >&2; exit 1; }
  printf '%s' "$base" >base
  printf '%s:%s' "$id" "$secret" | base64 -w0 >basic
  curl -fsS -u "$id:$secret" -d grant_type=client_credentials "$base/oauth/token" | json access_token >client-token
  local phone=(--server "$base" --client-id "$id" --username "$user" --key-store "$dir/keys")
  if [[ "$workload" == verify || "$workload" == create || "$workload" == op-* ]]; then
    # The user's device, bound through the real flow (the SDK's phone).
    export STRONGAUTH_CLIENT_SECRET="$secret" STRONGAUTH_USER_PASSWORD=duo-password
    device="$("$binary" device bind "${phone[@]}" --notifications "$dir/data/notifications.jsonl" | json deviceId)"
    printf '%s' "$device" >device
  fi
  if [[ "$workload" == verify || "$workload" == create ]]; then
    # Enough answers for the fastest round seen on this machine (4,000/s), per round.
    answers="$("$binary" bench device-challenge-answers "${phone[@]}" --device-id "$device" \
      --count $((ROUNDS * DURATION * 4000)) --output "$dir/answers.tsv")"
    json bearer <<<"$answers" >bearer
    split -n "l/$ROUNDS" -d -a 3 --additional-suffix=.tsv answers.tsv round-
  fi
  if [[ "$workload" == op-* ]]; then
    # The operation flow's four requests (bench/run.sh's rows): a PowerAuth application and its
    # integration user, then per workload what its requests need — 18 pending operations for the
    # list, approvals signed beforehand (each sent once, a file per round), one operation to read.
    local app="duo-ops-$side" prepared
    env $settings "$binary" apps create --id "$app" >/dev/null
    STRONGAUTH_INTEGRATION_PASSWORD="$(env $settings "$binary" integration-users create --name "$app-user" --app "$app" | json password)"
    export STRONGAUTH_INTEGRATION_PASSWORD
    printf '%s:%s' "$app-user" "$STRONGAUTH_INTEGRATION_PASSWORD" | base64 -w0 >ops-basic
    # For op-approve's approvals, prepared before each round (`prepare_approvals`).
    printf '%s' "$secret" >client-secret
    printf '%s' "$STRONGAUTH_INTEGRATION_PASSWORD" >integration-password
    printf '{"userId":"%s","template":"default.payment","parameters":{"amount":"63.99","currency":"EUR","account":"CZ32493745"}}' \
      "$user" >ops-create.json
    local count=1
    [[ "$workload" == op-list ]] && count=18
    prepared="$("$binary" bench operation-answers "${phone[@]}" --device-id "$device" --integration-user "$app-user" \
      --count "$count" --output "$dir/ops.tsv")"
    json bearer <<<"$prepared" >bearer
    json operationId <<<"$prepared" >operation
  fi
  if [[ "$workload" == process ]]; then
    # 1,000 finAPI process tokens, each exchangeable 1,000 times (STRONGAUTH_PROCESSES_MAX_EXCHANGES, above).
    "$REPO/bench/process_tokens.sh" "$base" "$id" "$secret" 1000 duo >"$dir/processes.txt"
  fi
  if [[ "$workload" == powerauth ]]; then
    # Fresh activations per round, so that each round's signatures follow their counters from
    # the start (a round that stops early leaves its activations' later signatures unsent).
    for ((round = 0; round < ROUNDS; round++)); do
      env $settings "$binary" bench powerauth-signatures --activations 64 --count $((DURATION * 8000)) \
        --output "$dir/pa-$(printf '%03d' "$round").jsonl" | json basic >"$dir/pa-$(printf '%03d' "$round").basic"
    done
  fi
  cd "$REPO"
}

[[ $PIN == 0 ]] || pin_postgres "$LOAD_CPUS"
setup a "$A" 18401 "$ENV_A" "$WORKLOAD_A"
setup b "$B" 18402 "$ENV_B" "$WORKLOAD_B"

cpu() { awk '{print $14 + $15}' "/proc/$(cat "$WORK/$1/pid")/stat"; }
load() { # side round workload: one wrk thread, 32 connections, output in $WORK/<side>/wrk.txt
  local dir="$WORK/$1" base
  base="$(cat "$dir/base")"
  export BENCH_THREADS=1 BENCH_LUA_DIR="$REPO/bench"
  local wrk=("${LOAD_CPU[@]}" wrk -t1 -c32 -d"${DURATION}s")
  case "$3" in
    verify) BENCH_BEARER="$(cat "$dir/bearer")" BENCH_FILE="$dir/round-$(printf '%03d' "$2").tsv" \
      "${wrk[@]}" -s bench/prepared_posts.lua "$base/" ;;
    create) BENCH_BEARER="$(cat "$dir/bearer")" \
      "${wrk[@]}" -s bench/bearer_post.lua "$base/api/user/devices/$(cat "$dir/device")/challenges" ;;
    cc) BENCH_BASIC="$(cat "$dir/basic")" BENCH_BODY=grant_type=client_credentials \
      "${wrk[@]}" -s bench/form_post.lua "$base/oauth/token" ;;
    introspect) BENCH_BASIC="$(cat "$dir/basic")" BENCH_BODY="token=$(cat "$dir/client-token")" BENCH_EXPECT='"active":true' \
      "${wrk[@]}" -s bench/form_post.lua "$base/oauth/introspect" ;;
    health) "${wrk[@]}" -s bench/get.lua "$base/health" ;;
    op-list) BENCH_BEARER="$(cat "$dir/bearer")" "${wrk[@]}" -s bench/bearer_get.lua "$base/api/user/approvals" ;;
    op-approve) BENCH_BEARER="$(cat "$dir/bearer")" BENCH_FILE="$dir/approvals-$(printf '%03d' "$2").tsv" \
      "${wrk[@]}" -s bench/prepared_posts.lua "$base/" ;;
    op-status) BENCH_BASIC="$(cat "$dir/ops-basic")" "${wrk[@]}" -s bench/basic_json.lua \
      "$base/powerauth-cloud/v2/operations/$(cat "$dir/operation")" ;;
    op-create) BENCH_BASIC="$(cat "$dir/ops-basic")" BENCH_BODY="$(cat "$dir/ops-create.json")" \
      "${wrk[@]}" -s bench/basic_json.lua "$base/powerauth-cloud/v2/operations" ;;
    process) BENCH_FILE="$dir/processes.txt" "${wrk[@]}" -s bench/prepared_gets.lua "$base/" ;;
    powerauth) BENCH_BASIC="$(cat "$dir/pa-$(printf '%03d' "$2").basic")" BENCH_FILE="$dir/pa-$(printf '%03d' "$2").jsonl" \
      BENCH_ACTIVATIONS=64 "${wrk[@]}" -s bench/powerauth_verify.lua "$base/powerauth-cloud/v2/signature/verify" ;;
    floor-*) BENCH_BASIC="$(cat "$dir/basic")" BENCH_BODY=grant_type=client_credentials "${wrk[@]}" -s bench/form_post.lua "$base/floor/${3#floor-}" ;;
  esac >"$dir/wrk.txt"
}

echo "duo: A = $A ${ENV_A:+($ENV_A)}"
echo "     B = $B ${ENV_B:+($ENV_B)}"
[[ $PIN == 0 ]] || echo "     both servers on CPU 0; wrk and PostgreSQL on CPU $LOAD_CPUS"
if [[ "$WORKLOAD_A" == "$WORKLOAD_B" ]]; then echo "     $WORKLOAD_A, $ROUNDS rounds of ${DURATION} s; server CPU µs per answered request"
else echo "     A: $WORKLOAD_A, B: $WORKLOAD_B, $ROUNDS rounds of ${DURATION} s; server CPU µs per answered request"; fi
RATIOS=()
sleep 2
# op-approve's approvals for one round, signed just before it: 4,000 a second (more than a side
# answers here; each is sent once), and fresh — prepared all at once for every round, the first
# rounds' could outlive default.payment's 300 s on a loaded machine and be refused
# (docs/benchmarks.md, twentieth pass). Before the round's CPU is read, and given 2 s for the
# pushes announcing them to go out.
prepare_approvals() { # side round
  local dir="$WORK/$1" binary="$A"
  [[ $1 == a ]] || binary="$B"
  STRONGAUTH_CLIENT_SECRET="$(cat "$dir/client-secret")" STRONGAUTH_USER_PASSWORD=duo-password \
    STRONGAUTH_INTEGRATION_PASSWORD="$(cat "$dir/integration-password")" \
    "$binary" bench operation-answers --server "$(cat "$dir/base")" --client-id "duo-$1" --username "duo-$1" \
    --key-store "$dir/keys" --device-id "$(cat "$dir/device")" --integration-user "duo-ops-$1-user" \
    --count $((DURATION * 4000)) --output "$dir/approvals-$(printf '%03d' "$2").tsv" | json bearer >"$dir/bearer"
}

for round in $(seq 0 $((ROUNDS - 1))); do
  if [[ "$WORKLOAD_A" == op-approve || "$WORKLOAD_B" == op-approve ]]; then
    [[ "$WORKLOAD_A" != op-approve ]] || prepare_approvals a "$round"
    [[ "$WORKLOAD_B" != op-approve ]] || prepare_approvals b "$round"
    sleep 2
  fi
  a0=$(cpu a); b0=$(cpu b)
  profiler=""
  if [[ -n "$PERF" && $round == 0 ]]; then
    "${LOAD_CPU[@]}" perf record -q -F 1999 --call-graph dwarf,16384 -p "$(cat "$WORK/b/pid")" -o "$PERF" \
      -- sleep "$(( DURATION > 2 ? DURATION - 1 : 1 ))" >/dev/null 2>&1 & profiler=$!
  fi
  load a "$round" "$WORKLOAD_A" & wa=$!
  load b "$round" "$WORKLOAD_B" & wb=$!
  wait "$wa" "$wb"
  [[ -z "$profiler" ]] || wait "$profiler" || echo "perf record failed (perf_event_paranoid?); no profile in $PERF" >&2
  a1=$(cpu a); b1=$(cpu b)
  line=""
  for side in a b; do
    out="$WORK/$side/wrk.txt"
    n=$(awk '/requests in/ {print $1}' "$out")
    bad=$(awk '/^non-2xx:/ {print $2}' "$out")
    if [[ "${bad:-0}" != 0 ]] || grep -q "Non-2xx" "$out"; then
      echo "round $((round + 1)): server $side answered requests with errors; not comparing errors:" >&2
      cat "$out" >&2
      exit 1
    fi
    if [[ $side == a ]]; then ua=$(echo "($a1 - $a0) * 10000 / $n" | bc -l); line+="$(printf 'A %6.0f (%s requests)' "$ua" "$n")"
    else ub=$(echo "($b1 - $b0) * 10000 / $n" | bc -l); line+="$(printf '   B %6.0f (%s requests)' "$ub" "$n")"; fi
  done
  ratio=$(echo "$ub / $ua" | bc -l)
  RATIOS+=("$ratio")
  printf 'round %d: %s   B/A %.3f\n' "$((round + 1))" "$line" "$ratio"
done
printf '%s\n' "${RATIOS[@]}" | python3 -c '
import statistics, sys
r = [float(x) for x in sys.stdin]
print(f"B/A: median {statistics.median(r):.3f}, mean {statistics.mean(r):.3f}, range {min(r):.3f}–{max(r):.3f} over {len(r)} rounds")'
