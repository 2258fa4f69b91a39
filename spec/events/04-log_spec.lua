-- astrocyte.log: the entry shape {event, timestamp, level, bank_id, provider,
-- operation, trace_id, data}, levels, sinks (function, file), the audit
-- trail, and above all that no secret and no PII value ever reaches the
-- output: api keys, passwords, DSNs, bearer tokens, registered secrets,
-- emails, card numbers and phone numbers fed in every position (keys,
-- nested data, free text, error messages, top-level fields) come out masked.
local log = require "astrocyte.observe.log"
local util = require "astrocyte.util"
local tmp = require "support.tmp"

local SECRETS = {
  "sk-live-4f9a8b7c6d5e4f3a2b1c",      -- api key shape
  "hunter2-Pa55word!",                 -- password
  "eyJhbGciOiJIUzI1NiJ9.payload.sig",  -- bearer token
  "whsec_registered_7788",             -- a registered webhook secret
  "dbpass-0099",                       -- password inside a DSN
}
local PII = { "ana.lima@example.com", "4111 1111 1111 1111", "5500-0000-0000-0004", "+1 415 555 0100" }

local function capture(opts)
  local lines = {}
  opts = opts or {}
  opts.sink = function(line) lines[#lines + 1] = line end
  return assert(log.new(opts)), lines
end

describe("astrocyte.observe.log", function()
  it("writes the reference entry shape with sorted keys", function()
    local l, lines = capture({ clock = function() return 1714557600000 end })
    l:info("astrocyte.retain", { bank_id = "b1", provider = "sqlite", operation = "retain", trace_id = "t1",
                                 data = { memory_id = "m1" }, content_length = 12 })
    assert.equal('{"bank_id":"b1","data":{"content_length":12,"memory_id":"m1"},"event":"astrocyte.retain",' ..
                 '"level":"info","operation":"retain","provider":"sqlite","timestamp":"2024-05-01T10:00:00Z",' ..
                 '"trace_id":"t1"}', lines[1])
  end)

  it("filters by level and can change it", function()
    local l, lines = capture({ level = "warn" })
    l:debug("a"); l:info("b"); l:warn("c"); l:error("d")
    assert.equal(2, #lines)
    assert.is_true(l:set_level("debug"))
    l:debug("e")
    assert.equal(3, #lines)
    assert.same({ nil, "log: unknown level 'loud'" }, { l:set_level("loud") })
    assert.is_nil(log.new({ level = "loud" }))
  end)

  it("writes audit events whatever the level, unless off", function()
    local l, lines = capture({ level = "error" })
    l:audit("forget", { bank_id = "b1", principal = "user:ana", data = { deleted_count = 2 } })
    l:audit("astrocyte.audit.access_denied", { bank_id = "b1", data = { permission = "read" } })
    assert.equal(2, #lines)
    local e = util.json.decode(lines[1])
    assert.equal("astrocyte.audit.forget", e.event)
    assert.equal("user:ana", e.data.principal)
    assert.equal("astrocyte.audit.access_denied", util.json.decode(lines[2]).event)
    l:set_level("off")
    l:audit("config_reload", {})
    assert.equal(2, #lines)
  end)

  it("maps control characters to spaces so a line cannot be forged", function()
    local l, lines = capture()
    l:warn("evil\nevent", { data = { msg = 'x\r\n{"event":"forged"}\t\0end' } })
    assert.equal(1, #lines)
    local e = util.json.decode(lines[1])
    assert.equal("evil event", e.event)
    assert.equal('x  {"event":"forged"}  end', e.data.msg)
    assert.equal("a b", log.safe("a\027b"))
  end)

  it("never outputs a secret or a PII value", function()
    local l, lines = capture()
    l:add_secret("whsec_registered_7788")
    local text = "user ana.lima@example.com paid with 4111 1111 1111 1111 and 5500-0000-0000-0004, " ..
                 "call +1 415 555 0100; api_key=sk-live-4f9a8b7c6d5e4f3a2b1c password: hunter2-Pa55word! " ..
                 "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig dsn postgres://app:dbpass-0099@db/x " ..
                 "secret whsec_registered_7788"
    l:error("astrocyte.provider.error", {
      bank_id = "b1", provider = "openai", operation = "embed", trace_id = "t",
      data = {
        error = text,
        api_key = "sk-live-4f9a8b7c6d5e4f3a2b1c",
        ["X-Api-Key"] = "sk-live-4f9a8b7c6d5e4f3a2b1c",
        password = "hunter2-Pa55word!",
        headers = { Authorization = "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", Cookie = "sid=abc" },
        dsn = "postgres://app:dbpass-0099@db/x",
        config = { llm = { token = "whsec_registered_7788" }, url = "https://u:dbpass-0099@h/p" },
        list = { "ana.lima@example.com", "+1 415 555 0100" },
        max_tokens = 256,
      },
      email = "ana.lima@example.com",
    })
    l:warn("astrocyte.hook.error", { data = { error = "hook raised: " .. text } })
    l:audit("forget", { bank_id = "b1", reason = "request from ana.lima@example.com", data = { card = "4111111111111111" } })
    local out = table.concat(lines, "\n")
    assert.equal(3, #lines)
    for _, s in ipairs(SECRETS) do assert.is_nil(out:find(s, 1, true), "secret leaked: " .. s) end
    for _, p in ipairs(PII) do assert.is_nil(out:find(p, 1, true), "PII leaked: " .. p) end
    assert.is_nil(out:find("4111111111111111", 1, true))
    -- the non-sensitive parts survive
    local e = util.json.decode(lines[1])
    assert.equal(256, e.data.max_tokens)
    assert.equal("***", e.data.api_key)
    assert.equal("***", e.data.headers.Authorization)
    assert.truthy(e.data.error:find("[EMAIL_REDACTED]", 1, true))
    assert.truthy(e.data.error:find("[CC_REDACTED]", 1, true))
    assert.equal("b1", e.bank_id)
  end)

  it("appends to a file sink", function()
    local dir = tmp.dir()
    local path = dir .. "/astro.log"
    local l = assert(log.new({ sink = { path = path } }))
    l:info("one", { data = { password = "hunter2-Pa55word!" } })
    l:info("two")
    l:close()
    local f = assert(io.open(path, "rb"))
    local body = f:read("*a")
    f:close()
    tmp.rm(dir)
    local _, n = body:gsub("\n", "")
    assert.equal(2, n)
    assert.is_nil(body:find("hunter2", 1, true))
  end)

  it("keeps writing when the sink raises, counting what was lost", function()
    local l = assert(log.new({ sink = function() error("disk full") end }))
    l:info("x")
    assert.equal(1, l.dropped)
  end)

  it("rejects a bad sink", function()
    assert.same({ nil, "log: sink must be 'stderr', 'stdout', 'none', a function, a file or { path = ... }" },
                { log.new({ sink = 42 }) })
  end)
end)
