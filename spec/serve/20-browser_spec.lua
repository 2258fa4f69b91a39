-- The memory browser (GET /ui of `astrocyte serve`) in headless Chromium
-- (Debian's chromium driven by puppeteer-core from tools/browser): load,
-- list banks with counts, recall with scores and the channels that found
-- each hit, open a memory (tags, metadata, entities, history), forget it
-- behind a confirmation; and another principal sees nothing of a bank it
-- may not read, not even by asking the JSON routes directly.
local gateway = require "support.gateway"
local util = require "astrocyte.util"

if gateway.skip("the memory browser", pending) then return end

local TOOLS = gateway.SOURCE_DIR .. "/tools/browser"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function contains(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

-- Runs tools/browser/check.mjs against base with scenario; returns what it saw.
local function drive(base, scenario)
  local p = assert(io.popen("node " .. q(TOOLS .. "/check.mjs") .. " " .. q(base) .. " "
    .. q(assert(util.encode(scenario))) .. " 2>&1", "r"))
  local out = p:read("*a")
  p:close()
  local line = out:match("(%b{})%s*$")
  local v = line and util.json.decode(line)
  assert(v, "the browser check printed no result:\n" .. out)
  assert(v.failure == nil, "the browser check failed: " .. tostring(v.failure) .. "\n" .. out)
  return v
end

describe("astrocyte serve: the memory browser in Chromium", function()
  local g, seen
  local ANA = { ["X-Astrocyte-Principal"] = "user:ana" }

  setup(function()
    local f = io.open(TOOLS .. "/node_modules/puppeteer-core/package.json", "rb")
    assert(f, "puppeteer-core is not installed: run scripts/setup --test (npm ci in tools/browser)")
    f:close()
    assert(io.open("/usr/bin/chromium", "rb"), "chromium is not installed: run scripts/setup --test")
    g = gateway.start({
      workers = 1,
      config = util.encode({ access_control = { enabled = true, default_policy = "owner_only" } }),
    })
    local notes = {
      { "Ana moved to Lisbon in March to work on the harbour project.", { "move" }, { source = "chat" } },
      { "Ana's sister Marta lives in Porto and teaches biology.", { "family" }, { source = "chat" } },
      { "The harbour project review is on Thursday with Joao.", { "work" }, { source = "calendar" } },
      { "Ana likes strong coffee, no sugar.", { "food" }, nil },
    }
    for _, n in ipairs(notes) do
      local s, _, _, raw = g:json("POST", "/v1/retain",
        { content = n[1], bank_id = "user-ana", tags = n[2], metadata = n[3] }, ANA)
      assert(s == 200, raw)
    end
    seen = drive(g.url, {
      principal = "user:ana", bank = "user-ana", query = "Where did Ana move for the harbour project?",
      intruder = "user:eve",
    })
  end)

  teardown(function()
    if g then g:cleanup() end
  end)

  it("loads as one page with no external requests and no script errors", function()
    assert.equal(200, seen.status)
    assert.truthy(seen.content_type:find("text/html", 1, true))
    assert.equal("Astrocyte memory browser", seen.title)
    assert.same({}, seen.external_requests)
    assert.same({}, seen.page_errors)
    assert.same({}, seen.console_errors)
  end)

  it("lists the principal's banks with their memory counts", function()
    assert.same({ { bank_id = "user-ana", count = 4 } }, seen.banks)
  end)

  it("shows each hit with its score and the channels that found it", function()
    assert.truthy(#seen.hits >= 2)
    local top = seen.hits[1]
    assert.equal("Ana moved to Lisbon in March to work on the harbour project.", top.text)
    assert.truthy(top.score > 0 and top.score <= 1)
    for i = 2, #seen.hits do assert.truthy(seen.hits[i].score <= seen.hits[i - 1].score) end
    local names = {}
    for _, c in ipairs(top.channels) do names[#names + 1] = c:match("^(%a+) #%d+$") end
    table.sort(names)
    assert.truthy(#names >= 2, table.concat(top.channels, ", "))
    assert.truthy(contains(names, "keyword"), table.concat(names, ","))
    assert.truthy(contains(names, "semantic"), table.concat(names, ","))
  end)

  it("opens a memory with its tags, metadata, entities and history", function()
    local d = seen.detail
    assert.equal(seen.hits[1].memory_id, d.memory_id)
    assert.equal(seen.hits[1].text, d.text)
    assert.same({ "move" }, d.tags)
    assert.same({ { "source", "chat" } }, d.metadata)
    assert.truthy(contains(d.entities, "Lisbon"), table.concat(d.entities, ","))
    assert.equal("retained", d.history[1])
  end)

  it("forgets only after the confirmation, then the memory is gone from counts and recall", function()
    assert.is_true(seen.confirm_shown)
    assert.is_true(seen.still_there_after_cancel)
    assert.truthy(seen.forget_message:find("1 deleted", 1, true), seen.forget_message)
    assert.same({ { bank_id = "user-ana", count = 3 } }, seen.banks_after_forget)
    for _, h in ipairs(seen.hits_after_forget) do assert.are_not.equal(seen.forgotten_id, h.memory_id) end
    local s, res = g:json("POST", "/v1/recall", { query = "Lisbon harbour move", bank_id = "user-ana" }, ANA)
    assert.equal(200, s)
    for _, h in ipairs(res.hits) do assert.are_not.equal(seen.forgotten_id, h.memory_id) end
  end)

  it("shows another principal nothing of a bank it may not read", function()
    assert.same({}, seen.intruder_banks)
    assert.equal(403, seen.intruder_memory.status)
    assert.truthy(seen.intruder_memory.body:find("AccessDenied", 1, true), seen.intruder_memory.body)
    assert.falsy(seen.intruder_memory.body:find("Marta", 1, true))
    assert.equal(403, seen.intruder_recall.status)
    assert.falsy(seen.intruder_recall.body:find("coffee", 1, true))
  end)
end)
