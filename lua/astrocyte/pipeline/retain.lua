-- astrocyte.pipeline.retain: the built-in retain path after the policy
-- layer, in the reference's order: chunking (strategy by content type and
-- extraction profile) → context per chunk (the turns before a dialogue
-- turn, the heading and end of the chunk before a document chunk; stored as
-- metadata._context, indexed by the keyword channel, never part of the hit)
-- → entity extraction → one batched embedding call →
-- near-duplicate check → one atomic store_vectors call → document store →
-- entity graph. A failure after the vector write is undone (the memories
-- written by this call are deleted), so a failed retain leaves nothing.
-- Every store call goes through errors.call (provider errors kept intact).
local core = require "astrocyte.core"
local embed = require "astrocyte.pipeline.embed"
local entities = require "astrocyte.pipeline.entities"
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local ipairs, fmt, type = ipairs, string.format, type

local _M = {}

-- Chunk strategy per content type (reference resolve_retain_chunking).
local CONTENT_STRATEGY = {
  conversation = "dialogue", transcript = "dialogue", dialogue = "dialogue",
  document = "paragraph", email = "paragraph", event = "sentence",
}

-- Built-in extraction profiles (reference extraction_builtin.yaml, less its
-- dataset-specific ones: an evaluation harness declares its own profiles in
-- the config's extraction_profiles).
_M.BUILTIN_PROFILES = {
  builtin_text = { content_type = "text", chunking_strategy = "sentence" },
  builtin_conversation = { content_type = "conversation", chunking_strategy = "dialogue" },
}

-- Resolves the extraction profile of a request; returns profile table or nil, err.
function _M.profile(cfg, name)
  if name == nil then return {} end
  local user = cfg.extraction_profiles and cfg.extraction_profiles[name]
  local p = user or _M.BUILTIN_PROFILES[name]
  if not p then
    return nil, errors.validation(fmt("unknown extraction_profile '%s'", name), { field = "extraction_profile" })
  end
  return p
end

-- Calls store:method(...) for bank; result or nil, error object.
local function call(store, method, bank, ...)
  return errors.call(store, method, { bank_id = bank }, ...)
end

-- The metadata keys that name people (profile entity_extraction:
-- metadata): a name, or several separated by ',' or '|'.
local PERSON_KEYS = { "person", "speaker", "speakers" }

-- Entities from metadata keys (profile entity_extraction: metadata).
local function metadata_entities(md)
  local out, seen = {}, {}
  for _, key in ipairs(PERSON_KEYS) do
    local v = md and md[key]
    if type(v) == "string" then
      for name in v:gmatch("[^,|]+") do
        name = util.trim(name)
        if name ~= "" and not seen[entities.key(name)] then
          seen[entities.key(name)] = true
          out[#out + 1] = { id = entities.id_of(name), name = name, entity_type = "PERSON", aliases = {},
                            metadata = { kind = "metadata" } }
        end
      end
    end
  end
  return out
end

-- Writes entities, memory↔entity associations and co-occurrence links.
local function store_graph(eng, bank, items, per_chunk_entities)
  local gs = eng.graph_store
  local all, seen, assoc, links, link_at = {}, {}, {}, {}, {}
  local max_co = eng.cfg.entity_cooccurrence and eng.cfg.entity_cooccurrence.max_entities_per_memory or 5
  for i, it in ipairs(items) do
    local ents = per_chunk_entities[i]
    for j, e in ipairs(ents) do
      if not seen[e.id] then seen[e.id] = true; all[#all + 1] = e end
      assoc[#assoc + 1] = { memory_id = it.id, entity_id = e.id }
      if j <= max_co then
        for k = j + 1, math.min(#ents, max_co) do
          -- A pair seen again (a batch of many items) is upserted once, with
          -- the latest evidence: the row sequential upserts would leave.
          local key = e.id .. "\0" .. ents[k].id
          local n = link_at[key] or #links + 1
          link_at[key] = n
          links[n] = { entity_a = e.id, entity_b = ents[k].id, link_type = "co_occurs",
                       evidence = it.id, confidence = 1.0 }
        end
      end
    end
  end
  if #all == 0 then return true end
  local function write()
    local _, err = call(gs, "store_entities", bank, all, bank)
    if err then return nil, err end
    _, err = call(gs, "link_memories_to_entities", bank, assoc, bank)
    if err then return nil, err end
    if #links > 0 then
      _, err = call(gs, "store_links", bank, links, bank)
      if err then return nil, err end
    end
    return true
  end
  -- One transaction for the whole graph write when the store offers it.
  if type(gs.batch) == "function" then
    local ok, err = call(gs, "batch", bank, write)
    if not ok then return nil, err end
    return true
  end
  return write()
end

-- The last turns retained per (engine, bank, session), newest last, so a
-- turn retained on its own still gets the turns before it as context. Kept
-- per engine (weak keys) and bounded; after a restart a session's first new
-- turn starts without context.
local TAILS = setmetatable({}, { __mode = "k" })
local MAX_SESSIONS = 4096

local function tails_of(eng)
  local t = TAILS[eng]
  if not t then t = { n = 0, map = {} }; TAILS[eng] = t end
  return t
end

-- Forgets the remembered session tails of an engine (after a forget).
function _M.reset_context(eng)
  TAILS[eng] = nil
end

-- The last `n` characters of s, cut forward to a word start.
local function tail_chars(s, n)
  if #s <= n then return s end
  local t = s:sub(-n)
  return (t:gsub("^%S*%s+", "", 1))
end

-- The heading a document chunk sits under: the last Markdown heading line
-- ("# ...") of the text before it, or nil.
local function last_heading(text, into)
  local h = into
  for line in text:gmatch("[^\n]+") do
    if line:find("^%s*#+%s+%S") then h = util.trim(line) end
  end
  return h
end

-- "8 May 2023 Monday" for a time in ms (UTC), in English whatever the
-- process locale (os.date's %B follows it).
local MONTH_NAMES = { "January", "February", "March", "April", "May", "June", "July",
  "August", "September", "October", "November", "December" }
local DAY_NAMES = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" }
local function date_words(ms)
  local t = os.date("!*t", math.floor(ms / 1000))
  return t.day .. " " .. MONTH_NAMES[t.month] .. " " .. t.year .. " " .. DAY_NAMES[t.wday]
end

-- Context strings for chunks (indexed with each, never returned as its
-- text): a dialogue chunk gets the `dialogue_context_turns` turns before it
-- (earlier chunks of this call, then earlier retains into the same bank with
-- the same metadata.session_id); another chunk gets the heading above it and
-- the last `chunk_context_chars` characters of the chunk before it. Returns
-- an array (entries may be nil).
local function contexts(eng, r, chunks, dialogue, p)
  local out = {}
  if dialogue then
    local nturns = p.dialogue_context_turns or 0
    if nturns <= 0 then return out end
    local sid = r.metadata and r.metadata.session_id
    local key, tails, prev = nil, nil, {}
    if sid ~= nil then
      key = r.bank_id .. "\0" .. tostring(sid)
      tails = tails_of(eng)
      for _, t in ipairs(tails.map[key] or {}) do prev[#prev + 1] = t end
    end
    for i, c in ipairs(chunks) do
      if #prev > 0 then
        local parts = {}
        for j = math.max(1, #prev - nturns + 1), #prev do parts[#parts + 1] = prev[j] end
        out[i] = table.concat(parts, "\n")
      end
      prev[#prev + 1] = c
      if #prev > nturns then table.remove(prev, 1) end
    end
    if key then
      if not tails.map[key] then
        tails.n = tails.n + 1
        if tails.n > MAX_SESSIONS then tails.map, tails.n = {}, 1 end
      end
      tails.map[key] = prev
    end
    return out
  end
  local nchars = p.chunk_context_chars or 0
  if #chunks < 2 or nchars <= 0 then return out end
  local heading
  for i, c in ipairs(chunks) do
    if i > 1 then
      local parts = {}
      if heading and not c:find(heading, 1, true) then parts[1] = heading end
      parts[#parts + 1] = tail_chars(chunks[i - 1], nchars)
      out[i] = table.concat(parts, "\n")
    end
    heading = last_heading(c, heading)
  end
  return out
end

-- Stage 1 of a retain: chunks (strategy by content type and extraction
-- profile), their contexts and the texts to embed for validated request
-- r = {content, bank_id, tags, metadata, occurred_ms, fact_type,
-- content_type, extraction_profile} under the bank's config bcfg.
-- Returns prep {r, bcfg, prof, chunks, ctx, to_embed} or nil, err.
function _M.prepare(eng, r, bcfg)
  local p = bcfg.pipeline
  local prof, perr = _M.profile(bcfg, r.extraction_profile)
  if not prof then return nil, perr end
  local content_type = r.content_type or prof.content_type or "text"
  local strategy = prof.chunking_strategy or CONTENT_STRATEGY[content_type] or p.chunk_strategy
  local size = prof.chunk_size or p.max_chunk_size
  local chunks, cerr = core.chunk(r.content, strategy, size, math.min(p.chunk_overlap, size - 1))
  if not chunks then return nil, errors.validation("content: " .. cerr, { field = "content", bank_id = r.bank_id }) end
  if #chunks == 0 then
    return nil, errors.validation("content has no text after chunking", { field = "content", bank_id = r.bank_id })
  end
  local ctx = contexts(eng, r, chunks, strategy == "dialogue", p)
  if p.context_date ~= false and r.occurred_ms then
    -- the day it happened, as words the keyword channel can match ("8 May
    -- 2023 Monday"), like the date heading of a chat session
    local day = date_words(r.occurred_ms)
    for i = 1, #chunks do ctx[i] = ctx[i] and (ctx[i] .. "\n" .. day) or day end
  end
  local to_embed = chunks
  if p.context_in_embedding then
    to_embed = {}
    for i, c in ipairs(chunks) do to_embed[i] = ctx[i] and (c .. "\n" .. ctx[i]) or c end
  end
  return { r = r, bcfg = bcfg, prof = prof, chunks = chunks, ctx = ctx, to_embed = to_embed }
end

-- Stage 2: with the chunks' vectors, the near-duplicate check per chunk
-- (signal_quality.dedup), the memory items to store and their entities.
-- Returns plan {items, entities, nkeep, dup_ids}, or the result of a retain
-- whose chunks all duplicate stored memories as plan.result.
function _M.plan(eng, prep, vecs)
  local r, bcfg, prof, chunks, ctx = prep.r, prep.bcfg, prep.prof, prep.chunks, prep.ctx
  local dd = bcfg.signal_quality and bcfg.signal_quality.dedup or {}
  local dedup_on = dd.enabled ~= false
  local threshold = dd.similarity_threshold or 0.95
  local action = dd.action or "skip"
  local keep, dup_ids, merged = {}, {}, nil
  for i = 1, #chunks do
    local is_dup = false
    if dedup_on and action ~= "warn" then
      local hits = call(eng.vector_store, "search_similar", r.bank_id, vecs[i], r.bank_id, 1) or {}
      if hits[1] and hits[1].score >= threshold then
        is_dup = true
        dup_ids[#dup_ids + 1] = hits[1].id
        if action == "update" then
          merged = merged or {}
          merged[#merged + 1] = { hit = hits[1], vec = vecs[i] }
        end
      end
    end
    if not is_dup then keep[#keep + 1] = i end
  end

  local now = util.now_ms()
  local occurred, retained = util.iso(r.occurred_ms), util.iso(now)
  local items, chunk_entities, merged_at = {}, {}, nil
  for n, i in ipairs(keep) do
    local md = util.copy(r.metadata) or {}
    md._created_at = md._created_at or retained
    if #chunks > 1 then md._chunk_index = i - 1; md._chunk_count = #chunks end
    if ctx[i] then md._context = ctx[i] end
    items[n] = {
      id = util.new_id(), bank_id = r.bank_id, vector = vecs[i], text = chunks[i],
      metadata = md, tags = r.tags, fact_type = r.fact_type or prof.fact_type or "world",
      occurred_at = occurred, retained_at = retained,
    }
  end
  -- "update": refresh the memories these chunks duplicate (tags merged, newer metadata).
  -- The near-duplicate keeps its id and text; its vector becomes the new
  -- chunk's (cosine >= threshold, so recall is unchanged).
  if merged then
    merged_at = {}
    for _, m in ipairs(merged) do
      local h = m.hit
      local tags, seen = {}, {}
      for _, t in ipairs(h.tags or {}) do if not seen[t] then seen[t] = true; tags[#tags + 1] = t end end
      for _, t in ipairs(r.tags or {}) do if not seen[t] then seen[t] = true; tags[#tags + 1] = t end end
      local md = util.copy(h.metadata) or {}
      for k, v in pairs(r.metadata or {}) do md[k] = v end
      items[#items + 1] = { id = h.id, bank_id = r.bank_id, vector = m.vec, text = h.text, metadata = md,
        tags = #tags > 0 and tags or nil, fact_type = h.fact_type, occurred_at = h.occurred_at or occurred,
        retained_at = retained }
      merged_at[#items] = true
    end
  end
  if #items == 0 then
    return { result = { stored = false, deduplicated = true, memory_id = dup_ids[1], memory_ids = {},
                        retention_action = "skip", error = "All chunks are near-duplicates" } }
  end
  if eng.graph_store then
    local mode = prof.entity_extraction
    for n, it in ipairs(items) do
      if (merged_at and merged_at[n]) or mode == false or mode == "disabled" or mode == "false" then
        chunk_entities[n] = {}
      elseif mode == "metadata" then
        chunk_entities[n] = metadata_entities(it.metadata)
      else
        chunk_entities[n] = entities.extract(it.text, eng.llm)
      end
    end
  end
  return { items = items, entities = chunk_entities, nkeep = #keep, dup_ids = dup_ids }
end

-- True when the vector store shares a transaction with the graph store
-- (the embedded store and its graph on one SQLite connection): memories and
-- graph rows then commit at once (all or nothing, one fsync).
function _M.together(eng)
  local vs, gs = eng.vector_store, eng.graph_store
  return gs ~= nil and type(vs.shares_transaction_with) == "function" and vs:shares_transaction_with(gs) == true
end

-- Stage 3 inside one shared transaction: the items of one or more banks
-- (groups: {bank_id, items, entities}) as one store_vectors call, then each
-- bank's graph. Returns the ids in item order or nil, err.
function _M.write_together(eng, bank, items, groups)
  local vs = eng.vector_store
  return call(vs, "write_batch", bank, function()
    local written, werr = call(vs, "store_vectors", bank, items)
    if not written then return nil, werr end
    for _, g in ipairs(groups) do
      local ok, gerr = store_graph(eng, g.bank_id, g.items, g.entities)
      if not ok then return nil, gerr end
    end
    return written
  end)
end

-- Stage 3 for one retain: stores plan's items (memories, documents, graph);
-- a failure after the vector write deletes this call's new memories.
-- Returns the new ids or nil, err.
function _M.write(eng, bank, pl)
  local vs, gs = eng.vector_store, eng.graph_store
  local together = _M.together(eng)
  local ids, serr
  if together then
    ids, serr = _M.write_together(eng, bank, pl.items, { { bank_id = bank, items = pl.items, entities = pl.entities } })
  else
    ids, serr = call(vs, "store_vectors", bank, pl.items)
  end
  if not ids then return nil, serr end
  local new_ids = {}
  for n = 1, pl.nkeep do new_ids[n] = ids[n] end
  local function undo()
    call(vs, "delete", bank, new_ids, bank)
  end
  if eng.document_store and eng.document_store ~= vs then
    for _, it in ipairs(pl.items) do
      local _, derr = call(eng.document_store, "store_document", bank,
        { id = it.id, text = it.text, metadata = it.metadata, tags = it.tags }, bank)
      if derr then undo(); return nil, derr end
    end
  end
  if gs and not together then
    local ok, gerr = store_graph(eng, bank, pl.items, pl.entities)
    if not ok then undo(); return nil, gerr end
  end
  return new_ids
end

-- The RetainResult of a stored plan.
function _M.result(pl, new_ids)
  return {
    stored = true, memory_id = new_ids[1] or pl.items[1].id, memory_ids = new_ids, chunk_count = #new_ids,
    deduplicated = #pl.dup_ids > 0, retention_action = (#new_ids > 0) and "add" or "merge",
  }
end

-- Retains validated request r under the bank's effective config bcfg.
-- Returns RetainResult or nil, err.
function _M.run(eng, r, bcfg)
  local prep, err = _M.prepare(eng, r, bcfg)
  if not prep then return nil, err end
  local vecs; vecs, err = embed.embed(eng, prep.to_embed)
  if not vecs then return nil, err end
  local pl = _M.plan(eng, prep, vecs)
  if pl.result then return pl.result end
  local new_ids; new_ids, err = _M.write(eng, r.bank_id, pl)
  if not new_ids then return nil, err end
  return _M.result(pl, new_ids)
end

return _M
