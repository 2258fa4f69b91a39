-- astrocyte.store.mental_model_doc: the structured document of a mental model and
-- its delta operations (MentalModelStore.update_via_ops), shared by every
-- MentalModelStore so they agree exactly. A document is {sections = {{id,
-- title?, content}}}; ops are {op = "add_section" | "replace_section" |
-- "remove_section", id, title?, content?}. Invalid ops are skipped with a
-- reason and never make the document worse.
local util = require "astrocyte.util"
local concat, ipairs, type, tostring = table.concat, ipairs, type, tostring

local _M = {}

-- Markdown rendering of a document: "## title\n\ncontent" per section.
function _M.render(doc)
  local parts = {}
  for _, s in ipairs(doc.sections) do
    parts[#parts + 1] = (s.title and s.title ~= "" and ("## " .. s.title .. "\n\n") or "") .. (s.content or "")
  end
  return concat(parts, "\n\n")
end

-- Applies one op to doc; returns nil on success or why it was skipped.
function _M.apply_op(doc, op)
  if type(op) ~= "table" then return "op is not a table" end
  if type(op.id) ~= "string" or op.id == "" then return "op has no section id" end
  local idx, sec
  for i, s in ipairs(doc.sections) do if s.id == op.id then idx, sec = i, s; break end end
  if op.op == "add_section" then
    if idx then return "section '" .. op.id .. "' already exists" end
    if type(op.content) ~= "string" then return "add_section needs content" end
    doc.sections[#doc.sections + 1] = { id = op.id, title = type(op.title) == "string" and op.title or nil, content = op.content }
  elseif op.op == "replace_section" then
    if not idx then return "no section '" .. op.id .. "'" end
    if op.content == nil and op.title == nil then return "replace_section needs content or title" end
    if op.content ~= nil and type(op.content) ~= "string" then return "content must be a string" end
    if op.title ~= nil and type(op.title) ~= "string" then return "title must be a string" end
    sec.content = op.content or sec.content
    sec.title = op.title or sec.title
  elseif op.op == "remove_section" then
    if not idx then return "no section '" .. op.id .. "'" end
    table.remove(doc.sections, idx)
  else
    return "unknown op '" .. tostring(op.op) .. "'"
  end
end

-- Applies ops (an array) to a copy of doc; returns the new document and the
-- summary {applied = [{index, op, id}], skipped = [{index, op, reason}],
-- changed}.
function _M.apply_ops(doc, ops)
  doc = util.deepcopy(doc) or {}
  if type(doc.sections) ~= "table" then doc.sections = {} end
  local applied, skipped = {}, {}
  for i, op in ipairs(ops) do
    local why = _M.apply_op(doc, op)
    if why then
      skipped[#skipped + 1] = { index = i, op = type(op) == "table" and op.op or nil, reason = why }
    else
      applied[#applied + 1] = { index = i, op = op.op, id = op.id }
    end
  end
  return doc, { applied = applied, skipped = skipped, changed = #applied > 0 }
end

-- The source ids of refresh(): ids then new_ids, deduplicated, in order.
function _M.merge_ids(ids, new_ids)
  local out, seen = {}, {}
  for _, list in ipairs({ ids or {}, new_ids or {} }) do
    for _, id in ipairs(list) do
      if not seen[id] then seen[id] = true; out[#out + 1] = id end
    end
  end
  return out
end

return _M
