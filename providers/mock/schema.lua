-- Config schema of the mock LLM: embedding size and fail (every call fails).
-- api_key and model are accepted and ignored, so a config written for a
-- real LLM provider runs against the mock.
return { llm_providers = {
  dimensions = { "integer", min = 1, max = 65536, default = 128 },
  embedding_dimensions = { "integer", min = 1, max = 65536, alias_of = "dimensions" },
  fail = { "boolean", default = false },
  api_key = { "string", secret = true }, model = "string",
} }
