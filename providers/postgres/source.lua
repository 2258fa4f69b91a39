-- astrocyte.providers.postgres.source: SourceStore (spi.md §1.6), the
-- provenance chain SourceDocument → SourceChunk. Documents and chunks are
-- deduplicated on (bank_id, content_hash) among live rows: storing a
-- duplicate returns the existing id. delete_document is a soft delete that
-- hides the document and cascades to its chunks (vectors are not touched).
local types = require "astrocyte.types"
local util = require "astrocyte.util"
local common = require "astrocyte.providers.postgres.common"
local ipairs, fmt = ipairs, string.format

local _M = common.class("source", "source store", "source_store_config")

local DOC = "id, bank_id, title, source_uri, content_hash, content_type, metadata::text AS metadata, " .. common.ms("created_at")
local CHUNK = "id, bank_id, document_id, chunk_index, text, content_hash, metadata::text AS metadata, " .. common.ms("created_at")

local function doc_of(r)
  return { id = r.id, bank_id = r.bank_id, title = r.title, source_uri = r.source_uri, content_hash = r.content_hash,
           content_type = r.content_type, metadata = common.jdecode(r.metadata), created_at = common.iso(r.created_at) }
end

local function chunk_of(r)
  return { id = r.id, bank_id = r.bank_id, document_id = r.document_id, chunk_index = r.chunk_index, text = r.text,
           content_hash = r.content_hash, metadata = common.jdecode(r.metadata), created_at = common.iso(r.created_at) }
end

-- The two tables as Store:_by reads them.
local DOCS = { tbl = "source_documents", cols = DOC, of = doc_of }
local CHUNKS = { tbl = "source_chunks", cols = CHUNK, of = chunk_of }

-- SourceStore.store_document: the id (the existing one when a live
-- document of the bank has the same content_hash). Idempotent.
function _M:store_document(doc)
  local dto, verr = types.SourceDocument(doc)
  if not dto then return nil, "postgres source: " .. verr.message end
  local S, bank = self.S, dto.bank_id
  local created = common.time_param(dto.created_at, "created_at") or util.iso(util.now_ms())
  return self:_tx("store_document", bank, function(q)
    if dto.content_hash then
      local lk, lerr = q("SELECT pg_advisory_xact_lock(hashtext($1))", { "astrocyte:src:" .. bank }, false)
      if not lk then return nil, lerr end
      local f, ferr = q(fmt("SELECT id FROM %s.source_documents WHERE bank_id = $1 AND content_hash = $2 AND NOT deleted ORDER BY seq LIMIT 1", S),
        { bank, dto.content_hash })
      if not f then return nil, ferr end
      if f.rows[1] then return f.rows[1].id end
    end
    local w, werr = q(fmt([[INSERT INTO %s.source_documents (bank_id, id, title, source_uri, content_hash, content_type,
        metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::timestamptz)
      ON CONFLICT (bank_id, id) DO UPDATE SET title = excluded.title, source_uri = excluded.source_uri,
        content_hash = excluded.content_hash, content_type = excluded.content_type, metadata = excluded.metadata,
        created_at = excluded.created_at, deleted = false]], S),
      { bank, dto.id, dto.title, dto.source_uri, dto.content_hash, dto.content_type, common.jmap(dto.metadata), created, n = 8 })
    if not w then return nil, werr end
    return dto.id
  end, { idempotent = true })
end

function _M:get_document(document_id, bank_id)
  return self:_by(DOCS, "id", document_id, bank_id, "get_document", " AND NOT deleted")
end

function _M:find_document_by_hash(content_hash, bank_id)
  return self:_by(DOCS, "content_hash", content_hash, bank_id, "find_document_by_hash",
    " AND NOT deleted ORDER BY seq LIMIT 1")
end

-- SourceStore.list_documents(bank_id, opts): newest first; opts = {limit = 100}.
function _M:list_documents(bank_id, opts)
  local limit = opts and opts.limit or 100
  return self:_rows(fmt("SELECT %s FROM %s.source_documents WHERE bank_id = $1 AND NOT deleted ORDER BY created_at DESC, seq DESC LIMIT $2",
    DOC, self.S), { bank_id, math.floor(limit) }, doc_of, "list_documents", bank_id)
end

-- SourceStore.delete_document: soft delete cascading to chunks; false if
-- missing or already deleted.
function _M:delete_document(document_id, bank_id)
  local S = self.S
  local n, err = self:_tx("delete_document", bank_id, function(q)
    local d, derr = q(fmt("UPDATE %s.source_documents SET deleted = true WHERE bank_id = $1 AND id = $2 AND NOT deleted", S),
      { bank_id, document_id })
    if not d then return nil, derr end
    local c, cerr = q(fmt("UPDATE %s.source_chunks SET deleted = true WHERE bank_id = $1 AND document_id = $2", S),
      { bank_id, document_id })
    if not c then return nil, cerr end
    return d.cmd_tuples
  end, { idempotent = true })
  if not n then return nil, err end
  return n > 0
end

-- SourceStore.store_chunks: ids in input order; a chunk whose (bank_id,
-- content_hash) already exists returns the existing id. Idempotent.
function _M:store_chunks(chunks)
  local list, verr = types.list("SourceChunk", chunks, "chunks", "postgres source")
  if not list then return nil, verr end
  if #list == 0 then return {} end
  local S = self.S
  return self:_tx("store_chunks", list[1].bank_id, function(q)
    local out = {}
    for i, c in ipairs(list) do
      if c.content_hash then
        local lk, lerr = q("SELECT pg_advisory_xact_lock(hashtext($1))", { "astrocyte:chunk:" .. c.bank_id }, false)
        if not lk then return nil, lerr end
        local f, ferr = q(fmt("SELECT id FROM %s.source_chunks WHERE bank_id = $1 AND content_hash = $2 AND NOT deleted LIMIT 1", S),
          { c.bank_id, c.content_hash })
        if not f then return nil, ferr end
        out[i] = f.rows[1] and f.rows[1].id
      end
      if not out[i] then
        local created = common.time_param(c.created_at, "created_at") or util.iso(util.now_ms())
        local w, werr = q(fmt([[INSERT INTO %s.source_chunks (bank_id, id, document_id, chunk_index, text, content_hash,
            metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::timestamptz)
          ON CONFLICT (bank_id, id) DO UPDATE SET document_id = excluded.document_id, chunk_index = excluded.chunk_index,
            text = excluded.text, content_hash = excluded.content_hash, metadata = excluded.metadata, deleted = false]], S),
          { c.bank_id, c.id, c.document_id, c.chunk_index, c.text, c.content_hash, common.jmap(c.metadata), created, n = 8 })
        if not w then return nil, werr end
        out[i] = c.id
      end
    end
    return out
  end, { idempotent = true })
end

function _M:get_chunk(chunk_id, bank_id)
  return self:_by(CHUNKS, "id", chunk_id, bank_id, "get_chunk", " AND NOT deleted")
end

-- SourceStore.list_chunks: the document's live chunks by chunk_index.
function _M:list_chunks(document_id, bank_id)
  return self:_by(CHUNKS, "document_id", document_id, bank_id, "list_chunks", " AND NOT deleted ORDER BY chunk_index, id",
    true)
end

function _M:find_chunk_by_hash(content_hash, bank_id)
  return self:_by(CHUNKS, "content_hash", content_hash, bank_id, "find_chunk_by_hash", " AND NOT deleted LIMIT 1")
end

return _M
