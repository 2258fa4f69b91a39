-- Config schema of the neo4j graph store (graph_store_config); see
-- astrocyte.config_check.
local S = require "astrocyte.config_schema"
local shared = require "astrocyte.providers.shared.schema"

return { graph_stores = S.extend(S.http_client, shared.base_url("http://localhost:7474"), {
  database = { "string", pattern = "^[%w][%w._%-]*$", default = "neo4j" },
  user = { "string", default = "neo4j" }, username = { "string", alias_of = "user" },
  password = { "string", secret = true },                       -- HTTP Basic
  token = { "string", non_empty = true, secret = true },        -- Bearer, instead of user/password
  candidate_scan_limit = { "integer", min = 1, max = 1000000, default = 2000 },
  max_depth_cap = { "integer", min = 1, max = 15, default = 6 },
}) }
