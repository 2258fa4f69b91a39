-- astrocyte.providers.mock: the reference's MockLLMProvider — a
-- deterministic LLM double with no network. complete() answers the two
-- prompts the pipeline sends: entity extraction (a JSON array of the
-- capitalized names in the content) and reflect (the first memory's text,
-- prefixed "Based on my memories: "); embed() gives bag-of-words hashed
-- term-frequency vectors (dimensions default 128). It counts its calls, and
-- `fail = true` in its config (or m.fail at run time) makes every call fail,
-- for degraded-mode tests.
local core = require "astrocyte.core"
local util = require "astrocyte.util"

local _M = { SPI_VERSION = 1, name = "mock" }
local mt = { __index = _M }

function _M.new(conf)
  conf = conf or {}
  local dims = conf.embedding_dimensions or conf.dimensions or 128
  return setmetatable({ dims = dims, fail = conf.fail == true, calls = { complete = 0, embed = 0 } }, mt)
end

local function text_of(content)
  if type(content) == "string" then return content end
  local parts = {}
  for _, p in ipairs(content or {}) do if p.text then parts[#parts + 1] = p.text end end
  return table.concat(parts, " ")
end

-- LLMProvider.complete(messages, model, max_tokens, temperature, ...) → Completion.
function _M:complete(messages, model)
  self.calls.complete = self.calls.complete + 1
  if self.fail then return nil, "mock: configured to fail" end
  local system, user = "", ""
  for _, m in ipairs(messages or {}) do
    if m.role == "system" then system = text_of(m.content) elseif m.role == "user" then user = text_of(m.content) end
  end
  local text
  if system:find("You rank memories", 1, true) then
    -- rank by how many question words each memory contains, longest text last
    local q = user:match("<question>\n(.-)\n</question>") or ""
    local words = {}
    for _, t in ipairs(core.tokenize(q)) do words[t] = true end
    local items = {}
    for id, text in user:gmatch("%- id=(%S+) score=[%d%.]+: ([^\n]*)") do
      local n = 0
      for _, t in ipairs(core.tokenize(text)) do if words[t] then n = n + 1 end end
      items[#items + 1] = { id = id, n = n, pos = #items + 1 }
    end
    table.sort(items, function(a, b)
      if a.n ~= b.n then return a.n > b.n end
      return a.pos > b.pos                      -- ties reversed: visibly a different order
    end)
    local ids = {}
    for i, it in ipairs(items) do ids[i] = it.id end
    text = util.encode({ ranked_ids = ids })
  elseif system:find("Extract the named entities", 1, true) then
    local body = user:match("<content>\n?(.-)\n?</content>") or user
    local names = {}
    for _, e in ipairs(require("astrocyte.spi").entity_names(body)) do
      if e.kind == "name" then
        names[#names + 1] = { name = e.name, entity_type = "PERSON", aliases = {} }
      end
    end
    text = "```json\n" .. util.encode(names) .. "\n```"
  else
    local block = user:match("<memories>\n(.-)\n</memories>") or ""
    local line = block:match("^(%[Memory 1%].-)\n%[Memory 2%]") or block:match("^(%[Memory 1%].*)$")
    local first = line and (line:match("^%[Memory 1%] %b() %b[]: (.*)$") or line:match("^%[Memory 1%] %b(): (.*)$"))
    if first then first = first:gsub("\n", " ") end
    text = first and ("Based on my memories: " .. first) or "This information is not available in my memories."
  end
  local words = select(2, (system .. user):gsub("%S+", ""))
  return { text = text, model = model or "mock", usage = { input_tokens = words, output_tokens = select(2, text:gsub("%S+", "")) } }
end

-- LLMProvider.embed(texts) → one bag-of-words vector per text.
function _M:embed(texts)
  self.calls.embed = self.calls.embed + 1
  if self.fail then return nil, "mock: configured to fail" end
  local out = {}
  for i, t in ipairs(texts) do
    local v = {}
    for d = 1, self.dims do v[d] = 0 end
    for _, term in ipairs(core.tokenize(t)) do
      local h = 0
      for c = 1, #term do h = (h * 31 + term:byte(c)) % 2147483647 end
      local d = h % self.dims + 1
      v[d] = v[d] + 1
    end
    out[i] = v
  end
  return out
end

function _M:capabilities()
  return { supports_multimodal_completion = false, supports_multimodal_embedding = false, supports_batch_embed = true }
end

function _M:health() return { healthy = not self.fail, message = self.fail and "mock: failing" or "mock: ok" } end

return { llm_providers = _M.new, new = _M.new }
