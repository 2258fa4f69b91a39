-- astrocyte.testing.wiki_store: the WikiStore conformance cases (spi.md §1.4
-- and §5.2): revisions (1 → 2, previous archived when the store exposes
-- list_revisions), get/list with scope and kind filters, delete true then
-- false, bank scoping.
local common = require "astrocyte.testing.common"

local function page(id, extra)
  local p = { page_id = id, bank_id = "w", kind = "topic", title = "Title of " .. id,
              content = "# " .. id .. "\n\nbody", scope = "bank", source_ids = { "m1" }, cross_links = {} }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

local cases = {
  common.spi_case("wiki_stores"),

  { "list_pages filters by scope and kind", function(t)
    t.call("upsert_page", page("topic:a"), "w")
    t.call("upsert_page", page("entity:alice", { kind = "entity", scope = "person:alice" }), "w")
    t.call("upsert_page", page("concept:c", { kind = "concept" }), "w")
    local all = t.list(t.call("list_pages", "w"), "list_pages")
    t.same({ "concept:c", "entity:alice", "topic:a" }, t.ids(all, "page_id"), "all pages")
    for i, p in ipairs(all) do t.valid("WikiPage", p, "listed page " .. i) end
    t.same({ "concept:c", "topic:a" }, t.ids(t.call("list_pages", "w", "bank"), "page_id"), "pages with scope 'bank'")
    t.same({ "entity:alice" }, t.ids(t.call("list_pages", "w", nil, "entity"), "page_id"), "pages of kind 'entity'")
    t.same({}, t.call("list_pages", "w", "bank", "entity"), "scope 'bank' and kind 'entity'")
    t.same({}, t.call("list_pages", "other-bank"), "pages of another bank")
  end },

  common.health_case(),
}
for i, c in ipairs(common.revision_cases {
  what = "page", upsert = "upsert_page", get = "get_page", list = "list_pages", delete = "delete_page",
  dto = "WikiPage", bank = "w", id = "topic:tea", unknown = "topic:coffee", make = page,
  content = "# topic:tea\n\nbody", source_ids = { "m1" }, returns = function(_, id) return id end,
  check = function(t, p)
    t.eq("Title of topic:tea", p.title, "title"); t.eq("topic", p.kind, "kind"); t.eq("bank", p.scope, "scope")
  end,
}) do table.insert(cases, 1 + i, c) end

return { title = "WikiStore", group = "wiki_stores", cases = cases }
