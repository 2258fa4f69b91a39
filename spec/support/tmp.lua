-- spec/support/tmp.lua: temporary directories for specs (removed by rm()).
local _M = {}

-- Returns a fresh empty directory path.
function _M.dir()
  local p = io.popen("mktemp -d /tmp/astrocyte-spec.XXXXXX")
  local path = p:read("*l")
  p:close()
  return path
end

-- Removes a directory tree created by dir().
function _M.rm(path)
  if path and path:match("^/tmp/astrocyte%-spec%.") then
    os.execute("rm -rf '" .. path .. "'")
  end
end

-- Writes text to dir/name; returns the path.
function _M.write(dir, name, text)
  local f = assert(io.open(dir .. "/" .. name, "w"))
  f:write(text)
  f:close()
  return dir .. "/" .. name
end

-- The whole content of the file at path.
function _M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

return _M
