-- astrocyte.testing.document_store: the DocumentStore conformance cases
-- (spi.md §1.3 and §5.2): round trip, bank scoping of get_document, and
-- full-text search (exact keyword found, BM25 score order, limit, tag and
-- metadata filters, bank isolation).
local common = require "astrocyte.testing.common"

local DOCS = {
  { id = "d1", text = "The quick brown fox jumps over the lazy dog", tags = { "animals" }, metadata = { lang = "en" } },
  { id = "d2", text = "Postgres stores embeddings with the pgvector extension", tags = { "db" }, metadata = { lang = "en" } },
  { id = "d3", text = "Der schnelle braune Fuchs springt", tags = { "animals" }, metadata = { lang = "de" } },
  { id = "d4", text = "A fox and another fox met a third fox near the den", tags = { "animals", "story" }, metadata = { lang = "en" } },
  { id = "d5", text = "Redis keeps counters for rate limiting", tags = { "db" }, metadata = { lang = "en" } },
}

local function load(t, bank)
  for _, d in ipairs(DOCS) do
    local copy = { id = d.id, text = d.text, tags = d.tags, metadata = d.metadata }
    local id = t.call("store_document", copy, bank or "docs")
    t.eq(d.id, id, "store_document id")
  end
end

local function search(t, q, bank, limit, filters)
  return t.list(t.call("search_fulltext", q, bank or "docs", limit or 10, filters), "search_fulltext result")
end

local cases = {
  common.spi_case("document_stores"),

  { "store_document then get_document round-trips the document", function(t)
    load(t)
    local d = t.call("get_document", "d1", "docs")
    t.ok(d ~= nil, "get_document(d1) returned nil after store_document")
    t.valid("Document", d, "get_document(d1)")
    t.eq("d1", d.id, "id"); t.eq(DOCS[1].text, d.text, "text")
    t.same({ "animals" }, d.tags, "tags"); t.eq("en", d.metadata and d.metadata.lang, "metadata.lang")
  end },

  { "get_document of an unknown id or in another bank returns nil", function(t)
    load(t)
    t.eq(nil, t.call("get_document", "missing", "docs"), "get_document of an unknown id")
    t.eq(nil, t.call("get_document", "d1", "other-bank"), "get_document(d1) in another bank")
  end },

  { "search_fulltext finds an exact keyword, best score first", function(t)
    load(t)
    local hits = search(t, "pgvector", "docs", 10)
    t.ok(#hits >= 1, "search for 'pgvector' found nothing")
    t.eq("d2", hits[1].document_id, "best hit for 'pgvector'")
    hits = search(t, "fox", "docs", 10)
    t.same({ "d1", "d4" }, t.ids(hits, "document_id"), "documents containing 'fox'")
    for i, h in ipairs(hits) do
      t.valid("DocumentHit", h, "hit " .. i)
      if i > 1 then
        t.ok(hits[i - 1].score >= h.score, "hits not sorted by score descending: %s (%s) before %s (%s)",
             hits[i - 1].document_id, tostring(hits[i - 1].score), h.document_id, tostring(h.score))
      end
    end
    t.eq("d4", hits[1].document_id, "best hit for 'fox' (three occurrences beat one)")
  end },

  { "search_fulltext respects limit", function(t)
    load(t)
    t.eq(1, #search(t, "fox", "docs", 1), "hits for 'fox' with limit 1")
  end },

  { "search_fulltext honours tag filters", function(t)
    load(t)
    t.same({ "d4" }, t.ids(search(t, "fox", "docs", 10, { tags = { "story" } }), "document_id"), "'fox' with tags {story}")
    t.same({}, search(t, "fox", "docs", 10, { tags = { "db" } }), "'fox' with tags {db}")
  end },

  { "search_fulltext honours metadata filters", function(t)
    load(t)
    t.same({}, search(t, "Fuchs", "docs", 10, { metadata_filters = { lang = "en" } }), "'Fuchs' with lang=en")
    t.same({ "d3" }, t.ids(search(t, "Fuchs", "docs", 10, { metadata_filters = { lang = "de" } }), "document_id"),
           "'Fuchs' with lang=de")
  end },

  { "search_fulltext never returns another bank's documents", function(t)
    load(t, "docs")
    t.call("store_document", { id = "x1", text = "a lonely fox in bank b" }, "bank-b")
    t.same({ "x1" }, t.ids(search(t, "fox", "bank-b", 10), "document_id"), "'fox' in bank-b")
    t.same({}, search(t, "fox", "no-such-bank", 10), "'fox' in an unknown bank")
  end },

  { "store_document overwrites a document with the same id", function(t)
    t.call("store_document", { id = "o", text = "original wording here" }, "docs")
    t.call("store_document", { id = "o", text = "replacement wording here" }, "docs")
    t.eq("replacement wording here", t.call("get_document", "o", "docs").text, "text after re-store")
    t.same({}, search(t, "original", "docs", 10), "search for a word only in the old text")
  end },

  common.health_case(),
}

return { title = "DocumentStore", group = "document_stores", cases = cases }
