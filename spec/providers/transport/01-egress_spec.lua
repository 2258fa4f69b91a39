-- Outbound transport: the OutboundTransportProvider conformance suite for
-- proxy_transport and onecli, and proof that egress follows the configured
-- transport — a loopback forward proxy (spec/support/servers/proxy_server.py)
-- counts every request, and the counts must equal what the origin saw.
local testing = require "astrocyte.testing"
local server = require "support.server"
local transport = require "astrocyte.net.transport"
local proxy_transport = require "astrocyte.providers.proxy_transport"
local onecli = require "astrocyte.providers.onecli"
local openai = require "astrocyte.providers.openai"

local KEY = "sk-egress-5e6f7a8b9c0d"

describe("outbound transport", function()
  testing.outbound_transport(function()
    return proxy_transport.outbound_transports({ proxy = "http://127.0.0.1:3128", headers = { ["X-Team"] = "a" } })
  end, { title = "proxy_transport" })
  testing.outbound_transport(function()
    return onecli.outbound_transports({ gateway_url = "http://127.0.0.1:10255", token = "oc-token-1234567890" })
  end, { title = "onecli" })

  describe("egress through a loopback proxy", function()
    local origin, proxy
    setup(function()
      origin = server.start("openai", { "--api-key", KEY })
      proxy = server.start("proxy")
    end)
    teardown(function()
      transport.use(nil)
      if origin then origin:stop() end
      if proxy then proxy:stop() end
    end)
    before_each(function()
      transport.use(nil)
      origin:reset()
      proxy:admin("POST", "/__admin/reset", {})
    end)

    local function provider(extra)
      local conf = { base_url = origin.url .. "/v1", api_key = KEY, model = "m", dimensions = 64 }
      for k, v in pairs(extra or {}) do conf[k] = v end
      return assert(openai.llm_providers(conf))
    end

    it("routes an engine's egress through its top-level outbound_transport", function()
      local astrocyte = require "astrocyte"
      local eng = assert(astrocyte.open({ vector_store = "in_memory", embedding_provider = "openai",
        embedding_provider_config = { base_url = origin.url .. "/v1", api_key = KEY, model = "m", dimensions = 64 },
        llm_provider = "openai",
        llm_provider_config = { base_url = origin.url .. "/v1", api_key = KEY, model = "m" },
        outbound_transport = { provider = "proxy_transport", config = { proxy = proxy.url } } }))
      assert(eng:retain("Ana prefers green tea", { bank_id = "p" }))
      assert(eng:reflect("what does Ana prefer?", { bank_id = "p" }))
      eng:close()
      local seen, routed = origin:stats().requests, proxy:stats()
      assert.is_true(seen >= 3)
      assert.equal(seen, routed.requests)
      -- another engine without the key sends directly
      local direct = assert(astrocyte.open({ vector_store = "in_memory", embedding_provider = "openai",
        embedding_provider_config = { base_url = origin.url .. "/v1", api_key = KEY, model = "m", dimensions = 64 } }))
      assert(direct:retain("no proxy here", { bank_id = "p" }))
      direct:close()
      assert.equal(seen + 1, origin:stats().requests)
      assert.equal(routed.requests, proxy:stats().requests)
    end)

    it("sends every request of an engine through the configured proxy", function()
      assert(transport.use({ provider = "proxy_transport", config = { proxy = proxy.url } }))
      local astrocyte = require "astrocyte"
      local eng = assert(astrocyte.open({ vector_store = "in_memory", embedding_provider = "openai",
        embedding_provider_config = { base_url = origin.url .. "/v1", api_key = KEY, model = "m", dimensions = 64 } }))
      assert(eng:retain("Ana prefers green tea", { bank_id = "p" }))
      assert(eng:retain("Ben drinks espresso", { bank_id = "p" }))
      assert.equal("Ana prefers green tea", assert(eng:recall("green tea", { bank_id = "p" })).hits[1].text)
      local p = provider()
      assert(p:complete({ { role = "user", content = "hi" } }))
      assert(p:health().healthy)
      eng:close()
      local seen, routed = origin:stats().requests, proxy:stats()
      assert.is_true(seen >= 5)
      assert.equal(seen, routed.requests)
      assert.equal(seen, routed.by_host[origin.host])
    end)

    it("goes direct without a transport (and with no proxy in the environment)", function()
      transport.use(nil)
      assert(provider({ outbound_transport = { provider = "proxy_transport", config = {} } }):embed({ "a" }))
      assert.equal(1, origin:stats().requests)
      assert.equal(0, proxy:stats().requests)
    end)

    it("lets a provider's own outbound_transport override the active one", function()
      assert(provider({ outbound_transport = { provider = "proxy_transport", config = { proxy = proxy.url } } }):embed({ "a" }))
      assert.equal(1, proxy:stats().requests)
    end)

    it("routes through a OneCLI-style gateway with its token sent to the proxy only", function()
      local gw = server.start("proxy", { "--require-auth", "oc-gateway-token-123456" })
      assert(transport.use({ provider = "onecli", config = { gateway_url = gw.url, token = "oc-gateway-token-123456" } }))
      assert(provider():embed({ "a" }))
      local st = gw:stats()
      assert.equal(1, st.requests)
      assert.equal(1, st.proxy_auth)
      -- A wrong token: the gateway refuses (407) and the token is not in the error.
      assert(transport.use({ provider = "onecli", config = { gateway_url = gw.url, token = "oc-wrong-token-000000" } }))
      local v, err = provider():embed({ "a" })
      assert.is_nil(v)
      assert.equal(407, err.status)
      assert.is_nil(tostring(err):find("oc-wrong-token-000000", 1, true))
      gw:stop()
    end)

    it("never shows proxy credentials in errors", function()
      assert(transport.use({ provider = "proxy_transport", config = { proxy = "http://bob:hunter2-secret@127.0.0.1:1" } }))
      local v, err = provider({ max_retries = 0 }):embed({ "a" })
      assert.is_nil(v)
      assert.is_nil(tostring(err):find("hunter2-secret", 1, true))
      assert.is_nil(tostring(err):find(KEY, 1, true))
    end)
  end)

  describe("astrocyte.net.transport", function()
    after_each(function() transport.use(nil) end)

    it("honours HTTP_PROXY / HTTPS_PROXY / NO_PROXY / SSL_CERT_FILE when no provider is configured", function()
      local env = { HTTP_PROXY = "http://p:1", https_proxy = "http://p:2", NO_PROXY = "localhost", SSL_CERT_FILE = "/ca.pem" }
      local ctx = transport.from_env(function(k) return env[k] end)
      assert.same({ http = "http://p:1", https = "http://p:2" }, ctx.proxies)
      assert.equal("localhost", ctx.no_proxy)
      assert.equal("/ca.pem", ctx.ca_bundle)
    end)

    it("applies the provider to a fresh context and exposes subprocess_env", function()
      assert(transport.use({ provider = "proxy_transport",
        config = { proxy = "http://p:3128", ca_bundle = "/ca.pem", headers = { ["X-A"] = "1" }, timeouts = { connect = 2 } } }))
      local ctx = transport.current()
      assert.equal("http://p:3128", ctx.proxy)
      assert.equal("/ca.pem", ctx.ca_bundle)
      assert.equal("1", ctx.headers["X-A"])
      assert.equal(2, ctx.timeouts.connect)
      assert.same({ HTTP_PROXY = "http://p:3128", http_proxy = "http://p:3128", HTTPS_PROXY = "http://p:3128",
                    https_proxy = "http://p:3128", SSL_CERT_FILE = "/ca.pem", REQUESTS_CA_BUNDLE = "/ca.pem" },
                  transport.subprocess_env())
    end)

    it("masks credentials for display", function()
      local m = transport.masked({ proxy = "http://u:pw@p:1", headers = { Authorization = "Bearer x", ["X-A"] = "1" },
                                   proxy_headers = { ["Proxy-Authorization"] = "Bearer y" } })
      assert.equal("http://***@p:1", m.proxy)
      assert.equal("***", m.headers.Authorization)
      assert.equal("1", m.headers["X-A"])
      assert.equal("***", m.proxy_headers["Proxy-Authorization"])
    end)

    it("reports an unknown transport provider as a ConfigError", function()
      local ok, err = transport.use({ provider = "no_such_transport" })
      assert.is_nil(ok)
      assert.equal("ConfigError", err.kind)
      assert.matches("not found", err.message)
    end)

    it("rejects a bad proxy URL with a message naming the key", function()
      local ok, err = transport.use({ provider = "proxy_transport", config = { proxy = "not a url" } })
      assert.is_nil(ok)
      assert.matches("proxy must be a URL", err.message)
    end)
  end)
end)
