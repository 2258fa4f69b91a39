-- astrocyte.registry: resolves provider names to constructors at runtime and
-- discovers what is installed. A short name `foo` in group `g` is
-- require("astrocyte.providers.foo")[g]; "some.module:Name" is
-- require("some.module").Name (a constructor, or a table with .new). Every
-- provider built here is checked against its SPI (required methods present,
-- SPI_VERSION supported) before the engine sees it. Nothing in the core names
-- a provider statically; this is the only place that loads them.
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local fmt, ipairs, pairs, type = string.format, ipairs, pairs, type

local _M = {}

-- The reference's provider groups.
_M.GROUPS = {
  "vector_stores", "graph_stores", "document_stores", "wiki_stores", "mental_model_stores",
  "source_stores", "engine_providers", "llm_providers", "outbound_transports",
  "access_policies", "memory_export_sinks",
}

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

-- Resolves, constructs and SPI-checks a provider; maps every failure to a
-- ConfigError naming key_path (a provider's own error object passes through).
function _M.build(group, name, conf, key_path)
  local ctor, err = _M.resolve(group, name, key_path)
  if not ctor then return nil, err end
  local ok, obj, cerr = pcall(ctor, conf or {})
  if not ok then
    return nil, errors.config(fmt("%s: provider '%s' raised: %s", key_path, name, tostring(obj)), { key_path = key_path })
  end
  if not obj then
    if errors.is(cerr) then
      -- Keep the provider's kind (a StorageError stays one) and say which
      -- config key built it.
      if cerr.key_path == nil then
        cerr.key_path = key_path
        cerr.message = key_path .. ": " .. cerr.message
      end
      return nil, cerr
    end
    return nil, errors.config(fmt("%s: %s", key_path, tostring(cerr)), { key_path = key_path })
  end
  local spi = require "astrocyte.spi"
  local sok, serr = spi.check(obj, group)
  if not sok then
    if obj.close then pcall(obj.close, obj) end
    return nil, errors.config(fmt("%s: provider '%s': %s", key_path, name, serr.message or tostring(serr)), { key_path = key_path })
  end
  return obj
end

-- The config keys that name a provider, with the group open() builds each
-- for. (The vector store's own graph is optional, so it is not listed.)
local NAMED = {
  { "provider", "engine_providers" }, { "vector_store", "vector_stores" },
  { "document_store", "document_stores" }, { "graph_store", "graph_stores" },
  { "wiki_store", "wiki_stores" }, { "mental_model_store", "mental_model_stores" },
  { "source_store", "source_stores" }, { "embedding_provider", "llm_providers" },
  { "llm_provider", "llm_providers" },
}

-- The provider sections of a loaded config: one { group, name, name_key
-- (the key path naming the provider), key_path (of its config section),
-- holder, key } per provider it names; holder[key] is the section (nil when
-- not written). The engine tier uses `provider`; the store keys are defaults
-- it ignores, so their sections are not listed then.
function _M.sections(cfg)
  local out = {}
  local function add(group, name, name_key, holder, key, key_path)
    if name ~= nil then
      out[#out + 1] = { group = group, name = name, name_key = name_key, holder = holder, key = key, key_path = key_path }
    end
  end
  for _, kg in ipairs(NAMED) do
    if not (cfg.provider and kg[2] ~= "engine_providers" and kg[1] ~= "llm_provider") then
      add(kg[2], cfg[kg[1]], kg[1], cfg, kg[1] .. "_config", kg[1] .. "_config")
    end
  end
  local ac = cfg.access_control
  if type(ac) == "table" then
    add("access_policies", ac.policy_provider, "access_control.policy_provider", ac, "policy_provider_config",
        "access_control.policy_provider_config")
  end
  local t = cfg.outbound_transport
  if type(t) == "table" then
    add("outbound_transports", t.provider, "outbound_transport.provider", t, "config", "outbound_transport.config")
  end
  if type(cfg.memory_export_sinks) == "table" then
    for i, entry in ipairs(cfg.memory_export_sinks) do
      if type(entry) == "table" then
        add("memory_export_sinks", entry.provider, fmt("memory_export_sinks[%d].provider", i), entry, "config",
            fmt("memory_export_sinks[%d].config", i))
      end
    end
  end
  return out
end

-- schema(group, name [, key_path]) → the config schema (a section, see
-- astrocyte.config_check) provider `name` declares for `group`, or nil when
-- it declares none (it then checks its own config, as custom providers may).
-- A provider declares it as its module's `schema` field or in the module
-- <module>.schema (providers/<name>/schema.lua for a short name), a table
-- keyed by group. nil, ConfigError when that schema is broken.
function _M.schema(group, name, key_path)
  if type(name) ~= "string" then return nil end
  key_path = key_path or group
  local mod_name = name:match("^(.+):[%w_]+$") or ("astrocyte.providers." .. name)
  local ok, mod = pcall(require, mod_name)
  if not ok then return nil end   -- resolve() reports it
  local s = type(mod) == "table" and type(mod.schema) == "table" and mod.schema or nil
  if s == nil and package.searchpath(mod_name .. ".schema", package.path) then
    local sok, res = pcall(require, mod_name .. ".schema")
    if not sok or type(res) ~= "table" then
      return nil, errors.config(fmt("%s: provider '%s': its schema module %s.schema failed to load: %s", key_path, name,
                                    mod_name, sok and "it returned no table" or tostring(res)), { key_path = key_path })
    end
    s = res
  end
  if s == nil or s[group] == nil then return nil end
  if type(s[group]) ~= "table" then
    return nil, errors.config(fmt("%s: provider '%s': its schema for %s is not a table", key_path, name, group),
                              { key_path = key_path })
  end
  return s[group]
end

-- A provider's schema with the keys the engine may add to every provider
-- config (config_schema.PROVIDER_COMMON).
function _M.full_schema(section)
  local out = {}
  for k, v in pairs(require("astrocyte.config_schema").PROVIDER_COMMON) do out[k] = v end
  for k, v in pairs(section) do out[k] = v end
  return out
end

-- check_config(cfg) → true | nil, ConfigError: resolves (loads, without
-- constructing) every provider a loaded config names, exactly as open()
-- would find it, so `config check` fails where open() would on a name; and
-- checks the config section of each provider that declares a schema
-- (unknown keys, types, ranges, required keys), naming the key path.
function _M.check_config(cfg)
  local check = require "astrocyte.config_check"
  for _, sec in ipairs(_M.sections(cfg)) do
    local ok, err = _M.resolve(sec.group, sec.name, sec.name_key)
    if not ok then return nil, err end
    local schema; schema, err = _M.schema(sec.group, sec.name, sec.name_key)
    if err then return nil, err end
    local conf = sec.holder[sec.key]
    if schema and conf ~= nil and (type(conf) ~= "table" or (next(conf) ~= nil and util.is_array(conf))) then
      return nil, errors.config(fmt("%s must be a mapping, got %s", sec.key_path, type(conf) == "table" and "a list" or type(conf)),
                                { key_path = sec.key_path })
    end
    if schema then
      local kp, msg
      ok, kp, msg = check.check(conf or {}, _M.full_schema(schema), sec.key_path)
      if not ok then return nil, errors.config(msg, { key_path = kp, provider = sec.name }) end
    end
  end
  return true
end

-- Lists the entries of a directory (names only), or {} when unreadable.
local function list_dir(dir)
  local out = {}
  local ok, lfs = pcall(require, "lfs")
  if ok and lfs.dir then
    local iok, iter, state = pcall(lfs.dir, dir)
    if not iok then return out end
    for name in iter, state do
      if name ~= "." and name ~= ".." then out[#out + 1] = name end
    end
    return out
  end
  local p = io.popen("ls -1 '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  if not p then return out end
  for name in p:lines() do out[#out + 1] = name end
  p:close()
  return out
end

-- Short names of every module under astrocyte.providers on package.path.
function _M.installed_names()
  local names, seen = {}, {}
  for template in package.path:gmatch("[^;]+") do
    local prefix = template:match("^(.-)%?")
    if prefix then
      local dir = prefix .. "astrocyte/providers"
      for _, entry in ipairs(list_dir(dir)) do
        local name = entry:match("^([%w_%-]+)%.lua$") or entry:match("^([%w_%-]+)$")
        if name and name ~= "shared" and not seen[name] then
          local f = io.open(dir .. "/" .. entry .. (entry:match("%.lua$") and "" or "/init.lua"), "rb")
          if f then
            f:close()
            seen[name] = true
            names[#names + 1] = name
          end
        end
      end
    end
  end
  table.sort(names)
  return names
end

-- discover(group) → { short_name = constructor } for every installed
-- provider implementing group.
function _M.discover(group)
  local out = {}
  for _, name in ipairs(_M.installed_names()) do
    local ok, mod = pcall(require, "astrocyte.providers." .. name)
    if ok and type(mod) == "table" and mod[group] ~= nil then out[name] = mod[group] end
  end
  return out
end

-- available_providers() → { group = { short_name = constructor } } for the
-- non-empty groups.
function _M.available_providers()
  local out = {}
  for _, g in ipairs(_M.GROUPS) do
    local found = _M.discover(g)
    if next(found) ~= nil then out[g] = found end
  end
  return out
end

return _M
