-- astrocyte.pipeline.entities: entity extraction for the graph channel.
-- With an LLM configured: the reference prompt asking for a JSON array of
-- {name, entity_type, aliases}, parsed tolerantly (code fences, wrapper
-- objects, trailing junk). Without one, or when the LLM fails: an offline
-- extractor — capitalized name spans, emails, URLs, @handles, dates and
-- numbers with units. Entity ids are stable per name ("ent:" .. normalized
-- name), so the same entity links memories across retains.
local util = require "astrocyte.util"
local lower, gsub, find, sub, ipairs, type = string.lower, string.gsub, string.find, string.sub, ipairs, type

local _M = {}

_M.MAX_TEXT = 2000

-- Capitalized words that start sentences or questions but name nothing.
local NOT_NAMES = {}
for w in ([[The A An And Or But If Then So Yes No Not It Its This That These Those There Here
  I I'm I've I'll I'd We You He She They Me My Our Your His Her Their Them Us What Who Whom Whose
  When Where Why How Which Is Are Was Were Be Been Do Does Did Have Has Had Can Could Would Should
  Will Shall May Might Must Let Also Just Oh Ok Okay Hey Hi Hello Thanks Thank Well Maybe Sure
  After Before During Since Until While On In At For From To Of With By About As Into Over Under
  Today Yesterday Tomorrow Tonight Last Next Every Each All Some Any Many Much Most More Less
  Monday Tuesday Wednesday Thursday Friday Saturday Sunday Please Sorry Great Good Nice Wow
  One Two Three First Second Third Once Still Even Now Later Soon Again Never Always Sometimes]]):gmatch("%S+") do
  NOT_NAMES[w] = true
end

-- Normalized key of an entity name.
function _M.key(name)
  return lower((gsub(gsub(name, "[%s_]+", " "), "^%s*(.-)%s*$", "%1")))
end

-- Stable entity id for a name (of its key, when that is at hand).
local function id_of_key(k) return "ent:" .. k end
function _M.id_of(name)
  return id_of_key(_M.key(name))
end

local function add(out, seen, name, etype, kind)
  name = gsub(name, "[%.,;:!%?'\"%)]+$", "")
  if #name < 2 then return end
  local k = _M.key(name)
  if seen[k] then return end
  seen[k] = true
  out[#out + 1] = { id = id_of_key(k), name = name, entity_type = etype, aliases = {},
                    metadata = { kind = kind } }
end

-- The units a number may carry to be a quantity ("5 km", "3GB").
local UNITS = { km = 1, m = 1, cm = 1, mm = 1, kg = 1, g = 1, mb = 1, gb = 1, tb = 1, kb = 1, ms = 1, s = 1,
  h = 1, min = 1, mi = 1, miles = 1, lbs = 1, usd = 1, eur = 1, gbp = 1, hz = 1, ghz = 1,
  mhz = 1, kw = 1, w = 1, l = 1, ml = 1, qps = 1, rps = 1 }

