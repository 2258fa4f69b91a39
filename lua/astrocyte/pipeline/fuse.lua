-- astrocyte.pipeline.fuse: weighted reciprocal rank fusion of strategy
-- result lists through the C core, keyed by memory id. The fused score is
-- scaled into [0,1] by the best score possible for the channels that
-- returned anything (an item ranked first by every one of them scores 1).
local core = require "astrocyte.core"
local ipairs, min = ipairs, math.min

local _M = {}

-- The fusion key of a hit: its bank and memory id (ids are unique per bank
-- only, and multi-bank lists mix banks). Store hits carry .id, graph and
-- temporal hits .memory_id, document hits .document_id.
-- Kept on the hit (_fk): a recall asks for each hit's key four times
-- (tie-breaking, expansion seeds, fusion, channel ranks).
function _M.key(h)
  local k = h._fk
  if k then return k end
  k = (h.bank_id or "") .. "\0" .. (h.memory_id or h.id or h.document_id)
  h._fk = k
  return k
end
local key_of_hit = _M.key

-- lists: array of {name, weight, hits = {hit with .id or .memory_id}}.
-- Returns fused hits (the first-seen hit table per id, score replaced) and
-- the number of distinct candidates, or nil, err.
function _M.rrf(lists, k)
  local key_of, hit_of, next_key = {}, {}, 1
  local ranked, weight_sum = {}, 0
  for _, l in ipairs(lists) do
    if l.weight > 0 and #l.hits > 0 then
      local keys = {}
      for i, h in ipairs(l.hits) do
        local id = key_of_hit(h)
        local key = key_of[id]
        if not key then
          key = next_key; next_key = key + 1
          key_of[id] = key; hit_of[key] = h
        end
        keys[i] = key
      end
      ranked[#ranked + 1] = { keys = keys, weight = l.weight }
      weight_sum = weight_sum + l.weight
    end
  end
  if #ranked == 0 then return {}, 0 end
  local fkeys, fscores = core.rrf(ranked, k)
  if not fkeys then return nil, fscores end
  local best = weight_sum / (k + 1)
  local out = {}
  for i = 1, #fkeys do
    local h = hit_of[fkeys[i]]
    h.score = min(1, fscores[i] / best)
    out[i] = h
  end
  return out, #fkeys
end

return _M
