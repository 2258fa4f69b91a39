-- astrocyte.providers.litellm against the loopback OpenAI-compatible server
-- serving LiteLLM's proxy routes (/chat/completions, /embeddings without
-- the /v1 prefix, /health/liveliness).
local testing = require "astrocyte.testing"
local server = require "support.server"
local litellm = require "astrocyte.providers.litellm"

local KEY = "sk-litellm-master-4455667788"

describe("litellm provider", function()
  local s
  setup(function() s = server.start("openai", { "--api-key", KEY, "--dims", "48" }) end)
  teardown(function() if s then s:stop() end end)

  local function new(extra)
    local conf = { base_url = s.url, api_key = KEY, model = "claude-sonnet", embedding_model = "titan-embed",
                   user = "agent-7", tags = { "astrocyte" } }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return assert(litellm.llm_providers(conf))
  end

  testing.llm_provider(function() return new() end, { dims = 48 })

  it("talks to the proxy's unprefixed routes", function()
    s:reset()
    local c = assert(new():complete({ { role = "user", content = "hello" } }))
    assert.equal("echo: hello", c.text)
    assert.equal("claude-sonnet", c.model)
    assert.equal(2, #assert(new():embed({ "a", "b" })))
    assert.same({ ["/chat/completions"] = 1, ["/embeddings"] = 1 }, s:stats().by_path)
  end)

  it("checks health through /health/liveliness", function()
    s:reset()
    assert.is_true(new():health().healthy)
    assert.equal(1, s:stats().by_path["/health/liveliness"])
  end)

  it("defaults base_url to a local proxy on port 4000", function()
    assert.equal("http://localhost:4000", assert(litellm.llm_providers({})).base)
  end)
end)
