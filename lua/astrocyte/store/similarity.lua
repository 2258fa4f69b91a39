-- astrocyte.similarity: the name and vector similarities the graph stores
-- share (spi.md §1.2 find_entity_candidates / _scored). ratio() is difflib's
-- SequenceMatcher ratio (2·matches / total length, case-insensitive), the
-- reference's stand-in for trigram similarity; entity() takes the best ratio
-- over an entity's name and aliases; cosine() compares two embeddings.
-- Pure Lua, runs on Lua 5.4 and LuaJIT.
local lower, sqrt, ipairs = string.lower, math.sqrt, ipairs

local _M = {}

-- Characters of the recursively found longest common blocks of a[i1..i2]
-- and b[j1..j2] (SequenceMatcher without junk heuristics).
local function matches(a, i1, i2, b, j1, j2)
  if i1 > i2 or j1 > j2 then return 0 end
  local best, bi, bj = 0, 0, 0
  local prev = {}
  for i = i1, i2 do
    local cur = {}
    local ai = a:byte(i)
    for j = j1, j2 do
      if ai == b:byte(j) then
        local k = (prev[j - 1] or 0) + 1
        cur[j] = k
        if k > best then best, bi, bj = k, i - k + 1, j - k + 1 end
      end
    end
    prev = cur
  end
  if best == 0 then return 0 end
  return best + matches(a, i1, bi - 1, b, j1, bj - 1) + matches(a, bi + best, i2, b, bj + best, j2)
end

-- Similarity of two strings in [0, 1], ignoring case; 1.0 for two empty ones.
function _M.ratio(a, b)
  a, b = lower(a), lower(b)
  local total = #a + #b
  if total == 0 then return 1.0 end
  return 2 * matches(a, 1, #a, b, 1, #b) / total
end

-- Best ratio of `name` against e.name and every string in e.aliases.
function _M.entity(name, e)
  local best = _M.ratio(name, e.name)
  for _, al in ipairs(e.aliases or {}) do
    local r = _M.ratio(name, al)
    if r > best then best = r end
  end
  return best
end

-- True if the lowercased query q occurs in e.name or one of e.aliases
-- (case-insensitive).
function _M.contains(e, q)
  if e.name:lower():find(q, 1, true) then return true end
  for _, al in ipairs(e.aliases or {}) do
    if al:lower():find(q, 1, true) then return true end
  end
  return false
end

-- GraphStore.find_entity_candidates over a list of entities: those whose
-- name/alias similarity is >= threshold, or that contain / are contained in
-- `name` (case-insensitive); similarity descending, then by id; at most
-- `limit`. Returns the entity tables themselves (callers copy as needed).
function _M.candidates(name, entities, threshold, limit)
  local q, scored = name:lower(), {}
  for _, e in ipairs(entities) do
    local s = _M.entity(name, e)
    if s >= threshold or _M.contains(e, q) or q:find(e.name:lower(), 1, true) then
      scored[#scored + 1] = { e = e, s = s }
    end
  end
  table.sort(scored, function(x, y)
    if x.s ~= y.s then return x.s > y.s end
    return x.e.id < y.e.id
  end)
  local out = {}
  for i = 1, math.min(limit, #scored) do out[i] = scored[i].e end
  return out
end

-- Cosine of two equal-length numeric arrays clamped to [-1, 1]; nil when the
-- lengths differ, either is empty or either has zero norm.
function _M.cosine(a, b)
  if type(a) ~= "table" or type(b) ~= "table" or #a ~= #b or #a == 0 then return nil end
  local dot, na, nb = 0, 0, 0
  for i = 1, #a do dot = dot + a[i] * b[i]; na = na + a[i] * a[i]; nb = nb + b[i] * b[i] end
  if na == 0 or nb == 0 then return nil end
  local c = dot / sqrt(na * nb)
  if c > 1 then c = 1 elseif c < -1 then c = -1 end
  return c
end

return _M
