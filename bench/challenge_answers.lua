-- Sends device challenge answers prepared by `strongauth bench device-challenge-answers` (one
-- request per line: PATH, a tab, the JSON body), each once: thread n of BENCH_THREADS sends the
-- lines whose index is n modulo BENCH_THREADS. Counts answers that are not 2xx; bench/run.sh
-- aborts unless the count is 0, and unless fewer requests were sent than prepared (a line sent
-- twice is refused: a challenge is answered once).
-- env: BENCH_BEARER (the token the challenges were created with), BENCH_FILE, BENCH_THREADS,
--      BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/nodes.lua")
local threads = {}
local counter = 0
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "2")

function setup(thread)
  assign_node(thread)
  thread:set("parity", counter % thread_count)
  thread:set("thread_count", thread_count)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  lines = {}
  local index = 0
  for line in io.lines(os.getenv("BENCH_FILE")) do
    if index % thread_count == parity then table.insert(lines, line) end
    index = index + 1
  end
  next_line = 1
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER")

function request()
  -- Past the last line the first is sent again: refused (answered), so counted as a failure.
  local line = lines[next_line] or lines[1]
  next_line = next_line + 1
  local path, body = string.match(line, "^([^\t]+)\t(.*)$")
  return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.write(string.format("non-2xx: %d\n", total))
end
