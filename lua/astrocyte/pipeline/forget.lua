-- astrocyte.pipeline.forget: forgetting by ids, by tags and/or dates, or a
-- whole bank, through the VectorStore SPI (the store's find_ids extension
-- when it has one, else paging list_vectors), in batches of 500; the graph
-- store's memory associations are dropped too when it can.
local errors = require "astrocyte.errors"
local retain = require "astrocyte.pipeline.retain"
local rowmatch = require "astrocyte.store.rowmatch"
local util = require "astrocyte.util"
local ipairs, min = ipairs, math.min

local _M = {}

local function call(store, method, bank, ...)
  return errors.call(store, method, { bank_id = bank }, ...)
end

-- Ids of bank that selector sel = {tags?, before?, after?, live_only?}
-- picks (times in ms), on stores with or without the find_ids extension.
function _M.select_ids(eng, bank, sel)
  local vs = eng.vector_store
  if type(vs.find_ids) == "function" then
    return call(vs, "find_ids", bank, bank, sel)
  end
  -- Generic path for third-party stores: page through list_vectors.
  local ids, offset = {}, 0
  while true do
    local page, err = call(vs, "list_vectors", bank, bank, offset, 500)
    if not page then return nil, err end
    for _, it in ipairs(page) do
      local r = { tags = it.tags, occurred_at = it.occurred_at and util.to_ms(it.occurred_at),
                  retained_at = it.retained_at and util.to_ms(it.retained_at) }
      if rowmatch.selected(r, sel) then ids[#ids + 1] = it.id end
    end
    if #page < 500 then break end
    offset = offset + #page
  end
  return ids
end

-- Cuts forgotten texts out of the indexed context of the memories that
-- quote them (metadata._context, written by retain for the turns after a
-- dialogue turn), so a forgotten turn is not found through its neighbours.
-- gone: { {text, session_id} }. The neighbours are found by a keyword search
-- for the forgotten text in its session; they are rewritten through the
-- document store, which keeps their vectors.
local function scrub_contexts(eng, bank, gone)
  local ds = eng.document_store
  if not ds or type(ds.store_document) ~= "function" then return end
  for _, g in ipairs(gone) do
    local f = g.session_id ~= nil and { session_id = g.session_id } or nil
    local hits = call(ds, "search_fulltext", bank, g.text, bank, 20, f) or {}
    for _, h in ipairs(hits) do
      local c = h.metadata and h.metadata._context
      local a, b = nil, nil
      if type(c) == "string" then a, b = c:find(g.text, 1, true) end
      if a then
        local md = util.copy(h.metadata)
        local rest = (c:sub(1, a - 1) .. "\n" .. c:sub(b + 1)):gsub("\n\n+", "\n"):gsub("^\n", ""):gsub("\n$", "")
        md._context = rest ~= "" and rest or nil
        call(ds, "store_document", bank, { id = h.id or h.document_id, text = h.text, metadata = md, tags = h.tags }, bank)
      end
    end
  end
end

-- Forgets per validated options o = {bank_id, memory_ids?, tags?, before_ms?,
-- scope?}. Returns ForgetResult or nil, err.
function _M.run(eng, o)
  local vs = eng.vector_store
  local ids = o.memory_ids
  -- A forgotten turn must not live on as the context of the next one.
  retain.reset_context(eng)
  if not ids then
    local err
    ids, err = _M.select_ids(eng, o.bank_id, { tags = o.tags, before = o.before_ms })
    if not ids then return nil, err end
  end
  -- The texts of dialogue turns about to go, to scrub them from their
  -- neighbours' context afterwards (not needed when the whole bank goes).
  local gone = {}
  if o.scope ~= "all" and #ids > 0 and type(vs.get_items) == "function" then
    local items = call(vs, "get_items", o.bank_id, ids, o.bank_id) or {}
    for _, id in ipairs(ids) do
      local it = items[id]
      if it and it.text and it.metadata and it.metadata.session_id ~= nil then
        gone[#gone + 1] = { text = it.text, session_id = it.metadata.session_id }
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
    local gs = eng.graph_store
    if gs and gs.unlink_memories then call(gs, "unlink_memories", o.bank_id, batch, o.bank_id) end
  end
  if #gone > 0 then scrub_contexts(eng, o.bank_id, gone) end
  return { deleted_count = deleted, archived_count = 0 }
end

return _M
