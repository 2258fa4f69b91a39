-- The MCP server without a transport (astrocyte.mcp's server:handle) and
-- the Streamable HTTP transport's handler called directly: JSON-RPC edge
-- cases, lifecycle, version negotiation, the catalogue under the mcp.*
-- flags, tool errors, access denial, sessions. The SDK client drives the
-- real transports in 10-mcp_stdio_spec and 11-mcp_http_spec.
local astrocyte = require "astrocyte"
local http = require "astrocyte.http"
local mcp = require "astrocyte.mcp"
local mcp_http = require "astrocyte.mcp.http"

local function open(extra)
  local cfg = { vector_store = "in_memory" }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return assert(astrocyte.open(cfg))
end

local function req(id, method, params) return { jsonrpc = "2.0", id = id, method = method, params = params } end

-- Calls a tool; returns the decoded JSON of its text and the result.
local function call(server, name, args, ctx)
  local resp = server:handle(req(1, "tools/call", { name = name, arguments = args }), ctx)
  assert.is_nil(resp.error, resp.error and resp.error.message)
  local res = resp.result
  assert.are.equal("text", res.content[1].type)
  return assert(http.decode(res.content[1].text)), res
end

local function names(server)
  local out = {}
  for i, t in ipairs(server:handle(req(1, "tools/list")).result.tools) do out[i] = t.name end
  return out
end

describe("mcp server:handle", function()
  local eng, server
  before_each(function()
    eng = open({ mcp = { default_bank_id = "notes", expose_forget = true } })
    server = assert(mcp.new(eng))
  end)
  after_each(function() eng:close() end)

  describe("JSON-RPC", function()
    it("answers text that is not JSON with -32700 and id null", function()
      local msg, resp = mcp.decode('{"jsonrpc":"2.0","id":1,')
      assert.is_nil(msg)
      assert.are.equal(-32700, resp.error.code)
      assert.matches('"id":null', mcp.encode(resp), 1, true)
    end)

    it("refuses batches and non-object messages with -32600", function()
      for _, text in ipairs({ '[{"jsonrpc":"2.0","id":1,"method":"ping"}]', "[]", "5", '"ping"', "true" }) do
        local msg, resp = mcp.decode(text)
        assert.is_nil(msg, text)
        assert.are.equal(-32600, resp.error.code, text)
      end
      assert.are.equal(-32600, server:handle("ping").error.code)
    end)

    it("refuses a wrong jsonrpc, a missing method and a bad id with -32600, echoing a valid id", function()
      local r = server:handle({ jsonrpc = "1.0", id = 7, method = "ping" })
      assert.are.equal(-32600, r.error.code)
      assert.are.equal(7, r.id)
      r = server:handle({ jsonrpc = "2.0", id = "a", params = {} })
      assert.are.equal(-32600, r.error.code)
      assert.are.equal("a", r.id)
      assert.are.equal(-32600, server:handle({ jsonrpc = "2.0", id = 1, method = 5 }).error.code)
      for _, id in ipairs({ http.null, 1.5, true }) do
        r = server:handle({ jsonrpc = "2.0", id = id, method = "ping" })
        assert.are.equal(-32600, r.error.code)
        assert.are.equal(http.null, r.id)
      end
    end)

    it("answers an unknown method with -32601 and params that are not an object with -32602", function()
      local r = server:handle(req("x1", "resources/list"))
      assert.are.equal(-32601, r.error.code)
      assert.are.equal("x1", r.id)
      assert.matches("resources/list", r.error.message, 1, true)
      r = server:handle(assert(mcp.decode('{"jsonrpc":"2.0","id":2,"method":"tools/list","params":[1]}')))
      assert.are.equal(-32602, r.error.code)
      assert.are.equal(-32602, server:handle(req(3, "tools/list", "x")).error.code)
    end)

    it("never answers notifications, known or not, nor a client's responses", function()
      assert.is_nil(server:handle({ jsonrpc = "2.0", method = "notifications/initialized" }))
      assert.is_nil(server:handle({ jsonrpc = "2.0", method = "notifications/cancelled", params = { requestId = 1 } }))
      assert.is_nil(server:handle({ jsonrpc = "2.0", method = "no/such/notification" }))
      assert.is_nil(server:handle({ jsonrpc = "2.0", id = 9, result = {} }))
    end)

    it("answers ping with an empty object", function()
      local r = server:handle(req(4, "ping"))
      assert.are.same({}, r.result)
      assert.matches('"result":{}', mcp.encode(r), 1, true)
    end)
  end)

  describe("lifecycle", function()
    it("answers with the client's version when supported, else the latest", function()
      for _, v in ipairs(mcp.VERSIONS) do
        local r = server:handle(req(1, "initialize", { protocolVersion = v, capabilities = {}, clientInfo = { name = "t", version = "1" } }))
        assert.are.equal(v, r.result.protocolVersion)
      end
      local r = server:handle(req(1, "initialize", { protocolVersion = "2099-01-01", capabilities = {} }))
      assert.are.equal(mcp.LATEST, r.result.protocolVersion)
      assert.are.equal("astrocyte-memory", r.result.serverInfo.name)
      assert.are.equal(false, r.result.capabilities.tools.listChanged)
      assert.is_nil(r.result.capabilities.resources)
      assert.are.equal(-32602, server:handle(req(2, "initialize", { capabilities = {} })).error.code)
    end)

    it("refuses requests other than ping before initialize in a session", function()
      local ctx = { session = {} }
      local r = server:handle(req(1, "tools/list"), ctx)
      assert.are.equal(-32600, r.error.code)
      assert.matches("initialize", r.error.message)
      assert.is_nil(server:handle(req(2, "ping"), ctx).error)
      server:handle(req(3, "initialize", { protocolVersion = "2025-06-18", capabilities = {} }), ctx)
      assert.is_nil(server:handle({ jsonrpc = "2.0", method = "notifications/initialized" }, ctx))
      assert.is_true(ctx.session.initialized)
      assert.is_table(server:handle(req(4, "tools/list"), ctx).result.tools)
    end)
  end)

  describe("tools/list", function()
    it("lists the catalogue under the expose flags, with JSON Schemas", function()
      assert.are.same({ "memory_retain", "memory_recall", "memory_reflect", "memory_forget", "memory_history",
                        "memory_banks", "memory_graph_search", "memory_graph_neighbors", "memory_health" }, names(server))
      local e2 = open({ mcp = { expose_reflect = false, expose_admin = true } })
      assert.are.same({ "memory_retain", "memory_recall", "memory_history", "memory_banks", "memory_graph_search", "memory_graph_neighbors", "memory_health",
                        "memory_lifecycle", "memory_hold_set", "memory_hold_release" }, names(assert(mcp.new(e2))))
      e2:close()
      local text = mcp.encode(server:handle(req(1, "tools/list")))
      local tools = http.decode(text).result.tools
      assert.are.same({ "content" }, tools[1].inputSchema.required)
      assert.are.equal(false, tools[1].inputSchema.additionalProperties)
      assert.are.equal(20, tools[1].inputSchema.properties.tags.maxItems)
      -- a tool without arguments still has an object of properties, not []
      assert.matches('"name":"memory_banks"', text, 1, true)
      assert.matches('"properties":{}', text, 1, true)
      assert.are.equal(-32602, server:handle(req(2, "tools/list", { cursor = "abc" })).error.code)
    end)

    it("refuses an mcp block with an unknown key or a bad value, naming the key", function()
      for key, block in pairs({ ["mcp.expose_forgt"] = { expose_forgt = true }, ["mcp.max_results_limit"] = { max_results_limit = 0 },
                                ["mcp.principal"] = { principal = 5 }, ["mcp.allowed_origins"] = { allowed_origins = { 1 } } }) do
        local s, err = mcp.new(eng, { config = block })
        assert.is_nil(s)
        assert.are.equal("ConfigError", err.kind)
        assert.are.equal(key, err.key_path)
      end
    end)
  end)

  describe("tools/call", function()
    it("retains, recalls, reflects, goes back in time and forgets", function()
      local r = call(server, "memory_retain", { content = "Ana prefers green tea in the morning", tags = { "pref" } })
      assert.is_true(r.stored)
      local id = r.memory_id
      -- JSON null is "not given": the default bank and no tags
      r = call(server, "memory_recall", { query = "what does Ana drink?", bank_id = http.null, tags = http.null })
      assert.are.equal(id, r.hits[1].memory_id)
      assert.are.equal("notes", r.hits[1].bank_id)
      assert.is_number(r.hits[1].score)
      r = call(server, "memory_reflect", { query = "what does Ana drink?" })
      assert.matches("tea", r.answer)
      assert.are.equal("Ana prefers green tea in the morning", r.sources[1].text)
      r = call(server, "memory_reflect", { query = "what does Ana drink?", include_sources = false })
      assert.is_nil(r.sources)
      r = call(server, "memory_history", { query = "what does Ana drink?", as_of = "2001-01-01T00:00:00Z" })
      assert.are.same({}, r.hits)
      assert.are.equal("notes", r.bank_id)
      r = call(server, "memory_banks", {})
      assert.are.equal("notes", r.banks[1])
      assert.are.equal("notes", r.default)
      assert.is_true(call(server, "memory_health", {}).healthy)
      r = call(server, "memory_graph_search", { query = "an" })
      assert.are.equal("Ana", r.entities[1].name)
      local ana = r.entities[1].id
      r = call(server, "memory_graph_neighbors", { entity_ids = { ana } })
      assert.are.equal("Ana prefers green tea in the morning", r.hits[1].text)
      assert.is_true(r.hits[1].depth >= 1)
      assert.is_number(r.hits[1].score)
      r = call(server, "memory_forget", { tags = { "pref" } })
      assert.are.equal(1, r.deleted_count)
      assert.are.same({}, call(server, "memory_recall", { query = "what does Ana drink?" }).hits)
    end)

    it("clamps max_results to mcp.max_results_limit", function()
      local e2 = open({ mcp = { default_bank_id = "b", max_results_limit = 2 } })
      local s2 = assert(mcp.new(e2))
      for i = 1, 4 do call(s2, "memory_retain", { content = "tea note number " .. i .. " about tea" }) end
      assert.are.equal(2, #call(s2, "memory_recall", { query = "tea", max_results = 100 }).hits)
      assert.are.equal(1, #call(s2, "memory_recall", { query = "tea", max_results = -3 }).hits)
      e2:close()
    end)

    it("returns bad arguments as isError results naming the field", function()
      local cases = {
        { "memory_retain", { content = 5 }, "content" },
        { "memory_retain", {}, "content" },
        { "memory_retain", { content = "" }, "content" },
        { "memory_retain", { content = "x", colour = "red" }, "colour" },
        { "memory_retain", { content = "x", tags = { "a", 3 } }, "tags" },
        { "memory_retain", { content = "x", metadata = { k = 1 } }, "metadata.k" },
        { "memory_retain", { content = "x", occurred_at = "yesterday-ish" }, "occurred_at" },
        { "memory_recall", { query = "x", strategy = "best" }, "strategy" },
        { "memory_recall", { query = "x", max_results = 2.5 }, "max_results" },
        { "memory_reflect", { query = "x", include_sources = "yes" }, "include_sources" },
        { "memory_forget", {}, "memory_ids" },
        { "memory_history", { query = "x" }, "as_of" },
        { "memory_retain", { content = "x", bank_id = "bad bank!" }, "bank_id" },
      }
      local many = {}
      for i = 1, 21 do many[i] = "t" .. i end
      cases[#cases + 1] = { "memory_retain", { content = "x", tags = many }, "tags" }
      cases[#cases + 1] = { "memory_retain", { content = "x", tags = { string.rep("a", 256) } }, "tags[1]" }
      for _, c in ipairs(cases) do
        local r, res = call(server, c[1], c[2])
        assert.is_true(res.isError, c[3])
        assert.are.equal("ValidationError", r.error, c[3])
        assert.are.equal(c[3], r.field, c[1] .. " " .. c[3])
        assert.is_string(r.message)
      end
      assert.are.same({}, call(server, "memory_recall", { query = "x" }).hits, "nothing was stored")
      local e2 = open()
      local r, res = call(assert(mcp.new(e2)), "memory_retain", { content = "x" })
      assert.is_true(res.isError)
      assert.are.equal("bank_id", r.field)
      assert.matches("bank_id is required", r.message)
      e2:close()
    end)

    it("answers an unknown or hidden tool, or a call without a name, with -32602", function()
      local r = server:handle(req(5, "tools/call", { name = "memory_teleport", arguments = {} }))
      assert.are.equal(-32602, r.error.code)
      assert.matches("memory_teleport", r.error.message)
      assert.are.equal(-32602, server:handle(req(6, "tools/call", { name = "memory_hold_set", arguments = {} })).error.code)
      assert.are.equal(-32602, server:handle(req(7, "tools/call", { arguments = {} })).error.code)
      assert.are.equal(-32602, server:handle(req(8, "tools/call", { name = "memory_recall", arguments = "q" })).error.code)
    end)

    it("keeps failures of the store out of the result and logs them", function()
      local logged = {}
      local s2 = assert(mcp.new(eng, { log = function(l) logged[#logged + 1] = l end }))
      eng:close()
      local r, res = call(s2, "memory_recall", { query = "x" })
      assert.is_true(res.isError)
      assert.are.equal("ProviderUnavailable", r.error)
      assert.not_matches("closed", r.message)
      assert.matches("engine is closed", logged[1])
    end)
  end)

  describe("access control", function()
    local guarded, gs
    before_each(function()
      guarded = open({
        access_control = { enabled = true, default_policy = "deny" },
        access_grants = { { bank_id = "open", principal = "agent:mcp", permissions = { "read", "write" } },
                          { bank_id = "secret", principal = "user:ana", permissions = { "*" } } },
        mcp = { default_bank_id = "open", expose_admin = true, expose_forget = true },
      })
      gs = assert(mcp.new(guarded))
    end)
    after_each(function() guarded:close() end)

    it("acts as mcp.principal: a bank it may not read gives AccessDenied naming the bank", function()
      assert.is_true(call(gs, "memory_retain", { content = "lunch is at noon" }).stored)
      local r, res = call(gs, "memory_recall", { query = "lunch", bank_id = "secret" })
      assert.is_true(res.isError)
      assert.are.equal("AccessDenied", r.error)
      assert.are.equal("secret", r.bank_id)
      assert.matches("agent:mcp", r.message)
      r = call(gs, "memory_retain", { content = "x", bank_id = "secret" })
      assert.are.equal("AccessDenied", r.error)
      r = call(gs, "memory_hold_set", { hold_id = "h1", reason = "audit" })
      assert.are.equal("AccessDenied", r.error, "admin needs the admin permission")
    end)

    it("acts as the transport's principal when it has one", function()
      local ctx = { principal = "user:ana" }
      assert.is_true(call(gs, "memory_retain", { content = "the vault code is blue", bank_id = "secret" }, ctx).stored)
      assert.are.equal(1, #call(gs, "memory_recall", { query = "vault", bank_id = "secret" }, ctx).hits)
      local h = call(gs, "memory_hold_set", { hold_id = "h1", reason = "audit", bank_id = "secret" }, ctx)
      assert.are.equal("user:ana", h.set_by)
      local r, res = call(gs, "memory_forget", { bank_id = "secret", tags = { "x" } }, ctx)
      assert.is_true(res.isError)
      assert.are.equal("LegalHoldActive", r.error)
      assert.matches("h1", r.message)
      assert.is_true(call(gs, "memory_hold_release", { hold_id = "h1", bank_id = "secret" }, ctx).released)
      assert.are.equal("AccessDenied", call(gs, "memory_recall", { query = "lunch" }, ctx).error)
    end)
  end)
end)

describe("mcp.http.handle", function()
  local eng, server
  local ACCEPT = "application/json, text/event-stream"
  before_each(function()
    eng = assert(astrocyte.open({ vector_store = "in_memory", mcp = { default_bank_id = "notes", allowed_origins = { "https://app.example" } } }))
    server = assert(mcp.new(eng))
  end)
  after_each(function() eng:close() end)

  local function post(body, headers, principal)
    local h = { accept = ACCEPT, ["content-type"] = "application/json" }
    for k, v in pairs(headers or {}) do h[k] = v or nil end
    if type(body) == "table" then body = mcp.encode(body) end
    local status, rh, rb = mcp_http.handle(server, { method = "POST", headers = h, body = body, principal = principal })
    return status, rh, rb ~= "" and http.decode(rb) or rb
  end

  local function initialize(principal)
    local status, h, body = post(req(1, "initialize", { protocolVersion = "2025-06-18", capabilities = {} }), nil, principal)
    assert.are.equal(200, status)
    assert.are.equal("2025-06-18", body.result.protocolVersion)
    assert.matches("^%x+$", h["mcp-session-id"])
    assert.are.equal(32, #h["mcp-session-id"])
    return h["mcp-session-id"]
  end

  it("opens a session at initialize and serves requests and notifications in it", function()
    local sid = initialize()
    local status, h, body = post({ jsonrpc = "2.0", method = "notifications/initialized" }, { ["mcp-session-id"] = sid })
    assert.are.equal(202, status)
    assert.are.equal("", body)
    assert.is_nil(h["content-type"])
    status, h, body = post(req(2, "tools/list"), { ["mcp-session-id"] = sid, ["mcp-protocol-version"] = "2025-06-18" })
    assert.are.equal(200, status)
    assert.are.equal("application/json", h["content-type"])
    assert.are.equal("memory_retain", body.result.tools[1].name)
    assert.are_not.equal(sid, initialize(), "each initialize opens a new session")
  end)

  it("opens no session when initialize fails", function()
    local status, h, body = post(req(1, "initialize", { capabilities = {} }))
    assert.are.equal(200, status)
    assert.are.equal(-32602, body.error.code)
    assert.is_nil(h["mcp-session-id"])
  end)

  it("wants a known session, a supported version header, the right Accept and Content-Type", function()
    local sid = initialize()
    assert.are.equal(400, (post(req(2, "tools/list"))))
    assert.are.equal(404, (post(req(2, "tools/list"), { ["mcp-session-id"] = "0123" })))
    assert.are.equal(400, (post(req(2, "tools/list"), { ["mcp-session-id"] = sid, ["mcp-protocol-version"] = "1999-01-01" })))
    assert.are.equal(406, (post(req(2, "tools/list"), { ["mcp-session-id"] = sid, accept = "application/json" })))
    assert.are.equal(200, (post(req(2, "tools/list"), { ["mcp-session-id"] = sid, accept = "*/*" })))
    assert.are.equal(415, (post(req(2, "tools/list"), { ["mcp-session-id"] = sid, ["content-type"] = "text/plain" })))
    local status, _, body = post("{oops", { ["mcp-session-id"] = sid })
    assert.are.equal(400, status)
    assert.are.equal(-32700, body.error.code)
  end)

  it("binds a session to the principal that opened it", function()
    local sid = initialize("user:ana")
    assert.are.equal(200, (post(req(2, "ping"), { ["mcp-session-id"] = sid }, "user:ana")))
    assert.are.equal(404, (post(req(2, "ping"), { ["mcp-session-id"] = sid }, "user:bob")))
    assert.are.equal(404, (post(req(2, "ping"), { ["mcp-session-id"] = sid })))
  end)

  it("ends a session on DELETE and offers no GET stream", function()
    local sid = initialize()
    local status, h = mcp_http.handle(server, { method = "GET", headers = { accept = "text/event-stream", ["mcp-session-id"] = sid } })
    assert.are.equal(405, status)
    assert.are.equal("POST, DELETE", h.allow)
    assert.are.equal(204, (mcp_http.handle(server, { method = "DELETE", headers = { ["mcp-session-id"] = sid } })))
    assert.are.equal(404, (post(req(2, "ping"), { ["mcp-session-id"] = sid })))
    assert.are.equal(404, (mcp_http.handle(server, { method = "DELETE", headers = { ["mcp-session-id"] = sid } })))
    assert.are.equal(405, (mcp_http.handle(server, { method = "PUT", headers = {} })))
  end)

  it("accepts loopback and configured origins only", function()
    for _, o in ipairs({ "http://localhost:3000", "http://127.0.0.1", "https://app.example" }) do
      assert.are.equal(200, (post(req(1, "initialize", { protocolVersion = "2025-06-18" }), { origin = o })), o)
    end
    for _, o in ipairs({ "http://evil.example", "http://localhost.evil.example", "null" }) do
      assert.are.equal(403, (post(req(1, "initialize", { protocolVersion = "2025-06-18" }), { origin = o })), o)
    end
  end)

  it("keeps sessions in a shared store when given one", function()
    local data = {}
    local dict = { get = function(_, k) return data[k] end, set = function(_, k, v) data[k] = v; return true end,
                   delete = function(_, k) data[k] = nil end }
    local s2 = assert(mcp.new(eng, { sessions = dict }))
    local _, h = mcp_http.handle(s2, { method = "POST", headers = { accept = ACCEPT, ["content-type"] = "application/json" },
      body = mcp.encode(req(1, "initialize", { protocolVersion = "2025-03-26" })) })
    local sid = h["mcp-session-id"]
    assert.are.equal("2025-03-26", http.decode(data[sid]).protocol_version)
    -- another server object (another worker) over the same store knows it
    local s3 = assert(mcp.new(eng, { sessions = dict }))
    assert.are.equal(200, (mcp_http.handle(s3, { method = "POST", headers = { accept = ACCEPT, ["content-type"] = "application/json",
      ["mcp-session-id"] = sid }, body = mcp.encode(req(2, "ping")) })))
  end)
end)
