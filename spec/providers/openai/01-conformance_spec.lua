-- astrocyte.providers.openai against the loopback OpenAI-compatible server
-- (spec/support/servers/openai_server.py): the LLMProvider conformance
-- suite, the wire mapping of complete() (tools, response_format, usage),
-- batching, and the engine wired with openai as its embedding_provider.
local testing = require "astrocyte.testing"
local server = require "support.server"
local openai = require "astrocyte.providers.openai"

local KEY = "sk-conformance-7f3a9c1e5b"

describe("openai provider", function()
  local s
  setup(function() s = server.start("openai", { "--api-key", KEY, "--dims", "64" }) end)
  teardown(function() if s then s:stop() end end)

  local function new(extra)
    local conf = { base_url = s.url .. "/v1", api_key = KEY, model = "test-chat", embedding_model = "test-embed" }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return assert(openai.llm_providers(conf))
  end

  testing.llm_provider(function() return new() end, { dims = 64 })

  describe("complete()", function()
    it("returns text, model and token usage", function()
      local c = assert(new():complete({ { role = "user", content = "hello there world" } }))
      assert.equal("echo: hello there world", c.text)
      assert.equal("test-chat", c.model)
      assert.same({ input_tokens = 3, output_tokens = 4 }, c.usage)
      assert.is_nil(c.tool_calls)
    end)

    it("maps tools to tool_calls with decoded arguments", function()
      local tools = { { name = "lookup", description = "find", parameters = { type = "object", properties = {} } } }
      local c = assert(new():complete({ { role = "user", content = "tea" } }, nil, 64, 0, tools, "lookup"))
      assert.same({ { id = "call_1", name = "lookup", arguments = { query = "tea" } } }, c.tool_calls)
    end)

    it("passes response_format through", function()
      local c = assert(new():complete({ { role = "user", content = "x y" } }, { response_format = { type = "json_object" } }))
      assert.equal('{"answer": "x y"}', c.text)
    end)

    it("sends multimodal content parts", function()
      local c = assert(new():complete({ { role = "user", content = { { type = "text", text = "look" },
        { type = "image_url", image_url = "http://img/x.png" } } } }))
      assert.equal("echo: look", c.text)
    end)

    it("sums token usage over calls", function()
      local p = new()
      p:complete({ { role = "user", content = "a b" } })
      p:embed({ "one two three" })
      local u = p:token_usage()
      assert.equal(2 + 3, u.input_tokens)
      assert.equal(2, u.requests)
    end)
  end)

  describe("embed()", function()
    it("splits input into batches of batch_size, keeping order", function()
      s:reset()
      local texts = {}
      for i = 1, 25 do texts[i] = "text number " .. i end
      local batched = assert(new({ batch_size = 10 }):embed(texts))
      assert.equal(3, s:stats().requests)
      local single = assert(new({ batching = false }):embed(texts))
      assert.equal(3 + 25, s:stats().requests)
      assert.equal(25, #batched)
      for i = 1, 25 do assert.same(single[i], batched[i]) end
    end)

    it("rejects vectors of the wrong dimension when dimensions is set", function()
      local v, err = new({ dimensions = 32, send_dimensions = false }):embed({ "x" })
      assert.is_nil(v)
      assert.matches("embedding 1 has 64 dimensions, expected 32", err.message, 1, true)
    end)

    it("requests the configured dimensions", function()
      local v = assert(new({ dimensions = 16 }):embed({ "x" }))
      assert.equal(16, #v[1])
    end)

    it("returns {} for no texts without a request", function()
      s:reset()
      assert.same({}, new():embed({}))
      assert.equal(0, s:stats().requests)
    end)

    it("validates input", function()
      local v, err = new():embed({ "a", 5 })
      assert.is_nil(v)
      assert.equal("ValidationError", err.kind)
    end)
  end)

  it("health() is healthy against the server and unhealthy with a bad key", function()
    assert.is_true(new():health().healthy)
    local h = new({ api_key = "sk-wrong-000000000" }):health()
    assert.is_false(h.healthy)
    assert.matches("HTTP 401", h.message)
  end)

  it("rejects bad config with a message naming the key", function()
    local p, err = openai.llm_providers({ base_url = "ftp://x" })
    assert.is_nil(p)
    assert.matches("base_url must be an http", err)
    p, err = openai.llm_providers({ base_url = "http://x", batch_size = 0 })
    assert.matches("batch_size must be an integer between 1 and 4096", err)
  end)

  it("is the engine's embedding_provider: retain and recall go through the server", function()
    local astrocyte = require "astrocyte"
    s:reset()
    local eng = assert(astrocyte.open({
      embedding_provider = "openai",
      embedding_provider_config = { base_url = s.url .. "/v1", api_key = KEY, model = "test-embed" },
      vector_store = "in_memory",
    }))
    assert(eng:retain("Ana prefers green tea in the morning", { bank_id = "b1" }))
    assert(eng:retain("The deploy pipeline runs on nginx", { bank_id = "b1" }))
    local res = assert(eng:recall("green tea", { bank_id = "b1" }))
    assert.equal("Ana prefers green tea in the morning", res.hits[1].text)
    assert.is_true(s:stats().by_path["/v1/embeddings"] >= 3)
    eng:close()
  end)
end)
