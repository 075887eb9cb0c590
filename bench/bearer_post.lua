-- POSTs BENCH_BODY (JSON; none when unset) with a bearer token (BENCH_BEARER) to the URL's path;
-- answers that are not 2xx are counted (failures.lua).
-- env: BENCH_BEARER, BENCH_BODY (optional), BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
local dir = os.getenv("BENCH_LUA_DIR") or "bench"
dofile(dir .. "/nodes.lua")
dofile(dir .. "/failures.lua")
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
if wrk.body and wrk.body ~= "" then wrk.headers["Content-Type"] = "application/json" end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER")

function setup(thread)
  assign_node(thread)
  track(thread)
end
