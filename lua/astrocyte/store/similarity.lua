-- astrocyte.store.similarity: the name and vector similarities the graph
-- stores share (spi.md §1.2 find_entity_candidates / _scored). ratio() is
-- difflib's SequenceMatcher ratio (2·matches / total length,
-- case-insensitive), the reference's stand-in for trigram similarity;
-- trigram() is pg_trgm's; entity() takes the best of either over an
-- entity's name and aliases; cosine() compares two embeddings; scored()
-- ranks the candidates of find_entity_candidates_scored.
-- Pure Lua, runs on Lua 5.4 and LuaJIT.
local lower, sqrt, ipairs, pairs, sort = string.lower, math.sqrt, ipairs, pairs, table.sort

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

-- Trigram set of s (pg_trgm rules: lower case, alphanumeric words padded
-- with two spaces before and one after) and its size.
local function trigrams(s)
  local set, n = {}, 0
  for word in lower(s):gmatch("[%w\128-\255]+") do
    local w = "  " .. word .. " "
    for i = 1, #w - 2 do
      local g = w:sub(i, i + 2)
      if not set[g] then set[g] = true; n = n + 1 end
    end
  end
  return set, n
end

-- Trigram similarity of a and b in [0,1] (Jaccard of the trigram sets, as
-- pg_trgm computes it).
function _M.trigram(a, b)
  local sa, na = trigrams(a)
  local sb, nb = trigrams(b)
  if na == 0 and nb == 0 then return lower(a) == lower(b) and 1.0 or 0.0 end
  local common_n = 0
  for g in pairs(sa) do if sb[g] then common_n = common_n + 1 end end
  local union = na + nb - common_n
  return union > 0 and common_n / union or 0
end

-- Best similarity (sim, default ratio) of `name` against e.name and every
-- string in e.aliases.
function _M.entity(name, e, sim)
  sim = sim or _M.ratio
  local best = sim(name, e.name)
  for _, al in ipairs(e.aliases or {}) do
    local r = sim(name, al)
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

-- The scored candidates of find_entity_candidates_scored among entities:
-- {entity, name_similarity, embedding_similarity (when qemb and the
-- entity's embedding exist), mention_count} for name similarity (sim,
-- default ratio) >= threshold; best name similarity first, then embedding
-- similarity, then id; at most limit.
function _M.scored(name, entities, threshold, limit, qemb, sim)
  local out = {}
  for _, e in ipairs(entities) do
    local s = _M.entity(name, e, sim)
    if s >= threshold then
      out[#out + 1] = { entity = e, name_similarity = s, mention_count = e.mention_count or 1,
                        embedding_similarity = qemb and e.embedding and _M.cosine(qemb, e.embedding) or nil }
    end
  end
  sort(out, function(x, y)
    if x.name_similarity ~= y.name_similarity then return x.name_similarity > y.name_similarity end
    local ex, ey = x.embedding_similarity or -2, y.embedding_similarity or -2
    if ex ~= ey then return ex > ey end
    return x.entity.id < y.entity.id
  end)
  for i = #out, limit + 1, -1 do out[i] = nil end
  return out
end

return _M
