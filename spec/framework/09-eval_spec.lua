-- LoCoMo-format evaluation on the tiny hand-written fixture: report shape,
-- figures in [0,1], determinism, the scoring helpers and the CLI.
describe("eval locomo", function()
  local astrocyte = require "astrocyte"
  local locomo = require "astrocyte.eval.locomo"
  local util = require "astrocyte.util"
  local root = os.getenv("ASTRO_SOURCE_DIR") or "."
  local fixture = root .. "/spec/fixtures/locomo_tiny.json"

  local function run(opts)
    local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
    local data = assert(locomo.load(fixture))
    local report = assert(locomo.run(eng, data, opts))
    eng:close()
    return report
  end

  local function check_summary(s, label)
    assert.is_number(s.count, label)
    for _, k in ipairs({ "recall_at_5", "recall_at_10", "recall_at_20", "f1" }) do
      assert.is_number(s[k], label .. "." .. k)
      assert.is_true(s[k] >= 0 and s[k] <= 1, label .. "." .. k)
    end
    assert.is_true(s.recall_at_5 <= s.recall_at_10 and s.recall_at_10 <= s.recall_at_20, label)
  end

  it("reports recall@k and F1 per category and overall, deterministically", function()
    local r = run()
    assert.equal(2, r.samples)
    assert.equal(5, r.sessions)
    assert.equal(22, r.turns)
    assert.equal(11, r.questions)              -- the category-5 question is skipped
    assert.equal("turn", r.granularity)
    assert.same({ 5, 10, 20 }, r.ks)
    local n = 0
    for c, name in pairs({ ["1"] = "multi-hop", ["2"] = "temporal", ["3"] = "open-domain", ["4"] = "single-hop" }) do
      local s = r.categories[c]
      assert.equal(name, s.name)
      check_summary(s, c)
      n = n + s.count
    end
    assert.equal(11, n)
    check_summary(r.overall, "overall")
    assert.equal(11, r.overall.count)
    assert.equal(11, r.overall.with_evidence)
    -- the figures do not depend on the run
    assert.same(r, run())
    local s1, s2 = run({ granularity = "session" }), run({ granularity = "session" })
    assert.same(s1, s2)
    check_summary(s1.overall, "session overall")
    local txt = locomo.format_table(r)
    assert.truthy(txt:find("cat  name", 1, true))
    assert.truthy(txt:find("\nall  overall         11 ", 1, true))
  end)

  it("ablates: fusion, each channel alone, fusion minus each channel", function()
    local r = run({ ablation = true })
    local names = {}
    for i, row in ipairs(r.ablation) do
      names[i] = row.name
      check_summary(row.overall, row.name)
      assert.equal(11, row.overall.count)
      assert.is_number(row.p50_ms)
      assert.is_true(row.p50_ms >= 0)
    end
    assert.equal("fused", names[1])
    local set = {}
    for _, n in ipairs(names) do set[n] = true end
    for _, ch in ipairs({ "semantic", "keyword", "graph", "temporal", "associative" }) do
      assert.is_true(set[ch .. " only"], ch .. " only")
      assert.is_true(set["fused - " .. ch], "fused - " .. ch)
    end
    -- expansion refines the other channels' hits: no row of its own
    assert.is_nil(set["expansion only"])
    assert.is_true(set["fused - expansion"])
    -- the fused row is what a plain run recalls
    local plain = run()
    assert.equal(plain.overall.recall_at_10, r.overall.recall_at_10)
    -- each channel alone ranks by that channel only
    local kw
    for _, row in ipairs(r.ablation) do if row.name == "keyword only" then kw = row end end
    assert.equal(0, kw.weights.semantic)
    assert.is_true(kw.weights.keyword > 0)
    local txt = locomo.format_ablation(r)
    assert.truthy(txt:find("\nfused ", 1, true), txt)
    assert.truthy(txt:find("\nkeyword only ", 1, true), txt)
    assert.truthy(txt:find("p50 ms", 1, true), txt)
  end)

  it("parses LoCoMo dates and scores answers like the reference judge", function()
    assert.equal("2023-05-08T13:56:00Z", locomo.parse_date("1:56 pm on 8 May, 2023"))
    assert.equal("2023-05-08T00:05:00Z", locomo.parse_date("12:05 am on 8 May, 2023"))
    assert.equal("2024-01-12T09:30:00Z", locomo.parse_date("9:30 am on 12 January, 2024"))
    assert.is_nil(locomo.parse_date("someday"))
    assert.same({ "cat", "sat", "on", "mat" }, locomo.tokens("The cat sat on a mat!"))
    assert.equal(1, locomo.f1("The Biscuit.", "biscuit"))
    assert.equal(0, locomo.f1("", "biscuit"))
    assert.near(2 * (1 / 3) * 1 / (1 / 3 + 1), locomo.f1("biscuit the golden retriever", "Biscuit"), 1e-9)
    -- category 1: mean over gold comma parts of the best part match
    assert.near(1.0, locomo.score_answer("obedience class, camping", "camping, obedience class", 1), 1e-9)
    assert.near(0.5, locomo.score_answer("camping", "camping, obedience class", 1), 1e-9)
    -- category 3: only the first ';' alternative of the gold counts
    assert.equal(1, locomo.score_answer("yes", "Yes; she went camping", 3))
  end)

  it("runs from the CLI as a table or JSON", function()
    local lua = os.getenv("ASTRO_RUNTIME") == "luajit" and "luajit" or "lua5.4"
    local cmd = "ASTRO_LUA=" .. lua .. " '" .. root .. "/bin/astrocyte' eval locomo '" .. fixture .. "'"
    local p = io.popen(cmd .. " --json 2>&1")
    local out = p:read("*a")
    p:close()
    local r = util.json.decode(out)
    assert.is_table(r, out)
    assert.equal(11, r.overall.count)
    assert.equal(run().overall.f1, r.overall.f1)
    p = io.popen(cmd .. " 2>&1")
    out = p:read("*a")
    p:close()
    assert.truthy(out:match("^LoCoMo evaluation: 2 samples, 5 sessions, 22 turns, 11 questions"), out)
    p = io.popen(cmd .. " --ablation 2>&1")
    out = p:read("*a")
    p:close()
    assert.truthy(out:match("^LoCoMo ablation: 2 samples, 22 turns, 11 questions"), out)
    assert.truthy(out:find("\nfused - keyword ", 1, true), out)
  end)
end)
