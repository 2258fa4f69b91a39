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
  return { deleted_count = deleted, archived_count = 0 }
end

return _M
