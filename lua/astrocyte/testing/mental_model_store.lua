-- astrocyte.testing.mental_model_store: the MentalModelStore conformance
-- cases (spi.md §1.5 and §5.2): revisions, list filters, soft delete,
-- update_via_ops on a missing model, refresh merging source ids in order.
local common = require "astrocyte.testing.common"

local function model(id, extra)
  local m = { model_id = id, bank_id = "mm", title = "About " .. id, content = "Summary of " .. id,
              scope = "bank", source_ids = { "s1", "s2" }, kind = "general" }
  for k, v in pairs(extra or {}) do m[k] = v end
  return m
end

local cases = {
  common.spi_case("mental_model_stores"),

  { "list filters by scope and kind", function(t)
    t.call("upsert", model("a"), "mm")
    t.call("upsert", model("b", { scope = "person:alice", kind = "preference" }), "mm")
    t.call("upsert", model("c", { scope = "person:alice" }), "mm")
    local all = t.list(t.call("list", "mm"), "list")
    t.same({ "a", "b", "c" }, t.ids(all, "model_id"), "all models")
    for i, m in ipairs(all) do t.valid("MentalModel", m, "listed model " .. i) end
    t.same({ "b", "c" }, t.ids(t.call("list", "mm", { scope = "person:alice" }), "model_id"), "scope person:alice")
    t.same({ "b" }, t.ids(t.call("list", "mm", { kind = "preference" }), "model_id"), "kind preference")
    t.same({ "c" }, t.ids(t.call("list", "mm", { scope = "person:alice", kind = "general" }), "model_id"), "scope and kind")
    t.same({}, t.call("list", "other-bank"), "models of another bank")
  end },

  { "update_via_ops on a missing model returns nil", function(t)
    local rev = t.call("update_via_ops", "missing", "mm", { { op = "add_section", id = "x", content = "y" } })
    t.eq(nil, rev, "update_via_ops of a missing model")
  end },

  { "refresh merges new source ids, deduplicated, existing order kept", function(t)
    t.call("upsert", model("tea", { source_ids = { "a", "b" } }), "mm")
    local m = t.call("refresh", "tea", "mm", { "b", "c", "a", "d", "c" })
    t.ok(m ~= nil, "refresh returned nil for an existing model")
    t.valid("MentalModel", m, "refresh result")
    t.same({ "a", "b", "c", "d" }, m.source_ids, "source_ids after refresh")
    t.eq(2, m.revision, "revision after refresh")
    t.same({ "a", "b", "c", "d" }, t.call("get", "tea", "mm").source_ids, "stored source_ids after refresh")
    t.eq(nil, t.call("refresh", "missing", "mm", { "x" }), "refresh of a missing model")
  end },

  common.health_case(),
}
for i, c in ipairs(common.revision_cases {
  what = "model", upsert = "upsert", get = "get", list = "list", delete = "delete", bank = "mm",
  dto = "MentalModel", id = "tea", unknown = "coffee", make = model, content = "Summary of tea",
  source_ids = { "s1", "s2" }, returns = function(rev) return rev end,
  check = function(t, m) t.ok(m.refreshed_at ~= nil, "the store must set refreshed_at") end,
}) do table.insert(cases, 1 + i, c) end

return { title = "MentalModelStore", group = "mental_model_stores", cases = cases }
