-- Sends prepared GETs round robin: finAPI process token exchanges (`GET /api/v1/processes/{token}`,
-- one path per line, prepared by bench/run.sh). Thread n of BENCH_THREADS takes the lines whose
-- index is n modulo BENCH_THREADS and cycles through them, so each path is sent many times (a
-- process token is exchanged up to `processes.maxExchanges` times; bench/run.sh raises it and
-- aborts unless fewer requests were sent than the paths allow). Answers that are not 2xx are
-- counted (failures.lua).
-- env: BENCH_FILE, BENCH_THREADS, BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
local dir = os.getenv("BENCH_LUA_DIR") or "bench"
dofile(dir .. "/nodes.lua")
dofile(dir .. "/failures.lua")
local counter = 0
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "2")

function setup(thread)
  assign_node(thread)
  thread:set("parity", counter % thread_count)
  thread:set("thread_count", thread_count)
  counter = counter + 1
  track(thread)
end

function init(args)
  paths = {}
  local index = 0
  for line in io.lines(os.getenv("BENCH_FILE")) do
    if index % thread_count == parity then table.insert(paths, line) end
    index = index + 1
  end
  next_path = 0
end

function request()
  -- A thread with no path at all sends a request no route takes, counted as a failure.
  if #paths == 0 then return wrk.format("GET", "/") end
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end
