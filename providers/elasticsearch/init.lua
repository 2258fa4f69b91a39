-- astrocyte.providers.elasticsearch: VectorStore and DocumentStore (spi.md
-- §1.1, §1.3) over Elasticsearch 8's REST API. Vectors live in
-- "<index>_vectors_<dims>" (dense_vector, cosine, kNN search), documents in
-- "<index>_docs" (text field scored by BM25 `match`); both map bank_id, tags
-- and fact_type as keywords, occurred_at/retained_at as dates and metadata
-- as `flattened`, so every SPI filter is an exact bool filter. Document _ids
-- are "<bank>/<id>" (bank ids cannot contain "/"), which keeps banks apart
-- even for equal memory ids. Writes use refresh=wait_for so a read after a
-- write sees it. store_vectors is one _bulk request; when ES reports some
-- items failed, the ones that succeeded are deleted again and the call
-- fails — nothing is half-stored. search_fulltext reads the docs index and
-- the vector indices, so an engine using this store as its vector_store also
-- gets a keyword channel. kNN scores ((1 + cos) / 2 in ES) are reported as
-- cosine clamped to [0,1], like every other vector store here.
local shared = require "astrocyte.providers.shared"
local errors = require "astrocyte.errors"
local http = shared.http
local type, ipairs, pairs, fmt, min, max = type, ipairs, pairs, string.format, math.min, math.max
local concat = table.concat
local nn = shared.nn

