-- `astrocyte serve`: bad requests, table-driven. Each one gets a clear JSON
-- error (status, kind, and the field or reason in the message) and stores
-- nothing: after all of them the target bank is empty, through the gateway
-- and in the SQLite file itself. Auth is jwt_hs256, so bad tokens are among
-- the cases; tokens are signed with openssl(1), not with the gateway's code.
local gateway = require "support.gateway"
local util = require "astrocyte.util"
local jwt = require "astrocyte.serve.jwt"

if gateway.skip("astrocyte serve", pending) then return end

local SECRET = "bad-requests-secret-0123456789"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- An HS256 JWT for claims, signed by openssl (raw HMAC-SHA256).
local function hs256(claims, secret, header)
  local h = jwt.base64url_encode(util.encode(header or { alg = "HS256", typ = "JWT" }))
  local p = jwt.base64url_encode(util.encode(claims))
  local input = h .. "." .. p
  local f = assert(io.popen("printf '%s' " .. q(input) .. " | openssl dgst -sha256 -binary -hmac " .. q(secret or SECRET)))
  local sig = f:read("*a")
  f:close()
  assert(#sig == 32, "openssl did not produce an HMAC")
  return input .. "." .. jwt.base64url_encode(sig)
end

describe("astrocyte serve: bad requests", function()
  local g, AUTH

  setup(function()
    g = gateway.start({ args = { "--max-body", "64k" },
                        env = { ASTROCYTE_AUTH_MODE = "jwt_hs256", ASTROCYTE_JWT_SECRET = SECRET } })
    AUTH = { Authorization = "Bearer " .. hs256({ sub = "user:eve", exp = os.time() + 3600 }) }
  end)

  teardown(function()
    if g then g:cleanup() end
  end)

  local function retain(fields)
    local b = { content = "Eve keeps the spare key under the blue flowerpot", bank_id = "victim" }
    for k, v in pairs(fields) do b[k] = v end
    return util.encode(b)
  end
  local function recall(fields)
    local b = { query = "where is the spare key", bank_id = "victim" }
    for k, v in pairs(fields) do b[k] = v end
    return util.encode(b)
  end
  local deep = ("["):rep(2000) .. ("]"):rep(2000)

  -- { name, method, path, body, expected status, kind, message fragment, headers? }
  local CASES = {
    { "malformed JSON", "POST", "/v1/retain", '{"content": "x", "bank_id":', 400, "ValidationError", "not valid JSON" },
    { "a JSON array body", "POST", "/v1/retain", '["content", "victim"]', 400, "ValidationError", "JSON object" },
    { "a JSON string body", "POST", "/v1/retain", '"remember this"', 400, "ValidationError", "JSON object" },
    { "a JSON null body", "POST", "/v1/retain", "null", 400, "ValidationError", "JSON object" },
    { "an empty body", "POST", "/v1/retain", "", 400, "ValidationError", "empty" },
    { "JSON nested 2000 deep", "POST", "/v1/retain", deep, 400, "ValidationError", "not valid JSON" },
    { "content missing", "POST", "/v1/retain", '{"bank_id": "victim"}', 400, "ValidationError", "content is required" },
    { "bank_id missing", "POST", "/v1/retain", '{"content": "Eve keeps a key"}', 400, "ValidationError", "bank_id is required" },
    { "content a number", "POST", "/v1/retain", retain({ content = 42 }), 400, "ValidationError", "content must be a string" },
    { "content an object", "POST", "/v1/retain", retain({ content = { text = "x" } }), 400, "ValidationError", "content must be a string" },
    { "content empty", "POST", "/v1/retain", retain({ content = "" }), 400, "ValidationError", "content" },
    { "bank_id a number", "POST", "/v1/retain", retain({ bank_id = 7 }), 400, "ValidationError", "bank_id must be a string" },
    { "bank_id empty", "POST", "/v1/retain", retain({ bank_id = "" }), 400, "ValidationError", "bank_id" },
    { "tags a string", "POST", "/v1/retain", retain({ tags = "keys" }), 400, "ValidationError", "tags must be an array" },
    { "tags of numbers", "POST", "/v1/retain", retain({ tags = { 1, 2 } }), 400, "ValidationError", "tags" },
    { "metadata an array", "POST", "/v1/retain", retain({ metadata = { 1, 2 } }), 400, "ValidationError", "metadata must be an object" },
    { "metadata a string", "POST", "/v1/retain", retain({ metadata = "k=v" }), 400, "ValidationError", "metadata must be an object" },
    { "occurred_at not a date", "POST", "/v1/retain", retain({ occurred_at = "last tuesday" }), 400, "ValidationError", "occurred_at" },
    { "occurred_at a number", "POST", "/v1/retain", retain({ occurred_at = 5 }), 400, "ValidationError", "occurred_at must be a string" },
    { "fact_type a boolean", "POST", "/v1/retain", retain({ fact_type = true }), 400, "ValidationError", "fact_type must be a string" },
    { "a text/html body", "POST", "/v1/retain", retain({}), 415, "UnsupportedMediaType", "application/json",
      { ["Content-Type"] = "text/html" } },
    { "a form body", "POST", "/v1/retain", "content=x&bank_id=victim", 415, "UnsupportedMediaType", "application/json",
      { ["Content-Type"] = "application/x-www-form-urlencoded" } },
    { "a body over --max-body", "POST", "/v1/retain", retain({ content = ("spare key "):rep(8000) }), 413, "PayloadTooLarge", "larger than" },
    { "recall without query", "POST", "/v1/recall", '{"bank_id": "victim"}', 400, "ValidationError", "query is required" },
    { "recall without bank", "POST", "/v1/recall", '{"query": "key"}', 400, "ValidationError", "bank_id or banks" },
    { "recall max_results a string", "POST", "/v1/recall", recall({ max_results = "ten" }), 400, "ValidationError", "max_results must be an integer" },
    { "recall max_results a fraction", "POST", "/v1/recall", recall({ max_results = 2.5 }), 400, "ValidationError", "max_results must be an integer" },
    { "recall banks a string", "POST", "/v1/recall", recall({ banks = "victim" }), 400, "ValidationError", "banks must be an array" },
    { "recall banks empty", "POST", "/v1/recall", recall({ banks = {} }), 400, "ConfigError", "bank" },
    { "recall time_range a string", "POST", "/v1/recall", recall({ time_range = "yesterday" }), 400, "ValidationError", "time_range must be an object" },
    { "reflect include_sources a string", "POST", "/v1/reflect", recall({ include_sources = "yes" }), 400, "ValidationError", "include_sources must be a boolean" },
    { "forget without bank_id", "POST", "/v1/forget", '{"memory_ids": ["a"]}', 400, "ValidationError", "bank_id is required" },
    { "forget memory_ids a string", "POST", "/v1/forget", '{"bank_id": "victim", "memory_ids": "a"}', 400, "ValidationError", "memory_ids must be an array" },
    { "an unknown route", "POST", "/v1/retains", retain({}), 404, "NotFound", "no route" },
    { "a wrong method", "PUT", "/v1/retain", retain({}), 405, "MethodNotAllowed", "PUT" },
    { "no Authorization header", "POST", "/v1/retain", retain({}), 401, "Unauthorized", "Bearer", { Authorization = false } },
    { "Basic instead of Bearer", "POST", "/v1/retain", retain({}), 401, "Unauthorized", "Bearer",
      { Authorization = "Basic ZXZlOnNlY3JldA==" } },
    { "a token that is not a JWT", "POST", "/v1/retain", retain({}), 401, "Unauthorized", "malformed",
      { Authorization = "Bearer not-a-token" } },
    { "a token signed with another secret", "POST", "/v1/retain", retain({}), 401, "Unauthorized", "signature",
      { Authorization = "Bearer " .. hs256({ sub = "user:eve", exp = os.time() + 3600 }, "another-secret") } },
    { "an expired token", "POST", "/v1/retain", retain({}), 401, "Unauthorized", "expired",
      { Authorization = "Bearer " .. hs256({ sub = "user:eve", exp = os.time() - 3600 }) } },
    { "a token with alg none", "POST", "/v1/retain", retain({}), 401, "Unauthorized", "HS256",
      { Authorization = "Bearer " .. hs256({ sub = "user:eve" }, nil, { alg = "none" }):gsub("%.[^.]*$", ".e30") } },
    { "a token without sub", "POST", "/v1/retain", retain({}), 401, "Unauthorized", "sub",
      { Authorization = "Bearer " .. hs256({ exp = os.time() + 3600 }) } },
    { "a token not valid yet", "POST", "/v1/retain", retain({}), 401, "Unauthorized", "nbf",
      { Authorization = "Bearer " .. hs256({ sub = "user:eve", nbf = os.time() + 3600 }) } },
  }

  it("answers each bad request with its status and a JSON error naming the problem", function()
    assert.truthy(#CASES >= 30)
    for _, c in ipairs(CASES) do
      local name, method, path, body, status, kind, fragment, extra = c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
      local headers = {}
      for k, v in pairs(AUTH) do headers[k] = v end
      for k, v in pairs(extra or {}) do headers[k] = v or nil end
      local s, raw, h = g:request(method, path, body, headers)
      local v = util.json.decode(raw)
      assert(type(v) == "table", name .. ": not a JSON error (HTTP " .. s .. "): " .. raw)
      assert(s == status, ("%s: expected HTTP %d, got %d: %s"):format(name, status, s, raw))
      assert(v.error and v.error.kind == kind, ("%s: expected kind %s: %s"):format(name, kind, raw))
      assert(type(v.detail) == "string" and v.detail:find(fragment, 1, true),
             ("%s: message should mention '%s': %s"):format(name, fragment, raw))
      assert(h["content-type"] and h["content-type"]:find("application/json", 1, true), name .. ": content type")
      if s == 401 then assert.equal("Bearer", h["www-authenticate"], name) end
    end
  end)

  it("stored nothing: the bank is empty through the gateway and in the database", function()
    local s, v, _, raw = g:json("POST", "/v1/recall", { query = "spare key blue flowerpot", bank_id = "victim" }, AUTH)
    assert.equal(200, s, raw)
    assert.same({}, v.hits)
    s, v, _, raw = g:json("GET", "/v1/admin/banks", nil, AUTH)
    assert.equal(200, s, raw)
    assert.same({}, v.banks)
    -- and the file itself (a second connection to the workers' SQLite file)
    local eng = assert(require("astrocyte").open(nil, { db = g.db }))
    local banks = assert(eng:banks())
    eng:close()
    assert.same({}, banks)
    -- the gateway still works: a good request after all the bad ones
    s, v, _, raw = g:json("POST", "/v1/retain", { content = "a good memory", bank_id = "other" }, AUTH)
    assert.equal(200, s, raw)
    assert.is_true(v.stored)
  end)
end)
