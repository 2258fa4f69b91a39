-- astrocyte.pipeline.temporal: time in queries. window() turns an expression
-- relative to a reference date ("yesterday", "last week", "in May 2024",
-- "3 days ago", "last Friday", an ISO date, "13 October 2023", "October 13,
-- 2023") into a [from, to) window in ms;
-- decay() is the reference's recency score 2^(-age_days / half_life).
local util = require "astrocyte.util"
local floor, lower, find, match, tonumber = math.floor, string.lower, string.find, string.match, tonumber

local _M = {}

local DAY = 86400000
_M.DAY_MS = DAY

local MONTHS = { january = 1, february = 2, march = 3, april = 4, may = 5, june = 6, july = 7,
  august = 8, september = 9, october = 10, november = 11, december = 12,
  jan = 1, feb = 2, mar = 3, apr = 4, jun = 6, jul = 7, aug = 8, sep = 9, sept = 9, oct = 10, nov = 11, dec = 12 }
local WEEKDAYS = { monday = 1, tuesday = 2, wednesday = 3, thursday = 4, friday = 5, saturday = 6, sunday = 7 }

-- Start of the UTC day containing ms.
local function day_start(ms) return floor(ms / DAY) * DAY end

-- ISO weekday (1 = Monday) of the UTC day containing ms.
local function weekday(ms) return (floor(ms / DAY) + 3) % 7 + 1 end

local function month_start(y, m)
  return util.parse_iso(string.format("%04d-%02d-01", y, m))
end

local function ym(ms)
  local y, m = util.iso(ms):match("^(%d+)%-(%d+)")
  return tonumber(y), tonumber(m)
end

local function next_month(y, m)
  if m == 12 then return y + 1, 1 end
  return y, m + 1
end

local UNIT_DAYS = { day = 1, days = 1, week = 7, weeks = 7, month = 30, months = 30, year = 365, years = 365 }

-- Finds a temporal expression in query; returns a new table {from, to,
-- phrase} (ms, to exclusive) relative to ref_ms, or nil. The answer for the
-- last query and UTC day is remembered (one recall asks once per bank and
-- once for the recall cache; the patterns cost tens of microseconds).
local find_window
local last_query, last_day, last_window
function _M.window(query, ref_ms)
  local day = floor(ref_ms / DAY)
  if query ~= last_query or day ~= last_day then
    last_window = find_window(query, ref_ms)
    last_query, last_day = query, day
  end
  local w = last_window
  return w and { from = w.from, to = w.to, phrase = w.phrase } or nil
end

function find_window(query, ref_ms)
  local q = lower(query)
  local today = day_start(ref_ms)
  if find(q, "%f[%w]yesterday%f[%W]") then return { from = today - DAY, to = today, phrase = "yesterday" } end
  if find(q, "%f[%w]today%f[%W]") or find(q, "%f[%w]tonight%f[%W]") then
    return { from = today, to = today + DAY, phrase = "today" }
  end
  local week_start = today - (weekday(ref_ms) - 1) * DAY
  if find(q, "last%s+week") then return { from = week_start - 7 * DAY, to = week_start, phrase = "last week" } end
  if find(q, "this%s+week") then return { from = week_start, to = today + DAY, phrase = "this week" } end
  if find(q, "last%s+weekend") then
    return { from = week_start - 2 * DAY, to = week_start, phrase = "last weekend" }
  end
  local y, m = ym(ref_ms)
  if find(q, "last%s+month") then
    local py, pm = y, m - 1
    if pm == 0 then py, pm = y - 1, 12 end
    return { from = month_start(py, pm), to = month_start(y, m), phrase = "last month" }
  end
  if find(q, "this%s+month") then return { from = month_start(y, m), to = today + DAY, phrase = "this month" } end
  if find(q, "last%s+year") then
    return { from = month_start(y - 1, 1), to = month_start(y, 1), phrase = "last year" }
  end
  local n, unit = match(q, "(%d+)%s+(%a+)%s+ago")
  if n and UNIT_DAYS[unit] then
    local span = UNIT_DAYS[unit] * DAY
    local center = today - tonumber(n) * span
    return { from = center - floor(span / 2) - DAY, to = center + floor(span / 2) + DAY, phrase = n .. " " .. unit .. " ago" }
  end
  for name, wd in pairs(WEEKDAYS) do
    if find(q, "last%s+" .. name) or find(q, "on%s+" .. name) then
      local back = (weekday(ref_ms) - wd) % 7
      if back == 0 then back = 7 end
      local d = today - back * DAY
      return { from = d, to = d + DAY, phrase = "last " .. name }
    end
  end
  local iy, im, id = match(q, "(%d%d%d%d)%-(%d%d)%-(%d%d)")
  if iy then
    local d = util.parse_iso(iy .. "-" .. im .. "-" .. id)
    if d then return { from = d, to = d + DAY, phrase = iy .. "-" .. im .. "-" .. id } end
  end
  -- A calendar day written out: "13 October 2023", "October 13th, 2023".
  for word, mnum in pairs(find(q, "%d%d%d%d") and MONTHS or {}) do
    local d, yr = match(q, "%f[%d](%d%d?)%a*%s+" .. word .. "%f[%A]%s*,?%s*(%d%d%d%d)%f[%D]")
    if not d then d, yr = match(q, "%f[%a]" .. word .. "%f[%A]%s+(%d%d?)%a*%s*,?%s*(%d%d%d%d)%f[%D]") end
    d = tonumber(d)
    if d and d >= 1 and d <= 31 then
      local ms = util.parse_iso(string.format("%04d-%02d-%02d", tonumber(yr), mnum, d))
      if ms then return { from = ms, to = ms + DAY, phrase = string.format("%04d-%02d-%02d", tonumber(yr), mnum, d) } end
    end
  end
  for word, mnum in pairs(MONTHS) do
    local yr = match(q, "%f[%a]" .. word .. "%f[%A]%s*,?%s*(%d%d%d%d)")
    if yr or find(q, "%f[%a]in%s+" .. word .. "%f[%A]") then
      local year = tonumber(yr) or (mnum <= m and y or y - 1)
      local ny, nm = next_month(year, mnum)
      return { from = month_start(year, mnum), to = month_start(ny, nm), phrase = word .. " " .. year }
    end
  end
  return nil
end

-- Recency score of a timestamp: 2^(-age_days / half_life_days) (1.0 when
-- half_life <= 0; future timestamps count as age 0).
function _M.decay(ts_ms, ref_ms, half_life_days)
  if not half_life_days or half_life_days <= 0 then return 1.0 end
  local age = (ref_ms - ts_ms) / DAY
  if age < 0 then age = 0 end
  return 2 ^ (-age / half_life_days)
end

return _M
