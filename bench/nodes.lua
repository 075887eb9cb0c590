-- Spreads wrk's threads over several nodes (bench/run.sh --nodes N): with BENCH_NODES set to
-- "host:port,host:port,…", thread n connects to node n mod N instead of the URL's host (wrk's
-- thread.addr). Loaded by the other scripts with dofile(BENCH_LUA_DIR .. "/nodes.lua").
local nodes = {}
for node in string.gmatch(os.getenv("BENCH_NODES") or "", "[^,]+") do
  local host, port = string.match(node, "^(.+):(%d+)$")
  local addrs = wrk.lookup(host, port)
  assert(addrs and #addrs > 0, "cannot resolve " .. node)
  table.insert(nodes, addrs[1])
end
local assigned = 0

function assign_node(thread)
  if #nodes > 0 then
    thread.addr = nodes[(assigned % #nodes) + 1]
  end
  assigned = assigned + 1
end
