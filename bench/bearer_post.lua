-- POSTs BENCH_BODY (JSON; none when unset) with a bearer token (BENCH_BEARER) to the URL's path,
-- and counts the answers that are not 2xx: bench/run.sh aborts when the count is not 0.
-- env: BENCH_BEARER, BENCH_BODY (optional), BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/nodes.lua")
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
if wrk.body and wrk.body ~= "" then wrk.headers["Content-Type"] = "application/json" end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER")

local threads = {}
function setup(thread)
  assign_node(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.write(string.format("non-2xx: %d\n", total))
end
