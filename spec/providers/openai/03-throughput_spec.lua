-- Embedding throughput through the openai provider against the loopback
-- server: 10,000 texts with batching on (batch_size 256) and off (one text
-- per request, over the same reused connection). The vectors must be
-- identical either way and correct for their text; the rates are printed
-- (texts/s) for the closing note, not asserted, since they depend on the
-- machine.
local server = require "support.server"
local openai = require "astrocyte.providers.openai"
local core = require "astrocyte.core"

local N = 10000

describe("openai embedding throughput", function()
  local s
  setup(function() s = server.start("openai", { "--api-key", "sk-throughput-0000", "--dims", "32" }) end)
  teardown(function() if s then s:stop() end end)

  it("embeds 10,000 texts with batching on and off, identically", function()
    local texts = {}
    for i = 1, N do texts[i] = "memory number " .. i .. " about topic " .. (i % 97) end
    local conf = { base_url = s.url .. "/v1", api_key = "sk-throughput-0000", model = "m" }

    local t0 = core.now_ms()
    local batched = assert(openai.llm_providers(conf):embed(texts))
    local t_on = (core.now_ms() - t0) / 1000
    local requests_on = s:stats().requests

    conf.batching = false
    s:reset()
    t0 = core.now_ms()
    local single = assert(openai.llm_providers(conf):embed(texts))
    local t_off = (core.now_ms() - t0) / 1000
    local requests_off = s:stats().requests

    assert.equal(N, #batched)
    assert.equal(N, #single)
    assert.equal(math.ceil(N / 256), requests_on)
    assert.equal(N, requests_off)
    for i = 1, N, 1 do
      local a, b = batched[i], single[i]
      assert.equal(32, #a)
      for j = 1, 32 do
        if a[j] ~= b[j] then error(("vector %d differs at %d"):format(i, j)) end
      end
    end
    -- Same text → same vector; different texts → different vectors.
    local again = assert(openai.llm_providers(conf):embed({ texts[1], texts[2] }))
    assert.same(batched[1], again[1])
    assert.are_not.same(batched[1], batched[2])

    local rt = os.getenv("ASTRO_RUNTIME") or _VERSION
    print(("\n[throughput %s] %d texts: batching on %.0f texts/s (%.2f s, %d requests); batching off %.0f texts/s (%.2f s, %d requests)")
      :format(rt, N, N / t_on, t_on, requests_on, N / t_off, t_off, requests_off))
  end)
end)