-- conf: { url (http://localhost:9200), api_key? (Authorization: ApiKey),
--   username?/password? (basic), index ("astrocyte"), dimensions?,
--   refresh ("wait_for"), timeout_ms, max_retries, outbound_transport? }
local _M = shared.class("elasticsearch", "elasticsearch store", "http://localhost:9200", function(conf)
  local index, err = shared.opt_string(conf, "elasticsearch", "index", "astrocyte")
  if not index then return nil, err end
  if not index:match("^[a-z0-9][a-z0-9_%-]*$") then
    return nil, "elasticsearch: index must be lowercase letters, digits, _ and -"
  end
  local dims; dims, err = shared.opt_int(conf, "elasticsearch", "dimensions", nil, 1, 4096)
  if err then return nil, err end
  local secrets = {}
  local headers = {}
  if conf.api_key then
    headers.Authorization = "ApiKey " .. conf.api_key
  elseif conf.username and conf.password then
    local h, b64 = shared.basic(conf.username, conf.password)
    headers.Authorization = h.Authorization
    secrets[1] = b64
  end
  return { index = index, dims = dims, headers = headers, refresh = conf.refresh or "wait_for", ready = {} },
         { secrets = secrets }
end)

local function call(self, method, path, body, allow, idempotent)
  return shared.call(self, method, path, body, idempotent == nil and true or idempotent, allow)
end

local function doc_id(bank, id) return bank .. "/" .. id end
local function vec_index(self, dims) return fmt("%s_vectors_%d", self.index, dims) end
local function docs_index(self) return self.index .. "_docs" end

local COMMON = {
  bank_id = { type = "keyword" }, id = { type = "keyword" }, text = { type = "text" },
  tags = { type = "keyword" }, fact_type = { type = "keyword" }, memory_layer = { type = "keyword" },
  chunk_id = { type = "keyword" }, occurred_at = { type = "date" }, retained_at = { type = "date" },
  metadata = { type = "flattened" },
}

-- Creates index `name` with `props` unless it exists; caches the answer.
local function ensure(self, name, props)
  if self.ready[name] then return true end
  local res, err = self.http:request { method = "HEAD", url = self.base .. "/" .. name, headers = self.headers }
  if not res then return nil, err end
  if res.status == 404 then
    local mapping = {}
    for k, v in pairs(COMMON) do mapping[k] = v end
    for k, v in pairs(props or {}) do mapping[k] = v end
    local ok; ok, err = call(self, "PUT", "/" .. name, { mappings = { properties = mapping } },
                             { [400] = true })  -- 400 resource_already_exists: a racing creator won
    if not ok then return nil, err end
  elseif res.status ~= 200 then
    return nil, shared.err("elasticsearch", "HEAD /" .. name .. " returned HTTP " .. res.status, "ProviderError")
  end
  self.ready[name] = true
  return true
end

local function source_of(it, with_vector)
  local md = it.metadata
  return {
    bank_id = it.bank_id, id = it.id, text = it.text, tags = it.tags, fact_type = it.fact_type,
    memory_layer = it.memory_layer, chunk_id = it.chunk_id, occurred_at = it.occurred_at,
    retained_at = it.retained_at, metadata = md and shared.object(shared.clean(md)) or nil,
    vector = with_vector,
  }
end

local from_source = shared.item_fields

-- POSTs an NDJSON _bulk body; returns the decoded response or nil, err.
local function bulk(self, lines)
  local h = shared.headers(self.headers, { ["Content-Type"] = "application/x-ndjson" })
  return self.http:json { method = "POST", url = self.base .. "/_bulk?refresh=" .. self.refresh,
                          headers = h, body = concat(lines, "\n") .. "\n", idempotent = true }
end

-- VectorStore.store_vectors(items) → ids in input order; all or nothing.
function _M:store_vectors(items)
  local vecs, dims = shared.vector_items(items, self.dims, "elasticsearch")
  if not vecs then return nil, dims end
  if #items == 0 then return {} end
  local name = vec_index(self, dims)
  local lines, ids = {}, {}
  for i, it in ipairs(items) do
    ids[i] = it.id
    lines[#lines + 1] = http.encode({ index = { _index = name, _id = doc_id(it.bank_id, it.id) } })
    lines[#lines + 1] = http.encode(source_of(it, vecs[i]))
  end
  local ok, err = ensure(self, name, { vector = { type = "dense_vector", dims = dims, index = true, similarity = "cosine" } })
  if not ok then return nil, err end
  self.dims = dims
  local res; res, err = bulk(self, lines)
  if not res then return nil, err end
  if res.errors == true then
    local undo, first_err = {}, nil
    for _, item in ipairs(nn(res.items) or {}) do
      local r = nn(item.index) or {}
      if nn(r.error) then
        first_err = first_err or (type(r.error) == "table" and (nn(r.error.reason) or nn(r.error.type))) or "item failed"
      elseif nn(r._id) then
        undo[#undo + 1] = http.encode({ delete = { _index = name, _id = r._id } })
      end
    end
    if #undo > 0 then bulk(self, undo) end
    return nil, shared.err("elasticsearch", "bulk index failed, nothing stored: " .. tostring(first_err))
  end
  return ids
end

-- ES bool filters for a bank and the SPI's filters (vector or document).
local function filters_of(bank, f)
  local out = { { term = { bank_id = bank } } }
  if f then
    if f.tags and #f.tags > 0 then out[#out + 1] = { terms = { tags = f.tags } } end
    if f.fact_types and #f.fact_types > 0 then out[#out + 1] = { terms = { fact_type = f.fact_types } } end
    if f.time_range then
      out[#out + 1] = { range = { occurred_at = { gte = f.time_range[1], lte = f.time_range[2] } } }
    end
    if f.as_of then out[#out + 1] = { range = { retained_at = { lte = f.as_of } } } end
    for k, v in pairs(shared.metadata_with_session(f) or {}) do
      out[#out + 1] = { term = { ["metadata." .. k] = v } }
    end
  end
  return out
end
_M.filters_of = filters_of

-- VectorStore.search_similar(q, bank_id, limit, filters) → VectorHits (kNN).
function _M:search_similar(q, bank_id, limit, filters)
  q = shared.vector(q)
  local ok, err = shared.check_vector(q, self.dims, "query_vector")
  if not ok then return nil, errors.validation("elasticsearch: " .. err) end
  limit = limit or 10
  local res; res, err = call(self, "POST", "/" .. vec_index(self, #q) .. "/_search", {
    knn = { field = "vector", query_vector = q, k = limit, num_candidates = max(100, limit * 10),
            filter = { bool = { filter = filters_of(bank_id, filters) } } },
    size = limit, _source = { excludes = { "vector" } },
  }, { [404] = true })
  if not res then return nil, err end
  local hits = {}
  for i, h in ipairs(res.hits and nn(res.hits.hits) or {}) do
    local cos = 2 * (nn(h._score) or 0) - 1
    hits[i] = from_source(nn(h._source) or {}, { score = min(1, max(0, cos)) })
  end
  return hits
end

-- VectorStore.delete(ids, bank_id) → count actually deleted in this bank.
function _M:delete(ids, bank_id)
  if type(ids) ~= "table" or #ids == 0 then return 0 end
  local names = { docs_index(self) }
  if self.dims then names[#names + 1] = vec_index(self, self.dims) end
  local lines = {}
  for _, name in ipairs(names) do
    for _, id in ipairs(ids) do
      lines[#lines + 1] = http.encode({ delete = { _index = name, _id = doc_id(bank_id, id) } })
    end
  end
  local res, err = bulk(self, lines)
  if not res then return nil, err end
  local deleted = {}
  for _, item in ipairs(nn(res.items) or {}) do
    local r = nn(item.delete) or {}
    if r.result == "deleted" then deleted[r._id] = true end
  end
  local n = 0
  for _ in pairs(deleted) do n = n + 1 end
  return n
end

-- VectorStore.list_vectors(bank_id, offset, limit): ordered by id.
function _M:list_vectors(bank_id, offset, limit)
  if not self.dims then return {} end
  local res, err = call(self, "POST", "/" .. vec_index(self, self.dims) .. "/_search", {
    query = { bool = { filter = filters_of(bank_id) } }, sort = { { id = "asc" } },
    from = offset or 0, size = limit or 100,
  }, { [404] = true })
  if not res then return nil, err end
  local out = {}
  for i, h in ipairs(res.hits and nn(res.hits.hits) or {}) do
    local s = nn(h._source) or {}
    out[i] = from_source(s, { bank_id = bank_id, vector = nn(s.vector) })
  end
  return out
end

-- DocumentStore.store_document(document, bank_id) → document id.
function _M:store_document(doc, bank_id)
  if type(doc) ~= "table" or type(doc.id) ~= "string" or type(doc.text) ~= "string" then
    return nil, errors.validation("elasticsearch: document needs string id and text")
  end
  local name = docs_index(self)
  local ok, err = ensure(self, name)
  if not ok then return nil, err end
  local src = source_of({ bank_id = bank_id, id = doc.id, text = doc.text, tags = doc.tags, metadata = doc.metadata })
  local res; res, err = call(self, "PUT", "/" .. name .. "/_doc/" .. shared.urlencode(doc_id(bank_id, doc.id))
    .. "?refresh=" .. self.refresh, src)
  if not res then return nil, err end
  return doc.id
end

-- DocumentStore.search_fulltext(query, bank_id, limit, filters) → DocumentHits (BM25).
function _M:search_fulltext(query, bank_id, limit, filters)
  local indices = docs_index(self) .. "," .. self.index .. "_vectors_*"
  local res, err = call(self, "POST", "/" .. indices .. "/_search?ignore_unavailable=true&allow_no_indices=true", {
    query = { bool = { must = { { match = { text = query } } }, filter = filters_of(bank_id, filters) } },
    size = (limit or 10) * 2, _source = { excludes = { "vector" } },
  })
  if not res then return nil, err end
  local hits, seen = {}, {}
  for _, h in ipairs(res.hits and nn(res.hits.hits) or {}) do
    local s = nn(h._source) or {}
    local id = nn(s.id)
    if id and not seen[id] and #hits < (limit or 10) then
      seen[id] = true
      -- `id` beside document_id: the engine's fusion keys hits by id.
      hits[#hits + 1] = { document_id = id, id = id, text = nn(s.text) or "", score = nn(h._score) or 0,
                          metadata = shared.clean(nn(s.metadata)), tags = nn(s.tags) }
    end
  end
  return hits
end

-- DocumentStore.get_document(document_id, bank_id) → Document or nil.
function _M:get_document(id, bank_id)
  local res, err = call(self, "GET", "/" .. docs_index(self) .. "/_doc/" .. shared.urlencode(doc_id(bank_id, id)),
                        nil, { [404] = true })
  if not res then return nil, err end
  if res.found ~= true then return nil end
  local s = nn(res._source) or {}
  return { id = nn(s.id), text = nn(s.text), metadata = shared.clean(nn(s.metadata)), tags = nn(s.tags) }
end

function _M:health()
  return shared.health(function()
    local res, err = call(self, "GET", "/_cluster/health")
    if not res then return nil, err end
    if res.status == "red" then return nil, "elasticsearch: cluster status is red" end
    return true
  end)
end

function _M:close() self.http:close() end

return { vector_stores = _M.new, document_stores = _M.new, new = _M.new }
