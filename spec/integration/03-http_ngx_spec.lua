-- astrocyte.http_ngx (cosocket backend of astrocyte.http) inside a real
-- nginx with one worker, against the loopback OpenAI server and the
-- loopback proxy: it is the backend chosen in nginx, a provider call does
-- not block the worker (libcurl does, measured side by side), bodies of
-- every framing arrive whole, connections are pooled, and failures carry
-- the same kinds as libcurl's (timeout, connect, reset, too_large).
local util = require "astrocyte.util"
local core = require "astrocyte.core"
local server = require "support.server"
local nginx = require "support.nginx"
local tmp = require "support.tmp"
local json = util.json

if nginx.skip("http_ngx in nginx", pending) then return end

local KEY = "sk-ngx-test-0000"

local CONF = nginx.conf_head(1) .. [[
  lua_ssl_trusted_certificate @CERTS@/trusted.pem;
  lua_ssl_verify_depth 2;
  init_by_lua_block {
    require "astrocyte"
    local http = require "astrocyte.http"
    local util = require "astrocyte.util"
    local app = {}
    -- POST JSON {url, method?, body?, max?, timeout_ms?, proxy?, repeat?}:
    -- runs the request(s) through astrocyte.http, answers what happened
    function app.call(o, backend)
      local c = assert(http.new({ name = "t", max_retries = 0, timeout_ms = o.timeout_ms,
        backend = backend, transport = { proxy = o.proxy, headers = {} } }))
      local out = { backend = c.backend._NAME or "http_curl" }
      ngx.update_time()
      local t0 = ngx.now()
      for _ = 1, o["repeat"] or 1 do
        local res, err = c:request({ method = o.method, url = o.url, body = o.body, max_response_bytes = o.max,
          headers = { Authorization = "Bearer @KEY@" } })
        out.status, out.len = res and res.status, res and #res.body
        out.head = res and res.body:sub(1, 40)
        out.sum = res and ngx.md5(res.body)
        out.err, out.kind = err and err.message, err and err.network_error
      end
      out.stats = c.conn.stats
      ngx.update_time()
      out.ms = (ngx.now() - t0) * 1000
      return out
    end
    package.loaded.ngx_spec_app = app
  }
  # TLS: a certificate the client trusts, and one it does not
  server {
    listen 127.0.0.1:@PORT1@ ssl;
    ssl_certificate @CERTS@/trusted.pem;
    ssl_certificate_key @CERTS@/trusted.key;
    location / { content_by_lua_block { ngx.say("over tls ", ngx.var.ssl_protocol) } }
  }
  server {
    listen 127.0.0.1:@PORT2@ ssl;
    ssl_certificate @CERTS@/untrusted.pem;
    ssl_certificate_key @CERTS@/untrusted.key;
    location / { content_by_lua_block { ngx.say("should not be read") } }
  }
  server {
    listen 127.0.0.1:@PORT@;
    location = /ping { content_by_lua_block { ngx.say("pong") } }
    location = /chunked {
      content_by_lua_block {
        for i = 1, 5 do ngx.print(("chunk" .. i .. ";"):rep(2000)); ngx.flush(true) end
      }
    }
    location = /close-delimited {
      chunked_transfer_encoding off;
      content_by_lua_block {
        for i = 1, 3 do ngx.print(("part" .. i .. ";"):rep(3000)); ngx.flush(true) end
      }
    }
    location = /sized {
      content_by_lua_block {
        local body = ("0123456789"):rep(20000)
        ngx.header.content_length = #body
        ngx.print(body)
      }
    }
    location = /call {
      content_by_lua_block {
        local util = require "astrocyte.util"
        ngx.req.read_body()
        ngx.say(util.encode(package.loaded.ngx_spec_app.call(util.json.decode(ngx.req.get_body_data()))))
      }
    }
    location = /call-curl {
      content_by_lua_block {
        local util = require "astrocyte.util"
        ngx.req.read_body()
        ngx.say(util.encode(package.loaded.ngx_spec_app.call(util.json.decode(ngx.req.get_body_data()),
          require "astrocyte.http_curl")))
      }
    }
    # set_by_lua has no cosockets: the backend falls back to libcurl
    location = /call-in-set {
      set_by_lua_block $result {
        local out = package.loaded.ngx_spec_app.call({ url = ngx.unescape_uri(ngx.var.arg_url) })
        return require("astrocyte.util").encode(out)
      }
      content_by_lua_block { ngx.say(ngx.var.result) }
    }
    # the openai provider, unchanged, embedding through the cosocket backend
    location = /embed {
      content_by_lua_block {
        local util = require "astrocyte.util"
        local openai = require "astrocyte.providers.openai"
        local p = assert(openai.llm_providers({ base_url = ngx.unescape_uri(ngx.var.arg_base), api_key = "@KEY@", model = "m" }))
        local v, err = p:embed({ "alpha beta", "gamma delta" })
        ngx.say(util.encode({ n = v and #v or 0, dims = v and #v[1] or 0, err = err and err.message }))
      }
    }
  }
}
]]

describe("http_ngx in nginx", function()
  local ngx_server, ai, proxy, certs

  local function call(path, o)
    local status, body = ngx_server:http("POST", path, json.encode(o))
    assert.equal(200, status, body .. "\n" .. ngx_server:error_log())
    return assert(json.decode(body), body)
  end

  setup(function()
    ai = server.start("openai", { "--api-key", KEY, "--dims", "16" })
    proxy = server.start("proxy")
    -- self-signed certificates for 127.0.0.1, made for this run
    certs = tmp.dir()
    for _, name in ipairs({ "trusted", "untrusted" }) do
      assert(os.execute(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1"
        .. " -addext subjectAltName=DNS:127.0.0.1,IP:127.0.0.1 -keyout %s/%s.key -out %s/%s.pem >/dev/null 2>&1")
        :format(certs, name, certs, name)))
    end
    os.execute("chmod 755 " .. certs)
    ngx_server = nginx.start((CONF:gsub("@KEY@", KEY):gsub("@CERTS@", certs)), "/ping")
  end)
  teardown(function()
    if ngx_server then ngx_server:stop() end
    if ai then ai:stop() end
    if proxy then proxy:stop() end
    tmp.rm(certs)
  end)
  before_each(function() ai:reset() end)

  it("is the backend astrocyte.http picks in nginx, and a provider works through it", function()
    local out = call("/call", { url = ai.url .. "/v1/models", ["repeat"] = 3 })
    assert.equal("http_ngx", out.backend)
    assert.equal(200, out.status)
    assert.equal(3, out.stats.cosocket)
    assert.equal(0, out.stats.fallback)
    assert.truthy(out.stats.reused >= 2, "keepalive pool not reused: " .. json.encode(out.stats))

    local status, body = ngx_server:http("GET", "/embed?base=" .. nginx.urlencode(ai.url .. "/v1"))
    assert.equal(200, status, body .. ngx_server:error_log())
    assert.same({ n = 2, dims = 16 }, { n = json.decode(body).n, dims = json.decode(body).dims }, body)
  end)

  it("reads chunked, close-delimited and sized bodies whole", function()
    local self_url = ngx_server.url
    local out = call("/call", { url = self_url .. "/chunked" })
    local want = {}
    for i = 1, 5 do want[#want + 1] = ("chunk" .. i .. ";"):rep(2000) end
    assert.equal(#table.concat(want), out.len)
    out = call("/call", { url = self_url .. "/close-delimited" })
    assert.equal(#("part1;"):rep(3000) * 3, out.len)
    out = call("/call", { url = self_url .. "/sized" })
    assert.equal(200000, out.len)
    assert.equal("0123456789012345678901234567890123456789", out.head)
  end)

  it("does not block the worker while a provider call waits (libcurl does)", function()
    local function timed_ping_during(path)
      ai:fault({ kind = "delay", delay_ms = 3000, count = 1, path = "models" })
      local outfile = ngx_server.prefix .. "/tmp/bg-" .. path:gsub("%W", "")
      os.execute("curl -s --max-time 10 -X POST --data-binary '" .. json.encode({ url = ai.url .. "/v1/models" })
        .. "' '" .. ngx_server.url .. path .. "' > '" .. outfile .. "' 2>/dev/null &")
      -- wait until the slow request has reached the loopback server
      for _ = 1, 100 do
        if (ai:stats().by_path["/v1/models"] or 0) >= 1 then break end
        os.execute("sleep 0.02")
      end
      local t0 = core.now_ms()
      local status = ngx_server:http("GET", "/ping")
      local waited = core.now_ms() - t0
      assert.equal(200, status)
      for _ = 1, 200 do
        local body = nginx.read_file(outfile)
        if body and body:find("}", 1, true) then return waited, json.decode(body) end
        os.execute("sleep 0.05")
      end
      error("the slow request never answered")
    end
    local waited, out = timed_ping_during("/call")
    assert.equal(200, out.status)
    assert.equal("http_ngx", out.backend)
    assert.truthy(waited < 1500, "ping waited " .. waited .. " ms behind a cosocket call")
    ai:reset()
    local waited_curl, out_curl = timed_ping_during("/call-curl")
    assert.equal(200, out_curl.status)
    assert.truthy(waited_curl > 2000, "ping waited only " .. waited_curl .. " ms behind a libcurl call")
  end)

  it("falls back to libcurl where the phase has no cosockets", function()
    local status, body = ngx_server:http("GET", "/call-in-set?url=" .. nginx.urlencode(ai.url .. "/v1/models"))
    assert.equal(200, status, body)
    local out = json.decode(body)
    assert.equal(200, out.status, body .. ngx_server:error_log())
    assert.equal(1, out.stats.fallback)
    assert.equal(0, out.stats.cosocket)
  end)

  it("speaks TLS, verifying the server's certificate", function()
    local tls = "https://127.0.0.1:" .. (ngx_server.port + 1)
    local out = call("/call", { url = tls .. "/hello", ["repeat"] = 2 })
    assert.equal(200, out.status, json.encode(out))
    assert.matches("^over tls TLSv1%.[23]", out.head)
    assert.equal(1, out.stats.reused)                  -- the pooled TLS session is reused
    out = call("/call", { url = "https://127.0.0.1:" .. (ngx_server.port + 2) .. "/" })
    assert.equal("tls", out.kind, json.encode(out))
    assert.matches("TLS handshake with 127.0.0.1", out.err, 1, true)
  end)

  it("goes through a configured HTTP proxy (absolute-form for http, CONNECT for https)", function()
    proxy:admin("POST", "/__admin/reset", {})
    local out = call("/call", { url = ai.url .. "/v1/models", proxy = proxy.url, ["repeat"] = 2 })
    assert.equal(200, out.status)
    assert.equal(2, proxy:admin("GET", "/__admin/stats").requests)
    -- https goes through a CONNECT tunnel, TLS end to end with the origin
    local tls = "https://127.0.0.1:" .. (ngx_server.port + 1)
    out = call("/call", { url = tls .. "/x", proxy = proxy.url })
    assert.equal(200, out.status, json.encode(out))
    assert.matches("^over tls", out.head)
    local st = proxy:admin("GET", "/__admin/stats")
    assert.equal(1, st.tunnels)
    assert.equal(1, st.by_host["127.0.0.1:" .. (ngx_server.port + 1)])
    -- a proxy that refuses CONNECT: a clear error, nothing sent to the origin
    local strict = server.start("proxy", { "--refuse-connect" })
    finally(function() strict:stop() end)
    out = call("/call", { url = tls .. "/x", proxy = strict.url })
    assert.equal("connect", out.kind)
    assert.matches("proxy CONNECT refused (HTTP 405)", out.err, 1, true)
  end)

  it("reports timeouts, refused connections, resets and oversized bodies with libcurl's kinds", function()
    -- the server answers after 3 s; the call gives up after 200 ms (timed
    -- inside nginx, with a wide margin for a loaded machine)
    ai:fault({ kind = "delay", delay_ms = 3000, count = 1, path = "models" })
    local out = call("/call", { url = ai.url .. "/v1/models", timeout_ms = 200 })
    assert.equal("timeout", out.kind)
    assert.matches("timeout", out.err)
    assert.truthy(out.ms >= 190 and out.ms < 1500, out.ms .. " ms")

    out = call("/call", { url = "http://127.0.0.1:1/v1/models" })
    assert.equal("connect", out.kind)
    assert.matches("cannot connect to 127.0.0.1:1", out.err, 1, true)

    ai:fault({ kind = "reset", count = 1, path = "models" })
    out = call("/call", { url = ai.url .. "/v1/models" })
    assert.equal("reset", out.kind)

    out = call("/call", { url = ngx_server.url .. "/sized", max = 1000 })
    assert.equal("too_large", out.kind)
    out = call("/call", { url = ngx_server.url .. "/chunked", max = 1000 })
    assert.equal("too_large", out.kind)
  end)
end)
