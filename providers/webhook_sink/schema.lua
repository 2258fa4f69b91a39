-- Config schema of the webhook_sink export sink (memory_export_sinks[i].config);
-- see astrocyte.config_check.
local S = require "astrocyte.config_schema"
local shared = require "astrocyte.providers.shared.schema"

return { memory_export_sinks = {
  url = { "string", pattern = S.URL, required = true },
  secret = { "string", non_empty = true, secret = true },   -- HMAC signing key
  headers = shared.headers,
  timeout_ms = { "integer", min = 1, default = 5000 },
  retry_count = { "integer", min = 0, default = 2 },
  retry_delay_ms = { "integer", min = 0, default = 1000 },
  queue_size = { "integer", min = 1, default = 1000 },
  flush_timeout_ms = { "integer", min = 0, default = 10000 },
  proxy = { "string", secret = true }, noproxy = "string", cainfo = "string",
  clock = "function",   -- a millisecond clock (Lua callers, tests)
} }
