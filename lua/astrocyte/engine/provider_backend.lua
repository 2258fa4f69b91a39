-- astrocyte.engine.provider_backend: the backend of an engine that runs on
-- an engine provider (Tier 2: `provider` + `provider_config`, e.g. mem0,
-- zep) instead of the built-in pipeline; it has the pipeline's entry points
-- (retain, recall, reflect, forget). The engine provider owns embedding,
-- storage and retrieval; the policy layer still runs in astrocyte.engine
-- before every call. Capabilities are read once at open (EngineCapabilities)
-- and the reference's fallbacks apply where the provider lacks one:
-- reflect → fallback_strategy local_llm (provider recall + LLM synthesis;
-- needs llm_provider), degrade (hit texts joined), error
-- (CapabilityNotSupported); forget → degrade (no-op with a warning) or
-- CapabilityNotSupported; tags are stripped for a provider without
-- supports_tags (with a warning), time ranges pass through with a warning
-- when supports_temporal_search is false.
local errors = require "astrocyte.errors"
local synthesize = require "astrocyte.pipeline.synthesize"
local recall_mod = require "astrocyte.pipeline.recall"
local util = require "astrocyte.util"
local ipairs, type, fmt, sort, min = ipairs, type, string.format, table.sort, math.min

local _M = {}

local FALLBACKS = { local_llm = true, error = true, degrade = true }

-- Reads capabilities and checks the fallback configuration at open.
-- Returns caps or nil, ConfigError.
function _M.prepare(cfg, provider, llm)
  local ok, caps = pcall(provider.capabilities, provider)
  if not ok or type(caps) ~= "table" then
    return nil, errors.config(fmt("provider: '%s' capabilities() failed: %s", tostring(cfg.provider), tostring(caps)), { key_path = "provider" })
  end
  local fb = cfg.fallback_strategy or "error"
  if not FALLBACKS[fb] then
    return nil, errors.config(fmt("fallback_strategy must be local_llm, error or degrade, got '%s'", tostring(fb)), { key_path = "fallback_strategy" })
  end
  if fb == "local_llm" and not caps.supports_reflect and not llm then
    return nil, errors.config("fallback_strategy local_llm needs llm_provider (the engine provider cannot reflect)", { key_path = "llm_provider" })
  end
  return caps
end

local function unsupported(name, capability)
  return errors.new("CapabilityNotSupported", fmt("provider '%s' does not support %s", name, capability),
                    { provider = name, capability = capability })
end

-- Calls provider[method](req) → result | nil, error object (a provider
-- that gives nothing back is unavailable).
local function call(eng, method, req)
  local fields = { kind = "ProviderUnavailable", provider = eng.cfg.provider }
  local res, err = errors.call(eng.engine_provider, method, fields, req)
  if res == nil and err == nil then
    return nil, errors.new("ProviderUnavailable", tostring(eng.cfg.provider) .. ": no result", fields)
  end
  return res, err
end

