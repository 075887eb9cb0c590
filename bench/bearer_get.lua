-- A GET of the URL's path with a bearer token (BENCH_BEARER); answers that are not 2xx are
-- counted (failures.lua).
-- env: BENCH_BEARER, BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
local dir = os.getenv("BENCH_LUA_DIR") or "bench"
dofile(dir .. "/nodes.lua")
dofile(dir .. "/failures.lua")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER")

function setup(thread)
  assign_node(thread)
  track(thread)
end
