-- Replays signed /powerauth-cloud/v2/signature/verify requests prepared by
-- `strongauth bench powerauth-signatures` (one JSON body per line, round-robin over
-- BENCH_ACTIVATIONS activations). Thread n of BENCH_THREADS sends the lines of the activations
-- whose index is n modulo BENCH_THREADS, i.e. the signatures of its own activations, each
-- activation's in counter order and one at a time (see request()). Counts answers that are not 2xx or not
-- "signatureValid":true; bench/run.sh aborts unless the count is 0 — a benchmark of refusals must
-- not pass for one of verifications. Runs out of prepared lines → wrk stops sending valid ones,
-- so prepare more than the run can use.
-- env: BENCH_BASIC (base64 of name:password), BENCH_FILE (the prepared requests),
--      BENCH_THREADS (wrk's -t, default 2), BENCH_ACTIVATIONS (default 128; far more than -c),
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
  lost = 0
  queues = {}   -- activation id -> its lines, in counter order
  heads = {}    -- activation id -> index of its next line
  ready = {}    -- activations with no request in flight, oldest first
  local index = 0
  for line in io.lines(os.getenv("BENCH_FILE")) do
    if (index % activations) % thread_count == parity then
      local id = string.match(line, 'pa_activation_id=\\"([%x-]+)\\"')
      if queues[id] == nil then
        queues[id] = {}
        heads[id] = 1
        table.insert(ready, id)
      end
      table.insert(queues[id], line)
    end
    index = index + 1
  end
  lines = {}
  for _, queue in pairs(queues) do for _, line in ipairs(queue) do table.insert(lines, line) end end
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
  }
end

-- The next signature of an activation goes out only after the answer to its previous one (the
-- answer names the registration), so no signature can overtake an earlier one of its activation
-- and be refused as behind the counter: with a plain round-robin, PostgreSQL's latency tail did
-- that to a few signatures in 20,000.
function request()
  local id = table.remove(ready, 1)
  if id == nil then
    -- More connections in flight than activations: bench/run.sh prepares far more than that.
    error("powerauth_verify.lua: every activation has a signature in flight; prepare more activations")
  end
  local head = heads[id]
  local body = queues[id][head]
  if body == nil then
    error("powerauth_verify.lua: the prepared signatures ran out; prepare more")
  end
  heads[id] = head + 1
  return wrk.format("POST", "/powerauth-cloud/v2/signature/verify", headers, body)
end

function response(status, headers, body)
  local id = string.match(body, '"registrationId":"([%x-]+)"')
  if id ~= nil and queues[id] ~= nil then
    table.insert(ready, id)
  else
    lost = lost + 1
  end
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
