-- astrocyte.memindex: the in-memory search structures the built-in stores keep
-- per bank — a C flat vector index, a C BM25 index, a C associative index
-- (core.assoc: term associations learned from the bank's own texts, updated
-- on every add/remove; opts.assoc = false leaves it out) and a tag → keys map — all
-- addressed by the store's integer row keys. Stores own the rows; this module
-- only answers "which keys, with what score". Bank isolation is structural:
-- each bank has its own indexes, so a search can never see another bank.
-- A bank's vectors start in an exact core.flat index and move to a core.hnsw
-- graph once the bank holds more than vector_index.hnsw_threshold vectors
-- (default 20000), migrated vector_index.migrate_batch (256) keys per write;
-- b.flat holds whichever index is active.
local core = require "astrocyte.core"
local pairs, next, setmetatable, type = pairs, next, setmetatable, type

local _M = {}
local mt = { __index = _M }

-- Returns a new empty index set. opts: { bm25 = {k1, b, stem, stopwords},
-- vector_index = { hnsw_threshold = 20000, M = 16, ef_construction = 200,
-- ef_search = 64 }, assoc = { dim, nnz, min_df, expand, min_sim, min_docs,
-- max_docs } | false }. Associations learned from a handful of texts are
-- noise: below assoc.min_docs (100) memories a bank's index answers nothing.
-- A bank's associative index lives while the bank holds at most
-- assoc.max_docs (5000) memories: its memory and the per-query scan grow
-- with the vocabulary, so a bank that outgrows it drops it for good (the
-- associative channels then answer nothing for that bank; an open rebuilds
-- it when the bank is back under the limit).
function _M.new(opts)
  opts = opts or {}
  local vi = opts.vector_index or {}
  local assoc = opts.assoc ~= false and not (type(opts.assoc) == "table" and opts.assoc.enabled == false) and {}
  if assoc then
    for k, v in pairs(opts.assoc or {}) do assoc[k] = v end
    local bm = opts.bm25 or {}
    assoc.stem, assoc.stopwords = bm.stem, bm.stopwords   -- the same terms as keyword search
    assoc.max_docs, assoc.min_docs = assoc.max_docs or 5000, assoc.min_docs or 100
  end
  return setmetatable({ banks = {}, bm25_opts = opts.bm25 or {}, assoc_opts = assoc,
    hnsw_threshold = vi.hnsw_threshold or 20000,
    hnsw_opts = { M = vi.M or 16, ef_construction = vi.ef_construction or 200,
                  ef = vi.ef_search or 64 },
    migrate_batch = vi.migrate_batch or 256 }, mt)
end

-- Moving a bank from flat to HNSW is spread over the following writes so no
-- single call stalls: a migration builds the graph from a sorted snapshot of
-- the keys, `migrate_batch` keys per write, while the flat index keeps
-- answering searches and every write goes to both; when the last key is in,
-- the graph replaces the flat index.
local function start_migration(self, b)
  local h, err = core.hnsw(b.flat:dim(), self.hnsw_opts)
  if not h then return nil, err end
  local keys = b.bm25:keys()
  table.sort(keys)
  b.migration = { graph = h, keys = keys, pos = 1 }
  return true
end

