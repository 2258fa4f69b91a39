-- astrocyte.metrics: the engine's counters, gauges and latency histograms
-- (pipeline.md §2.5) with labels, rendered in the Prometheus text exposition
-- format 0.0.4 and as a table for `astrocyte stats`. One registry per
-- engine (no global state). The reference's metric families are declared
-- up front with their HELP text and label names; other families can be
-- added with :counter / :gauge / :histogram.
--
--   local metrics = require "astrocyte.observe.metrics"
--   local m = metrics.new()
--   m:record("retain", { bank_id = "b1", provider = "sqlite", status = "ok" }, 0.012)
--   m:pii_detected("b1", "redact", 2)
--   m:breaker_state("openai", "open")
--   io.write(m:render())
--
-- Output is deterministic: families sorted by name, series by their label
-- text, numbers printed with %.15g (integers without a fraction), so the
-- same scenario renders the same bytes on Lua 5.4 and LuaJIT.
local type, pairs, ipairs, tostring, fmt = type, pairs, ipairs, tostring, string.format
local setmetatable, concat, sort, floor, huge, find = setmetatable, table.concat, table.sort, math.floor, math.huge, string.find

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M }

-- Latency buckets in seconds (upper bounds; +Inf is implicit).
_M.BUCKETS = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }

-- The reference families: name → { type, help, labels }.
local FAMILIES = {
  { "astrocyte_retain_total", "counter", "Retain operations.", { "bank_id", "provider", "status" } },
  { "astrocyte_retain_duration_seconds", "histogram", "Retain latency in seconds.", { "bank_id", "provider" } },
  { "astrocyte_recall_total", "counter", "Recall operations.", { "bank_id", "provider", "status" } },
  { "astrocyte_recall_duration_seconds", "histogram", "Recall latency in seconds.", { "bank_id", "provider" } },
  { "astrocyte_reflect_total", "counter", "Reflect operations.", { "bank_id", "provider", "status" } },
  { "astrocyte_reflect_duration_seconds", "histogram", "Reflect latency in seconds.", { "bank_id", "provider" } },
  { "astrocyte_forget_total", "counter", "Forget operations.", { "bank_id", "provider", "status" } },
  { "astrocyte_forget_duration_seconds", "histogram", "Forget latency in seconds.", { "bank_id", "provider" } },
  { "astrocyte_forget_unstamped_records_total", "counter",
    "Records forgotten without a retained_at stamp.", { "bank_id" } },
  { "astrocyte_pii_detected_total", "counter", "PII detections by action taken.", { "bank_id", "action" } },
  { "astrocyte_rate_limit_rejections_total", "counter", "Calls rejected by the rate limiter.",
    { "bank_id", "operation" } },
  { "astrocyte_circuit_breaker_state", "gauge", "Circuit breaker state (0 closed, 1 open, 2 half-open).",
    { "provider" } },
  { "astrocyte_dedup_total", "counter", "Near-duplicate detections by action.", { "bank_id", "action" } },
  { "astrocyte_token_budget_truncations_total", "counter", "Results truncated to the token budget.",
    { "bank_id", "operation" } },
  { "astrocyte_recall_cache_total", "counter", "Recalls answered by the recall cache (hit) or computed (miss).",
    { "bank_id", "result" } },
  { "astrocyte_hook_events_dropped_total", "counter", "Hook events dropped (queue full or shutdown).", {} },
  { "astrocyte_export_sink_failures_total", "counter", "Memory export sink emit failures.", { "sink" } },
}

local OPS = { retain = true, recall = true, reflect = true, forget = true }
local BREAKER = { closed = 0, open = 1, half_open = 2, ["half-open"] = 2 }

-- Formats a sample value: integers without a fraction, others %.15g.
local function num(v)
  if v ~= v then return "NaN" end
  if v == huge then return "+Inf" end
  if v == -huge then return "-Inf" end
  if v == floor(v) and v > -1e15 and v < 1e15 then return fmt("%d", v) end
  return fmt("%.15g", v)
end
_M.format_number = num

