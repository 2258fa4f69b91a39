-- astrocyte.serve.jwks: the OIDC issuer's signing keys (a JSON Web Key Set,
-- RFC 7517) for RS256 tokens, fetched over HTTP and cached per worker. A
-- token whose `kid` is not in the cache triggers one refetch (key
-- rotation), at most every MIN_REFETCH seconds so a stream of forged kids
-- cannot make the gateway hammer the issuer; the set is refreshed after
-- `ttl` seconds anyway.
local jwt = require "astrocyte.serve.jwt"
local rsa = require "astrocyte.serve.rsa"
local util = require "astrocyte.util"
local type, tostring, ipairs, setmetatable = type, tostring, ipairs, setmetatable

local _M = {}
local mt = { __index = _M }

local MIN_REFETCH = 2

-- new({url, ttl = 3600, now = function, fetch = function(url) → body | nil, err})
-- fetch defaults to astrocyte.http's backend (cosockets inside nginx).
function _M.new(o)
  local fetch = o.fetch
  if not fetch then
    local backend = ngx and require("astrocyte.net.http_ngx") or require("astrocyte.http_curl")
    local conn
    fetch = function(url)
      conn = conn or backend.new()
      local res, err = conn:request({ method = "GET", url = url, timeout_ms = 5000,
                                      headers = { Accept = "application/json" } })
      if not res then return nil, tostring(err) end
      if res.status ~= 200 then return nil, "HTTP " .. tostring(res.status) end
      return res.body
    end
  end
  return setmetatable({ url = o.url, ttl = o.ttl or 3600, now = o.now or os.time, fetch = fetch,
                        keys = {}, fetched_at = nil, tried_at = nil }, mt)
end

-- Parses a JWKS body into kid → EVP key (RSA signing keys only).
local function parse(body)
  local set = util.json.decode(body or "")
  if type(set) ~= "table" or type(set.keys) ~= "table" then return nil, "JWKS is not a JSON object with keys" end
  local keys, n = {}, 0
  for i, k in ipairs(set.keys) do
    if type(k) == "table" and k.kty == "RSA" and (k.use == nil or k.use == "sig")
       and (k.alg == nil or k.alg == "RS256") then
      local nb, eb = jwt.base64url_decode(k.n), jwt.base64url_decode(k.e)
      if nb and eb then
        local key = rsa.public_key(nb, eb)
        if key then keys[k.kid or ("#" .. i)] = key; n = n + 1 end
      end
    end
  end
  if n == 0 then return nil, "JWKS holds no usable RSA signing key" end
  return keys
end

-- Refetches the set; keeps the old keys when the fetch fails.
function _M:refresh()
  local now = self.now()
  self.tried_at = now
  local body, err = self.fetch(self.url)
  if not body then return nil, "cannot fetch the JWKS: " .. tostring(err) end
  local keys; keys, err = parse(body)
  if not keys then return nil, err end
  self.keys, self.fetched_at = keys, now
  return true
end

-- key(kid) → key | nil, reason. kid nil: the only key of a one-key set.
function _M:key(kid)
  local now = self.now()
  local stale = not self.fetched_at or now - self.fetched_at >= self.ttl
  local function lookup()
    if kid ~= nil then return self.keys[kid] end
    local only, n = nil, 0
    for _, k in pairs(self.keys) do only, n = k, n + 1 end
    return n == 1 and only or nil
  end
  local k = not stale and lookup()
  if k then return k end
  if stale or not self.tried_at or now - self.tried_at >= MIN_REFETCH then
    local ok, err = self:refresh()
    if not ok and not self.fetched_at then return nil, err end
  end
  k = lookup()
  if not k then return nil, "no JWKS key for kid " .. tostring(kid) end
  return k
end

-- verify(tok) → true | nil, reason: an RS256 token against the set.
function _M:verify(tok)
  if tok.header.alg ~= "RS256" then return nil, "token algorithm must be RS256, got " .. tostring(tok.header.alg) end
  local kid = tok.header.kid
  if kid ~= nil and type(kid) ~= "string" then return nil, "token kid must be a string" end
  local key, err = self:key(kid)
  if not key then return nil, err end
  return rsa.verify(key, tok.signing_input, tok.signature)
end

return _M