-- Copies up to n more keys into the migration graph; switches when done.
local function migrate_step(self, b, n)
  local m = b.migration
  local flat, h = b.flat, m.graph
  local stop = math.min(#m.keys, m.pos + n - 1)
  for i = m.pos, stop do
    local key = m.keys[i]
    if not h:contains(key) then
      local v = flat:get(key)
      if v then
        local ok, err = h:add(key, v, b.occurred[key], b.retained[key])
        if not ok then b.migration = nil; return nil, err end
      end
    end
  end
  m.pos = stop + 1
  if m.pos > #m.keys then
    b.flat, b.kind, b.migration, b.occurred, b.retained = h, "hnsw", nil, {}, {}
  end
  return true
end

-- Returns the per-bank structure, creating it when `create` is true.
function _M:bank(bank_id, create)
  local b = self.banks[bank_id]
  if not b and create then
    local bm, err = core.bm25(self.bm25_opts)
    if not bm then return nil, err end
    local assoc
    if self.assoc_opts then
      assoc, err = core.assoc(self.assoc_opts)
      if not assoc then return nil, err end
    end
    -- Every item is in bm25 (text-only ones too): it is the bank's key set.
    b = { flat = nil, kind = nil, bm25 = bm, assoc = assoc, tags = {}, key_tags = {}, count = 0,
          occurred = {}, retained = {}, nvec = 0 }
    self.banks[bank_id] = b
  end
  return b
end

-- A bank about to be loaded with `count` memories skips the associative
-- index when that is past assoc.max_docs (it would be dropped anyway).
function _M:assoc_limit(bank_id, count)
  if not self.assoc_opts or (count or 0) <= self.assoc_opts.max_docs then return true end
  local b, err = self:bank(bank_id, true)
  if not b then return nil, err end
  b.assoc = nil
  return true
end

-- Indexes one item. vec (packed float32 string) may be nil for text-only
-- items, and true while preloading for one the restored graph holds.
-- Returns true or nil, err (nothing is left half-indexed on error).
function _M:add(bank_id, key, vec, text, tags, occurred_ms, retained_ms)
  local b, err = self:bank(bank_id, true)
  if not b then return nil, err end
  if b.bm25:contains(key) then self:remove(bank_id, key) end
  if vec then
    local restored = b.preloaded and b.flat:contains(key)
    if vec == true and not restored then
      return nil, "vector of key " .. tostring(key) .. " is not in the restored graph"
    end
    if not b.flat then
      local f, ferr = core.flat(core.vec_dim(vec))
      if not f then return nil, ferr end
      b.flat, b.kind = f, "flat"
    end
    if restored then
      -- already in the graph restored from a snapshot (open without rebuild)
    else
      local ok, verr = b.flat:add(key, vec, occurred_ms, retained_ms)
      if not ok then return nil, verr end
      if b.migration then
        if not b.migration.graph:add(key, vec, occurred_ms, retained_ms) then
          b.migration = nil                         -- give up; flat stays correct
        end
      end
    end
    b.nvec = b.nvec + 1
    if b.kind == "flat" then
      -- kept only while flat, to carry item times into the graph on switch
      b.occurred[key], b.retained[key] = occurred_ms, retained_ms
    end
  end
  local ok, berr = b.bm25:add(key, text, occurred_ms, retained_ms)
  if ok and b.assoc then
    ok, berr = b.assoc:add(key, text, occurred_ms, retained_ms)
    if not ok then b.bm25:remove(key)
    elseif b.assoc:count() > self.assoc_opts.max_docs then b.assoc = nil end
  end
  if not ok then
    if vec then
      b.flat:remove(key)
      b.nvec = b.nvec - 1
      b.occurred[key], b.retained[key] = nil, nil
    end
    return nil, berr
  end
  if tags and #tags > 0 then
    for i = 1, #tags do
      local t = tags[i]
      local set = b.tags[t]
      if not set then set = {}; b.tags[t] = set end
      set[key] = true
    end
    b.key_tags[key] = tags
  end
  b.count = b.count + 1
  if vec and b.kind == "flat" then
    if b.migration then
      migrate_step(self, b, self.migrate_batch)
    elseif b.nvec > self.hnsw_threshold and start_migration(self, b) then
      migrate_step(self, b, self.migrate_batch)
    end
  end
  return true
end

-- Removes one key from the bank's indexes; returns true if it was there.
function _M:remove(bank_id, key)
  local b = self.banks[bank_id]
  if not b or not b.bm25:contains(key) then return false end
  if b.flat and b.flat:remove(key) then b.nvec = b.nvec - 1 end
  if b.migration then b.migration.graph:remove(key) end
  b.occurred[key], b.retained[key] = nil, nil
  b.bm25:remove(key)
  if b.assoc then b.assoc:remove(key) end
  local tags = b.key_tags[key]
  if tags then
    for i = 1, #tags do
      local set = b.tags[tags[i]]
      if set then
        set[key] = nil
        if next(set) == nil then b.tags[tags[i]] = nil end
      end
    end
    b.key_tags[key] = nil
  end
  b.count = b.count - 1
  return true
end

-- Fingerprint of a set of vector keys: count, sum and max of the keys. Equal
-- fingerprints mean a snapshot holds exactly the rows it was taken from
-- (keys only grow, so a delete plus an insert changes the sum or the max).
function _M.fingerprint(count, sum, max)
  return string.format("%d:%.0f:%.0f", count or 0, sum or 0, max or 0)
end

-- Installs a restored HNSW graph for a bank before its rows are loaded:
-- rows whose key the graph holds skip the vector insert.
function _M:preload(bank_id, graph)
  local b, err = self:bank(bank_id, true)
  if not b then return nil, err end
  b.flat, b.kind, b.preloaded = graph, "hnsw", true
  return true
end

-- Ends preloading (called once every row is loaded).
function _M:finish_preload()
  for _, b in pairs(self.banks) do b.preloaded = nil end
end

-- The fingerprint of the vector keys a bank's index holds (what the
-- backend's vector_fingerprint gives for its rows when the index is in step
-- with them), without reading a row.
function _M:vector_fingerprint(bank_id)
  local b = self.banks[bank_id]
  local n, sum, max = 0, 0, 0
  if b and b.flat then
    local keys = b.bm25:keys()
    for i = 1, #keys do
      local key = keys[i]
      if b.flat:contains(key) then
        n, sum = n + 1, sum + key
        if key > max then max = key end
      end
    end
  end
  return _M.fingerprint(n, sum, max)