-- Escapes a label value: backslash, double quote and newline.
local function esc_label(s)
  s = tostring(s)
  if not find(s, "[\\\"\n]") then return s end   -- the usual case: nothing to escape
  return (s:gsub("[\\\"\n]", { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end
-- Escapes HELP text: backslash and newline.
local function esc_help(s)
  return (tostring(s):gsub("[\\\n]", { ["\\"] = "\\\\", ["\n"] = "\\n" }))
end

-- Declares a family; redeclaring with the same type is a no-op, another
-- type raises (misuse).
local function declare(self, name, kind, help, labels)
  if type(name) ~= "string" or not name:match("^[%a_:][%w_:]*$") then
    error("metrics: invalid metric name '" .. tostring(name) .. "'", 3)
  end
  local f = self.families[name]
  if f then
    if f.type ~= kind then error(fmt("metrics: %s is a %s, not a %s", name, f.type, kind), 3) end
    return f
  end
  f = { name = name, type = kind, help = help or name, labels = labels or {}, series = {} }
  self.families[name] = f
  if #f.labels == 0 and kind ~= "histogram" then
    f.series[""] = { labels = {}, value = 0 }
  end
  return f
end

function _M:counter(name, help, labels) return declare(self, name, "counter", help, labels) end
function _M:gauge(name, help, labels) return declare(self, name, "gauge", help, labels) end
function _M:histogram(name, help, labels) return declare(self, name, "histogram", help, labels) end

-- metrics.new(opts) → registry. opts.buckets overrides the latency buckets.
function _M.new(opts)
  opts = opts or {}
  local self = setmetatable({ families = {}, buckets = opts.buckets or _M.BUCKETS, rec = {} }, mt)
  for _, f in ipairs(FAMILIES) do declare(self, f[1], f[2], f[3], f[4]) end
  return self
end

-- Returns the series of family f for the label table (created on first
-- use). Only the family's declared labels are kept, in declared order;
-- a missing label is rendered as "".
local function series_key(f, labels)
  local parts = {}
  for i, l in ipairs(f.labels) do
    local v = labels and labels[l]
    parts[i] = l .. '="' .. esc_label(v == nil and "" or v) .. '"'
  end
  return concat(parts, ",")
end

local function series(self, f, labels)
  local key = series_key(f, labels)
  local s = f.series[key]
  if not s then
    s = { key = key }
    if f.type == "histogram" then
      s.counts, s.sum, s.count = {}, 0, 0
      for i = 1, #self.buckets do s.counts[i] = 0 end
    else
      s.value = 0
    end
    f.series[key] = s
  end
  return s
end

local function family(self, name, kind)
  local f = self.families[name]
  if not f then return declare(self, name, kind, name, {}) end
  if f.type ~= kind then error(fmt("metrics: %s is a %s, not a %s", name, f.type, kind), 3) end
  return f
end

-- m:inc(name, labels, n=1): adds n to a counter (created when unknown).
function _M:inc(name, labels, n)
  local s = series(self, family(self, name, "counter"), labels)
  s.value = s.value + (n or 1)
end

-- m:set(name, labels, v): sets a gauge.
function _M:set(name, labels, v)
  series(self, family(self, name, "gauge"), labels).value = v
end

-- Adds observation v to histogram series s.
local function add_observation(self, s, v)
  s.count = s.count + 1
  s.sum = s.sum + v
  for i, le in ipairs(self.buckets) do
    if v <= le then s.counts[i] = s.counts[i] + 1 end
  end
end

-- m:observe(name, labels, seconds): adds one observation to a histogram.
function _M:observe(name, labels, v)
  add_observation(self, series(self, family(self, name, "histogram"), labels), v)
end

-- record()'s series found by label values (self.rec[op][bank_id][provider]
-- [status] = {counter series, histogram series}), so a memory operation
-- builds no series keys; reset() drops them with the series. NIL stands
-- for an absent label.
local NIL = {}
local function rec_entry(self, op, b, p, st)
  local rec = self.rec
  local m = rec[op]
  if not m then m = {}; rec[op] = m end
  local k = b == nil and NIL or b
  local mb = m[k]
  if not mb then mb = {}; m[k] = mb end
  k = p == nil and NIL or p
  local mp = mb[k]
  if not mp then mp = {}; mb[k] = mp end
  local e = mp[st]
  if not e then
    e = { series(self, family(self, "astrocyte_" .. op .. "_total", "counter"),
                 { bank_id = b, provider = p, status = st }) }
    mp[st] = e
  end
  return e
end

-- m:record(op, {bank_id, provider, status}, seconds): one finished memory
-- operation (retain, recall, reflect, forget): the _total counter with
-- status ("ok" when absent) and, when seconds is given, the latency.
function _M:record(op, labels, seconds)
  if not OPS[op] then error("metrics: record() op must be retain, recall, reflect or forget", 2) end
  labels = labels or {}
  local b, p = labels.bank_id, labels.provider
  local e = rec_entry(self, op, b, p, labels.status or "ok")
  local c = e[1]
  c.value = c.value + 1
  if seconds then
    local h = e[2]
    if not h then
      h = series(self, family(self, "astrocyte_" .. op .. "_duration_seconds", "histogram"),
                 { bank_id = b, provider = p })
      e[2] = h
    end
    add_observation(self, h, seconds)
  end
end

function _M:pii_detected(bank_id, action, n)
  self:inc("astrocyte_pii_detected_total", { bank_id = bank_id, action = action }, n)
end
function _M:rate_limited(bank_id, operation)
  self:inc("astrocyte_rate_limit_rejections_total", { bank_id = bank_id, operation = operation })
end
-- state: "closed" | "open" | "half_open" or 0/1/2.
function _M:breaker_state(provider, state)
  local v = type(state) == "number" and state or BREAKER[state]
  if v == nil then error("metrics: unknown breaker state '" .. tostring(state) .. "'", 2) end
  self:set("astrocyte_circuit_breaker_state", { provider = provider }, v)
end
function _M:dedup(bank_id, action)
  self:inc("astrocyte_dedup_total", { bank_id = bank_id, action = action })
end
function _M:truncated(bank_id, operation)
  self:inc("astrocyte_token_budget_truncations_total", { bank_id = bank_id, operation = operation })
end
function _M:recall_cache(bank_id, hit)
  self:inc("astrocyte_recall_cache_total", { bank_id = bank_id, result = hit and "hit" or "miss" })
end
function _M:hook_dropped(n)
  self:inc("astrocyte_hook_events_dropped_total", nil, n)
end
function _M:sink_failed(sink)
  self:inc("astrocyte_export_sink_failures_total", { sink = sink })
end
function _M:forget_unstamped(bank_id, n)
  self:inc("astrocyte_forget_unstamped_records_total", { bank_id = bank_id }, n)
end

local function sorted_names(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  sort(out)
  return out
end

local function with_label(key, extra)
  if key == "" then return "{" .. extra .. "}" end
  return "{" .. key .. "," .. extra .. "}"
end

-- m:render() → the Prometheus text exposition (format 0.0.4). Families
-- without any series are left out; unlabelled counters always appear.
function _M:render()
  local out = {}
  for _, name in ipairs(sorted_names(self.families)) do
    local f = self.families[name]
    local keys = sorted_names(f.series)
    if #keys > 0 then
      out[#out + 1] = "# HELP " .. name .. " " .. esc_help(f.help)
      out[#out + 1] = "# TYPE " .. name .. " " .. f.type
      for _, key in ipairs(keys) do
        local s = f.series[key]
        if f.type == "histogram" then
          for i, le in ipairs(self.buckets) do
            out[#out + 1] = name .. "_bucket" .. with_label(key, 'le="' .. num(le) .. '"') .. " " .. num(s.counts[i])
          end
          out[#out + 1] = name .. "_bucket" .. with_label(key, 'le="+Inf"') .. " " .. num(s.count)
          local lk = key == "" and "" or "{" .. key .. "}"
          out[#out + 1] = name .. "_sum" .. lk .. " " .. num(s.sum)
          out[#out + 1] = name .. "_count" .. lk .. " " .. num(s.count)
        else
          out[#out + 1] = name .. (key == "" and "" or "{" .. key .. "}") .. " " .. num(s.value)
        end
      end
    end
  end
  if #out == 0 then return "" end
  return concat(out, "\n") .. "\n"
end

-- Parses a series key back into a label table.
local function parse_key(key)
  local labels = {}
  for k, v in key:gmatch('([%w_]+)="(.-)"') do labels[k] = v end
  return labels
end

-- m:snapshot() → { [name] = { type, help, series = { { labels = {...},
-- value = n } | { labels, count, sum, buckets = { [le] = n } } } } }, for
-- `astrocyte stats` (JSON-friendly; series sorted as in render()).
function _M:snapshot()
  local out = {}
  for _, name in ipairs(sorted_names(self.families)) do
    local f = self.families[name]
    local list = {}
    for _, key in ipairs(sorted_names(f.series)) do
      local s = f.series[key]
      local item = { labels = parse_key(key) }
      if f.type == "histogram" then
        item.count, item.sum, item.buckets = s.count, s.sum, {}
        for i, le in ipairs(self.buckets) do item.buckets[num(le)] = s.counts[i] end
      else
        item.value = s.value
      end
      list[#list + 1] = item
    end
    out[name] = { type = f.type, help = f.help, series = list }
  end
  return out
end

-- m:get(name, labels) → the value of a counter/gauge series, or the count of
-- a histogram series (0 when absent).
function _M:get(name, labels)
  local f = self.families[name]
  if not f then return 0 end
  local s = f.series[series_key(f, labels)]
  if not s then return 0 end
  return s.value or s.count or 0
end

-- m:reset(): clears every series (families stay declared).
function _M:reset()
  self.rec = {}
  for _, f in pairs(self.families) do
    f.series = {}
    if #f.labels == 0 and f.type ~= "histogram" then f.series[""] = { labels = {}, value = 0 } end
  end
end

return _M
