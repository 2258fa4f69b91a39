-- astrocyte.providers.in_memory.engine: the ephemeral EngineProvider (Tier 2,
-- spi.md §1.8), mirroring the reference's InMemoryEngineProvider. Memories
-- are kept per bank in Lua tables; recall scores by query-token overlap
-- (share of distinct query tokens found in the memory, in [0,1]); reflect
-- joins the best hits; forget deletes by ids, tags, date or scope "all";
-- soft_delete hides memories without removing them.
-- conf: { supports_reflect = true, supports_forget = true }.
local types = require "astrocyte.types"
local util = require "astrocyte.util"
local ipairs, pairs, min, concat = ipairs, pairs, math.min, table.concat
local lower = string.lower

local _M = { SPI_VERSION = 1, name = "in_memory" }
local mt = { __index = _M }

function _M.new(conf)
  conf = conf or {}
  local self = setmetatable({ banks = {}, seq = 0, persistent = false }, mt)
  self.caps = assert(types.EngineCapabilities({
    supports_reflect = conf.supports_reflect ~= false, supports_forget = conf.supports_forget ~= false,
    supports_semantic_search = true, supports_tags = true, supports_metadata = true,
  }))
  return self
end

local function tokens(s)
  local out, seen = {}, {}
  for w in lower(s):gmatch("[%w_]+") do
    if #w > 1 and not seen[w] then seen[w] = true; out[#out + 1] = w end
  end
  return out, seen
end

-- EngineProvider.capabilities (sync): EngineCapabilities.
function _M:capabilities()
  return util.copy(self.caps)
end

function _M:health()
  return { healthy = true, message = "in_memory engine: ok" }
end

-- EngineProvider.retain(RetainRequest) → RetainResult.
function _M:retain(req)
  local r, err = types.RetainRequest(req)
  if not r then return { stored = false, error = err.message } end
  local b = self.banks[r.bank_id]
  if not b then b = {}; self.banks[r.bank_id] = b end
  self.seq = self.seq + 1
  local id = util.new_id()
  local _, set = tokens(r.content)
  b[id] = { memory_id = id, text = r.content, tags = r.tags, metadata = r.metadata, occurred_at = r.occurred_at,
            retained_at = util.iso(util.now_ms()), fact_type = "world", tokens = set, seq = self.seq }
  return { stored = true, memory_id = id, retention_action = "add" }
end

local function tag_match(m, tags)
  if not tags or #tags == 0 then return true end
  for _, t in ipairs(m.tags or {}) do
    for _, w in ipairs(tags) do if t == w then return true end end
  end
  return false
end

-- Scored, sorted hits of one bank.
local function search(self, query, bank_id, tags)
  local b = self.banks[bank_id]
  local hits = {}
  if not b then return hits end
  local q = tokens(query)
  if #q == 0 then return hits end
  for _, m in pairs(b) do
    if not m.hidden and tag_match(m, tags) then
      local n = 0
      for _, w in ipairs(q) do if m.tokens[w] then n = n + 1 end end
      if n > 0 then hits[#hits + 1] = { m = m, score = n / #q } end
    end
  end
  table.sort(hits, function(x, y)
    if x.score ~= y.score then return x.score > y.score end
    return x.m.seq > y.m.seq
  end)
  return hits
end

local function memory_hit(h, bank_id)
  local m = h.m
  return { text = m.text, score = h.score, memory_id = m.memory_id, bank_id = bank_id, tags = util.copy(m.tags),
           metadata = util.copy(m.metadata), occurred_at = m.occurred_at, retained_at = m.retained_at,
           fact_type = m.fact_type }
end

-- EngineProvider.recall(RecallRequest) → RecallResult.
function _M:recall(req)
  local r, err = types.RecallRequest(req)
  if not r then return nil, err end
  local hits = search(self, r.query, r.bank_id, r.tags)
  local out = {}
  for i = 1, min(r.max_results, #hits) do out[i] = memory_hit(hits[i], r.bank_id) end
  return { hits = out, total_available = #hits, truncated = false,
           top_semantic_score = out[1] and out[1].score or 0.0,
           trace = { strategies_used = { "keyword_overlap" }, total_candidates = #hits } }
end

-- EngineProvider.reflect(ReflectRequest) → ReflectResult: the best hits'
-- texts joined, with them as sources.
function _M:reflect(req)
  local r, err = types.ReflectRequest(req)
  if not r then return nil, err end
  local hits = search(self, r.query, r.bank_id, r.tags)
  local sources, texts = {}, {}
  for i = 1, min(5, #hits) do
    sources[i] = memory_hit(hits[i], r.bank_id)
    texts[i] = hits[i].m.text
  end
  return { answer = #texts > 0 and concat(texts, "\n") or "No relevant memories found.",
           sources = r.include_sources and sources or nil, confidence = hits[1] and hits[1].score or 0.0 }
end

-- EngineProvider.forget(ForgetRequest) → ForgetResult.
function _M:forget(req)
  local r, err = types.ForgetRequest(req)
  if not r then return nil, err end
  local b = self.banks[r.bank_id]
  if not b then return { deleted_count = 0, archived_count = 0 } end
  local n = 0
  local before = r.before_date and util.to_ms(r.before_date)
  local ids = {}
  if r.memory_ids then for _, id in ipairs(r.memory_ids) do ids[id] = true end end
  for id, m in pairs(b) do
    local hit
    if r.scope == "all" then hit = true
    elseif r.memory_ids then hit = ids[id]
    else
      hit = (r.tags or before) and tag_match(m, r.tags)
      if hit and before then hit = util.to_ms(m.occurred_at or m.retained_at) < before end
    end
    if hit then b[id] = nil; n = n + 1 end
  end
  return { deleted_count = n, archived_count = 0 }
end

-- Extension (reference InMemoryEngineProvider.soft_delete): hides ids;
-- returns how many were hidden.
function _M:soft_delete(bank_id, ids)
  local b = self.banks[bank_id]
  local n = 0
  for _, id in ipairs(ids or {}) do
    local m = b and b[id]
    if m and not m.hidden then m.hidden = true; n = n + 1 end
  end
  return n
end

return _M
