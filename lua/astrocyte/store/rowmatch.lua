-- astrocyte.rowmatch: row predicates shared by the built-in backends —
-- fact_types membership, metadata equality, session_id, tag and date
-- selection — so that the memory and SQLite backends agree exactly.
local _M = {}

-- Returns true if row r satisfies pred {fact_types?, metadata?, session_id?}.
function _M.matches(r, pred)
  if pred.fact_types then
    local ok = false
    for _, ft in ipairs(pred.fact_types) do
      if r.fact_type == ft then ok = true; break end
    end
    if not ok then return false end
  end
  local md = r.metadata
  if pred.metadata then
    for k, v in pairs(pred.metadata) do
      if not md or md[k] ~= v then return false end
    end
  end
  if pred.session_id ~= nil then
    if not md or md.session_id ~= pred.session_id then return false end
  end
  return true
end

-- Returns true if row r is selected by {tags?, before?, after?}: any of the
-- tags, and occurred_at (else retained_at) strictly before `before` ms and
-- at or after `after` ms.
function _M.selected(r, sel)
  if sel.tags and #sel.tags > 0 then
    local hit = false
    if r.tags then
      for _, t in ipairs(r.tags) do
        for _, want in ipairs(sel.tags) do
          if t == want then hit = true; break end
        end
        if hit then break end
      end
    end
    if not hit then return false end
  end
  if sel.before then
    local t = r.occurred_at or r.retained_at
    if not t or t >= sel.before then return false end
  end
  if sel.after then
    local t = r.occurred_at or r.retained_at
    if not t or t < sel.after then return false end
  end
  return true
end

return _M
