-- Replays signed /powerauth-cloud/v2/signature/verify requests prepared by
-- `strongauth bench powerauth-signatures` (one JSON body per line, round-robin over an even
-- number of activations). Thread n of 2 sends the lines of its own parity, i.e. the signatures of
-- its own activations, in counter order. Counts answers that are not 2xx or not
-- "signatureValid":true; bench/run.sh aborts unless the count is 0 — a benchmark of refusals must
-- not pass for one of verifications. Runs out of prepared lines → wrk stops sending valid ones,
-- so prepare more than the run can use.
-- env: BENCH_BASIC (base64 of name:password), BENCH_FILE (the prepared requests)
local threads = {}
local counter = 0

function setup(thread)
  thread:set("parity", counter % 2)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  sent = 0
  lines = {}
  local index = 0
  for line in io.lines(os.getenv("BENCH_FILE")) do
    if index % 2 == parity then table.insert(lines, line) end
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
