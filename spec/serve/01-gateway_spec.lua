-- `astrocyte serve`: the REST gateway's routes over HTTP (two nginx workers
-- sharing one SQLite file), with dev auth (principal from
-- X-Astrocyte-Principal) flowing into the engine's access control
-- (owner_only: a principal may use its own user-<id> bank only), the
-- per-principal rate limit shared by both workers, and /metrics.
local gateway = require "support.gateway"
local util = require "astrocyte.util"

if gateway.skip("astrocyte serve", pending) then return end

describe("astrocyte serve: routes", function()
  local g
  local ANA = { ["X-Astrocyte-Principal"] = "user:ana" }

  setup(function()
    g = gateway.start({
      workers = 2,
      args = { "--rate-limit", "20" },
      config = util.encode({ access_control = { enabled = true, default_policy = "owner_only" } }),
    })
  end)

  teardown(function()
    if g then g:cleanup() end
  end)

  it("answers liveness, readiness and health without credentials", function()
    local s, v = g:json("GET", "/live")
    assert.equal(200, s); assert.equal("ok", v.status)
    s, v = g:json("GET", "/health/live")
    assert.equal(200, s); assert.equal("ok", v.status)
    s, v = g:json("GET", "/ready")
    assert.equal(200, s); assert.is_true(v.ready)
    s, v = g:json("GET", "/health")
    assert.equal(200, s); assert.is_true(v.healthy)
  end)

  it("retains, recalls, reflects and forgets as the principal, on its own bank", function()
    local s, kept, _, raw = g:json("POST", "/v1/retain",
      { content = "Ana prefers green tea in the morning", bank_id = "user-ana", tags = { "drinks" } }, ANA)
    assert.equal(200, s, raw)
    assert.is_true(kept.stored)
    assert.is_string(kept.memory_id)

    local res
    s, res, _, raw = g:json("POST", "/v1/recall", { query = "what does Ana drink?", bank_id = "user-ana" }, ANA)
    assert.equal(200, s, raw)
    assert.equal(kept.memory_id, res.hits[1].memory_id)
    assert.equal("Ana prefers green tea in the morning", res.hits[1].text)

    s, res, _, raw = g:json("POST", "/v1/reflect", { query = "what does Ana drink?", bank_id = "user-ana" }, ANA)
    assert.equal(200, s, raw)
    assert.is_string(res.answer)
    assert.truthy(res.answer:find("green tea", 1, true), raw)

    s, res, _, raw = g:json("GET", "/v1/banks", nil, ANA)
    assert.equal(200, s, raw)
    assert.same({ { bank_id = "user-ana", memory_count = 1 } }, res.banks)

    s, res, _, raw = g:json("POST", "/v1/forget", { bank_id = "user-ana", memory_ids = { kept.memory_id } }, ANA)
    assert.equal(200, s, raw)
    assert.equal(1, res.deleted_count)
    s, res = g:json("POST", "/v1/recall", { query = "green tea", bank_id = "user-ana" }, ANA)
    assert.equal(200, s)
    assert.same({}, res.hits)
  end)

  it("denies another principal's bank and the anonymous caller with 403 (engine access control)", function()
    local s, v, _, raw = g:json("POST", "/v1/retain", { content = "not mine", bank_id = "user-bob" }, ANA)
    assert.equal(403, s, raw)
    assert.equal("AccessDenied", v.error.kind)
    assert.truthy(v.detail:find("user:ana", 1, true), raw)
    s, v, _, raw = g:json("POST", "/v1/recall", { query = "anything", bank_id = "user-ana" })
    assert.equal(403, s, raw)
    assert.equal("AccessDenied", v.error.kind)
    assert.truthy(v.detail:find("anonymous", 1, true), raw)
  end)

  it("searches the entity graph and walks it to connected memories (POST /v1/graph/search, /neighbors)", function()
    local s, _, _, raw = g:json("POST", "/v1/retain",
      { content = "Ana met Joao at the Lisbon harbour", bank_id = "user-ana" }, ANA)
    assert.equal(200, s, raw)
    local res
    s, res, _, raw = g:json("POST", "/v1/graph/search", { query = "joao", bank_id = "user-ana" }, ANA)
    assert.equal(200, s, raw)
    assert.equal("Joao", res.entities[1].name)
    s, res, _, raw = g:json("POST", "/v1/graph/neighbors",
      { entity_ids = { res.entities[1].id }, bank_id = "user-ana", max_depth = 99 }, ANA)
    assert.equal(200, s, raw) -- max_depth is clamped, as the reference gateway does
    assert.equal("Ana met Joao at the Lisbon harbour", res.hits[1].text)
    s, res, _, raw = g:json("POST", "/v1/graph/search", { query = "joao", bank_id = "user-ana" },
                            { ["X-Astrocyte-Principal"] = "user:bob" })
    assert.equal(403, s, raw)
    s, res, _, raw = g:json("POST", "/v1/graph/neighbors", { entity_ids = "x", bank_id = "user-ana" }, ANA)
    assert.equal(400, s, raw)
    assert.equal("entity_ids", res.error.field)
  end)

  it("serves retains from one worker to recalls on the other", function()
    local BOB = { ["X-Astrocyte-Principal"] = "user:bob" }
    local words = { "quokka", "zeppelin", "marzipan", "obsidian", "kumquat", "theremin" }
    for i, w in ipairs(words) do
      local s, kept, _, raw = g:json("POST", "/v1/retain",
        { content = ("note %d: the %s is in the attic"):format(i, w), bank_id = "user-bob" }, BOB)
      assert.equal(200, s, raw)
      local rs, res, _, rraw = g:json("POST", "/v1/recall", { query = w, bank_id = "user-bob", max_results = 1 }, BOB)
      assert.equal(200, rs, rraw)
      assert.equal(kept.memory_id, res.hits[1] and res.hits[1].memory_id, rraw)
    end
  end)

  it("echoes a caller's X-Request-ID, and makes one up otherwise", function()
    local _, _, h = g:json("GET", "/live", nil, { ["X-Request-ID"] = "req-42.a" })
    assert.equal("req-42.a", h["x-request-id"])
    _, _, h = g:json("GET", "/live", nil, { ["X-Request-ID"] = "not ok; <script>" })
    assert.truthy(h["x-request-id"]:match("^%x+$"), h["x-request-id"])
    local _, _, h2 = g:json("GET", "/live")
    assert.truthy(h2["x-request-id"]:match("^%x+$") and h2["x-request-id"] ~= h["x-request-id"])
  end)

  it("answers 404 for an unknown route and 405 with Allow for a wrong method, as JSON", function()
    local s, v = g:json("GET", "/v2/nothing")
    assert.equal(404, s); assert.equal("NotFound", v.error.kind)
    local h
    s, v, h = g:json("GET", "/v1/retain")
    assert.equal(405, s); assert.equal("MethodNotAllowed", v.error.kind)
    assert.equal("POST", h["allow"])
  end)

  it("limits each principal across both workers (lua_shared_dict) with 429 and Retry-After", function()
    local CAROL = { ["X-Astrocyte-Principal"] = "user:carol" }
    local ok, limited, retry_after = 0, 0, nil
    local t0 = os.time()
    for _ = 1, 26 do
      local s, v, h = g:json("GET", "/v1/banks", nil, CAROL)
      if s == 200 then
        ok = ok + 1
      else
        assert.equal(429, s)
        assert.equal("RateLimited", v.error.kind)
        assert.is_number(v.retry_after_seconds)
        retry_after = h["retry-after"]
        limited = limited + 1
      end
    end
    -- 20 a minute: one token back per 3 s the loop took
    local refill = math.floor((os.time() - t0 + 1) / 3)
    assert.truthy(ok >= 20 and ok <= 20 + refill, ok .. " accepted")
    assert.equal(26 - ok, limited)
    assert.truthy(tonumber(retry_after) and tonumber(retry_after) >= 1, tostring(retry_after))
    -- another principal has its own bucket
    local s = g:json("GET", "/v1/banks", nil, { ["X-Astrocyte-Principal"] = "user:dave" })
    assert.equal(200, s)
  end)

  it("lists every bank on the admin route (loopback, no admin token configured)", function()
    local s, v, _, raw = g:json("GET", "/v1/admin/banks")
    assert.equal(200, s, raw)
    assert.is_table(v.banks)
    local seen = {}
    for _, b in ipairs(v.banks) do seen[b] = true end
    assert.is_true(seen["user-bob"], raw)
  end)

  it("exports request counters and latency for all workers in Prometheus text", function()
    local before = g:request("GET", "/metrics")
    assert.equal(200, before)
    local s, text, h = g:request("GET", "/metrics")
    assert.equal(200, s)
    assert.truthy(h["content-type"]:find("text/plain", 1, true))
    assert.truthy(text:find("# TYPE astrocyte_http_requests_total counter", 1, true), text)
    -- 6 retains by bob + 2 by ana succeeded: the count sums both workers
    local n = text:match('astrocyte_http_requests_total{route="retain",method="POST",status="200"} (%d+)')
    assert.equal("8", n, text)
    assert.truthy(text:find('astrocyte_http_requests_total{route="retain",method="POST",status="403"} 1', 1, true), text)
    assert.truthy(text:find('astrocyte_http_request_duration_seconds_count{route="recall"}', 1, true), text)
    assert.truthy(text:find("astrocyte_http_rate_limited_total %d"), text)
  end)
end)
