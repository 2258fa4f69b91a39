-- I/O faults on the embedded store: a writer process (worker.lua) runs under
-- the faultfs preload (spec/support/faultfs.c), which makes the file calls
-- SQLite makes (pwrite64, fdatasync, pread64, open) fail with ENOSPC, EIO or
-- EROFS on the database's files; corrupt pages and HNSW snapshots are
-- written into the file directly. Each fault must surface as a StorageError
-- naming the file, no failed call may leave anything stored, every
-- acknowledged call must be there, and the next open without the fault
-- must work (rebuilding the indexes from the rows where a snapshot is bad).
local R = require "support.reliability"
local tmp = require "support.tmp"
local sqlite = require "astrocyte.sqlite"
local core = require "astrocyte.core"
local astrocyte = require "astrocyte"

local BANK = "faults"
local injected = {} -- kind -> faults injected, printed at the end

describe("reliability: I/O faults on the sqlite store", function()
  local dir, db, seed

  before_each(function()
    dir = tmp.dir()
    db = dir .. "/store.db"
    seed = (seed or 1000) + 1
  end)
  after_each(function() tmp.rm(dir) end)

  teardown(function()
    local kinds, total = {}, 0
    for k, n in pairs(injected) do kinds[#kinds + 1] = k .. "=" .. n; total = total + n end
    table.sort(kinds)
    print(string.format("\nfaults injected: %d (%s)", total, table.concat(kinds, ", ")))
  end)

  -- Runs the worker (n operations) under faultfs with `vars` (FAULTFS_*);
  -- returns its lines, exit code, and how many faults it got.
  local function faulty(prefix, n, vars, kind, reopen)
    local count = dir .. "/count." .. prefix
    local env = { LD_PRELOAD = R.FAULTFS, FAULTFS_COUNT = count }
    for k, v in pairs(vars) do env[k] = v end
    local lines, code, err = R.worker({ db, prefix, n, seed, reopen or 0, BANK, "check" }, env)
    local got = tonumber(R.read(count)) or 0
    injected[kind] = (injected[kind] or 0) + got
    return lines, code, err, got
  end

  local function clean(prefix, n)
    local lines, code, err = R.worker({ db, prefix, n, seed, 0, BANK, "check" })
    assert.equal(0, code, err)
    return lines
  end

  -- Every error line is a StorageError naming the database file.
  local function storage_errors(lines)
    local n = 0
    for _, l in ipairs(lines) do
      if l:match("^E ") then
        n = n + 1
        assert.truthy(l:match("^E %u %S+ StorageError "), l)
        assert.truthy(l:find(db, 1, true), "error does not name the file: " .. l)
      end
      assert.falsy(l:match("^LOST") or l:match("^GHOST"), "the writer's own indexes disagree: " .. l)
    end
    return n
  end

  -- Reopens without faults and checks the file against the acks: every
  -- acknowledged retain recalled, every acknowledged forget gone (deleted
  -- or archived), and no other row (a failed call stored nothing). Then a
  -- new retain works.
  local function verify(acks)
    local eng = assert(R.open(db))
    local rows = R.rows(db, BANK)
    local live = 0
    for id, w in pairs(acks.retained) do
      local f = acks.forgotten[id]
      if f == "F" then
        assert.is_nil(rows[id], "hard-forgotten " .. id .. " is back")
      elseif f == "S" then
        assert.is_true(rows[id] and rows[id].archived, "soft-forgotten " .. id .. " is live")
      else
        live = live + 1
        assert.truthy(rows[id] and not rows[id].archived, "acknowledged " .. id .. " lost")
        assert.is_true(R.recalls(eng, BANK, w, id), "acknowledged " .. id .. " not recalled")
      end
      if f then assert.is_false(R.recalls(eng, BANK, w, id), "forgotten " .. id .. " recalled") end
    end
    for id in pairs(rows) do
      assert.truthy(acks.retained[id], "row " .. id .. " was stored by a call that failed")
    end
    assert.equal(live, R.count(eng, BANK))
    local r = assert(eng:retain("After the fault the store takes new memories again", { bank_id = BANK }))
    assert.is_true(r.stored)
    assert(eng:close())
  end

  it("disk full (ENOSPC on the WAL after some bytes): calls fail cleanly, the next open recovers", function()
    local acks = R.acks(clean("a", 8))
    local lines, code, _, got = faulty("b", 60, { FAULTFS_PATH = db .. "-wal", FAULTFS_OP = "write",
      FAULTFS_ERRNO = "ENOSPC", FAULTFS_AFTER_BYTES = 300000 }, "ENOSPC write")
    assert.equal(0, code)
    assert.is_true(got > 0)
    R.acks(lines, acks)
    local nerr = storage_errors(lines)
    assert.is_true(nerr > 0, "the disk never filled")
    for _, l in ipairs(lines) do
      if l:match("^E ") then assert.truthy(l:find("full", 1, true), l) end
    end
    verify(acks)
  end)

  it("a really full disk (a 1 MiB tmpfs, mounted when running as root): calls fail cleanly, more space recovers", function()
    local mnt = dir .. "/small"
    local _, code = R.sh("mkdir -p " .. R.q(mnt) .. " && mount -t tmpfs -o size=1m tmpfs " .. R.q(mnt) .. " 2>/dev/null")
    if code ~= 0 then return pending("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN); the faultfs cases cover ENOSPC") end
    finally(function() R.sh("umount " .. R.q(mnt)) end)
    db = mnt .. "/store.db"
    local lines, wcode = R.worker({ db, "s", 400, seed, 0, BANK, "check" })
    assert.equal(0, wcode)
    local acks = R.acks(lines)
    assert.is_true(#acks.order > 0, "nothing fit")
    assert.is_true(storage_errors(lines) > 0, "the disk never filled")
    for _, l in ipairs(lines) do
      if l:match("^E ") then assert.truthy(l:find("disk is full", 1, true), l) end
    end
    injected["tmpfs full"] = (injected["tmpfs full"] or 0) + #acks.errors
    local _, rc = R.sh("mount -o remount,size=16m " .. R.q(mnt))
    assert.equal(0, rc)
    verify(acks)
  end)

  it("disk full at the first write of a new file: open fails naming the file, a later open works", function()
    local lines, code, _, got = faulty("c", 5, { FAULTFS_PATH = db, FAULTFS_OP = "write", FAULTFS_ERRNO = "ENOSPC",
      FAULTFS_AFTER_BYTES = 0 }, "ENOSPC write")
    assert.is_true(got > 0)
    assert.equal(3, code)
    assert.truthy(lines[1]:match("^E open %- StorageError "), lines[1])
    assert.truthy(lines[1]:find(db, 1, true), lines[1])
    verify(R.acks(clean("d", 6)))
  end)

  for _, c in ipairs({
    { what = "EIO on a WAL write", op = "write", file = "-wal", kind = "EIO write" },
    { what = "EIO on fdatasync of the WAL", op = "fsync", file = "-wal", kind = "EIO fsync" },
    { what = "EIO on a write to the database file (checkpoint)", op = "write", file = "$", kind = "EIO write",
      reopen = 10 },
  }) do
    it(c.what .. " (transient): the failing calls store nothing, later calls and the next open work", function()
      local acks = R.acks(clean("e", 6))
      local lines, code, _, got = faulty("f", 40, { FAULTFS_PATH = db .. c.file, FAULTFS_OP = c.op,
        FAULTFS_ERRNO = "EIO", FAULTFS_AFTER = c.file == "$" and 0 or 12, FAULTFS_TIMES = 3 }, c.kind, c.reopen)
      assert.equal(0, code)
      assert.equal(3, got)
      R.acks(lines, acks)
      storage_errors(lines)
      verify(acks)
    end)
  end

  it("EIO on fdatasync at a commit, then the process exits: the error says the outcome is unknown; " ..
     "the next open holds every ack and at most that one retain, recalled if there", function()
    local acks = R.acks(clean("q", 6))
    local count = dir .. "/count.stop"
    local lines, code, err = R.worker({ db, "r", 20, seed, 0, BANK, "stop" }, { LD_PRELOAD = R.FAULTFS,
      FAULTFS_COUNT = count, FAULTFS_PATH = db .. "-wal", FAULTFS_OP = "fsync", FAULTFS_AFTER = 4, FAULTFS_TIMES = 1 })
    injected["EIO fsync"] = (injected["EIO fsync"] or 0) + 1
    assert.equal(1, code, err)
    R.acks(lines, acks)
    local last = lines[#lines]
    assert.truthy(last:match("^E R (%S+) StorageError "), last)
    assert.truthy(last:find("may or may not be on disk", 1, true), last)
    assert.truthy(last:find(db, 1, true), last)
    -- The unacknowledged retain may have been recovered from the WAL: if
    -- so, it is whole (a row the indexes find); everything acked is there.
    local victim = last:match("^E R (%S+)")
    local eng = assert(R.open(db))
    local rows = R.rows(db, BANK)
    for id, r in pairs(rows) do
      if not acks.retained[id] then
        assert.truthy(r.text:find(victim, 1, true), "an unexpected row: " .. r.text)
        assert.is_true(R.recalls(eng, BANK, victim, id))
        acks.retained[id] = victim
      end
    end
    assert(eng:close())
    verify(acks)
  end)

  it("EIO on every WAL write from some point on: every later call fails, nothing half-written", function()
    local acks = R.acks(clean("g", 6))
    local lines, code, _, got = faulty("h", 30, { FAULTFS_PATH = db .. "-wal", FAULTFS_OP = "write",
      FAULTFS_ERRNO = "EIO", FAULTFS_AFTER = 15 }, "EIO write")
    assert.equal(0, code)
    assert.is_true(got >= 5)
    acks = R.acks(lines, acks)
    assert.is_true(storage_errors(lines) >= 5)
    verify(acks)
  end)

  it("a read-only file (EROFS on opening it for writing): open fails naming the file", function()
    R.acks(clean("i", 5))
    local lines, code, _, got = faulty("j", 5, { FAULTFS_PATH = db, FAULTFS_OP = "openw", FAULTFS_ERRNO = "EROFS" },
      "EROFS open")
    assert.is_true(got > 0)
    assert.equal(3, code)
    assert.truthy(lines[1]:match("^E open %- StorageError "), lines[1])
    assert.truthy(lines[1]:find(db, 1, true), lines[1])
  end)

  it("a really read-only file system (a tmpfs remounted ro, as root): open fails naming the file; rw again recovers", function()
    local mnt = dir .. "/ro"
    local _, code = R.sh("mkdir -p " .. R.q(mnt) .. " && mount -t tmpfs -o size=16m tmpfs " .. R.q(mnt) .. " 2>/dev/null")
    if code ~= 0 then return pending("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN); the EROFS shim case covers it") end
    finally(function() R.sh("umount " .. R.q(mnt)) end)
    db = mnt .. "/store.db"
    local acks = R.acks(clean("t", 6))
    local _, rc = R.sh("mount -o remount,ro " .. R.q(mnt))
    assert.equal(0, rc)
    local lines, wcode = R.worker({ db, "u", 5, seed, 0, BANK, "check" })
    injected["EROFS mount"] = (injected["EROFS mount"] or 0) + 1
    assert.equal(3, wcode)
    assert.truthy(lines[1]:match("^E open %- StorageError "), lines[1])
    assert.truthy(lines[1]:find(db, 1, true), lines[1])
    _, rc = R.sh("mount -o remount,rw " .. R.q(mnt))
    assert.equal(0, rc)
    verify(acks)
  end)

  it("EIO reading the database: open fails naming the file, a later open works", function()
    local acks = R.acks(clean("k", 5))
    local lines, code, _, got = faulty("l", 5, { FAULTFS_PATH = db, FAULTFS_OP = "read", FAULTFS_ERRNO = "EIO" },
      "EIO read")
    assert.is_true(got > 0)
    assert.equal(3, code)
    assert.truthy(lines[1]:match("^E open %- StorageError "), lines[1])
    assert.truthy(lines[1]:find(db, 1, true), lines[1])
    verify(acks)
  end)

  it("a missing directory: open fails naming the path; once it exists, open works", function()
    local path = dir .. "/not/there/store.db"
    local eng, err = astrocyte.open({ vector_store_config = { path = path } })
    assert.is_nil(eng)
    assert.equal("StorageError", err.kind)
    assert.truthy(tostring(err):find(path, 1, true), tostring(err))
    os.execute("mkdir -p " .. R.q(dir .. "/not/there"))
    eng = assert(astrocyte.open({ vector_store_config = { path = path } }))
    assert(eng:retain("The directory exists now", { bank_id = BANK }))
    assert(eng:close())
  end)

  it("the CLI on a full disk: exit code 3, the error names the file, nothing stored", function()
    R.acks(clean("m", 4))
    local _, before = R.rows(db, BANK)
    local out, code = R.sh(R.env({ LD_PRELOAD = R.FAULTFS, FAULTFS_PATH = db .. "-wal", FAULTFS_OP = "write",
      FAULTFS_ERRNO = "ENOSPC", ASTRO_LUA = R.interp() }) .. R.q(R.SOURCE_DIR .. "/bin/astrocyte") ..
      " --db " .. R.q(db) .. " --bank " .. BANK .. " retain 'A memory for a full disk' 2>&1")
    injected["ENOSPC write"] = (injected["ENOSPC write"] or 0) + 1
    assert.equal(3, code, out)
    assert.truthy(out:find("StorageError", 1, true), out)
    assert.truthy(out:find(db, 1, true), out)
    local _, after = R.rows(db, BANK)
    assert.equal(before, after)
  end)

  -- Corruption written into the file directly (after a clean close, so the
  -- WAL is checkpointed into it).
  local function page_of(tbl)
    local h = assert(sqlite.open(db))
    local st = assert(h:prepare("SELECT rootpage FROM sqlite_master WHERE name = ?"))
    st:bind(1, tbl)
    assert(st:step())
    local page = st:row()[1]
    st:finalize()
    st = assert(h:prepare("PRAGMA page_size"))
    assert(st:step())
    local size = st:row()[1]
    st:finalize(); h:close()
    return page, size
  end

  local function scribble(offset, bytes)
    local f = assert(io.open(db, "r+b"))
    f:seek("set", offset)
    f:write(bytes)
    f:close()
  end

  it("a corrupted page of the memories table: open fails with a StorageError naming the file, no crash", function()
    R.acks(clean("n", 30))
    local page, size = page_of("memories")
    scribble((page - 1) * size, string.rep("\255\0\19", math.floor(size / 3)))
    injected["corrupt page"] = (injected["corrupt page"] or 0) + 1
    local before = R.read(db)
    local eng, err = R.open(db)
    assert.is_nil(eng)
    assert.equal("StorageError", err.kind)
    assert.truthy(tostring(err):find(db, 1, true), tostring(err))
    assert.truthy(tostring(err):find("malformed", 1, true), tostring(err))
    assert.equal(before, R.read(db), "a failed open changed the file")
  end)

  -- The HNSW snapshot of a bank past the flat threshold: its bytes and a
  -- function that replaces them. It is the bank's file next to the database
  -- (<db>-<hex bank id>.hnsw) when the vector_snapshots row's graph blob is
  -- empty, else that blob (the older layout); nil when none was saved.
  local function snapshot()
    local h = assert(sqlite.open(db))
    local st = assert(h:prepare("SELECT graph FROM vector_snapshots WHERE bank_id = ?"))
    st:bind(1, BANK)
    local has = st:step()
    local blob = has and st:row()[1]
    st:finalize(); h:close()
    if not has then return nil end
    if blob and #blob > 0 then
      return blob, function(b)
        local w = assert(sqlite.open(db))
        local u = assert(w:prepare("UPDATE vector_snapshots SET graph = ? WHERE bank_id = ?"))
        u:bind_blob(1, b); u:bind(2, BANK)
        assert.is_false(u:step())
        u:finalize(); w:close()
      end
    end
    local file = db .. "-" .. (BANK:gsub(".", function(c) return string.format("%02x", c:byte()) end)) .. ".hnsw"
    return R.read(file), function(b)
      if b == nil then os.remove(file); return end
      local f = assert(io.open(file, "wb"))
      f:write(b)
      f:close()
    end
  end

  -- Rewrites the saved snapshot with fn(bytes) (nil: removes a snapshot file).
  local function damage_snapshot(fn)
    local bytes, put = snapshot()
    assert.truthy(bytes, "no snapshot was saved")
    assert.truthy(core.hnsw_load_string(bytes), "the saved snapshot does not load")
    put(fn(bytes))
  end

  local function snapshot_now() return (snapshot()) end

  for _, c in ipairs({
    { what = "a corrupted HNSW snapshot (bytes flipped mid-graph)", fn = function(b)
        local at = math.floor(#b / 2)
        return b:sub(1, at) .. string.char((b:byte(at + 1) + 1) % 256) .. b:sub(at + 2)
      end },
    { what = "a truncated HNSW snapshot", fn = function(b) return b:sub(1, math.floor(#b * 2 / 3)) end },
    { what = "an HNSW snapshot that is not one", fn = function() return "not a graph at all" end },
    { what = "an empty HNSW snapshot", fn = function() return "" end },
  }) do
    it(c.what .. ": the next open rebuilds the index from the rows and saves a good snapshot", function()
      local acks = R.acks(clean("o", 40))
      damage_snapshot(c.fn)
      injected["bad snapshot"] = (injected["bad snapshot"] or 0) + 1
      verify(acks)
      assert.truthy(core.hnsw_load_string(snapshot_now()), "no good snapshot after the rebuild")
    end)
  end

  it("a corrupted page of the snapshot table: open rebuilds from the rows", function()
    local acks = R.acks(clean("p", 40))
    local page, size = page_of("vector_snapshots")
    scribble((page - 1) * size, string.rep("\255\0\19", math.floor(size / 3)))
    injected["corrupt page"] = (injected["corrupt page"] or 0) + 1
    verify(acks)
  end)
end)
