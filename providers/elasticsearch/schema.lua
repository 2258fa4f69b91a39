-- Config schema of the elasticsearch store (vector_store_config,
-- document_store_config); see astrocyte.config_check.
local S = require "astrocyte.config_schema"
local shared = require "astrocyte.providers.shared.schema"

local store = S.extend(S.http_client, shared.base_url("http://localhost:9200", "url"), {
  api_key = { "string", secret = true },   -- Authorization: ApiKey
  username = "string", password = { "string", secret = true },  -- HTTP Basic
  index = { "string", pattern = "^[a-z0-9][a-z0-9_%-]*$", default = "astrocyte" },
  dimensions = { "integer", min = 1, max = 4096 },
  refresh = { "string", one_of = { "wait_for", "true", "false" }, default = "wait_for" },
})

return { vector_stores = store, document_stores = store }
