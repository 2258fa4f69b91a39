-- astrocyte.testing.engine_provider: the EngineProvider conformance cases
-- (spi.md §1.8 and §5.2): capabilities, retain → recall round trip, bank
-- isolation, max_results, score range, reflect/forget exactly when declared.
local common = require "astrocyte.testing.common"

local function retain(t, content, bank, extra)
  local req = { content = content, bank_id = bank or "e1" }
  for k, v in pairs(extra or {}) do req[k] = v end
  local res = t.call("retain", req)
  t.valid("RetainResult", res, "retain result")
  t.ok(res.stored == true, "retain of %q was not stored: %s", content, tostring(res.error))
  t.ok(type(res.memory_id) == "string" and res.memory_id ~= "", "retain must return a memory_id, got %s", t.show(res.memory_id))
  return res
end

local function recall(t, query, bank, max_results)
  local res = t.call("recall", { query = query, bank_id = bank or "e1", max_results = max_results or 10 })
  t.valid("RecallResult", res, "recall result")
  return res
end

local function caps(t)
  local c = t.call("capabilities")
  t.valid("EngineCapabilities", c, "capabilities()")
  return c
end

local FACTS = {
  "Ana prefers green tea in the morning",
  "The deploy pipeline runs on nginx with OpenResty",
  "Ben drinks espresso after lunch",
  "Ana's cat is called Miso",
}

local cases = {
  common.spi_case("engine_providers"),

  { "capabilities() returns EngineCapabilities", function(t)
    local c = caps(t)
    for _, k in ipairs({ "supports_reflect", "supports_forget" }) do
      t.ok(c[k] == nil or type(c[k]) == "boolean", "capabilities().%s must be a boolean", k)
    end
  end },

  { "retain then recall finds the memory", function(t)
    local ids = {}
    for _, f in ipairs(FACTS) do ids[f] = retain(t, f).memory_id end
    local res = recall(t, "what tea does Ana prefer", "e1", 5)
    t.ok(#res.hits >= 1, "recall found nothing after retain")
    t.eq(FACTS[1], res.hits[1].text, "best hit")
    if res.hits[1].memory_id ~= nil then t.eq(ids[FACTS[1]], res.hits[1].memory_id, "memory_id of the best hit") end
  end },

  { "recall hits have scores in [0,1], best first", function(t)
    for _, f in ipairs(FACTS) do retain(t, f) end
    local res = recall(t, "Ana tea cat espresso", "e1", 10)
    for i, h in ipairs(res.hits) do
      t.ok(h.score >= 0 and h.score <= 1, "hit %d score %s outside [0,1]", i, tostring(h.score))
      if i > 1 then t.ok(res.hits[i - 1].score >= h.score, "hits not sorted by score descending") end
    end
  end },

  { "recall respects max_results", function(t)
    for _, f in ipairs(FACTS) do retain(t, f) end
    local res = recall(t, "Ana tea cat espresso nginx", "e1", 2)
    t.ok(#res.hits <= 2, "recall with max_results 2 returned %d hits", #res.hits)
  end },

  { "recall never returns another bank's memories", function(t)
    retain(t, "Ana prefers green tea", "bank-a")
    retain(t, "Ben prefers black tea", "bank-b")
    for _, h in ipairs(recall(t, "who prefers tea", "bank-a").hits) do
      t.ok(h.text ~= "Ben prefers black tea", "bank-a recall returned bank-b's memory")
    end
    t.same({}, recall(t, "tea", "no-such-bank").hits, "hits of an unknown bank")
  end },

  { "reflect works when supports_reflect is declared", function(t)
    if not caps(t).supports_reflect then return end
    for _, f in ipairs(FACTS) do retain(t, f) end
    local res = t.call("reflect", { query = "what does Ana drink", bank_id = "e1" })
    t.valid("ReflectResult", res, "reflect result")
    t.ok(res.answer ~= "", "reflect returned an empty answer")
  end },

  { "forget works when supports_forget is declared", function(t)
    if not caps(t).supports_forget then return end
    local keep = retain(t, "Ana prefers green tea").memory_id
    local gone = retain(t, "Ana used to like oolong tea").memory_id
    local res = t.call("forget", { bank_id = "e1", memory_ids = { gone } })
    t.valid("ForgetResult", res, "forget result")
    t.eq(1, res.deleted_count, "deleted_count")
    for _, h in ipairs(recall(t, "Ana tea oolong").hits) do
      t.ok(h.text ~= "Ana used to like oolong tea", "a forgotten memory was recalled")
    end
    t.ok(keep ~= nil, "kept memory id")
  end },

  common.health_case(),
}

return { title = "EngineProvider", group = "engine_providers", cases = cases }
