-- jsonl_sink: MemoryExportSink conformance, one JSON line per event with
-- nothing but metadata, rotation path → path.1 … path.keep by size, fsync on
-- flush (and of the directory after a rotation), and use through
-- astrocyte.sinks from the memory_export_sinks config.
local testing = require "astrocyte.testing"
local jsonl = require "astrocyte.providers.jsonl_sink"
local sinks = require "astrocyte.observe.sinks"
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local tmp = require "support.tmp"

local function read_lines(path)
  local out = {}
  local f = io.open(path, "rb")
  if not f then return out end
  for line in f:lines() do out[#out + 1] = line end
  f:close()
  return out
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

describe("jsonl_sink", function()
  local dir
  setup(function() dir = tmp.dir() end)
  teardown(function() tmp.rm(dir) end)

  local n = 0
  testing.memory_export_sink(function()
    n = n + 1
    return jsonl.memory_export_sinks({ path = dir .. "/conf-" .. n .. ".jsonl" })
  end, { title = "jsonl_sink" })

  it("appends one line per event, with metadata only", function()
    local path = dir .. "/lines.jsonl"
    local s = assert(jsonl.new({ path = path }))
    local ev = sinks.retain_committed({ bank_id = "bank-a", principal = "user:ana", memory_id = "m1",
      content = "Ana's card is 4111 1111 1111 1111", fact_type = "world", tags = { "pref" },
      embedding = { 0.1, 0.2 }, text = "raw text must not leak" })
    assert.is_true(s:emit(ev))
    assert.is_true(s:emit(sinks.recall_observed({ bank_id = "bank-a", result_count = 3, latency_ms = 4.5,
                                                  top_score = 0.9, query = "what is Ana's card?" })))
    assert.is_true(s:flush())
    s:close()
    local lines = read_lines(path)
    assert.equal(2, #lines)
    local e1 = util.json.decode(lines[1])
    assert.equal("RetainCommitted", e1.kind)
    assert.equal(1, e1.version)
    assert.equal(ev.event_id, e1.event_id)
    assert.equal(core.sha256_hex("Ana's card is 4111 1111 1111 1111"), e1.payload.content_sha256)
    assert.equal(33, e1.payload.content_length)
    for _, l in ipairs(lines) do
      assert.is_nil(l:find("4111", 1, true))
      assert.is_nil(l:find("raw text", 1, true))
      assert.is_nil(l:find("embedding", 1, true))
      assert.is_nil(l:find("Ana's card", 1, true))
    end
    assert.same({ latency_ms = 4.5, result_count = 3, top_score = 0.9 }, util.json.decode(lines[2]).payload)
  end)

  it("rotates by size keeping `keep` files, oldest deleted", function()
    local path = dir .. "/rot.jsonl"
    local s = assert(jsonl.new({ path = path, rotate_bytes = 400, keep = 2, fsync = false }))
    for i = 1, 12 do
      local ev = sinks.bank_lifecycle({ bank_id = "bank-" .. i, action = "created", event_id = "ev-" .. i })
      assert.is_true(s:emit(ev))
    end
    s:close()
    local cur, r1, r2 = read_lines(path), read_lines(path .. ".1"), read_lines(path .. ".2")
    assert.is_false(exists(path .. ".3"))
    assert.is_true(#cur > 0 and #r1 > 0 and #r2 > 0)
    for _, p in ipairs({ path, path .. ".1", path .. ".2" }) do
      local f = assert(io.open(p, "rb"))
      local size = f:seek("end")
      f:close()
      assert.is_true(size <= 400, p .. " has " .. size .. " bytes")
    end
    -- newest lines in path, then .1, then .2; every line complete JSON
    local last = util.json.decode(cur[#cur])
    assert.equal("ev-12", last.event_id)
    local first_r1 = util.json.decode(r1[1]).event_id
    local last_r2 = util.json.decode(r2[#r2]).event_id
    assert.is_true(tonumber(last_r2:match("%d+")) < tonumber(first_r1:match("%d+")))
    assert.equal(12 - (#cur + #r1 + #r2) + 1, tonumber(util.json.decode(r2[1]).event_id:match("%d+")))
  end)

  it("fsyncs the file on flush and the directory after a rotation", function()
    local real = core.fsync_path
    local calls = {}
    core.fsync_path = function(p) calls[#calls + 1] = p; return real(p) end
    local ok, err = pcall(function()
      local path = dir .. "/sync.jsonl"
      local s = assert(jsonl.new({ path = path, rotate_bytes = 300 }))
      s:emit(sinks.bank_lifecycle({ bank_id = "b", action = "created" }))
      assert.same({}, calls)
      assert.is_true(s:flush())
      assert.same({ path }, calls)
      for _ = 1, 3 do s:emit(sinks.bank_lifecycle({ bank_id = "b", action = "deleted" })) end
      assert.truthy(#calls >= 3)
      assert.equal(dir, calls[3])
      s:close()
      local unsynced = assert(jsonl.new({ path = dir .. "/nosync.jsonl", fsync = false }))
      local before = #calls
      unsynced:emit(sinks.bank_lifecycle({ bank_id = "b", action = "created" }))
      unsynced:flush()
      unsynced:close()
      assert.equal(before, #calls)
    end)
    core.fsync_path = real
    assert(ok, err)
  end)

  it("reports config errors", function()
    assert.same({ nil, "jsonl_sink: config.path is required" }, { jsonl.new({}) })
    assert.same({ nil, "jsonl_sink: config.rotate_bytes must be a positive integer" },
                { jsonl.new({ path = dir .. "/x", rotate_bytes = 0 }) })
    local s, err = jsonl.new({ path = "/nonexistent-dir/x.jsonl" })
    assert.is_nil(s)
    assert.truthy(err:find("cannot open", 1, true))
  end)

  describe("through astrocyte.sinks", function()
    it("builds from memory_export_sinks and emits to every sink", function()
      local set = assert(sinks.new({ memory_export_sinks = {
        { provider = "jsonl_sink", config = { path = dir .. "/a.jsonl" } },
        { provider = "jsonl_sink", config = { path = dir .. "/b.jsonl", fsync = false } },
      } }))
      assert.equal(2, set:count())
      local ev = sinks.forget_applied({ bank_id = "b", memory_ids = { "m1" }, reason = "gdpr" })
      assert.same({ 2, 0 }, { set:emit_all(ev) })
      assert.is_true(set:flush_all())
      set:close()
      assert.equal(1, #read_lines(dir .. "/a.jsonl"))
      assert.equal(1, #read_lines(dir .. "/b.jsonl"))
    end)

    it("names the key path of a bad entry", function()
      local set, err = sinks.new({ { provider = "jsonl_sink", config = {} } })
      assert.is_nil(set)
      assert.equal("ConfigError", err.kind)
      assert.truthy(err.message:find("memory_export_sinks[1]", 1, true))
      set, err = sinks.new({ { provider = "no_such_sink" } })
      assert.is_nil(set)
      assert.truthy(err.message:find("not found", 1, true))
    end)
  end)
end)
