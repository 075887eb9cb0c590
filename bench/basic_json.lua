-- A request with HTTP Basic credentials (an integration user on /powerauth-cloud): a GET of the
-- URL's path, or, with BENCH_BODY, a POST of that JSON. Answers that are not 2xx are counted
-- (failures.lua).
-- env: BENCH_BASIC (base64 of name:password), BENCH_BODY (optional JSON),
--      BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
local dir = os.getenv("BENCH_LUA_DIR") or "bench"
dofile(dir .. "/nodes.lua")
dofile(dir .. "/failures.lua")
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

function setup(thread)
  assign_node(thread)
  track(thread)
end
