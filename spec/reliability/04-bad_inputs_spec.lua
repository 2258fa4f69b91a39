-- Bad inputs through the Lua API and the CLI, one table: each must come back
-- as an error object of the expected kind whose message (or field) names
-- what was wrong, must not raise, and must store nothing (the rows of the
-- file are counted before and after). Provider garbage (NaN, inf, a
-- non-number, a wrong dimension, not an array) comes from an embedding
-- provider defined here and resolved through the registry ("module:Name");
-- a recall with that provider degrades to keyword search instead.
local R = require "support.reliability"
local tmp = require "support.tmp"
local errors = require "astrocyte.errors"
local sqlite = require "astrocyte.sqlite"

local dir, db, eng, pdb
local mode = "ok" -- what the embedding provider below returns

-- An LLMProvider whose embed() returns what `mode` says.
local Bad = { SPI_VERSION = 1 }
Bad.__index = Bad
function Bad:complete() return { text = "unused" } end
function Bad:capabilities() return {} end
function Bad:embed(texts)
  if mode == "string" then return "not a list of vectors" end
  if mode == "short" then return {} end
  if mode == "raise" then error("embedder exploded") end
  local out = {}
  for i = 1, #texts do
    local v = { 1, 0.5, 0, 0, 0, 0, 0, 0.25 }
    if mode == "nan" then v[3] = 0 / 0
    elseif mode == "inf" then v[2] = math.huge
    elseif mode == "neginf" then v[8] = -math.huge
    elseif mode == "dim" then v = { 1, 0, 0, 0, 0 }
    elseif mode == "word" then v[4] = "four"
    elseif mode == "packed" then v = "abcde"
    elseif mode == "empty" then v = {}
    elseif mode == "mixed" then if i == 2 then v = { 1, 0, 0 } end
    elseif mode == "bool" then v = true end
    out[i] = v
  end
  return out
end
package.loaded["reliability_bad_embedder"] = { llm = function() return setmetatable({}, Bad) end }

local function rows_in(path)
  local h = assert(sqlite.open(path))
  h:busy_timeout(5000)
  local st = assert(h:prepare("SELECT count(*) FROM memories"))
  assert(st:step())
  local n = st:row()[1]
  st:finalize(); h:close()
  return n
end

local function deep(n)
  local t = { leaf = "x" }
  for _ = 1, n do t = { inner = t } end
  return t
end

local cyclic = {}
cyclic.self = cyclic

local long = string.rep("word ", 40000) -- 200 000 characters

