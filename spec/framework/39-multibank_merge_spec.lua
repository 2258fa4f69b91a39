-- Multi-bank recall merges the banks' channels before one fusion
-- (pipeline/multibank). Cascade fuses again with each bank it adds, so the
-- channel scores must survive a fusion: a cascade that visits every bank
-- answers exactly as parallel does. A bank whose required channel failed
-- marks the merged result degraded, as a single bank does.
describe("multi-bank merge", function()
  local astrocyte = require "astrocyte"

  local function engine()
    local eng = assert(astrocyte.open({ signal_quality = { dedup = { enabled = false } } }))
    local notes = {
      a = { "Clara runs a bakery in Porto", "the bakery opens at seven", "Porto has steep streets",
            "Ana keeps coral reef tanks", "a cat named Miso sleeps on keyboards" },
      b = { "Clara's bakery sells pastel de nata", "Ben hiked the Alps in May", "the reef tanks need cleaning",
            "Porto bakery queues are long on Sundays", "Miso the cat likes the bakery window" },
      c = { "a bakery in Lisbon copies Clara's recipes", "coral grows slowly", "Ben's boots are worn",
            "Sunday mornings in Porto", "pastel de nata needs a hot oven" },
    }
    for bank, texts in pairs(notes) do assert(eng:retain_many(texts, { bank_id = bank })) end
    return eng
  end

  local function shape(res)
    local out = {}
    for i, h in ipairs(res.hits) do out[i] = ("%s/%s %.6f"):format(h.bank_id, h.memory_id, h.score) end
    return out
  end

  it("answers the same from a cascade that visits every bank as from parallel", function()
    local eng = engine()
    for _, q in ipairs({ "Who runs a bakery in Porto?", "coral reef tanks", "Miso the cat", "pastel de nata" }) do
      local banks = { "a", "b", "c" }
      local par = assert(eng:recall(q, { banks = banks, strategy = "parallel", max_results = 8 }))
      local cas = assert(eng:recall(q, { banks = banks, max_results = 8,
        strategy = { mode = "cascade", min_results_to_stop = 1000 } }))
      assert.same({ "a", "b", "c" }, cas.trace.banks_visited)
      assert.same(shape(par), shape(cas), q)
    end
    eng:close()
  end)

  it("is degraded when one bank's required channel failed", function()
    local eng = engine()
    local vs = eng.vector_store
    local search = vs.search_similar
    vs.search_similar = function(self, q, bank, ...)
      if bank == "b" then return nil, "index offline" end
      return search(self, q, bank, ...)
    end
    local res = assert(eng:recall("bakery in Porto", { banks = { "a", "b" }, strategy = "parallel" }))
    vs.search_similar = search
    assert.is_true(res.trace.degraded)
    assert.truthy(#res.hits > 0)
    local ok = assert(eng:recall("bakery in Porto", { banks = { "a", "b" }, strategy = "parallel" }))
    assert.is_nil(ok.trace.degraded)
    eng:close()
  end)
end)
