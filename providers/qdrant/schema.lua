-- Config schema of the qdrant vector store (vector_store_config); see
-- astrocyte.config_check.
local S = require "astrocyte.config_schema"
local shared = require "astrocyte.providers.shared.schema"

return { vector_stores = S.extend(S.http_client, shared.base_url("http://localhost:6333", "url"), {
  api_key = { "string", secret = true },
  collection = { "string", pattern = "^[%w_%-]+$", default = "astrocyte" },
  dimensions = { "integer", min = 1, max = 65536 },
  batch_size = { "integer", min = 1, max = 10000, default = 256 },
}) }
