-- Config schema of the jsonl_sink export sink (memory_export_sinks[i].config);
-- see astrocyte.config_check.
return { memory_export_sinks = {
  path = { "string", non_empty = true, required = true },
  rotate_bytes = { "integer", min = 1, default = 64 * 1024 * 1024 },
  keep = { "integer", min = 1, default = 5 },
  fsync = { "boolean", default = true },
} }
