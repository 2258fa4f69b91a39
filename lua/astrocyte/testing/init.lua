-- astrocyte.testing: the conformance suites, one per SPI. They are the
-- contract a provider must meet. A provider author runs one from their own
-- busted spec in one line:
--
--   require("astrocyte.testing").vector_store(function() return my.new({ dims = 8 }) end, { dims = 8 })
--
-- which registers a describe() block with one it() per case, each case on a
-- fresh provider from the factory. The same cases run without busted through
--   testing.run_suite("vector_store", factory, opts)
--     → { passed = n, failed = { { case = "...", err = "..." }, ... } }
-- which is how the suites themselves are tested against broken providers.
--
-- The factory is called once per case as factory(opts) and returns the
-- provider (or nil, err); it may return a cleanup function as a second value,
-- otherwise provider:close() is called after the case when it exists.
-- "An error" from a provider is either a raised Lua error or a `nil, err`
-- return; both are accepted wherever the contract expects a failure.
local spi = require "astrocyte.spi"
local types = require "astrocyte.types"
local util = require "astrocyte.util"
local type, pairs, ipairs, fmt, tostring, select = type, pairs, ipairs, string.format, tostring, select
local concat, sort = table.concat, table.sort

local _M = { _VERSION = "0.1.0" }

-- Suite name → module. Each module returns { title, group, cases = {{name, fn}} }.
local SUITES = {
  vector_store = "astrocyte.testing.vector_store",
  graph_store = "astrocyte.testing.graph_store",
  document_store = "astrocyte.testing.document_store",
  wiki_store = "astrocyte.testing.wiki_store",
  mental_model_store = "astrocyte.testing.mental_model_store",
  source_store = "astrocyte.testing.source_store",
  engine_provider = "astrocyte.testing.engine_provider",
  llm_provider = "astrocyte.testing.llm_provider",
  outbound_transport = "astrocyte.testing.outbound_transport",
  access_policy = "astrocyte.testing.access_policy",
  memory_export_sink = "astrocyte.testing.memory_export_sink",
}

-- Returns the sorted suite names.
function _M.suites()
  return util.sorted_keys(SUITES)
end

-- Returns the suite definition of `name` (errors on an unknown name).
function _M.load(name)
  local mod = SUITES[name]
  if not mod then
    error(fmt("astrocyte.testing: unknown suite '%s' (known: %s)", tostring(name), concat(_M.suites(), ", ")), 3)
  end
  return require(mod)
end

-- Returns the case names of suite `name`, in order.
function _M.cases(name)
  local out = {}
  for i, c in ipairs(_M.load(name).cases) do out[i] = c[1] end
  return out
end

---------------------------------------------------------------------------
-- Case context: the helpers a case uses. A failed check raises a string
-- (level 0) that says what the contract wanted and what the provider did.
---------------------------------------------------------------------------
local function pack(...) return { n = select("#", ...), ... } end

