-- astrocyte.localstore: the VectorStore + DocumentStore SPIs implemented once
-- over a row backend (memory for `in_memory`, an SQLite file for `sqlite`) and
-- the C indexes of astrocyte.memindex. Backends persist rows and hand back
-- integer row keys; this module validates DTOs, keeps the indexes in step with
-- every committed write, and turns index keys back into SPI hits.
--
-- Scores: VectorHit.score is the cosine similarity clamped to [0,1]
-- (1.0 = same direction); DocumentHit.score is raw BM25.
--
-- Soft delete: archive() marks rows archived (backend set_archived) and
-- drops their keys from the indexes, so no search or list path sees them;
-- restore() brings them back. Governance extensions (legal holds, audit
-- log) pass straight through to the backend, which persists them.
local core = require "astrocyte.core"
local memindex = require "astrocyte.store.memindex"
local snapshots = require "astrocyte.store.snapshots"
local vector = require "astrocyte.store.vector"
local util = require "astrocyte.util"
local type, pairs, ipairs, fmt, max, setmetatable = type, pairs, ipairs, string.format, math.max, setmetatable

local _M = { SPI_VERSION = 1 }
local mt = { __index = _M }

-- The text the keyword index sees for a row: its text plus the context
-- retain attached to it (metadata._context: the turns before a dialogue turn,
-- the heading and end of the chunk before a document chunk), which is
-- searchable but never part of the hit. Rows loaded in bulk carry it as
-- r.context.
local function index_text(r)
  local c = r.context
  if c == nil and type(r.metadata) == "table" then c = r.metadata._context end
  if type(c) == "string" and c ~= "" then return r.text .. "\n" .. c end
  return r.text
end
_M.index_text = index_text

local function new_index(conf)
  return memindex.new({ bm25 = conf.bm25, vector_index = conf.vector_index, assoc = conf.assoc })
end

-- Adds every persisted row of backend to index, except those of the banks
-- in `whole` (bank → true: restored whole from a snapshot). The rows of
-- banks in `restored` (bank → fingerprint: their HNSW graph was preloaded)
-- come without their vector, which the graph already holds (r.has_vector
-- says there is one), and the count, sum and max of their vector keys are
-- gathered so the snapshot can be checked against the rows in the same
-- pass. Returns true, {bank → {n, s, m}} or nil, err.
local function load_rows(backend, index, restored, whole)
  -- (counting every bank's rows would read the whole-restored ones too;
  -- without it a large bank builds, then drops, its associative index)
  if not whole then
    for _, bk in ipairs(backend:banks() or {}) do index:assoc_limit(bk.bank_id, bk.memory_count) end
  end
  local keyfp = {}
  local ok, err = backend:each_row(function(r)
    local vec, bank = r.vector, r.bank_id
    if restored and restored[bank] and (vec or r.has_vector == 1) then
      vec = true                                   -- in the restored graph
      local f = keyfp[bank]
      if not f then f = { n = 0, s = 0, m = 0 }; keyfp[bank] = f end
      f.n, f.s = f.n + 1, f.s + r.key
      if r.key > f.m then f.m = r.key end
    end
    return index:add(bank, r.key, vec, index_text(r), r.tags, r.occurred_at, r.retained_at)
  end, restored, whole)
  if not ok then return nil, err end
  return true, keyfp
end

-- Fills fresh indexes from the backend's rows, first restoring the
-- snapshots saved at the last close when with_snapshots (banks restored
-- whole read no row). A preloaded graph must hold exactly its bank's
-- vector rows as they are read; if one does not (rows changed behind the
-- change log), everything is loaded again without snapshots. true or nil, err.
local function load(self, with_snapshots)
  self.index = new_index(self.conf)
  local restored, whole
  if with_snapshots then restored, whole = snapshots.restore(self) end
  local ok, keyfp = load_rows(self.backend, self.index, restored, whole)
  self.index:finish_preload()
  if restored and (not ok or not snapshots.confirm(self, restored, keyfp)) then return load(self, false) end
  if not ok then return nil, keyfp end
  return true
