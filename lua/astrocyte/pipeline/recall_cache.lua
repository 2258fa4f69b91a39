-- astrocyte.pipeline.recall_cache: the reference's recall cache
-- (recall_cache{enabled=false, similarity_threshold=0.95, max_entries=256,
-- ttl_seconds=300}): a query whose embedding has cosine >= the threshold
-- with a cached query's, for the same bank(s) and the same recall options,
-- gets that query's result again. LRU over max_entries; an entry expires
-- ttl_seconds after it was stored.
--
-- Never stale. An entry is served only while nothing that could change its
-- result has happened:
--   * writes: every store recall reads reports a generation per bank
--     (bank_generation(bank_id), a store capability) that changes with every
--     committed write to the bank's searchable rows. The sqlite store
--     answers from its change log (astrocyte_bank_seq), so writes committed
--     by OTHER connections to the same file (OpenResty workers, a CLI, a
--     second engine) count too; the in-memory store counts its own writes
--     (nobody else can write it). The generations are read before a recall
--     runs and stored with its result; a lookup whose generations differ
--     drops the bank's entries. The engine also drops a bank's entries after
--     each of its own writes (retain, retain_many, forget, import,
--     lifecycle), which frees them early.
--   * stores that cannot report generations: the cache is off (a warning in
--     engine:warnings()), since writes by other processes (a shared Postgres,
--     Qdrant, ...) would go unseen. A graph store counts when it reports
--     generations itself, commits in the vector store's transactions (sqlite,
--     so its writes move the bank's generation; forget unlinks a deleted
--     memory's entities after the delete commits, which changes no result:
--     walks go through entity links and only reach live memories), or is
--     process-local (in_memory: only this engine writes it, with memory rows).
--   * options: the key holds everything the result depends on besides the
--     query and the data — bank(s) and their order, multi-bank strategy,
--     max_results, max_tokens, tags, fact_types, time_range, as_of, session
--     id, the acting principal (context), the query's intent and resolved
--     time window, and the reference date (the exact value when the request
--     pins one, else the UTC day, the granularity query windows resolve to).
--     Pipeline config is fixed for the engine's life: reload() builds a new cache.
--   * degraded results (embedder down, a failed channel or bank) are not stored.
-- Results handed out are deep copies: a caller editing a hit cannot change
-- the cache. A repeated query text is answered before it is embedded.
-- The similarity scan is one C call: each scope's query vectors live in a
-- core.flat index (exact cosine over <= max_entries rows).
local core = require "astrocyte.core"
local intent = require "astrocyte.pipeline.intent"
local temporal = require "astrocyte.pipeline.temporal"
local type, pairs, ipairs, next, tostring, fmt = type, pairs, ipairs, next, tostring, string.format
local concat, sort, floor = table.concat, table.sort, math.floor
local getmetatable, setmetatable, rawget, pcall = getmetatable, setmetatable, rawget, pcall

local _M = { DEFAULTS = { enabled = false, similarity_threshold = 0.95, max_entries = 256, ttl_seconds = 300 } }
local mt = { __index = _M }

local DAY_MS = 86400000

local function default_clock() return core.time() end

local function unguarded(s) return s and (rawget(s, "_unguarded") or s) end

local function can(obj, method) return obj ~= nil and type(obj[method]) == "function" end

