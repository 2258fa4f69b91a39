-- bench/pg_wire_bench.lua: the Lua wire-protocol driver (providers/postgres/
-- wire.lua, here over LuaSocket) beside libpq (astrocyte.pq, the anchor),
-- same run, same PostgreSQL 15 server started by this script
-- (spec/support/pg_native.lua). Per driver: connect + SCRAM-SHA-256 login,
-- a prepared one-row statement, an unprepared one, and a 1000-row read;
-- prints the mean time of each and the ratio wire / libpq.
-- Usage: bench/pg_wire [--n 2000]
local core = require "astrocyte.core"
local pq = require "astrocyte.pq"
local wire = require "astrocyte.providers.postgres.wire"
local pgn = require "support.pg_native"

local n = 2000
for i = 1, #arg do if arg[i] == "--n" then n = tonumber(arg[i + 1]) end end

local srv = pgn.start()
local dsn = srv:dsn("wire_scram")
local drivers = { { "libpq", pq }, { "wire", wire } }

-- mean ms of fn over k runs
local function mean(k, fn)
  local t0 = core.now_ms()
  for _ = 1, k do fn() end
  return (core.now_ms() - t0) / k
end

local cases = {
  { "connect+scram", 20, function(d) return function() assert(d.connect(dsn)):close() end end },
  { "prepared 1 row", n, function(d, c)
      assert(c:prepare("b1", "SELECT $1::int + 1 AS n, $2::text AS s"))
      return function() assert(c:exec_prepared("b1", { 41, "x" }).rows[1].n == 42) end end },
  { "unprepared 1 row", n, function(d, c)
      return function() assert(c:exec_params("SELECT $1::int + 1 AS n, $2::text AS s", { 41, "x" })) end end },
  { "1000 rows", math.max(20, n / 20), function(d, c)
      return function()
        assert(#c:exec_params("SELECT g AS id, md5(g::text) AS h, g * 0.5 AS f FROM generate_series(1, 1000) g", nil).rows == 1000)
      end end },
}

print(string.format("pg_wire_bench on %s, PostgreSQL %s", _VERSION .. (jit and (" / " .. jit.version) or ""),
  tostring(assert(pq.connect(dsn)):server_version())))
print(string.format("%-18s %12s %12s %8s", "case", "libpq ms", "wire ms", "ratio"))
for _, case in ipairs(cases) do
  local t = {}
  for _, d in ipairs(drivers) do
    local c = assert(d[2].connect(dsn))
    local fn = case[3](d[2], c)
    fn()
    t[d[1]] = mean(case[2], fn)
    c:close()
  end
  print(string.format("%-18s %12.4f %12.4f %8.2f", case[1], t.libpq, t.wire, t.wire / t.libpq))
end
srv:stop()
