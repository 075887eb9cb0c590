-- POSTs a fixed form body with HTTP Basic client authentication, and counts the answers that are
-- not 2xx (or, with BENCH_EXPECT, whose body lacks that text), so that a benchmark of errors
-- cannot pass for a benchmark of the endpoint. bench/run.sh aborts when the count is not 0.
-- With BENCH_ROTATE=N, "{n}" in the body becomes 0…N-1 in turn (thread t of BENCH_THREADS sends
-- t, t+threads, …): the password grant logs in N users, because one user's concurrent password
-- checks are capped at the lockout limit (attempts are reserved before the check).
-- env: BENCH_BASIC (base64 of id:secret), BENCH_BODY (the form), BENCH_EXPECT (optional text),
--      BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/nodes.lua")
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")

local expect = os.getenv("BENCH_EXPECT")
if expect == "" then expect = nil end

local rotate = tonumber(os.getenv("BENCH_ROTATE") or "0")
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "2")

local threads = {}
function setup(thread)
  assign_node(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  sent = 0
end

if rotate > 0 then
  function request()
    local index = (sent * thread_count + offset) % rotate
    sent = sent + 1
    local body = string.gsub(wrk.body, "{n}", tostring(index))
    return wrk.format(nil, nil, nil, body)
  end
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
