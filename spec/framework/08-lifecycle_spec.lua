-- Governance: legal holds (durable), forget refusals and compliance bypass,
-- soft delete, time-range forget, audit log, TTL lifecycle, consolidation.
describe("governance and lifecycle", function()
  local astrocyte = require "astrocyte"
  local lifecycle = require "astrocyte.engine.lifecycle"
  local tmp = require "support.tmp"
  local util = require "astrocyte.util"
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  local function open_sqlite(extra)
    local cfg = { vector_store = "sqlite", vector_store_config = { path = dir .. "/gov.db" } }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return assert(astrocyte.open(cfg))
  end

  local function texts(res)
    local out = {}
    for i, h in ipairs(res.hits) do out[i] = h.text end
    return out
  end

  local function has(list, s)
    for _, x in ipairs(list) do if x == s then return true end end
    return false
  end

  describe("legal holds", function()
    it("are durable across reopen and block forget with LegalHoldActive", function()
      local eng = open_sqlite()
      local r = assert(eng:retain("Contract draft for ACME, version 3.", { bank_id = "legal" }))
      local h = assert(eng:set_legal_hold("legal", "case-42", "litigation", { set_by = "user:counsel" }))
      assert.same({ "bank_id", "hold_id", "reason", "set_at", "set_by" },
        (function() local k = {} for n in pairs(h) do k[#k + 1] = n end table.sort(k) return k end)())
      assert.equal("user:counsel", h.set_by)
      eng:close()

      eng = open_sqlite()
      assert.is_true(eng:is_under_hold("legal"))
      assert.is_false(eng:is_under_hold("other"))
      assert.equal("case-42", eng:legal_holds("legal")[1].hold_id)
      local res, err = eng:forget({ bank_id = "legal", memory_ids = { r.memory_id } })
      assert.is_nil(res)
      assert.equal("LegalHoldActive", err.kind)
      assert.equal("legal", err.bank_id)
      assert.equal("case-42", err.hold_id)
      assert.equal("bank 'legal' is under legal hold 'case-42': forget refused (pass compliance = true with a reason to override)", err.message)
      assert.equal(1, #eng:recall("ACME contract", { bank_id = "legal" }).hits)

      -- compliance needs a reason, then bypasses the hold
      res, err = eng:forget({ bank_id = "legal", memory_ids = { r.memory_id }, compliance = true })
      assert.is_nil(res)
      assert.equal("ValidationError", err.kind)
      assert.equal("a compliance forget needs a reason", err.message)
      res = assert(eng:forget({ bank_id = "legal", memory_ids = { r.memory_id }, compliance = true,
                                reason = "GDPR art. 17 request", principal = "user:dpo" }))
      assert.same({ deleted_count = 1, archived_count = 0 }, res)

      assert.is_true(eng:release_legal_hold("legal", "case-42"))
      assert.is_false(eng:release_legal_hold("legal", "case-42"))
      assert.is_false(eng:is_under_hold("legal"))
      eng:close()
      eng = open_sqlite()
      assert.is_false(eng:is_under_hold("legal"))
      eng:close()
    end)

    it("validates hold arguments", function()
      local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
      local h, err = eng:set_legal_hold("b", "", "why")
      assert.is_nil(h)
      assert.equal("hold_id must be a non-empty string", err.message)
      h, err = eng:set_legal_hold("b", "h1", nil)
      assert.equal("reason must be a non-empty string", err.message)
      h, err = eng:set_legal_hold("bad bank!", "h1", "x")
      assert.equal("ValidationError", err.kind)
      eng:close()
    end)
  end)

  describe("audit log", function()
    it("records holds and every forget, newest first, durably", function()
      local eng = open_sqlite()
      local a = assert(eng:retain("Alpha note about the roadmap.", { bank_id = "aud", tags = { "x" } }))
      assert(eng:retain("Beta note about the budget.", { bank_id = "aud", tags = { "y" } }))
      assert(eng:set_legal_hold("aud", "h1", "audit test"))
      assert.is_nil(eng:forget({ bank_id = "aud", tags = { "x" }, principal = "agent:bot" }))
      assert(eng:release_legal_hold("aud", "h1"))
      assert(eng:forget({ bank_id = "aud", memory_ids = { a.memory_id }, reason = "cleanup", principal = "user:ana" }))
      assert(eng:forget({ bank_id = "aud", tags = { "y" } }))
      eng:close()

      eng = open_sqlite()
      local log = assert(eng:audit_log("aud"))
      local events = {}
      for i, r in ipairs(log) do events[i] = r.event end
      assert.same({ "forget", "forget", "hold_released", "forget_refused", "hold_set" }, events)
      assert.same({ tags = { "y" } }, log[1].selector)
      assert.equal("anonymous", log[1].principal)
      assert.equal(1, log[1].deleted_count)
      assert.same({ a.memory_id }, log[2].memory_ids)
      assert.equal("user:ana", log[2].principal)
      assert.equal("cleanup", log[2].reason)
      assert.equal(1, log[2].deleted_count)
      assert.equal(0, log[2].archived_count)
      assert.equal("agent:bot", log[4].principal)
      assert.equal("h1", log[4].hold_id)
      for _, r in ipairs(log) do
        assert.equal("aud", r.bank_id)
        assert.truthy(util.parse_iso(r.at))
      end
      assert.equal(2, #eng:audit_log("aud", { limit = 2 }))
      eng:close()
    end)
  end)

  describe("forget extensions", function()
    it("soft = true hides memories from recall until restored", function()
      for _, store in ipairs({ "in_memory", "sqlite" }) do
        local eng = store == "sqlite" and open_sqlite() or assert(astrocyte.open({ vector_store = "in_memory" }))
        local r = assert(eng:retain("The office wifi password rotates every Monday.", { bank_id = "soft" }))
        assert(eng:retain("Lunch is served at noon in the atrium.", { bank_id = "soft" }))
        local res = assert(eng:forget({ bank_id = "soft", memory_ids = { r.memory_id }, soft = true }))
        assert.same({ deleted_count = 0, archived_count = 1 }, res, store)
        assert.is_false(has(texts(eng:recall("wifi password", { bank_id = "soft" })), "The office wifi password rotates every Monday."))
        assert.equal(1, eng:banks()[1].memory_count)
        assert.equal(1, #eng.vector_store:list_vectors("soft", 0, 10))
        if store == "sqlite" then eng:close(); eng = open_sqlite() end
        assert.is_false(has(texts(eng:recall("wifi password", { bank_id = "soft" })), "The office wifi password rotates every Monday."))
        assert.equal(1, eng:restore_memories("soft", { r.memory_id }))
        assert.equal("The office wifi password rotates every Monday.", eng:recall("wifi password", { bank_id = "soft" }).hits[1].text)
        -- a hard forget by selector purges archived memories too
        assert(eng:forget({ bank_id = "soft", memory_ids = { r.memory_id }, soft = true }))
        assert.equal(2, eng:forget({ bank_id = "soft", scope = "all" }).deleted_count)
        eng:close()
      end
    end)

    it("forgets a time range with after/before", function()
      local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
      assert(eng:retain("January planning meeting notes.", { bank_id = "t", occurred_at = "2024-01-10" }))
      assert(eng:retain("February offsite agenda.", { bank_id = "t", occurred_at = "2024-02-10" }))
      assert(eng:retain("March retrospective summary.", { bank_id = "t", occurred_at = "2024-03-10" }))
      local res = assert(eng:forget({ bank_id = "t", after = "2024-02-01", before = "2024-03-01" }))
      assert.equal(1, res.deleted_count)
      assert.equal(2, eng:banks()[1].memory_count)
      res = assert(eng:forget({ bank_id = "t", after = "2024-03-01", soft = true }))
      assert.same({ deleted_count = 0, archived_count = 1 }, res)
      local _, err = eng:forget({ bank_id = "t", after = "2024-03-01", memory_ids = { "x" } })
      assert.equal("forget takes memory_ids, or tags/before/after, or scope = 'all' — not several", err.message)
      _, err = eng:forget({ bank_id = "t", after = "2024-03-01", before = "2024-01-01" })
      assert.equal("forget: after must be earlier than before", err.message)
      local log = eng:audit_log("t")
      assert.same({ after = "2024-03-01" }, log[1].selector)
      assert.is_true(log[1].soft)
      eng:close()
    end)
  end)

  it("migrates a schema-1 SQLite file (no archived_at, no change log) in place", function()
    local sqlite = require "astrocyte.sqlite"
    local core = require "astrocyte.core"
    local db = assert(sqlite.open(dir .. "/gov.db"))
    assert(db:exec([[
      CREATE TABLE astrocyte_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE memories (key INTEGER PRIMARY KEY, bank_id TEXT NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL,
        vector BLOB, metadata TEXT, tags TEXT, fact_type TEXT, memory_layer TEXT, chunk_id TEXT,
        occurred_at INTEGER, retained_at INTEGER NOT NULL, UNIQUE (bank_id, id));
      INSERT INTO astrocyte_meta VALUES ('schema_version', '1'), ('dimensions', '384');]]))
    local eng0 = assert(astrocyte.open({ vector_store = "in_memory" }))
    local vec = assert(eng0.embedder:embed({ "An old memory from schema one." }))[1]
    eng0:close()
    local st = assert(db:prepare("INSERT INTO memories (bank_id, id, text, vector, retained_at) VALUES ('old', 'm1', 'An old memory from schema one.', ?, 0)"))
    st:bind_blob(1, type(vec) == "string" and vec or core.vec_pack(vec))
    st:step(); st:finalize(); db:close()
    local eng = open_sqlite()
    assert.equal("An old memory from schema one.", eng:recall("old memory", { bank_id = "old" }).hits[1].text)
    local backend = eng.vector_store.backend
    assert.equal("3", backend:get_meta("schema_version"))
    assert.same({ deleted_count = 0, archived_count = 1 }, eng:forget({ bank_id = "old", memory_ids = { "m1" }, soft = true }))
    -- schema 3: the archive is in the change log other connections replay
    assert.equal(1, backend:query("SELECT count(*) AS n FROM astrocyte_changes WHERE bank_id = 'old'")[1].n)
    eng:close()
  end)

  it("drives holds, audit, lifecycle and consolidation from the CLI", function()
    local root = os.getenv("ASTRO_SOURCE_DIR") or "."
    local lua = os.getenv("ASTRO_RUNTIME") == "luajit" and "luajit" or "lua5.4"
    local function q(x) return "'" .. x:gsub("'", "'\\''") .. "'" end
    local function run(args)
      local cmd = "ASTRO_LUA=" .. lua .. " " .. q(root .. "/bin/astrocyte") .. " --db " .. q(dir .. "/cli.db")
      for _, a in ipairs(args) do cmd = cmd .. " " .. q(a) end
      local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
      local out = p:read("*a")
      p:close()
      return tonumber(out:match("exit=(%d+)%s*$")), (out:gsub("exit=%d+%s*$", ""))
    end
    assert.equal(0, (run({ "--bank", "k", "retain", "Keep this contract safe.", "--tags", "legal" })))
    local code, out = run({ "hold", "set", "k", "case-7", "--reason", "subpoena" })
    assert.equal(0, code, out)
    assert.equal("legal hold 'case-7' set on bank 'k'\n", out)
    code, out = run({ "hold", "list", "k" })
    assert.truthy(out:match("^case%-7%s+%S+Z  user:api  subpoena\n$"), out)
    code, out = run({ "--bank", "k", "forget", "--tags", "legal" })
    assert.equal(3, code)
    assert.equal("astrocyte: LegalHoldActive: bank 'k' is under legal hold 'case-7': forget refused (pass compliance = true with a reason to override)\n", out)
    code, out = run({ "--bank", "k", "forget", "--tags", "legal", "--compliance" })
    assert.equal(2, code)
    code, out = run({ "hold", "release", "k", "case-7" })
    assert.equal("legal hold 'case-7' released on bank 'k'\n", out)
    code, out = run({ "--bank", "k", "forget", "--tags", "legal", "--soft", "--reason", "tidy" })
    assert.equal(0, code, out)
    assert.equal("archived 1\n", out)
    code, out = run({ "--json", "audit", "k" })
    local log = util.json.decode(out)
    assert.equal("forget", log[1].event)
    assert.equal("tidy", log[1].reason)
    assert.equal(4, #log)             -- hold_set, forget_refused, hold_released, forget
    code, out = run({ "lifecycle", "k" })
    assert.equal("archived 0, deleted 0, kept 0\n", out)
    code, out = run({ "consolidate", "k" })
    assert.equal("removed 0 near-duplicates of 0 scanned\n", out)
    code, out = run({ "hold", "bogus" })
    assert.equal(1, code)
  end)

  describe("evaluate_memory_ttl", function()
    local DAY = 86400000
    local now = util.parse_iso("2025-01-01T00:00:00Z")
    local lc = { enabled = true, ttl = { archive_after_days = 30, delete_after_days = 365,
      exempt_tags = { "keep" }, fact_type_overrides = { opinion = 7 } } }
    local function ev(m, cfg, hold) return lifecycle.evaluate_memory_ttl(m, cfg or lc, now, hold) end

    it("follows the reference precedence", function()
      local old = now - 400 * DAY
      assert.same({ action = "keep", reason = "lifecycle_disabled" }, ev({ created_at = old }, { enabled = false }))
      assert.same({ action = "keep", reason = "legal_hold" }, ev({ created_at = old }, nil, true))
      assert.same({ action = "keep", reason = "exempt" }, ev({ created_at = old, tags = { "a", "keep" } }))
      assert.same({ action = "delete", reason = "ttl_expired" }, ev({ created_at = old }))
      assert.same({ action = "delete", reason = "ttl_expired" }, ev({ created_at = now - 365 * DAY }))
      assert.same({ action = "archive", reason = "ttl_unretrieved" }, ev({ created_at = now - 364 * DAY }))
      assert.same({ action = "archive", reason = "ttl_unretrieved" }, ev({ created_at = now - 30 * DAY }))
      assert.same({ action = "keep", reason = "recent" }, ev({ created_at = now - 30 * DAY + 1 }))
      -- last recall resets the archive clock, not the delete clock
      assert.same({ action = "keep", reason = "recent" }, ev({ created_at = now - 100 * DAY, last_recalled_at = now - DAY }))
      assert.same({ action = "delete", reason = "ttl_expired" }, ev({ created_at = old, last_recalled_at = now - DAY }))
      -- fact_type override of the archive days
      assert.same({ action = "archive", reason = "ttl_unretrieved" }, ev({ created_at = now - 8 * DAY, fact_type = "opinion" }))
      assert.same({ action = "keep", reason = "recent" }, ev({ created_at = now - 8 * DAY, fact_type = "world" }))
      assert.same({ action = "keep", reason = "recent" }, ev({}))
    end)
  end)

  describe("run_lifecycle", function()
    it("archives, deletes and keeps per the bank's lifecycle config with an injected now", function()
      local eng = open_sqlite({ lifecycle = { enabled = true, ttl = { archive_after_days = 30, delete_after_days = 365,
        exempt_tags = { "pinned" } } } })
      local function put(text, created, tags)
        return assert(eng:retain(text, { bank_id = "lc", tags = tags, metadata = { _created_at = created } })).memory_id
      end
      local fresh = put("Fresh note from last week.", "2024-12-25T00:00:00Z")
      local stale = put("Stale note from the summer.", "2024-07-01T00:00:00Z")
      local ancient = put("Ancient note from two years ago.", "2022-06-01T00:00:00Z")
      local pinned = put("Pinned ancient policy document.", "2022-06-01T00:00:00Z", { "pinned" })
      local res = assert(eng:run_lifecycle("lc", { now = "2025-01-01T00:00:00Z", dry_run = true }))
      assert.same({ 1, 1, 2 }, { res.archived_count, res.deleted_count, res.kept_count })
      assert.equal(4, #eng.vector_store:list_vectors("lc", 0, 10))

      res = assert(eng:run_lifecycle("lc", { now = "2025-01-01T00:00:00Z" }))
      assert.same({ 1, 1, 2 }, { res.archived_count, res.deleted_count, res.kept_count })
      local by = {}
      for _, a in ipairs(res.actions) do by[a.memory_id] = a.action .. "/" .. a.reason end
      assert.same({ [fresh] = "keep/recent", [stale] = "archive/ttl_unretrieved", [ancient] = "delete/ttl_expired",
                    [pinned] = "keep/exempt" }, by)
      local live = {}
      for _, it in ipairs(eng.vector_store:list_vectors("lc", 0, 10)) do live[#live + 1] = it.id end
      table.sort(live)
      local want = { fresh, pinned }
      table.sort(want)
      assert.same(want, live)
      assert.equal(1, #eng.vector_store:list_archived("lc", 0, 10))
      assert.equal("lifecycle", eng:audit_log("lc")[1].event)
      assert.equal("system:ttl", eng:audit_log("lc")[1].principal)

      -- a year later the archived memory is deleted too; under a hold nothing changes
      assert(eng:set_legal_hold("lc", "freeze", "audit"))
      res = assert(eng:run_lifecycle("lc", { now = "2026-06-01T00:00:00Z" }))
      assert.same({ 0, 0, 2 }, { res.archived_count, res.deleted_count, res.kept_count })
      assert.equal("legal_hold", res.actions[1].reason)
      assert(eng:release_legal_hold("lc", "freeze"))
      res = assert(eng:run_lifecycle("lc", { now = "2026-06-01T00:00:00Z" }))
      assert.equal(2, res.deleted_count)          -- fresh and the archived stale note expire; pinned stays
      assert.equal(0, #eng.vector_store:list_archived("lc", 0, 10))
      assert.equal(pinned, eng.vector_store:list_vectors("lc", 0, 10)[1].id)
      eng:close()
    end)

    it("keeps everything when lifecycle is disabled (the default)", function()
      local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
      assert(eng:retain("Some memory.", { bank_id = "d", metadata = { _created_at = "2000-01-01" } }))
      local res = assert(eng:run_lifecycle("d"))
      assert.same({ 0, 0, 1 }, { res.archived_count, res.deleted_count, res.kept_count })
      assert.equal("lifecycle_disabled", res.actions[1].reason)
      eng:close()
    end)
  end)

  describe("consolidate", function()
    it("removes near-duplicates keeping the first in list order", function()
      local eng = assert(astrocyte.open({ vector_store = "in_memory",
        signal_quality = { dedup = { enabled = false } } }))
      local ids = {}
      for i, t in ipairs({ "The quarterly report is due on Friday.", "The quarterly report is due on Friday!",
                            "Bananas are rich in potassium.", "The quarterly report is due on Friday." }) do
        ids[i] = assert(eng:retain(t, { bank_id = "c" })).memory_id
      end
      assert.equal(4, eng:banks()[1].memory_count)
      local dry = assert(eng:consolidate("c", { dry_run = true }))
      assert.equal(2, #dry.duplicates)
      assert.equal(0, dry.duplicates_removed)
      assert(eng:set_legal_hold("c", "h", "x"))
      local _, err = eng:consolidate("c")
      assert.equal("LegalHoldActive", err.kind)
      assert.equal("bank 'c' is under legal hold 'h': consolidation refused", err.message)
      assert(eng:release_legal_hold("c", "h"))
      local res = assert(eng:consolidate("c"))
      assert.equal(2, res.duplicates_removed)
      assert.equal(4, res.total_scanned)
      assert.equal(2, eng:banks()[1].memory_count)
      -- the survivor of the duplicate group is the first one in id order
      local group = { ids[1], ids[2], ids[4] }
      table.sort(group)
      local live = {}
      for _, it in ipairs(eng.vector_store:list_vectors("c", 0, 10)) do live[it.id] = true end
      assert.is_true(live[group[1]] and not live[group[2]] and not live[group[3]])
      assert.equal("consolidate", eng:audit_log("c")[1].event)
      eng:close()
    end)
  end)
end)
