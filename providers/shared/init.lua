-- astrocyte.providers.shared: what the network providers have in common, so
-- that no provider copies another (registry discovery skips this name).
-- It builds each provider's astrocyte.http client from its config (timeouts,
-- retries, per-provider outbound_transport, the secrets to redact), checks
-- config values with messages that name the key, maps HTTP results to the
-- SPI's error objects, masks credentials, and holds the small conversions
-- the stores share (ISO time ↔ epoch seconds, vector checks, filters).
local http = require "astrocyte.http"
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local type, pairs, ipairs, tostring, fmt = type, pairs, ipairs, tostring, string.format

local _M = {}

_M.http = http
_M.null = http.null
_M.nn = http.nn
_M.object = http.object

-- Masks a credential for display: "***" plus at most its last 2 characters
-- when it is long enough that this reveals nothing useful.
function _M.mask(s)
  if type(s) ~= "string" or s == "" then return "(unset)" end
  if #s < 12 then return "***" end
  return "***" .. s:sub(-2)
end

-- Config checks: each returns the value (or default) or raises nothing and
-- returns nil, "<provider>: <key> must be ...".
function _M.opt_string(conf, name, key, default)
  local v = conf[key]
  if v == nil then return default end
  if type(v) ~= "string" or v == "" then return nil, fmt("%s: %s must be a non-empty string", name, key) end
  return v
end

function _M.opt_int(conf, name, key, default, lo, hi)
  local v = conf[key]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= math.floor(v) or v < lo or v > hi then
    return nil, fmt("%s: %s must be an integer between %d and %d, got %s", name, key, lo, hi, tostring(v))
  end
  return v
end

-- A remote provider's class { SPI_VERSION = 1, name } and the metatable of
-- its instances, which print as "<what> (<base url>)". With init, also its
-- constructor new(conf): the base URL (conf.base_url or conf.url, else
-- default_url) is checked first, then init(conf) returns the instance's
-- fields (or nil, err) and the options of its HTTP client (_M.client); the
-- instance gets them plus `base` and `http`.
function _M.class(name, what, default_url, init)
  local cls = { SPI_VERSION = 1, name = name }
  local mt = { __index = cls, __tostring = function(self) return what .. " (" .. self.base .. ")" end }
  if init then
    function cls.new(conf)
      conf = conf or {}
      local base, err = _M.base_url(conf, name, default_url)
      if not base then return nil, err end
      local self, copts = init(conf)
      if not self then return nil, copts end
      self.http, err = _M.client(conf, name, copts)
      if not self.http then return nil, err end
      self.base = base
      return setmetatable(self, mt)
    end
  end
  return cls, mt
end

-- Base URL without trailing slashes; nil, err unless http(s)://.
function _M.base_url(conf, name, default)
  local u = conf.base_url or conf.url or default
  if type(u) ~= "string" or not u:match("^https?://[^%s]+$") then
    return nil, fmt("%s: base_url must be an http(s) URL, got %s", name, type(u) == "string" and u or type(u))
  end
  return (u:gsub("/+$", ""))
end

