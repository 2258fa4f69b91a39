-- astrocyte.config_schema: the shape of an Astrocyte config as data — every
-- key the reference defines (spi.md §3.2) plus this engine's own sections
-- (pipeline, reflect, vector_index). A leaf is a type name; a table of
-- {type, one_of = {...}} restricts values; a nested table is a section whose
-- unknown keys are reported with a did-you-mean. "map" sections are free-form
-- (provider configs, per-feature tuning we accept and pass through).
-- Leaves may carry constraints, defaults and `secret` (astrocyte.config_check
-- describes the language); each provider's own section is checked against
-- its providers/<name>/schema.lua, built from the fragments at the end.
local S = {}

local function enum(...) return { "string", one_of = { ... } } end

-- The in-process indexes of the embedded stores (store/memindex): the
-- top-level vector_index section, or a store's own vector_store_config
-- .vector_index. No defaults here: a store's own section left unset takes
-- the top-level one (engine/providers), whose defaults are memindex's.
S.vector_index = {
  hnsw_threshold = { "integer", min = 0 }, migrate_batch = { "integer", min = 1 },
  M = { "integer", min = 2, max = 128 }, ef_construction = { "integer", min = 1, max = 65536 },
  ef_search = { "integer", min = 1, max = 65536 },
}

local PROVIDER_KEYS = {
  "vector_store", "graph_store", "document_store", "wiki_store", "mental_model_store",
  "source_store", "pageindex_store", "llm_provider", "embedding_provider", "provider",
}

S.root = {
  provider_tier = enum("storage", "engine"),
  profile = "string", compliance_profile = "string", profile_dirs = "list",
  fallback_strategy = enum("local_llm", "error", "degrade"),
  outbound_transport = "map", memory_export_sinks = "list", hooks = "list",
  default_bank_id = "string",
  homeostasis = {
    recall_max_tokens = "integer", reflect_max_tokens = "integer", retain_max_content_bytes = "integer",
    rate_limits = { retain_per_minute = "number", recall_per_minute = "number",
                    reflect_per_minute = "number", global_per_minute = "number" },
    quotas = { retain_per_day = "integer", reflect_per_day = "integer" },
    shared_dict = "string",   -- extension: OpenResty lua_shared_dict for limiter state
  },
  barriers = {
    pii = { mode = enum("regex", "ner", "llm", "rules_then_llm", "disabled"),
            action = enum("redact", "reject", "warn"), patterns = "list", countries = "list",
            type_overrides = "map" },
    validation = { max_content_length = "integer", reject_empty_content = "boolean",
                   reject_binary_content = "boolean", allowed_content_types = "list" },
    metadata = { blocked_keys = "list", max_metadata_size_bytes = "integer" },
  },
  signal_quality = {
    dedup = { enabled = "boolean", similarity_threshold = "number", action = enum("skip", "warn", "update") },
    noisy_bank = { enabled = "boolean", retain_spike_multiplier = "number", min_avg_content_length = "number",
                   max_dedup_rate = "number", action = enum("warn", "throttle", "reject") },
  },
  escalation = {
    circuit_breaker = { failure_threshold = "integer", recovery_timeout_seconds = "number", half_open_max_calls = "integer" },
    degraded_mode = enum("empty_recall", "error", "cache"),
  },
  observability = { otel_enabled = "boolean", prometheus_enabled = "boolean", log_level = "string",
                    log_sink = "string" },
  access_control = {
    enabled = "boolean", default_policy = enum("owner_only", "open", "allow", "deny"),
    policy_provider = "string", policy_provider_config = "map",
    composition = enum("external_only", "config_then_external", "external_then_config"),
  },
  identity = "map", access_grants = "list", banks = "map", agents = "map",
  defaults = { skepticism = "integer", literalism = "integer", empathy = "integer",
               preferred_fact_types = "list", tags = "list" },
  mcp = { default_bank_id = "string", expose_reflect = "boolean", expose_forget = "boolean", expose_admin = "boolean",
          max_results_limit = "integer", principal = "string",
          allowed_origins = "list" },   -- extension: origins /mcp accepts besides loopback
  dlp = { scan_recall_output = "boolean", scan_reflect_output = "boolean", output_pii_action = enum("warn", "redact", "reject") },
  lifecycle = { enabled = "boolean", ttl = { archive_after_days = "integer", delete_after_days = "integer",
                                             exempt_tags = "list", fact_type_overrides = "map" } },
  -- The recall cache (pipeline/recall_cache.lua): off by default.
  recall_cache = {
    enabled = { "boolean", default = false },
    similarity_threshold = { "number", default = 0.95,
                             check = function(v) return v > 0 and v <= 1, "must be in (0, 1]" end },
    max_entries = { "integer", min = 1, default = 256 },
    ttl_seconds = { "number", default = 300, check = function(v) return v > 0, "must be > 0 (seconds)" end },
  },
  tiered_retrieval = "map", recall_authority = "map", curated_retain = "map",
  curated_recall = "map", entity_resolution = "map", wiki_compile = "map", async_tasks = "map",
  bm25_idf = "map", source_aware_retrieval = "map", cross_encoder_rerank = "map",
  spreading_activation = "map", causal_links = "map", entity_cooccurrence = "map",
  structured_fact_extraction = "map", query_analyzer = "map", semantic_link_graph = "map",
  agentic_reflect = "map", adversarial_defense = "map", directive_compile = "map",
  episodic_extract = "map", preference_compile = "map", benchmark_preset = "map",
  extraction_profiles = "map", sources = "map", deployment = "map", mip_config_path = "string", mip = "any",
  -- This engine's own sections.
  pipeline = {
    chunk_strategy = enum("sentence", "paragraph", "fixed"), max_chunk_size = "integer",
    chunk_overlap = "integer", rrf_k = "number", semantic_overfetch = "integer",
    semantic_min_score = "number", temporal_half_life_days = "number", temporal_scan_cap = "integer",
    final_rerank_mode = { "string", one_of = { "heuristic", "llm_pairwise" } }, final_rerank_top_n = "integer",
    weights = { semantic = "number", keyword = "number", graph = "number", temporal = "number", associative = "number",
                expansion = "number" },
    expansion = { seeds = "integer" },
    dialogue_context_turns = "integer", chunk_context_chars = "integer", context_in_embedding = "boolean",
    context_date = "boolean",
    session_diversity_penalty = "number", temporal_window_weight = "number",
    intent_weights = "map",   -- INTENT -> {semantic, keyword, graph, temporal}, over intent.WEIGHTS
  },
  reflect = { max_sentences = "integer", max_results = "integer" },
  vector_index = S.vector_index,
}
for _, k in ipairs(PROVIDER_KEYS) do
  S.root[k] = "string"
  S.root[k .. "_config"] = "map"
