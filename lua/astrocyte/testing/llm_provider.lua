-- astrocyte.testing.llm_provider: the LLMProvider conformance cases (spi.md
-- §1.9 and §5.2). A provider that cannot complete declares it: capabilities()
-- .supports_completion == false (an extension) or opts.completion == false;
-- then complete() must fail cleanly, else it must return a Completion.
-- Embedding dims are checked against opts.dims or capabilities()
-- .embedding_dimensions when either is given.
local common = require "astrocyte.testing.common"

local MSG = { { role = "system", content = "You are terse." }, { role = "user", content = "Say hello." } }

local function completes(t)
  if t.opts.completion == false then return false end
  local c = t.call("capabilities")
  return type(c) ~= "table" or c.supports_completion ~= false
end

local cases = {
  common.spi_case("llm_providers"),

  common.capabilities_case("LLMCapabilities"),

  { "complete returns a Completion (or fails cleanly when not supported)", function(t)
    if not completes(t) then
      t.fails("complete on a provider declaring no completion", "complete", MSG)
      return
    end
    local c = t.call("complete", MSG, nil, 64, 0.0)
    t.valid("Completion", c, "complete()")
  end },

  { "complete ignores tools it does not support (tool_calls nil or valid)", function(t)
    if not completes(t) then return end
    local tools = { { name = "get_time", description = "Current time", parameters = { type = "object", properties = {} } } }
    local c = t.call("complete", MSG, nil, 64, 0.0, tools, "auto")
    t.valid("Completion", c, "complete() with tools")
  end },

  { "embed returns one vector per text, all of the same length", function(t)
    local texts = { "green tea", "a much longer sentence about espresso and lunch", "x" }
    local vecs = t.list(t.call("embed", texts), "embed result")
    t.eq(#texts, #vecs, "number of vectors")
    local n = #t.list(vecs[1], "vector 1")
    t.ok(n > 0, "embedding vectors must not be empty")
    for i, v in ipairs(vecs) do
      t.eq(n, #t.list(v, "vector " .. i), "length of vector " .. i)
      for j = 1, #v do
        t.ok(type(v[j]) == "number" and v[j] == v[j], "vector %d element %d is not a number", i, j)
      end
    end
    local c = t.call("capabilities")
    local want = t.opts.dims or (type(c) == "table" and c.embedding_dimensions)
    if want then t.eq(want, n, "embedding dimension") end
  end },

  { "embed keeps input order (same text, same vector)", function(t)
    local vecs = t.call("embed", { "alpha beta", "gamma delta", "alpha beta" })
    t.same(vecs[1], vecs[3], "vectors of two identical texts")
  end },
}

return { title = "LLMProvider", group = "llm_providers", cases = cases }
