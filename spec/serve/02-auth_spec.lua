-- `astrocyte serve`: the auth modes, each on its own gateway. The
-- authenticated principal flows into the engine's access control
-- (owner_only: a principal may use its own convention bank only — user-<id>,
-- agent-<id>, service-<id>), so a 200 on one bank and a 403 on another
-- prove who the gateway decided the caller is.
--   api_key    ASTROCYTE_API_KEY + X-Astrocyte-Principal, and keys bound to
--              a principal (ASTROCYTE_API_KEYS); the admin token guard
--   jwt_hs256  audience and issuer checks
--   jwt_oidc   RS256 against a loopback JWKS server (spec/support/servers/
--              jwks_server.py); keys and signatures come from openssl(1);
--              key rotation, and forged kids do not flood the issuer
local gateway = require "support.gateway"
local server = require "support.server"
local util = require "astrocyte.util"
local jwt = require "astrocyte.serve.jwt"

if gateway.skip("astrocyte serve", pending) then return end

local OWNER_ONLY = util.encode({ access_control = { enabled = true, default_policy = "owner_only" } })

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local f = assert(io.popen(cmd))
  local out = f:read("*a")
  f:close()
  return out
end

local function b64(s) return jwt.base64url_encode(s) end

-- header.payload for a JWT.
local function unsigned(header, claims)
  return b64(util.encode(header)) .. "." .. b64(util.encode(claims))
end

local function hs256(claims, secret)
  local input = unsigned({ alg = "HS256", typ = "JWT" }, claims)
  return input .. "." .. b64(sh("printf '%s' " .. q(input) .. " | openssl dgst -sha256 -binary -hmac " .. q(secret)))
end

-- An RSA key made by openssl: {pem = path, jwk = {kty, n, e, kid, alg, use}}.
local pems = 0
local function rsa_key(dir, kid)
  pems = pems + 1
  local pem = dir .. "/key" .. pems .. ".pem"
  assert(os.execute("openssl genrsa -out " .. q(pem) .. " 2048 2>/dev/null") ~= false)
  local hex = sh("openssl rsa -in " .. q(pem) .. " -noout -modulus"):match("Modulus=(%x+)")
  assert(hex, "openssl did not print the modulus")
  local n = hex:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)
  return { pem = pem, kid = kid, jwk = { kty = "RSA", kid = kid, alg = "RS256", use = "sig", n = b64(n), e = "AQAB" } }
end

