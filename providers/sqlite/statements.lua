-- astrocyte.providers.sqlite.statements: the prepared-statement cache and
-- parameter-bound query that the sqlite store (init.lua) and its graph
-- tables (graph_db.lua) share. Both take an object with `db` (an
-- astrocyte.sqlite handle) and `cache` (sql -> statement).
local _M = {}

-- Prepares sql once per handle; a cached statement is reset for reuse.
-- Returns the statement or nil, err.
function _M.stmt(self, sql)
  local st = self.cache[sql]
  if st then st:reset(); return st end
  local err
  st, err = self.db:prepare(sql)
  if not st then return nil, err end
  self.cache[sql] = st
  return st
end

-- Runs sql with args[1..args.n] bound; returns the rows as {col = value}
-- tables or nil, err. The statement is reset on every path.
function _M.query(self, sql, args)
  local st, err = _M.stmt(self, sql)
  if not st then return nil, err end
  for i = 1, args.n or #args do
    local ok, berr = st:bind(i, args[i])
    if not ok then st:reset(); return nil, berr end
  end
  local out = {}
  while true do
    local has, serr = st:step()
    if has == nil then st:reset(); return nil, serr end
    if not has then break end
    out[#out + 1] = st:named()
  end
  st:reset()
  return out
end

return _M
