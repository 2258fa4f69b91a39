-- astrocyte.spi: the provider SPIs as data. For every provider group
-- (vector_stores, graph_stores, ...) this module knows the reference protocol
-- name, the methods a provider must have, the optional ones the core probes
-- for, and the SPI versions this build supports. A provider "is" a
-- VectorStore when it has every required method (structural typing, as the
-- reference's runtime-checkable protocols), and its SPI_VERSION (absent = 1)
-- is supported.
--
-- Lua calling convention for the SPI methods: positional parameters in the
-- reference's order; the reference's keyword-only parameters (after `*`) are
-- passed as one trailing options table, e.g.
--   graph:find_entity_candidates_scored(name, bank_id, { trigram_threshold = 0.5 })
-- Methods return their result, or nil and an error (string or error object);
-- raising an error is tolerated and mapped at the SPI boundary.
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local type, pairs, ipairs, fmt, tostring = type, pairs, ipairs, string.format, tostring
local getmetatable, concat, sort = getmetatable, table.concat, table.sort

local _M = { SPI_VERSION = 1 }

local function group(protocol, config_key, required, optional, versioned)
  return {
    protocol = protocol, config_key = config_key,
    required = required, optional = optional or {},
    SPI_VERSION = 1, supported_versions = { 1 },
    versioned = versioned ~= false,
  }
end

-- The SPI groups. `versioned = false` marks the spec-only SPIs that define no
-- SPI_VERSION in the reference (they still accept a declared 1).
local GROUPS = {
  vector_stores = group("VectorStore", "vector_store",
    { "store_vectors", "search_similar", "delete", "list_vectors", "health" },
    { "write_batch" }),
  graph_stores = group("GraphStore", "graph_store",
    { "store_entities", "store_links", "link_memories_to_entities", "query_neighbors",
      "query_entities", "find_entity_candidates", "find_entity_candidates_scored",
      "store_entity_link", "health" },
    { "store_memory_links", "find_memory_links" }),
  document_stores = group("DocumentStore", "document_store",
    { "store_document", "search_fulltext", "get_document", "health" }),
  wiki_stores = group("WikiStore", "wiki_store",
    { "upsert_page", "get_page", "list_pages", "delete_page", "health" }),
  mental_model_stores = group("MentalModelStore", "mental_model_store",
    { "upsert", "get", "list", "delete", "update_via_ops", "refresh", "health" }),
  source_stores = group("SourceStore", "source_store",
    { "store_document", "get_document", "find_document_by_hash", "list_documents",
      "delete_document", "store_chunks", "get_chunk", "list_chunks",
      "find_chunk_by_hash", "health" }),
  engine_providers = group("EngineProvider", "provider",
    { "capabilities", "health", "retain", "recall" },
    { "reflect", "forget", "soft_delete", "retain_many" }),
  llm_providers = group("LLMProvider", "llm_provider",
    { "complete", "embed", "capabilities" }, { "health" }),
  outbound_transports = group("OutboundTransportProvider", "outbound_transport",
    { "apply", "subprocess_env", "capabilities" }),
  access_policies = group("AccessPolicyProvider", "access_control.policy_provider",
    { "check" }, nil, false),
  memory_export_sinks = group("MemoryExportSink", "memory_export_sinks",
    { "emit", "health", "capabilities" }, { "flush" }, false),
}

-- Supported SPI versions by protocol name (unknown names default to {1}).
local SUPPORTED = {}
for _, g in pairs(GROUPS) do SUPPORTED[g.protocol] = g.supported_versions end
SUPPORTED.PageIndexStore = { 1 }

-- Returns the sorted list of group names.
function _M.groups()
  return util.sorted_keys(GROUPS)
end

-- Returns the descriptor of `group` ({protocol, config_key, required,
-- optional, SPI_VERSION, supported_versions}), or nil if unknown.
function _M.get(group_name)
  return GROUPS[group_name]
end

-- Returns the protocol name of a group ("vector_stores" → "VectorStore").
function _M.protocol(group_name)
  local g = GROUPS[group_name]
  return g and g.protocol or nil
end

-- Returns true if v can be called: a function, or a table/userdata with __call.
function _M.callable(v)
  local tv = type(v)
  if tv == "function" then return true end
  if tv == "table" or tv == "userdata" then
    local m = getmetatable(v)
    return type(m) == "table" and type(m.__call) == "function"
  end
  return false
end

local function version_list(list)
  local copy = {}
  for i, v in ipairs(list) do copy[i] = v end
  sort(copy)
  local parts = {}
  for i, v in ipairs(copy) do parts[i] = tostring(v) end
  return "[" .. concat(parts, ", ") .. "]"
end

-- check_spi_version as the reference: provider.SPI_VERSION absent → 1;
-- a version outside the protocol's supported set → nil, ConfigError
-- "<Protocol> SPI version <v> is not supported. Supported versions: [1]".
-- Returns the version otherwise.
function _M.check_spi_version(provider, protocol_name)
  local v
  if type(provider) == "table" or type(provider) == "userdata" then
    local ok, val = pcall(function() return provider.SPI_VERSION end)
    if ok then v = val end
  end
  if v == nil then return 1 end
  local supported = SUPPORTED[protocol_name] or { 1 }
  for _, s in ipairs(supported) do
    if v == s then return v end
  end
  return nil, errors.config(fmt("%s SPI version %s is not supported. Supported versions: %s",
    tostring(protocol_name), tostring(v), version_list(supported)),
    { protocol = protocol_name, spi_version = v })
end

-- Returns the sorted names of `group`'s required methods that provider lacks
-- (absent or not callable).
function _M.missing_methods(provider, group_name)
  local g = GROUPS[group_name]
  local out = {}
  if not g then return out end
  for _, m in ipairs(g.required) do
    local ok, f = pcall(function() return provider[m] end)
    if not ok or not _M.callable(f) then out[#out + 1] = m end
  end
  sort(out)
  return out
end

-- Accepts provider for group: it must be a table (or userdata), have every
-- required method present and callable, and declare a supported SPI_VERSION
-- (or none). Returns true, or nil and a ConfigError.
function _M.check(provider, group_name)
  local g = GROUPS[group_name]
  if not g then
    local names = _M.groups()
    return nil, errors.config(fmt("unknown provider group '%s' (known: %s)", tostring(group_name),
      concat(names, ", ")), { group = group_name })
  end
  local tp = type(provider)
  if tp ~= "table" and tp ~= "userdata" then
    return nil, errors.config(fmt("%s provider must be a table of methods, got %s", g.protocol, tp),
      { group = group_name })
  end
  local missing = _M.missing_methods(provider, group_name)
  if #missing > 0 then
    return nil, errors.config(fmt("%s provider is missing required method%s: %s", g.protocol,
      #missing > 1 and "s" or "", concat(missing, ", ")), { group = group_name, missing = missing })
  end
  local v, err = _M.check_spi_version(provider, g.protocol)
  if not v then err.group = group_name; return nil, err end
  return true
end

-- Helpers for provider authors: what a provider may use from the
-- framework besides astrocyte.http, astrocyte.util and astrocyte.errors, so
-- no provider reaches into the pipeline or the policy layer.
--   spi.principal(s)        canonical principal "kind:id" (bare ⇒ "user:s")
--   spi.glob(s)             anchored Lua pattern of a "*" glob, nil without "*"
--   spi.permission_set(l)   {permission = true} of an access-rule permission
--                           list (recall ... admin, read, write, *) | nil, reason
--   spi.entity_names(text)  the named entities the offline extractor finds:
--                           [{name, entity_type, kind}] ("name" for a capitalized run)
local access = require "astrocyte.policy.access"
local entities = require "astrocyte.pipeline.entities"
_M.principal, _M.glob, _M.permission_set = access.principal, access.glob, access.permission_set

function _M.entity_names(text)
  local out = {}
  for i, e in ipairs(entities.offline(text)) do
    out[i] = { name = e.name, entity_type = e.entity_type, kind = e.metadata and e.metadata.kind }
  end
  return out
end

return _M
