-- astrocyte.pipeline: the built-in Tier-1 pipeline over the store SPIs.
-- retain: chunk → embed (one batch) → one atomic store_vectors call;
-- recall: semantic + keyword channels, each over-fetching max_results × 5,
-- fused by weighted RRF in C, scores scaled to [0,1], token budget applied.
-- Inputs arrive validated by astrocyte.engine; outputs are reference DTOs.
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local ipairs, fmt, min = ipairs, string.format, math.min

local _M = {}

local function provider_err(name, err, bank)
  return errors.wrap("StorageError", name .. ": " .. tostring(err), { provider = name, bank_id = bank })
end

-- Embeds texts through the embedding provider; returns packed vectors.
local function embed(eng, texts)
  local p = eng.embedder
  local ok, vecs, err
  if p.embed_packed then
    ok, vecs, err = pcall(p.embed_packed, p, texts)
  else
    ok, vecs, err = pcall(p.embed, p, texts)
    if ok and vecs then
      for i = 1, #vecs do vecs[i] = type(vecs[i]) == "string" and vecs[i] or core.vec_pack(vecs[i]) end
    end
  end
  if not ok then err, vecs = vecs, nil end
  if not vecs then
    return nil, errors.wrap("ProviderUnavailable", "embedding provider failed: " .. tostring(err), { provider = eng.cfg.embedding_provider })
  end
  if #vecs ~= #texts then
    return nil, errors.new("ProviderUnavailable", fmt("embedding provider returned %d vectors for %d texts", #vecs, #texts), { provider = eng.cfg.embedding_provider })
  end
  return vecs
end

-- Calls a store method, turning raised errors and nil, err into error objects.
local function call(store, method, bank, ...)
  local ok, res, err = pcall(store[method], store, ...)
  if not ok then return nil, provider_err(store.name or method, res, bank) end
  if res == nil and err ~= nil then return nil, provider_err(store.name or method, err, bank) end
  return res
end
_M.call = call

-- Retains validated content r = {content, bank_id, tags, metadata, occurred_ms,
-- fact_type}. Returns RetainResult or nil, err; a failure stores nothing.
function _M.retain(eng, r)
  local p = eng.cfg.pipeline
  local chunks, cerr = core.chunk(r.content, p.chunk_strategy, p.max_chunk_size, p.chunk_overlap)
  if not chunks then return nil, errors.validation("content: " .. cerr, { field = "content", bank_id = r.bank_id }) end
  if #chunks == 0 then
    return nil, errors.validation("content has no text after chunking", { field = "content", bank_id = r.bank_id })
  end
  local vecs, eerr = embed(eng, chunks)
  if not vecs then return nil, eerr end
  local now = util.now_ms()
  local occurred = util.iso(r.occurred_ms)
  local items = {}
  for i, text in ipairs(chunks) do
    local md = util.copy(r.metadata) or {}
    md._created_at = md._created_at or util.iso(now)
    if #chunks > 1 then md._chunk_index = i - 1; md._chunk_count = #chunks end
    items[i] = {
      id = util.new_id(), bank_id = r.bank_id, vector = vecs[i], text = text,
      metadata = md, tags = r.tags, fact_type = r.fact_type or "world",
      occurred_at = occurred, retained_at = util.iso(now),
    }
  end
  local ids, serr = call(eng.vector_store, "store_vectors", r.bank_id, items)
  if not ids then return nil, serr end
  if eng.document_store ~= eng.vector_store then
    for i, it in ipairs(items) do
      local _, derr = call(eng.document_store, "store_document", r.bank_id,
        { id = it.id, text = it.text, metadata = it.metadata, tags = it.tags }, r.bank_id)
      if derr then
        -- Undo what this call wrote so a failed retain leaves nothing behind.
        call(eng.vector_store, "delete", r.bank_id, ids, r.bank_id)
        if eng.document_store.delete then
          local done = {}
          for j = 1, i - 1 do done[j] = items[j].id end
          call(eng.document_store, "delete", r.bank_id, done, r.bank_id)
        end
        return nil, derr
      end
    end
  end
  return { stored = true, memory_id = ids[1], memory_ids = ids, chunk_count = #ids, deduplicated = false }
end

-- Store-level filters from validated recall options.
local function filters_of(o)
  local f = { tags = o.tags, fact_types = o.fact_types }
  if o.time_range then f.time_range = { util.iso(o.time_range.from), util.iso(o.time_range.to) } end
  if o.as_of_ms then f.as_of = util.iso(o.as_of_ms) end
  if o.tags or o.fact_types or o.time_range or o.as_of_ms then return f end
  return nil
end

local function to_memory_hit(h, score, bank)
  return {
    memory_id = h.id or h.document_id, text = h.text, score = score, bank_id = h.bank_id or bank,
    tags = h.tags, metadata = h.metadata, occurred_at = h.occurred_at, retained_at = h.retained_at,
    fact_type = h.fact_type, memory_layer = h.memory_layer, chunk_id = h.chunk_id,
  }
end

-- Greedy token budget: keep hits in rank order, stop at the first overflow.
function _M.token_budget(hits, max_tokens)
  if not max_tokens then return hits, false end
  local used, out = 0, {}
  for _, h in ipairs(hits) do
    local n = core.token_count(h.text)
    if used + n > max_tokens then return out, true end
    used = used + n
    out[#out + 1] = h
  end
  return out, false
end

-- Recalls for validated options o = {query, bank_id, max_results, max_tokens,
-- tags, fact_types, time_range, as_of_ms}. Returns RecallResult or nil, err.
function _M.recall(eng, o)
  local t0 = os.clock()
  local p = eng.cfg.pipeline
  local limit = o.max_results * p.semantic_overfetch
  local filters = filters_of(o)
  local lists, hits_by_id, counts, used = {}, {}, {}, {}
  local top_semantic = 0

  local w_sem = p.weights.semantic or 1.0
  if w_sem > 0 then
    local vecs, err = embed(eng, { o.query })
    if not vecs then return nil, err end
    local hits, serr = call(eng.vector_store, "search_similar", o.bank_id, vecs[1], o.bank_id, limit, filters)
    if not hits then return nil, serr end
    lists[#lists + 1] = { hits = hits, weight = w_sem, name = "semantic" }
    if hits[1] then top_semantic = hits[1].score end
  end
  local w_kw = p.weights.keyword or 1.0
  if w_kw > 0 and eng.document_store then
    local hits, kerr = call(eng.document_store, "search_fulltext", o.bank_id, o.query, o.bank_id, limit, filters)
    if not hits then return nil, kerr end
    lists[#lists + 1] = { hits = hits, weight = w_kw, name = "keyword" }
  end

  -- Map memory ids to small integers for the C fusion.
  local key_of, id_of, next_key = {}, {}, 1
  local ranked, weight_sum, total = {}, 0, 0
  for _, l in ipairs(lists) do
    local keys = {}
    for i, h in ipairs(l.hits) do
      local id = h.id or h.document_id
      local k = key_of[id]
      if not k then
        k = next_key; next_key = k + 1
        key_of[id] = k; id_of[k] = id; hits_by_id[id] = h
      end
      keys[i] = k
    end
    counts[l.name] = #l.hits
    used[#used + 1] = l.name
    total = total + #l.hits
    if #keys > 0 then
      ranked[#ranked + 1] = { keys = keys, weight = l.weight }
      weight_sum = weight_sum + l.weight
    end
  end
  local fkeys, fscores = core.rrf(ranked, p.rrf_k)
  if not fkeys then return nil, errors.new("ValidationError", "fusion failed: " .. tostring(fscores)) end
  -- Best possible fused score = every channel ranks the item first.
  local best = weight_sum / (p.rrf_k + 1)
  local hits = {}
  for i = 1, min(#fkeys, o.max_results) do
    local id = id_of[fkeys[i]]
    local score = best > 0 and fscores[i] / best or 0
    if score > 1 then score = 1 end
    hits[i] = to_memory_hit(hits_by_id[id], score, o.bank_id)
  end
  local truncated
  hits, truncated = _M.token_budget(hits, o.max_tokens)
  return {
    hits = hits, total_available = #fkeys, truncated = truncated,
    top_semantic_score = top_semantic,
    trace = {
      strategies_used = used, total_candidates = total, fusion_method = "rrf",
      strategy_candidate_counts = counts, latency_ms = (os.clock() - t0) * 1000,
    },
  }
end

-- Forgets per validated options o = {bank_id, memory_ids?, tags?, before_ms?,
-- all?}. Returns ForgetResult or nil, err.
function _M.forget(eng, o)
  local vs = eng.vector_store
  local ids = o.memory_ids
  if not ids then
    if vs.find_ids then
      local err
      ids, err = call(vs, "find_ids", o.bank_id, o.bank_id, { tags = o.tags, before = o.before_ms })
      if not ids then return nil, err end
    else
      -- Generic path for third-party stores: page through list_vectors.
      local rowmatch = require "astrocyte.rowmatch"
      ids = {}
      local offset = 0
      while true do
        local page, err = call(vs, "list_vectors", o.bank_id, o.bank_id, offset, 500)
        if not page then return nil, err end
        for _, it in ipairs(page) do
          local r = { tags = it.tags, occurred_at = it.occurred_at and util.to_ms(it.occurred_at),
                      retained_at = it.retained_at and util.to_ms(it.retained_at) }
          if rowmatch.selected(r, { tags = o.tags, before = o.before_ms }) then ids[#ids + 1] = it.id end
        end
        if #page < 500 then break end
        offset = offset + #page
      end
    end
  end
  local deleted = 0
  for start = 1, #ids, 500 do
    local batch = {}
    for i = start, min(#ids, start + 499) do batch[#batch + 1] = ids[i] end
    local n, err = call(vs, "delete", o.bank_id, batch, o.bank_id)
    if not n then return nil, err end
    deleted = deleted + n
    local ds = eng.document_store
    if ds and ds ~= vs and ds.delete then call(ds, "delete", o.bank_id, batch, o.bank_id) end
  end
  return { deleted_count = deleted, archived_count = 0 }
end

return _M
