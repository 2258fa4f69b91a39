-- astrocyte.pq (the libpq binding) and the pool's connection handling:
-- type mapping, NULLs, parameters of every Lua type, errors with SQLSTATE,
-- prepared statements, vector text round trip, transactions that roll back,
-- and passwords masked in every message.
local pgs = require "support.pg_server"
local pq = require "astrocyte.pq"
local pool = require "astrocyte.providers.postgres.pool"
local core = require "astrocyte.core"

-- PGlite serves one connection and frees the slot of a closed one a moment
-- later, so a direct connect right after a close may be turned away: retry
-- briefly (the pool does the same through its reconnect backoff).
local function connect(dsn)
  local c, err
  for _ = 1, 40 do
    c, err = pq.connect(dsn)
    if c then return c end
    pq.sleep_ms(50)
  end
  error(err)
end

describe("astrocyte.pq", function()
  local srv

  setup(function()
    local err
    srv, err = pgs.start()
    assert(srv, err)
  end)
  teardown(function() if srv then srv:stop() end end)

  it("maps result types and passes every parameter type", function()
    local c = connect(srv.dsn)
    assert.equal("ok", c:status())
    local res = assert(c:exec_params(
      "SELECT $1::int4 AS i, $2::float8 AS f, $3::bool AS b, $4::text AS t, $5::text AS n, $6::jsonb::text AS j, 2::int8 AS big",
      { 42, 2.5, true, "it's; -- fine", nil, '{"a": 1}', n = 6 }))
    assert.equal(1, res.ntuples)
    local r = res.rows[1]
    assert.equal(42, r.i); assert.equal(2.5, r.f); assert.equal(true, r.b)
    assert.equal("it's; -- fine", r.t); assert.is_nil(r.n); assert.equal('{"a": 1}', r.j); assert.equal(2, r.big)
    assert.same({ "i", "f", "b", "t", "n", "j", "big" }, res.fields)
    c:close()
    assert.equal("bad", c:status())
    assert.has_error(function() c:exec_params("SELECT 1", nil) end, "pq: connection is closed")
  end)

  it("returns nil, err with the SQLSTATE for a failing statement", function()
    local c = connect(srv.dsn)
    local res, err, state = c:exec_params("SELECT 1/0", nil)
    assert.is_nil(res)
    assert.equal("22012", state)
    assert.matches("division by zero (SQLSTATE 22012)", err, 1, true)
    -- one statement per call: a second statement is refused, not run
    res, err = c:exec_params("SELECT 1; SELECT 2", nil)
    assert.is_nil(res)
    assert.matches("cannot insert multiple commands", err, 1, true)
    c:close()
  end)

  it("prepares once and executes many times", function()
    local c = connect(srv.dsn)
    assert.is_true(c:prepare("pq_spec_add", "SELECT $1::int4 + $2::int4 AS s"))
    for i = 1, 3 do assert.equal(i + 10, assert(c:exec_prepared("pq_spec_add", { i, 10 })).rows[1].s) end
    c:exec_params("DEALLOCATE pq_spec_add", nil)
    c:close()
  end)

  it("round-trips packed vectors through pgvector text", function()
    local packed = core.vec_pack({ 0.5, -1.25, 3 })
    assert.equal("[0.5,-1.25,3]", pq.vector_literal(packed))
    assert.equal(packed, pq.parse_vector("[0.5,-1.25,3]"))
    local c = connect(srv.dsn)
    local r = assert(c:exec_params("SELECT $1::vector::text AS v", { pq.vector_literal(packed) }))
    assert.equal(packed, pq.parse_vector(r.rows[1].v))
    c:close()
  end)

  it("reports a connection failure without the password", function()
    local info, mask = assert(pool.conninfo({ host = "127.0.0.1", port = 1, user = "u", password = "s3cr'et;pw" }, "vector_store_config"))
    local p = pool.new({ conninfo = info, mask = mask, retries = 1, backoff_ms = 1 })
    local res, err = p:query("SELECT 1", nil)
    assert.is_nil(res)
    assert.matches("server unreachable after 2 reconnect attempts", err, 1, true)
    assert.is_nil(err:find("s3cr", 1, true))
    p:close()
  end)

  it("masks the password in every form of DSN", function()
    local _, mask = pool.conninfo({ dsn = "postgresql://ana:p%40ss@db:5432/mem" }, "k")
    assert.equal("postgresql://ana:***@db:5432/mem failed", mask("postgresql://ana:p%40ss@db:5432/mem failed"))
    assert.equal("bad *** here", mask("bad p@ss here"))
    _, mask = pool.conninfo({ dsn = "host=db password='x y' user=u" }, "k")
    assert.equal("host=db password=*** user=u", mask("host=db password='x y' user=u"))
    local info, err = pool.conninfo({}, "vector_store_config")
    assert.is_nil(info)
    assert.equal("vector_store_config needs dsn (or host/port/user/password/dbname)", err)
  end)

  it("rolls a transaction back on error and reuses the connection", function()
    local p = pool.new({ conninfo = srv.dsn, size = 1 })
    assert(p:query("CREATE TABLE IF NOT EXISTS pq_spec_t (k int PRIMARY KEY)", nil, { prepare = false }))
    local ok, err = p:tx(function(q)
      assert(q("INSERT INTO pq_spec_t VALUES ($1)", { 1 }))
      return q("INSERT INTO pq_spec_t VALUES ($1)", { 1 })
    end)
    assert.is_nil(ok)
    assert.matches("23505", err, 1, true)
    assert.equal(0, assert(p:query("SELECT count(*)::int4 AS n FROM pq_spec_t", nil)).rows[1].n)
    assert.equal(7, assert(p:tx(function(q) assert(q("INSERT INTO pq_spec_t VALUES ($1)", { 7 })); return 7 end)))
    assert.equal(1, assert(p:query("SELECT count(*)::int4 AS n FROM pq_spec_t", nil)).rows[1].n)
    p:query("DROP TABLE pq_spec_t", nil, { prepare = false })
    p:close()
  end)
end)