-- Short human rendering of a value for failure messages.
local function show(v, depth)
  depth = depth or 0
  if type(v) == "string" then return fmt("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  if getmetatable(v) and getmetatable(v).__tostring then return tostring(v) end
  if depth > 2 then return "{...}" end
  local parts, n = {}, 0
  for i = 1, #v do
    n = n + 1
    if n > 8 then parts[#parts + 1] = "..."; break end
    parts[#parts + 1] = show(v[i], depth + 1)
  end
  local keys = {}
  for k in pairs(v) do
    if not (type(k) == "number" and k >= 1 and k <= #v and k == math.floor(k)) then keys[#keys + 1] = tostring(k) end
  end
  sort(keys)
  for _, k in ipairs(keys) do
    n = n + 1
    if n > 12 then parts[#parts + 1] = "..."; break end
    local val = v[k]
    if val == nil then val = v[tonumber(k)] end
    parts[#parts + 1] = k .. "=" .. show(val, depth + 1)
  end
  return "{" .. concat(parts, ", ") .. "}"
end
_M.show = show

local function deep_equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not deep_equal(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function fail(msg, ...)
  if select("#", ...) > 0 then msg = fmt(msg, ...) end
  error(msg, 0)
end

local function new_ctx(provider, opts, protocol)
  local t = { p = provider, opts = opts, protocol = protocol, show = show, fail = fail }

  -- Returns true if the provider has a callable method `m`.
  function t.has(m)
    local ok, f = pcall(function() return provider[m] end)
    return ok and spi.callable(f)
  end

  -- Calls provider:m(...) and returns all its results; fails the case if the
  -- method is missing, raises, or returns nil plus an error.
  function t.call(m, ...)
    if not t.has(m) then fail("%s has no method %s", protocol, m) end
    local r = pack(pcall(provider[m], provider, ...))
    if not r[1] then fail("%s.%s raised an error: %s", protocol, m, tostring(r[2])) end
    if r[2] == nil and r[3] ~= nil then fail("%s.%s returned an error: %s", protocol, m, tostring(r[3])) end
    return (table.unpack or unpack)(r, 2, r.n)
  end

  -- Calls provider:m(...) expecting an error (raised or nil, err); returns
  -- the error. Fails the case when the call succeeds.
  function t.fails(what, m, ...)
    if not t.has(m) then fail("%s has no method %s", protocol, m) end
    local r = pack(pcall(provider[m], provider, ...))
    if not r[1] then return r[2] end
    if r[2] == nil and r[3] ~= nil then return r[3] end
    fail("%s: expected %s.%s to fail (raise or return nil, err), but it returned %s", what, protocol, m, show(r[2]))
  end

  function t.ok(cond, msg, ...)
    if not cond then fail(msg, ...) end
    return cond
  end

  function t.eq(expected, actual, what)
    if expected ~= actual then fail("%s: expected %s, got %s", what, show(expected), show(actual)) end
  end

  function t.same(expected, actual, what)
    if not deep_equal(expected, actual) then fail("%s: expected %s, got %s", what, show(expected), show(actual)) end
  end

  -- Checks v is a valid DTO `name`; `what` says where it came from.
  function t.valid(name, v, what)
    local ok, err = types.validate(name, v)
    if not ok then fail("%s is not a valid %s: %s", what, name, err.message) end
  end

  -- Checks v is an array (possibly empty); returns it.
  function t.list(v, what)
    if type(v) ~= "table" then fail("%s: expected an array, got %s", what, show(v)) end
    for k in pairs(v) do
      if type(k) ~= "number" or k < 1 or k > #v or k ~= math.floor(k) then
        fail("%s: expected an array, got a table with key %s", what, show(k))
      end
    end
    return v
  end

  -- Returns the sorted values of field `key` of the items of list l.
  function t.ids(l, key)
    local out = {}
    for i, x in ipairs(l or {}) do out[i] = x[key or "id"] end
    sort(out, function(a, b) return tostring(a) < tostring(b) end)
    return out
  end

  -- Sorted copy of a list of strings.
  function t.sorted(l)
    local out = {}
    for i, x in ipairs(l) do out[i] = x end
    sort(out)
    return out
  end

  return t
end

-- Runs one case on a fresh provider from factory. Returns true, or false and
-- the failure message.
local function run_case(suite, case, factory, opts)
  local ok, p, cleanup = pcall(factory, opts)
  if not ok then return false, "factory raised an error: " .. tostring(p) end
  if p == nil then return false, "factory returned no provider: " .. tostring(cleanup) end
  local t = new_ctx(p, opts, suite.title)
  local cok, cerr = pcall(case[2], t)
  if type(cleanup) == "function" then
    pcall(cleanup, p)
  elseif type(p) == "table" and type(p.close) == "function" then
    pcall(p.close, p)
  end
  if not cok then return false, tostring(cerr) end
  return true
end

-- Runs suite `name` without busted. Returns { passed = n, failed = {{case, err}},
-- total = n }. opts.only = {case names} restricts the run.
function _M.run_suite(name, factory, opts)
  opts = opts or {}
  local suite = _M.load(name)
  local only
  if opts.only then
    only = {}
    for _, n in ipairs(opts.only) do only[n] = true end
  end
  local res = { passed = 0, failed = {}, total = 0 }
  for _, c in ipairs(suite.cases) do
    if not only or only[c[1]] then
      res.total = res.total + 1
      local ok, err = run_case(suite, c, factory, opts)
      if ok then
        res.passed = res.passed + 1
      else
        res.failed[#res.failed + 1] = { case = c[1], err = err }
      end
    end
  end
  return res
end

-- Registers suite `name` with busted: describe("<Protocol> conformance")
-- and one it() per case. busted's functions come from require("busted"),
-- or from opts.busted = { describe = ..., it = ... }.
function _M.suite(name, factory, opts)
  opts = opts or {}
  if type(factory) ~= "function" then
    error("astrocyte.testing." .. tostring(name) .. ": factory must be a function returning a provider", 2)
  end
  local suite = _M.load(name)
  local b = opts.busted
  if not b then
    local ok, mod = pcall(require, "busted")
    if not ok or type(mod) ~= "table" or type(mod.describe) ~= "function" then
      error("astrocyte.testing: busted is not running; use testing.run_suite() outside busted", 2)
    end
    b = mod
  end
  b.describe((opts.title or suite.title) .. " conformance", function()
    for _, c in ipairs(suite.cases) do
      b.it(c[1], function()
        local ok, err = run_case(suite, c, factory, opts)
        if not ok then error(err, 0) end
      end)
    end
  end)
end

-- One-line entry points: testing.vector_store(factory, opts), ...
for name in pairs(SUITES) do
  _M[name] = function(factory, opts) return _M.suite(name, factory, opts) end
end

return _M