-- Offline extraction: returns an array of Entity tables. Each pattern
-- runs only when the text has the character every match of it needs (a
-- plain find is far cheaper than a pattern scan that finds nothing).
function _M.offline(text)
  local out, seen = {}, {}
  if #text > _M.MAX_TEXT * 4 then text = sub(text, 1, _M.MAX_TEXT * 4) end
  local at, digit = find(text, "@", 1, true), find(text, "%d")
  if at then
    for e in text:gmatch("[%w%.%%%+%-_]+@[%w%-]+%.[%w%.%-]+") do add(out, seen, e, "OTHER", "email") end
  end
  if find(text, "://", 1, true) then
    for u in text:gmatch("https?://[%w%-%._~:/%?#%[%]@!%$&'%(%)%*%+,;=%%]+") do add(out, seen, u, "OTHER", "url") end
  end
  if at then
    for h in text:gmatch("%f[@%w]@([%a_][%w_]+)") do add(out, seen, "@" .. h, "PERSON", "handle") end
  end
  if digit then
    if find(text, "-", 1, true) then
      for d in text:gmatch("%f[%d]%d%d%d%d%-%d%d%-%d%d%f[%D]") do add(out, seen, d, "EVENT", "date") end
    end
    -- find loops rather than gmatch (no iterator state allocated per
    -- text); the patterns cannot match the empty string, so they visit
    -- the same matches
    local init = 1
    while true do
      local _, e, mon, day, yr = find(text, "(%u%l+)%s+(%d%d?),?%s+(%d%d%d%d)", init)
      if not e then break end
      add(out, seen, mon .. " " .. day .. ", " .. yr, "EVENT", "date")
      init = e + 1
    end
    if find(text, "%", 1, true) then
      for q in text:gmatch("%f[%w%$]%$?%d[%d,%.]*%s?%%") do add(out, seen, q, "OTHER", "quantity") end
    end
    init = 1
    while true do
      local _, e, num, unit = find(text, "%f[%d](%d[%d,%.]*)%s?([a-zA-Z]+)", init)
      if not e then break end
      if UNITS[lower(unit)] then add(out, seen, num .. " " .. unit, "OTHER", "quantity") end
      init = e + 1
    end
    if find(text, "$", 1, true) then
      for amount in text:gmatch("%$%d[%d,%.]*[kmbKMB]?") do add(out, seen, amount, "OTHER", "quantity") end
    end
  end
  -- Capitalized spans: runs of Capitalized words (allowing inner "of", "de",
  -- "van"...); a lone sentence-opening common word is not a name.
  local pos = 1
  while true do
    local s, e = find(text, "%u[%w'’%-]*", pos)
    if not s then break end
    local stop = e
    local words = { sub(text, s, e) }
    while true do
      local s2, e2 = find(text, "^%s+%u[%w'’%-]*", stop + 1)
      if not s2 then
        local s3, e3 = find(text, "^%s+[od][fe]%s+%u[%w'’%-]*", stop + 1)
        if not s3 then break end
        s2, e2 = s3, e3
      end
      words[#words + 1] = (gsub(sub(text, s2, e2), "^%s+", ""))
      stop = e2
    end
    while #words > 0 and NOT_NAMES[gsub(words[1], "['’]s$", "")] do table.remove(words, 1) end
    if #words > 0 then
      local name = table.concat(words, " ")
      name = gsub(name, "['’]s$", "")
      if not NOT_NAMES[name] and not name:match("^%u+$") or (name:match("^%u+$") and #name >= 2 and #name <= 6) then
        if not name:match("^%u%l*$") or #name > 1 then add(out, seen, name, "OTHER", "name") end
      end
    end
    pos = stop + 1
  end
  return out
end

-- Names only (the capitalized spans), lowercased: used to match queries.
function _M.names(text)
  local out = {}
  for _, e in ipairs(_M.offline(text)) do
    if e.metadata.kind == "name" or e.metadata.kind == "handle" then out[#out + 1] = e.name end
  end
  return out
end

_M.SYSTEM_PROMPT = [[Extract the named entities from the text in <content>.
Return a JSON array of objects {"name": string, "entity_type": one of PERSON, ORG, LOCATION, PRODUCT, EVENT, CONCEPT, OTHER, "aliases": array of strings (empty if none)}.
Return [] if there are no entities. Return JSON only, no prose.]]

-- Tolerant parse of an LLM reply into entities (nil when nothing usable).
function _M.parse_llm(reply)
  if type(reply) ~= "string" then return nil end
  local body = reply
  local fs = find(body, "```", 1, true)
  if fs then
    local rest = sub(body, fs + 3)
    rest = gsub(rest, "^[jJ][sS][oO][nN]", "")
    local fe = find(rest, "```", 1, true)
    if not fe then return {} end
    body = sub(rest, 1, fe - 1)
  end
  local start = find(body, "[%[{]")
  if not start then return nil end
  body = sub(body, start)
  -- Decode one JSON value, trimming trailing junk until it parses.
  local val
  for cut = #body, 1, -1 do
    local ch = sub(body, cut, cut)
    if ch == "]" or ch == "}" then
      val = util.json.decode(sub(body, 1, cut))
      if val ~= nil then break end
    end
  end
  if type(val) ~= "table" then return nil end
  if not util.is_array(val) then
    local list
    for _, k in ipairs({ "entities", "results", "items", "data" }) do
      if type(val[k]) == "table" then list = val[k]; break end
    end
    val = list or {}
  end
  local out, seen = {}, {}
  for _, item in ipairs(val) do
    if type(item) == "table" and type(item.name) == "string" and item.name ~= "" then
      local k = _M.key(item.name)
      if not seen[k] then
        seen[k] = true
        local aliases = {}
        if type(item.aliases) == "table" then
          for _, a in ipairs(item.aliases) do if type(a) == "string" then aliases[#aliases + 1] = a end end
        end
        out[#out + 1] = { id = _M.id_of(item.name), name = item.name,
                          entity_type = type(item.entity_type) == "string" and item.entity_type or "OTHER",
                          aliases = aliases, metadata = { kind = "llm" } }
      end
    end
  end
  return out
end

-- Extracts entities from text: LLM first when `llm` can complete, offline
-- otherwise or on any LLM failure. Returns entities, source ("llm"|"offline").
function _M.extract(text, llm)
  if llm and type(llm.complete) == "function" then
    local ok, res = pcall(llm.complete, llm, {
      { role = "system", content = _M.SYSTEM_PROMPT },
      { role = "user", content = "<content>\n" .. sub(text, 1, _M.MAX_TEXT) .. "\n</content>" },
    }, nil, 1024, 0.0)
    if ok and type(res) == "table" then
      local ents = _M.parse_llm(res.text)
      if ents then return ents, "llm" end
    end
  end
  return _M.offline(text), "offline"
end

return _M
