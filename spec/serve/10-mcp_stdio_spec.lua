-- `astrocyte mcp` over stdio, driven by the official MCP TypeScript SDK
-- client (tools/mcp-client): the handshake, the tool listing under the
-- mcp.* flags, calls that store and find memories in the --db file, tool
-- errors naming the field, an unknown tool, and access denial for the
-- static mcp.principal (or --principal).
local mcp_client = require "support.mcp_client"
local tmp = require "support.tmp"
local util = require "astrocyte.util"

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

describe("astrocyte mcp (stdio, SDK client)", function()
  local dir
  setup(function() dir = tmp.dir() end)
  teardown(function() tmp.rm(dir) end)

  -- Runs the client against `astrocyte --db DB --config CFG [--bank B] mcp`.
  local function session(cfg, steps, bank, principal)
    local cfg_path = dir .. "/astrocyte-" .. tostring(#steps) .. "-" .. tostring(os.clock()) .. ".json"
    write(cfg_path, assert(util.encode(cfg)))
    local args = { "--db", dir .. "/mem.db", "--config", cfg_path }
    if bank then args[#args + 1] = "--bank"; args[#args + 1] = bank end
    if principal then args[#args + 1] = "--principal"; args[#args + 1] = principal end
    args[#args + 1] = "mcp"
    local out = mcp_client.run({ transport = "stdio", args = args, steps = steps })
    assert(out.connectError == nil, out.connectError and out.connectError.message .. "\n" .. out.stderr)
    return out
  end

  it("negotiates, lists the exposed tools, stores and finds memories, forgets", function()
    local out = session({ mcp = { expose_forget = true } }, {
      { op = "list" },
      { op = "call", name = "memory_retain", arguments = { content = "The standup is at 9:30 in the Orion room", tags = { "team" } } },
      { op = "call", name = "memory_recall", arguments = { query = "when is the standup?", max_results = 3 } },
      { op = "call", name = "memory_reflect", arguments = { query = "when is the standup?" } },
      { op = "call", name = "memory_banks", arguments = {} },
      { op = "ping" },
    }, "notes")
    assert.are.equal("2025-11-25", out.protocolVersion)
    assert.are.equal("astrocyte-memory", out.serverInfo.name)
    assert.is_false(out.capabilities.tools.listChanged)
    assert.matches("memory_recall", out.instructions)
    local s = out.steps
    assert.are.same({ "memory_retain", "memory_recall", "memory_reflect", "memory_forget", "memory_history",
                      "memory_banks", "memory_graph_search", "memory_graph_neighbors", "memory_health" }, mcp_client.names(s[1]))
    local recall_schema = s[1].result.tools[2].inputSchema
    assert.are.same({ "query" }, recall_schema.required)
    assert.are.equal("integer", recall_schema.properties.max_results.type)
    local kept, is_err = mcp_client.tool_json(s[2])
    assert.is_false(is_err)
    assert.is_true(kept.stored)
    local found = mcp_client.tool_json(s[3])
    assert.are.equal(kept.memory_id, found.hits[1].memory_id)
    assert.are.equal("The standup is at 9:30 in the Orion room", found.hits[1].text)
    assert.are.equal("notes", found.hits[1].bank_id)
    local answer = mcp_client.tool_json(s[4])
    assert.matches("9:30", answer.answer)
    assert.are.equal("The standup is at 9:30 in the Orion room", answer.sources[1].text)
    assert.are.same({ "notes" }, mcp_client.tool_json(s[5]).banks)
    assert.is_true(s[6].ok)

    -- a second session on the same --db finds it, then forgets it
    out = session({ mcp = { expose_forget = true, default_bank_id = "notes" } }, {
      { op = "call", name = "memory_recall", arguments = { query = "Orion room" } },
      { op = "call", name = "memory_forget", arguments = { memory_ids = { kept.memory_id } } },
      { op = "call", name = "memory_recall", arguments = { query = "Orion room" } },
    })
    assert.are.equal(kept.memory_id, mcp_client.tool_json(out.steps[1]).hits[1].memory_id)
    assert.are.equal(1, mcp_client.tool_json(out.steps[2]).deleted_count)
    assert.are.same({}, mcp_client.tool_json(out.steps[3]).hits)
  end)

  it("hides memory_forget and memory_reflect unless exposed, and shows the admin tools when asked", function()
    local out = session({ mcp = { expose_reflect = false, expose_admin = true } }, {
      { op = "list" },
      { op = "call", name = "memory_forget", arguments = { bank_id = "notes", tags = { "team" } } },
    })
    assert.are.same({ "memory_retain", "memory_recall", "memory_history", "memory_banks", "memory_graph_search", "memory_graph_neighbors", "memory_health",
                      "memory_lifecycle", "memory_hold_set", "memory_hold_release" }, mcp_client.names(out.steps[1]))
    assert.is_false(out.steps[2].ok)
    assert.are.equal(-32602, out.steps[2].error.code)
    assert.matches("Unknown tool: memory_forget", out.steps[2].error.message)
  end)

  it("returns bad arguments as tool errors naming the field, and keeps stdout clean", function()
    local out = session({}, {
      { op = "call", name = "memory_retain", arguments = { content = "x" } },
      { op = "call", name = "memory_retain", arguments = { content = "x", bank_id = "b", tags = "urgent" } },
      { op = "call", name = "memory_recall", arguments = { bank_id = "b", query = "x", max_results = "ten" } },
      { op = "call", name = "memory_history", arguments = { bank_id = "b", query = "x", as_of = "last tuesday" } },
      { op = "call", name = "memory_teleport", arguments = {} },
      { op = "call", name = "memory_recall", arguments = { bank_id = "b", query = "still answering?" } },
    })
    local want = { "bank_id", "tags", "max_results", "as_of" }
    for i, field in ipairs(want) do
      local v, is_err = mcp_client.tool_json(out.steps[i])
      assert.is_true(is_err, field)
      assert.are.equal("ValidationError", v.error, field)
      assert.are.equal(field, v.field)
      assert.is_string(v.message)
    end
    assert.is_false(out.steps[5].ok)
    assert.are.equal(-32602, out.steps[5].error.code)
    local v, is_err = mcp_client.tool_json(out.steps[6])
    assert.is_false(is_err)
    assert.is_table(v.hits)
  end)

  it("acts as mcp.principal under access control: another bank is AccessDenied", function()
    local cfg = {
      access_control = { enabled = true, default_policy = "deny" },
      access_grants = { { bank_id = "agent-notes", principal = "agent:notetaker", permissions = { "read", "write" } } },
      mcp = { principal = "agent:notetaker", default_bank_id = "agent-notes" },
    }
    local out = session(cfg, {
      { op = "call", name = "memory_retain", arguments = { content = "Deploys happen on Thursdays" } },
      { op = "call", name = "memory_recall", arguments = { query = "when are deploys?" } },
      { op = "call", name = "memory_recall", arguments = { query = "when are deploys?", bank_id = "payroll" } },
      { op = "call", name = "memory_retain", arguments = { content = "salary data", bank_id = "payroll" } },
    })
    assert.is_true(mcp_client.tool_json(out.steps[1]).stored)
    assert.are.equal(1, #mcp_client.tool_json(out.steps[2]).hits)
    for i = 3, 4 do
      local v, is_err = mcp_client.tool_json(out.steps[i])
      assert.is_true(is_err)
      assert.are.equal("AccessDenied", v.error)
      assert.are.equal("payroll", v.bank_id)
      assert.matches("agent:notetaker", v.message)
    end
    -- the default principal agent:mcp has no grant at all
    cfg.mcp.principal = nil
    out = session(cfg, { { op = "call", name = "memory_recall", arguments = { query = "deploys" } } })
    local v = mcp_client.tool_json(out.steps[1])
    assert.are.equal("AccessDenied", v.error)
    assert.matches("agent:mcp", v.message)
    -- --principal acts as another identity
    out = session(cfg, { { op = "call", name = "memory_recall", arguments = { query = "deploys" } } }, nil, "agent:notetaker")
    assert.are.equal(1, #mcp_client.tool_json(out.steps[1]).hits)
  end)

  it("refuses to start when logs would go to stdout", function()
    local p = io.popen("ASTRO_BUILD_DIR='" .. mcp_client.BUILD_DIR .. "' ASTROCYTE_LOG=stdout ASTRO_LUA="
      .. (jit and "luajit" or "lua5.4") .. " '" .. mcp_client.SOURCE_DIR .. "/bin/astrocyte' --db '" .. dir
      .. "/mem.db' mcp </dev/null 2>&1; echo \"rc=$?\"", "r")
    local text = p:read("*a")
    p:close()
    assert.matches("rc=2", text, 1, true)
    assert.matches("observability.log_sink", text, 1, true)
  end)
end)
