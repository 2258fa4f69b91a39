-- my_store.lua: a complete VectorStore written in plain Lua — a table scan
-- with cosine similarity. It shows everything a provider needs: a table of
-- methods, SPI_VERSION, .new(conf), results or `nil, err`. Load it from a
-- config with `vector_store: "my_store:Store"` (this directory on package.path)
-- and check it with require("astrocyte.testing").vector_store(...).
local util = require "astrocyte.util"
local core = require "astrocyte.core"

local Store = { SPI_VERSION = 1 }
Store.__index = Store

function Store.new(conf)
  return setmetatable({ dims = conf and conf.dims, banks = {} }, Store)
end

-- Vectors may arrive as arrays of numbers or as packed float32 strings.
local function numbers(v) return type(v) == "string" and core.vec_unpack(v) or v end
local function ms(t) return t and util.to_ms(t) end

local function cosine(a, b)
  local dot, na, nb = 0, 0, 0
  for i = 1, #a do dot, na, nb = dot + a[i] * b[i], na + a[i] ^ 2, nb + b[i] ^ 2 end
  if na == 0 or nb == 0 then return 0 end
  return math.max(0, math.min(1, dot / math.sqrt(na * nb)))
end

function Store:store_vectors(items)
  for i, it in ipairs(items) do                      -- validate everything first
    local n = #numbers(it.vector)
    if n ~= (self.dims or n) then return nil, ("my_store: items[%d] has %d dims, expected %d"):format(i, n, self.dims) end
    if type(it.text) ~= "string" or it.text == "" then return nil, ("my_store: items[%d].text is empty"):format(i) end
    self.dims = self.dims or n
  end
  local ids = {}
  for i, it in ipairs(items) do
    local row = util.copy(it)
    row.vector, row.retained_at = numbers(it.vector), it.retained_at or util.iso(util.now_ms())
    self.banks[it.bank_id] = self.banks[it.bank_id] or {}
    self.banks[it.bank_id][it.id], ids[i] = row, it.id
  end
  return ids
end

local function keep(r, f)
  if not f then return true end
  local md, t = r.metadata or {}, ms(r.occurred_at)
  if f.tags then
    local hit = false
    for _, a in ipairs(r.tags or {}) do for _, b in ipairs(f.tags) do hit = hit or a == b end end
    if not hit then return false end
  end
  if f.fact_types then
    local hit = false
    for _, ft in ipairs(f.fact_types) do hit = hit or r.fact_type == ft end
    if not hit then return false end
  end
  if f.time_range and not (t and t >= ms(f.time_range[1]) and t <= ms(f.time_range[2])) then return false end
  for k, v in pairs(f.metadata_filters or {}) do if md[k] ~= v then return false end end
  if f.as_of and ms(r.retained_at) > ms(f.as_of) then return false end
  return f.session_id == nil or md.session_id == f.session_id
end

function Store:search_similar(query, bank_id, limit, filters)
  query = numbers(query)
  if self.dims and #query ~= self.dims then return nil, ("my_store: query has %d dims, expected %d"):format(#query, self.dims) end
  local hits = {}
  for _, r in pairs(self.banks[bank_id] or {}) do
    if keep(r, filters) then
      local h = util.copy(r); h.vector = nil; h.score = cosine(query, r.vector)
      hits[#hits + 1] = h
    end
  end
  table.sort(hits, function(a, b) if a.score ~= b.score then return a.score > b.score end return a.id < b.id end)
  for i = #hits, (limit or 10) + 1, -1 do hits[i] = nil end
  return hits
end

function Store:delete(ids, bank_id)
  local bank, n = self.banks[bank_id] or {}, 0
  for _, id in ipairs(ids) do if bank[id] then bank[id], n = nil, n + 1 end end
  return n
end

function Store:list_vectors(bank_id, offset, limit)
  local all = {}
  for _, r in pairs(self.banks[bank_id] or {}) do all[#all + 1] = util.deepcopy(r) end
  table.sort(all, function(a, b) return a.id < b.id end)
  local page = {}
  for i = (offset or 0) + 1, math.min(#all, (offset or 0) + (limit or 100)) do page[#page + 1] = all[i] end
  return page
end

function Store:health() return { healthy = true, message = "my_store: ok" } end

return { Store = Store }
