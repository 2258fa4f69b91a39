-- astrocyte.providers.postgres.common: what every postgres store file
-- shares: opening a store (config checks, the shared connection pool,
-- migrations once per pool), a parameter list builder ($1, $2 ...), JSON and
-- time conversions, and the filter clauses of vector and full-text search.
-- Identifiers (schema names) are validated and quoted here; every value goes
-- to the server as a parameter, never into SQL text.
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local types = require "astrocyte.types"
local pool_mod = require "astrocyte.providers.postgres.pool"
local migrations = require "astrocyte.providers.postgres.migrations"
local type, ipairs, fmt, tostring, floor = type, ipairs, string.format, tostring, math.floor
local json = util.json

local _M = {}

-- Quotes a validated identifier.
function _M.ident(name)
  return '"' .. name:gsub('"', '""') .. '"'
end

-- Checks a schema name against ^[a-z_][a-z0-9_]{0,62}$.
local function valid_schema(s)
  return type(s) == "string" and #s >= 1 and #s <= 63 and s:match("^[a-z_][a-z0-9_]*$") ~= nil
end

local function int_opt(conf, key, key_path, lo, hi, dflt)
  local v = conf[key]
  if v == nil then return dflt end
  if type(v) ~= "number" or v ~= floor(v) or v < lo or v > hi then
    return nil, fmt("%s.%s must be an integer between %d and %d, got %s", key_path, key, lo, hi, tostring(v))
  end
  return v
end

-- Validates the store config. Returns a normalized table or nil, err.
function _M.check_conf(conf, key_path)
  if type(conf) ~= "table" then return nil, key_path .. " must be a table" end
  local c = { key_path = key_path }
  local err
  c.schema = conf.schema or "public"
  if not valid_schema(c.schema) then
    return nil, fmt("%s.schema must match ^[a-z_][a-z0-9_]{0,62}$, got %q", key_path, tostring(conf.schema))
  end
  c.pool_size, err = int_opt(conf, "pool_size", key_path, 1, 1000, 4); if not c.pool_size then return nil, err end
  c.dimensions, err = int_opt(conf, "dimensions", key_path, 1, 16000, false); if c.dimensions == nil then return nil, err end
  if c.dimensions == false then c.dimensions = nil end
  c.retries, err = int_opt(conf, "reconnect_attempts", key_path, 0, 100, 3); if not c.retries then return nil, err end
  c.analyze_min_rows, err = int_opt(conf, "analyze_min_rows", key_path, 0, 1000000000, 1000)
  if not c.analyze_min_rows then return nil, err end
  c.fulltext_candidates, err = int_opt(conf, "fulltext_candidates", key_path, 0, 1000000, 200)
  if not c.fulltext_candidates then return nil, err end
  c.backoff_ms, err = int_opt(conf, "reconnect_backoff_ms", key_path, 0, 60000, 50); if not c.backoff_ms then return nil, err end
  local vi = conf.vector_index or "hnsw"
  if vi ~= "hnsw" and vi ~= "ivfflat" and vi ~= "none" then
    return nil, fmt("%s.vector_index must be one of hnsw, ivfflat, none, got %q", key_path, tostring(vi))
  end
  c.vector_index = vi
  c.driver = conf.driver or "auto"
  if c.driver ~= "auto" and c.driver ~= "libpq" and c.driver ~= "wire" then
    return nil, fmt("%s.driver must be one of auto, libpq, wire, got %q", key_path, tostring(conf.driver))
  end
  local p = conf.vector_index_params or {}
  if type(p) ~= "table" then return nil, key_path .. ".vector_index_params must be a table" end
  local pk = key_path .. ".vector_index_params"
  c.hnsw_m, err = int_opt(p, "m", pk, 2, 100, 16); if not c.hnsw_m then return nil, err end
  c.hnsw_ef_construction, err = int_opt(p, "ef_construction", pk, 4, 1000, 64); if not c.hnsw_ef_construction then return nil, err end
  c.hnsw_ef_search, err = int_opt(p, "ef_search", pk, 1, 1000, 40); if not c.hnsw_ef_search then return nil, err end
  c.ivf_lists, err = int_opt(p, "lists", pk, 1, 32768, 100); if not c.ivf_lists then return nil, err end
  c.ivf_probes, err = int_opt(p, "probes", pk, 1, 32768, 10); if not c.ivf_probes then return nil, err end
  return c
