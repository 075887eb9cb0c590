-- Counts the answers that are not 2xx over all of wrk's threads and prints "non-2xx: N" at the
-- end (bench/run.sh aborts unless N is 0: a benchmark of refusals must not pass for one of the
-- endpoint). Loaded by a script with dofile(BENCH_LUA_DIR .. "/failures.lua"); the script calls
-- track(thread) from its setup().
local tracked = {}

function track(thread)
  table.insert(tracked, thread)
end

bad = 0

function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(tracked) do total = total + thread:get("bad") end
  io.write(string.format("non-2xx: %d\n", total))
end
