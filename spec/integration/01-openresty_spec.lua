-- Astrocyte inside nginx + ngx_http_lua (LuaJIT): starts a private nginx from
-- examples/openresty/nginx.conf (two workers sharing one SQLite file and
-- one lua_shared_dict of limiter state) in a temporary prefix, then
-- retains and recalls over HTTP with curl (spec/support/nginx.lua).
local util = require "astrocyte.util"
local nginx = require "support.nginx"
local json = util.json
local urlencode = nginx.urlencode

if nginx.skip("astrocyte in nginx", pending) then return end

describe("astrocyte in nginx (ngx_http_lua)", function()
  local server

  -- → status, decoded JSON, raw body, pid of the worker that answered, headers
  local function get_json(method, path, body)
    local status, text, headers = server:http(method, path, body)
    local v = json.decode(text)
    assert(v ~= nil, "not JSON (HTTP " .. status .. "): " .. text .. "\nerror.log:\n" .. server:error_log())
    return status, v, text, headers["x-worker-pid"], headers
  end

  setup(function()
    local template = assert(nginx.read_file(nginx.SOURCE_DIR .. "/examples/openresty/nginx.conf"),
      "cannot read examples/openresty/nginx.conf")
    server = nginx.start(template, "/runtime")
  end)

  teardown(function()
    if server then server:stop() end
  end)

  it("runs the handlers on LuaJIT", function()
    local status, v = get_json("GET", "/runtime")
    assert.equal(200, status)
    assert.equal("Lua 5.1", v.lua)
    assert.is_string(v.jit)
    assert.truthy(v.jit:find("^LuaJIT 2%.1"), v.jit)
  end)

  it("answers 503 while the database cannot be opened, and recovers once it can", function()
    -- No worker has opened its engine yet (/runtime does not). A file where
    -- the data directory should be stops the open whoever the workers run as.
    local data = server.prefix .. "/data"
    assert(os.execute("rm -rf '" .. data .. "' && touch '" .. data .. "'"))
    local status, v, raw = get_json("POST", "/retain?bank=perm", "written once the database opens")
    assert.equal(503, status, raw)
    assert.equal("StorageError", v.error.kind)
    assert.truthy(server:error_log():find("cannot open the engine (retrying in 1 s)", 1, true))
    assert(os.execute("rm -f '" .. data .. "' && mkdir -m 1777 '" .. data .. "'"))
    -- Each worker retries at most a second after its last failure; poll
    -- (bounded) until both have answered 200, so later specs meet no 503.
    local ok_workers, n = {}, 0
    for _ = 1, 150 do
      local worker
      status, v, raw, worker = get_json("POST", "/retain?bank=perm", "written once the database opens")
      if status == 200 and not ok_workers[worker] then ok_workers[worker] = true; n = n + 1 end
      if n == 2 then break end
      os.execute("sleep 0.1")
    end
    assert.equal(2, n, raw)
  end)

  it("retains over POST and recalls the memory as the top hit", function()
    local text = "Ana prefers green tea in the morning"
    local status, kept, raw = get_json("POST", "/retain?bank=ana&tag=drinks", text)
    assert.equal(200, status, raw)
    assert.is_true(kept.stored)
    assert.is_string(kept.memory_id)

    local rstatus, res, rraw = get_json("GET", "/recall?bank=ana&q=" .. urlencode("what does Ana drink?"))
    assert.equal(200, rstatus, rraw)
    assert.is_table(res.hits)
    assert.truthy(#res.hits >= 1, rraw)
    assert.equal(kept.memory_id, res.hits[1].memory_id)
    assert.equal(text, res.hits[1].text)
    assert.equal("ana", res.hits[1].bank_id)
    -- inside the worker the strategies run as ngx light threads
    assert.equal("threads", res.trace.strategy_execution, rraw)
  end)

  it("recalls on one worker what another worker retained (shared SQLite file)", function()
    local words = { "quokka", "zeppelin", "marzipan", "obsidian", "kumquat", "theremin", "axolotl",
                    "sextant", "tamarind", "gondola", "pangolin", "harpsichord", "saffron", "narwhal",
                    "bergamot", "astrolabe", "capybara", "tourmaline", "okapi", "ocarina" }
    local crossed, workers = 0, {}
    for round = 1, 10 do
      for i, w in ipairs(words) do
        local text = ("Round %d note %d: the %s was kept in the attic"):format(round, i, w)
        local status, kept, raw, wk_retain = get_json("POST", "/retain?bank=shared" .. round, text)
        assert.equal(200, status, raw)
        local rstatus, res, rraw, wk_recall = get_json("GET", "/recall?bank=shared" .. round .. "&max=1&q=" .. urlencode(w))
        assert.equal(200, rstatus, rraw)
        assert.equal(kept.memory_id, res.hits[1] and res.hits[1].memory_id, rraw)
        assert.is_string(wk_retain); assert.is_string(wk_recall)
        workers[wk_retain], workers[wk_recall] = true, true
        if wk_retain ~= wk_recall then crossed = crossed + 1 end
      end
      if crossed >= 5 then break end
    end
    local n = 0
    for _ in pairs(workers) do n = n + 1 end
    assert.equal(2, n)
    assert.truthy(crossed >= 5, "only " .. crossed .. " recalls were answered by another worker than the retain")
  end)

  it("enforces a per-bank rate limit across both workers (lua_shared_dict state)", function()
    -- banks.demo-limited allows 5 retains a minute; with per-worker state
    -- each worker would allow 5 of its own
    local accepted, limited, workers, n = 0, 0, {}, 0
    local i = 0
    local t0 = os.time()
    while i < 40 and (i < 12 or n < 2) do
      i = i + 1
      local status, v, raw, worker, headers = get_json("POST", "/retain?bank=demo-limited",
        "Limited note number " .. i .. " about " .. ("xyz"):rep(i % 5 + 1))
      if not workers[worker] then workers[worker] = true; n = n + 1 end
      if status == 200 then
        accepted = accepted + 1
      else
        assert.equal(429, status, raw)
        assert.equal("RateLimited", v.error.kind)
        assert.is_number(v.error.retry_after)
        assert.truthy(v.error.retry_after > 0 and v.error.retry_after <= 12, raw)
        assert.is_string(headers["retry-after"])
        limited = limited + 1
      end
    end
    -- 5 tokens, plus one per 12 s the loop took (a slow machine); per
    -- worker state would accept about 10
    local refill = math.floor((os.time() - t0 + 1) / 12)
    assert.equal(2, n)
    assert.truthy(accepted >= 5 and accepted <= 5 + refill, accepted .. " accepted")
    assert.equal(i - accepted, limited)
  end)

  it("rejects an empty text with 400 and a ValidationError", function()
    local status, v, raw = get_json("POST", "/retain?bank=ana&text=")
    assert.equal(400, status, raw)
    assert.is_table(v.error)
    assert.equal("ValidationError", v.error.kind)
    assert.is_string(v.error.message)
  end)
end)
