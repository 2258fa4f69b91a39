-- Temporal questions: a calendar day or month named in the query becomes a
-- window on occurred_at, and the temporal channel (keyword matches inside
-- the window first, then the window by similarity) weighs at least
-- pipeline.temporal_window_weight, so the memory of that day wins over the
-- same words said on another day.
describe("recall temporal", function()
  local astrocyte = require "astrocyte"
  local temporal = require "astrocyte.pipeline.temporal"
  local util = require "astrocyte.util"

  describe("window()", function()
    local ref = util.parse_iso("2023-12-01T12:00:00Z")
    local function day(q)
      local w = temporal.window(q, ref)
      return w and util.iso(w.from), w and (w.to - w.from) / temporal.DAY_MS
    end

    it("reads a day written out in either order, with or without a comma or ordinal", function()
      assert.same({ "2023-10-13T00:00:00Z", 1 }, { day("What did she paint on October 13, 2023?") })
      assert.same({ "2023-06-03T00:00:00Z", 1 }, { day("as mentioned on 3 June, 2023") })
      assert.same({ "2023-05-25T00:00:00Z", 1 }, { day("the shelter on May 25th 2023") })
      assert.same({ "2023-07-31T00:00:00Z", 1 }, { day("on 31 July 2023") })
    end)

    it("keeps month windows and ignores words that only contain a month", function()
      assert.same({ "2023-05-01T00:00:00Z", 31 }, { day("what happened in May 2023") })
      assert.is_nil(day("mayday 2023"))
      assert.same({ "2023-06-01T00:00:00Z", 30 }, { day("on 45 June 2023") })   -- not a day: the month
    end)
  end)

  it("ranks the memory of the named day first", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory", signal_quality = { dedup = { enabled = false } } }))
    local days = { "2023-06-01T10:00:00Z", "2023-06-03T10:00:00Z", "2023-06-09T10:00:00Z" }
    for i, d in ipairs(days) do
      assert(eng:retain("Ana: We went to the lake with the kids, trip number " .. i .. ".",
        { bank_id = "t", content_type = "conversation", occurred_at = d, metadata = { session_id = "s" .. i } }))
    end
    local res = assert(eng:recall("Where did Ana go with the kids on 3 June, 2023?",
      { bank_id = "t", max_results = 3, query_reference_date = "2023-07-01T00:00:00Z" }))
    assert.equal("2023-06-03", res.trace.temporal_window)
    assert.truthy(res.hits[1].text:find("number 2", 1, true))
    -- without a date, no window and no such preference is claimed
    res = assert(eng:recall("Where did Ana go with the kids?", { bank_id = "t", max_results = 3 }))
    assert.is_nil(res.trace.temporal_window)
    eng:close()
  end)

  it("defaults the window weight to 1.0", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
    assert.equal(1.0, eng.cfg.pipeline.temporal_window_weight)
    eng:close()
  end)
end)
