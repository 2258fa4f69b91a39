-- astrocyte.store.vector: the vector checks every store does the same way.
-- pack(v, dims, where [, finite]) turns a DTO vector — an array of numbers or
-- a packed float32 string — into a normalized packed string after checking
-- its elements (finite = true also refuses NaN and ±inf by name) and its
-- dimension against dims (when known); errors name the field (`where`).
local core = require "astrocyte.core"
local type, fmt, tostring, huge = type, string.format, tostring, math.huge

local _M = {}

-- pack(v, dims, where, finite) → packed, dimension | nil, err.
function _M.pack(v, dims, where, finite)
  local packed
  if type(v) == "string" then
    if #v % 4 ~= 0 then return nil, where .. ": packed vector length is not a multiple of 4" end
    packed = v
  elseif type(v) == "table" then
    for i = 1, #v do
      local x = v[i]
      if type(x) ~= "number" then
        return nil, fmt(finite and "%s: vector[%d] is not a finite number" or "%s: vector[%d] is not a number", where, i)
      end
      if finite and (x ~= x or x == huge or x == -huge) then
        return nil, fmt("%s: vector[%d] is not a finite number", where, i)
      end
    end
    packed = core.vec_pack(v)
  else
    return nil, where .. ": vector must be an array of numbers"
  end
  local d = #packed / 4
  if d == 0 then return nil, where .. ": vector is empty" end
  if dims and d ~= dims then
    return nil, fmt("%s: dimension mismatch: expected %d, got %d", where, dims, d)
  end
  local ok, err = core.vec_normalize(packed)
  if not ok then return nil, where .. ": " .. tostring(err) end
  return packed, d
end

return _M
