-- POSTs a fixed form body with HTTP Basic client authentication, and counts the answers that are
-- not 2xx (or, with BENCH_EXPECT, whose body lacks that text), so that a benchmark of errors
-- cannot pass for a benchmark of the endpoint. bench/run.sh aborts when the count is not 0.
-- env: BENCH_BASIC (base64 of id:secret), BENCH_BODY (the form), BENCH_EXPECT (optional text),
--      BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/nodes.lua")
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")

local expect = os.getenv("BENCH_EXPECT")
if expect == "" then expect = nil end

local threads = {}
function setup(thread)
  assign_node(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
  elseif expect and not string.find(body, expect, 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
  end
  io.write(string.format("non-2xx: %d\n", total))
end