end

-- Opens the context every store works in: { pool, S (quoted schema), E
-- (quoted schema of the vector extension), conf, mask, entry }. Returns ctx
-- or nil, err (a ConfigError-ready string for config mistakes, a
-- ProviderUnavailable error when the server cannot be used).
function _M.open(conf, key_path)
  local c, err = _M.check_conf(conf or {}, key_path)
  if not c then return nil, err end
  local info, mask = pool_mod.conninfo(conf, key_path)
  if not info then return nil, mask end
  local key = info .. "\0" .. c.schema .. "\0" .. c.pool_size .. "\0" .. c.driver
  local pool, entry = pool_mod.shared(key, {
    conninfo = info, size = c.pool_size, mask = mask, retries = c.retries, backoff_ms = c.backoff_ms,
    driver = c.driver,
    on_connect = function(conn)
      -- Session settings of the vector index; a server without them (older
      -- pgvector) simply ignores the names.
      conn:exec_params("SELECT set_config('hnsw.ef_search', $1, false)", { tostring(c.hnsw_ef_search) })
      conn:exec_params("SELECT set_config('hnsw.iterative_scan', 'strict_order', false)", nil)
      conn:exec_params("SELECT set_config('ivfflat.probes', $1, false)", { tostring(c.ivf_probes) })
      return true
    end,
  })
  local ctx = { pool = pool, entry = entry, conf = c, mask = mask, S = _M.ident(c.schema), schema = c.schema }
  if not entry.state.migrated then
    local ok, merr = migrations.apply(ctx)
    if not ok then
      pool_mod.unshare(entry)
      return nil, errors.new("ProviderUnavailable", mask(tostring(merr)),
        { provider = "postgres", key_path = key_path })
    end
    entry.state.migrated, entry.state.ext_schema = true, ctx.ext_schema
  end
  ctx.E = _M.ident(entry.state.ext_schema)
  return ctx
end

-- Releases the store's reference on the shared pool.
function _M.close(ctx)
  if ctx.closed then return true end
  ctx.closed = true
  pool_mod.unshare(ctx.entry)
  return true
end

-- Health of a context: SELECT 1 through the pool.
function _M.health(ctx, what)
  if ctx.closed then return { healthy = false, message = "postgres " .. what .. ": store is closed" } end
  local t0 = util.now_ms()
  local res, err = ctx.pool:query("SELECT 1 AS one", nil)
  if not res then return { healthy = false, message = tostring(err) } end
  return { healthy = true, message = "postgres " .. what .. ": ok (schema " .. ctx.schema .. ")",
           latency_ms = util.now_ms() - t0 }
end

---------------------------------------------------------------------------
-- The store classes (graph, wiki, mental model, source) share their shape.
---------------------------------------------------------------------------

local Store = {}

-- class(label, what, key_path) → a store class whose new(conf, key_path)
-- opens a context, with health(), close() and the query helpers below.
-- label names the store in errors ("postgres <label>: ..."), what in
-- health messages.
function _M.class(label, what, key_path)
  local C = setmetatable({ SPI_VERSION = 1, name = "postgres", _label = label }, { __index = Store })
  local mt = { __index = C }
  function C.new(conf, kp)
    local ctx, err = _M.open(conf, kp or key_path)
    if not ctx then return nil, err end
    return setmetatable({ ctx = ctx, S = ctx.S }, mt)
  end
  function C:health() return _M.health(self.ctx, what) end
  return C
end

function Store:close() return _M.close(self.ctx) end

-- The error text of a failed call `what` on bank.
function Store:_err(what, bank, err)
  return fmt("postgres %s: %s for bank '%s' failed: %s", self._label, what, tostring(bank), tostring(err))
end

