-- spec/support/cli.lua: runs bin/astrocyte of this checkout as a child
-- process, on the runtime the spec runs on.
local tmp = require "support.tmp"

local _M = {}

-- Quotes s for sh.
function _M.q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- run(dir, args [, env]) → exit code, stdout, stderr. args: list of
-- arguments; env: "NAME=value ..." prefixed to the command; dir holds the
-- captured output.
function _M.run(dir, args, env)
  local root = os.getenv("ASTRO_SOURCE_DIR") or "."
  local lua = os.getenv("ASTRO_RUNTIME") == "luajit" and "luajit" or "lua5.4"
  local cmd = (env or "") .. " ASTRO_LUA=" .. lua .. " " .. _M.q(root .. "/bin/astrocyte")
  for _, a in ipairs(args) do cmd = cmd .. " " .. _M.q(a) end
  cmd = cmd .. " >" .. _M.q(dir .. "/cli.out") .. " 2>" .. _M.q(dir .. "/cli.err") .. "; echo $?"
  local p = io.popen(cmd)
  local code = tonumber(p:read("*l"))
  p:close()
  return code, tmp.read(dir .. "/cli.out"), tmp.read(dir .. "/cli.err")
end

return _M
