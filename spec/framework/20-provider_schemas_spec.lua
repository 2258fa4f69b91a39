-- Per-provider config schemas (providers/<name>/schema.lua): config.load and
-- `astrocyte config check` check each provider's section against its schema
-- (unknown keys, types, ranges, enums, required keys, with the full key
-- path), and config check prints the section with the schema's defaults
-- filled and its secrets masked. A custom provider may ship a schema; one
-- without is not checked.
describe("provider config schemas", function()
  local config = require "astrocyte.config"
  local check = require "astrocyte.config_check"
  local registry = require "astrocyte.registry"
  local astrocyte = require "astrocyte"
  local tmp = require "support.tmp"
  local cli = require "support.cli"
  local q = cli.q
  local root = os.getenv("ASTRO_SOURCE_DIR") or "."
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  local function write(name, text) return tmp.write(dir, name, text) end

  -- `astrocyte [--json] config check FILE`, env "NAME=value ..." set.
  local function config_check(file, env, json)
    local args = { "config", "check", file }
    if json then table.insert(args, 1, "--json") end
    return cli.run(dir, args, env)
  end

  local function rejects(cfg, key_path, message)
    local ok, err = config.load(cfg)
    assert.is_nil(ok, "accepted a config that should fail at " .. key_path)
    assert.equal("ConfigError", err.kind)
    assert.equal(message, err.message)
    assert.equal(key_path, err.key_path)
  end

  it("every built-in provider declares a schema for each group it implements", function()
    local n = 0
    for _, name in ipairs(registry.installed_names()) do
      local mod = require("astrocyte.providers." .. name)
      for _, group in ipairs(registry.GROUPS) do
        if mod[group] ~= nil then
          local s, err = registry.schema(group, name)
          assert.is_nil(err)
          assert.equal("table", type(s), name .. " has no schema for " .. group)
          n = n + 1
        end
      end
    end
    assert.truthy(n >= 25, n)
  end)

  it("every default passes its own schema", function()
    local function walk(section, path)
      for k, node in pairs(section) do
        local kp = path .. "." .. k
        if type(node) == "table" and type(node[1]) ~= "string" then
          walk(node, kp)
        elseif type(node) == "table" and node.default ~= nil then
          local ok, ekp, msg = check.check({ [k] = node.default }, { [k] = node }, path)
          assert.is_true(ok, tostring(ekp) .. ": " .. tostring(msg))
        end
      end
    end
    for _, name in ipairs(registry.installed_names()) do
      local mod = require("astrocyte.providers." .. name)
      for _, group in ipairs(registry.GROUPS) do
        local s = mod[group] and registry.schema(group, name)
        if s then walk(s, name .. "." .. group) end
      end
    end
  end)

  -- The schema's defaults are the values the provider itself uses when the
  -- key is unset: build each provider from a config without them and read
  -- the value back.
  it("declares the defaults the providers use", function()
    local function defaults(group, name)
      return check.fill({}, assert(registry.schema(group, name)))
    end
    local function http(p) return p.http or p.client end
    local cases = {
      { "llm_providers", "openai", {}, function(p, d)
        assert.equal(d.batch_size, p.batch_size)
        assert.equal(d.base_url, p.base)
        assert.equal(d.max_retries, http(p).max_retries)
        assert.equal(d.backoff_ms, http(p).backoff_ms)
        assert.equal(d.max_backoff_ms, http(p).max_backoff_ms)
        assert.equal(d.retry_after_cap_ms, http(p).retry_after_cap_ms)
        assert.equal(d.max_response_bytes, http(p).max_response_bytes)
      end },
      { "llm_providers", "litellm", {}, function(p, d) assert.equal(d.base_url, p.base) end },
      { "llm_providers", "hashing", {}, function(p, d) assert.equal(d.dimensions, p.dims) end },
      { "llm_providers", "mock", {}, function(p, d) assert.equal(d.dimensions, p.dims); assert.equal(d.fail, p.fail) end },
      { "vector_stores", "qdrant", {}, function(p, d)
        assert.equal(d.url, p.base); assert.equal(d.collection, p.prefix); assert.equal(d.batch_size, p.batch_size)
      end },
      { "vector_stores", "elasticsearch", {}, function(p, d)
        assert.equal(d.url, p.base); assert.equal(d.index, p.index); assert.equal(d.refresh, p.refresh)
      end },
      { "graph_stores", "neo4j", { password = "pw" }, function(p, d)
        assert.equal(d.base_url, p.base); assert.equal(d.database, p.db)
        assert.equal(d.candidate_scan_limit, p.scan_limit); assert.equal(d.max_depth_cap, p.depth_cap)
        -- user defaults to neo4j: Basic neo4j:pw
        assert.equal(require("astrocyte.providers.shared").basic(d.user, "pw").Authorization, p.headers.Authorization)
      end },
      { "engine_providers", "mem0", {}, function(p, d) assert.equal(d.api, p.api); assert.equal(d.bank_as, p.bank_as) end },
      { "engine_providers", "zep", {}, function(p, d)
        assert.equal(d.base_url, p.base); assert.equal(d.user_id, p.user_id); assert.equal(d.session_prefix, p.prefix)
      end },
      { "access_policies", "opa", { url = "http://127.0.0.1:9" }, function(p, d)
        assert.equal("http://127.0.0.1:9/v1/data/" .. d.path, p.url); assert.equal(d.timeout_ms, p.client.timeout_ms)
      end },
      { "access_policies", "static_policy", {}, function(p, d) assert.equal(d.default, p.default) end },
      { "outbound_transports", "onecli", {}, function(p, d) assert.equal(d.gateway_url, p.gateway) end },
      { "memory_export_sinks", "jsonl_sink", { path = "@dir/s.jsonl" }, function(p, d)
        assert.equal(d.rotate_bytes, p.rotate_bytes); assert.equal(d.keep, p.keep); assert.equal(d.fsync, p.fsync)
      end },
      { "memory_export_sinks", "webhook_sink", { url = "http://127.0.0.1:9/" }, function(p, d)
        assert.equal(d.flush_timeout_ms, p.flush_timeout_ms)
      end },
      { "engine_providers", "in_memory", {}, function(p, d)
        assert.equal(d.supports_reflect, p.caps.supports_reflect); assert.equal(d.supports_forget, p.caps.supports_forget)
      end },
    }
    for _, c in ipairs(cases) do
      local group, name, conf, verify = c[1], c[2], c[3], c[4]
      if conf.path then conf.path = conf.path:gsub("@dir", dir) end
      local p = assert(registry.build(group, name, conf, name))
      verify(p, defaults(group, name))
      if p.close then p:close() end
    end
    -- postgres normalizes its config before it connects.
    local d = defaults("vector_stores", "postgres")
    local c = assert(require("astrocyte.providers.postgres.common").check_conf({}, "vector_store_config"))
    assert.same({ d.schema, d.pool_size, d.reconnect_attempts, d.reconnect_backoff_ms, d.analyze_min_rows, d.vector_index },
                { c.schema, c.pool_size, c.retries, c.backoff_ms, c.analyze_min_rows, c.vector_index })
    local vp = d.vector_index_params
    assert.same({ vp.m, vp.ef_construction, vp.ef_search, vp.lists, vp.probes },
                { c.hnsw_m, c.hnsw_ef_construction, c.hnsw_ef_search, c.ivf_lists, c.ivf_probes })
  end)

  it("accepts the configs the examples and the provider specs use", function()
    local ok_configs = {
      { vector_store = "qdrant", vector_store_config = { url = "http://127.0.0.1:1", api_key = "k" },
        embedding_provider = "openai", embedding_provider_config = { base_url = "http://127.0.0.1:1/v1", model = "m", dimensions = 64 } },
      { vector_store = "elasticsearch", vector_store_config = { url = "http://127.0.0.1:1", api_key = "k" },
        document_store = "elasticsearch", document_store_config = { url = "http://127.0.0.1:1", index = "astrocyte" } },
      { graph_store = "neo4j", graph_store_config = { base_url = "http://127.0.0.1:1", user = "neo4j", password = "p", database = "neo4j" } },
      { vector_store = "postgres", vector_store_config = { dsn = "postgres://u:p@127.0.0.1:1/db", pool_size = 2, schema = "t1" } },
      { vector_store = "in_memory", llm_provider = "openai",
        llm_provider_config = { base_url = "http://127.0.0.1:1/v1", api_key = "k", model = "test-chat", max_retries = 0, timeout_ms = 2000 } },
      { vector_store = "in_memory", llm_provider = "mock", llm_provider_config = { api_key = "sk-live-supersecret-9999" } },
      { vector_store_config = { path = "/tmp/h.db", vector_index = { hnsw_threshold = 200, migrate_batch = 40 } } },
      { vector_store = "in_memory", vector_store_config = { path = "/tmp/p.db" } },
      { provider = "in_memory", provider_config = { supports_reflect = false, supports_forget = false } },
      { provider = "mem0", provider_config = { base_url = "http://127.0.0.1:1", api = "oss", api_key = "k", bank_as = "agent_id" } },
      { provider = "zep", provider_config = { base_url = "http://127.0.0.1:1", api_key = "k", user_id = "u" } },
      { access_control = { enabled = true, policy_provider = "opa",
                           policy_provider_config = { url = "http://127.0.0.1:9", max_retries = 0, timeout_ms = 500 } } },
      { access_control = { enabled = true, policy_provider = "static_policy", policy_provider_config = {
          default = "none", rules = { { principal = "user:eve", bank_id = "*", permissions = { "*" }, effect = "deny" },
                                      { principal = "team:*", bank_id = "shared-*", permissions = { "read" } } } } } },
      { outbound_transport = { provider = "proxy_transport", config = { proxy = "http://p:3128", ca_bundle = "/ca.pem",
          headers = { ["X-A"] = "1" }, timeouts = { connect = 2 } } } },
      { outbound_transport = { provider = "onecli", config = { gateway_url = "http://127.0.0.1:1", token = "oc-token" } } },
      { memory_export_sinks = { { provider = "jsonl_sink", config = { path = "/tmp/b.jsonl", fsync = false } },
                                { provider = "webhook_sink", config = { url = "http://127.0.0.1:1/h", secret = "s", retry_count = 0 } } } },
    }
    for i, c in ipairs(ok_configs) do
      local cfg, err = config.load(c)
      assert.truthy(cfg, "config " .. i .. ": " .. tostring(err and err.message))
    end
    -- The example configs, through the CLI, with their variables set.
    local env = "OPENAI_API_KEY=sk-example-openai-0001 ES_API_KEY=es-example-key-0002 QDRANT_API_KEY=qd-example-key-0003 " ..
      "MEM0_API_KEY=m0-example-key-0004 NEO4J_PASSWORD=neo-example-pw-0005 PROXY_TOKEN=px-example-token-0006"
    local p = io.popen("ls " .. q(root .. "/examples/configs") .. "/*.yaml")
    local n = 0
    for file in p:lines() do
      n = n + 1
      local code, out, err = config_check(file, env)
      assert.equal(0, code, file .. ": " .. err)
      assert.is_nil(out:find("example%-[a-z]+%-%d%d%d%d"), file .. " printed a secret:\n" .. out)
    end
    p:close()
    assert.truthy(n >= 7, n)
  end)

  it("rejects wrong types, unknown keys, out-of-range values and missing keys with the key path", function()
    local pg = function(c) return { vector_store = "postgres", vector_store_config = c } end
    rejects(pg({ dsn = "postgres://h/db", pool_size = "four" }), "vector_store_config.pool_size",
            "vector_store_config.pool_size must be an integer between 1 and 1000, got string")
    rejects(pg({ dsn = "postgres://h/db", pool_size = 0 }), "vector_store_config.pool_size",
            "vector_store_config.pool_size must be an integer between 1 and 1000, got 0")
    rejects(pg({ dsn = "postgres://h/db", vector_index_params = { m = 1 } }), "vector_store_config.vector_index_params.m",
            "vector_store_config.vector_index_params.m must be an integer between 2 and 100, got 1")
    rejects(pg({ dsn = "postgres://h/db", schema = "Bad-Name" }), "vector_store_config.schema",
            "vector_store_config.schema must match ^[a-z_][a-z0-9_]{0,62}$, got \"Bad-Name\"")
    rejects(pg({ dsn = "postgres://h/db", vector_index = "btree" }), "vector_store_config.vector_index",
            "vector_store_config.vector_index must be one of hnsw, ivfflat, none; got 'btree'")
    rejects({ vector_store = "qdrant", vector_store_config = { colection = "x" } }, "vector_store_config.colection",
            "unknown key 'vector_store_config.colection' (did you mean 'collection'?)")
    rejects({ vector_store = "qdrant", vector_store_config = { url = "ftp://x" } }, "vector_store_config.url",
            "vector_store_config.url must be a string matching ^https?://[^%s]+$, got \"ftp://x\"")
    rejects({ vector_store = "qdrant", vector_store_config = "http://x" }, "vector_store_config",
            "vector_store_config must be a map, got string")
    rejects({ embedding_provider_config = { dimensions = 4 } }, "embedding_provider_config.dimensions",
            "embedding_provider_config.dimensions must be an integer between 8 and 65536, got 4")
    rejects({ provider = "mem0", provider_config = { api = "cloud" } }, "provider_config.api",
            "provider_config.api must be one of platform, oss; got 'cloud'")
    rejects({ graph_store = "neo4j", graph_store_config = { max_depth_cap = 2.5 } }, "graph_store_config.max_depth_cap",
            "graph_store_config.max_depth_cap must be an integer between 1 and 15, got number")
    rejects({ memory_export_sinks = { { provider = "jsonl_sink", config = { keep = 2 } } } },
            "memory_export_sinks[1].config.path", "memory_export_sinks[1].config.path is required (a non-empty string)")
    rejects({ access_control = { policy_provider = "static_policy", policy_provider_config = {
              rules = { { principal = "a", bank_id = "*" }, { principal = "b", bank_id = "*", effect = "maybe" } } } } },
            "access_control.policy_provider_config.rules[2].effect",
            "access_control.policy_provider_config.rules[2].effect must be one of allow, deny; got 'maybe'")
    rejects({ access_control = { policy_provider = "opa", policy_provider_config = { path = "a/b" } } },
            "access_control.policy_provider_config.url",
            "access_control.policy_provider_config.url is required (a string matching ^https?://[^%s]+$)")
    rejects({ outbound_transport = { provider = "proxy_transport", config = { headers = { ["X-A"] = 1 } } } },
            "outbound_transport.config.headers.X-A", "outbound_transport.config.headers.X-A must be a string, got number")
    rejects({ vector_store_config = { bm25 = { b = 2 } } }, "vector_store_config.bm25.b",
            "vector_store_config.bm25.b must be a number between 0 and 1, got 2")
    rejects({ vector_index = { M = 1 } }, "vector_index.M", "vector_index.M must be an integer between 2 and 128, got 1")
  end)

  it("never shows a secret's value in an error", function()
    local ok, err = config.load({ outbound_transport = { provider = "proxy_transport",
                                                         config = { proxy = "bob:hunter2-secret at proxy" } } })
    assert.is_nil(ok)
    assert.equal("outbound_transport.config.proxy must be a string matching ^%a[%w+.-]*://[^%s]+$, got ***", err.message)
    ok, err = config.load({ llm_provider = "openai", llm_provider_config = { api_key = "" } })
    assert.is_nil(ok)
    assert.equal("llm_provider_config.api_key must be a non-empty string, got ***", err.message)
  end)

  it("open() fails on the same error and leaves nothing behind", function()
    local db = dir .. "/never.db"
    local eng, err = astrocyte.open({ vector_store_config = { path = db }, embedding_provider_config = { dimension = 64 } })
    assert.is_nil(eng)
    assert.equal("ConfigError", err.kind)
    assert.equal("unknown key 'embedding_provider_config.dimension' (did you mean 'dimensions'?)", err.message)
    assert.is_nil(io.open(db, "rb"))
  end)

  it("config check prints defaults filled and secrets masked", function()
    local file = write("full.yaml", table.concat({
      "vector_store: postgres",
      "vector_store_config: { dsn: 'postgres://app:pg-secret-pw@db.internal/mem', pool_size: 8 }",
      "embedding_provider: openai",
      "embedding_provider_config: { api_key: sk-openai-secret-123, model: text-embedding-3-small,",
      "  headers: { X-Api-Token: hdr-secret-456 } }",
      "graph_store: neo4j",
      "graph_store_config: { password: neo-secret-789 }",
      "outbound_transport:",
      "  provider: proxy_transport",
      "  config: { proxy: 'http://u:proxy-secret-000@p:3128', proxy_headers: { Proxy-Authorization: Bearer px-secret-111 } }",
      "memory_export_sinks:",
      "  - { provider: webhook_sink, config: { url: 'http://127.0.0.1:9/h', secret: whsec-secret-222 } }",
      "",
    }, "\n"))
    for _, json in ipairs({ false, true }) do
      local code, out, err = config_check(file, nil, json)
      assert.equal(0, code, err)
      assert.is_nil(out:find("secret%-%d%d%d"), out)
      local back = json and require("astrocyte.util").json.decode(out) or require("lyaml").load(out)
      local v = back.vector_store_config
      assert.equal("***", v.dsn)
      assert.equal(8, v.pool_size)
      assert.equal(3, v.reconnect_attempts)
      assert.equal("public", v.schema)
      assert.equal("hnsw", v.vector_index)
      assert.equal(16, v.vector_index_params.m)
      local e = back.embedding_provider_config
      assert.equal("***", e.api_key)
      assert.same({ ["X-Api-Token"] = "***" }, e.headers)
      assert.equal("https://api.openai.com/v1", e.base_url)
      assert.equal(256, e.batch_size)
      assert.equal(2, e.max_retries)
      assert.is_nil(e.url)                      -- the other name of base_url gets no default
      assert.equal("***", back.graph_store_config.password)
      assert.equal("neo4j", back.graph_store_config.user)
      assert.equal(6, back.graph_store_config.max_depth_cap)
      local t = back.outbound_transport.config
      assert.equal("***", t.proxy)
      assert.same({ ["Proxy-Authorization"] = "***" }, t.proxy_headers)
      local s = back.memory_export_sinks[1].config
      assert.equal("***", s.secret)
      assert.equal("http://127.0.0.1:9/h", s.url)
      assert.equal(1000, s.queue_size)
    end
  end)

  it("gives --db only to a store that has a path", function()
    local cfg = assert(config.load({ vector_store = "qdrant" }, { db = dir .. "/x.db" }))
    assert.is_nil(cfg.vector_store_config.path)
    cfg = assert(config.load({ vector_store = "sqlite" }, { db = dir .. "/x.db" }))
    assert.equal(dir .. "/x.db", cfg.vector_store_config.path)
  end)

  it("gives the top-level vector_index section only to a store whose vector_index is that section", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory", vector_index = { hnsw_threshold = 5 } }))
    assert.same({ hnsw_threshold = 5 }, eng.cfg.vector_store_config.vector_index)
    eng:close()
    -- postgres's vector_index is the index kind: the section used to reach
    -- it and fail its check; now the store gets as far as connecting.
    local err
    eng, err = astrocyte.open({ vector_store = "postgres", vector_index = { hnsw_threshold = 5 },
      vector_store_config = { dsn = "postgresql://u@127.0.0.1:9/db", reconnect_attempts = 0 } })
    assert.is_nil(eng)
    assert.equal("ProviderUnavailable", err.kind, err.message)
  end)

  describe("custom providers", function()
    local saved
    before_each(function()
      saved = package.path
      package.path = dir .. "/?.lua;" .. root .. "/examples/custom_vector_store/?.lua;" .. package.path
    end)
    after_each(function()
      package.path = saved
      for _, m in ipairs({ "schema_store", "split_store", "split_store.schema", "broken_store", "broken_store.schema" }) do
        package.loaded[m] = nil
      end
    end)

    local STORE = [[
local Store = { SPI_VERSION = 1 }
Store.__index = Store
function Store.new(conf) return setmetatable({ conf = conf }, Store) end
for _, m in ipairs({ "store_vectors", "search_similar", "delete", "list_vectors", "health" }) do
  Store[m] = function() return {} end
end
]]

    it("are checked against the schema they export", function()
      write("schema_store.lua", STORE .. [[
return { Store = Store, schema = { vector_stores = {
  dims = { "integer", min = 1, default = 384 }, token = { "string", secret = true } } } }
]])
      rejects({ vector_store = "schema_store:Store", vector_store_config = { dimz = 3 } }, "vector_store_config.dimz",
              "unknown key 'vector_store_config.dimz' (did you mean 'dims'?)")
      rejects({ vector_store = "schema_store:Store", vector_store_config = { dims = 0 } }, "vector_store_config.dims",
              "vector_store_config.dims must be an integer >= 1, got 0")
      local cfg = assert(config.load({ vector_store = "schema_store:Store", vector_store_config = { token = "tok-123" } }))
      local shown = config.masked(cfg)
      assert.same({ dims = 384, token = "***" }, shown.vector_store_config)
      assert.equal("tok-123", cfg.vector_store_config.token)   -- the engine's own config is untouched
      assert.is_nil(cfg.vector_store_config.dims)
    end)

    it("are checked against a <module>.schema module", function()
      os.execute("mkdir -p " .. q(dir .. "/split_store"))
      write("split_store.lua", STORE .. "return { Store = Store }\n")
      write("split_store/schema.lua", "return { vector_stores = { size = { 'integer', required = true } } }\n")
      rejects({ vector_store = "split_store:Store" }, "vector_store_config.size",
              "vector_store_config.size is required (an integer)")
      assert(config.load({ vector_store = "split_store:Store", vector_store_config = { size = 3 } }))
    end)

    it("report a schema that fails to load", function()
      os.execute("mkdir -p " .. q(dir .. "/broken_store"))
      write("broken_store.lua", STORE .. "return { Store = Store }\n")
      write("broken_store/schema.lua", "error('no schema here')\n")
      local ok, err = config.load({ vector_store = "broken_store:Store" })
      assert.is_nil(ok)
      assert.equal("ConfigError", err.kind)
      assert.truthy(err.message:find("vector_store: provider 'broken_store:Store': its schema module broken_store.schema " ..
                                     "failed to load: ", 1, true), err.message)
    end)

    it("without a schema are not checked", function()
      local cfg = assert(config.load({ vector_store = "my_store:Store", vector_store_config = { dims = 8, anything = { 1 } } }))
      assert.same({ dims = 8, anything = { 1 } }, config.masked(cfg).vector_store_config)
      -- and get the top-level vector_index section as before
      local eng = assert(astrocyte.open({ vector_store = "my_store:Store", vector_index = { hnsw_threshold = 5 } }))
      assert.same({ hnsw_threshold = 5 }, eng.cfg.vector_store_config.vector_index)
      eng:close()
    end)
  end)

  describe("the schema language", function()
    it("fills defaults, skips a key whose other name is set, and masks secret maps and list items", function()
      local s = {
        url = { "string", default = "http://d" }, base_url = { "string", alias_of = "url" },
        n = { "integer", default = 3 }, sub = { a = { "boolean", default = true }, b = "string" },
        empty = { c = "string" },
        h = { "map", values = "string", secret = true },
        items = { "list", items = { k = { "string", secret = true }, x = "number" } },
      }
      local t = check.fill({ base_url = "http://b", h = { A = "1" }, items = { { k = "s1", x = 1 } } }, s)
      assert.same({ base_url = "http://b", n = 3, sub = { a = true }, h = { A = "1" }, items = { { k = "s1", x = 1 } } }, t)
      assert.same({ base_url = "http://b", n = 3, sub = { a = true }, h = { A = "***" }, items = { { k = "***", x = 1 } } },
                  check.mask(t, s))
      assert.is_true(check.check({ base_url = "http://b" }, s, "p"))
      local ok, kp, msg = check.check({ items = { { x = "one" } } }, s, "p")
      assert.is_nil(ok)
      assert.equal("p.items[1].x", kp)
      assert.equal("p.items[1].x must be a number, got string", msg)
    end)

    it("accepts either of two types and requires a key unless its other name is set", function()
      local s = { port = "string|number", url = { "string", required = true }, u = { "string", alias_of = "url" } }
      assert.is_true(check.check({ port = 5432, url = "x" }, s, "c"))
      assert.is_true(check.check({ port = "5432", u = "x" }, s, "c"))
      local ok, kp, msg = check.check({ port = true }, s, "c")
      assert.is_nil(ok)
      assert.equal("c.port", kp)
      assert.equal("c.port must be a string or number, got boolean", msg)
      ok, kp, msg = check.check({}, s, "c")
      assert.is_nil(ok)
      assert.equal("c.url", kp)
      assert.equal("c.url is required (a string)", msg)
    end)
  end)
end)
