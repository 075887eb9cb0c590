-- A plain GET (the URL's path), spread over the nodes of BENCH_NODES like the other scripts.
dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/nodes.lua")

function setup(thread)
  assign_node(thread)
end