-- bank_id if it is a non-empty string, else nil, err.
function Store:_bank(bank_id)
  if type(bank_id) ~= "string" or bank_id == "" then
    return nil, fmt("postgres %s: bank_id must be a non-empty string", self._label)
  end
  return bank_id
end

-- Runs sql; every row through of(row), or nil, err (naming what and bank).
function Store:_rows(sql, params, of, what, bank)
  local res, err = self.ctx.pool:query(sql, params)
  if not res then return nil, self:_err(what, bank, err) end
  local out = {}
  for i, r in ipairs(res.rows) do out[i] = of(r) end
  return out
end

-- Runs sql; the first row through of(row), nil when none, or nil, err.
function Store:_one(sql, params, of, what, bank)
  local rows, err = self:_rows(sql, params, of, what, bank)
  if not rows then return nil, err end
  return rows[1]
end

-- Runs sql once per parameter row, all in one idempotent transaction (a
-- retry after a lost connection redoes them all): the results in row order,
-- or nil, err.
function _M.exec_rows(pool, sql, rows)
  return pool:tx(function(q)
    local res = {}
    for i, r in ipairs(rows) do
      local x, qerr = q(sql, r)
      if not x then return nil, qerr end
      res[i] = x
    end
    return res
  end, { idempotent = true })
end

-- fn(q) run in a transaction (opts as pool:tx): its result, or nil, err
-- naming what and bank.
function Store:_tx(what, bank, fn, opts)
  local r, err = self.ctx.pool:tx(fn, opts)
  if not r then return nil, self:_err(what, bank, err) end
  return r
end

-- The DTO `dto` (a types name) of record x, an argument called `arg`, put
-- into bank_id (revision dropped when clear_revision: the store assigns it),
-- or nil, err.
function Store:_input(x, bank_id, dto, arg, clear_revision)
  local _, berr = self:_bank(bank_id); if berr then return nil, berr end
  if type(x) ~= "table" then return nil, fmt("postgres %s: %s must be a table", self._label, arg) end
  local input = util.copy(x)
  input.bank_id = bank_id
  if clear_revision then input.revision = nil end
  local v, verr = types[dto](input)
  if not v then return nil, fmt("postgres %s: %s", self._label, verr.message) end
  return v
end

-- The rows of table t = {tbl, cols, of} in bank_id whose key_col is key,
-- then the SQL `tail` (more conditions, order, limit), each through of(row);
-- only the first (nil when none) unless `many`. Or nil, err.
function Store:_by(t, key_col, key, bank_id, what, tail, many)
  local sql = fmt("SELECT %s FROM %s.%s WHERE bank_id = $1 AND %s = $2%s", t.cols, self.S, t.tbl, key_col, tail or "")
  return (many and self._rows or self._one)(self, sql, { bank_id, key }, t.of, what, bank_id)
end

-- Inside transaction q: the next revision of row (bank_id, key) of table
-- S.<tbl> (key column key_col), after archiving its current row into
-- S.<tbl_revisions> (columns cols); 1 for a new row. Returns it or nil, err.
function _M.next_revision(q, S, tbl, key_col, cols, bank_id, key)
  local cur, cerr = q(fmt("SELECT revision FROM %s.%s WHERE bank_id = $1 AND %s = $2 FOR UPDATE", S, tbl, key_col),
    { bank_id, key })
  if not cur then return nil, cerr end
  if not cur.rows[1] then return 1 end
  local a, aerr = q(fmt("INSERT INTO %s.%s_revisions (%s) SELECT %s FROM %s.%s WHERE bank_id = $1 AND %s = $2 ON CONFLICT DO NOTHING",
    S, tbl:gsub("s$", ""), cols, cols, S, tbl, key_col), { bank_id, key })
  if not a then return nil, aerr end
  return cur.rows[1].revision + 1
end

---------------------------------------------------------------------------
-- Parameters, JSON, time.
---------------------------------------------------------------------------

-- A parameter list: p:add(v) appends v and returns its placeholder "$n".
local Params = {}
Params.__index = Params
function _M.params(...)
  local p = setmetatable({ n = 0 }, Params)
  for i = 1, select("#", ...) do p:add((select(i, ...))) end
  return p