-- { name, fn(eng) → res, err, kind, names (a string the message or the field must contain) }
local API = {
  { "content nil", function(e) return e:retain(nil, { bank_id = "b" }) end, "ValidationError", "content" },
  { "content a number", function(e) return e:retain(42, { bank_id = "b" }) end, "ValidationError", "content" },
  { "content a table", function(e) return e:retain({ "x" }, { bank_id = "b" }) end, "ValidationError", "content" },
  { "content empty", function(e) return e:retain("", { bank_id = "b" }) end, "ValidationError", "content" },
  { "content only whitespace", function(e) return e:retain(" \t\n ", { bank_id = "b" }) end, "ValidationError", "content" },
  { "content invalid UTF-8", function(e) return e:retain("ok \255\254 bad", { bank_id = "b" }) end, "ValidationError", "UTF-8" },
  { "content truncated UTF-8", function(e) return e:retain("caf\195", { bank_id = "b" }) end, "ValidationError", "content" },
  { "content too long", function(e) return e:retain(long, { bank_id = "b" }) end, "ValidationError", "too long" },
  { "bank_id a number", function(e) return e:retain("x y", { bank_id = 5 }) end, "ValidationError", "bank_id" },
  { "bank_id empty", function(e) return e:retain("x y", { bank_id = "" }) end, "ValidationError", "bank_id" },
  { "bank_id a table", function(e) return e:retain("x y", { bank_id = {} }) end, "ValidationError", "bank_id" },
  { "bank_id with a newline", function(e) return e:retain("x y", { bank_id = "a\nb" }) end, "ValidationError", "bank_id" },
  { "bank_id a path", function(e) return e:retain("x y", { bank_id = "../etc" }) end, "ValidationError", "bank_id" },
  { "bank_id with a space", function(e) return e:retain("x y", { bank_id = "my bank" }) end, "ValidationError", "bank_id" },
  { "bank_id too long", function(e) return e:retain("x y", { bank_id = string.rep("b", 300) }) end, "ValidationError", "bank_id" },
  { "tags a string", function(e) return e:retain("x y", { bank_id = "b", tags = "a" }) end, "ValidationError", "tags" },
  { "tags numbers", function(e) return e:retain("x y", { bank_id = "b", tags = { 1, 2 } }) end, "ValidationError", "tags[1]" },
  { "tags an empty string", function(e) return e:retain("x y", { bank_id = "b", tags = { "ok", "" } }) end, "ValidationError", "tags[2]" },
  { "tags a map", function(e) return e:retain("x y", { bank_id = "b", tags = { a = "b" } }) end, "ValidationError", "tags" },
  { "tags nested", function(e) return e:retain("x y", { bank_id = "b", tags = { { "a" } } }) end, "ValidationError", "tags[1]" },
  { "too many tags", function(e)
      local t = {}
      for i = 1, 101 do t[i] = "t" .. i end
      return e:retain("x y", { bank_id = "b", tags = t })
    end, "ValidationError", "tags" },
  { "a tag too long", function(e) return e:retain("x y", { bank_id = "b", tags = { string.rep("t", 300) } }) end,
    "ValidationError", "tags[1]" },
  { "metadata a string", function(e) return e:retain("x y", { bank_id = "b", metadata = "k=v" }) end, "ValidationError", "metadata" },
  { "metadata nested", function(e) return e:retain("x y", { bank_id = "b", metadata = deep(1) }) end, "ValidationError", "metadata.inner" },
  { "metadata nested 200 deep", function(e) return e:retain("x y", { bank_id = "b", metadata = deep(200) }) end,
    "ValidationError", "metadata.inner" },
  { "metadata cyclic", function(e) return e:retain("x y", { bank_id = "b", metadata = cyclic }) end, "ValidationError", "metadata.self" },
  { "metadata a function value", function(e) return e:retain("x y", { bank_id = "b", metadata = { f = print } }) end,
    "ValidationError", "metadata.f" },
  { "metadata a number key", function(e) return e:retain("x y", { bank_id = "b", metadata = { "positional" } }) end,
    "ValidationError", "metadata" },
  { "metadata NaN", function(e) return e:retain("x y", { bank_id = "b", metadata = { score = 0 / 0 } }) end,
    "ValidationError", "metadata.score" },
  { "metadata inf", function(e) return e:retain("x y", { bank_id = "b", metadata = { score = math.huge } }) end,
    "ValidationError", "metadata.score" },
  { "metadata invalid UTF-8", function(e) return e:retain("x y", { bank_id = "b", metadata = { k = "\255" } }) end,
    "ValidationError", "metadata.k" },
  { "occurred_at words", function(e) return e:retain("x y", { bank_id = "b", occurred_at = "yesterday" }) end,
    "ValidationError", "occurred_at" },
  { "occurred_at month 13", function(e) return e:retain("x y", { bank_id = "b", occurred_at = "2024-13-45T00:00:00Z" }) end,
    "ValidationError", "occurred_at" },
  { "occurred_at a table", function(e) return e:retain("x y", { bank_id = "b", occurred_at = {} }) end, "ValidationError", "occurred_at" },
  { "occurred_at a boolean", function(e) return e:retain("x y", { bank_id = "b", occurred_at = true }) end, "ValidationError", "occurred_at" },
  { "occurred_at NaN", function(e) return e:retain("x y", { bank_id = "b", occurred_at = 0 / 0 }) end, "ValidationError", "occurred_at" },
  { "occurred_at inf", function(e) return e:retain("x y", { bank_id = "b", occurred_at = math.huge }) end, "ValidationError", "occurred_at" },
  { "occurred_at year 99999", function(e) return e:retain("x y", { bank_id = "b", occurred_at = 3e12 }) end, "ValidationError", "occurred_at" },
  { "retain options a string", function(e) return e:retain("x y", "b") end, "ValidationError", "options" },
  { "retain option misspelled", function(e) return e:retain("x y", { bank_id = "b", tag = { "a" } }) end, "ValidationError", "tag" },
  { "fact_type a number", function(e) return e:retain("x y", { bank_id = "b", fact_type = 5 }) end, "ValidationError", "fact_type" },
  { "content_type a table", function(e) return e:retain("x y", { bank_id = "b", content_type = {} }) end, "ValidationError", "content_type" },
  { "recall query nil", function(e) return e:recall(nil, { bank_id = "b" }) end, "ValidationError", "query" },
  { "recall max_results a word", function(e) return e:recall("x", { bank_id = "b", max_results = "ten" }) end,
    "ValidationError", "max_results" },
  { "recall max_results negative", function(e) return e:recall("x", { bank_id = "b", max_results = -1 }) end,
    "ValidationError", "max_results" },
  { "recall max_results NaN", function(e) return e:recall("x", { bank_id = "b", max_results = 0 / 0 }) end,
    "ValidationError", "max_results" },
  { "recall time_range a string", function(e) return e:recall("x", { bank_id = "b", time_range = "last week" }) end,
    "ValidationError", "time_range" },
  { "recall time_range reversed", function(e)
      return e:recall("x", { bank_id = "b", time_range = { "2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z" } })
    end, "ValidationError", "time_range" },
  { "recall fact_types a string", function(e) return e:recall("x", { bank_id = "b", fact_types = "world" }) end,
    "ValidationError", "fact_types" },
  { "recall bank_id a number", function(e) return e:recall("x", { bank_id = 7 }) end, "ValidationError", "bank_id" },
  { "forget without options", function(e) return e:forget(nil) end, "ValidationError", "bank_id" },
  { "forget memory_ids a string", function(e) return e:forget({ bank_id = "b", memory_ids = "m1" }) end,
    "ValidationError", "memory_ids" },
  { "forget before not a date", function(e) return e:forget({ bank_id = "b", before = "soon" }) end, "ValidationError", "before" },
  { "forget with no selector", function(e) return e:forget({ bank_id = "b" }) end, "ValidationError", "memory_ids" },
  { "forget scope unknown", function(e) return e:forget({ bank_id = "b", scope = "everything" }) end, "ValidationError", "scope" },
  { "retain_many not a list", function(e) return e:retain_many("x y", { bank_id = "b" }) end, "ValidationError", "items" },
  { "retain_many a bad item after a good one", function(e) return e:retain_many({ "a good memory", 5 }, { bank_id = "b" }) end,
    "ValidationError", "items[2]" },
  { "retain_many a bad tag in item 2", function(e)
      return e:retain_many({ { content = "fine text" }, { content = "other text", tags = "t" } }, { bank_id = "b" })
    end, "ValidationError", "items[2]" },
}

