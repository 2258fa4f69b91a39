-- astrocyte.serve.routes: the gateway's route table (the reference
-- gateway's paths, surfaces.md §2.1). A route is
--   { method =, path =, name = (metrics label), auth = "none" | "principal"
--     | "admin", body = {field → type}?, required = {fields}?, handler }
-- and handler(req) → status, body (a table, encoded as JSON) [, content
-- type, raw text] | nil, err. req = { engine (a view acting as the
-- principal, or nil before the engine opens), ctx, body (the decoded JSON
-- object), headers, app }. To add a route append to _M.LIST (or call
-- _M.add); a static page is a route whose handler returns
-- 200, nil, "text/html; charset=utf-8", html.
-- Body fields are type-checked here so a wrong type is a 400 that names
-- the field; values are checked again by the engine (ranges, ISO dates,
-- bank ids). Unknown body keys are ignored, as the reference does; the
-- principal never comes from the body.
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local type, pairs, ipairs, floor = type, pairs, ipairs, math.floor

local _M = {}

local function verr(field, msg) return errors.validation(msg, { field = field }) end

local function is_type(v, t)
  if t == "array" then return type(v) == "table" and util.is_array(v) end
  if t == "object" then return type(v) == "table" and (next(v) == nil or not util.is_array(v)) end
  if t == "integer" then return type(v) == "number" and v == floor(v) end
  return type(v) == t
end

-- check_body(route, body) → opts table (only the declared fields) | nil, err.
function _M.check_body(route, body)
  local out = {}
  for field, t in pairs(route.body or {}) do
    local v = body[field]
    if v ~= nil and v ~= util.json.null then
      if not is_type(v, t) then
        return nil, verr(field, ("%s must be %s %s"):format(field, (t == "integer" or t == "array" or t == "object") and "an" or "a", t))
      end
      out[field] = v
    end
  end
  for _, field in ipairs(route.required or {}) do
    if out[field] == nil then return nil, verr(field, field .. " is required") end
  end
  return out
end

-- Clamps a count like the reference gateway does (not an error).
local function clamp(v, lo, hi)
  if v == nil then return nil end
  if v < lo then return lo end
  if v > hi then return hi end
  return v
end

local READ_BODY = { query = "string", bank_id = "string", banks = "array", strategy = "string",
  max_results = "integer", max_tokens = "integer", tags = "array", fact_types = "array",
  time_range = "object", as_of = "string", session_id = "string" }

local function read_opts(b)
  local o = {}
  for k, v in pairs(b) do if k ~= "query" then o[k] = v end end
  o.max_results = clamp(o.max_results, 1, 1000)
  if o.bank_id == nil and o.banks == nil then return nil, verr("bank_id", "bank_id or banks is required") end
  if o.banks ~= nil then o.bank_id = nil end
  return o
end

local function no_engine(req)
  return nil, req.app.engine_error()
end

-- The handler of a query verb (recall, reflect): engine:<verb>(query, opts).
local function query_handler(verb)
  return function(req)
    if not req.engine then return no_engine(req) end
    local o, err = read_opts(req.body); if not o then return nil, err end
    local res; res, err = req.engine[verb](req.engine, req.body.query, o)
    if not res then return nil, err end
    return 200, res
  end
end

