-- Sends prepared GETs round robin: finAPI process token exchanges (`GET /api/v1/processes/{token}`,
-- one path per line, prepared by bench/run.sh). Thread n of BENCH_THREADS takes the lines whose
-- index is n modulo BENCH_THREADS and cycles through them, so each path is sent many times (a
-- process token is exchanged up to `processes.maxExchanges` times; bench/run.sh raises it and
-- aborts unless fewer requests were sent than the paths allow). Answers that are not 2xx are
-- counted (failures.lua).
-- env: BENCH_FILE, BENCH_THREADS, BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/prepared_lines.lua")

function init(args)
  paths = thread_lines()
  next_path = 0
end

function request()
  -- A thread with no path at all sends a request no route takes, counted as a failure.
  if #paths == 0 then return wrk.format("GET", "/") end
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end
