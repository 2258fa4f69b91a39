-- The Lua wire-protocol client (providers/postgres/wire.lua) against a real
-- PostgreSQL 15 started for this spec, over LuaSocket (the same code runs
-- over cosockets inside nginx: 07-wire_nginx_spec and
-- spec/integration/04-pg_nonblocking_spec). It must be a drop-in for
-- astrocyte.pq, so most cases run the same statement through both and
-- compare: values, types, NULLs, errors with SQLSTATE, prepared statements,
-- transaction status. Also: the four password exchanges, the hashing
-- primitives against their RFC vectors, and the pool with driver = "wire".
local core = require "astrocyte.core"
local pq = require "astrocyte.pq"
local wire = require "astrocyte.providers.postgres.wire"
local wauth = require "astrocyte.providers.postgres.wire_auth"
local pool_mod = require "astrocyte.providers.postgres.pool"
local pgn = require "support.pg_native"

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

describe("hashing primitives for the wire protocol's authentication", function()
  it("md5_hex matches RFC 1321's test suite", function()
    assert.equal("d41d8cd98f00b204e9800998ecf8427e", core.md5_hex(""))
    assert.equal("900150983cd24fb0d6963f7d28e17f72", core.md5_hex("abc"))
    assert.equal("c3fcd3d76192e4007dfb496cca67e13b", core.md5_hex("abcdefghijklmnopqrstuvwxyz"))
    assert.equal("57edf4a22be3c955ac49da2e2107b67a", core.md5_hex(string.rep("1234567890", 8)))
    -- 55 and 56 bytes: the padding spills into a second block at 56.
    assert.equal("ef1772b6dff9a122358552954ad0df65", core.md5_hex(string.rep("a", 55)))
    assert.equal("3b0c8ac703f828b04c6c197006d17218", core.md5_hex(string.rep("a", 56)))
  end)

  it("pbkdf2_sha256 and hmac_sha256 match RFC 7914 and RFC 4231", function()
    assert.equal("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc",
      hex(core.pbkdf2_sha256("passwd", "salt", 1)))
    assert.equal("4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56",
      hex(core.pbkdf2_sha256("Password", "NaCl", 80000)))
    assert.equal("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
      hex(core.hmac_sha256(string.rep("\11", 20), "Hi There")))
    assert.has_error(function() core.pbkdf2_sha256("p", "s", 0) end)
  end)

  it("a SCRAM-SHA-256 exchange reproduces RFC 7677's example", function()
    local s = wauth.scram("pencil", "rOprNGfwEbeRWgbNEkqO")
    assert.equal("n,,n=,r=rOprNGfwEbeRWgbNEkqO", s.first)
    -- The RFC's client sends n=user; PostgreSQL's (and libpq's) sends n=,
    -- which changes the AuthMessage, so the proof is checked with n=user.
    s.bare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
    local final = s:final("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    assert.equal("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", final)
    assert.is_true(s:verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
    local ok, err = s:verify("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    assert.is_nil(ok)
    assert.matches("signature is wrong", err)
    assert.is_nil((s:final("r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")))
  end)

  it("parses libpq connection strings, keyword and URI forms", function()
    local c = assert(wauth.parse("host=127.0.0.1 port=5433 user=ana password='it\\'s' dbname=x connect_timeout=2"))
    assert.same({ "127.0.0.1", 5433, "ana", "it's", "x", 2000 }, { c.host, c.port, c.user, c.password, c.dbname, c.connect_timeout })
    c = assert(wauth.parse("user=ana password='a \\'q\\' b'"))
    assert.equal("a 'q' b", c.password)
    c = assert(wauth.parse("postgresql://bo:p%40ss@[::1]:6000/db?application_name=t connect_timeout='5'"))
    assert.same({ "::1", 6000, "bo", "p@ss", "db", "t", 5000 },
      { c.host, c.port, c.user, c.password, c.dbname, c.params.application_name, c.connect_timeout })
    local none, cerr = require("astrocyte.providers.postgres").graph_stores({ dsn = "host=127.0.0.1", driver = "bogus" })
    assert.is_nil(none)
    assert.matches('graph_store_config.driver must be one of auto, libpq, wire, got "bogus"', tostring(cerr))
    local _, err = wauth.parse("user=ana sslkey=/x")
    assert.matches('invalid connection option "sslkey"', err)
    _, err = wauth.parse("user=ana port=99999")
    assert.matches("invalid port", err)
  end)
end)

describe("the wire driver against PostgreSQL 15", function()
  local srv
  setup(function() srv = pgn.start() end)
  teardown(function() if srv then srv:stop() end end)

  it("authenticates with trust, cleartext, md5 and SCRAM-SHA-256", function()
    for user, method in pairs({ wire_trust = "trust", wire_clear = "password", wire_md5 = "md5", wire_scram = "scram-sha-256" }) do
      local c, err = wire.connect(srv:dsn(user))
      assert(c, err)
      assert.equal(method, c.auth_method)
      assert.equal(user, c:exec_params("SELECT current_user AS u", nil).rows[1].u)
      c:close()
    end
  end)

  it("fails authentication like libpq: wrong or missing password, unknown user", function()
    for _, user in ipairs({ "wire_clear", "wire_md5", "wire_scram" }) do
      local c, err, state = wire.connect(srv:dsn(user, "wrong"))
      assert.is_nil(c)
      assert.equal("28P01", state)
      assert.matches("^pq: FATAL:  password authentication failed for user \"" .. user .. "\"", err)
      assert.not_matches("wrong", err)
      c, err = wire.connect(srv:dsn(user, false))
      assert.is_nil(c)
      assert.equal("pq: fe_sendauth: no password supplied", err)
    end
    local c, err = wire.connect("host=127.0.0.1 port=1 user=x connect_timeout=2")
    assert.is_nil(c)
    assert.matches("^pq: connection to server at 127.0.0.1, port 1 failed", err)
    c, err = wire.connect(srv:dsn("postgres") .. " sslmode=require")
    assert.is_nil(c)
    assert.matches("sslmode require needs nginx", err)
  end)

  describe("same results as libpq", function()
    local w, l
    setup(function()
      w = assert(wire.connect(srv:dsn("wire_scram")))
      l = assert(pq.connect(srv:dsn("wire_scram")))
    end)
    teardown(function()
      if w then w:close() end
      if l then l:close() end
    end)

    -- Runs sql on both connections and expects identical outcomes.
    local function same(sql, params)
      local a, ae, as = w:exec_params(sql, params)
      local b, be, bs = l:exec_params(sql, params)
      assert.same({ b, bs }, { a, as })
      -- The first line (libpq adds the statement with a caret below it).
      local function first(e) return (e:gsub(" %(SQLSTATE %w+%)$", ""):match("^[^\n]*")) end
      if be then assert.equal(first(be), first(ae)) end
      if a and b then
        for i, row in ipairs(b.rows) do
          for k, v in pairs(row) do
            assert.equal(math.type and math.type(v), math.type and math.type(a.rows[i][k]), k)
          end
        end
      end
      return a, ae, as
    end

    it("decodes every type as astrocyte.pq does, NULL as an absent key", function()
      local r = same([[SELECT 1::int2 AS i2, 2147483647::int4 AS i4, 9007199254740993::int8 AS i8, 26::oid AS o,
        1.5::float4 AS f4, -2.25e-300::float8 AS f8, 3::numeric AS n, 12.5::numeric AS n2, true AS t, false AS f,
        'é\t"x"'::text AS s, '{"a":[1]}'::jsonb AS j, NULL::int AS nul, NULL::text AS nul2,
        '2024-01-02 03:04:05+00'::timestamptz AS ts, '\x00ff'::bytea AS by, ''::text AS empty,
        'Infinity'::float8 AS inf, '-Infinity'::numeric AS ninf]], nil)
      local row = r.rows[1]
      assert.equal(9007199254740993, row.i8)
      assert.is_nil(row.nul)
      assert.equal("", row.empty)
      assert.equal(math.huge, row.inf)
      assert.equal(-math.huge, row.ninf)
      assert.same({ 1 }, { r.ntuples })
      assert.equal(19, #r.fields)
      local nan = w:exec_params("SELECT 'NaN'::float8 AS a, 'NaN'::numeric AS b", nil).rows[1]
      assert.is_true(nan.a ~= nan.a and nan.b ~= nan.b)
    end)

    it("sends parameters as libpq's binding does, nil holes included", function()
      local r = same("SELECT $1::int8 AS a, $2::float8 AS b, $3::bool AS c, $4::text AS d, $5::text AS e, $6::float8 AS f",
        { 42, 0.1, true, "x'y", nil, 1e300, n = 6 })
      assert.is_nil(r.rows[1].e)
      assert.equal(0.1, r.rows[1].b)
      assert.has_error(function() w:exec_params("SELECT $1::text", { "a\0b" }) end, "pq: parameter $1 contains a NUL byte")
      assert.has_error(function() w:exec_params("SELECT $1::text", { {} }) end, "pq: parameter $1 has unsupported type table")
      assert.has_error(function() w:exec_params("SELECT $1::float8", { 0 / 0 }) end, "pq: parameter $1 is not a finite number")
    end)

    it("counts rows of commands like PQcmdTuples", function()
      same("CREATE TEMP TABLE IF NOT EXISTS t (id int PRIMARY KEY, v text)", nil)
      local a = w:exec_params("INSERT INTO t SELECT g, 'w' FROM generate_series(1, 5) g", nil)
      assert.equal(5, a.cmd_tuples)
      assert.equal(0, a.ntuples)
      assert.equal(3, w:exec_params("UPDATE t SET v = 'u' WHERE id <= $1", { 3 }).cmd_tuples)
      assert.equal(2, w:exec_params("DELETE FROM t WHERE id > $1", { 3 }).cmd_tuples)
      assert.equal(3, w:exec_params("SELECT * FROM t", nil).cmd_tuples)
      assert.equal(0, w:exec_params("SET search_path = public, pg_temp", nil).cmd_tuples)
    end)

    it("returns errors with their SQLSTATE, and the connection stays usable", function()
      local _, err = same("SELECT * FROM no_such_table", nil)
      assert.matches("^pq: ERROR:  relation \"no_such_table\" does not exist.*%(SQLSTATE 42P01%)$", err)
      same("SELECT 1 / 0", nil)
      same("SELECT 1; SELECT 2", nil)
      same("SELEC 1", nil)
      same("SELECT $1::int", { "abc" })
      w:exec_params("CREATE TEMP TABLE IF NOT EXISTS u (id int PRIMARY KEY)", nil)
      w:exec_params("INSERT INTO u VALUES (1)", nil)
      local r, uerr, state = w:exec_params("INSERT INTO u VALUES (1)", nil)
      assert.is_nil(r)
      assert.equal("23505", state)
      assert.matches("DETAIL:  Key %(id%)=%(1%) already exists.", uerr)
      assert.equal("ok", w:status())
      assert.equal(1, w:exec_params("SELECT 1 AS one", nil).rows[1].one)
    end)

    it("prepares and executes named statements", function()
      assert.is_true(w:prepare("s1", "SELECT $1::int + 1 AS n"))
      assert.equal(8, w:exec_prepared("s1", { 7 }).rows[1].n)
      local ok, err, state = w:prepare("s1", "SELECT 2")
      assert.is_nil(ok)
      assert.equal("42P05", state)
      assert.matches("already exists", err)
      local r, _, st2 = w:exec_prepared("nope", nil)
      assert.is_nil(r)
      assert.equal("26000", st2)
      _, _, state = w:prepare("bad", "SELECT FROM WHERE")
      assert.equal("42601", state)
      assert.equal(8, w:exec_prepared("s1", { 7 }).rows[1].n)
    end)

    it("reports the transaction status of ReadyForQuery", function()
      assert.equal("idle", w:transaction_status())
      w:exec_params("BEGIN", nil)
      assert.equal("intrans", w:transaction_status())
      w:exec_params("SELECT 1 / 0", nil)
      assert.equal("inerror", w:transaction_status())
      local _, _, state = w:exec_params("SELECT 1", nil)
      assert.equal("25P02", state)
      w:exec_params("ROLLBACK", nil)
      assert.equal("idle", w:transaction_status())
      assert.equal(l:server_version(), w:server_version())
    end)

    it("keeps notices aside instead of failing on them", function()
      local r = w:exec_params("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$", nil)
      assert.truthy(r)
      local n = w.notices[#w.notices]
      assert.equal("hello 42", n.M)
      assert.equal("00000", n.C)
    end)
  end)

  it("turns bad when the server ends the session, and the pool reconnects", function()
    local admin = assert(pq.connect(srv:dsn("postgres")))
    local c = assert(wire.connect(srv:dsn("wire_md5")))
    local pid = c:exec_params("SELECT pg_backend_pid() AS p", nil).rows[1].p
    assert(admin:exec_params("SELECT pg_terminate_backend($1)", { pid }))
    local r, err, state = c:exec_params("SELECT 1", nil)
    assert.is_nil(r)
    assert.equal("57P01", state)
    assert.matches("terminating connection", err)
    assert.equal("bad", c:status())
    assert.equal("unknown", c:transaction_status())
    c:close()
    assert.has_error(function() c:exec_params("SELECT 1", nil) end, "pq: connection is closed")

    local p = pool_mod.new({ conninfo = srv:dsn("wire_scram"), size = 2, driver = "wire", backoff_ms = 1 })
    assert.equal(3, p:query("SELECT 3 AS n", nil).rows[1].n)
    assert.equal("luasocket", p.slots[1].kind)
    pid = p:query("SELECT pg_backend_pid() AS p", nil).rows[1].p
    admin:exec_params("SELECT pg_terminate_backend($1)", { pid })
    -- Idempotent by default: retried once on a new connection.
    assert.equal(4, p:query("SELECT $1::int AS n", { 4 }).rows[1].n)
    assert.equal(7, p:tx(function(q)
      q("CREATE TEMP TABLE tx (n int)", nil, false)
      q("INSERT INTO tx VALUES (7)", nil)
      return q("SELECT n FROM tx", nil).rows[1].n
    end))
    -- A raised error does not keep the connection checked out.
    local one = pool_mod.new({ conninfo = srv:dsn("wire_scram"), size = 1, driver = "wire" })
    assert.has_error(function() one:query("SELECT $1::text", { "a\0b" }) end, "pq: parameter $1 contains a NUL byte")
    assert.equal(1, one:query("SELECT 1 AS n", nil).rows[1].n)
    one:close()
    local v, terr = p:tx(function(q) q("SELECT 1", nil); return nil, "body failed" end)
    assert.is_nil(v)
    assert.equal("body failed", terr)
    assert.equal("idle", p.slots[1].conn:transaction_status())
    p:close()
    admin:close()
  end)
end)
