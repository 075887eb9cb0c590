-- Sends prepared POSTs, each once: device challenge answers (`strongauth bench
-- device-challenge-answers`), operation approvals (`strongauth bench operation-answers`) or
-- short-lived token verifications (`strongauth bench action-tokens`), one
-- request per line (PATH, a tab, the JSON body). Thread n of BENCH_THREADS sends the lines whose
-- index is n modulo BENCH_THREADS. Answers that are not 2xx are counted (failures.lua);
-- bench/run.sh also aborts unless fewer requests were sent than prepared (a line sent twice is
-- refused: a challenge is answered once, an operation approved once).
-- env: BENCH_BEARER (the user's token the requests were prepared with) or, without it, BENCH_BASIC
--      (the client's HTTP Basic credentials, base64), BENCH_FILE, BENCH_THREADS,
--      BENCH_NODES / BENCH_LUA_DIR (several nodes: see nodes.lua)
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/prepared_lines.lua")

function init(args)
  lines = thread_lines()
  next_line = 1
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bearer = os.getenv("BENCH_BEARER")
if bearer and bearer ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. bearer
else
  wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
end

function request()
  -- Past the last line the first is sent again: refused (answered), so counted as a failure;
  -- a thread with no line at all sends a request no route takes, counted too.
  local line = lines[next_line] or lines[1] or "/\t{}"
  next_line = next_line + 1
  local path, body = string.match(line, "^([^\t]+)\t(.*)$")
  return wrk.format("POST", path, nil, body)
end
