-- astrocyte.pipeline.expansion: the learned-association channels of recall.
--   * associative: memories that share no word with the query but use words
--     the bank's own texts associate with its words (core.assoc through the
--     store's search_associative extension), weighted pipeline.weights.associative.
--   * expansion (multi-hop): after the first channels answered, their best
--     fused hits (pipeline.expansion.seeds of them) join the query as
--     feedback and the associative index is asked again, so memories related
--     to what was found (not only to the question) come in; weighted
--     pipeline.weights.expansion, 0 = off.
local fuse = require "astrocyte.pipeline.fuse"
local ipairs, pairs, sort, type = ipairs, pairs, table.sort, type

local _M = {}

-- The store answering search_associative, or nil.
function _M.store(eng)
  for _, s in ipairs({ eng.document_store, eng.vector_store }) do
    if s and type(s.search_associative) == "function" then return s end
  end
  return nil
end

-- Ids of the n best hits of a plain weighted RRF over lists (k), without
-- touching the hits (finish fuses them again, with tie-breaking).
function _M.seeds(lists, k, n, bank)
  local score, id_of = {}, {}
  for _, l in ipairs(lists) do
    if l.weight > 0 then
      for i, h in ipairs(l.hits) do
        local key = fuse.key(h)
        if (h.bank_id or bank) == bank then
          score[key] = (score[key] or 0) + l.weight / (k + i)
          id_of[key] = h.memory_id or h.id or h.document_id
        end
      end
    end
  end
  local keys = {}
  for key in pairs(score) do keys[#keys + 1] = key end
  sort(keys, function(a, b)
    if score[a] ~= score[b] then return score[a] > score[b] end
    return a < b
  end)
  local out = {}
  for i = 1, math.min(n, #keys) do out[i] = id_of[keys[i]] end
  return out
end

return _M
