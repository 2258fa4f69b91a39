-- astrocyte.engine_guard: wraps the engine's governance calls (legal holds,
-- audit, lifecycle, consolidation, restore, export/import) with the access
-- check they need — `admin` on the bank, `recall` to read hold status — for
-- the engine's acting context (engine:with_context), and reports the
-- governance events (holds, TTL expiry, consolidation, export, import).
local util = require "astrocyte.util"
local type = type

local _M = {}

-- The bank an import writes to: its argument, else the archive's header.
local function import_target(bank_id, path)
  if bank_id ~= nil or type(path) ~= "string" then return bank_id end
  local f = io.open(path, "rb")
  if not f then return nil end
  local header = util.json.decode(f:read("*l") or "")
  f:close()
  return type(header) == "table" and header.bank_id or nil
end

-- Governance calls need `admin` on the bank (reading hold status needs
-- `recall`); the acting context is the engine's (engine:with_context).
local ADMIN = { "set_legal_hold", "release_legal_hold", "audit_log", "run_lifecycle", "consolidate",
                "restore_memories", "export_bank", "import_bank" }
local READ = { "legal_holds", "is_under_hold" }
local function guard_method(Engine, mt, name, perm)
  local f = Engine[name]
  Engine[name] = function(self, bank_id, ...)
    if getmetatable(self) ~= mt and not rawget(self, "_ctx") then return f(self, bank_id, ...) end
    if not self.closed and self.policy then
      local target = bank_id
      if name == "import_bank" then target = import_target(bank_id, (...)) end
      if type(target) == "string" then
        local ok, err = self.policy:admit(perm, target, self._ctx)
        if not ok then return nil, err end
      end
    end
    local res, err = f(self, bank_id, ...)
    if res and self.observe then
      if name == "set_legal_hold" then
        self.observe:governance("legal_hold", bank_id, { hold_id = (...), action = "set" })
      elseif name == "release_legal_hold" then
        self.observe:governance("legal_hold", bank_id, { hold_id = (...), action = "released" })
      elseif name == "export_bank" then
        self.observe:governance("export", bank_id, { memory_count = res })
      elseif name == "run_lifecycle" and ((res.archived_count or 0) + (res.deleted_count or 0)) > 0 then
        self.observe:governance("ttl_expiry", bank_id, { archived_count = res.archived_count,
                                                         deleted_count = res.deleted_count })
      elseif name == "consolidate" then
        self.observe:governance("consolidation", bank_id, { duplicates_removed = res.duplicates_removed,
                                                            total_scanned = res.total_scanned })
      elseif name == "import_bank" then
        self.observe:governance("import", bank_id, { imported = res.imported, skipped = res.skipped })
      end
    end
    return res, err
  end
end

-- Wraps Engine's governance methods; mt is the engine metatable.
function _M.install(Engine, mt)
  for _, n in ipairs(ADMIN) do guard_method(Engine, mt, n, "admin") end
  for _, n in ipairs(READ) do guard_method(Engine, mt, n, "recall") end
end

return _M
