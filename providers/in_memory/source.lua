-- astrocyte.providers.in_memory.source: the ephemeral SourceStore (spi.md
-- §1.6): SourceDocument → SourceChunk provenance. Documents and chunks are
-- deduplicated on (bank_id, content_hash); delete_document is a soft delete
-- that hides the document and its chunks (vectors are not touched).
local types = require "astrocyte.types"
local util = require "astrocyte.util"
local ipairs, pairs, min = ipairs, pairs, math.min

local _M = { SPI_VERSION = 1, name = "in_memory" }
local mt = { __index = _M }

function _M.new()
  return setmetatable({ banks = {}, seq = 0 }, mt)
end

local function bank(self, bank_id)
  local b = self.banks[bank_id]
  if not b then
    b = { docs = {}, doc_hash = {}, chunks = {}, chunk_hash = {} }
    self.banks[bank_id] = b
  end
  return b
end

local function visible_doc(b, id)
  local d = b and b.docs[id]
  if not d or d.deleted then return nil end
  return d
end

local function visible_chunk(b, id)
  local c = b and b.chunks[id]
  if not c or c.deleted or not visible_doc(b, c.document_id) and b.docs[c.document_id] then return nil end
  return c
end

local function public(r)
  local c = util.deepcopy(r)
  c.deleted, c.seq = nil, nil
  return c
end

-- SourceStore.store_document: returns the id (the existing one when a live
-- document of the bank has the same content_hash).
function _M:store_document(doc)
  local dto, err = types.SourceDocument(doc)
  if not dto then return nil, "in_memory source: " .. err.message end
  local b = bank(self, dto.bank_id)
  if dto.content_hash then
    local existing = visible_doc(b, b.doc_hash[dto.content_hash])
    if existing then return existing.id end
  end
  dto.created_at = dto.created_at or util.iso(util.now_ms())
  self.seq = self.seq + 1
  dto.seq = self.seq
  b.docs[dto.id] = dto
  if dto.content_hash then b.doc_hash[dto.content_hash] = dto.id end
  return dto.id
end

-- get(id, bank_id): a copy of the visible record, or nil.
local function getter(visible)
  return function(self, id, bank_id)
    local r = visible(self.banks[bank_id], id)
    return r and public(r) or nil
  end
end

-- find(content_hash, bank_id): a copy of the visible record with that hash
-- in index `hashes` of the bank, or nil.
local function by_hash(visible, hashes)
  return function(self, content_hash, bank_id)
    local b = self.banks[bank_id]
    local r = b and visible(b, b[hashes][content_hash])
    return r and public(r) or nil
  end
end

_M.get_document = getter(visible_doc)
_M.find_document_by_hash = by_hash(visible_doc, "doc_hash")

-- SourceStore.list_documents(bank_id, opts): newest first; opts = {limit = 100}.
function _M:list_documents(bank_id, opts)
  local limit = opts and opts.limit or 100
  local b = self.banks[bank_id]
  local list = {}
  if not b then return list end
  for _, d in pairs(b.docs) do
    if not d.deleted then list[#list + 1] = d end
  end
  table.sort(list, function(x, y)
    if x.created_at ~= y.created_at then return util.to_ms(x.created_at) > util.to_ms(y.created_at) end
    return x.seq > y.seq
  end)
  local out = {}
  for i = 1, min(limit, #list) do out[i] = public(list[i]) end
  return out
end

-- SourceStore.delete_document: soft delete (cascades to chunks); false if
-- missing or already deleted.
function _M:delete_document(document_id, bank_id)
  local b = self.banks[bank_id]
  local d = visible_doc(b, document_id)
  if not d then return false end
  d.deleted = true
  for _, c in pairs(b.chunks) do
    if c.document_id == document_id then c.deleted = true end
  end
  return true
end

-- SourceStore.store_chunks: ids in input order; a chunk whose
-- (bank_id, content_hash) already exists returns the existing id.
function _M:store_chunks(chunks)
  local list, err = types.list("SourceChunk", chunks, "chunks", "in_memory source")
  if not list then return nil, err end
  local ids = {}
  for i, c in ipairs(list) do
    local b = bank(self, c.bank_id)
    local existing = c.content_hash and visible_chunk(b, b.chunk_hash[c.content_hash])
    if existing then
      ids[i] = existing.id
    else
      c.created_at = c.created_at or util.iso(util.now_ms())
      b.chunks[c.id] = c
      if c.content_hash then b.chunk_hash[c.content_hash] = c.id end
      ids[i] = c.id
    end
  end
  return ids
end

_M.get_chunk = getter(visible_chunk)

-- SourceStore.list_chunks: the document's chunks ordered by chunk_index.
function _M:list_chunks(document_id, bank_id)
  local b = self.banks[bank_id]
  local out = {}
  if not b then return out end
  for _, c in pairs(b.chunks) do
    if c.document_id == document_id and visible_chunk(b, c.id) then out[#out + 1] = public(c) end
  end
  table.sort(out, function(x, y)
    if x.chunk_index ~= y.chunk_index then return x.chunk_index < y.chunk_index end
    return x.id < y.id
  end)
  return out
end

_M.find_chunk_by_hash = by_hash(visible_chunk, "chunk_hash")

function _M:health()
  return { healthy = true, message = "in_memory source: ok" }
end

return _M
