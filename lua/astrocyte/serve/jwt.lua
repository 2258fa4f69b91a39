-- astrocyte.serve.jwt: JSON Web Tokens for the gateway's bearer auth
-- (RFC 7519, JWS compact form RFC 7515): split and decode a token, verify an
-- HS256 signature (HMAC-SHA256 of astrocyte.core, constant-time compare) and
-- check the registered claims (exp, nbf, iss, aud). RS256 signatures are
-- verified by astrocyte.serve.rsa against keys from astrocyte.serve.jwks.
-- Pure Lua apart from core, so both runtimes run it.
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local type, tostring, floor, char, byte = type, tostring, math.floor, string.char, string.byte
local concat = table.concat

local _M = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local VAL = {}
for i = 1, #B64 do VAL[byte(B64, i)] = i - 1 end
VAL[byte("+")], VAL[byte("/")] = 62, 63   -- accept the standard alphabet too

-- base64url_decode(s) → bytes | nil (padding optional; any other character
-- or an impossible length is an error). Arithmetic only: no bit library.
function _M.base64url_decode(s)
  if type(s) ~= "string" then return nil end
  s = s:gsub("=+$", "")
  if #s % 4 == 1 then return nil end
  local out = {}
  for i = 1, #s, 4 do
    local n, k = 0, 0
    for j = i, i + 3 do
      local c = byte(s, j)
      if c then
        local v = VAL[c]
        if not v then return nil end
        n, k = n * 64 + v, k + 1
      end
    end
    if k == 4 then
      out[#out + 1] = char(floor(n / 65536), floor(n / 256) % 256, n % 256)
    elseif k == 3 then
      out[#out + 1] = char(floor(n / 1024), floor(n / 4) % 256)
    else
      out[#out + 1] = char(floor(n / 16))
    end
  end
  return concat(out)
end

-- base64url_encode(bytes) → text without padding (for tests and tools).
function _M.base64url_encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = { floor(n / 262144), floor(n / 4096) % 64, floor(n / 64) % 64, n % 64 }
    local k = c and 4 or (b and 3 or 2)
    for j = 1, k do out[#out + 1] = B64:sub(q[j] + 1, q[j] + 1) end
  end
  return concat(out)
end

local function decode_part(s, what)
  local raw = _M.base64url_decode(s)
  if not raw then return nil, "token " .. what .. " is not base64url" end
  local v = util.json.decode(raw)
  if type(v) ~= "table" then return nil, "token " .. what .. " is not a JSON object" end
  return v
end

-- parse(token) → {header, claims, signing_input, signature} | nil, reason.
function _M.parse(token)
  if type(token) ~= "string" or #token > 16384 then return nil, "malformed token" end
  local h, p, s = token:match("^([%w%-_]+)%.([%w%-_]+)%.([%w%-_]*)$")
  if not h then return nil, "malformed token (expected header.payload.signature)" end
  local header, err = decode_part(h, "header"); if not header then return nil, err end
  local claims; claims, err = decode_part(p, "payload"); if not claims then return nil, err end
  local sig = _M.base64url_decode(s)
  if not sig or sig == "" then return nil, "token signature is missing or not base64url" end
  return { header = header, claims = claims, signing_input = h .. "." .. p, signature = sig }
end

local function hex_to_bytes(hex)
  return (hex:gsub("%x%x", function(x) return char(tonumber(x, 16)) end))
end

-- hs256(signing_input, secret) → raw signature bytes.
function _M.hs256(input, secret)
  return hex_to_bytes(core.hmac_sha256_hex(secret, input))
end

-- verify_hs256(tok, secret) → true | nil, reason.
function _M.verify_hs256(tok, secret)
  if tok.header.alg ~= "HS256" then return nil, "token algorithm must be HS256, got " .. tostring(tok.header.alg) end
  if not core.constant_time_eq(_M.hs256(tok.signing_input, secret), tok.signature) then
    return nil, "token signature does not verify"
  end
  return true
end

-- Whether claim aud (a string or an array of strings) names audience.
local function has_audience(aud, audience)
  if type(aud) == "string" then return aud == audience end
  if type(aud) == "table" then
    for _, a in ipairs(aud) do if a == audience then return true end end
  end
  return false
end

-- check_claims(claims, {issuer?, audience?, now, leeway = 30}) → true | nil, reason.
-- exp and nbf are NumericDate seconds; a non-number there is an error.
function _M.check_claims(c, o)
  local now, leeway = o.now, o.leeway or 30
  if c.exp ~= nil and type(c.exp) ~= "number" then return nil, "claim exp must be a number" end
  if c.nbf ~= nil and type(c.nbf) ~= "number" then return nil, "claim nbf must be a number" end
  if c.exp ~= nil and now > c.exp + leeway then return nil, "token has expired" end
  if c.nbf ~= nil and now + leeway < c.nbf then return nil, "token is not valid yet (nbf)" end
  if o.issuer and c.iss ~= o.issuer then return nil, "token issuer does not match" end
  if o.audience and not has_audience(c.aud, o.audience) then return nil, "token audience does not match" end
  return true
end

return _M
