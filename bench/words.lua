-- bench/words.lua: the benchmarks' deterministic text — a Zipf-ish
-- vocabulary of 20,000 made-up words and notes of 12-30 of them. The LCG
-- (seed * 1103515245 + 12345) mod 2^31 is computed with the multiplier split
-- at 2^16 so every intermediate stays below 2^53: the same sequence on Lua
-- 5.4 and LuaJIT (as bench/pg_bench.lua).
--   local words = require("words").new(12345)
--   words:note() → "..."; words:phrase(k) → k words
local floor = math.floor

local VOCAB = {}
for w = 1, 20000 do
  local s, n = {}, w
  repeat s[#s + 1] = string.char(97 + n % 26); n = floor(n / 26) until n == 0
  VOCAB[w] = table.concat(s) .. (w % 7 == 0 and "ing" or "")
end

local G = {}
G.__index = G

function G:rand()
  local seed = self.seed
  seed = ((seed * 16838) % 32768 * 65536 + seed * 20077 + 12345) % 2147483648
  self.seed = seed
  return seed / 2147483648
end

-- k words, log-uniform rank (about Zipf s = 1).
function G:phrase(k)
  local out = {}
  for j = 1, k do out[j] = VOCAB[floor(20000 ^ self:rand())] end
  return table.concat(out, " ")
end

function G:note() return self:phrase(12 + floor(self:rand() * 18)) end

return { new = function(seed) return setmetatable({ seed = seed or 12345 }, G) end }
