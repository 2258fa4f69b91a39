-- Config files that made config.load raise instead of returning nil, err
-- (found by fuzz/fuzz_config.c).
-- YAML aliases: lyaml hands back an alias as the very table of its anchor,
-- so an alias inside its own anchor was a cycle ("stack overflow"), and
-- nested aliases multiplied the tree without bound. Both are ConfigErrors
-- now; ordinary aliases still work.
-- Empty sections: "pipeline: {}" (or a section whose keys are all ~)
-- replaced the defaults of the section with an empty table, and load raised
-- on the missing keys; an empty map now merges as nothing.
describe("astrocyte.config on fuzzed files", function()
  local config = require "astrocyte.config"
  local tmp = require "support.tmp"
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(text)
    f:close()
    return dir .. "/" .. name
  end

  it("reports an alias inside its own anchor as a ConfigError", function()
    local p = write("cycle.yaml", "base: &b\n  max_chunk_size: 100\n  again: *b\npipeline: *b\n")
    local ok, cfg, err = pcall(config.load, p)
    assert.is_true(ok, tostring(cfg))
    assert.is_nil(cfg)
    assert.equal("ConfigError", err.kind)
    assert.equal(p .. ": an alias refers to the node that contains it", err.message)
  end)

  it("reports aliases that expand past 100000 nodes as a ConfigError", function()
    local lines, prev = { "l0: &l0 [x, x, x, x, x, x, x, x, x, x]" }, "l0"
    for i = 1, 6 do
      local ref = "*" .. prev
      lines[#lines + 1] = string.format("l%d: &l%d [%s]", i, i, (ref .. ", "):rep(9) .. ref)
      prev = "l" .. i
    end
    local p = write("laughs.yaml", table.concat(lines, "\n") .. "\n")
    local t0 = os.clock()
    local cfg, err = config.load(p)
    assert.is_nil(cfg)
    assert.equal("ConfigError", err.kind)
    assert.matches("more than 100000 nodes once aliases are expanded", err.message, 1, true)
    assert.is_true(os.clock() - t0 < 5)
  end)

  it("accepts aliases that are reused, not nested in themselves", function()
    local p = write("reuse.yaml", "vector_store: in_memory\nchunking: &c\n  max_chunk_size: 200\n" ..
                                  "pipeline: *c\nbanks:\n  notes:\n    pipeline: *c\n")
    local cfg = assert(config.load(p))
    assert.equal(200, cfg.pipeline.max_chunk_size)
    assert.equal(200, config.for_bank(cfg, "notes").pipeline.max_chunk_size)
  end)

  it("keeps a section's defaults under an empty or all-null section", function()
    for _, text in ipairs({ "vector_store: in_memory\npipeline: {}\n",
                            "vector_store: in_memory\npipeline:\n  rrf_k: ~\nbarriers: []\n" }) do
      local p = write("empty.yaml", text)
      local ok, cfg, err = pcall(config.load, p)
      assert.is_true(ok, tostring(cfg))
      assert.is_table(cfg, err and err.message)
      assert.equal(512, cfg.pipeline.max_chunk_size)
      assert.equal(5, cfg.pipeline.rrf_k)
      assert.equal("disabled", cfg.barriers.pii.mode)
    end
    local cfg = assert(config.load(write("empty.json", '{"vector_store": "in_memory", "barriers": {}}')))
    assert.equal(50000, cfg.barriers.validation.max_content_length)
  end)
end)
