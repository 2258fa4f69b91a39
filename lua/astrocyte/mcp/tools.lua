-- astrocyte.mcp.tools: the MCP tool catalogue (surfaces.md §1.4) as data —
-- each tool's name, description, arguments and the engine verb it runs —
-- plus the `mcp:` config block (§1.3) and the argument checks. Tools that
-- need a part this engine does not have (wiki compile, gap audit,
-- observations, mental models, bank health) are left out rather than
-- answered with empty shapes.
--
-- Argument types: string, integer {min, max, default, clamp}, boolean
-- {default}, enum {values}, list (of strings; max_items, max_chars) and
-- string_map. A JSON null is taken as "not given". A bad argument is a
-- ValidationError naming it; the engine's own checks name theirs.
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local validate = require "astrocyte.validate"
local type, ipairs, pairs, fmt, floor = type, ipairs, pairs, string.format, math.floor

local _M = {}

-- The `mcp:` block: key → {type, default}. allowed_origins is this
-- engine's extension (the Origin values the HTTP transport accepts besides
-- loopback ones).
local CONFIG = {
  default_bank_id = { "string" }, expose_reflect = { "boolean", true }, expose_forget = { "boolean", false },
  expose_admin = { "boolean", false }, max_results_limit = { "integer", 50 }, principal = { "string", "agent:mcp" },
  allowed_origins = { "list" },
}

