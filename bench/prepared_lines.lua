-- The prepared lines of BENCH_FILE split over wrk's threads: thread n of BENCH_THREADS takes the
-- lines whose index is n modulo BENCH_THREADS (`thread_lines()`, from its init()). Also assigns
-- each thread its node (nodes.lua) and counts answers that are not 2xx (failures.lua). Loaded by
-- prepared_posts.lua and prepared_gets.lua with dofile(BENCH_LUA_DIR .. "/prepared_lines.lua").
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

function thread_lines()
  local lines = {}
  local index = 0
  for line in io.lines(os.getenv("BENCH_FILE")) do
    if index % thread_count == parity then table.insert(lines, line) end
    index = index + 1
  end
  return lines
end
