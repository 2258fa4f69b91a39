-- Crash durability: a writer process (worker.lua: retains, hard and soft
-- forgets, a close and reopen every 7 operations so HNSW snapshots are
-- saved too) is killed with SIGKILL at a random moment, 20 times over one
-- file. After each kill the file is checked against the acks the writer
-- printed (each flushed after its call returned): every acknowledged retain
-- is there and recalled, every acknowledged forget stays forgotten (deleted,
-- or archived for a soft forget), both through a fresh engine and through
-- one engine kept open across every crash (which catches up through the
-- change log). Only the one call in flight at the kill may differ from the
-- acks. The seed is printed; ASTRO_CRASH_SEED=<seed> replays the sequence.
local R = require "support.reliability"
local tmp = require "support.tmp"

local BANK = "crash"
local CYCLES = 20

describe("reliability: SIGKILL during writes", function()
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  it(CYCLES .. " kill cycles lose no acknowledged retain and resurrect no acknowledged forget", function()
    local db = dir .. "/crash.db"
    local seed = tonumber(os.getenv("ASTRO_CRASH_SEED")) or (os.time() % 1000000)
    print(string.format("\ncrash seed %d (replay: ASTRO_CRASH_SEED=%d)", seed, seed))
    local state = seed % 2147483646 + 1
    local function rand(k)
      state = state * 16807 % 2147483647
      return state % k + 1
    end

    local long = assert(R.open(db)) -- lives through every crash
    local expected = {}             -- id -> { state = "live" | "F" | "S", word }
    local acked, forgets, inflight, killed = 0, 0, 0, 0

    local function check_recall(eng, id, e, label)
      if e.state == "live" then
        assert.is_true(R.recalls(eng, BANK, e.word, id), label .. ": acknowledged " .. id .. " not recalled")
      else
        assert.is_false(R.recalls(eng, BANK, e.word, id), label .. ": forgotten " .. id .. " recalled")
      end
    end

    for cycle = 1, CYCLES do
      local prefix = "c" .. string.char(96 + cycle)
      local kill_ms = 100 + rand(900)
      local lines, code, err = R.worker({ db, prefix, 400, rand(1000000), 7, BANK }, nil, { kill_ms = kill_ms })
      local where = string.format("seed %d cycle %d (kill at %d ms)", seed, cycle, kill_ms)
      if code == 137 then killed = killed + 1 else assert.equal(0, code, where .. ": " .. err) end
      local acks = R.acks(lines)
      assert.same({}, acks.errors, where)
      local touched = {}
      for id, w in pairs(acks.retained) do
        expected[id] = { state = "live", word = w }; touched[id] = true
        acked = acked + 1
      end
      for id, how in pairs(acks.forgotten) do
        assert.truthy(expected[id], where .. ": forgot an id it never retained")
        expected[id].state = how; touched[id] = true
        forgets = forgets + 1
      end
      -- The rows against the acks: at most the call in flight differs.
      local rows = R.rows(db, BANK)
      local odd = {}
      for id, e in pairs(expected) do
        local r = rows[id]
        local ok = (e.state == "live" and r and not r.archived) or (e.state == "F" and not r)
                   or (e.state == "S" and r and r.archived)
        if not ok then
          assert.equal("live", e.state, where .. ": acknowledged forget of " .. id .. " undone")
          assert.truthy(acks.retained[id], where .. ": " .. id .. " of an earlier writer changed")
          odd[#odd + 1] = id
          -- the in-flight forget of one of this cycle's writer's memories
          e.state = not r and "F" or "S"; touched[id] = true
        end
      end
      for id, r in pairs(rows) do
        if not expected[id] then
          odd[#odd + 1] = id
          local w = r.text:match("mentions (%S+)")
          assert.truthy(r.text:find(" of " .. prefix .. " ", 1, true), where .. ": a row from no writer: " .. r.text)
          expected[id] = { state = r.archived and "S" or "live", word = w }; touched[id] = true
        end
      end
      assert.is_true(#odd <= 1, where .. ": rows differ from the acks beyond the call in flight: " .. table.concat(odd, ", "))
      inflight = inflight + #odd
      local fresh = assert(R.open(db))
      for id in pairs(touched) do
        check_recall(fresh, id, expected[id], where .. " (fresh engine)")
        check_recall(long, id, expected[id], where .. " (engine open across the crashes)")
      end
      assert(fresh:close())
    end

    -- Everything once more, and the counts.
    local fresh = assert(R.open(db))
    local live = 0
    for id, e in pairs(expected) do
      check_recall(fresh, id, e, "final (fresh engine)")
      check_recall(long, id, e, "final (engine open across the crashes)")
      if e.state == "live" then live = live + 1 end
    end
    assert.equal(live, R.count(fresh, BANK))
    assert.equal(live, R.count(long, BANK))
    assert(fresh:close()); assert(long:close())
    print(string.format("crash cycles %d (%d killed mid-run): %d retains and %d forgets acknowledged, %d calls in flight " ..
      "at a kill, 0 lost", CYCLES, killed, acked, forgets, inflight))
    assert.is_true(acked > CYCLES, "the writer hardly ran before the kills")
  end)
end)
