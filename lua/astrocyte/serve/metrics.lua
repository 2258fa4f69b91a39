-- astrocyte.serve.metrics: the gateway's request counters and latency
-- histogram, kept in a lua_shared_dict so /metrics answers for all workers
-- whichever one serves the scrape (each worker's engine has its own
-- registry; per-worker numbers would jump between scrapes). Rendered with
-- the engine's Prometheus writer (astrocyte.observe.metrics), so names,
-- escaping and number formats match the engine's own families.
--   astrocyte_http_requests_total{route, method, status}
--   astrocyte_http_request_duration_seconds{route}  (histogram)
--   astrocyte_http_auth_failures_total{mode}
--   astrocyte_http_rate_limited_total{}
local metrics = require "astrocyte.observe.metrics"
local tonumber, ipairs, concat = tonumber, ipairs, table.concat

local _M = {}

local BUCKETS = metrics.BUCKETS
local SEP = "\31"   -- unit separator: cannot occur in a route, method or status

local function incr(dict, key, by)
  local _, err = dict:incr(key, by or 1, 0)
  return err == nil
end

-- record(dict, route, method, status, seconds): one finished request.
function _M.record(dict, route, method, status, seconds)
  incr(dict, concat({ "r", route, method, status }, SEP))
  incr(dict, "c" .. SEP .. route)
  incr(dict, "s" .. SEP .. route, seconds)
  for i, le in ipairs(BUCKETS) do
    if seconds <= le then incr(dict, concat({ "b", route, i }, SEP)) end
  end
end

function _M.auth_failed(dict, mode) incr(dict, "a" .. SEP .. mode) end
function _M.rate_limited(dict) incr(dict, "l") end

-- render(dict) → Prometheus text of the gateway families.
function _M.render(dict)
  local m = metrics.new()
  m.families = {}   -- only the gateway's families here, not the engine's
  m:counter("astrocyte_http_requests_total", "Gateway requests by route, method and status.", { "route", "method", "status" })
  m:histogram("astrocyte_http_request_duration_seconds", "Gateway request latency in seconds.", { "route" })
  m:counter("astrocyte_http_auth_failures_total", "Requests refused by authentication.", { "mode" })
  m:counter("astrocyte_http_rate_limited_total", "Requests refused by the per-principal rate limit.", {})
  local hist = {}
  for _, key in ipairs(dict:get_keys(0)) do
    local v = tonumber(dict:get(key)) or 0
    local p = {}
    for part in (key .. SEP):gmatch("(.-)" .. SEP) do p[#p + 1] = part end
    if p[1] == "r" then
      m:inc("astrocyte_http_requests_total", { route = p[2], method = p[3], status = p[4] }, v)
    elseif p[1] == "a" then
      m:inc("astrocyte_http_auth_failures_total", { mode = p[2] }, v)
    elseif p[1] == "l" then
      m:inc("astrocyte_http_rate_limited_total", nil, v)
    elseif p[1] == "c" or p[1] == "s" or p[1] == "b" then
      local h = hist[p[2]] or { counts = {} }
      hist[p[2]] = h
      if p[1] == "c" then h.count = v elseif p[1] == "s" then h.sum = v else h.counts[tonumber(p[3])] = v end
    end
  end
  -- Histogram series are filled in place (the registry keeps one per label set).
  local fam = m.families["astrocyte_http_request_duration_seconds"]
  for route, h in pairs(hist) do
    m:observe("astrocyte_http_request_duration_seconds", { route = route }, 0)
    for _, s in pairs(fam.series) do
      if s.key == 'route="' .. route .. '"' then   -- route names are plain words
        s.count, s.sum = h.count or 0, h.sum or 0
        for i = 1, #BUCKETS do s.counts[i] = h.counts[i] or 0 end
      end
    end
  end
  return m:render()
end

return _M