end
function Params:add(v)
  self.n = self.n + 1
  self[self.n] = v
  return "$" .. self.n
end

-- JSON text of a non-empty list (nil for nil); lists encode as arrays.
function _M.jlist(t)
  if t == nil then return nil end
  return (util.encode(t))
end

-- JSON text of a map, nil for nil or empty.
function _M.jmap(t)
  if t == nil or next(t) == nil then return nil end
  return (util.encode(t))
end

-- Decodes a JSON column (nil stays nil).
function _M.jdecode(s)
  if s == nil then return nil end
  local v = json.decode(s)
  if v == json.null then return nil end
  return v
end

-- ISO-8601 text of a time input (ISO string or epoch seconds) or nil, err.
function _M.time_param(v, what)
  if v == nil then return nil end
  local ms, err = util.to_ms(v)
  if not ms then return nil, what .. ": " .. tostring(err) end
  return util.iso(ms)
end

-- SQL expression selecting timestamptz column col as integer ms.
function _M.ms(col, alias)
  return fmt("(round(extract(epoch from %s) * 1000))::int8 AS %s", col, alias or col)
end

-- ISO text of an integer-ms column value.
_M.iso = util.iso

---------------------------------------------------------------------------
-- Filters shared by search_similar and search_fulltext.
---------------------------------------------------------------------------

local function strings(v, what)
  if v == nil then return nil end
  if type(v) ~= "table" then return nil, what .. " must be an array of strings" end
  for i, s in ipairs(v) do
    if type(s) ~= "string" then return nil, fmt("%s[%d] must be a string", what, i) end
  end
  return v
end

-- Appends WHERE clauses for VectorFilters / DocumentFilters f to `where`
-- (a list of SQL fragments) with values in params p. Returns true or nil, err.
function _M.filters(f, p, where)
  if f == nil then return true end
  if type(f) ~= "table" then return nil, "filters must be a table" end
  local tags, err = strings(f.tags, "filters.tags"); if err then return nil, err end
  if tags and #tags > 0 then
    where[#where + 1] = fmt("tags ?| ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))", p:add(_M.jlist(tags)))
  end
  local fts; fts, err = strings(f.fact_types, "filters.fact_types"); if err then return nil, err end
  if fts and #fts > 0 then
    where[#where + 1] = fmt("fact_type = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))", p:add(_M.jlist(fts)))
  end
  local tr = f.time_range
  if tr ~= nil then
    if type(tr) ~= "table" then return nil, "filters.time_range must be a pair {from, to}" end
    local a, b = tr[1] or tr.from, tr[2] or tr.to
    local ta, tb
    ta, err = _M.time_param(a, "filters.time_range.from"); if err then return nil, err end
    tb, err = _M.time_param(b, "filters.time_range.to"); if err then return nil, err end
    if ta then where[#where + 1] = fmt("occurred_at >= %s::timestamptz", p:add(ta)) end
    if tb then where[#where + 1] = fmt("occurred_at <= %s::timestamptz", p:add(tb)) end
  end
  if f.metadata_filters ~= nil then
    if type(f.metadata_filters) ~= "table" then return nil, "filters.metadata_filters must be a map" end
    if next(f.metadata_filters) ~= nil then
      local js, jerr = util.encode(f.metadata_filters)
      if not js then return nil, "filters.metadata_filters: " .. tostring(jerr) end
      where[#where + 1] = fmt("metadata @> %s::jsonb", p:add(js))
    end
  end
  if f.as_of ~= nil then
    local t; t, err = _M.time_param(f.as_of, "filters.as_of"); if err then return nil, err end
    where[#where + 1] = fmt("retained_at <= %s::timestamptz", p:add(t))
  end
  if f.session_id ~= nil then
    if type(f.session_id) ~= "string" then return nil, "filters.session_id must be a string" end
    where[#where + 1] = fmt("metadata->>'session_id' = %s", p:add(f.session_id))
  end
  return true
end

return _M