-- Embedding provider garbage: mode, names, kind (ProviderUnavailable).
local PROVIDER = {
  { "nan", "embeddings[1]: vector[3] is not a finite number" },
  { "inf", "embeddings[1]: vector[2] is not a finite number" },
  { "neginf", "embeddings[1]: vector[8] is not a finite number" },
  { "word", "embeddings[1]: vector[4] is not a finite number" },
  { "packed", "embeddings[1]: packed vector length is not a multiple of 4" },
  { "empty", "embeddings[1]: vector is empty" },
  { "bool", "embeddings[1]: vector must be an array of numbers" },
  { "mixed", "embeddings[2]: dimension mismatch: expected 8, got 3" },
  { "string", "returned string for 2 texts" },
  { "short", "returned 0 vectors for 2 texts" },
  -- a raise is a bug in the provider: InternalError naming it (policy/escalation)
  { "raise", "provider 'reliability_bad_embedder:llm' raised", "InternalError" },
  -- consistent vectors of another dimension than the store's: the store refuses them
  { "dim", "items[1].vector: dimension mismatch: expected 8, got 5", "StorageError" },
}

-- CLI: argv (after --db and --bank), expected exit code, names.
local CLI = {
  { "retain", 1, "retain" },
  { "retain ''", 2, "content" },
  { "retain 'x y' --tags " .. string.rep("t", 300), 2, "tags[1]" },
  { "retain 'x y' --metadata novalue", 1, "metadata" },
  { "retain 'x y' --occurred-at nope", 2, "occurred_at" },
  { "recall x --max-results abc", 1, "max-results" },
  { "forget", 2, "forget needs one of memory_ids" },
  { "frobnicate", 1, "frobnicate" },
  { "import /nonexistent/file.jsonl", 2, "/nonexistent/file.jsonl" },
  { "import @BAD@", 2, "bad.jsonl:2: missing string field 'content'" },
  { "--bank 'no spaces' retain 'x y'", 2, "bank" },
  { "--config /nonexistent.yaml retain 'x y'", 2, "/nonexistent.yaml" },
}

