-- astrocyte.providers.postgres.wiki: WikiStore (spi.md §1.4). wiki_pages
-- holds the current revision of each (bank_id, page_id); upserting an
-- existing page copies the current row to wiki_page_revisions (archived, not
-- deleted) and stores the new content as revision + 1, all in one
-- transaction. A revision bump is not idempotent, so the pool never retries
-- it after a connection lost during COMMIT (see pool.lua).
local util = require "astrocyte.util"
local common = require "astrocyte.providers.postgres.common"
local fmt = string.format

local _M = common.class("wiki", "wiki store", "wiki_store_config")

local COLS = "bank_id, page_id, kind, title, content, scope, source_ids, cross_links, revision, revised_at, tags, metadata"
local SELECT = "page_id, bank_id, kind, title, content, scope, source_ids::text AS source_ids, "
  .. "cross_links::text AS cross_links, revision, " .. common.ms("revised_at") .. ", tags::text AS tags, metadata::text AS metadata"

local function page_of(r)
  return { page_id = r.page_id, bank_id = r.bank_id, kind = r.kind, title = r.title, content = r.content,
           scope = r.scope, source_ids = common.jdecode(r.source_ids) or {},
           cross_links = common.jdecode(r.cross_links) or {}, revision = r.revision,
           revised_at = common.iso(r.revised_at), tags = common.jdecode(r.tags), metadata = common.jdecode(r.metadata) }
end

-- The current and archived rows as Store:_by reads them.
local PAGES = { tbl = "wiki_pages", cols = SELECT, of = page_of }
local REVISIONS = { tbl = "wiki_page_revisions", cols = SELECT, of = page_of }

-- WikiStore.upsert_page: returns the page_id; the store assigns revision
-- (1, then previous + 1) and revised_at (now unless given).
function _M:upsert_page(page, bank_id)
  local dto, verr = self:_input(page, bank_id, "WikiPage", "page")
  if not dto then return nil, verr end
  local revised = page.revised_at and common.time_param(dto.revised_at, "revised_at") or util.iso(util.now_ms())
  local S = self.S
  return self:_tx("upsert_page", bank_id, function(q)
    local rev, rerr = common.next_revision(q, S, "wiki_pages", "page_id", COLS, bank_id, dto.page_id)
    if not rev then return nil, rerr end
    local w, werr = q(fmt([[INSERT INTO %s.wiki_pages (%s) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9,
        $10::timestamptz, $11::jsonb, $12::jsonb)
      ON CONFLICT (bank_id, page_id) DO UPDATE SET kind = excluded.kind, title = excluded.title,
        content = excluded.content, scope = excluded.scope, source_ids = excluded.source_ids,
        cross_links = excluded.cross_links, revision = excluded.revision, revised_at = excluded.revised_at,
        tags = excluded.tags, metadata = excluded.metadata]], S, COLS),
      { bank_id, dto.page_id, dto.kind, dto.title, dto.content, dto.scope, common.jlist(dto.source_ids),
        common.jlist(dto.cross_links), rev, revised, dto.tags and common.jlist(dto.tags) or nil,
        common.jmap(dto.metadata), n = 12 })
    if not w then return nil, werr end
    return dto.page_id
  end)
end

-- WikiStore.get_page: the current revision, or nil.
function _M:get_page(page_id, bank_id)
  return self:_by(PAGES, "page_id", page_id, bank_id, "get_page")
end

-- WikiStore.list_pages: current revisions, exact scope / kind filters.
function _M:list_pages(bank_id, scope, kind)
  local p = common.params(bank_id)
  local where = "bank_id = $1"
  if scope ~= nil then where = where .. " AND scope = " .. p:add(scope) end
  if kind ~= nil then where = where .. " AND kind = " .. p:add(kind) end
  return self:_rows(fmt("SELECT %s FROM %s.wiki_pages WHERE %s ORDER BY page_id", SELECT, self.S, where), p,
    page_of, "list_pages", bank_id)
end

-- WikiStore.delete_page: true if the page existed; drops its archive too.
function _M:delete_page(page_id, bank_id)
  local S = self.S
  local n, err = self:_tx("delete_page", bank_id, function(q)
    local a, aerr = q(fmt("DELETE FROM %s.wiki_page_revisions WHERE bank_id = $1 AND page_id = $2", S), { bank_id, page_id })
    if not a then return nil, aerr end
    local d, derr = q(fmt("DELETE FROM %s.wiki_pages WHERE bank_id = $1 AND page_id = $2", S), { bank_id, page_id })
    if not d then return nil, derr end
    return d.cmd_tuples
  end)
  if not n then return nil, err end
  return n > 0
end

-- Extension: archived revisions of a page, oldest first.
function _M:list_revisions(page_id, bank_id)
  return self:_by(REVISIONS, "page_id", page_id, bank_id, "list_revisions", " ORDER BY revision", true)
end

return _M
