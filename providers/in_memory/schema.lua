-- Config schema of the in_memory providers; see astrocyte.config_check.
-- Its graph, wiki, mental model and source stores take no keys.
local S = require "astrocyte.config_schema"

-- path is accepted and ignored (nothing is kept on disk), so one config,
-- or the CLI's --db, can switch between sqlite and in_memory.
local store = S.extend(S.local_store, { path = "string" })
local none = {}
return {
  vector_stores = store, document_stores = store,
  graph_stores = none, wiki_stores = none, mental_model_stores = none, source_stores = none,
  engine_providers = { supports_reflect = { "boolean", default = true }, supports_forget = { "boolean", default = true } },
}
