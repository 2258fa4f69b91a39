-- rerank.basic with a page size: only the hits that can still reach the
-- page are scored, and the page comes out exactly as a full rerank gives it
-- (random fused lists, many queries, ties included).
describe("rerank.basic(query, hits, opts, top)", function()
  local rerank = require "astrocyte.pipeline.rerank"

  local seed = 4242
  local function rand()
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  end
  local WORDS = { "tea", "green", "Lisbon", "Ana", "cello", "bees", "roof", "music", "Sunday", "maps", "kites",
                  "ship", "paint", "stamps", "Norway", "moved", "plays", "keeps" }
  local function text(n)
    local parts = {}
    for i = 1, n do parts[i] = WORDS[1 + math.floor(rand() * #WORDS)] end
    return table.concat(parts, " ")
  end
  local function copy(hits)
    local out = {}
    for i, h in ipairs(hits) do out[i] = { memory_id = h.memory_id, text = h.text, score = h.score } end
    return out
  end

  it("gives the same first `top` hits and scores as a full rerank", function()
    local pruned_any = false
    for round = 1, 300 do
      local hits = {}
      local n = 5 + math.floor(rand() * 90)
      local s = 1
      for i = 1, n do
        if rand() > 0.2 then s = s * (0.9 + rand() * 0.1) end    -- descending, with ties
        hits[i] = { memory_id = "m" .. i, text = text(3 + math.floor(rand() * 12)), score = s }
      end
      local query = text(1 + math.floor(rand() * 4))
      local top = 1 + math.floor(rand() * 12)
      local full = rerank.basic(query, copy(hits))
      local part = rerank.basic(query, copy(hits), nil, top)
      assert.equal(#hits, #part)
      for i = 1, math.min(top, #hits) do
        assert.equal(full[i].memory_id, part[i].memory_id, "round " .. round .. " rank " .. i)
        assert.equal(full[i].score, part[i].score)
      end
      local seen = {}
      for _, h in ipairs(part) do assert.is_nil(seen[h.memory_id]); seen[h.memory_id] = true end
      if part[#part].score == hits[#hits].score and #hits > top then pruned_any = true end
    end
    assert.is_true(pruned_any)
  end)

  it("reranks everything when the hits are not sorted", function()
    local hits = { { memory_id = "a", text = "x", score = 0.1 }, { memory_id = "b", text = "tea", score = 0.5 },
                   { memory_id = "c", text = "y", score = 0.09 } }
    local out = rerank.basic("tea", hits, nil, 1)
    assert.equal("b", out[1].memory_id)
  end)
end)
