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
    -- a record the engine refuses (blank content): its line is named and
    -- nothing of its batch is stored
    f = io.open(dir .. "/blank.jsonl", "w")
    f:write('{"content": "fine one"}\n{"content": "fine two"}\n\n{"content": "   "}\n')
    f:close()
    code, out, err = run({ "--bank", "imp3", "import", dir .. "/blank.jsonl" })
    assert.equal(2, code)
    assert.truthy(err:find("blank.jsonl:4: ValidationError: items[3]: content is empty (0 of 3 records stored before it)", 1, true), err)
    _, out = run({ "banks" })
    assert.is_nil(out:find("imp3", 1, true))
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
    assert.equal("astrocyte: StorageError: vector_store: sqlite: cannot use database '" .. dir .. "/cli.db': sqlite: file is not a database\n", err)
  end)

  it("uses exit code 3 for a database path that cannot be opened", function()
    local code, _, err = run({ "--db", "/proc/astrocyte-no/x.db", "banks" })
    assert.equal(3, code)
    assert.equal("astrocyte: StorageError: vector_store: sqlite: cannot open '/proc/astrocyte-no/x.db': unable to open database file\n", err)
  end)

  it("has --version, version, help and --help; bare usage goes to stderr", function()
    local code, out, err = run({ "--version" })
    assert.equal(0, code)
    assert.truthy(out:match("^astrocyte %d+%.%d+%.%d+ %(.+, libastrocyte %d+%.%d+%.%d+%)\n$"), out)
    assert.equal("", err)
    local code2, out2 = run({ "version" })
    assert.equal(0, code2)
    assert.equal(out, out2)
    for _, a in ipairs({ "help", "--help" }) do
      code, out, err = run({ a })
      assert.equal(0, code)
      assert.truthy(out:find("^usage: astrocyte"), out)
      assert.truthy(out:find("config check FILE", 1, true))
      assert.equal("", err)
    end
    code, out, err = run({})
    assert.equal(1, code)
    assert.equal("", out)
    assert.truthy(err:find("^usage: astrocyte"), err)
  end)

  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(text)
    f:close()
    return dir .. "/" .. name
  end

  it("config check resolves every provider as open does", function()
    local cases = {
      { "vector_store: nonexistent_store_xyz\n", "vector_store: provider 'nonexistent_store_xyz' not found" },
      { "llm_provider: nope_llm\n", "llm_provider: provider 'nope_llm' not found" },
      { "embedding_provider: sqlite\n", "embedding_provider: provider 'sqlite' does not implement llm_providers" },
      { "graph_store: hashing\n", "graph_store: provider 'hashing' does not implement graph_stores" },
      { "access_control: { policy_provider: nope_pdp }\n", "access_control.policy_provider: provider 'nope_pdp' not found" },
      { "memory_export_sinks:\n  - { provider: jsonl_sink, config: { path: /tmp/x } }\n  - { provider: nope_sink }\n",
        "memory_export_sinks[2].provider: provider 'nope_sink' not found" },
      { "outbound_transport: { provider: nope_tr }\n", "outbound_transport.provider: provider 'nope_tr' not found" },
    }
    for i, c in ipairs(cases) do
      local cfg = write("bad" .. i .. ".yaml", c[1])
      local code, out, err = run({ "config", "check", cfg })
      assert.equal(2, code)
      assert.equal("", out)
      assert.truthy(err:find("astrocyte: ConfigError: " .. c[2], 1, true), err)
      -- open() fails on the same config with the same message.
      local ocode, _, oerr = run({ "--config", cfg, "banks" })
      assert.equal(2, ocode)
      assert.truthy(oerr:find(c[2], 1, true), oerr)
    end
  end)

  it("config check prints empty maps as {} and empty lists as [], as valid YAML", function()
    local cfg = write("ok.yaml", "vector_store: in_memory\nmcp: {}\naccess_grants: []\n" ..
      "llm_provider: openai\nllm_provider_config: { base_url: 'http://127.0.0.1:9/v1', api_key: sk-secret, model: m }\n" ..
      "banks:\n  ops:\n    access:\n      - { principal: 'user:ana', grants: [recall] }\n")
    local code, out, err = run({ "config", "check", cfg })
    assert.equal(0, code, err)
    assert.truthy(out:find("\nmcp: {}\n", 1, true), out)
    assert.truthy(out:find("\naccess_grants: []\n", 1, true), out)
    assert.is_nil(out:find("sk-secret", 1, true))
    local back = require("lyaml").load(out)
    assert.equal("in_memory", back.vector_store)
    assert.equal("***", back.llm_provider_config.api_key)
    assert.equal("http://127.0.0.1:9/v1", back.llm_provider_config.base_url)
    assert.same({ { principal = "user:ana", grants = { "recall" } } }, back.banks.ops.access)
    assert.equal(50000, back.barriers.validation.max_content_length)
  end)

  it("warns when the configured store keeps nothing after the command", function()
    local cfg = write("mem.yaml", "vector_store: in_memory\n")
    local code, _, err = run({ "--config", cfg, "retain", "gone soon" })
    assert.equal(0, code)
    assert.equal("astrocyte: warning: the configured store is in-memory: nothing retain does here is kept " ..
                 "after this command exits (--db is ignored by it)\n", err)
    code, _, err = run({ "--config", cfg, "recall", "gone" })
    assert.equal(0, code)
    assert.equal("", err)
    code, _, err = run({ "retain", "kept" })
    assert.equal(0, code)
    assert.equal("", err)
  end)

  it("says on stderr and in the log when reflect fell back from a failed LLM", function()
    assert.equal(0, (run({ "retain", "The Orion room hosts the standup." })))
    local cfg = write("llm.yaml", "llm_provider: openai\n" ..
      "llm_provider_config: { base_url: 'http://127.0.0.1:9/v1', api_key: none, model: m, max_retries: 0 }\n" ..
      "observability: { log_sink: stderr, log_level: warn }\n")
    local code, out, err = run({ "--config", cfg, "reflect", "where is the standup?" })
    assert.equal(0, code)
    assert.truthy(out:find("Orion room", 1, true), out)
    assert.truthy(err:find('"event":"astrocyte.reflect.degraded"', 1, true), err)
    assert.truthy(err:find("astrocyte: warning: the LLM failed, so this answer is extractive (ProviderUnavailable: openai:", 1, true), err)
  end)

  it("redraws the import progress bar at most ~10 times a second, with rate and ETA", function()
    local lines = {}
    for i = 1, 300 do lines[i] = util.json.encode({ content = "progress note " .. i .. " about item " .. (i * 7) }) end
    local path = write("many.jsonl", table.concat(lines, "\n") .. "\n")
    -- script(1) gives the CLI a terminal on stderr, as a person would have.
    local cmd = "script -qec " .. q("ASTRO_LUA=" .. lua .. " " .. q(root .. "/bin/astrocyte") .. " --db " ..
      q(dir .. "/bar.db") .. " import " .. q(path)) .. " /dev/null"
    local t0 = os.time()
    local p = io.popen(cmd .. " 2>&1")
    local tty = p:read("*a")
    p:close()
    local seconds = os.time() - t0 + 1
    local draws = select(2, tty:gsub("\r%[", ""))
    assert.truthy(draws >= 1 and draws <= 10 * seconds + 2, draws .. " redraws in ~" .. seconds .. " s")
    assert.truthy(tty:find("%[#+%] 300/300  %d+/s  ETA 0:00"), tty)
    assert.truthy(tty:find("imported 300 memories", 1, true), tty)
  end)
end)
