-- astrocyte.policy.signal: noisy-bank detection (signal_quality.noisy_bank,
-- which the reference configures but never reads). Per bank it keeps a
-- rolling minute histogram of retains and the recent content lengths and
-- dedup outcomes, and flags three signals:
--   spike   — retains this minute > retain_spike_multiplier × the average of
--             the previous minutes (needs 3 minutes of history, >= 10 now);
--   short   — average length of the last 50 retains < min_avg_content_length
--             (needs 20 retains);
--   dedup   — share of near-duplicates in the last 50 retains >
--             max_dedup_rate (needs 20 retains).
-- action: warn (report only), throttle (refuse with RateLimited, retry after
-- the rest of the minute), reject (refuse with PolicyViolation). State is
-- per engine and bounded (10,000 banks, oldest dropped).
local errors = require "astrocyte.errors"
local fmt, floor = string.format, math.floor

local _M = {}
local mt = { __index = _M }

local WINDOW = 50          -- recent retains kept per bank
local HISTORY = 10         -- minutes of history for the spike baseline
local MAX_BANKS = 10000

-- signal.new(opts) → detector. opts: {clock = function() return seconds end}.
function _M.new(opts)
  opts = opts or {}
  return setmetatable({ banks = {}, order = {}, clock = opts.clock or function()
    return require("astrocyte.core").time() end }, mt)
end

local function settings(bcfg)
  local sq = bcfg and bcfg.signal_quality
  local nb = sq and sq.noisy_bank
  if not nb or nb.enabled == false then return nil end
  return {
    spike = nb.retain_spike_multiplier or 5.0,
    min_len = nb.min_avg_content_length or 20,
    max_dedup = nb.max_dedup_rate or 0.8,
    action = nb.action or "warn",
  }
end

local function state(self, bank)
  local st = self.banks[bank]
  if st then return st end
  st = { minutes = {}, lens = {}, dups = {}, n = 0 }
  self.banks[bank] = st
  self.order[#self.order + 1] = bank
  if #self.order > MAX_BANKS then
    local old = table.remove(self.order, 1)
    self.banks[old] = nil
  end
  return st
end

-- Current signals of a bank → array of {signal, value, threshold}.
local function signals(st, s, minute)
  local out = {}
  local now_count = st.minutes[minute] or 0
  local sum, hist = 0, 0
  for m = minute - HISTORY, minute - 1 do
    if st.minutes[m] then hist = hist + 1 end
    sum = sum + (st.minutes[m] or 0)
  end
  if hist >= 3 and now_count >= 10 then
    local avg = sum / HISTORY
    if now_count > s.spike * math.max(avg, 1) then
      out[#out + 1] = { signal = "retain_spike", value = now_count, threshold = s.spike * math.max(avg, 1) }
    end
  end
  local n = #st.lens
  if n >= 20 then
    local total, dups = 0, 0
    for i = 1, n do total = total + st.lens[i]; if st.dups[i] then dups = dups + 1 end end
    if total / n < s.min_len then
      out[#out + 1] = { signal = "short_content", value = total / n, threshold = s.min_len }
    end
    if dups / n > s.max_dedup then
      out[#out + 1] = { signal = "dedup_rate", value = dups / n, threshold = s.max_dedup }
    end
  end
  return out
end

-- detector:check(bank, bank_cfg) → true, signals? | nil, err. Called before a
-- retain; counts it in the minute histogram. With action warn the signals
-- are returned for reporting and the retain proceeds.
function _M:check(bank, bcfg)
  local s = settings(bcfg)
  if not s then return true end
  local now = self.clock()
  local minute = floor(now / 60)
  local st = state(self, bank)
  st.minutes[minute] = (st.minutes[minute] or 0) + 1
  for m in pairs(st.minutes) do
    if m < minute - HISTORY then st.minutes[m] = nil end
  end
  local found = signals(st, s, minute)
  if #found == 0 then return true end
  local names = {}
  for i, f in ipairs(found) do names[i] = f.signal end
  local what = table.concat(names, ", ")
  if s.action == "throttle" then
    local retry = (minute + 1) * 60 - now
    return nil, errors.new("RateLimited", fmt("bank '%s' is throttled as noisy (%s); retry after %.3f s", bank, what, retry),
      { bank_id = bank, operation = "retain", retry_after = retry, signals = found, scope = "noisy_bank" })
  elseif s.action == "reject" then
    return nil, errors.new("PolicyViolation", fmt("bank '%s' rejects retains as noisy (%s)", bank, what),
      { bank_id = bank, signals = found })
  end
  return true, found
end

-- detector:record(bank, content_length, deduplicated) after a retain.
function _M:record(bank, len, dup)
  local st = state(self, bank)
  local i = st.n % WINDOW + 1
  st.lens[i], st.dups[i] = len, dup and true or false
  st.n = st.n + 1
end

return _M
