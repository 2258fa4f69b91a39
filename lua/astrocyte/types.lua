-- astrocyte.types: the reference DTOs as data. Each DTO is a list of fields
-- (name, type, default, invariants); from that one schema this module builds
--   types.VectorItem{...}        → a new table with defaults filled, times in
--                                  canonical ISO-8601 UTC, or nil, ValidationError
--   types.validate("VectorHit", v) → true or nil, ValidationError (no copy)
--   types.to_json(name, v) / types.from_json(name, s)
-- Errors name the field: "VectorItem.text must be a non-empty string".
-- A Lua DTO is a plain table; nil is the reference's None. Fields a DTO does
-- not declare are kept (providers add extensions such as a hit's bank_id).
-- Timestamps are ISO-8601 strings at every boundary; constructors also accept
-- seconds since the epoch. "frozen" DTOs of the reference are plain tables here.
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local type, pairs, ipairs, fmt, floor, tostring = type, pairs, ipairs, string.format, math.floor, tostring
local concat, sort = table.concat, table.sort
local huge = math.huge

local _M = {}

-- Field helper: f(name, type, opts) with opts = {default, required, enum,
-- min, max, nonempty}.
local function f(name, ftype, o)
  local fd = { name = name, type = ftype }
  for k, v in pairs(o or {}) do fd[k] = v end
  return fd
end
local REQ = { required = true }
local function req(extra)
  local o = { required = true }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local SCHEMAS = {
  -- 2.1 storage DTOs
  HealthStatus = { f("healthy", "boolean", REQ), f("message", "string"), f("latency_ms", "number"),
                   f("last_check_at", "time") },
  VectorItem = { f("id", "string", req { nonempty = true }), f("bank_id", "string", req { nonempty = true }),
                 f("vector", "numbers", req { nonempty = true }), f("text", "string", req { nonempty = true }),
                 f("metadata", "metadata"), f("tags", "strings"), f("fact_type", "string"),
                 f("occurred_at", "time"), f("memory_layer", "string"), f("retained_at", "time"),
                 f("chunk_id", "string") },
  VectorFilters = { f("bank_id", "string"), f("tags", "strings"), f("fact_types", "strings"),
                    f("time_range", "time_range"), f("metadata_filters", "metadata"), f("as_of", "time"),
                    f("session_id", "string") },
  VectorHit = { f("id", "string", REQ), f("text", "string", REQ), f("score", "number", req { min = 0, max = 1 }),
                f("metadata", "metadata"), f("tags", "strings"), f("fact_type", "string"), f("occurred_at", "time"),
                f("memory_layer", "string"), f("retained_at", "time"), f("chunk_id", "string") },
  Entity = { f("id", "string", req { nonempty = true }), f("name", "string", req { nonempty = true }),
             f("entity_type", "string", REQ), f("aliases", "strings"), f("metadata", "metadata"),
             f("embedding", "numbers"), f("mention_count", "integer", { default = 1, min = 0 }) },
  EntityCandidateMatch = { f("entity", "dto:Entity", REQ), f("name_similarity", "number", req { min = 0, max = 1 }),
                           f("embedding_similarity", "number", { min = -1, max = 1 }),
                           f("co_occurring_names", "strings", { default = {} }), f("last_seen", "time"),
                           f("mention_count", "integer", { default = 1, min = 0 }) },
  EntityLink = { f("entity_a", "string", req { nonempty = true }), f("entity_b", "string", req { nonempty = true }),
                 f("link_type", "string", req { nonempty = true }), f("evidence", "string", { default = "" }),
                 f("confidence", "number", { default = 1.0 }), f("created_at", "time"), f("metadata", "metadata") },
  MemoryEntityAssociation = { f("memory_id", "string", req { nonempty = true }),
                              f("entity_id", "string", req { nonempty = true }) },
  MemoryLink = { f("source_memory_id", "string", req { nonempty = true }),
                 f("target_memory_id", "string", req { nonempty = true }),
                 f("link_type", "string", req { nonempty = true }), f("evidence", "string", { default = "" }),
                 f("confidence", "number", { default = 1.0 }), f("weight", "number", { default = 1.0 }),
                 f("created_at", "time"), f("metadata", "metadata") },
  GraphHit = { f("memory_id", "string", REQ), f("text", "string", REQ), f("connected_entities", "strings", REQ),
               f("depth", "integer", req { min = 0 }), f("score", "number", REQ) },
  Document = { f("id", "string", req { nonempty = true }), f("text", "string", req { nonempty = true }),
               f("metadata", "metadata"), f("tags", "strings") },
  DocumentFilters = { f("tags", "strings"), f("metadata_filters", "metadata") },
  DocumentHit = { f("document_id", "string", REQ), f("text", "string", REQ), f("score", "number", REQ),
                  f("metadata", "metadata") },
  WikiPage = { f("page_id", "string", req { nonempty = true }), f("bank_id", "string", req { nonempty = true }),
               f("kind", "string", req { enum = { "entity", "topic", "concept" } }), f("title", "string", REQ),
               f("content", "string", REQ), f("scope", "string", REQ), f("source_ids", "strings", { default = {} }),
               f("cross_links", "strings", { default = {} }), f("revision", "integer", { default = 1, min = 1 }),
               f("revised_at", "time"), f("tags", "strings"), f("metadata", "metadata") },
  WikiPageHit = { f("page_id", "string", REQ), f("title", "string", REQ), f("content", "string", REQ),
                  f("scope", "string", REQ), f("kind", "string", REQ), f("score", "number", req { min = 0, max = 1 }),
                  f("source_ids", "strings", { default = {} }), f("bank_id", "string", REQ) },
  MentalModel = { f("model_id", "string", req { nonempty = true }), f("bank_id", "string", req { nonempty = true }),
                  f("title", "string", REQ), f("content", "string", REQ), f("scope", "string", { default = "bank" }),
                  f("source_ids", "strings", { default = {} }), f("revision", "integer", { default = 1, min = 1 }),
                  f("refreshed_at", "time"), f("kind", "string", { default = "general", enum = { "general", "preference" } }),
                  f("structured_doc", "map"), f("source_timestamps", "times") },
  SourceDocument = { f("id", "string", req { nonempty = true }), f("bank_id", "string", req { nonempty = true }),
                     f("title", "string"), f("source_uri", "string"), f("content_hash", "string"),
                     f("content_type", "string"), f("metadata", "metadata"), f("created_at", "time") },
  SourceChunk = { f("id", "string", req { nonempty = true }), f("bank_id", "string", req { nonempty = true }),
                  f("document_id", "string", req { nonempty = true }), f("chunk_index", "integer", req { min = 0 }),
                  f("text", "string", REQ), f("content_hash", "string"), f("metadata", "metadata"),
                  f("created_at", "time") },

  -- 2.2 memory-operation DTOs
  Dispositions = { f("skepticism", "integer", { default = 3, min = 1, max = 5 }),
                   f("literalism", "integer", { default = 3, min = 1, max = 5 }),
                   f("empathy", "integer", { default = 3, min = 1, max = 5 }) },
  RetainRequest = { f("content", "string", req { nonempty = true }), f("bank_id", "string", req { nonempty = true }),
                    f("metadata", "metadata"), f("tags", "strings"), f("occurred_at", "time"), f("source", "string"),
                    f("content_type", "string", { default = "text" }), f("extraction_profile", "string"),
                    f("mip_pipeline", "map"), f("mip_rule_name", "string") },
  RetainResult = { f("stored", "boolean", REQ), f("memory_id", "string"), f("deduplicated", "boolean", { default = false }),
                   f("error", "string"), f("retention_action", "string", { enum = { "add", "update", "merge", "skip", "delete" } }),
                   f("curated", "boolean", { default = false }), f("memory_layer", "string") },
  MemoryHit = { f("text", "string", REQ), f("score", "number", req { min = 0, max = 1 }), f("fact_type", "string"),
                f("metadata", "metadata"), f("tags", "strings"), f("occurred_at", "time"), f("source", "string"),
                f("memory_id", "string"), f("bank_id", "string"), f("memory_layer", "string"),
                f("utility_score", "number", { min = 0, max = 1 }), f("retained_at", "time"), f("chunk_id", "string") },
  RecallRequest = { f("query", "string", req { nonempty = true }), f("bank_id", "string", req { nonempty = true }),
                    f("max_results", "integer", { default = 10, min = 1 }), f("max_tokens", "integer", { min = 1 }),
                    f("fact_types", "strings"), f("tags", "strings"), f("time_range", "time_range"),
                    f("include_sources", "boolean", { default = false }), f("layer_weights", "number_map"),
                    f("detail_level", "string", { enum = { "titles", "bodies", "full" } }),
                    f("external_context", "list:MemoryHit"), f("as_of", "time"), f("query_reference_date", "time"),
                    f("dispositions", "dto:Dispositions"), f("session_id", "string") },
  RecallTrace = { f("strategies_used", "strings"), f("total_candidates", "integer"), f("fusion_method", "string"),
                  f("latency_ms", "number"), f("strategy_timings_ms", "number_map"),
                  f("strategy_candidate_counts", "number_map"), f("tier_used", "integer"),
                  f("layer_distribution", "number_map"), f("cache_hit", "boolean"), f("wiki_tier_used", "boolean") },
  RecallResult = { f("hits", "list:MemoryHit", REQ), f("total_available", "integer", req { min = 0 }),
                   f("truncated", "boolean", REQ), f("trace", "dto:RecallTrace"), f("authority_context", "string"),
                   f("top_semantic_score", "number", { default = 0.0 }) },
  ReflectRequest = { f("query", "string", req { nonempty = true }), f("bank_id", "string", req { nonempty = true }),
                     f("max_tokens", "integer", { min = 1 }), f("include_sources", "boolean", { default = true }),
                     f("dispositions", "dto:Dispositions"), f("tags", "strings"), f("as_of", "time"),
                     f("query_reference_date", "time") },
  ReflectResult = { f("answer", "string", REQ), f("confidence", "number", { min = 0, max = 1 }),
                    f("sources", "list:MemoryHit"), f("observations", "strings"), f("authority_context", "string") },
  ForgetRequest = { f("bank_id", "string", req { nonempty = true }), f("memory_ids", "strings"), f("tags", "strings"),
                    f("before_date", "time"), f("scope", "string", { enum = { "all" } }) },
  ForgetResult = { f("deleted_count", "integer", req { min = 0 }), f("archived_count", "integer", { default = 0, min = 0 }) },
  EngineCapabilities = {
    f("supports_reflect", "boolean", { default = false }), f("supports_forget", "boolean", { default = false }),
    f("supports_semantic_search", "boolean", { default = true }), f("supports_keyword_search", "boolean", { default = false }),
    f("supports_graph_search", "boolean", { default = false }), f("supports_temporal_search", "boolean", { default = false }),
    f("supports_dispositions", "boolean", { default = false }), f("supports_consolidation", "boolean", { default = false }),
    f("supports_entities", "boolean", { default = false }), f("supports_tags", "boolean", { default = false }),
    f("supports_metadata", "boolean", { default = true }), f("supports_compile", "boolean", { default = false }),
    f("max_retain_bytes", "integer", { min = 1 }), f("max_recall_results", "integer", { min = 1 }),
    f("max_embedding_dims", "integer", { min = 1 }) },
  MultiBankStrategy = { f("mode", "string", { default = "parallel", enum = { "cascade", "parallel", "first_match" } }),
                        f("min_results_to_stop", "integer", { default = 3, min = 0 }), f("cascade_order", "strings"),
                        f("bank_weights", "number_map"), f("dedup_across_banks", "boolean", { default = true }) },

  -- 2.3 LLM / transport DTOs
  ContentPart = { f("type", "string", req { enum = { "text", "image_url", "image_base64", "audio_url", "audio_base64" } }),
                  f("text", "string"), f("image_url", "string"), f("image_base64", "string"), f("audio_url", "string"),
                  f("audio_base64", "string"), f("media_type", "string") },
  ToolCall = { f("id", "string", REQ), f("name", "string", req { nonempty = true }), f("arguments", "map", REQ) },
  ToolDefinition = { f("name", "string", req { nonempty = true }), f("description", "string", REQ),
                     f("parameters", "map", REQ) },
  Message = { f("role", "string", req { enum = { "system", "user", "assistant", "tool" } }),
              f("content", "content", { default = "" }), f("tool_calls", "list:ToolCall"),
              f("tool_call_id", "string"), f("name", "string") },
  TokenUsage = { f("input_tokens", "integer", req { min = 0 }), f("output_tokens", "integer", req { min = 0 }) },
  Completion = { f("text", "string", REQ), f("model", "string", REQ), f("usage", "dto:TokenUsage"),
                 f("tool_calls", "list:ToolCall") },
  LLMCapabilities = { f("supports_multimodal_completion", "boolean", { default = false }),
                      f("modalities_supported", "strings"),
                      f("supports_multimodal_embedding", "boolean", { default = false }),
                      f("supports_batch_embed", "boolean", { default = true }) },
  HttpClientContext = { f("proxy", "string"), f("ca_bundle", "string"), f("headers", "string_map"),
                        f("timeouts", "number_map") },
  TransportCapabilities = { f("supports_proxy", "boolean", { default = false }),
                            f("supports_custom_ca", "boolean", { default = false }),
                            f("supports_client_cert", "boolean", { default = false }),
                            f("supports_headers", "boolean", { default = false }) },

  -- Spec-only SPIs (§1.11): sink capabilities and the event envelope.
  MemoryExportSinkCapabilities = { f("event_kinds", "strings", { default = {} }),
                                   f("includes_embeddings", "boolean", { default = false }),
                                   f("includes_raw_text", "boolean", { default = false }) },
  MemoryExportSinkEvent = { f("event_id", "string", req { nonempty = true }),
                            f("kind", "string", req { enum = { "RetainCommitted", "ForgetApplied", "RecallObserved",
                              "ReflectObserved", "BankLifecycle", "ExportCompleted", "GovernanceSignal" } }),
                            f("version", "integer", { default = 1, min = 1 }), f("bank_id", "string"),
                            f("occurred_at", "time"), f("payload", "map", { default = {} }) },
}
_M.SCHEMAS = SCHEMAS

-- Returns the sorted list of DTO names.
function _M.names()
  return util.sorted_keys(SCHEMAS)
end

local function finite(v) return type(v) == "number" and v == v and v ~= huge and v ~= -huge end

local function is_map(v)
  if type(v) ~= "table" then return false end
  if next(v) == nil then return true end
  for k in pairs(v) do
    if type(k) ~= "string" then return false end
  end
  return true
end

local function verr(path, msg)
  return nil, errors.validation(path .. " " .. msg, { field = path })
end

local normalize -- forward

-- Normalizes one field value (v ~= nil); returns the value or nil, err.
local function field_value(fd, v, path, copy)
  local t = fd.type
  if t == "string" then
    if type(v) ~= "string" or (fd.nonempty and v == "") then
      return verr(path, fd.nonempty and "must be a non-empty string" or "must be a string")
    end
    if fd.enum then
      local ok = false
      for _, e in ipairs(fd.enum) do if v == e then ok = true break end end
      if not ok then return verr(path, "must be one of " .. concat(fd.enum, ", ") .. ", got '" .. v .. "'") end
    end
    return v
  elseif t == "number" or t == "integer" then
    if not finite(v) then return verr(path, "must be a finite number") end
    if t == "integer" then
      if v ~= floor(v) then return verr(path, "must be an integer") end
      v = floor(v)
    end
    if (fd.min and v < fd.min) or (fd.max and v > fd.max) then
      if fd.min and fd.max then return verr(path, fmt("must be between %s and %s, got %s", fd.min, fd.max, tostring(v))) end
      if fd.min then return verr(path, fmt("must be >= %s, got %s", fd.min, tostring(v))) end
      return verr(path, fmt("must be <= %s, got %s", fd.max, tostring(v)))
    end
    return v
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return verr(path, "must be a boolean") end
    return v
  elseif t == "time" then
    if type(v) ~= "string" and type(v) ~= "number" then
      return verr(path, "must be an ISO-8601 string or seconds since the epoch")
    end
    local ms, why = util.to_ms(v)
    if not ms then return verr(path, "is not a valid time: " .. tostring(why)) end
    return copy and util.iso(ms) or v
  elseif t == "strings" or t == "numbers" or t == "times" then
    if type(v) ~= "table" or not util.is_array(v) then return verr(path, "must be an array") end
    if fd.nonempty and #v == 0 then return verr(path, "must be a non-empty array") end
    local out = copy and {} or v
    for i = 1, #v do
      local x = v[i]
      local ip = fmt("%s[%d]", path, i)
      if t == "strings" and type(x) ~= "string" then return verr(ip, "must be a string") end
      if t == "numbers" and not finite(x) then return verr(ip, "must be a finite number") end
      if t == "times" then
        local ms = (type(x) == "string" or type(x) == "number") and util.to_ms(x)
        if not ms then return verr(ip, "must be an ISO-8601 time") end
        if copy then x = util.iso(ms) end
      end
      if copy then out[i] = x end
    end
    return out
  elseif t == "metadata" then
    if not is_map(v) then return verr(path, "must be a map of string keys to scalar values") end
    for k, x in pairs(v) do
      local tx = type(x)
      if tx ~= "string" and tx ~= "boolean" and not finite(x) then
        return verr(path .. "." .. k, "must be a string, number or boolean")
      end
    end
    return copy and util.copy(v) or v
  elseif t == "string_map" or t == "number_map" then
    if not is_map(v) then return verr(path, "must be a map with string keys") end
    for k, x in pairs(v) do
      if t == "string_map" and type(x) ~= "string" then return verr(path .. "." .. k, "must be a string") end
      if t == "number_map" and not finite(x) then return verr(path .. "." .. k, "must be a finite number") end
    end
    return copy and util.copy(v) or v
  elseif t == "map" then
    if not is_map(v) then return verr(path, "must be a map with string keys") end
    return copy and util.deepcopy(v) or v
  elseif t == "time_range" then
    if type(v) ~= "table" then return verr(path, "must be a pair {from, to}") end
    local a, b = v[1], v[2]
    if a == nil then a = v.from end
    if b == nil then b = v.to end
    local ma = a ~= nil and util.to_ms(a)
    local mb = b ~= nil and util.to_ms(b)
    if not ma or not mb then return verr(path, "must be a pair {from, to} of ISO-8601 times") end
    if ma > mb then return verr(path, "from is after to") end
    return copy and { util.iso(ma), util.iso(mb) } or v
  elseif t == "content" then
    if type(v) == "string" then return v end
    if type(v) ~= "table" or not util.is_array(v) then
      return verr(path, "must be a string or an array of ContentPart")
    end
    local out = copy and {} or v
    for i = 1, #v do
      local x, err = normalize("ContentPart", v[i], fmt("%s[%d]", path, i), copy)
      if x == nil then return nil, err end
      if copy then out[i] = x end
    end
    return out
  end
  local dto = t:match("^dto:(.+)$")
  if dto then return normalize(dto, v, path, copy) end
  local ldto = t:match("^list:(.+)$")
  if ldto then
    if type(v) ~= "table" or not util.is_array(v) then return verr(path, "must be an array") end
    local out = copy and {} or v
    for i = 1, #v do
      local x, err = normalize(ldto, v[i], fmt("%s[%d]", path, i), copy)
      if x == nil then return nil, err end
      if copy then out[i] = x end
    end
    return out
  end
  error("astrocyte.types: unknown field type " .. t)
end

-- Checks (and with copy=true, copies and completes) a DTO. Returns the DTO
-- (the input itself when copy is false) or nil, ValidationError.
normalize = function(name, v, path, copy)
  local schema = SCHEMAS[name]
  if not schema then error("astrocyte.types: unknown DTO " .. tostring(name), 3) end
  path = path or name
  if type(v) ~= "table" then
    return verr(path, "must be a table, got " .. type(v))
  end
  local out = v
  if copy then
    out = {}
    for k, x in pairs(v) do out[k] = x end
  end
  for _, fd in ipairs(schema) do
    local x = v[fd.name]
    local fp = path .. "." .. fd.name
    if x == nil then
      if fd.required then
        return verr(fp, "is required")
      end
      if copy and fd.default ~= nil then
        out[fd.name] = type(fd.default) == "table" and util.deepcopy(fd.default) or fd.default
      end
    else
      local nv, err = field_value(fd, x, fp, copy)
      if nv == nil then return nil, err end
      if copy then out[fd.name] = nv end
    end
  end
  return out
end

-- Returns true if v is a valid `name` DTO, else nil and a ValidationError.
function _M.validate(name, v)
  local ok, err = normalize(name, v, name, false)
  if ok == nil then return nil, err end
  return true
end

-- types.list(name, list, what, label [, keep]) → the validated `name` DTOs
-- of array list, or nil and "<label>: <what> must be an array" /
-- "<label>: <what>[i]: <reason>" (the stores' error text). keep: carry each
-- input's id and string text over to its DTO (graph store rows).
function _M.list(name, list, what, label, keep)
  if type(list) ~= "table" then return nil, fmt("%s: %s must be an array", label, what) end
  local out = {}
  for i, v in ipairs(list) do
    local dto, verr = _M[name](v)
    if not dto then return nil, fmt("%s: %s[%d]: %s", label, what, i, verr.message) end
    if keep then
      dto.id = v.id
      if type(v.text) == "string" then dto.text = v.text end
    end
    out[i] = dto
  end
  return out
end

-- Returns a new `name` DTO from t (defaults filled, times canonical), or nil
-- and a ValidationError.
function _M.new(name, t)
  return normalize(name, t or {}, name, true)
end

-- Constructors: types.VectorItem{...}, types.Dispositions{} ...
for name in pairs(SCHEMAS) do
  _M[name] = function(t) return _M.new(name, t) end
end

---------------------------------------------------------------------------
-- JSON. Encoding follows the schema, so an empty map field becomes {} and
-- an empty list [] (cjson 2.1.0 cannot tell them apart). Keys are sorted,
-- nil fields are omitted, undeclared fields are encoded generically.
---------------------------------------------------------------------------
local json = util.json

local encode_dto -- forward

local function encode_field(t, v, out)
  if t == "map" or t == "metadata" or t == "string_map" or t == "number_map" then
    if next(v) == nil then out[#out + 1] = "{}"; return end
    out[#out + 1] = assert(util.encode(v))
    return
  end
  local dto = t:match("^dto:(.+)$")
  if dto then return encode_dto(dto, v, out) end
  local ldto = t:match("^list:(.+)$")
  if ldto or t == "content" and type(v) == "table" then
    out[#out + 1] = "["
    for i = 1, #v do
      if i > 1 then out[#out + 1] = "," end
      encode_dto(ldto or "ContentPart", v[i], out)
    end
    out[#out + 1] = "]"
    return
  end
  out[#out + 1] = assert(util.encode(v))
end

encode_dto = function(name, v, out)
  local types_of = {}
  for _, fd in ipairs(SCHEMAS[name]) do types_of[fd.name] = fd.type end
  local keys = {}
  for k, x in pairs(v) do
    if type(k) == "string" and x ~= nil and type(x) ~= "function" then keys[#keys + 1] = k end
  end
  sort(keys)
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = json.encode(k)
    out[#out + 1] = ":"
    encode_field(types_of[k] or "json", v[k], out)
  end
  out[#out + 1] = "}"
end

-- Returns the JSON text of a valid `name` DTO, or nil and an error.
function _M.to_json(name, v)
  local dto, err = _M.new(name, v)
  if not dto then return nil, err end
  local out = {}
  local ok, eerr = pcall(encode_dto, name, dto, out)
  if not ok then
    return nil, errors.validation(fmt("%s cannot be encoded as JSON: %s", name, tostring(eerr)), { field = name })
  end
  return concat(out)
end

-- Replaces cjson.null with nil, recursively.
local function strip_null(v)
  if type(v) ~= "table" then
    if v == json.null then return nil end
    return v
  end
  local out = {}
  for k, x in pairs(v) do out[k] = strip_null(x) end
  return out
end

-- Decodes JSON text into a validated `name` DTO, or nil and a ValidationError.
function _M.from_json(name, s)
  if not SCHEMAS[name] then error("astrocyte.types: unknown DTO " .. tostring(name), 2) end
  if type(s) ~= "string" then
    return nil, errors.validation(name .. ": JSON input must be a string", { field = name })
  end
  local v, err = json.decode(s)
  if v == nil and err then
    return nil, errors.validation(fmt("%s: invalid JSON: %s", name, tostring(err)), { field = name })
  end
  return _M.new(name, strip_null(v))
end

return _M