-- Builds the provider's HTTP client. conf keys read: timeout_ms,
-- connect_timeout_ms, max_retries, max_response_bytes, outbound_transport
-- ({provider, config}; default: the configured/env transport), api_key (and
-- opts.secrets) to redact. Returns client or nil, err.
function _M.client(conf, name, opts)
  opts = opts or {}
  local secrets = {}
  for _, s in ipairs(opts.secrets or {}) do secrets[#secrets + 1] = s end
  for _, k in ipairs { "api_key", "password", "token" } do
    if type(conf[k]) == "string" then secrets[#secrets + 1] = conf[k] end
  end
  local c, err = http.new {
    name = name, timeout_ms = conf.timeout_ms or opts.timeout_ms,
    connect_timeout_ms = conf.connect_timeout_ms, max_retries = conf.max_retries,
    backoff_ms = conf.backoff_ms, max_backoff_ms = conf.max_backoff_ms,
    retry_after_cap_ms = conf.retry_after_cap_ms, max_response_bytes = conf.max_response_bytes,
    transport = conf.outbound_transport, secrets = secrets, log = conf.log or opts.log,
    backend = opts.backend,
  }
  if not c then return nil, err end
  return c
end

-- Merges header maps left to right into a new table.
function _M.headers(...)
  local h = {}
  for i = 1, select("#", ...) do
    local t = select(i, ...)
    if t then for k, v in pairs(t) do h[k] = v end end
  end
  return h
end

-- Authorization header for a bearer token (nil token → no header).
function _M.bearer(token)
  if not token then return nil end
  return { Authorization = "Bearer " .. token }
end

-- Wraps a provider-side failure (string or error object) as an error object
-- of `kind` prefixed with the provider name; error objects pass through.
function _M.err(name, e, kind)
  if errors.is(e) then return e end
  return errors.new(kind or "ProviderError", name .. ": " .. tostring(e), { provider = name })
end

-- HealthStatus from a probe: fn() → truthy | nil, err. Latency in ms.
function _M.health(fn)
  local t0 = util.now_ms()
  local ok, res, err = pcall(fn)
  local latency = util.now_ms() - t0
  if ok and res then return { healthy = true, latency_ms = latency, message = "ok" } end
  local msg = ok and err or res
  return { healthy = false, latency_ms = latency, message = errors.is(msg) and msg.message or tostring(msg) }
end

-- health() of a service whose GET base .. path answers 200 when it is up.
function _M.health_get(self, path, name)
  return _M.health(function()
    local res, err = self.http:request { url = self.base .. path, headers = self.headers }
    if not res then return nil, err end
    if res.status ~= 200 then return nil, name .. ": " .. path .. " returned HTTP " .. res.status end
    return true
  end)
end

-- The VectorItem / VectorHit fields of a memory stored as a JSON document
-- (an Elasticsearch _source, a Qdrant payload), added to extra (or {}).
function _M.item_fields(doc, extra)
  local nn = _M.nn
  local out = extra or {}
  out.id, out.text = nn(doc.id), nn(doc.text)
  out.metadata, out.tags = _M.clean(nn(doc.metadata)), nn(doc.tags)
  out.fact_type, out.memory_layer, out.chunk_id = nn(doc.fact_type), nn(doc.memory_layer), nn(doc.chunk_id)
  out.occurred_at, out.retained_at = nn(doc.occurred_at), nn(doc.retained_at)
  return out
end

-- A vector as an array of numbers: the engine's pipeline may hand stores
-- packed float32 strings (astrocyte.core's format); unpack those.
function _M.vector(v)
  if type(v) == "string" then
    local ok, t = pcall(require("astrocyte.core").vec_unpack, v)
    if ok then return t end
  end
  return v
end

-- Checks a vector: an array of finite numbers of length dims (when dims is
-- set). Returns true or nil, "<what> has N dimensions, expected D".
function _M.check_vector(v, dims, what)
  if type(v) ~= "table" or #v == 0 then return nil, what .. " must be a non-empty array of numbers" end
  if dims and #v ~= dims then
    return nil, fmt("%s has %d dimensions, expected %d", what, #v, dims)
  end
  for i = 1, #v do
    local x = v[i]
    if type(x) ~= "number" or x ~= x or x == math.huge or x == -math.huge then
      return nil, fmt("%s[%d] is not a finite number", what, i)
    end
  end
  return true
end

-- The items of VectorStore.store_vectors checked once for every remote
-- store: an array of {id, bank_id, text: strings, vector} whose vectors (packed
-- or arrays) share one dimension (the store's, else the first item's).
-- Returns the unpacked vectors and that dimension, or nil, ValidationError
-- naming the item ("<name>: items[3].vector has 2 dimensions, expected 3").
function _M.vector_items(items, dims, name)
  if type(items) ~= "table" then return nil, errors.validation(name .. ": items must be an array") end
  dims = dims or #(_M.vector(items[1] and items[1].vector) or {})
  local vecs = {}
  for i, it in ipairs(items) do
    if type(it) ~= "table" or type(it.id) ~= "string" or type(it.bank_id) ~= "string" or type(it.text) ~= "string" then
      return nil, errors.validation(fmt("%s: items[%d] needs string id, bank_id and text", name, i))
    end
    local vec = _M.vector(it.vector)
    local ok, err = _M.check_vector(vec, dims, fmt("items[%d].vector", i))
    if not ok then return nil, errors.validation(name .. ": " .. err) end
    vecs[i] = vec
  end
  return vecs, dims
end

-- ISO-8601 / epoch-seconds → epoch seconds (number), or nil.
function _M.epoch(v)
  if v == nil or v == http.null then return nil end
  local ms = util.to_ms(v)
  return ms and ms / 1000 or nil
end

-- Epoch seconds → ISO-8601 UTC string, or nil.
function _M.iso(secs)
  if type(secs) ~= "number" then return nil end
  return util.iso(math.floor(secs * 1000 + 0.5))
end

-- Copy of t without JSON nulls (shallow), nil for nil/null/empty.
function _M.clean(t)
  if type(t) ~= "table" then return nil end
  local out, n = {}, 0
  for k, v in pairs(t) do
    if v ~= http.null then out[k] = v; n = n + 1 end
  end
  return n > 0 and out or nil
end

-- URL-encodes a path segment or query value.
function _M.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return fmt("%%%02X", c:byte()) end))
end

-- Session filter value: VectorFilters.session_id lives in metadata.session_id.
function _M.metadata_with_session(filters)
  if not filters then return nil end
  local md = filters.metadata_filters and util.copy(filters.metadata_filters) or nil
  if filters.session_id ~= nil then
    md = md or {}
    md.session_id = filters.session_id
  end
  return md
end

-- A stable string id for a (bank, id) pair, for stores with one id space.
function _M.scoped_id(bank_id, id)
  return bank_id .. "\31" .. id
end

-- Base64 (RFC 4648) of s, arithmetic only (no bit library needed).
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function _M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1, c2 = math.floor(n / 262144) % 64, math.floor(n / 4096) % 64
    local c3, c4 = math.floor(n / 64) % 64, n % 64
    out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1)
      .. (b and B64:sub(c3 + 1, c3 + 1) or "=") .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

-- Authorization header for HTTP basic auth, and the encoded secret.
function _M.basic(user, password)
  local b = _M.base64(user .. ":" .. password)
  return { Authorization = "Basic " .. b }, b
end

-- Deterministic UUID-shaped key of a string (for stores whose point ids
-- must be UUIDs): four independent 31-bit polynomial hashes, exact in
-- doubles on Lua 5.4 and LuaJIT alike. Not cryptographic; the original id
-- is always stored beside it.
local LANES = { { 257, 2147483647 }, { 263, 2147483629 }, { 269, 2147483587 }, { 271, 2147483579 } }
function _M.uuid(s)
  local h = {}
  for l = 1, 4 do
    local mul, mod = LANES[l][1], LANES[l][2]
    local x = l * 7919
    for i = 1, #s do x = (x * mul + s:byte(i)) % mod end
    x = (x * mul + #s) % mod
    h[l] = fmt("%08x", x)
  end
  local hex = table.concat(h)
  return fmt("%s-%s-4%s-a%s-%s", hex:sub(1, 8), hex:sub(9, 12), hex:sub(14, 16), hex:sub(18, 20), hex:sub(21, 32))
end

-- Tier-2 engines filter by tags and fact types on our side: builds the
-- RecallResult from candidate hits (already mapped to MemoryHit shape) —
-- hits whose tags include one of req.tags and whose fact_type is one of
-- req.fact_types (either filter absent = any), best first, at most
-- req.max_results (default 10); total_available counts every match.
local function has_any(list, wanted)
  if not wanted or #wanted == 0 then return true end
  for _, x in ipairs(list or {}) do
    for _, w in ipairs(wanted) do if x == w then return true end end
  end
  return false
end

-- The JSON call of a REST provider object self {base, headers, http}:
-- method path (under self.base) with body as JSON → decoded body | nil, err.
function _M.call(self, method, path, body, idempotent, allow)
  return self.http:json { method = method, url = self.base .. path, headers = self.headers, json = body,
                          idempotent = idempotent, allow = allow }
end

-- The EngineCapabilities of a REST engine provider: semantic search, tags
-- and metadata, plus what `extra` turns on.
function _M.engine_capabilities(extra)
  local caps = { supports_reflect = false, supports_forget = false, supports_semantic_search = true,
                 supports_keyword_search = false, supports_graph_search = false, supports_temporal_search = false,
                 supports_dispositions = false, supports_consolidation = false, supports_entities = false,
                 supports_tags = true, supports_metadata = true, supports_compile = false }
  for k, v in pairs(extra or {}) do caps[k] = v end
  return caps
end

-- req if it is a table whose fields (names after msg) are strings, else
-- nil, ValidationError msg.
function _M.request(req, msg, ...)
  local ok = type(req) == "table"
  for i = 1, select("#", ...) do
    if not ok then break end
    ok = type(req[(select(i, ...))]) == "string"
  end
  if not ok then return nil, errors.validation(msg) end
  return req
end

-- The RetainRequest fields an engine provider keeps in its store's
-- metadata: the request's metadata plus astrocyte_<field> for each of
-- fields (values from req, or from extra).
function _M.pack_metadata(req, fields, extra)
  local md = {}
  for k, v in pairs(req.metadata or {}) do md[k] = v end
  for _, f in ipairs(fields) do
    local v = extra and extra[f]
    if v == nil then v = req[f] end
    md["astrocyte_" .. f] = v
  end
  return _M.object(md)
end

-- Moves the astrocyte_<field> keys of stored metadata raw back onto hit
-- (fields; "id" goes to memory_id) unless hit has them, and the rest into
-- hit.metadata (nil when empty). Returns hit.
function _M.unpack_metadata(raw, hit, fields)
  local md = _M.clean(_M.nn(raw)) or {}
  for _, f in ipairs(fields) do
    local k, hk = "astrocyte_" .. f, f == "id" and "memory_id" or f
    if hit[hk] == nil then hit[hk] = md[k] end
    md[k] = nil
  end
  hit.metadata = next(md) and md or nil
  return hit
end

-- How many hits an engine provider asks its service for: max_results (10),
-- five times that when tags or fact_types are filtered here afterwards.
function _M.recall_window(req)
  local want = req.max_results or 10
  local filtering = (req.tags and #req.tags > 0) or (req.fact_types and #req.fact_types > 0)
  return filtering and want * 5 or want
end

-- RecallResult of an engine provider from its candidates (each passed
-- through hit_of when given, which makes a MemoryHit of a service item):
-- tags and fact_types filtered here, best max_results by score.
function _M.engine_recall_result(name, candidates, req, hit_of)
  local want = req.max_results or 10
  local hits, total = {}, 0
  for _, c in ipairs(candidates) do
    local h = c
    if hit_of then h = hit_of(c) end
    if has_any(h.tags, req.tags) and has_any({ h.fact_type }, req.fact_types) then
      total = total + 1
      if #hits < want then hits[#hits + 1] = h end
    end
  end
  table.sort(hits, function(a, b) return a.score > b.score end)
  return { hits = hits, total_available = total, truncated = total > #hits,
           top_semantic_score = hits[1] and hits[1].score or 0,
           trace = { strategies_used = { name }, total_candidates = total } }
end

return _M
