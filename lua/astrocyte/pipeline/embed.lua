-- astrocyte.pipeline.embed: the one place texts become vectors. Retain
-- embeds its chunks, recall its query and import the memories that came
-- without an embedding, all through embed(eng, texts), which asks the
-- engine's embedding provider (embed_packed when it has it, else embed) and
-- returns packed float32 vectors, one per text.
local vector = require "astrocyte.store.vector"
local errors = require "astrocyte.errors"
local type, fmt, tostring = type, string.format, tostring

local _M = {}

-- embed(eng, texts) → array of packed vectors | nil, ProviderUnavailable.
function _M.embed(eng, texts)
  local p = eng.embedder
  local name = eng.cfg.embedding_provider
  local fields = { kind = "ProviderUnavailable", provider = name }
  local vecs, err
  if p.embed_packed then
    vecs, err = errors.call(p, "embed_packed", fields, texts)
  else
    vecs, err = errors.call(p, "embed", fields, texts)
  end
  if not vecs then
    return nil, err or errors.new("ProviderUnavailable", "embedding provider returned no vectors", { provider = name })
  end
  if type(vecs) ~= "table" or #vecs ~= #texts then
    return nil, errors.new("ProviderUnavailable", fmt("embedding provider '%s' returned %s for %d texts", tostring(name),
                           type(vecs) == "table" and (#vecs .. " vectors") or type(vecs), #texts), { provider = name })
  end
  -- A provider's garbage (a non-number, NaN, inf, an empty vector, mixed
  -- dimensions) is its failure, named here, not a storage error later.
  local packed, dims = {}, nil
  for i = 1, #vecs do
    local v, perr = vector.pack(vecs[i], dims, fmt("embeddings[%d]", i), true)
    if not v then
      return nil, errors.new("ProviderUnavailable", fmt("embedding provider '%s' returned a bad vector: %s", tostring(name), perr),
                             { provider = name, field = fmt("embeddings[%d]", i) })
    end
    packed[i], dims = v, #v / 4
  end
  return packed
end

return _M
