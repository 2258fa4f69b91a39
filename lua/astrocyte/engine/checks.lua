-- astrocyte.engine.checks: what every engine method does first — check that
-- it was called with a colon on an open engine, resolve the bank it acts on,
-- run its work under pcall so a raised Lua error comes back as an error
-- object — and the access check of the governance calls. Also holds the
-- engine metatable, so the method modules can tell an engine (or a view of
-- one) from any other table.
local errors = require "astrocyte.errors"
local validate = require "astrocyte.validate"
local type, getmetatable, rawget, pcall = type, getmetatable, rawget, pcall

local _M = {}

-- The metatable of engine objects; astrocyte.engine sets its __index.
_M.mt = {}

-- A set {name = true} of the names in list (the known options of a call).
function _M.set(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

-- Returns an error object when the engine cannot serve calls, else nil;
-- raises when the method was called with a dot.
function _M.check_open(self, what)
  if type(self) ~= "table" or type(self.cfg) ~= "table" then
    error("astrocyte: call engine:" .. what .. "(...) with a colon", 3)
  end
  if self.closed then
    return errors.new("ProviderUnavailable", "engine is closed", { provider = "engine" })
  end
end

-- The validated bank id of a call: bank_id, else the config's default. The
-- last valid id is remembered (the items of a retain_many share theirs).
local last_valid
function _M.bank_arg(self, bank_id)
  if bank_id == nil then bank_id = self.cfg.default_bank_id end
  if bank_id ~= nil and bank_id == last_valid then return bank_id end
  local v, err = validate.bank_id(bank_id)
  if v then last_valid = v end
  return v, err
end

-- After a write of this engine to bank_id (or to every bank, nil): drops
-- the recall cache's entries that read it. The cache would not serve them
-- anyway (the store's bank generation moved); this frees them at once.
function _M.wrote(self, bank_id)
  local cache = self.recall_cache
  if cache then cache:invalidate(bank_id) end
end

-- Runs fn(...) turning a raised Lua error into an InternalError object.
function _M.guarded(fn, ...)
  local ok, res, err = pcall(fn, ...)
  if not ok then return nil, errors.wrap("InternalError", res) end
  return res, err
end

-- A governance method: fn(self, bank_id, ...) behind the access check it
-- needs — permission perm on the bank (target(bank_id, ...) when given,
-- else bank_id as passed) for the acting context of the engine or view —
-- followed, when it succeeds, by report(self, bank_id, res, ...) (the
-- governance event). Tables that are neither an engine nor a view pass
-- straight to fn.
function _M.governed(perm, fn, report, target)
  return function(self, bank_id, ...)
    if type(self) ~= "table" or (getmetatable(self) ~= _M.mt and not rawget(self, "_ctx")) then
      return fn(self, bank_id, ...)
    end
    if not self.closed and self.policy then
      local t = bank_id
      if target then t = target(bank_id, ...) end
      if type(t) == "string" then
        local ok, err = self.policy:admit(perm, t, self._ctx)
        if not ok then return nil, err end
      end
    end
    local res, err = fn(self, bank_id, ...)
    if res and report and self.observe then report(self, bank_id, res, ...) end
    return res, err
  end
end

return _M
