-- astrocyte.testing.source_store: the SourceStore conformance cases (spi.md
-- §1.6 and §5.2): dedup on (bank_id, content_hash) for documents and chunks,
-- list_documents newest first, list_chunks by chunk_index, soft delete.
local common = require "astrocyte.testing.common"

local function doc(id, hash, extra)
  local d = { id = id, bank_id = "src", title = "Doc " .. id, source_uri = "file:///" .. id .. ".md",
              content_hash = hash, content_type = "text/markdown" }
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

local function chunk(id, doc_id, index, hash, bank)
  return { id = id, bank_id = bank or "src", document_id = doc_id, chunk_index = index,
           text = "chunk " .. id, content_hash = hash }
end

local cases = {
  common.spi_case("source_stores"),

  { "store_document then get_document round-trips", function(t)
    t.eq("d1", t.call("store_document", doc("d1", "h1")), "store_document id")
    local d = t.call("get_document", "d1", "src")
    t.ok(d ~= nil, "get_document returned nil after store_document")
    t.valid("SourceDocument", d, "get_document")
    t.eq("Doc d1", d.title, "title"); t.eq("h1", d.content_hash, "content_hash")
    t.eq(nil, t.call("get_document", "d1", "other-bank"), "get_document in another bank")
    t.eq(nil, t.call("get_document", "missing", "src"), "get_document of an unknown id")
  end },

  { "store_document deduplicates on (bank_id, content_hash)", function(t)
    t.call("store_document", doc("d1", "same"))
    t.eq("d1", t.call("store_document", doc("d2", "same")), "id returned for a duplicate hash")
    t.eq(nil, t.call("get_document", "d2", "src"), "the duplicate must not be stored under its own id")
    t.eq("d3", t.call("store_document", doc("d3", "same", { bank_id = "other" })), "same hash in another bank")
    local found = t.call("find_document_by_hash", "same", "src")
    t.eq("d1", found and found.id, "find_document_by_hash")
    t.eq(nil, t.call("find_document_by_hash", "nope", "src"), "find_document_by_hash of an unknown hash")
  end },

  { "list_documents returns the newest first and respects limit", function(t)
    t.call("store_document", doc("old", "h1", { created_at = "2024-01-01T00:00:00Z" }))
    t.call("store_document", doc("new", "h2", { created_at = "2024-03-01T00:00:00Z" }))
    t.call("store_document", doc("mid", "h3", { created_at = "2024-02-01T00:00:00Z" }))
    local l = t.list(t.call("list_documents", "src"), "list_documents")
    t.same({ "new", "mid", "old" }, { l[1] and l[1].id, l[2] and l[2].id, l[3] and l[3].id }, "order of list_documents")
    t.eq(2, #t.call("list_documents", "src", { limit = 2 }), "documents with limit 2")
    t.same({}, t.call("list_documents", "other-bank"), "documents of another bank")
  end },

  { "store_chunks returns ids in input order and deduplicates on content_hash", function(t)
    t.call("store_document", doc("d1", "h1"))
    local ids = t.call("store_chunks", { chunk("c2", "d1", 1, "ch2"), chunk("c1", "d1", 0, "ch1") })
    t.same({ "c2", "c1" }, ids, "store_chunks ids")
    ids = t.call("store_chunks", { chunk("c9", "d1", 2, "ch1"), chunk("c3", "d1", 2, "ch3") })
    t.same({ "c1", "c3" }, ids, "ids when the first chunk duplicates ch1")
    local c = t.call("get_chunk", "c1", "src")
    t.valid("SourceChunk", c, "get_chunk")
    t.eq("d1", c.document_id, "document_id")
    t.eq("c3", (t.call("find_chunk_by_hash", "ch3", "src") or {}).id, "find_chunk_by_hash")
    t.eq(nil, t.call("get_chunk", "c1", "other-bank"), "get_chunk in another bank")
  end },

  { "list_chunks orders by chunk_index", function(t)
    t.call("store_document", doc("d1", "h1"))
    t.call("store_chunks", { chunk("k2", "d1", 2, "x2"), chunk("k0", "d1", 0, "x0"), chunk("k1", "d1", 1, "x1") })
    local l = t.list(t.call("list_chunks", "d1", "src"), "list_chunks")
    t.same({ "k0", "k1", "k2" }, { l[1] and l[1].id, l[2] and l[2].id, l[3] and l[3].id }, "chunk order")
  end },

  { "delete_document is a soft delete that hides the document and its chunks", function(t)
    t.call("store_document", doc("d1", "h1"))
    t.call("store_chunks", { chunk("k0", "d1", 0, "x0") })
    t.eq(true, t.call("delete_document", "d1", "src"), "first delete_document")
    t.eq(false, t.call("delete_document", "d1", "src"), "second delete_document")
    t.eq(nil, t.call("get_document", "d1", "src"), "get_document after delete")
    t.same({}, t.call("list_documents", "src"), "list_documents after delete")
    t.same({}, t.call("list_chunks", "d1", "src"), "list_chunks after delete")
    t.eq(nil, t.call("get_chunk", "k0", "src"), "get_chunk after delete")
  end },

  common.health_case(),
}

return { title = "SourceStore", group = "source_stores", cases = cases }
