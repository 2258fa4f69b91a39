-- astrocyte.providers.in_memory.wiki: the ephemeral WikiStore (spi.md §1.4).
-- Each bank maps page_id → current revision; upserting an existing page
-- archives the current revision (kept, not deleted) and stores the new one
-- as revision + 1. delete_page drops the page and its archive.
local types = require "astrocyte.types"
local revisions = require "astrocyte.store.revisions"
local util = require "astrocyte.util"

local _M = revisions.class()

-- WikiStore.upsert_page: returns the page_id. The store assigns revision
-- (1, then previous + 1) and revised_at (now unless given).
function _M:upsert_page(page, bank_id)
  local input, err = revisions.input("in_memory wiki", "page", page, bank_id)
  if not input then return nil, err end
  local dto; dto, err = types.WikiPage(input)
  if not dto then return nil, "in_memory wiki: " .. err.message end
  dto.revised_at = page.revised_at and dto.revised_at or util.iso(util.now_ms())
  revisions.put(revisions.bank(self, bank_id), dto.page_id, dto)
  return dto.page_id
end

-- WikiStore.get_page: the current revision, or nil.
function _M:get_page(page_id, bank_id)
  local b = self.banks[bank_id]
  local p = b and b.current[page_id]
  return p and util.deepcopy(p) or nil
end

-- WikiStore.list_pages: current revisions, filtered by exact scope / kind.
function _M:list_pages(bank_id, scope, kind)
  return revisions.list(self, bank_id, scope, kind, util.deepcopy, "page_id")
end

-- WikiStore.delete_page: true if the page existed.
function _M:delete_page(page_id, bank_id)
  local b = self.banks[bank_id]
  if not b or not b.current[page_id] then return false end
  b.current[page_id] = nil
  b.archive[page_id] = nil
  return true
end

-- Extension: archived (previous) revisions of a page, oldest first.
function _M:list_revisions(page_id, bank_id)
  return revisions.archived(self, bank_id, page_id, util.deepcopy)
end

function _M:health()
  return { healthy = true, message = "in_memory wiki: ok" }
end

return _M
