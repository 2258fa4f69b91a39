-- Bank export / import in the AMA format: round trips (ids, vectors, text,
-- metadata, timestamps, entities, identical recall), conflicts, version and
-- path checks, and the CLI (AMA detected by its header; plain JSONL kept).
describe("export_bank / import_bank", function()
  local astrocyte = require "astrocyte"
  local tmp = require "support.tmp"
  local util = require "astrocyte.util"
  local json = util.json
  local root = os.getenv("ASTRO_SOURCE_DIR") or "."
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  local MEMORIES = {
    { "Ana prefers green tea in the morning.", { tags = { "pref" }, occurred_at = "2024-01-10", metadata = { source = "chat" } } },
    { "The deploy pipeline runs on nginx with OpenResty.", { tags = { "ops" }, occurred_at = "2024-03-10" } },
    { "Ben drinks espresso after lunch with Ana.", { fact_type = "experience" } },
    { "Carla moved to Lisbon in May and works at Orbital Labs.", { metadata = { turn = 4 } } },
    { "The quarterly budget review is scheduled for Friday at 10:00.", {} },
  }
  local QUERIES = { "what does Ana drink?", "deploy pipeline", "Where does Carla work?", "budget review Friday", "espresso" }

  local function fill(eng, bank)
    local ids = {}
    for i, m in ipairs(MEMORIES) do
      local o = util.copy(m[2]); o.bank_id = bank
      ids[i] = assert(eng:retain(m[1], o)).memory_id
    end
    return ids
  end

  local function read_lines(path)
    local out = {}
    for line in io.lines(path) do out[#out + 1] = json.decode(line) end
    return out
  end

  local function recall_all(eng, bank)
    local out = {}
    for _, q in ipairs(QUERIES) do
      local res = assert(eng:recall(q, { bank_id = bank, max_results = 5 }))
      local hs = {}
      for i, h in ipairs(res.hits) do hs[i] = { h.memory_id, h.score, h.text } end
      out[#out + 1] = hs
    end
    return out
  end

  it("writes the AMA header and one line per live memory; forgotten memories are gone", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
    local ids = fill(eng, "src")
    assert(eng:forget({ bank_id = "src", memory_ids = { ids[2] } }))
    assert(eng:forget({ bank_id = "src", memory_ids = { ids[5] }, soft = true }))
    local path = dir .. "/src.ama.jsonl"
    assert.equal(3, eng:export_bank("src", path, { allowed_roots = { dir } }))
    local lines = read_lines(path)
    assert.equal(4, #lines)
    local h = lines[1]
    assert.equal(1, h._ama_version)
    assert.equal("src", h.bank_id)
    assert.equal("in_memory", h.provider)
    assert.equal(3, h.memory_count)
    assert.truthy(util.parse_iso(h.exported_at))
    local seen = {}
    for i = 2, #lines do
      local m = lines[i]
      seen[m.id] = m
      assert.is_string(m.text)
      assert.is_string(m.retained_at)
      assert.is_nil(m.embedding)
    end
    assert.is_nil(seen[ids[2]])
    assert.is_nil(seen[ids[5]])
    assert.equal("Ana prefers green tea in the morning.", seen[ids[1]].text)
    assert.same({ "pref" }, seen[ids[1]].tags)
    assert.equal("chat", seen[ids[1]].metadata.source)
    assert.equal("2024-01-10T00:00:00Z", seen[ids[1]].occurred_at)
    assert.equal("experience", seen[ids[3]].fact_type)
    -- entities linked by the graph store travel with their memory
    local names = {}
    for _, e in ipairs(seen[ids[4]].entities or {}) do names[e.name] = true end
    assert.is_true(names["Carla"] ~= nil or names["Lisbon"] ~= nil)
    eng:close()
  end)

  for _, with_emb in ipairs({ false, true }) do
    it("round-trips into a fresh store with identical recall (embeddings: " .. tostring(with_emb) .. ")", function()
      local a = assert(astrocyte.open({ vector_store = "sqlite", vector_store_config = { path = dir .. "/a.db" } }))
      local ids = fill(a, "rt")
      local path = dir .. "/rt.jsonl"
      assert.equal(5, a:export_bank("rt", path, { allowed_roots = { dir }, include_embeddings = with_emb }))
      if with_emb then
        local lines = read_lines(path)
        assert.equal(384, #lines[2].embedding)
      end
      local before = recall_all(a, "rt")
      local items_a = a.vector_store:get_items(ids, "rt")
      a:close()

      local b = assert(astrocyte.open({ vector_store = "sqlite", vector_store_config = { path = dir .. "/b.db" } }))
      local res = assert(b:import_bank("rt", path, { allowed_roots = { dir } }))
      assert.same({ bank_id = "rt", imported = 5, skipped = 0, errors = {} }, res)
      assert.same(before, recall_all(b, "rt"))
      local items_b = b.vector_store:get_items(ids, "rt")
      for _, id in ipairs(ids) do
        local x, y = items_a[id], items_b[id]
        assert.equal(x.text, y.text)
        assert.equal(x.retained_at, y.retained_at)
        assert.equal(x.occurred_at, y.occurred_at)
        assert.same(x.metadata, y.metadata)
        assert.same(x.tags, y.tags)
        assert.equal(x.fact_type, y.fact_type)
      end
      -- importing again skips every memory; "error" refuses; "overwrite" rewrites
      assert.same({ bank_id = "rt", imported = 0, skipped = 5, errors = {} }, b:import_bank("rt", path, { allowed_roots = { dir } }))
      local _, err = b:import_bank("rt", path, { allowed_roots = { dir }, on_conflict = "error" })
      assert.equal("ValidationError", err.kind)
      assert.truthy(err.message:find(":2: memory '", 1, true), err.message)
      assert.equal(5, b:import_bank("rt", path, { allowed_roots = { dir }, on_conflict = "overwrite" }).imported)
      assert.same(before, recall_all(b, "rt"))
      b:close()
    end)
  end

  it("imports into another bank and restores entities in the graph", function()
    local a = assert(astrocyte.open({ vector_store = "in_memory" }))
    fill(a, "src")
    local path = dir .. "/e.jsonl"
    assert(a:export_bank("src", path, { allowed_roots = { dir } }))
    a:close()
    local b = assert(astrocyte.open({ vector_store = "in_memory" }))
    assert.equal(5, b:import_bank("copy", path, { allowed_roots = { dir } }).imported)
    assert.equal(5, b:banks()[1].memory_count)
    assert.equal("copy", b:banks()[1].bank_id)
    local ents = b.graph_store:query_entities("Carla", "copy", 5)
    assert.equal("Carla", ents[1] and ents[1].name)
    -- a nil bank takes the archive's own bank
    assert.equal("src", b:import_bank(nil, path, { allowed_roots = { dir } }).bank_id)
    b:close()
  end)

  it("rejects a wrong or missing _ama_version naming the line, and bad memory lines", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
    local function write(name, text)
      local f = assert(io.open(dir .. "/" .. name, "w")); f:write(text); f:close()
      return dir .. "/" .. name
    end
    local p = write("v2.jsonl", '{"_ama_version": 2, "bank_id": "x"}\n{"id": "a", "text": "t"}\n')
    local res, err = eng:import_bank("x", p, { allowed_roots = { dir } })
    assert.is_nil(res)
    assert.equal("ValidationError", err.kind)
    assert.equal(p .. ":1: not an AMA archive: _ama_version must be 1, got 2", err.message)
    assert.equal(1, err.line)
    p = write("none.jsonl", '{"content": "plain"}\n')
    res, err = eng:import_bank("x", p, { allowed_roots = { dir } })
    assert.equal(p .. ":1: not an AMA archive: _ama_version must be 1, got none", err.message)
    p = write("bad.jsonl", '{"_ama_version": 1, "bank_id": "x"}\n{"id": "a", "text": "fine"}\nnot json\n{"id": "b"}\n')
    res = assert(eng:import_bank("x", p, { allowed_roots = { dir } }))
    assert.equal(1, res.imported)
    assert.same({ { line = 3, message = "not a JSON object" }, { line = 4, message = "missing string field 'text'" } }, res.errors)
    local _, oerr = eng:import_bank("x", p, { allowed_roots = { dir }, on_conflict = "merge" })
    assert.equal("on_conflict must be 'skip', 'overwrite' or 'error', got 'merge'", oerr.message)
    eng:close()
  end)

  it("guards paths with allowed_roots", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
    fill(eng, "g")
    local _, err = eng:export_bank("g", dir .. "/../escape.jsonl", { allowed_roots = { dir } })
    assert.equal("ValidationError", err.kind)
    assert.truthy(err.message:find("resolves outside the allowed roots", 1, true))
    _, err = eng:export_bank("g", dir .. "/x.jsonl")
    assert.truthy(err.message:find("(none given: pass allowed_roots or allow_uncontained = true)", 1, true))
    assert.equal(5, eng:export_bank("g", dir .. "/sub/../x.jsonl", { allowed_roots = { dir } }) and 5)
    assert.equal(5, eng:export_bank("g", dir .. "/y.jsonl", { allow_uncontained = true }))
    eng:close()
  end)

  it("works from the CLI: export, AMA import by header, plain JSONL import unchanged", function()
    local lua = os.getenv("ASTRO_RUNTIME") == "luajit" and "luajit" or "lua5.4"
    local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
    local function run(db, args)
      local cmd = "ASTRO_LUA=" .. lua .. " " .. q(root .. "/bin/astrocyte") .. " --db " .. q(db)
      for _, a in ipairs(args) do cmd = cmd .. " " .. q(a) end
      local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
      local out = p:read("*a")
      p:close()
      return tonumber(out:match("exit=(%d+)%s*$")), out:gsub("exit=%d+%s*$", "")
    end
    local plain = dir .. "/plain.jsonl"
    local f = assert(io.open(plain, "w"))
    f:write('{"content": "Dana likes rock climbing.", "tags": ["hobby"]}\n{"content": "Eli plays the cello."}\n')
    f:close()
    local code, out = run(dir .. "/one.db", { "--bank", "p", "import", plain })
    assert.equal(0, code, out)
    assert.equal("imported 2 memories from " .. plain .. "\n", out)
    code, out = run(dir .. "/one.db", { "export", "p", dir .. "/p.ama", "--embeddings" })
    assert.equal(0, code, out)
    assert.equal("exported 2 memories to " .. dir .. "/p.ama\n", out)
    code, out = run(dir .. "/two.db", { "import", dir .. "/p.ama" })
    assert.equal(0, code, out)
    assert.equal("imported 2 memories into p from " .. dir .. "/p.ama (0 skipped, 0 errors)\n", out)
    code, out = run(dir .. "/two.db", { "--json", "recall", "--bank", "p", "who climbs?" })
    assert.equal(0, code, out)
    assert.equal("Dana likes rock climbing.", json.decode(out).hits[1].text)
  end)
end)
