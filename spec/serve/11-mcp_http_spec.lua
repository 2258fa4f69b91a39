-- MCP over Streamable HTTP at /mcp of `astrocyte serve` (two nginx workers,
-- sessions in a lua_shared_dict), driven by the official MCP TypeScript SDK
-- client (tools/mcp-client): listing, calls, tool errors, an unknown tool,
-- and the gateway's principal (dev auth: X-Astrocyte-Principal) flowing
-- into access control; then the transport's own answers seen with curl
-- (202 for a notification, 404 after DELETE, 405 for GET, the session bound
-- to its principal).
local gateway = require "support.gateway"
local mcp_client = require "support.mcp_client"
local util = require "astrocyte.util"

if gateway.skip("astrocyte serve", pending) then return end

describe("MCP at /mcp of astrocyte serve (SDK client)", function()
  local g
  local ANA = { ["X-Astrocyte-Principal"] = "user:ana" }

  setup(function()
    g = gateway.start({
      workers = 2,
      config = util.encode({
        access_control = { enabled = true, default_policy = "owner_only" },
        mcp = { default_bank_id = "user-ana", expose_forget = true },
      }),
    })
  end)
  teardown(function() if g then g:cleanup() end end)

  local function session(steps, headers)
    local out = mcp_client.run({ transport = "http", url = g.url .. "/mcp", headers = headers or ANA, steps = steps })
    assert(out.connectError == nil, out.connectError and out.connectError.message .. "\n" .. g:output())
    return out
  end

  it("lists, retains, recalls, reflects and forgets as the gateway's principal", function()
    local steps = {
      { op = "list" },
      { op = "call", name = "memory_retain", arguments = { content = "Ana prefers green tea in the morning", tags = { "drinks" } } },
    }
    -- enough calls that both workers serve some of this one session
    for _ = 1, 6 do steps[#steps + 1] = { op = "call", name = "memory_recall", arguments = { query = "what does Ana drink?" } } end
    steps[#steps + 1] = { op = "call", name = "memory_reflect", arguments = { query = "what does Ana drink?" } }
    steps[#steps + 1] = { op = "call", name = "memory_forget", arguments = { tags = { "drinks" } } }
    steps[#steps + 1] = { op = "call", name = "memory_recall", arguments = { query = "green tea" } }
    local out = session(steps)
    assert.are.equal("2025-11-25", out.protocolVersion)
    assert.matches("^%x+$", out.sessionId)
    local s = out.steps
    assert.are.same({ "memory_retain", "memory_recall", "memory_reflect", "memory_forget", "memory_history",
                      "memory_banks", "memory_graph_search", "memory_graph_neighbors", "memory_health" }, mcp_client.names(s[1]))
    local kept = mcp_client.tool_json(s[2])
    assert.is_true(kept.stored)
    for i = 3, 8 do
      local found, is_err = mcp_client.tool_json(s[i])
      assert.is_false(is_err)
      assert.are.equal(kept.memory_id, found.hits[1].memory_id)
    end
    assert.matches("green tea", mcp_client.tool_json(s[9]).answer)
    assert.are.equal(1, mcp_client.tool_json(s[10]).deleted_count)
    assert.are.same({}, mcp_client.tool_json(s[11]).hits)
  end)

  it("returns tool errors naming the field, -32602 for an unknown tool, AccessDenied for another's bank", function()
    local out = session({
      { op = "call", name = "memory_retain", arguments = { content = 42 } },
      { op = "call", name = "memory_recall", arguments = { query = "x", strategy = "random" } },
      { op = "call", name = "memory_summon", arguments = {} },
      { op = "call", name = "memory_recall", arguments = { query = "x", bank_id = "user-bob" } },
      { op = "call", name = "memory_retain", arguments = { content = "x", bank_id = "user-bob" } },
    })
    local v, is_err = mcp_client.tool_json(out.steps[1])
    assert.is_true(is_err)
    assert.are.equal("ValidationError", v.error)
    assert.are.equal("content", v.field)
    v, is_err = mcp_client.tool_json(out.steps[2])
    assert.is_true(is_err)
    assert.are.equal("strategy", v.field)
    assert.is_false(out.steps[3].ok)
    assert.are.equal(-32602, out.steps[3].error.code)
    for i = 4, 5 do
      v, is_err = mcp_client.tool_json(out.steps[i])
      assert.is_true(is_err)
      assert.are.equal("AccessDenied", v.error)
      assert.are.equal("user-bob", v.bank_id)
      assert.matches("user:ana", v.message)
    end
    -- no principal header: the tools act as mcp.principal (agent:mcp), which owns nothing here
    out = session({ { op = "call", name = "memory_recall", arguments = { query = "x" } } }, {})
    v = mcp_client.tool_json(out.steps[1])
    assert.are.equal("AccessDenied", v.error)
    assert.matches("agent:mcp", v.message)
  end)

  it("answers notifications 202, ends sessions on DELETE, refuses GET and a session's other principals", function()
    local H = { ["X-Astrocyte-Principal"] = "user:ana", Accept = "application/json, text/event-stream" }
    local status, body, h = g:request("POST", "/mcp", util.encode({ jsonrpc = "2.0", id = 1, method = "initialize",
      params = { protocolVersion = "2025-03-26", capabilities = {}, clientInfo = { name = "curl", version = "1" } } }), H)
    assert.are.equal(200, status, body)
    assert.are.equal("2025-03-26", util.json.decode(body).result.protocolVersion)
    local sid = h["mcp-session-id"]
    assert.matches("^%x+$", sid)
    local with = { ["Mcp-Session-Id"] = sid }
    for k, v in pairs(H) do with[k] = v end
    status, body = g:request("POST", "/mcp", util.encode({ jsonrpc = "2.0", method = "notifications/initialized" }), with)
    assert.are.equal(202, status)
    assert.are.equal("", body)
    -- each curl is a new connection, spread over both workers: all know the session
    for i = 1, 8 do
      status, body = g:request("POST", "/mcp", util.encode({ jsonrpc = "2.0", id = 10 + i, method = "ping" }), with)
      assert.are.equal(200, status, body)
    end
    status = g:request("POST", "/mcp", util.encode({ jsonrpc = "2.0", id = 2, method = "ping" }),
                       { ["Mcp-Session-Id"] = sid, Accept = H.Accept, ["X-Astrocyte-Principal"] = "user:bob" })
    assert.are.equal(404, status)
    status, body = g:request("POST", "/mcp", "{not json", with)
    assert.are.equal(400, status)
    assert.are.equal(-32700, util.json.decode(body).error.code)
    status = g:request("GET", "/mcp", nil, with)
    assert.are.equal(405, status)
    status = g:request("DELETE", "/mcp", nil, with)
    assert.are.equal(204, status)
    status = g:request("POST", "/mcp", util.encode({ jsonrpc = "2.0", id = 3, method = "ping" }), with)
    assert.are.equal(404, status)
  end)
end)
