-- astrocyte.engine.providers: the providers an engine runs on. build(cfg,
-- old) resolves every provider the config names through the registry (an
-- engine provider, or the stores + embedder of the built-in pipeline, and
-- the LLM), keeping those of `old` whose name and config did not change;
-- attach(eng, p) puts each behind its circuit breaker and picks the
-- backend: the built-in pipeline, or the engine provider's.
local errors = require "astrocyte.errors"
local pipeline = require "astrocyte.pipeline"
local provider_backend = require "astrocyte.engine.provider_backend"
local registry = require "astrocyte.registry"
local util = require "astrocyte.util"
local type, pairs, ipairs, pcall, fmt = type, pairs, ipairs, pcall, string.format

local _M = {}

-- Canonical text of a provider choice (name + config) to tell whether a
-- reload changed it.
local function provider_key(name, conf)
  return tostring(name) .. "\0" .. (util.encode(conf or {}) or "")
end

-- Every provider config that names no outbound_transport of its own gets
-- the engine's, so all of this engine's egress (stores, LLMs, policy
-- providers) goes through it — per engine, not process-wide.
local PROVIDER_CONFIGS = { "vector_store_config", "document_store_config", "graph_store_config",
  "embedding_provider_config", "llm_provider_config", "provider_config" }
function _M.spread_transport(cfg)
  local t = cfg.outbound_transport
  if t == nil then return end
  for _, k in ipairs(PROVIDER_CONFIGS) do
    if cfg[k] == nil and cfg[k:gsub("_config$", "")] then cfg[k] = {} end
    if type(cfg[k]) == "table" and cfg[k].outbound_transport == nil then cfg[k].outbound_transport = t end
  end
  local ac = cfg.access_control
  if type(ac) == "table" and ac.policy_provider then
    ac.policy_provider_config = ac.policy_provider_config or {}
    if ac.policy_provider_config.outbound_transport == nil then ac.policy_provider_config.outbound_transport = t end
  end
end

-- Closes each provider of set p (slot → provider) that `keep` does not hold.
function _M.close(p, keep)
  local closed = {}
  for slot, prov in pairs(p) do
    if slot ~= "keys" and prov.close and not closed[prov] and not (keep and keep[prov]) then
      closed[prov] = true
      pcall(prov.close, prov)
    end
  end
end

-- Closes the providers of p that a reload built anew (not in `old`).
function _M.close_new(p, old)
  local keep = {}
  for slot, prov in pairs(old) do if slot ~= "keys" then keep[prov] = true end end
  _M.close(p, keep)
end

-- Builds (or keeps from `old`) the providers that cfg names. Returns a table
-- {vector_store, document_store, embedder, graph_store, llm, engine, keys}
-- or nil, err; on error nothing newly built is left open.
function _M.build(cfg, old)
  _M.spread_transport(cfg)
  local built, keys = {}, {}
  local function get(slot, group, name, conf, key_path)
    local key = provider_key(name, conf)
    keys[slot] = key
    if old and old.keys[slot] == key then return old[slot] end
    local p, err = registry.build(group, name, conf, key_path)
    if p then built[slot] = p end
    return p, err
  end
  local function fail(err) _M.close(built); return nil, err end
  local p, err = { keys = keys }, nil
  -- The LLM, last: the only provider both tiers may have.
  local function with_llm()
    if cfg.llm_provider then
      p.llm, err = get("llm", "llm_providers", cfg.llm_provider, cfg.llm_provider_config, "llm_provider")
      if not p.llm then return fail(err) end
    end
    return p
  end
  -- Tier 2: an engine provider owns storage and retrieval; no stores needed.
  if cfg.provider then
    p.engine, err = get("engine", "engine_providers", cfg.provider, cfg.provider_config, "provider")
    if not p.engine then return fail(err) end
    return with_llm()
  end
  -- The top-level vector_index section tunes the built-in stores' indexes;
  -- not given to a store whose schema gives vector_index another meaning
  -- (postgres: the index kind, a string).
  local vs_schema = registry.schema("vector_stores", cfg.vector_store)
  local vi = vs_schema and vs_schema.vector_index
  if type(cfg.vector_index) == "table" and type(cfg.vector_store_config) == "table"
     and cfg.vector_store_config.vector_index == nil
     and (vs_schema == nil or (type(vi) == "table" and type(vi[1]) ~= "string")) then
    cfg.vector_store_config.vector_index = cfg.vector_index
  end
  p.vector_store, err = get("vector_store", "vector_stores", cfg.vector_store, cfg.vector_store_config, "vector_store")
  if not p.vector_store then return fail(err) end
  if cfg.document_store then
    p.document_store, err = get("document_store", "document_stores", cfg.document_store, cfg.document_store_config, "document_store")
    if not p.document_store then return fail(err) end
  elseif type(p.vector_store.search_fulltext) == "function" then
    p.document_store = p.vector_store
  end
  p.embedder, err = get("embedder", "llm_providers", cfg.embedding_provider, cfg.embedding_provider_config, "embedding_provider")
  if not p.embedder then return fail(err) end
  if type(p.embedder.embed) ~= "function" then
    return fail(errors.config(fmt("embedding_provider: provider '%s' has no embed method", cfg.embedding_provider), { key_path = "embedding_provider" }))
  end
  -- The graph store: as configured, else the vector store's provider when it
  -- implements graph_stores too (the embedded default does). Only a
  -- short-named provider that registers graph_stores itself: a
  -- "module:Name" vector store says nothing about graphs.
  if cfg.graph_store then
    p.graph_store, err = get("graph_store", "graph_stores", cfg.graph_store, cfg.graph_store_config, "graph_store")
    if not p.graph_store then return fail(err) end
  elseif not cfg.vector_store:find(":", 1, true)
         and registry.resolve("graph_stores", cfg.vector_store, "graph_store") then
    p.graph_store, err = get("graph_store", "graph_stores", cfg.vector_store, cfg.vector_store_config, "graph_store")
    if not p.graph_store then return fail(err) end
  end
  return with_llm()
end

-- Points engine eng at providers p, each behind its circuit breaker (named
-- after its config key's provider name), and picks the backend once: the
-- engine provider's when the config names one, else the built-in pipeline.
function _M.attach(eng, p)
  local cache, cfg, pol = {}, eng.cfg, eng.policy
  eng.vector_store = pol:guard_provider(cfg.vector_store, p.vector_store, cache)
  eng.document_store = pol:guard_provider(cfg.document_store or cfg.vector_store, p.document_store, cache)
  eng.graph_store = pol:guard_provider(cfg.graph_store or cfg.vector_store, p.graph_store, cache)
  eng.embedder = pol:guard_provider(cfg.embedding_provider, p.embedder, cache)
  eng.llm = pol:guard_provider(cfg.llm_provider, p.llm, cache)
  eng.engine_provider = pol:guard_provider(cfg.provider, p.engine, cache)
  eng.backend = p.engine and provider_backend or pipeline
end

return _M
