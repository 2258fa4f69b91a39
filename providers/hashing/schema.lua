-- Config schema of the hashing embedder (embedding_provider_config).
return { llm_providers = {
  dimensions = { "integer", min = 8, max = 65536, default = 384 },
  dims = { "integer", min = 8, max = 65536, alias_of = "dimensions" },
} }
