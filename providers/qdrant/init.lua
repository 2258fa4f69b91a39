-- astrocyte.providers.qdrant: VectorStore (spi.md §1.1) over Qdrant's REST
-- API. One collection per embedding dimension — "<collection>_<dims>"
-- (default astrocyte_<dims>), created on first use with Cosine distance and
-- keyword indexes on bank_id, tags and fact_type — so two embedding models
-- never share a collection. Every point carries its bank and original id in
-- the payload; the point id is a deterministic UUID of (bank, id), so an
-- upsert of the same memory overwrites it and banks never collide. Reads and
-- deletes are always filtered on bank_id (bank isolation), and the SPI's
-- filters become Qdrant payload filters: tags (match any), fact_types,
-- time_range on occurred_at and as_of on retained_at (numeric ranges over
-- epoch seconds stored beside the ISO strings), metadata equality and
-- session_id. Scores are cosine similarity clamped to [0,1].
-- A store_vectors call is one upsert with wait=true per batch; if a later
-- batch fails, the batches already written by that call are deleted again.
local shared = require "astrocyte.providers.shared"
local errors = require "astrocyte.errors"
local type, ipairs, pairs, fmt, min, max = type, ipairs, pairs, string.format, math.min, math.max
local nn = shared.nn

-- conf: { url (http://localhost:6333), api_key?, collection ("astrocyte"),
--   dimensions? (fixed; else learned from the first vectors), batch_size (256),
--   timeout_ms, max_retries, outbound_transport? }
local _M = shared.class("qdrant", "qdrant vector store", "http://localhost:6333", function(conf)
  local coll, err = shared.opt_string(conf, "qdrant", "collection", "astrocyte")
  if not coll then return nil, err end
  if not coll:match("^[%w_%-]+$") then return nil, "qdrant: collection may hold only letters, digits, _ and -" end
  local dims; dims, err = shared.opt_int(conf, "qdrant", "dimensions", nil, 1, 65536)
  if err then return nil, err end
  local batch; batch, err = shared.opt_int(conf, "qdrant", "batch_size", 256, 1, 10000)
  if not batch then return nil, err end
  return { prefix = coll, dims = dims, batch_size = batch, ready = {},
           headers = conf.api_key and { ["api-key"] = conf.api_key } or {} }
end)

local call = shared.call

local function coll_name(self, dims) return fmt("%s_%d", self.prefix, dims) end

-- Ensures the collection for dims exists; returns its name or nil, err.
local function ensure(self, dims)
  local name = coll_name(self, dims)
  if self.ready[name] then return name end
  local res, err = call(self, "GET", "/collections/" .. name, nil, true, { [404] = true })
  if not res then return nil, err end
  if type(res.result) ~= "table" then
    local created, cerr = call(self, "PUT", "/collections/" .. name,
      { vectors = { size = dims, distance = "Cosine" } }, true, { [409] = true })
    if not created then return nil, cerr end
    for _, field in ipairs { "bank_id", "tags", "fact_type" } do
      local indexed, ierr = call(self, "PUT", "/collections/" .. name .. "/index?wait=true",
        { field_name = field, field_schema = "keyword" }, true)
      if not indexed then return nil, ierr end
    end
  end
  self.ready[name] = true
  return name
end

-- Name of the collection to read from, or nil when nothing was stored yet.
local function existing(self, dims)
  dims = dims or self.dims
  if not dims then return nil end
  local name = coll_name(self, dims)
  if self.ready[name] then return name end
  local res, err = call(self, "GET", "/collections/" .. name, nil, true, { [404] = true })
  if not res then return nil, err end
  if type(res.result) ~= "table" then return nil end
  self.ready[name] = true
  return name
end

local function point_id(bank, id) return shared.uuid(shared.scoped_id(bank, id)) end

local function payload_of(it)
  local md = it.metadata
  return {
    bank_id = it.bank_id, id = it.id, text = it.text, metadata = md and shared.object(shared.clean(md)) or nil,
    tags = it.tags, fact_type = it.fact_type, memory_layer = it.memory_layer, chunk_id = it.chunk_id,
    occurred_at = it.occurred_at, occurred_ts = shared.epoch(it.occurred_at),
    retained_at = it.retained_at, retained_ts = shared.epoch(it.retained_at),
  }
end

-- VectorItem / VectorHit fields from a point's payload.
local from_payload = shared.item_fields

local function check_dims(self, v, what)
  local ok, err = shared.check_vector(v, self.dims, what)
  if not ok then return nil, errors.validation("qdrant: " .. err) end
  return true
end

-- VectorStore.store_vectors(items) → ids in input order.
function _M:store_vectors(items)
  local vecs, dims = shared.vector_items(items, self.dims, "qdrant")
  if not vecs then return nil, dims end
  if #items == 0 then return {} end
  local ids, points = {}, {}
  for i, it in ipairs(items) do
    ids[i] = it.id
    points[i] = { id = point_id(it.bank_id, it.id), vector = vecs[i], payload = payload_of(it) }
  end
  local name, err = ensure(self, dims)
  if not name then return nil, err end
  self.dims = dims
  for first = 1, #points, self.batch_size do
    local batch = {}
    for i = first, min(#points, first + self.batch_size - 1) do batch[#batch + 1] = points[i] end
    local done_ok, uerr = call(self, "PUT", "/collections/" .. name .. "/points?wait=true", { points = batch }, true)
    if not done_ok then
      if first > 1 then  -- undo this call's earlier batches: nothing half-stored
        local done = {}
        for i = 1, first - 1 do done[i] = points[i].id end
        call(self, "POST", "/collections/" .. name .. "/points/delete?wait=true", { points = done }, true)
      end
      return nil, uerr
    end
  end
  return ids
end

-- Qdrant filter for a bank and the SPI's VectorFilters.
local function filter_of(bank, f)
  local must = { { key = "bank_id", match = { value = bank } } }
  if f then
    if f.tags and #f.tags > 0 then must[#must + 1] = { key = "tags", match = { any = f.tags } } end
    if f.fact_types and #f.fact_types > 0 then must[#must + 1] = { key = "fact_type", match = { any = f.fact_types } } end
    if f.time_range then
      must[#must + 1] = { key = "occurred_ts", range = { gte = shared.epoch(f.time_range[1]), lte = shared.epoch(f.time_range[2]) } }
    end
    if f.as_of then must[#must + 1] = { key = "retained_ts", range = { lte = shared.epoch(f.as_of) } } end
    for k, v in pairs(shared.metadata_with_session(f) or {}) do
      must[#must + 1] = { key = "metadata." .. k, match = { value = v } }
    end
  end
  return { must = must }
end
_M.filter_of = filter_of

-- VectorStore.search_similar(query_vector, bank_id, limit, filters) → VectorHits.
function _M:search_similar(q, bank_id, limit, filters)
  q = shared.vector(q)
  local ok, err = check_dims(self, q, "query_vector")
  if not ok then return nil, err end
  local name; name, err = existing(self, #q)
  if not name then
    if err then return nil, err end
    return {}
  end
  local res; res, err = call(self, "POST", "/collections/" .. name .. "/points/search",
    { vector = q, limit = limit or 10, filter = filter_of(bank_id, filters), with_payload = true }, true)
  if not res then return nil, err end
  local hits = {}
  for i, r in ipairs(nn(res.result) or {}) do
    hits[i] = from_payload(nn(r.payload) or {}, { score = min(1, max(0, nn(r.score) or 0)) })
  end
  return hits
end

-- Point ids (UUIDs) of `ids` in bank that exist.
local function present(self, name, ids, bank_id)
  local uuids = {}
  for i, id in ipairs(ids) do uuids[i] = point_id(bank_id, id) end
  local res, err = call(self, "POST", "/collections/" .. name .. "/points",
    { ids = uuids, with_payload = { "bank_id" }, with_vector = false }, true)
  if not res then return nil, err end
  local found = {}
  for _, p in ipairs(nn(res.result) or {}) do
    if nn(p.payload) and p.payload.bank_id == bank_id then found[#found + 1] = p.id end
  end
  return found
end

-- VectorStore.delete(ids, bank_id) → number actually deleted (this bank only).
function _M:delete(ids, bank_id)
  if type(ids) ~= "table" or #ids == 0 then return 0 end
  local name, err = existing(self)
  if not name then
    if err then return nil, err end
    return 0
  end
  local found; found, err = present(self, name, ids, bank_id)
  if not found then return nil, err end
  if #found == 0 then return 0 end
  local deleted, derr = call(self, "POST", "/collections/" .. name .. "/points/delete?wait=true", { points = found }, true)
  if not deleted then return nil, derr end
  return #found
end

-- VectorStore.list_vectors(bank_id, offset, limit): stable order (point id).
function _M:list_vectors(bank_id, offset, limit)
  offset, limit = offset or 0, limit or 100
  local name, err = existing(self)
  if not name then
    if err then return nil, err end
    return {}
  end
  local out, cursor, seen = {}, nil, 0
  repeat
    local res; res, err = call(self, "POST", "/collections/" .. name .. "/points/scroll",
      { filter = filter_of(bank_id), limit = 256, offset = cursor, with_payload = true, with_vector = true }, true)
    if not res then return nil, err end
    local r = nn(res.result) or {}
    for _, p in ipairs(nn(r.points) or {}) do
      seen = seen + 1
      if seen > offset and #out < limit then
        local it = from_payload(nn(p.payload) or {}, { bank_id = bank_id, vector = nn(p.vector) })
        out[#out + 1] = it
      end
    end
    cursor = nn(r.next_page_offset)
  until cursor == nil or #out >= limit
  return out
end

function _M:health() return shared.health_get(self, "/healthz", "qdrant") end

function _M:close() self.http:close() end

return { vector_stores = _M.new, new = _M.new }