-- Applies capability adaptations to a request; returns req, warnings.
local function adapt(eng, req)
  local warnings = {}
  local caps = eng.engine_caps
  if req.tags and not caps.supports_tags then
    warnings[#warnings + 1] = fmt("provider '%s' does not support tags: tags ignored", eng.cfg.provider)
    req.tags = nil
  end
  if req.time_range and not caps.supports_temporal_search then
    warnings[#warnings + 1] = fmt("provider '%s' does not support temporal search: time_range passed through", eng.cfg.provider)
  end
  return req, warnings
end

-- The provider's retain request for validated retain request r, and the
-- capability warnings.
local function retain_req(eng, r)
  return adapt(eng, { content = r.content, bank_id = r.bank_id, metadata = r.metadata, tags = r.tags,
                      occurred_at = util.iso(r.occurred_ms), content_type = r.content_type or "text",
                      extraction_profile = r.extraction_profile })
end

-- retain through the provider. r: validated retain request (engine).
function _M.retain(eng, r)
  local req, warnings = retain_req(eng, r)
  local res, err = call(eng, "retain", req)
  if not res then return nil, err end
  if res.stored == false and res.error then
    return nil, errors.new("ProviderError", fmt("provider '%s' did not store the memory: %s", eng.cfg.provider, res.error),
                           { provider = eng.cfg.provider, bank_id = r.bank_id })
  end
  if #warnings > 0 then res.warnings = warnings end
  return res
end

-- retain_many through the provider: its own retain_many when it has one,
-- else one retain per request; on a failure the memories the earlier
-- requests stored are forgotten (when the provider can forget), so the
-- call leaves nothing. list: {{r = validated request}, ...}.
function _M.retain_many(eng, list)
  local p = eng.engine_provider
  if type(p.retain_many) == "function" then
    local reqs = {}
    for i, x in ipairs(list) do reqs[i] = retain_req(eng, x.r) end
    return call(eng, "retain_many", reqs)
  end
  local results = {}
  for i, x in ipairs(list) do
    local res, err = _M.retain(eng, x.r)
    if not res then
      if eng.engine_caps.supports_forget then
        for j = 1, i - 1 do
          local ids = results[j].memory_ids or { results[j].memory_id }
          call(eng, "forget", { bank_id = list[j].r.bank_id, memory_ids = ids })
        end
      end
      if errors.is(err) then err.index = i; err.message = fmt("items[%d]: %s", i, err.message) end
      return nil, err
    end
    results[i] = res
  end
  return results
end

-- recall on one bank through the provider.
local function recall_one(eng, o, bank)
  local req = { query = o.query, bank_id = bank, max_results = o.max_results, tags = o.tags,
                fact_types = o.fact_types, as_of = util.iso(o.as_of_ms), session_id = o.session_id }
  if o.time_range then req.time_range = { util.iso(o.time_range.from), util.iso(o.time_range.to) } end
  local warnings
  req, warnings = adapt(eng, req)
  local res, err = call(eng, "recall", req)
  if not res then return nil, err end
  for _, h in ipairs(res.hits or {}) do
    h.bank_id = h.bank_id or bank
    if type(h.score) ~= "number" then h.score = 0 end
    if h.score < 0 then h.score = 0 elseif h.score > 1 then h.score = 1 end
  end
  res.hits = res.hits or {}
  res.trace = res.trace or {}
  if #warnings > 0 then res.trace.warnings = warnings end
  return res
end

-- recall through the provider: one bank, or several merged by score
-- (provider scores are the only signal a Tier-2 engine gives).
function _M.recall(eng, o)
  local banks = o.banks or { o.bank_id }
  local hits, total = {}, 0
  for _, b in ipairs(banks) do
    local res, err = recall_one(eng, o, b)
    if not res then return nil, err end
    total = total + (res.total_available or #res.hits)
    for _, h in ipairs(res.hits) do hits[#hits + 1] = h end
  end
  for i, h in ipairs(hits) do h._pos = i end
  sort(hits, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    return a._pos < b._pos
  end)
  local out = {}
  for i = 1, min(#hits, o.max_results) do hits[i]._pos = nil; out[i] = hits[i] end
  local truncated
  out, truncated = recall_mod.token_budget(out, o.max_tokens)
  return { hits = out, total_available = total, truncated = truncated,
           trace = { strategies_used = { "engine:" .. tostring(eng.cfg.provider) }, fusion_method = "provider" } }
end

-- reflect: the provider's own, or the configured fallback.
function _M.reflect(eng, o, opts)
  local name = eng.cfg.provider
  if eng.engine_caps.supports_reflect and not o.banks then
    return call(eng, "reflect", { query = o.query, bank_id = o.bank_id, max_tokens = o.max_tokens,
                                  tags = o.tags, dispositions = opts.dispositions, as_of = util.iso(o.as_of_ms) })
  end
  local fb = eng.cfg.fallback_strategy or "error"
  if fb == "error" then return nil, unsupported(name, "reflect") end
  local ro = util.copy(o)
  ro.max_results = 10
  local res, err = _M.recall(eng, ro)
  if not res then return nil, err end
  if fb == "degrade" then
    local texts = {}
    for i, h in ipairs(res.hits) do texts[i] = h.text end
    return { answer = table.concat(texts, "\n"), sources = res.hits, fallback = "degrade" }
  end
  local r = synthesize.run(o.query, res.hits, eng.llm, opts)
  r.fallback = "local_llm"
  return r
end

-- forget: the provider's own, or the configured fallback.
function _M.forget(eng, o)
  local name = eng.cfg.provider
  if eng.engine_caps.supports_forget then
    return call(eng, "forget", { bank_id = o.bank_id, memory_ids = o.memory_ids, tags = o.tags,
                                 before_date = util.iso(o.before_ms), scope = o.all and "all" or o.scope })
  end
  if (eng.cfg.fallback_strategy or "error") == "degrade" then
    return { deleted_count = 0, archived_count = 0,
             warning = fmt("provider '%s' cannot forget; nothing was deleted", name) }
  end
  return nil, unsupported(name, "forget")
end

return _M