end

-- Keys allowed in banks.<id> (the reference's per-bank overrides).
S.bank = {
  profile = "string", access = "list",
  homeostasis = S.root.homeostasis, barriers = S.root.barriers, signal_quality = S.root.signal_quality,
  lifecycle = S.root.lifecycle,
}

-- Config keys whose values are credentials: an unresolved ${VAR} in them is an
-- error, and `config check` masks them.
S.SENSITIVE = {
  api_key = true, password = true, token = true, secret = true, dsn = true,
  connection_string = true, credentials = true, auth = true, jwks_url = true,
  issuer = true, audience = true,
}

-- Keys the engine may add to every provider config: its outbound_transport
-- ({provider, config}) where the section names none of its own.
S.PROVIDER_COMMON = { outbound_transport = "map" }

-- extend(a, b, ...) → a new section with the keys of each, later ones winning.
function S.extend(...)
  local out = {}
  for i = 1, select("#", ...) do
    for k, v in pairs((select(i, ...))) do out[k] = v end
  end
  return out
end

-- The keys the embedded stores read (store/localstore, store/memindex, the
-- C BM25 index): fixed dimensions, BM25 tuning, the vector index.
S.local_store = {
  dimensions = { "integer", min = 1, max = 65536 },
  bm25 = { k1 = { "number", min = 0, default = 1.2 }, b = { "number", min = 0, max = 1, default = 0.75 },
           stem = { "boolean", default = true }, stopwords = { "boolean", default = true } },
  vector_index = S.vector_index,
  -- The associative index (core.assoc) behind recall's associative and
  -- expansion channels; enabled = false saves its memory (~dim * 4 bytes per
  -- distinct term) when neither channel is weighted.
  assoc = { enabled = { "boolean", default = true }, dim = { "integer", min = 1, max = 4096 },
            nnz = { "integer", min = 1, max = 4096 }, min_df = { "integer", min = 1 },
            expand = { "integer", min = 1, max = 1024 }, min_sim = { "number", min = 0, max = 1 },
            min_docs = { "integer", min = 0, default = 100 }, max_docs = { "integer", min = 0, default = 5000 } },
}

-- The HTTP client keys of every network provider (providers/shared client →
-- astrocyte.http). timeout_ms and connect_timeout_ms default to the
-- transport's timeouts, else 30000 / 10000, so they have no fixed default.
S.http_client = {
  timeout_ms = { "integer", min = 1 }, connect_timeout_ms = { "integer", min = 1 },
  max_retries = { "integer", min = 0, default = 2 }, backoff_ms = { "integer", min = 0, default = 100 },
  max_backoff_ms = { "integer", min = 0, default = 2000 }, retry_after_cap_ms = { "integer", min = 0, default = 30000 },
  max_response_bytes = { "integer", min = 1, default = 64 * 1024 * 1024 },
  outbound_transport = "map",   -- {provider, config}: this provider's own egress
  log = "any",                  -- a logger object (Lua callers only)
}

-- An http(s) URL as providers/shared base_url accepts it.
S.URL = "^https?://[^%s]+$"

return S
