-- Restart: the server is killed mid-run and started again on the same port
-- with the same data directory. Every write acknowledged before the kill is
-- there afterwards, a write attempted while the server is down returns an
-- error (never a silent success), and the pool reconnects by itself: the
-- same store object keeps working without being reopened. PGlite only (the
-- spec owns that server); ASTRO_PG_DSN servers are not restarted.
local pgs = require "support.pg_server"
local pg = require "astrocyte.providers.postgres"

describe("postgres provider across a server restart", function()
  local srv, dir

  setup(function()
    dir = pgs.tmpdir()
    local err
    srv, err = pgs.start({ data = dir .. "/pgdata" })
    assert(srv, err)
  end)
  teardown(function()
    if srv then srv:stop() end
    pgs.rmdir(dir)
  end)

  local function item(i)
    local v = { 0, 0, 0, 0 }
    v[(i % 4) + 1] = 1
    v[((i + 1) % 4) + 1] = 0.5
    return { id = string.format("m%04d", i), bank_id = "restart", text = "memory number " .. i, vector = v }
  end

  it("loses no acknowledged write, reports writes during the outage, and reconnects", function()
    local store = assert(pg.vector_stores({ dsn = srv.dsn, pool_size = 1, dimensions = 4,
                                            reconnect_attempts = 2, reconnect_backoff_ms = 20 }))
    local acked = {}
    local function write(i)
      local ids, err = store:store_vectors({ item(i) })
      if ids then acked[#acked + 1] = ids[1] end
      return ids, err
    end
    for i = 1, 40 do assert(write(i)) end

    -- Kill the server hard (no shutdown), mid-run.
    local port = srv.port
    srv:stop(true)
    local failed = 0
    for i = 41, 45 do
      local ids, err = write(i)
      assert.is_nil(ids)
      assert.matches("postgres", tostring(err))
      failed = failed + 1
    end
    assert.equal(5, failed)
    assert.is_false(store:health().healthy)

    -- Same port, same data directory.
    local err
    srv, err = pgs.start({ port = port, data = dir .. "/pgdata" })
    assert(srv, err)
    for i = 46, 60 do assert(write(i)) end
    assert.is_true(store:health().healthy)

    local listed = {}
    for _, it in ipairs(assert(store:list_vectors("restart", 0, 1000))) do listed[it.id] = true end
    for _, id in ipairs(acked) do assert.is_true(listed[id] == true, "acknowledged write " .. id .. " is missing") end
    assert.equal(55, #acked)
    for i = 41, 45 do assert.is_nil(listed[string.format("m%04d", i)]) end
    local hits = assert(store:search_similar(item(7).vector, "restart", 3))
    assert.equal(3, #hits)
    store:close()
  end)
end)