end

-- A bank's whole index can be saved (and restored without reading a row)
-- when it is an HNSW graph with no migration under way and no associative
-- index (which has no snapshot: it only lives in banks of at most
-- assoc.max_docs memories, which load fast).
function _M:whole_snapshot_ok(bank_id)
  local b = self.banks[bank_id]
  return b ~= nil and b.kind == "hnsw" and not b.migration and not b.assoc
end

-- The tags of a bank's items, for a snapshot: { {key, tags}, ... }.
function _M:tagged(bank_id)
  local out = {}
  local b = self.banks[bank_id]
  for key, tags in pairs(b and b.key_tags or {}) do out[#out + 1] = { key, tags } end
  return out
end

-- Installs a bank restored whole from a snapshot: its HNSW graph, its BM25
-- index (which holds every key) and its tagged items ({ {key, tags}, ... }).
-- false when the bank should have an associative index (its rows must be
-- read to build it); the bank is then left untouched.
function _M:restore_bank(bank_id, graph, bm25, tagged)
  local n = bm25:count()
  if self.assoc_opts and n <= self.assoc_opts.max_docs then return false end
  local b = { flat = graph, kind = "hnsw", bm25 = bm25, assoc = nil, tags = {}, key_tags = {}, count = n,
              occurred = {}, retained = {}, nvec = graph:count() }
  for i = 1, #tagged do
    local key, tags = tagged[i][1], tagged[i][2]
    key = math.tointeger and math.tointeger(key) or key   -- JSON numbers come back as floats on 5.4
    if not bm25:contains(key) then return false end
    for j = 1, #tags do
      local set = b.tags[tags[j]]
      if not set then set = {}; b.tags[tags[j]] = set end
      set[key] = true
    end
    b.key_tags[key] = tags
  end
  self.banks[bank_id] = b
  return true
end

-- Drops a whole bank's indexes.
function _M:drop_bank(bank_id)
  self.banks[bank_id] = nil
end

-- Returns a keyset of the keys carrying any of `tags`, or nil when tags is
-- empty/nil. An unknown tag simply contributes nothing.
function _M:tag_keyset(bank_id, tags)
  if not tags or #tags == 0 then return nil end
  local b = self.banks[bank_id]
  local ks = core.keyset()
  if not b then return ks end
  for i = 1, #tags do
    local set = b.tags[tags[i]]
    if set then
      for key in pairs(set) do ks:set(key) end
    end
  end
  return ks
end

-- Builds the C filter table from store-level filter fields.
-- f: { allow = keyset?, time_from = ms?, time_to = ms?, as_of = ms? }
local function cfilter(f)
  if not f then return nil end
  return { allow = f.allow, time_from = f.time_from, time_to = f.time_to, as_of = f.as_of }
end

-- Vector top-k in one bank → keys, scores ((1+cos)/2 in [0,1]). Unknown bank
-- or no vectors → empty lists.
function _M:search_vec(bank_id, qvec, k, f)
  local b = self.banks[bank_id]
  if not b or not b.flat or k <= 0 then return {}, {} end
  return b.flat:search(qvec, k, cfilter(f))
end

-- BM25 top-k in one bank → keys, raw BM25 scores.
function _M:search_text(bank_id, query, k, f)
  local b = self.banks[bank_id]
  if not b or k <= 0 then return {}, {} end
  return b.bm25:search(query, k, cfilter(f))
end

-- Associative top-k in one bank → keys, scores (raw, best first); seeds:
-- keys whose texts join the query (feedback). false when the bank has no
-- usable associative index (disabled, below min_docs, past max_docs).
function _M:search_assoc(bank_id, query, k, f, seeds)
  local b = self.banks[bank_id]
  if not b or not b.assoc or b.assoc:count() < self.assoc_opts.min_docs then return false end
  if k <= 0 then return {}, {} end
  return b.assoc:search(query, k, cfilter(f), seeds)
end

-- Returns "flat" or "hnsw" (the bank's active vector index), or nil.
function _M:vector_kind(bank_id)
  local b = self.banks[bank_id]
  return b and b.kind or nil
end

-- Returns the vector dimension of the bank's vector index, or nil.
function _M:dim(bank_id)
  local b = self.banks[bank_id]
  return b and b.flat and b.flat:dim() or nil
end

-- Bytes held by all C indexes.
function _M:bytes()
  local n = 0
  for _, b in pairs(self.banks) do
    n = n + b.bm25:bytes() + (b.flat and b.flat:bytes() or 0) + (b.assoc and b.assoc:bytes() or 0)
  end
  return n
end

return _M
