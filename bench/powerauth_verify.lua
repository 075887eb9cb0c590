-- Replays signed /powerauth-cloud/v2/signature/verify requests prepared by
-- `strongauth bench powerauth-signatures` (one JSON body per line, round-robin over
-- BENCH_ACTIVATIONS activations). Thread n of BENCH_THREADS sends the lines of the activations
-- whose index is n modulo BENCH_THREADS, i.e. the signatures of its own activations, in counter
-- order (each activation's signatures come from one thread, so they arrive in order). Counts answers that are not 2xx or not
-- "signatureValid":true; bench/run.sh aborts unless the count is 0 — a benchmark of refusals must
-- not pass for one of verifications. Runs out of prepared lines → wrk stops sending valid ones,
-- so prepare more than the run can use.
-- env: BENCH_BASIC (base64 of name:password), BENCH_FILE (the prepared requests),
--      BENCH_THREADS (wrk's -t, default 2), BENCH_ACTIVATIONS (default 128),
--      BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/nodes.lua")
local threads = {}
local counter = 0
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "2")
local activations = tonumber(os.getenv("BENCH_ACTIVATIONS") or "128")

function setup(thread)
  assign_node(thread)
  thread:set("parity", counter % thread_count)
  thread:set("thread_count", thread_count)
  thread:set("activations", activations)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  sent = 0
  lines = {}
  local index = 0
  for line in io.lines(os.getenv("BENCH_FILE")) do
    if (index % activations) % thread_count == parity then table.insert(lines, line) end
    index = index + 1
  end
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
  }
end

function request()
  sent = sent + 1
  local body = lines[sent] or lines[#lines]
  return wrk.format("POST", "/powerauth-cloud/v2/signature/verify", headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 or not string.find(body, '"signatureValid":true', 1, true) then
    bad = bad + 1
    if bad <= 3 then io.stderr:write(string.format("refused (%d): %s\n", status, body)) end
  end
end

function done(summary, latency, requests)
  local total, prepared = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
    prepared = prepared + #thread:get("lines")
  end
  io.write(string.format("non-2xx: %d\n", total))
  io.write(string.format("prepared: %d\n", prepared))
end