-- The stores whose generations decide whether an entry is still valid, or
-- nil, why the cache cannot be trusted with this engine's stores.
function _M.sources(eng)
  if eng.engine_provider then return nil, "an engine provider answers recall itself" end
  local cfg = eng.cfg
  local vs, ds, gs = unguarded(eng.vector_store), unguarded(eng.document_store), unguarded(eng.graph_store)
  if not vs then return nil, "no vector store" end
  local function unable(slot, name)
    return nil, fmt("%s '%s' cannot report when a bank changes (no bank_generation), so writes by other "
      .. "processes would go unseen", slot, tostring(name))
  end
  if not can(vs, "bank_generation") then return unable("vector store", cfg.vector_store) end
  local list = { vs }
  if ds and ds ~= vs then
    if not can(ds, "bank_generation") then return unable("document store", cfg.document_store) end
    list[#list + 1] = ds
  end
  if gs and gs ~= vs and gs ~= ds then
    if can(gs, "bank_generation") then
      list[#list + 1] = gs
    elseif not ((can(vs, "shares_transaction_with") and vs:shares_transaction_with(gs)) or gs.process_local) then
      return unable("graph store", cfg.graph_store or cfg.vector_store)
    end
  end
  return list
end

-- new(eng, opts) → cache | nil, why it is off (nil when disabled).
-- opts.clock: seconds (tests inject one); the config is eng.cfg.recall_cache.
function _M.new(eng, opts)
  local c = eng.cfg.recall_cache
  if type(c) ~= "table" or c.enabled ~= true then return nil end
  local stores, why = _M.sources(eng)
  if not stores then return nil, "recall_cache.enabled: the recall cache is off: " .. why end
  local D = _M.DEFAULTS
  local head = {}
  head.prev, head.next = head, head
  return setmetatable({
    threshold = c.similarity_threshold or D.similarity_threshold,
    max = c.max_entries or D.max_entries,
    ttl = c.ttl_seconds or D.ttl_seconds,
    clock = opts and opts.clock or default_clock,
    stores = stores, n = 0, next_id = 1,
    groups = {}, by_bank = {}, texts = {}, lru = head,
    stats = { hits = 0, misses = 0, stored = 0, evicted = 0, expired = 0, invalidated = 0, bypassed = 0 },
  }, mt)
end

---------------------------------------------------------------------------
-- Keys
---------------------------------------------------------------------------

-- Canonical text of an option value (maps with sorted keys, numbers exact).
local function canon(v, out)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = fmt("%q", v)
  elseif t == "number" then
    out[#out + 1] = (v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53) and fmt("%d", v) or fmt("%.17g", v)
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    sort(keys, function(a, b)
      if type(a) == type(b) and type(a) == "number" then return a < b end
      return tostring(a) < tostring(b)
    end)
    out[#out + 1] = "{"
    for _, k in ipairs(keys) do
      canon(k, out); out[#out + 1] = "="; canon(v[k], out); out[#out + 1] = ","
    end
    out[#out + 1] = "}"
  else
    out[#out + 1] = tostring(v)
  end
end

local function canon_of(v)
  if v == nil then return "" end
  local out = {}
  canon(v, out)
  return concat(out)
end

-- The options part of the key of a validated recall request o (everything
-- but the query).
local function options_of(o, banks)
  local ref = o.ref_ms or 0
  return concat({
    canon_of(banks), canon_of(o.strategy), tostring(o.max_results), tostring(o.max_tokens),
    canon_of(o.tags), canon_of(o.fact_types), canon_of(o.time_range), tostring(o.as_of_ms),
    o.ref_given and ("ref=" .. canon_of(ref)) or ("day=" .. floor(ref / DAY_MS)),
    canon_of(o.session_id), canon_of(o.ctx),
  }, "\1")
end

-- The scope of a probe: its options plus what the query text decides
-- besides its embedding (intent, time window), so only queries that agree
-- on those are compared by similarity. The same text on the same options
-- has the same scope, so an exact repeat is found without it (the two
-- classifiers cost tens of microseconds).
local function scope_of(probe, o)
  if not probe.scope then
    local window = temporal.window(o.query, o.ref_ms or 0)
    probe.scope = concat({ probe.options, (intent.classify(o.query)),
      window and (canon_of(window.from) .. "-" .. canon_of(window.to)) or "" }, "\1")
  end
  return probe.scope
end

-- The generation token of banks (one value per bank and store, in order),
-- or nil when a store cannot tell.
local function generation(self, banks)
  local stores = self.stores
  if #banks == 1 and #stores == 1 then
    local ok, g = pcall(stores[1].bank_generation, stores[1], banks[1])
    if not ok or g == nil then return nil end
    return g
  end
  local parts = {}
  for _, b in ipairs(banks) do
    for _, s in ipairs(stores) do
      local ok, g = pcall(s.bank_generation, s, b)
      if not ok or g == nil then return nil end
      parts[#parts + 1] = tostring(g)
    end
  end
  return concat(parts, "\1")
end

---------------------------------------------------------------------------
-- Entries: LRU list, groups (one per scope), per-bank index of groups
---------------------------------------------------------------------------

local function unlink(e)
  e.prev.next, e.next.prev = e.next, e.prev
  e.prev, e.next = nil, nil
end

local function push_front(self, e)
  local head = self.lru
  e.prev, e.next = head, head.next
  head.next.prev = e
  head.next = e
end

-- Drops group g and its entries (stale: counted as invalidated).
local function drop_group(self, g, stale)
  if g.dropped then return end
  g.dropped = true
  self.groups[g.scope] = nil
  for _, b in ipairs(g.banks) do
    local set = self.by_bank[b]
    if set then
      set[g] = nil
      if next(set) == nil then self.by_bank[b] = nil end
    end
  end
  local texts = self.texts
  for _, e in pairs(g.entries) do
    unlink(e)
    if texts[e.text_key] == e then texts[e.text_key] = nil end
  end
  self.n = self.n - g.n
  if stale then self.stats.invalidated = self.stats.invalidated + g.n end
  g.entries, g.index, g.n = {}, nil, 0
end

local function remove_entry(self, e)
  local g = e.group
  if g.dropped then return end
  unlink(e)
  self.n, g.n = self.n - 1, g.n - 1
  g.entries[e.id] = nil
  if self.texts[e.text_key] == e then self.texts[e.text_key] = nil end
  g.index:remove(e.id)
  if g.n == 0 then drop_group(self, g) end
end

-- Deep copy of plain result data; metatables (e.g. util.OBJECT_MT, which
-- makes an empty map encode as {}) are kept.
local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  local m = getmetatable(v)
  if m then setmetatable(c, m) end
  return c
end
_M.copy = copy

---------------------------------------------------------------------------
-- Lookup and store
---------------------------------------------------------------------------

-- A hit: the entry moves to the front; the caller gets a copy with the
-- trace saying where it came from.
local function served(self, probe, e, similarity)
  local now = self.clock()
  local age = now - e.at
  if age >= self.ttl or age < 0 then   -- expired (or the clock went back)
    self.stats.expired = self.stats.expired + 1
    remove_entry(self, e)
    return nil
  end
  unlink(e)
  push_front(self, e)
  self.stats.hits = self.stats.hits + 1
  local res = copy(e.result)
  local tr = res.trace
  if type(tr) ~= "table" then tr = {}; res.trace = tr end
  tr.cache_hit, tr.cache_similarity, tr.cache_age_ms = true, similarity, age * 1000
  tr.latency_ms = (core.time() - probe.t0) * 1000
  return res
end

-- probe(o) → a probe for validated request o (its options, banks and
-- generations), or nil when this request cannot use the cache (a store
-- could not tell its generation). With an exact repeat of a cached query
-- text, also the result: no embedding needed.
function _M:probe(o)
  local t0 = core.time()
  local banks = o.banks or { o.bank_id }
  local gen = generation(self, banks)
  if gen == nil then
    self.stats.bypassed = self.stats.bypassed + 1
    return nil
  end
  local options = options_of(o, banks)
  local probe = { options = options, text_key = options .. "\2" .. o.query, banks = banks, gen = gen,
                  o = o, t0 = t0 }
  local e = self.texts[probe.text_key]
  if e then
    if e.group.gen ~= gen then
      drop_group(self, e.group, true)  -- written since: nothing in it is current
    else
      local res = served(self, probe, e, 1.0)
      if res then return probe, res end
    end
  end
  return probe
end

-- lookup(probe, qvec) → the cached result of the most similar query of the
-- probe's scope when its cosine with qvec is >= the threshold, else nil
-- (counted as a miss).
function _M:lookup(probe, qvec)
  local g = self.groups[scope_of(probe, probe.o)]
  if g and g.gen ~= probe.gen then drop_group(self, g, true) end
  while g and not g.dropped and qvec do
    local keys, scores = g.index:search(qvec, 1)
    if not keys or not keys[1] then break end
    local cos = 2 * scores[1] - 1      -- flat scores are (1 + cosine) / 2
    -- float32 rounding: the same direction can score a hair under 1
    if cos < self.threshold - 1e-6 then break end
    local e = g.entries[keys[1]]
    if not e then break end
    local res = served(self, probe, e, cos)
    if res then return res end         -- else it had expired: look again
  end
  self.stats.misses = self.stats.misses + 1
  return nil
end

-- Results that must not be reused: degraded, or missing a channel or bank
-- that failed this time.
local function cacheable(res)
  local tr = res.trace
  if type(tr) ~= "table" then return true end
  if tr.degraded then return false end
  if type(tr.strategies_failed) == "table" and #tr.strategies_failed > 0 then return false end
  if type(tr.banks_failed) == "table" and #tr.banks_failed > 0 then return false end
  return true
end

-- store(probe, qvec, res): keeps a copy of res under the probe's scope and
-- the generations read before the recall ran. Without a query vector
-- (embedder down) nothing is stored.
function _M:store(probe, qvec, res)
  if not qvec or type(res) ~= "table" or not cacheable(res) then return end
  local scope = scope_of(probe, probe.o)
  local g = self.groups[scope]
  -- Another fill of this scope read other generations (interleaved
  -- requests): keep only what matches the ones read first; a lookup with
  -- newer ones drops it.
  if g and g.gen ~= probe.gen then drop_group(self, g, true) end
  local old = self.texts[probe.text_key]
  if old then remove_entry(self, old) end
  g = self.groups[scope]
  if g and g.index:dim() * 4 ~= #qvec then drop_group(self, g, true) end
  g = self.groups[scope]
  if not g then
    local index = core.flat(#qvec / 4)
    if not index then return end
    g = { scope = scope, banks = probe.banks, gen = probe.gen, entries = {}, index = index, n = 0 }
    self.groups[scope] = g
    for _, b in ipairs(probe.banks) do
      local set = self.by_bank[b]
      if not set then set = {}; self.by_bank[b] = set end
      set[g] = true
    end
  end
  local id = self.next_id
  if not g.index:add(id, qvec) then
    if g.n == 0 then drop_group(self, g) end
    return
  end
  self.next_id = id + 1
  local e = { id = id, group = g, text_key = probe.text_key, result = copy(res), at = self.clock() }
  g.entries[id], g.n = e, g.n + 1
  self.texts[probe.text_key] = e
  push_front(self, e)
  self.n = self.n + 1
  self.stats.stored = self.stats.stored + 1
  while self.n > self.max do            -- the least recently used out
    self.stats.evicted = self.stats.evicted + 1
    remove_entry(self, self.lru.prev)
  end
end

-- invalidate(bank_id): drops every entry that read bank_id (the engine's
-- own writes); invalidate() drops everything.
function _M:invalidate(bank_id)
  local list = {}
  if bank_id == nil then
    for _, g in pairs(self.groups) do list[#list + 1] = g end
  else
    for g in pairs(self.by_bank[bank_id] or {}) do list[#list + 1] = g end
  end
  for _, g in ipairs(list) do drop_group(self, g, true) end
end

-- status() → {entries, max_entries, hits, misses, stored, evicted, expired,
-- invalidated, bypassed}.
function _M:status()
  local out = { entries = self.n, max_entries = self.max }
  for k, v in pairs(self.stats) do out[k] = v end
  return out
end

return _M