end

-- Wraps `backend` (see providers/in_memory and providers/sqlite) into a store.
-- conf: { dimensions = n?, bm25 = {...}? }. Loads every persisted row into
-- the indexes. Returns the store or nil, err.
function _M.new(backend, conf, name)
  conf = conf or {}
  local self = setmetatable({
    backend = backend,
    conf = conf,
    name = name or "localstore",
    dims = conf.dimensions or backend:get_meta("dimensions"),
    gens = {},                         -- bank → writes through this store (bank_generation)
  }, mt)
  if self.dims then self.dims = tonumber(self.dims) end
  -- Changes other connections commit from here on are replayed by _sync.
  if backend.mark_seen then backend:mark_seen() end
  -- HNSW graphs saved at the last close are restored instead of rebuilt.
  local ok, err = load(self, true)
  if not ok then return nil, err end
  return self
end

-- A snapshot's fingerprint (astrocyte.store.snapshots).
function _M:_snapshot_fingerprint(bank_id, key_fp)
  return snapshots.fingerprint(self, bank_id, key_fp)
end

-- Rebuilds the indexes from the backend's rows.
function _M:_reload()
  local index = new_index(self.conf)
  local ok, err = load_rows(self.backend, index)
  if not ok then return nil, err end
  self.index = index
  return true
end

