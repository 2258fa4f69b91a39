-- astrocyte.pipeline.embed: the one place texts become vectors. Retain
-- embeds its chunks, recall its query and import the memories that came
-- without an embedding, all through embed(eng, texts), which asks the
-- engine's embedding provider (embed_packed when it has it, else embed) and
-- returns packed float32 vectors, one per text.
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"
local type, fmt = type, string.format

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
    if vecs then
      local packed = {}
      for i = 1, #vecs do packed[i] = type(vecs[i]) == "string" and vecs[i] or core.vec_pack(vecs[i]) end
      vecs = packed
    end
  end
  if not vecs then
    return nil, err or errors.new("ProviderUnavailable", "embedding provider returned no vectors", { provider = name })
  end
  if #vecs ~= #texts then
    return nil, errors.new("ProviderUnavailable", fmt("embedding provider returned %d vectors for %d texts", #vecs, #texts),
                           { provider = name })
  end
  return vecs
end

return _M
