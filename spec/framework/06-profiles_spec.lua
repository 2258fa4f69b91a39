describe("profiles, layering, reload and discovery", function()
  local astrocyte = require "astrocyte"
  local config = require "astrocyte.config"
  local registry = require "astrocyte.registry"
  local tmp = require "support.tmp"
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  local function write(path, text)
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
  end

  describe("merge order", function()
    it("layers compliance < behaviour profile < user config", function()
      local cfg = assert(config.load({ compliance_profile = "gdpr", profile = "support",
                                       homeostasis = { recall_max_tokens = 999 } }))
      assert.equal(999, cfg.homeostasis.recall_max_tokens)             -- user wins
      assert.equal(4096, cfg.homeostasis.reflect_max_tokens)           -- from support
      assert.equal("regex", cfg.barriers.pii.mode)                     -- support over gdpr
      assert.equal("redact", cfg.barriers.pii.action)
      assert.equal(730, cfg.lifecycle.ttl.delete_after_days)           -- only gdpr sets it
      assert.equal("deny", cfg.access_control.default_policy)
      assert.same({ "support", "customer" }, cfg.defaults.tags)
      assert.equal(10000, cfg.barriers.validation.max_content_length)
    end)

    it("ships every reference profile with its values", function()
      local expect = {
        support = { 4096, 4096, 51200, 30, 60, 10, 10000, 0.92 },
        coding = { 8192, 8192, 204800, 120, 240, 30, 100000, 0.98 },
        personal = { 4096, 8192, 51200, 60, 120, 30, 20000, 0.93 },
        research = { 16384, 16384, 524288, 200, 300, 50, 500000, 0.97 },
      }
      for name, v in pairs(expect) do
        local cfg = assert(config.load({ profile = name }))
        local h = cfg.homeostasis
        assert.same(v, { h.recall_max_tokens, h.reflect_max_tokens, h.retain_max_content_bytes,
          h.rate_limits.retain_per_minute, h.rate_limits.recall_per_minute, h.rate_limits.reflect_per_minute,
          cfg.barriers.validation.max_content_length, cfg.signal_quality.dedup.similarity_threshold })
      end
      local minimal = assert(config.load({ profile = "minimal" }))
      assert.is_false(minimal.signal_quality.dedup.enabled)
      assert.equal("disabled", minimal.barriers.pii.mode)
      local comp = {
        gdpr = { "redact", 730, "deny" }, hipaa = { "reject", 2555, "deny" }, pdpa = { "redact", 1825, "owner_only" },
      }
      for name, v in pairs(comp) do
        local cfg = assert(config.load({ compliance_profile = name }))
        assert.same(v, { cfg.barriers.pii.action, cfg.lifecycle.ttl.delete_after_days, cfg.access_control.default_policy })
      end
    end)

    it("applies per-bank overrides last", function()
      local eng = assert(astrocyte.open({ vector_store = "in_memory",
        banks = { tiny = { barriers = { validation = { max_content_length = 10 } } },
                  sup = { profile = "support" } } }))
      local res, err = eng:retain("eleven chars", { bank_id = "tiny" })
      assert.is_nil(res)
      assert.equal("content is too long: 12 characters > 10", err.message)
      assert(eng:retain("eleven chars", { bank_id = "other" }))
      res, err = eng:retain(string.rep("x", 10001), { bank_id = "sup" })
      assert.is_nil(res)
      assert.equal("content is too long: 10001 characters > 10000", err.message)
      eng:close()
    end)
  end)

  describe("errors", function()
    it("names a missing profile", function()
      local cfg, err = config.load({ profile = "nosuch" })
      assert.is_nil(cfg)
      assert.equal("ConfigError: Profile not found: nosuch", tostring(err))
      cfg, err = config.load({ compliance_profile = "sox" })
      assert.is_nil(cfg)
      assert.equal("ConfigError: Compliance profile not found: sox", tostring(err))
    end)

    it("rejects wrong types and values with the key path", function()
      local cases = {
        { { homeostasis = { rate_limits = { retain_per_minute = "fast" } } },
          "homeostasis.rate_limits.retain_per_minute must be a number, got string" },
        { { barriers = { pii = { action = "shred" } } },
          "barriers.pii.action must be one of redact, reject, warn; got 'shred'" },
        { { access_control = { enabled = "yes" } }, "access_control.enabled must be a boolean, got string" },
        { { barriers = "none" }, "barriers must be a mapping, got string" },
        { { banks = { ["bad bank"] = {} } }, "banks.bad bank: 'bad bank' is not a valid bank id" },
        { { banks = { b1 = { homeostasis = { recall_max_tokens = 1.5 } } } },
          "banks.b1.homeostasis.recall_max_tokens must be an integer, got number" },
        { { defaults = { empathy = 9 } }, "defaults.empathy must be between 1 and 5, got 9" },
      }
      for _, c in ipairs(cases) do
        local cfg, err = config.load(c[1])
        assert.is_nil(cfg)
        assert.equal("ConfigError", err.kind)
        assert.equal(c[2], err.message)
      end
    end)

    it("warns about unknown keys with a did-you-mean", function()
      local cfg = assert(config.load({ pipline = {}, homeostasis = { recal_max_tokens = 5 }, zzz = 1 }))
      assert.same({
        "unknown key 'homeostasis.recal_max_tokens' (did you mean 'recall_max_tokens'?)",
        "unknown key 'pipline' (did you mean 'pipeline'?)",
        "unknown key 'zzz'",
      }, (function()
        local w = {}
        for i, m in ipairs(cfg._warnings) do w[i] = m end
        table.sort(w)
        return w
      end)())
    end)

    it("errors on an unset variable in a credential key, warns elsewhere", function()
      local cfg, err = config.load({ llm_provider_config = { api_key = "${ASTRO_NO_SUCH_KEY}" } })
      assert.is_nil(cfg)
      assert.equal("llm_provider_config.api_key: environment variable ASTRO_NO_SUCH_KEY is not set", err.message)
      assert.equal("llm_provider_config.api_key", err.key_path)
      cfg = assert(config.load({ vector_store = "in_memory", default_bank_id = "${ASTRO_NO_SUCH_BANK:-fallback}",
                                 llm_provider_config = { model = "${ASTRO_NO_SUCH_MODEL}" } }))
      assert.equal("fallback", cfg.default_bank_id)
      assert.equal("${ASTRO_NO_SUCH_MODEL}", cfg.llm_provider_config.model)
      assert.equal("llm_provider_config.model: environment variable ASTRO_NO_SUCH_MODEL is not set (value kept as written)", cfg._warnings[1])
    end)
  end)

  describe("engine:reload()", function()
    it("picks up an edited profile file without a restart or data loss", function()
      os.execute("mkdir -p '" .. dir .. "/profiles'")
      local prof = write(dir .. "/profiles/strict.yaml", "barriers:\n  validation:\n    max_content_length: 20\n")
      local cfgfile = write(dir .. "/astro.yaml", "profile: strict\nprofile_dirs: [" .. dir .. "/profiles]\n" ..
        "vector_store_config:\n  path: " .. dir .. "/m.db\n")
      local eng = assert(astrocyte.open(cfgfile))
      assert(eng:retain("short note", { bank_id = "r" }))
      local long = "a note that is longer than twenty characters"
      local res, err = eng:retain(long, { bank_id = "r" })
      assert.is_nil(res)
      assert.equal("content is too long: 44 characters > 20", err.message)
      local store_before = eng.providers.vector_store

      write(prof, "barriers:\n  validation:\n    max_content_length: 100\n")
      assert(eng:reload())
      assert(eng:retain(long, { bank_id = "r" }))
      assert.equal(store_before, eng.providers.vector_store)                 -- same open store, no rebuild
      assert.equal(2, eng:banks()[1].memory_count)
      eng:close()
    end)

    it("rebuilds a provider whose config changed and keeps the engine on a failed reload", function()
      local cfgfile = write(dir .. "/astro.yaml", "vector_store: in_memory\n")
      local eng = assert(astrocyte.open(cfgfile))
      local before = eng.providers.vector_store
      write(cfgfile, "vector_store: in_memory\npipeline:\n  max_chunk_size: 5\n")
      local ok, err = eng:reload()
      assert.is_nil(ok)
      assert.equal("ConfigError: " .. cfgfile .. ": pipeline.max_chunk_size must be at least 16", tostring(err))
      assert.equal(before, eng.providers.vector_store)
      write(cfgfile, "vector_store: sqlite\nvector_store_config:\n  path: " .. dir .. "/n.db\n")
      assert(eng:reload())
      assert.not_equal(before, eng.providers.vector_store)
      assert(eng:retain("now in sqlite", { bank_id = "s" }))
      eng:close()
    end)
  end)

  describe("discovery", function()
    it("lists installed providers per group", function()
      local all = astrocyte.available_providers()
      assert.is_function(all.vector_stores.sqlite)
      assert.is_function(all.vector_stores.in_memory)
      assert.is_function(all.llm_providers.hashing)
      assert.is_function(astrocyte.discover("document_stores").sqlite)
    end)

    it("loads 'module:Name' and checks the SPI", function()
      write(dir .. "/fake_store.lua", [[
        local M = {}
        M.Incomplete = { new = function() return { store_vectors = function() return {} end } end }
        M.Future = { new = function()
          local s = { SPI_VERSION = 7 }
          for _, m in ipairs({ "store_vectors", "search_similar", "delete", "list_vectors", "health" }) do
            s[m] = function() end
          end
          return s
        end }
        return M
      ]])
      local saved = package.path
      package.path = dir .. "/?.lua;" .. package.path
      local p, err = registry.build("vector_stores", "fake_store:Incomplete", {}, "vector_store")
      assert.is_nil(p)
      assert.equal("ConfigError", err.kind)
      assert.truthy(err.message:find("vector_store: provider 'fake_store:Incomplete': ", 1, true), err.message)
      assert.truthy(err.message:find("search_similar", 1, true), err.message)
      p, err = registry.build("vector_stores", "fake_store:Future", {}, "vector_store")
      assert.is_nil(p)
      assert.equal("vector_store: provider 'fake_store:Future': VectorStore SPI version 7 is not supported. Supported versions: [1]", err.message)
      p, err = registry.build("vector_stores", "fake_store:Missing", {}, "vector_store")
      assert.is_nil(p)
      assert.equal("vector_store: provider 'fake_store:Missing' does not implement vector_stores", err.message)
      package.path = saved
    end)
  end)
end)