describe("reliability: bad inputs", function()
  setup(function()
    dir = tmp.dir()
    db, pdb = dir .. "/bad.db", dir .. "/provider.db"
    eng = assert(R.open(db))
    assert(eng:retain("One good memory so the store has rows and a dimension", { bank_id = "b" }))
  end)
  teardown(function()
    if eng then eng:close() end
    tmp.rm(dir)
  end)

  -- Runs fn; it must return nil and an error of kind naming `names`, raise
  -- nothing, and leave the file's rows as they were.
  local function rejects(path, fn, kind, names)
    local before = rows_in(path)
    local ok, res, err = pcall(fn)
    assert.is_true(ok, "raised: " .. tostring(res))
    assert.is_nil(res, "accepted")
    assert.is_true(errors.is(err), "not an error object: " .. tostring(err))
    assert.equal(kind, err.kind, tostring(err))
    local text = tostring(err) .. " " .. tostring(err.field)
    assert.truthy(text:find(names, 1, true), "the error does not name '" .. names .. "': " .. text)
    assert.equal(before, rows_in(path), "stored something: " .. text)
  end

  for _, c in ipairs(API) do
    it("API: " .. c[1], function() rejects(db, function() return c[2](eng) end, c[3], c[4]) end)
  end

  for _, c in ipairs(PROVIDER) do
    it("embedding provider returns garbage: " .. c[1], function()
      mode = "ok"
      local p = assert(R.open(pdb, nil, { embedding_provider = "reliability_bad_embedder:llm" }))
      assert(p:retain("a first memory with a good vector", { bank_id = "p" }))
      mode = c[1]
      rejects(pdb, function() return p:retain_many({ "first text of two", "second text of two" }, { bank_id = "p" }) end,
              c[3] or "ProviderUnavailable", c[2])
      -- recall with the same garbage degrades to keyword search, no crash
      local ok, res, err = pcall(p.recall, p, "first memory with a good vector", { bank_id = "p" })
      assert.is_true(ok, tostring(res))
      assert.truthy(res, tostring(err))
      assert.equal(c[1] ~= "mixed", res.trace.degraded == true) -- "mixed" spoils only a batch's second vector
      assert.truthy(res.hits[1] and res.hits[1].text:find("good vector", 1, true))
      mode = "ok"
      assert(p:close())
    end)
  end

  it("oversized metadata is cut to max_metadata_size_bytes with a warning (the reference's sanitizer)", function()
    local before = rows_in(db)
    local res = assert(eng:retain("a memory with a huge metadata value", { bank_id = "b",
      metadata = { blob = string.rep("m", 2000000), a_keep = "yes" } })) -- keys go z to a until it fits
    assert.is_true(res.stored)
    assert.same({ "Metadata exceeds 4096 bytes, truncated" }, res.warnings)
    assert.equal(before + 1, rows_in(db))
    local got = assert(eng.vector_store:get_items({ res.memory_id }, "b"))[res.memory_id]
    assert.equal("yes", got.metadata.a_keep)
    assert.is_nil(got.metadata.blob)
  end)

  it("CLI: a near-duplicate retain says it was not stored (it crashed formatting the chunk count)", function()
    local cmd = R.env({ ASTRO_LUA = R.interp() }) .. R.q(R.SOURCE_DIR .. "/bin/astrocyte") .. " --db " .. R.q(db) ..
      " --bank dup retain 'The ferry to the island leaves at nine every morning' 2>&1"
    local out, code = R.sh(cmd)
    assert.equal(0, code, out)
    local before = rows_in(db)
    out, code = R.sh(cmd)
    assert.equal(0, code, out)
    assert.truthy(out:find("^not stored: "), out)
    assert.equal(before, rows_in(db))
  end)

  for _, c in ipairs(CLI) do
    it("CLI: " .. c[1], function()
      local bad = dir .. "/bad.jsonl"
      local f = assert(io.open(bad, "wb"))
      f:write('{"content": "a fine line"}\n{"content": 5}\n')
      f:close()
      local before = rows_in(db)
      local out, code = R.sh(R.env({ ASTRO_LUA = R.interp() }) .. R.q(R.SOURCE_DIR .. "/bin/astrocyte") .. " --db " ..
        R.q(db) .. " --bank b " .. c[1]:gsub("@BAD@", bad) .. " 2>&1")
      assert.equal(c[2], code, out)
      assert.truthy(out:find(c[3], 1, true), "the error does not name '" .. c[3] .. "': " .. out)
      assert.is_nil(out:find("traceback", 1, true), out)
      assert.equal(before, rows_in(db))
    end)
  end
end)
