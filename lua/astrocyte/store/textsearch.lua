-- astrocyte.store.textsearch: localstore's searches by query text, over the
-- per-bank indexes memindex keeps: DocumentStore.search_fulltext (BM25) and
-- the search_associative extension (core.assoc: term associations learned
-- from the bank's own texts). Both take the same filters.
local ipairs, type = ipairs, type

local _M = {}

local function raw(s) return s end

-- Checks the query, brings the indexes up to date, builds the filter, runs
-- run(f) → keys, scores and returns the hits (raw scores) or nil, err.
local function text_hits(self, query, bank_id, filters, run)
  if type(query) ~= "string" then return nil, self.name .. ": query must be a string" end
  local sok, serr = self:_sync()
  if not sok then return nil, serr end
  local f, ferr = self:_filter(bank_id, filters)
  if not f then return nil, ferr end
  local keys, scores = run(f)
  if keys == false then return false end
  if not keys then return nil, self.name .. ": " .. tostring(scores) end
  return self:_hits(keys, scores, raw)
end

-- store:search_fulltext(query, bank_id, limit, filters): BM25 top `limit`;
-- filters may carry tags, metadata_filters and (an extension) the vector
-- filters' time fields.
function _M.fulltext(self, query, bank_id, limit, filters)
  local hits, err = text_hits(self, query, bank_id, filters, function(f)
    return self.index:search_text(bank_id, query, limit or 10, f)
  end)
  if not hits then return nil, err end
  for _, h in ipairs(hits) do h.document_id = h.id end
  return hits
end

-- store:search_associative(query, bank_id, limit, filters, seed_ids): top
-- `limit` memories by learned association with the query; seed_ids
-- (optional): memory ids whose texts join the query (pseudo-relevance
-- feedback); unknown and archived ids are ignored. false (not applicable)
-- when the bank has no usable associative index (see store/memindex).
function _M.associative(self, query, bank_id, limit, filters, seed_ids)
  local seeds
  if seed_ids and #seed_ids > 0 then
    seeds = {}
    for _, id in ipairs(seed_ids) do
      local r, gerr = self.backend:get_by_id(bank_id, id)
      if gerr then return nil, gerr end
      if r and r.archived_at == nil then seeds[#seeds + 1] = r.key end
    end
  end
  return text_hits(self, query, bank_id, filters, function(f)
    return self.index:search_assoc(bank_id, query, limit or 10, f, seeds)
  end)
end

return _M
