-- astrocyte.store.graph: argument checks and orderings every GraphStore
-- (spi.md §1.2) shares, so the in-memory, SQLite, PostgreSQL and Neo4j
-- stores reject the same input with the same text and rank alike.
local types = require "astrocyte.types"
local type, sort = type, table.sort

local _M = {}

-- bank_id if it is a non-empty string, else nil and "<label>: ...".
function _M.bank_arg(label, bank_id)
  if type(bank_id) ~= "string" or bank_id == "" then return nil, label .. ": bank_id must be a non-empty string" end
  return bank_id
end

-- The validated `name` DTOs of array `list` (argument `what`) written to
-- bank_id; nil and "<label>: ..." when bank_id is bad (as bank_arg) or an
-- item is. keep: as types.list (carry id and text over).
function _M.dtos(label, bank_id, name, list, what, keep)
  local _, err = _M.bank_arg(label, bank_id)
  if err then return nil, err end
  return types.list(name, list, what, label, keep)
end

-- find_memory_links arguments: limit, link_types (nil = any), or nil when
-- the answer is empty anyway (no bank, no seeds, limit < 1, no link type).
function _M.link_query(seed_ids, bank_id, opts)
  opts = opts or {}
  local limit, kinds = opts.limit or 200, opts.link_types
  if type(bank_id) ~= "string" or type(seed_ids) ~= "table" or #seed_ids == 0 or limit < 1 then return nil end
  if type(kinds) == "table" and #kinds == 0 then return nil end
  return limit, kinds
end

local function by_score(x, y)
  if x.score ~= y.score then return x.score > y.score end
  return x.memory_id < y.memory_id
end

-- Sorts GraphHits best score first (ties by memory_id) and keeps `limit`.
function _M.top_hits(hits, limit)
  sort(hits, by_score)
  for i = #hits, limit + 1, -1 do hits[i] = nil end
  return hits
end

return _M