-- Brings the indexes up to date with writes other connections to the same
-- backend committed (several OpenResty workers on one SQLite file): each
-- logged key is dropped from the banks it was written in and re-added from
-- its present row when that row is live.
function _M:_sync()
  local backend = self.backend
  if not backend.pending_changes or self._deferred then return true end
  local changes, err = backend:pending_changes()
  if not changes then return nil, err end
  if changes == "reload" then return self:_reload() end
  if #changes == 0 then return true end
  local banks_of, keys = {}, {}
  for _, c in ipairs(changes) do
    local bank_id, key = c[1], c[2]
    local b = banks_of[key]
    if not b then b = {}; banks_of[key] = b; keys[#keys + 1] = key end
    b[bank_id] = true
  end
  local rows; rows, err = backend:get_rows(keys)
  if not rows then return nil, err end
  for _, key in ipairs(keys) do
    for bank_id in pairs(banks_of[key]) do self.index:remove(bank_id, key) end
    local r = rows[key]
    if r and r.archived_at == nil then
      local ok, ierr = self.index:add(r.bank_id, key, r.vector, index_text(r), r.tags, r.occurred_at, r.retained_at)
      if not ok then return nil, self.name .. ": index update failed: " .. tostring(ierr) end
    end
  end
  return true
end

-- Converts a DTO vector (array of numbers or a packed float32 string) to a
-- normalized packed string; returns nil, err on a bad element or a
-- dimension mismatch (astrocyte.store.vector).
function _M:pack_vector(v, where)
  local packed, err = vector.pack(v, self.dims, where)
  if not packed then return nil, err end
  return packed
end

-- Normalizes one VectorItem / Document into a backend row.
local function to_row(self, it, bank_id, where, need_vector, now)
  if type(it) ~= "table" then return nil, where .. " must be a table" end
  if type(it.id) ~= "string" or it.id == "" then return nil, where .. ".id must be a non-empty string" end
  if type(bank_id) ~= "string" or bank_id == "" then return nil, where .. ".bank_id must be a non-empty string" end
  if type(it.text) ~= "string" or it.text == "" then return nil, where .. ".text must be a non-empty string" end
  local vec
  if need_vector or it.vector ~= nil then
    local err
    vec, err = self:pack_vector(it.vector, where .. ".vector")
    if not vec then return nil, err end
  end
  local occ, ret
  if it.occurred_at ~= nil then
    local e
    occ, e = util.to_ms(it.occurred_at)
    if not occ then return nil, where .. ".occurred_at: " .. e end
  end
  if it.retained_at ~= nil then
    local e
    ret, e = util.to_ms(it.retained_at)
    if not ret then return nil, where .. ".retained_at: " .. e end
  end
  return {
    bank_id = bank_id, id = it.id, text = it.text, vector = vec,
    metadata = it.metadata, tags = it.tags, fact_type = it.fact_type,
    memory_layer = it.memory_layer, chunk_id = it.chunk_id,
    occurred_at = occ, retained_at = ret or now,
  }
end

-- VectorStore.store_vectors: upserts items; returns ids in input order.
-- All items are validated before anything is written, and the backend writes
-- them in one transaction, so a failure stores nothing.
function _M:store_vectors(items)
  if type(items) ~= "table" then return nil, self.name .. ": items must be an array" end
  if #items == 0 then return {} end
  local now = util.now_ms()
  local rows = {}
  for i, it in ipairs(items) do
    local row, err = to_row(self, it, it and it.bank_id, fmt("items[%d]", i), true, now)
    if not row then return nil, self.name .. ": " .. err end
    if not self.dims then self.dims = #row.vector / 4 end
    rows[i] = row
  end
  if not self.backend:get_meta("dimensions") then
    local ok, err = self.backend:set_meta("dimensions", tostring(self.dims))
    if not ok then return nil, err end
  end
  return self:_commit(rows)
end

-- Capability (pipeline/recall_cache.lua): a number that moves with every
-- committed write that can change bank_id's search results. A backend with
-- a change log (sqlite) answers for every connection to its file, other
-- processes included; else (in_memory: no one else writes it) the writes
-- through this store count. nil, err when the backend cannot be read.
function _M:bank_generation(bank_id)
  if self.backend.bank_generation then return self.backend:bank_generation(bank_id) end
  return self.gens[bank_id] or 0
end
local function wrote(self, bank_id) self.gens[bank_id] = (self.gens[bank_id] or 0) + 1 end

-- Writes rows through the backend, then mirrors them into the indexes.
function _M:_commit(rows)
  for _, r in ipairs(rows) do wrote(self, r.bank_id) end
  local keys, err = self.backend:upsert(rows)
  if not keys then return nil, err end
  local ids = {}
  for i, r in ipairs(rows) do
    r.key = keys[i]
    if self._deferred then
      -- inside write_batch: index once the transaction commits
      self._deferred[#self._deferred + 1] = r
    else
      local ok, ierr = self.index:add(r.bank_id, r.key, r.vector, index_text(r), r.tags, r.occurred_at, r.retained_at)
      if not ok then return nil, self.name .. ": index update failed: " .. tostring(ierr) end
    end
    ids[i] = r.id
  end
  return ids
end

-- Builds the key filter for a search from VectorFilters / DocumentFilters.
-- Returns the C-level filter table ({} = no restriction) or nil, err.
function _M:_filter(bank_id, f)
  if f == nil then return {} end
  if type(f) ~= "table" then return nil, self.name .. ": filters must be a table" end
  local out = {}
  local allow = self.index:tag_keyset(bank_id, f.tags)
  if f.fact_types or f.metadata_filters or f.session_id then
    local pred_keys, err = self.backend:keys_matching(bank_id, {
      fact_types = f.fact_types, metadata = f.metadata_filters, session_id = f.session_id })
    if not pred_keys then return nil, err end
    local ks = core.keyset()
    for _, k in ipairs(pred_keys) do
      if not allow or allow:test(k) then ks:set(k) end
    end
    allow = ks
  end
  out.allow = allow
  local tr = f.time_range
  if tr then
    local a, b = tr[1] or tr.from, tr[2] or tr.to
    if a ~= nil then
      local ms, e = util.to_ms(a); if not ms then return nil, "time_range.from: " .. e end
      out.time_from = ms
    end
    if b ~= nil then
      local ms, e = util.to_ms(b); if not ms then return nil, "time_range.to: " .. e end
      out.time_to = ms
    end
  end
  if f.as_of ~= nil then
    local ms, e = util.to_ms(f.as_of); if not ms then return nil, "as_of: " .. e end
    out.as_of = ms
  end
  return out
end

-- Hits (search, get_items, list_recent) are built lazily: a recall fuses
-- ~100 candidates and returns ten, so a hit carries at once what fusion and
-- rerank read (id, bank_id, text, score and the scalar fields) and makes
-- metadata, tags and the ISO times from its row the first time one is read
-- (then keeps it). pairs() does not see a field before it was read.
local json = util.json
local function decoded(v)
  if type(v) == "string" then return json.decode(v) end   -- stored as JSON text
  return v
end
local LAZY = {
  metadata = function(r) return decoded(r.metadata) end,
  tags = function(r) return decoded(r.tags) end,
  occurred_at = function(r) return util.iso(r.occurred_at) end,
  retained_at = function(r) return util.iso(r.retained_at) end,
}
local lazy_hit_mt = { __index = function(h, k)
  local make = LAZY[k]
  if not make then return nil end
  local v = make(rawget(h, "_row"))
  rawset(h, k, v)
  return v
end }

local function lazy_hit(r, score)
  return setmetatable({
    id = r.id, text = r.text, score = score, fact_type = r.fact_type,
    memory_layer = r.memory_layer, chunk_id = r.chunk_id, bank_id = r.bank_id, _row = r,
  }, lazy_hit_mt)
end

-- Fetches rows for keys and builds hits in key order with the given scores.
function _M:_hits(keys, scores, map_score)
  if #keys == 0 then return {} end
  -- true: hit rows; no vector, metadata and tags possibly still JSON text
  local rows, err = self.backend:get_rows(keys, true)
  if not rows then return nil, err end
  local hits = {}
  for i, k in ipairs(keys) do
    local r = rows[k]
    if r then hits[#hits + 1] = lazy_hit(r, map_score(scores[i])) end
  end
  return hits
end

local function cos01(s) return max(0, 2 * s - 1) end
local function raw(s) return s end

-- VectorStore.search_similar: top `limit` by cosine, honouring filters.
function _M:search_similar(query_vector, bank_id, limit, filters)
  limit = limit or 10
  local q, err = self:pack_vector(query_vector, "query_vector")
  if not q then return nil, self.name .. ": " .. err end
  local sok, serr = self:_sync()
  if not sok then return nil, serr end
  local f, ferr = self:_filter(bank_id, filters)
  if not f then return nil, ferr end
  local keys, scores = self.index:search_vec(bank_id, q, limit, f)
  if not keys then return nil, self.name .. ": " .. tostring(scores) end
  return self:_hits(keys, scores, cos01)
end

-- VectorStore.delete: removes ids of this bank only; returns the count deleted.
function _M:delete(ids, bank_id)
  if type(ids) ~= "table" then return nil, self.name .. ": ids must be an array" end
  if #ids == 0 then return 0 end
  wrote(self, bank_id)
  local keys, err = self.backend:delete(bank_id, ids)
  if not keys then return nil, err end
  for _, k in ipairs(keys) do self.index:remove(bank_id, k) end
  return #keys
end

-- Convert a row to a full VectorItem (vector unpacked to numbers).
local function item_of(r)
  return {
    id = r.id, bank_id = r.bank_id, vector = r.vector and core.vec_unpack(r.vector) or nil,
    text = r.text, metadata = r.metadata, tags = r.tags, fact_type = r.fact_type,
    occurred_at = util.iso(r.occurred_at), memory_layer = r.memory_layer,
    retained_at = util.iso(r.retained_at), chunk_id = r.chunk_id,
  }
end

-- VectorStore.list_vectors: stable order by id; offset past end → {}.
function _M:list_vectors(bank_id, offset, limit)
  offset, limit = offset or 0, limit or 100
  local rows, err = self.backend:list(bank_id, offset, limit, true)
  if not rows then return nil, err end
  local out = {}
  for i, r in ipairs(rows) do out[i] = item_of(r) end
  return out
end

-- DocumentStore.store_document: persists a document (a row without vector
-- unless one already exists under that id, whose vector is kept).
function _M:store_document(doc, bank_id)
  local row, err = to_row(self, doc, bank_id, "document", false, util.now_ms())
  if not row then return nil, self.name .. ": " .. err end
  local existing = self.backend:get_by_id(bank_id, row.id)
  if existing then
    row.vector = existing.vector
    row.fact_type = row.fact_type or existing.fact_type
    row.occurred_at = row.occurred_at or existing.occurred_at
    row.retained_at = existing.retained_at
  end
  local ids, cerr = self:_commit({ row })
  if not ids then return nil, cerr end
  return ids[1]
end

-- DocumentStore.search_fulltext: BM25 top `limit`; filters may carry tags,
-- metadata_filters and (an extension) the vector filters' time fields.
function _M:search_fulltext(query, bank_id, limit, filters)
  limit = limit or 10
  if type(query) ~= "string" then return nil, self.name .. ": query must be a string" end
  local sok, serr = self:_sync()
  if not sok then return nil, serr end
  local f, ferr = self:_filter(bank_id, filters)
  if not f then return nil, ferr end
  local keys, scores = self.index:search_text(bank_id, query, limit, f)
  if not keys then return nil, self.name .. ": " .. tostring(scores) end
  local hits, err = self:_hits(keys, scores, raw)
  if not hits then return nil, err end
  for _, h in ipairs(hits) do h.document_id = h.id end
  return hits
end

-- DocumentStore.search_fulltext and the search_associative extension.
local textsearch = require "astrocyte.store.textsearch"
_M.search_fulltext, _M.search_associative = textsearch.fulltext, textsearch.associative

-- DocumentStore.get_document: the document in this bank, or nil.
function _M:get_document(document_id, bank_id)
  local r, err = self.backend:get_by_id(bank_id, document_id)
  if err then return nil, err end
  if not r or r.archived_at then return nil end
  return { id = r.id, text = r.text, metadata = r.metadata, tags = r.tags }
end

-- health(): HealthStatus.
function _M:health()
  local ok, err = self.backend:ping()
  if not ok then return { healthy = false, message = tostring(err) } end
  return { healthy = true, message = self.name .. ": ok" }
end

-- Extension: banks with their memory counts, sorted by bank id.
function _M:list_banks()
  return self.backend:banks()
end

-- Extension: ids in a bank matching any of `tags` and/or stored before
-- `before` / at or after `after` (ms, on occurred_at else retained_at); all
-- ids when none is given. Archived rows count unless sel.live_only.
function _M:find_ids(bank_id, sel)
  return self.backend:find_ids(bank_id, sel or {})
end

-- Extension: full hits for ids of one bank → { id = hit } (missing and
-- archived ids absent; opts.include_archived keeps archived ones, with
-- archived_at set).
function _M:get_items(ids, bank_id, opts)
  local out = {}
  local all = opts and opts.include_archived
  for _, id in ipairs(ids) do
    local r, err = self.backend:get_by_id(bank_id, id)
    if err then return nil, err end
    if r and (all or r.archived_at == nil) then
      local h = lazy_hit(r, 0)
      if r.archived_at then h.archived_at = util.iso(r.archived_at) end
      out[id] = h
    end
  end
  return out
end

-- Extension (soft delete): archives ids of one bank — kept in storage, out
-- of every search and list. Returns how many changed state.
function _M:archive(ids, bank_id, at_ms)
  if type(ids) ~= "table" then return nil, self.name .. ": ids must be an array" end
  if #ids == 0 then return 0 end
  wrote(self, bank_id)
  local keys, err = self.backend:set_archived(bank_id, ids, at_ms or util.now_ms())
  if not keys then return nil, err end
  for _, k in ipairs(keys) do self.index:remove(bank_id, k) end
  return #keys
end

-- Extension: restores archived ids of one bank; returns how many.
function _M:restore(ids, bank_id)
  if type(ids) ~= "table" then return nil, self.name .. ": ids must be an array" end
  if #ids == 0 then return 0 end
  wrote(self, bank_id)
  local keys, err = self.backend:set_archived(bank_id, ids, nil)
  if not keys then return nil, err end
  local rows; rows, err = self.backend:get_rows(keys)
  if not rows then return nil, err end
  for _, k in ipairs(keys) do
    local r = rows[k]
    local ok, ierr = self.index:add(bank_id, k, r.vector, index_text(r), r.tags, r.occurred_at, r.retained_at)
    if not ok then return nil, self.name .. ": index update failed: " .. tostring(ierr) end
  end
  return #keys
end

-- Extension: archived memories of a bank as VectorItems (with archived_at),
-- stable order by id.
function _M:list_archived(bank_id, offset, limit)
  local rows, err = self.backend:list(bank_id, offset or 0, limit or 100, false, true)
  if not rows then return nil, err end
  local out = {}
  for i, r in ipairs(rows) do
    out[i] = item_of(r)
    out[i].archived_at = util.iso(r.archived_at)
  end
  return out
end

-- Governance extensions: durable legal holds and audit log.
function _M:put_hold(h) return self.backend:put_hold(h) end
function _M:delete_hold(bank_id, hold_id) return self.backend:delete_hold(bank_id, hold_id) end
function _M:list_holds(bank_id) return self.backend:list_holds(bank_id) end
function _M:append_audit(rec) return self.backend:append_audit(rec) end
function _M:list_audit(bank_id, limit) return self.backend:list_audit(bank_id, limit or 100) end

-- Extension: the `limit` most recent memories of a bank (by occurred_at,
-- else retained_at, newest first) as hits with score 0.
function _M:list_recent(bank_id, limit)
  local rows, err = self.backend:recent(bank_id, limit or 500)
  if not rows then return nil, err end
  local out = {}
  for i, r in ipairs(rows) do out[i] = lazy_hit(r, 0) end
  return out
end

-- Extension: runs fn() with every write of this store — and of a graph
-- store sharing its connection — in one transaction (when the backend can),
-- so a retain's memories and entity graph commit together or not at all.
-- The in-memory indexes are updated only after the commit. Returns fn's
-- result or nil, err.
function _M:write_batch(fn)
  if not self.backend.batch or self._deferred then return fn() end
  self._deferred = {}
  local ok, res, err = pcall(self.backend.batch, self.backend, fn)
  local deferred = self._deferred
  self._deferred = nil
  if not ok then return nil, tostring(res) end
  if res == nil then return nil, err end
  local index = self.index
  for _, r in ipairs(deferred) do
    index:add(r.bank_id, r.key, r.vector, index_text(r), r.tags, r.occurred_at, r.retained_at)
  end
  return res
end

-- Capability: true when graph store gs writes through this store's
-- connection, so write_batch commits both stores' rows in one transaction.
function _M:shares_transaction_with(gs)
  return self.backend.batch ~= nil and gs ~= nil and gs.shared ~= nil and gs.shared == self.backend
end

-- Extension: bytes held by the in-memory indexes.
function _M:index_bytes()
  self:_sync()
  return self.index:bytes()
end

-- Saves the HNSW graphs that changed (astrocyte.store.snapshots), then
-- closes the backend.
function _M:close()
  snapshots.save(self)
  return self.backend:close()
end

return _M