local function rs256(key, claims, header)
  local input = unsigned(header or { alg = "RS256", typ = "JWT", kid = key.kid }, claims)
  local sig = sh("printf '%s' " .. q(input) .. " | openssl dgst -sha256 -sign " .. q(key.pem))
  assert(#sig == 256, "openssl did not sign")
  return input .. "." .. b64(sig)
end

local function retain(g, headers, bank)
  local s, v, _, raw = g:json("POST", "/v1/retain", { content = "a note for " .. bank, bank_id = bank }, headers)
  return s, v, raw
end

describe("astrocyte serve: api_key auth", function()
  local g
  setup(function()
    g = gateway.start({ config = OWNER_ONLY, env = {
      ASTROCYTE_AUTH_MODE = "api_key", ASTROCYTE_API_KEY = "shared-key-1",
      ASTROCYTE_API_KEYS = "agent:bot=bot-key-2", ASTROCYTE_ADMIN_TOKEN = "admin-token-3" } })
  end)
  teardown(function() if g then g:cleanup() end end)

  it("takes the shared key with X-Astrocyte-Principal as that principal", function()
    local h = { ["X-Api-Key"] = "shared-key-1", ["X-Astrocyte-Principal"] = "user:ana" }
    local s, _, raw = retain(g, h, "user-ana")
    local v
    assert.equal(200, s, raw)
    s, v, raw = retain(g, h, "user-bob")
    assert.equal(403, s, raw)
    assert.equal("AccessDenied", v.error.kind)
  end)

  it("refuses a missing key, a wrong key, and the shared key without a principal (401)", function()
    for _, h in ipairs({ {}, { ["X-Api-Key"] = "shared-key-X", ["X-Astrocyte-Principal"] = "user:ana" },
                         { ["X-Api-Key"] = "shared-key-1" } }) do
      local s, v, raw = retain(g, h, "user-ana")
      assert.equal(401, s, raw)
      assert.equal("Unauthorized", v.error.kind)
    end
  end)

  it("binds a listed key to its principal, whatever header comes with it", function()
    local s, _, raw = retain(g, { ["X-Api-Key"] = "bot-key-2" }, "agent-bot")
    assert.equal(200, s, raw)
    s, _, raw = retain(g, { ["X-Api-Key"] = "bot-key-2", ["X-Astrocyte-Principal"] = "user:ana" }, "user-ana")
    assert.equal(403, s, raw)
  end)

  it("guards admin routes with X-Admin-Token", function()
    local h = { ["X-Api-Key"] = "shared-key-1", ["X-Astrocyte-Principal"] = "user:ana" }
    local s, v = g:json("GET", "/v1/admin/banks", nil, h)
    assert.equal(401, s); assert.equal("Unauthorized", v.error.kind)
    h["X-Admin-Token"] = "wrong"
    s = g:json("GET", "/v1/admin/banks", nil, h)
    assert.equal(401, s)
    h["X-Admin-Token"] = "admin-token-3"
    local _, raw
    s, v, _, raw = g:json("GET", "/v1/admin/banks", nil, h)
    assert.equal(200, s, raw)
    table.sort(v.banks)
    assert.same({ "agent-bot", "user-ana" }, v.banks)
  end)
end)

describe("astrocyte serve: jwt_hs256 auth", function()
  local g
  local SECRET = "hs256-secret-for-the-gateway-spec"
  setup(function()
    g = gateway.start({ config = OWNER_ONLY, env = {
      ASTROCYTE_AUTH_MODE = "jwt_hs256", ASTROCYTE_JWT_SECRET = SECRET,
      ASTROCYTE_JWT_AUDIENCE = "astrocyte", ASTROCYTE_JWT_ISSUER = "https://issuer.test" } })
  end)
  teardown(function() if g then g:cleanup() end end)

  local function bearer(claims, secret) return { Authorization = "Bearer " .. hs256(claims, secret or SECRET) } end

  it("takes sub as the principal when signature, audience and issuer match", function()
    local c = { sub = "user:ana", aud = "astrocyte", iss = "https://issuer.test", exp = os.time() + 600 }
    local s, _, raw = retain(g, bearer(c), "user-ana")
    assert.equal(200, s, raw)
    s, _, raw = retain(g, bearer(c), "user-bob")
    assert.equal(403, s, raw)
    -- aud may be a list that contains the audience; a bare sub is a user
    c.aud, c.sub = { "other", "astrocyte" }, "bob"
    s, _, raw = retain(g, bearer(c), "user-bob")
    assert.equal(200, s, raw)
  end)

  it("refuses a wrong audience, a wrong or missing issuer and a wrong secret (401)", function()
    local base = { sub = "user:ana", aud = "astrocyte", iss = "https://issuer.test", exp = os.time() + 600 }
    local function with(k, v) local c = util.copy(base); c[k] = v; return c end
    for _, case in ipairs({ { with("aud", "someone-else"), nil, "audience" }, { with("iss", "https://evil.test"), nil, "issuer" },
                            { with("iss", nil), nil, "issuer" }, { base, "wrong-secret", "signature" } }) do
      local s, v, raw = retain(g, bearer(case[1], case[2]), "user-ana")
      assert.equal(401, s, raw)
      assert.truthy(v.detail:find(case[3], 1, true), raw)
    end
  end)
end)

describe("astrocyte serve: jwt_oidc auth (RS256, JWKS)", function()
  local g, jwks, dir, k1, k2, other
  local ISS, AUD = "https://idp.test/", "astrocyte-api"

  setup(function()
    dir = sh("mktemp -d /tmp/astrocyte-oidc.XXXXXX"):gsub("%s+$", "")
    k1, k2, other = rsa_key(dir, "k1"), rsa_key(dir, "k2"), rsa_key(dir, "k1")
    jwks = server.start("jwks")
    jwks:admin("PUT", "/jwks", { keys = { k1.jwk } })
    g = gateway.start({ config = OWNER_ONLY, env = {
      ASTROCYTE_AUTH_MODE = "jwt_oidc", ASTROCYTE_OIDC_JWKS_URL = jwks.url .. "/.well-known/jwks.json",
      ASTROCYTE_OIDC_ISSUER = ISS, ASTROCYTE_OIDC_AUDIENCE = AUD } })
  end)
  teardown(function()
    if g then g:cleanup() end
    if jwks then jwks:stop() end
    if dir then os.execute("rm -rf " .. q(dir)) end
  end)

  local function claims(extra)
    local c = { sub = "ana", iss = ISS, aud = AUD, exp = os.time() + 600, iat = os.time() }
    for k, v in pairs(extra or {}) do c[k] = v end
    return c
  end
  local function bearer(tok) return { Authorization = "Bearer " .. tok } end

  it("verifies an RS256 token against the JWKS and acts as <actor type>:<sub>", function()
    local h = bearer(rs256(k1, claims()))
    local s, _, raw = retain(g, h, "user-ana")
    assert.equal(200, s, raw)
    s, _, raw = retain(g, h, "user-bob")
    assert.equal(403, s, raw)
    -- astrocyte_actor_type and astrocyte_principal claims
    s, _, raw = retain(g, bearer(rs256(k1, claims({ sub = "ingest", astrocyte_actor_type = "service" }))), "service-ingest")
    assert.equal(200, s, raw)
    s, _, raw = retain(g, bearer(rs256(k1, claims({ astrocyte_principal = "agent:planner" }))), "agent-planner")
    assert.equal(200, s, raw)
  end)

  it("refuses tampered, foreign-key, expired, wrong-audience, wrong-issuer and HS256 tokens (401)", function()
    local good = rs256(k1, claims())
    local h, p, sig = good:match("^([^.]+)%.([^.]+)%.(.+)$")
    local tampered = h .. "." .. b64(util.encode(claims({ sub = "bob" }))) .. "." .. sig
    -- HS256 keyed with the public modulus: the classic algorithm confusion
    local confused = unsigned({ alg = "HS256", kid = "k1" }, claims())
    confused = confused .. "." .. b64(sh("printf '%s' " .. q(confused) .. " | openssl dgst -sha256 -binary -hmac "
      .. q(k1.jwk.n)))
    local cases = {
      { tampered, "signature" },
      { rs256(other, claims()), "signature" },               -- right kid, wrong key
      { rs256(k1, claims({ exp = os.time() - 600 })), "expired" },
      { rs256(k1, claims({ aud = "another-api" })), "audience" },
      { rs256(k1, claims({ iss = "https://evil.test/" })), "issuer" },
      { confused, "RS256" },
      { h .. "." .. p .. ".", "signature" },
    }
    for i, c in ipairs(cases) do
      local s, v, raw = retain(g, bearer(c[1]), "user-ana")
      assert(s == 401, "case " .. i .. ": " .. raw)
      assert(v.detail:find(c[2], 1, true), "case " .. i .. " should mention " .. c[2] .. ": " .. raw)
    end
  end)

  it("picks up a rotated key, and forged kids do not flood the issuer", function()
    jwks:admin("PUT", "/jwks", { keys = { k1.jwk, k2.jwk } })
    local before = jwks:stats().by_path["/.well-known/jwks.json"] or 0
    -- a burst of tokens with unknown kids: at most one refetch per 2 s
    -- (plus one) for however long the burst took, not one per token
    local t0 = os.time()
    for i = 1, 15 do
      local s = retain(g, bearer(rs256(k2, claims(), { alg = "RS256", kid = "forged-" .. i })), "user-ana")
      assert.equal(401, s)
    end
    local after_burst = jwks:stats().by_path["/.well-known/jwks.json"] or 0
    local bound = 1 + math.ceil((os.time() - t0 + 1) / 2)
    assert.truthy(after_burst - before <= bound, (after_burst - before) .. " fetches for 15 forged kids (bound " .. bound .. ")")
    -- the new key k2 is accepted once the set is refetched (bounded wait)
    local status, raw
    for _ = 1, 40 do
      status, _, raw = retain(g, bearer(rs256(k2, claims())), "user-ana")
      if status == 200 then break end
      os.execute("sleep 0.2")
    end
    assert.equal(200, status, raw)
  end)
end)
