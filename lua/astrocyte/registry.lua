-- astrocyte.registry: resolves provider names to constructors at runtime.
-- A short name `foo` in group `g` is `require("astrocyte.providers.foo")[g]`;
-- "some.module:Name" is `require("some.module").Name`. Nothing in the core
-- names a provider statically; this is the only place that loads them.
local errors = require "astrocyte.errors"
local fmt = string.format

local _M = {}

-- Returns the constructor for `name` in `group`, or nil and a ConfigError
-- naming the config key.
function _M.resolve(group, name, key_path)
  if type(name) ~= "string" or name == "" then
    return nil, errors.config(fmt("%s must be a provider name, got %s", key_path, type(name)), { key_path = key_path })
  end
  local mod_name, member
  local m, n = name:match("^(.+):([%w_]+)$")
  if m then
    mod_name, member = m, n
  else
    if not name:match("^[%w_%-]+$") then
      return nil, errors.config(fmt("%s: '%s' is not a provider name (use a short name or 'module:Name')", key_path, name), { key_path = key_path })
    end
    mod_name, member = "astrocyte.providers." .. name, group
  end
  local ok, mod = pcall(require, mod_name)
  if not ok then
    if tostring(mod):find("module '" .. mod_name .. "' not found", 1, true) then
      return nil, errors.config(fmt("%s: provider '%s' not found (no module %s on package.path)", key_path, name, mod_name), { key_path = key_path })
    end
    return nil, errors.config(fmt("%s: provider '%s' failed to load: %s", key_path, name, tostring(mod)), { key_path = key_path })
  end
  local ctor = type(mod) == "table" and mod[member] or nil
  if type(ctor) == "table" and type(ctor.new) == "function" then
    local cls = ctor
    ctor = function(conf) return cls.new(conf) end
  end
  if type(ctor) ~= "function" then
    return nil, errors.config(fmt("%s: provider '%s' does not implement %s", key_path, name, group), { key_path = key_path })
  end
  return ctor
end

-- Resolves and constructs; maps a constructor failure to a ConfigError.
function _M.build(group, name, conf, key_path)
  local ctor, err = _M.resolve(group, name, key_path)
  if not ctor then return nil, err end
  local ok, obj, cerr = pcall(ctor, conf or {})
  if not ok then
    return nil, errors.config(fmt("%s: provider '%s' raised: %s", key_path, name, tostring(obj)), { key_path = key_path })
  end
  if not obj then
    if errors.is(cerr) then return nil, cerr end
    return nil, errors.config(fmt("%s: %s", key_path, tostring(cerr)), { key_path = key_path })
  end
  return obj
end

return _M
