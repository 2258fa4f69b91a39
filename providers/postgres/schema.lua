-- Config schema of the postgres stores (any of its six *_config sections;
-- common.check_conf and pool.conninfo read these keys); see
-- astrocyte.config_check. Either dsn or host/port/user/password/dbname.
local str_or_num = "string|number"

local function schema_name(v)
  if #v <= 63 and v:match("^[a-z_][a-z0-9_]*$") then return true end
  return nil, "must match ^[a-z_][a-z0-9_]{0,62}$"
end

local store = {
  dsn = { "string", non_empty = true, secret = true },   -- URI or key=value; may hold the password
  host = str_or_num, port = str_or_num, user = str_or_num, dbname = str_or_num,
  password = { str_or_num, secret = true }, sslmode = str_or_num, connect_timeout = str_or_num,
  schema = { "string", check = schema_name, default = "public" },
  pool_size = { "integer", min = 1, max = 1000, default = 4 },
  dimensions = { "integer", min = 1, max = 16000 },
  reconnect_attempts = { "integer", min = 0, max = 100, default = 3 },
  reconnect_backoff_ms = { "integer", min = 0, max = 60000, default = 50 },
  analyze_min_rows = { "integer", min = 0, max = 1000000000, default = 1000 },
  fulltext_candidates = { "integer", min = 0, max = 1000000, default = 200 },   -- rows ranked per keyword search; 0 = all
  vector_index = { "string", one_of = { "hnsw", "ivfflat", "none" }, default = "hnsw" },
  vector_index_params = {
    m = { "integer", min = 2, max = 100, default = 16 },
    ef_construction = { "integer", min = 4, max = 1000, default = 64 },
    ef_search = { "integer", min = 1, max = 1000, default = 40 },
    lists = { "integer", min = 1, max = 32768, default = 100 },
    probes = { "integer", min = 1, max = 32768, default = 10 },
  },
}

return { vector_stores = store, document_stores = store, graph_stores = store, wiki_stores = store,
         mental_model_stores = store, source_stores = store }
