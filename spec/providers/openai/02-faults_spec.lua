-- Fault injection through the openai provider and astrocyte.http against
-- the loopback server: 429 with Retry-After (seconds, HTTP-date, over the
-- cap), 5xx, timeouts, connection resets, malformed JSON, refused
-- connections and the response size cap. Every failure is a clear error
-- object, retries are bounded, a failed retain stores nothing, and the API
-- key never appears in an error message or a log line.
local server = require "support.server"
local openai = require "astrocyte.providers.openai"
local curl = require "astrocyte.http_curl"
local core = require "astrocyte.core"

local KEY = "sk-faults-1b2c3d4e5f6a7b8c"

describe("openai provider under faults", function()
  local s, logs, seen_errors
  setup(function() s = server.start("openai", { "--api-key", KEY }) end)
  teardown(function() if s then s:stop() end end)
  before_each(function()
    s:reset()
    logs, seen_errors = {}, {}
  end)

  local function new(extra)
    local conf = { base_url = s.url .. "/v1", api_key = KEY, model = "m", timeout_ms = 2000,
                   max_retries = 2, backoff_ms = 10, max_backoff_ms = 50,
                   log = function(level, line) logs[#logs + 1] = level .. " " .. line end }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return assert(openai.llm_providers(conf))
  end

  -- Calls fn expecting nil, err; records err for the secrets check.
  local function fails(fn)
    local v, err = fn()
    assert.is_nil(v)
    assert.is_table(err)
    seen_errors[#seen_errors + 1] = tostring(err)
    return err
  end

  after_each(function()
    for _, m in ipairs(seen_errors) do assert.is_nil(m:find(KEY, 1, true), "API key in error: " .. m) end
    for _, l in ipairs(logs) do assert.is_nil(l:find(KEY, 1, true), "API key in log line: " .. l) end
  end)

  it("honours Retry-After (seconds) on 429 and then succeeds", function()
    s:fault { kind = "429", count = 1, retry_after = "1", path = "embeddings" }
    local t0 = core.now_ms()
    local v = assert(new():embed({ "a b" }))
    local waited = core.now_ms() - t0
    assert.equal(1, #v)
    assert.is_true(waited >= 950, "waited only " .. waited .. " ms")
    assert.equal(2, s:stats().requests)
    assert.equal(1, #logs)
    assert.matches("HTTP 429, retry after 1.0 s", logs[1], 1, true)
  end)

  it("honours Retry-After given as an HTTP-date", function()
    local http = require "astrocyte.http"
    local now = os.time()
    local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", now + 2)
    local ms = http.retry_after_ms(date, now)
    assert.is_true(ms >= 1900 and ms <= 2100, tostring(ms))
    assert.equal(1500, http.retry_after_ms("1.5"))
    assert.is_nil(http.retry_after_ms("soon"))
  end)

  it("does not wait for a Retry-After beyond the cap and reports it", function()
    s:fault { kind = "429", count = 1, retry_after = "120" }
    local err = fails(function() return new():embed({ "a" }) end)
    assert.equal("ProviderUnavailable", err.kind)
    assert.equal(429, err.status)
    assert.equal(120000, err.retry_after_ms)
    assert.matches("not retried: over the 30000 ms cap", err.message, 1, true)
    assert.equal(1, s:stats().requests)
  end)

  it("retries 5xx on idempotent calls a bounded number of times", function()
    s:fault { kind = "503", count = 10 }
    local err = fails(function() return new():embed({ "a" }) end)
    assert.equal("ProviderUnavailable", err.kind)
    assert.equal(503, err.status)
    assert.matches("HTTP 503.*after 3 attempts", err.message)
    assert.equal(3, s:stats().requests)
    s:reset()
    s:fault { kind = "500", count = 2 }
    assert.equal(1, #assert(new():embed({ "a" })))
    assert.equal(3, s:stats().requests)
  end)

  it("never retries a non-idempotent completion on 5xx", function()
    s:fault { kind = "500", count = 1 }
    local err = fails(function() return new():complete({ { role = "user", content = "hi" } }) end)
    assert.equal(500, err.status)
    assert.equal(1, s:stats().requests)
  end)

  it("turns a slow server into a timeout error, bounded", function()
    s:fault { kind = "delay", delay_ms = 800, count = 5 }
    local t0 = core.now_ms()
    local err = fails(function() return new({ timeout_ms = 200, max_retries = 1 }):embed({ "a" }) end)
    assert.equal("ProviderUnavailable", err.kind)
    assert.equal("timeout", err.network_error)
    assert.matches("timeout", err.message)
    assert.matches("after 2 attempts", err.message)
    assert.is_true(core.now_ms() - t0 < 1500)
  end)

  it("retries a connection reset and reports it when it persists", function()
    s:fault { kind = "reset", count = 1 }
    assert.equal(1, #assert(new():embed({ "a" })))
    s:fault { kind = "reset", count = 5 }
    local err = fails(function() return new():embed({ "a" }) end)
    assert.equal("reset", err.network_error)
    assert.matches("after 3 attempts", err.message)
  end)

  it("reports malformed JSON as a ProviderError without retrying", function()
    s:fault { kind = "malformed", count = 1 }
    local err = fails(function() return new():embed({ "a" }) end)
    assert.equal("ProviderError", err.kind)
    assert.matches("malformed JSON in the HTTP 200 response", err.message, 1, true)
    assert.equal(1, s:stats().requests)
  end)

  it("reports a refused connection clearly", function()
    local dead = server.start("openai")
    local url = dead.url
    dead:stop()
    local err = fails(function() return new({ base_url = url .. "/v1", max_retries = 1 }):embed({ "a" }) end)
    assert.equal("connect", err.network_error)
    assert.matches("connection refused", err.message)
  end)

  it("aborts a response over max_response_bytes", function()
    local texts = {}
    for i = 1, 200 do texts[i] = "text " .. i end
    local err = fails(function() return new({ max_response_bytes = 4096 }):embed(texts) end)
    assert.equal("too_large", err.network_error)
    assert.matches("response exceeds 4096 bytes", err.message, 1, true)
  end)

  it("a failed embedding during retain leaves nothing stored", function()
    local astrocyte = require "astrocyte"
    local eng = assert(astrocyte.open({ embedding_provider = "openai",
      embedding_provider_config = { base_url = s.url .. "/v1", api_key = KEY, model = "m", dimensions = 64,
                                    max_retries = 0 },
      vector_store = "in_memory" }))
    s:fault { kind = "500", count = 1 }
    local r, err = eng:retain("Ana likes tea. Ben likes coffee.", { bank_id = "b" })
    assert.is_nil(r)
    seen_errors[#seen_errors + 1] = tostring(err)
    assert.equal("ProviderUnavailable", err.kind)
    assert.same({}, eng.vector_store:list_vectors("b", 0, 100))
    eng:close()
  end)

  it("never puts the API key in errors, even when the server echoes it", function()
    local err = fails(function() return new({ api_key = "sk-wrong-echo-99887766" }):embed({ "a" }) end)
    assert.equal("ProviderError", err.kind)
    assert.equal(401, err.status)
    assert.matches("Incorrect API key provided: ***", err.message, 1, true)
    assert.is_nil(tostring(err):find("sk-wrong-echo-99887766", 1, true))
    -- A 429 storm logs retries; none of the lines carries the key.
    s:fault { kind = "429", count = 2, retry_after = "0" }
    assert(new():embed({ "a" }))
    assert.equal(2, #logs)
  end)

  it("gives curl-level errors for unreachable hosts without leaking the key", function()
    local p = new({ base_url = "http://user:" .. KEY .. "@127.0.0.1:1/v1", max_retries = 0 })
    local err = fails(function() return p:embed({ "a" }) end)
    assert.matches("connection refused", err.message)
    curl.sleep_ms(1)
  end)
end)
