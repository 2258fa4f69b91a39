-- astrocyte.serve.rsa: RS256 signature checks (RSASSA-PKCS1-v1_5 with
-- SHA-256, RFC 7518 §3.3) for OIDC tokens, through LuaJIT's FFI into the
-- OpenSSL libcrypto that Debian's nginx itself links: no C module to build
-- and no package beyond nginx's own dependencies. A JWK's modulus n and
-- exponent e become a DER SubjectPublicKeyInfo (RFC 5280 / RFC 8017 A.1.1)
-- that d2i_PUBKEY reads; EVP_DigestVerify does the rest. Only under LuaJIT
-- (the gateway's workers); available() says why not elsewhere.
local ok_ffi, ffi = pcall(require, "ffi")
local char, byte, concat, floor = string.char, string.byte, table.concat, math.floor

local _M = {}

local C, why_not
if not ok_ffi then
  why_not = "RS256 needs LuaJIT's ffi (it runs in the nginx workers)"
else
  ffi.cdef [[
    typedef struct evp_pkey_st EVP_PKEY;
    typedef struct evp_md_ctx_st EVP_MD_CTX;
    typedef struct evp_md_st EVP_MD;
    typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
    typedef struct engine_st ENGINE;
    EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length);
    void EVP_PKEY_free(EVP_PKEY *pkey);
    EVP_MD_CTX *EVP_MD_CTX_new(void);
    void EVP_MD_CTX_free(EVP_MD_CTX *ctx);
    const EVP_MD *EVP_sha256(void);
    int EVP_DigestVerifyInit(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, ENGINE *e, EVP_PKEY *pkey);
    int EVP_DigestVerify(EVP_MD_CTX *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs, size_t tbslen);
    void ERR_clear_error(void);
  ]]
  for _, name in ipairs({ "crypto", "libcrypto.so.3", "libcrypto.so.1.1" }) do
    local ok, lib = pcall(ffi.load, name)
    if ok then C = lib break end
  end
  if not C then why_not = "RS256 needs OpenSSL's libcrypto (libssl3), which could not be loaded" end
end

-- available() → true | false, reason.
function _M.available()
  if C then return true end
  return false, why_not
end

-- DER length octets.
local function der_len(n)
  if n < 128 then return char(n) end
  if n < 256 then return char(0x81, n) end
  return char(0x82, floor(n / 256), n % 256)
end

local function der(tag, body) return char(tag) .. der_len(#body) .. body end

-- An unsigned big-endian integer as a DER INTEGER (leading zeros dropped, a
-- zero byte added when the top bit is set so it stays positive).
local function der_uint(bytes)
  bytes = bytes:gsub("^%z+", "")
  if bytes == "" then bytes = "\0" end
  if byte(bytes, 1) >= 128 then bytes = "\0" .. bytes end
  return der(0x02, bytes)
end

local RSA_ALG = "\48\13\6\9\42\134\72\134\247\13\1\1\1\5\0"   -- SEQ{OID 1.2.840.113549.1.1.1, NULL}

-- spki(n, e) → DER SubjectPublicKeyInfo of the RSA key (n, e raw bytes).
function _M.spki(n, e)
  local rsa_key = der(0x30, der_uint(n) .. der_uint(e))
  return der(0x30, concat({ RSA_ALG, der(0x03, "\0" .. rsa_key) }))
end

-- public_key(n, e) → key (an EVP_PKEY, freed by the GC) | nil, reason.
function _M.public_key(n, e)
  if not C then return nil, why_not end
  if #n < 256 then return nil, "RSA key is shorter than 2048 bits" end
  local d = _M.spki(n, e)
  local buf = ffi.new("unsigned char[?]", #d)
  ffi.copy(buf, d, #d)
  local pp = ffi.new("const unsigned char *[1]", buf)
  local key = C.d2i_PUBKEY(nil, pp, #d)
  if key == nil then
    C.ERR_clear_error()
    return nil, "the JWK is not a valid RSA public key"
  end
  return ffi.gc(key, C.EVP_PKEY_free)
end

-- verify(key, message, signature) → true | nil, reason.
function _M.verify(key, msg, sig)
  if not C then return nil, why_not end
  local ctx = C.EVP_MD_CTX_new()
  if ctx == nil then return nil, "out of memory" end
  local ok = C.EVP_DigestVerifyInit(ctx, nil, C.EVP_sha256(), nil, key) == 1
    and C.EVP_DigestVerify(ctx, sig, #sig, msg, #msg) == 1
  C.EVP_MD_CTX_free(ctx)
  if not ok then
    C.ERR_clear_error()
    return nil, "token signature does not verify"
  end
  return true
end

return _M
