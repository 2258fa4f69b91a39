-- use.lua ROOT DB VERSION: uses an installed Astrocyte (see prefix.sh and
-- luarocks.sh) from Lua 5.4 or LuaJIT, the search paths set by the caller.
-- Checks that every astrocyte module, Lua or C, comes from under ROOT (not
-- from a checkout), that the built-in profiles are found beside the
-- installed config.lua, and that an engine on the SQLite file DB retains,
-- recalls and, reopened, still returns the memory.
local root, db, version = arg[1], arg[2], arg[3]
assert(root and db and version, "usage: use.lua ROOT DB VERSION")

local failures = 0
local function check(ok, what)
  if not ok then
    io.stderr:write("FAIL: ", what, "\n")
    failures = failures + 1
  end
  return ok
end
local function under_root(path)
  return type(path) == "string" and path:sub(1, #root + 1) == root .. "/"
end

local astrocyte = require "astrocyte"
check(astrocyte._VERSION == version, "astrocyte._VERSION is " .. tostring(astrocyte._VERSION) .. ", expected " .. version)

-- Where the modules came from.
local lua_file = package.searchpath("astrocyte", package.path)
check(under_root(lua_file), "astrocyte found at " .. tostring(lua_file))
local core_file = package.searchpath("astrocyte.core", package.cpath)
check(under_root(core_file), "astrocyte.core found at " .. tostring(core_file))
local sqlite_file = package.searchpath("astrocyte.sqlite", package.cpath)
check(under_root(sqlite_file), "astrocyte.sqlite found at " .. tostring(sqlite_file))

-- Profiles: profiles/ beside the installed config.lua, compliance/ included.
local config = require "astrocyte.config"
check(under_root(config.builtin_profile_dir()), "profile dir " .. config.builtin_profile_dir())
for _, p in ipairs({ { "minimal", false }, { "personal", false }, { "gdpr", true } }) do
  local prof, where = config.load_profile(p[1], nil, p[2])
  check(type(prof) == "table" and under_root(where),
        "profile " .. p[1] .. ": " .. tostring(where and (where.message or where)))
end

-- An engine on a SQLite file: retain, recall, reopen, recall again.
local function open()
  return astrocyte.open({ vector_store = "sqlite", vector_store_config = { path = db }, profile = "minimal" })
end
local eng, err = open()
if check(eng, "open: " .. tostring(err and err.message)) then
  check(eng:provider_name() == "sqlite", "provider is " .. tostring(eng:provider_name()))
  local r1, e1 = eng:retain("Ana prefers green tea in the morning.", { bank_id = "ana", tags = { "pref" } })
  local r2, e2 = eng:retain("The quarterly revenue report is due on Friday.", { bank_id = "ana" })
  check(r1 and r1.stored and r1.memory_id, "retain: " .. tostring(e1 and e1.message))
  check(r2 and r2.stored and r2.memory_id, "retain: " .. tostring(e2 and e2.message))
  local res, e3 = eng:recall("what does Ana drink?", { bank_id = "ana", max_results = 2 })
  if check(res and res.hits[1], "recall: " .. tostring(e3 and e3.message)) and r1 then
    check(res.hits[1].memory_id == r1.memory_id, "top hit is the tea memory")
    check(res.hits[1].text == "Ana prefers green tea in the morning.", "hit text: " .. tostring(res.hits[1].text))
    check(res.hits[1].tags and res.hits[1].tags[1] == "pref", "hit tags")
  end
  eng:close()
  -- Reopened, the file still holds the memory.
  eng, err = open()
  if check(eng, "reopen: " .. tostring(err and err.message)) then
    local again = eng:recall("green tea", { bank_id = "ana", max_results = 1 })
    check(again and again.hits[1] and r1 and again.hits[1].memory_id == r1.memory_id, "memory back after reopening")
    eng:close()
  end
end

-- Every astrocyte module loaded on the way came from ROOT.
for name in pairs(package.loaded) do
  if name == "astrocyte" or name:match("^astrocyte%.") then
    local f = package.searchpath(name, package.path) or package.searchpath(name, package.cpath)
    check(under_root(f), "module " .. name .. " from " .. tostring(f))
  end
end

if failures > 0 then
  io.stderr:write(failures, " check(s) failed\n")
  os.exit(1)
end
print("astrocyte " .. version .. " ok on " .. (jit and jit.version or _VERSION))