_M.LIST = {
  { method = "GET", path = "/live", name = "live", auth = "none",
    handler = function() return 200, { status = "ok" } end },
  { method = "GET", path = "/health/live", name = "live", auth = "none",
    handler = function() return 200, { status = "ok" } end },
  { method = "GET", path = "/health", name = "health", auth = "none",
    handler = function(req)
      if not req.engine then
        local err = req.app.engine_error()
        return 503, { healthy = false, message = err and err.message or "engine not open" }
      end
      local h = req.engine:health()
      return h.healthy and 200 or 503, h
    end },
  { method = "GET", path = "/ready", name = "ready", auth = "none",
    handler = function(req)
      if not req.engine then return no_engine(req) end
      return 200, { ready = true, worker = ngx and ngx.worker.pid() or nil }
    end },
  { method = "GET", path = "/metrics", name = "metrics", auth = "none",
    handler = function(req)
      return 200, nil, "text/plain; version=0.0.4; charset=utf-8", req.app.metrics_text()
    end },
  { method = "POST", path = "/v1/retain", name = "retain", auth = "principal",
    body = { content = "string", bank_id = "string", metadata = "object", tags = "array",
             occurred_at = "string", fact_type = "string" },
    required = { "content", "bank_id" },
    handler = function(req)
      if not req.engine then return no_engine(req) end
      local b = req.body
      local content = b.content
      b.content = nil
      local res, err = req.engine:retain(content, b)
      if not res then return nil, err end
      return 200, res
    end },
  { method = "POST", path = "/v1/recall", name = "recall", auth = "principal",
    body = READ_BODY, required = { "query" },
    handler = query_handler("recall") },
  { method = "POST", path = "/v1/reflect", name = "reflect", auth = "principal",
    body = (function()
      local t = util.copy(READ_BODY); t.include_sources = "boolean"; return t
    end)(),
    required = { "query" },
    handler = query_handler("reflect") },
  { method = "POST", path = "/v1/forget", name = "forget", auth = "principal",
    body = { bank_id = "string", memory_ids = "array", tags = "array", scope = "string", before = "string" },
    required = { "bank_id" },
    handler = function(req)
      if not req.engine then return no_engine(req) end
      local res, err = req.engine:forget(req.body)
      if not res then return nil, err end
      return 200, res
    end },
  { method = "GET", path = "/v1/banks", name = "banks", auth = "principal",
    handler = function(req)
      if not req.engine then return no_engine(req) end
      local list, err = req.engine:banks()
      if not list then return nil, err end
      return 200, { banks = list }
    end },
  { method = "POST", path = "/v1/graph/search", name = "graph_search", auth = "principal",
    body = { query = "string", bank_id = "string", limit = "integer" }, required = { "query", "bank_id" },
    handler = function(req)
      if not req.engine then return no_engine(req) end
      local b = req.body
      local list, err = req.engine:graph_search(b.query, { bank_id = b.bank_id, limit = clamp(b.limit, 1, 1000) })
      if not list then return nil, err end
      return 200, { entities = list }
    end },
  { method = "POST", path = "/v1/graph/neighbors", name = "graph_neighbors", auth = "principal",
    body = { entity_ids = "array", bank_id = "string", max_depth = "integer", limit = "integer" },
    required = { "entity_ids", "bank_id" },
    handler = function(req)
      if not req.engine then return no_engine(req) end
      local b = req.body
      local list, err = req.engine:graph_neighbors(b.entity_ids, { bank_id = b.bank_id,
        max_depth = clamp(b.max_depth, 1, 6), limit = clamp(b.limit, 1, 1000) })
      if not list then return nil, err end
      return 200, { hits = list }
    end },
  -- One memory with its entities and history (the memory browser's detail
  -- view); recall permission on the bank, like a search.
  { method = "POST", path = "/v1/memory", name = "memory", auth = "principal",
    body = { bank_id = "string", memory_id = "string" }, required = { "bank_id", "memory_id" },
    handler = function(req)
      if not req.engine then return no_engine(req) end
      local m, err = req.engine:memory(req.body.bank_id, req.body.memory_id)
      if not m then return nil, err end
      return 200, m
    end },
  -- The memory browser page: static, no credentials needed to load it; its
  -- JSON calls carry the person's own credentials.
  { method = "GET", path = "/ui", name = "ui", auth = "none",
    handler = function()
      return 200, nil, "text/html; charset=utf-8", require("astrocyte.serve.browser_page")
    end },
  { method = "GET", path = "/v1/admin/banks", name = "admin_banks", auth = "admin",
    handler = function(req)
      if not req.engine then return no_engine(req) end
      -- every bank, whatever access control would show a principal: the
      -- admin guard has passed (engine:banks() filters by the caller)
      local eng = req.app.engine()
      local store = eng.vector_store or eng.engine_provider
      local list, err
      if store and type(store.list_banks) == "function" then list, err = errors.call(store, "list_banks")
      else list, err = eng:banks() end
      if not list then return nil, err end
      local ids = {}
      for i, b in ipairs(list) do ids[i] = b.bank_id end
      return 200, { banks = ids }
    end },
}

-- add(route): one more route (a later one with the same method and path wins).
function _M.add(route)
  _M.LIST[#_M.LIST + 1] = route
  _M.index = nil
end

-- find(method, path) → route | nil, allowed methods (a list) when the path
-- exists under other methods.
function _M.find(method, path)
  local idx = _M.index
  if not idx then
    idx = {}
    for _, r in ipairs(_M.LIST) do
      idx[r.path] = idx[r.path] or {}
      idx[r.path][r.method] = r
    end
    _M.index = idx
  end
  local by = idx[path]
  if not by then return nil end
  if by[method] then return by[method] end
  if method == "HEAD" and by.GET then return by.GET end
  local allowed = {}
  for m in pairs(by) do allowed[#allowed + 1] = m end
  table.sort(allowed)
  return nil, allowed
end

return _M
