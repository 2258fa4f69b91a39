-- Config schema of the sqlite store (vector_store_config, which also
-- builds its graph store; document_store_config; graph_store_config); see
-- astrocyte.config_check. config.load fills vector_store_config.path.
local S = require "astrocyte.config_schema"

local file = {
  path = { "string", non_empty = true, required = true },
  busy_timeout_ms = { "integer", min = 0, default = 5000 },
  -- The graph tables' own connection: NORMAL (graph rows are derived and
  -- durable with the next FULL memory commit) or FULL.
  graph_synchronous = { "string", one_of = { "NORMAL", "FULL" }, default = "NORMAL" },
}
local store = S.extend(S.local_store, file, {
  change_log_keep = { "integer", min = 0, default = 100000 },
  row_cache = { "integer", min = 0, max = 2147483648, default = 20000 },   -- rows kept for search hits (rowcache.lua); 0: off
  -- Bytes of the file SQLite reads through mmap instead of read(): hydrating
  -- a recall's ~100 candidate rows at 100k memories is ~40% cheaper (bench
  -- figures in init.lua). 0: off. SQLite caps it at its compile-time maximum.
  mmap_size = { "integer", min = 0, max = 1099511627776, default = 1073741824 },
})

return { vector_stores = store, document_stores = store, graph_stores = file }
