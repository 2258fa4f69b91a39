describe("astrocyte.config", function()
  local config = require "astrocyte.config"
  local astrocyte = require "astrocyte"
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

  it("fills defaults", function()
    local cfg = assert(config.load({ vector_store = "in_memory" }))
    assert.equal("hashing", cfg.embedding_provider)
    assert.is_nil(cfg.embedding_provider_config)     -- the hashing provider's own default (384)
    assert.equal("sentence", cfg.pipeline.chunk_strategy)
    assert.equal(512, cfg.pipeline.max_chunk_size)
    assert.equal(50, cfg.pipeline.chunk_overlap)
    assert.equal(50000, cfg.barriers.validation.max_content_length)
  end)

  it("reads YAML files and opens an engine from them", function()
    local p = write("a.yaml", "vector_store: sqlite\nvector_store_config:\n  path: " .. dir .. "/x.db\npipeline:\n  max_chunk_size: 256\n")
    local eng = assert(astrocyte.open(p))
    assert.equal(256, eng.cfg.pipeline.max_chunk_size)
    assert(eng:retain("from yaml", { bank_id = "y" }))
    eng:close()
  end)

  it("reports a missing file", function()
    local cfg, err = config.load(dir .. "/none.yaml")
    assert.is_nil(cfg)
    assert.equal("ConfigError", err.kind)
    assert.equal("config file '" .. dir .. "/none.yaml' cannot be read: " .. dir .. "/none.yaml: No such file or directory", err.message)
  end)

  it("reports YAML syntax errors with line and column", function()
    local p = write("bad.yaml", "pipeline: [1, 2\n")
    local cfg, err = config.load(p)
    assert.is_nil(cfg)
    assert.equal("ConfigError", err.kind)
    assert.equal(p .. ":1:15: did not find expected ',' or ']'", err.message)
    assert.equal(1, err.line)
  end)

  it("names the key path of a wrong type", function()
    local cfg, err = config.load({ pipeline = { max_chunk_size = "big" } })
    assert.is_nil(cfg)
    assert.equal("pipeline.max_chunk_size must be an integer, got string", err.message)
    assert.equal("pipeline.max_chunk_size", err.key_path)
    cfg, err = config.load({ pipeline = { chunk_strategy = "words" } })
    assert.is_nil(cfg)
    assert.equal("pipeline.chunk_strategy must be one of sentence, paragraph, fixed; got 'words'", err.message)
    cfg, err = config.load({ pipeline = { chunk_overlap = 600 } })
    assert.is_nil(cfg)
    assert.equal("pipeline.chunk_overlap must be >= 0 and < pipeline.max_chunk_size", err.message)
  end)

  it("substitutes ${VAR} and ${VAR:-default}", function()
    local cfg = assert(config.load({ default_bank_id = "${HOME}", vector_store_config = { path = "${ASTRO_UNSET_VAR_X:-/tmp/d.db}" } }))
    assert.equal(os.getenv("HOME"), cfg.default_bank_id)
    assert.equal("/tmp/d.db", cfg.vector_store_config.path)
    local bad, err = config.load({ vector_store_config = { token = "${ASTRO_UNSET_VAR_X}" } })
    assert.is_nil(bad)
    assert.equal("vector_store_config.token: environment variable ASTRO_UNSET_VAR_X is not set", err.message)
  end)

  it("reports an unknown provider with its key", function()
    local eng, err = astrocyte.open({ vector_store = "nosuchstore" })
    assert.is_nil(eng)
    assert.equal("ConfigError", err.kind)
    assert.equal("vector_store: provider 'nosuchstore' not found (no module astrocyte.providers.nosuchstore on package.path)", err.message)
  end)
end)
