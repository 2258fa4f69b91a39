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

  { "upsert_page then get_page returns revision 1", function(t)
    t.eq("topic:tea", t.call("upsert_page", page("topic:tea"), "w"), "upsert_page id")
    local p = t.call("get_page", "topic:tea", "w")
    t.ok(p ~= nil, "get_page returned nil after upsert_page")
    t.valid("WikiPage", p, "get_page")
    t.eq(1, p.revision, "revision of a new page")
    t.eq("Title of topic:tea", p.title, "title"); t.eq("topic", p.kind, "kind"); t.eq("bank", p.scope, "scope")
    t.same({ "m1" }, p.source_ids, "source_ids")
  end },

  { "upsert_page of an existing page bumps the revision and replaces content", function(t)
    t.call("upsert_page", page("topic:tea"), "w")
    t.call("upsert_page", page("topic:tea", { content = "new body" }), "w")
    local p = t.call("get_page", "topic:tea", "w")
    t.eq(2, p.revision, "revision after the second upsert")
    t.eq("new body", p.content, "content after the second upsert")
    if t.has("list_revisions") then
      local old = t.call("list_revisions", "topic:tea", "w")
      t.eq(1, #old, "archived revisions")
      t.eq(1, old[1].revision, "archived revision number")
      t.eq("# topic:tea\n\nbody", old[1].content, "archived content")
    end
  end },

  { "get_page of an unknown page or in another bank returns nil", function(t)
    t.call("upsert_page", page("topic:tea"), "w")
    t.eq(nil, t.call("get_page", "topic:coffee", "w"), "get_page of an unknown page")
    t.eq(nil, t.call("get_page", "topic:tea", "other-bank"), "get_page in another bank")
  end },

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

  { "delete_page returns true, then false, and the page is gone", function(t)
    t.call("upsert_page", page("topic:tea"), "w")
    t.eq(false, t.call("delete_page", "topic:tea", "other-bank"), "delete_page in another bank")
    t.eq(true, t.call("delete_page", "topic:tea", "w"), "first delete_page")
    t.eq(false, t.call("delete_page", "topic:tea", "w"), "second delete_page")
    t.eq(nil, t.call("get_page", "topic:tea", "w"), "get_page after delete")
    t.same({}, t.call("list_pages", "w"), "list_pages after delete")
  end },

  common.health_case(),
}

return { title = "WikiStore", group = "wiki_stores", cases = cases }
