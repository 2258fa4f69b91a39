-- astrocyte.providers.hashing: the default embedder — the C core's
-- deterministic hashing embedder behind the LLMProvider `embed` method. It
-- needs no weights and no network; it has no chat completion, so `complete`
-- reports CapabilityNotSupported and reflect stays extractive.
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"

local _M = { SPI_VERSION = 1, name = "hashing" }
local mt = { __index = _M }

local DEFAULT_DIMS = 384

-- conf: { dimensions = 8..65536 (default 384) }.
function _M.new(conf)
  conf = conf or {}
  local dims = conf.dimensions or conf.dims or DEFAULT_DIMS
  if type(dims) ~= "number" or dims ~= math.floor(dims) or dims < 8 or dims > 65536 then
    return nil, "hashing: dimensions must be an integer between 8 and 65536, got " .. tostring(dims)
  end
  local e, err = core.embedder(dims)
  if not e then return nil, "hashing: " .. err end
  return setmetatable({ e = e, dims = dims }, mt)
end

-- Extension used by the engine: embeds texts as packed float32 strings.
function _M:embed_packed(texts)
  local out = {}
  for i = 1, #texts do out[i] = self.e:embed(texts[i]) end
  return out
end

-- LLMProvider.embed: one array of numbers per text, same order.
function _M:embed(texts)
  if type(texts) ~= "table" then return nil, "hashing: texts must be an array of strings" end
  local out = {}
  for i = 1, #texts do
    if type(texts[i]) ~= "string" then
      return nil, "hashing: texts[" .. i .. "] must be a string"
    end
    out[i] = core.vec_unpack(self.e:embed(texts[i]))
  end
  return out
end

function _M:complete()
  return nil, errors.new("CapabilityNotSupported", "the hashing provider embeds only; configure llm_provider for completions",
                         { provider = "hashing", capability = "complete" })
end

function _M:capabilities()
  return { supports_multimodal_completion = false, supports_multimodal_embedding = false,
           supports_batch_embed = true, supports_completion = false, embedding_dimensions = self.dims }
end

function _M:health() return { healthy = true, message = "hashing: ok" } end

return { llm_providers = _M.new, new = _M.new }
