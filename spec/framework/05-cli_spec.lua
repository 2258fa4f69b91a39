describe("astrocyte CLI", function()
  local tmp = require "support.tmp"
  local util = require "astrocyte.util"
  local root = os.getenv("ASTRO_SOURCE_DIR") or "."
  local lua = os.getenv("ASTRO_RUNTIME") == "luajit" and "luajit" or "lua5.4"
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

  -- Runs the CLI; returns exit code, stdout, stderr.
  local function run(args, stdin)
    local cmd = "ASTRO_LUA=" .. lua .. " " .. q(root .. "/bin/astrocyte") .. " --db " .. q(dir .. "/cli.db")
    for _, a in ipairs(args) do cmd = cmd .. " " .. q(a) end
    if stdin then cmd = "printf '%s' " .. q(stdin) .. " | " .. cmd end
    cmd = cmd .. " >" .. q(dir .. "/out") .. " 2>" .. q(dir .. "/err") .. "; echo $?"
    local p = io.popen(cmd)
    local code = tonumber(p:read("*l"))
    p:close()
    local function slurp(name)
      local f = io.open(dir .. "/" .. name)
      local s = f:read("*a")
      f:close()
      return s
    end
    return code, slurp("out"), slurp("err")
  end

  it("retains, recalls, reflects and forgets", function()
    local code, out = run({ "--bank", "cli", "retain", "The standup is at 9:30 in the Orion room", "--tags", "team,meeting" })
    assert.equal(0, code)
    assert.truthy(out:match("^stored %x+ %(1 chunk%)\n$"), out)
    code, out = run({ "--bank", "cli", "--json", "recall", "when is the standup?" })
    assert.equal(0, code)
    local res = util.json.decode(out)
    assert.equal("The standup is at 9:30 in the Orion room", res.hits[1].text)
    assert.same({ "team", "meeting" }, res.hits[1].tags)
    code, out = run({ "--bank", "cli", "reflect", "when is the standup?" })
    assert.equal(0, code)
    assert.truthy(out:find("The standup is at 9:30 in the Orion room", 1, true))
    code, out = run({ "banks" })
    assert.equal(0, code)
    assert.truthy(out:match("^cli%s+1\n$"), out)
    code, out = run({ "--bank", "cli", "forget", "--tags", "meeting" })
    assert.equal(0, code)
    assert.equal("deleted 1\n", out)
  end)

  it("reads content from stdin with -", function()
    local code = run({ "--bank", "s", "retain", "-" }, "piped memory text")
    assert.equal(0, code)
    local _, out = run({ "--bank", "s", "recall", "piped" })
    assert.truthy(out:find("piped memory text", 1, true))
  end)

  it("imports JSONL, refusing the whole file if a line is bad", function()
    local f = io.open(dir .. "/in.jsonl", "w")
    f:write('{"content": "first note", "tags": ["a"]}\n\n{"content": "second note", "bank_id": "other"}\n')
    f:close()
    local code, out = run({ "--bank", "imp", "import", dir .. "/in.jsonl" })
    assert.equal(0, code)
    assert.equal("imported 2 memories from " .. dir .. "/in.jsonl\n", out)
    f = io.open(dir .. "/bad.jsonl", "w")
    f:write('{"content": "ok"}\n{"content": 5}\n')
    f:close()
    local err
    code, out, err = run({ "--bank", "imp2", "import", dir .. "/bad.jsonl" })
    assert.equal(2, code)
    assert.equal("astrocyte: ValidationError: " .. dir .. "/bad.jsonl:2: missing string field 'content'\n", err)
    _, out = run({ "banks" })
    assert.is_nil(out:find("imp2", 1, true))
  end)

  it("uses exit codes 1 for usage and 2 for bad input", function()
    local code, _, err = run({ "frobnicate" })
    assert.equal(1, code)
    assert.equal("astrocyte: unknown command 'frobnicate'\n(run 'astrocyte --help' for usage)\n", err)
    code, _, err = run({ "recall" })
    assert.equal(1, code)
    code, _, err = run({ "--bank", "bad bank", "retain", "x" })
    assert.equal(2, code)
    assert.truthy(err:match("^astrocyte: ValidationError: invalid bank_id 'bad bank'"), err)
    code, _, err = run({ "--config", dir .. "/missing.yaml", "banks" })
    assert.equal(2, code)
    assert.equal(1, select(2, err:gsub("\n", "")))
  end)

  it("acts as --principal / --on-behalf-of", function()
    local f = io.open(dir .. "/ac.yaml", "w")
    f:write("access_control:\n  enabled: true\n  default_policy: deny\n" ..
            "access_grants:\n  - { bank_id: ops, principal: 'user:ana', permissions: ['*'] }\n" ..
            "  - { bank_id: ops, principal: 'agent:bot', permissions: [recall, retain] }\n")
    f:close()
    local cfg = dir .. "/ac.yaml"
    local code, _, err = run({ "--config", cfg, "--bank", "ops", "retain", "note" })
    assert.equal(2, code)
    assert.equal("astrocyte: AccessDenied: anonymous may not retain bank 'ops'\n", err)
    code = run({ "--config", cfg, "--bank", "ops", "--principal", "user:ana", "retain", "note" })
    assert.equal(0, code)
    code, _, err = run({ "--config", cfg, "--bank", "ops", "--principal", "agent:bot", "--on-behalf-of", "user:ana", "forget", "--all" })
    assert.equal(2, code)
    assert.equal("astrocyte: AccessDenied: agent:bot on behalf of user:ana may not admin bank 'ops'\n", err)
  end)

  it("uses exit code 3 for a storage failure", function()
    local f = io.open(dir .. "/cli.db", "w")
    f:write(string.rep("not a database ", 100))
    f:close()
    local code, _, err = run({ "banks" })
    assert.equal(3, code)
    assert.equal("astrocyte: StorageError: sqlite: cannot use database '" .. dir .. "/cli.db': sqlite: file is not a database\n", err)
  end)
end)