-- config(cfg_mcp) → the `mcp:` block with defaults applied, or nil, ConfigError.
function _M.config(m)
  if m == nil then m = {} end
  if type(m) ~= "table" then return nil, errors.config("mcp must be a table", { key_path = "mcp" }) end
  local out = {}
  for k, v in pairs(m) do
    local spec = CONFIG[k]
    if not spec then
      local names = {}
      for name in pairs(CONFIG) do names[#names + 1] = name end
      table.sort(names)
      return nil, errors.config(fmt("unknown key mcp.%s (known: %s)", tostring(k), table.concat(names, ", ")),
                                { key_path = "mcp." .. tostring(k) })
    end
    local want = spec[1]
    local ok = (want == "integer" and type(v) == "number" and v == floor(v) and v >= 1)
      or (want == "list" and validate.str_list(v, k) ~= nil) or type(v) == want
    if not ok then
      return nil, errors.config(fmt("mcp.%s must be %s", k, want == "integer" and "an integer >= 1"
        or want == "list" and "a list of strings" or "a " .. want),
                                { key_path = "mcp." .. k })
    end
    out[k] = v
  end
  for k, spec in pairs(CONFIG) do
    if out[k] == nil then out[k] = spec[2] end
  end
  return out
end

local function bad(field, msg) return nil, errors.validation(msg, { field = field }) end

-- Checks one argument against its spec; returns the value to use or nil,
-- err. An integer with `clamp` (an mcp.* key) is clamped to [min, that].
local function check_arg(p, v, mcfg)
  local n, t = p.name, p.type
  if t == "string" or t == "enum" then
    if type(v) ~= "string" then return bad(n, fmt("%s must be a string, got %s", n, type(v))) end
    if t == "enum" then
      for _, ok in ipairs(p.values) do if v == ok then return v end end
      return bad(n, fmt("%s must be one of %s, got '%s'", n, table.concat(p.values, ", "), v))
    end
    return v
  elseif t == "integer" then
    if type(v) ~= "number" or v ~= floor(v) then return bad(n, fmt("%s must be an integer", n)) end
    v = floor(v)
    if p.clamp then
      local hi = mcfg[p.clamp]
      if v < p.min then v = p.min elseif v > hi then v = hi end
      return v
    end
    return validate.int(v, n, p.min or 0, p.max or 1000000, nil)
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return bad(n, fmt("%s must be true or false", n)) end
    return v
  elseif t == "list" then
    local list, err = validate.str_list(v, n); if err then return nil, err end
    if p.max_items and #list > p.max_items then
      return bad(n, fmt("%s has %d items, at most %d allowed", n, #list, p.max_items))
    end
    for i, s in ipairs(list) do
      if p.max_chars and #s > p.max_chars then
        return bad(n .. "[" .. i .. "]", fmt("%s[%d] is longer than %d characters", n, i, p.max_chars))
      end
    end
    return list
  elseif t == "string_map" then
    if type(v) ~= "table" or (next(v) ~= nil and util.is_array(v)) then return bad(n, n .. " must be an object") end
    for k, s in pairs(v) do
      if type(s) ~= "string" then return bad(n .. "." .. tostring(k), fmt("%s.%s must be a string", n, tostring(k))) end
    end
    return v
  end
  error("mcp.tools: unknown argument type " .. tostring(t))
end

-- args(tool, raw, null, mcfg) → a table of checked arguments (defaults
-- applied), or nil, ValidationError. null is the decoder's JSON null.
function _M.args(tool, raw, null, mcfg)
  local out, known = {}, {}
  for _, p in ipairs(tool.params) do
    known[p.name] = true
    local v = raw[p.name]
    if v == nil or v == null then
      if p.required then return bad(p.name, fmt("%s is required", p.name)) end
      out[p.name] = p.default
      if p.clamp and p.default > mcfg[p.clamp] then out[p.name] = mcfg[p.clamp] end
    else
      local err
      out[p.name], err = check_arg(p, v, mcfg)
      if err then return nil, err end
    end
  end
  for k in pairs(raw) do
    if not known[k] then return bad(tostring(k), fmt("unknown argument '%s' for %s", tostring(k), tool.name)) end
  end
  return out
end

-- JSON Schema of a tool's arguments (the inputSchema of tools/list).
-- object(t) marks a table to be encoded as a JSON object even when empty.
function _M.input_schema(tool, object)
  local props, required = object(), {}
  for _, p in ipairs(tool.params) do
    local s = { description = p.description, default = p.default }
    if p.type == "list" then
      s.type, s.items, s.maxItems = "array", { type = "string" }, p.max_items
    elseif p.type == "string_map" then
      s.type, s.additionalProperties = "object", { type = "string" }
    elseif p.type == "enum" then
      s.type, s.enum = "string", p.values
    else
      s.type = p.type
      -- clamped arguments take any integer
      if p.type == "integer" and not p.clamp then s.minimum, s.maximum = p.min, p.max end
    end
    props[p.name] = s
    if p.required then required[#required + 1] = p.name end
  end
  local schema = { type = "object", properties = props, additionalProperties = false }
  if #required > 0 then schema.required = required end
  return schema
end

-- Rounds a score to 4 decimals (the reference's output precision).
local function round4(x)
  if type(x) ~= "number" then return x end
  return floor(x * 10000 + 0.5) / 10000
end

local function hits_of(list, with_fact_type)
  local out = {}
  for i, h in ipairs(list or {}) do
    out[i] = { text = h.text, score = round4(h.score), bank_id = h.bank_id, memory_id = h.memory_id,
               fact_type = with_fact_type and h.fact_type or nil }
  end
  return out
end

-- The bank a tool acts on: its bank_id argument, else mcp.default_bank_id.
local function bank_of(a, mcfg)
  local b = a.bank_id or mcfg.default_bank_id
  if b == nil then
    return bad("bank_id", "bank_id is required (no mcp.default_bank_id is configured)")
  end
  return validate.bank_id(b)
end

local BANK = { name = "bank_id", type = "string", description = "Memory bank id; defaults to mcp.default_bank_id" }
local BANKS = { name = "banks", type = "list", description = "Several banks to read (overrides bank_id)" }
local STRATEGY = { name = "strategy", type = "enum", values = { "cascade", "parallel", "first_match" },
                   description = "How several banks are combined" }
local TAGS = { name = "tags", type = "list", max_items = 20, max_chars = 255, description = "Tags (at most 20, each at most 255 characters)" }

local function recall_run(eng, a, mcfg, extra)
  local bank, err
  if not a.banks then
    bank, err = bank_of(a, mcfg); if not bank then return nil, err end
  end
  local o = { bank_id = bank, banks = a.banks, strategy = a.strategy, max_results = a.max_results, tags = a.tags,
              session_id = a.session_id }
  for k, v in pairs(extra or {}) do o[k] = v end
  local res; res, err = eng:recall(a.query, o)
  if not res then return nil, err end
  return { hits = hits_of(res.hits, true), total_available = res.total_available, truncated = res.truncated == true },
         bank
end

-- The catalogue, in listing order. expose: the mcp.* flag that must be true.
_M.TOOLS = {
  { name = "memory_retain", description = "Store a memory (a fact, preference or event) in a bank.",
    params = { { name = "content", type = "string", required = true, description = "The text to remember" }, BANK, TAGS,
               { name = "metadata", type = "string_map", description = "String key/value pairs kept with the memory" },
               { name = "occurred_at", type = "string", description = "When it happened (ISO 8601)" } },
    run = function(eng, a, mcfg)
      local bank, err = bank_of(a, mcfg); if not bank then return nil, err end
      local res; res, err = eng:retain(a.content, { bank_id = bank, tags = a.tags, metadata = a.metadata,
                                                    occurred_at = a.occurred_at })
      if not res then return nil, err end
      return { stored = res.stored == true, memory_id = res.memory_id }
    end },
  { name = "memory_recall", description = "Find the memories most relevant to a query.",
    params = { { name = "query", type = "string", required = true, description = "What to look for" }, BANK, BANKS, STRATEGY,
               { name = "max_results", type = "integer", min = 1, clamp = "max_results_limit", default = 10,
                 description = "Most hits to return (clamped to mcp.max_results_limit)" }, TAGS,
               { name = "session_id", type = "string", description = "Only memories of this conversation session" } },
    run = function(eng, a, mcfg) return recall_run(eng, a, mcfg) end },
  { name = "memory_reflect", expose = "expose_reflect",
    description = "Answer a question from memory. The answer is already synthesized: use it as is.",
    params = { { name = "query", type = "string", required = true, description = "The question" }, BANK, BANKS, STRATEGY,
               { name = "max_tokens", type = "integer", min = 1, max = 10000000, description = "Token budget of the answer" },
               { name = "include_sources", type = "boolean", default = true, description = "Return the memories used" } },
    run = function(eng, a, mcfg)
      local bank, err
      if not a.banks then bank, err = bank_of(a, mcfg); if not bank then return nil, err end end
      local res; res, err = eng:reflect(a.query, { bank_id = bank, banks = a.banks, strategy = a.strategy,
                                                   max_tokens = a.max_tokens })
      if not res then return nil, err end
      local out = { answer = res.answer }
      if a.include_sources then out.sources = hits_of(res.sources, false) end
      return out
    end },
  { name = "memory_forget", expose = "expose_forget", description = "Delete memories by id or tag.",
    params = { BANK, { name = "memory_ids", type = "list", description = "Ids of the memories to delete" }, TAGS },
    run = function(eng, a, mcfg)
      local bank, err = bank_of(a, mcfg); if not bank then return nil, err end
      if not a.memory_ids and not a.tags then return bad("memory_ids", "give memory_ids or tags") end
      local res; res, err = eng:forget({ bank_id = bank, memory_ids = a.memory_ids, tags = a.tags })
      if not res then return nil, err end
      return { deleted_count = res.deleted_count, archived_count = res.archived_count }
    end },
  { name = "memory_history", description = "Recall as of a past time: only memories retained at or before as_of.",
    params = { { name = "query", type = "string", required = true, description = "What to look for" }, BANK,
               { name = "as_of", type = "string", required = true, description = "The point in time (ISO 8601)" },
               { name = "max_results", type = "integer", min = 1, clamp = "max_results_limit", default = 10,
                 description = "Most hits to return (clamped to mcp.max_results_limit)" }, TAGS },
    run = function(eng, a, mcfg)
      local res, bank = recall_run(eng, a, mcfg, { as_of = a.as_of })
      if not res then return nil, bank end
      res.as_of, res.bank_id = a.as_of, bank
      return res
    end },
  { name = "memory_banks", description = "List the memory banks this agent can use, the default first.", params = {},
    run = function(eng, _, mcfg)
      local seen, out = {}, {}
      local function add(b) if b and not seen[b] then seen[b] = true; out[#out + 1] = b end end
      add(mcfg.default_bank_id)
      local ids = {}
      for id in pairs(eng.cfg.banks or {}) do ids[#ids + 1] = id end
      table.sort(ids)
      for _, id in ipairs(ids) do add(id) end
      local listed = eng:banks() or {}
      for _, b in ipairs(listed) do add(b.bank_id) end
      return { banks = out, default = mcfg.default_bank_id }
    end },
  { name = "memory_graph_search", description = "Find entities (people, places, things) by name or part of one.",
    params = { { name = "query", type = "string", required = true, description = "An entity name or part of one" }, BANK,
               { name = "limit", type = "integer", min = 1, max = 1000, default = 10, description = "Most entities to return" } },
    run = function(eng, a, mcfg)
      local bank, err = bank_of(a, mcfg); if not bank then return nil, err end
      local list; list, err = eng:graph_search(a.query, { bank_id = bank, limit = a.limit })
      if not list then return nil, err end
      local out = {}
      for i, e in ipairs(list) do
        out[i] = { id = e.id, name = e.name, entity_type = e.entity_type, aliases = e.aliases or {} }
      end
      return { entities = out }
    end },
  { name = "memory_graph_neighbors", description = "Memories connected to entities through the entity graph.",
    params = { { name = "entity_ids", type = "list", required = true, description = "Ids of the entities to start from" }, BANK,
               { name = "max_depth", type = "integer", min = 1, max = 6, default = 2, description = "Most hops to follow" },
               { name = "limit", type = "integer", min = 1, max = 1000, default = 20, description = "Most memories to return" } },
    run = function(eng, a, mcfg)
      local bank, err = bank_of(a, mcfg); if not bank then return nil, err end
      local list; list, err = eng:graph_neighbors(a.entity_ids, { bank_id = bank, max_depth = a.max_depth, limit = a.limit })
      if not list then return nil, err end
      local out = {}
      for i, h in ipairs(list) do
        out[i] = { memory_id = h.memory_id, text = h.text, connected_entities = h.connected_entities or {},
                   depth = h.depth, score = round4(h.score) }
      end
      return { hits = out }
    end },
  { name = "memory_health", description = "Whether the memory store is healthy.", params = {},
    run = function(eng)
      local h = eng:health()
      return { healthy = h.healthy == true, message = h.message, latency_ms = h.latency_ms }
    end },
  { name = "memory_lifecycle", expose = "expose_admin", description = "Apply the bank's TTL policy (archive, delete).",
    params = { BANK },
    run = function(eng, a, mcfg)
      local bank, err = bank_of(a, mcfg); if not bank then return nil, err end
      local res; res, err = eng:run_lifecycle(bank)
      if not res then return nil, err end
      return { bank_id = bank, archived_count = res.archived_count, deleted_count = res.deleted_count,
               skipped_count = res.skipped_count }
    end },
  { name = "memory_hold_set", expose = "expose_admin", description = "Put a legal hold on a bank (blocks forget).",
    params = { { name = "hold_id", type = "string", required = true, description = "Id of the hold" },
               { name = "reason", type = "string", required = true, description = "Why the bank is held" }, BANK,
               { name = "set_by", type = "string", description = "Who sets it (default: the MCP principal)" } },
    run = function(eng, a, mcfg, principal)
      local bank, err = bank_of(a, mcfg); if not bank then return nil, err end
      local h; h, err = eng:set_legal_hold(bank, a.hold_id, a.reason, { set_by = a.set_by or principal })
      if not h then return nil, err end
      return { hold_id = h.hold_id, bank_id = h.bank_id, reason = h.reason, set_by = h.set_by, set_at = h.set_at }
    end },
  { name = "memory_hold_release", expose = "expose_admin", description = "Release a legal hold.",
    params = { { name = "hold_id", type = "string", required = true, description = "Id of the hold" }, BANK },
    run = function(eng, a, mcfg, principal)
      local bank, err = bank_of(a, mcfg); if not bank then return nil, err end
      local ok; ok, err = eng:release_legal_hold(bank, a.hold_id, { principal = principal })
      if ok == nil then return nil, err end
      return { bank_id = bank, hold_id = a.hold_id, released = ok }
    end },
}

-- exposed(mcfg) → the tools the config exposes, in order, and a name index.
function _M.exposed(mcfg)
  local list, by_name = {}, {}
  for _, t in ipairs(_M.TOOLS) do
    if t.expose == nil or mcfg[t.expose] then
      list[#list + 1] = t
      by_name[t.name] = t
    end
  end
  return list, by_name
end

return _M
