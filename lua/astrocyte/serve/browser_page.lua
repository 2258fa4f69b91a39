-- astrocyte.serve.browser_page: the memory browser the gateway serves at
-- GET /ui — one self-contained HTML page (no external assets: it must work
-- on an offline host and cannot leak what it shows to a CDN). It talks to
-- the gateway's JSON routes with the caller's own credentials, so it sees
-- exactly what that principal may see:
--   GET  /v1/banks                          banks with memory counts
--   POST /v1/recall  {query, bank_id, max_results}   hits + trace.channel_ranks
--   POST /v1/memory  {bank_id, memory_id}   one memory: tags, metadata, entities, history
--   POST /v1/forget  {bank_id, memory_ids}  after an explicit confirmation
-- Every value from the server is put in the page with textContent, never
-- as HTML. Elements carry data-testid names for the browser spec.
return [==[<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Astrocyte memory browser</title>
<link rel="icon" href="data:,">
<style>
  :root { --fg:#1d2330; --muted:#667085; --line:#d9dde5; --accent:#2f5bd3; --bad:#b42318; --bg:#f7f8fa; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
  header { display:flex; gap:16px; align-items:center; padding:10px 16px; background:#fff; border-bottom:1px solid var(--line); flex-wrap:wrap; }
  header h1 { font-size:16px; margin:0 12px 0 0; }
  header label { color:var(--muted); font-size:12px; display:flex; gap:6px; align-items:center; }
  input, button { font:inherit; }
  input[type=text], input[type=password], input[type=search] { border:1px solid var(--line); border-radius:6px; padding:5px 8px; background:#fff; }
  button { border:1px solid var(--line); background:#fff; border-radius:6px; padding:5px 10px; cursor:pointer; }
  button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
  button.danger { background:var(--bad); color:#fff; border-color:var(--bad); }
  main { display:grid; grid-template-columns: 220px 1fr 380px; gap:0; min-height: calc(100vh - 52px); }
  nav, section, aside { padding:12px 16px; }
  nav { border-right:1px solid var(--line); background:#fff; }
  aside { border-left:1px solid var(--line); background:#fff; }
  nav ul { list-style:none; margin:0; padding:0; }
  nav li button { width:100%; display:flex; justify-content:space-between; border:0; border-radius:6px; padding:6px 8px; text-align:left; }
  nav li button.active { background:#e8eefc; color:var(--accent); font-weight:600; }
  .count { color:var(--muted); font-variant-numeric: tabular-nums; }
  h2 { font-size:13px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); margin:6px 0 10px; }
  form.search { display:flex; gap:8px; margin-bottom:12px; }
  form.search input { flex:1; }
  ol.hits { list-style:none; margin:0; padding:0; }
  ol.hits li { background:#fff; border:1px solid var(--line); border-radius:8px; padding:8px 10px; margin-bottom:8px; cursor:pointer; }
  ol.hits li.open { border-color:var(--accent); }
  .meta { color:var(--muted); font-size:12px; display:flex; gap:8px; flex-wrap:wrap; align-items:center; }
  .score { font-variant-numeric: tabular-nums; font-weight:600; color:var(--fg); }
  .chip { display:inline-block; border:1px solid var(--line); border-radius:999px; padding:0 7px; font-size:11px; color:var(--fg); background:#f2f4f7; }
  .error { background:#fef3f2; color:var(--bad); border:1px solid #fecdca; border-radius:6px; padding:6px 10px; margin:0 0 10px; }
  .note { color:var(--muted); }
  dl { display:grid; grid-template-columns: 110px 1fr; gap:4px 10px; margin:0 0 12px; }
  dt { color:var(--muted); }
  dd { margin:0; word-break:break-word; }
  .text { white-space:pre-wrap; background:var(--bg); border-radius:6px; padding:8px; margin:0 0 12px; }
  table { border-collapse:collapse; width:100%; margin-bottom:12px; }
  td { border-top:1px solid var(--line); padding:3px 4px; vertical-align:top; word-break:break-word; }
  .confirm { border:1px solid #fecdca; background:#fef3f2; border-radius:8px; padding:8px; margin-top:8px; }
  [hidden] { display:none !important; }
</style>
</head>
<body>
<header>
  <h1>Astrocyte memory browser</h1>
  <label>principal <input type="text" id="principal" data-testid="principal" placeholder="X-Astrocyte-Principal" size="16"></label>
  <label>bearer token <input type="password" id="token" data-testid="token" placeholder="JWT" size="16"></label>
  <label>API key <input type="password" id="apikey" data-testid="apikey" placeholder="X-Api-Key" size="12"></label>
  <button id="connect" data-testid="connect">Use</button>
</header>
<main>
  <nav>
    <h2>Banks</h2>
    <p class="error" id="banks-error" data-testid="banks-error" hidden></p>
    <ul id="banks" data-testid="banks"></ul>
    <p class="note" id="banks-empty" data-testid="banks-empty" hidden>No bank you may read.</p>
  </nav>
  <section>
    <h2 id="search-title">Search</h2>
    <form class="search" id="search-form">
      <input type="search" id="query" data-testid="query" placeholder="What do you want to recall?" required>
      <button class="primary" type="submit" data-testid="search">Recall</button>
    </form>
    <p class="error" id="search-error" data-testid="search-error" hidden></p>
    <p class="note" id="search-note" data-testid="search-note">Pick a bank, then recall.</p>
    <ol class="hits" id="hits" data-testid="hits"></ol>
  </section>
  <aside>
    <h2>Memory</h2>
    <p class="note" id="detail-empty">Open a hit to see it.</p>
    <p class="error" id="detail-error" data-testid="detail-error" hidden></p>
    <div id="detail" data-testid="detail" hidden>
      <div class="text" id="d-text" data-testid="detail-text"></div>
      <dl>
        <dt>memory id</dt><dd id="d-id" data-testid="detail-id"></dd>
        <dt>bank</dt><dd id="d-bank"></dd>
        <dt>fact type</dt><dd id="d-fact"></dd>
        <dt>occurred</dt><dd id="d-occurred"></dd>
        <dt>retained</dt><dd id="d-retained"></dd>
        <dt>archived</dt><dd id="d-archived"></dd>
        <dt>tags</dt><dd id="d-tags" data-testid="detail-tags"></dd>
      </dl>
      <h2>Metadata</h2>
      <table><tbody id="d-metadata" data-testid="detail-metadata"></tbody></table>
      <h2>Entities</h2>
      <div id="d-entities" data-testid="detail-entities"></div>
      <h2>History</h2>
      <table><tbody id="d-history" data-testid="detail-history"></tbody></table>
      <button class="danger" id="forget" data-testid="forget">Forget…</button>
      <div class="confirm" id="confirm" data-testid="confirm" hidden>
        <p>Forget this memory for good? Recall will not return it again.</p>
        <button class="danger" id="confirm-yes" data-testid="confirm-forget">Forget it</button>
        <button id="confirm-no" data-testid="confirm-cancel">Cancel</button>
      </div>
      <p class="note" id="forget-done" data-testid="forget-done" hidden></p>
    </div>
  </aside>
</main>
<script>
"use strict";
(function () {
  var state = { bank: null, open: null, generation: 0 };
  var $ = function (id) { return document.getElementById(id); };
  var store = window.sessionStorage;

  ["principal", "token", "apikey"].forEach(function (k) { $(k).value = store.getItem("astrocyte." + k) || ""; });

  function headers() {
    var h = { "Content-Type": "application/json", "Accept": "application/json" };
    if ($("principal").value) h["X-Astrocyte-Principal"] = $("principal").value;
    if ($("token").value) h["Authorization"] = "Bearer " + $("token").value;
    if ($("apikey").value) h["X-Api-Key"] = $("apikey").value;
    return h;
  }

  // fetch JSON; resolves to the body, rejects with an Error carrying the
  // server's kind and message (or the HTTP status when the body says none).
  function api(method, path, body) {
    var init = { method: method, headers: headers() };
    if (body !== undefined) init.body = JSON.stringify(body);
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var err = new Error((data && (data.detail || data.message)) || ("HTTP " + res.status));
          err.kind = (data && data.error && data.error.kind) || ("HTTP " + res.status);
          err.status = res.status;
          throw err;
        }
        return data;
      });
    });
  }

  function show(el, text) { el.textContent = text; el.hidden = !text; }
  function errText(e) { return (e.kind ? e.kind + ": " : "") + e.message; }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function add(parent, tag, text, cls) {
    var el = document.createElement(tag);
    if (text !== undefined && text !== null) el.textContent = String(text);
    if (cls) el.className = cls;
    parent.appendChild(el);
    return el;
  }

  // #banks carries data-generation, bumped each time a bank list answered
  // (as #hits does for recall), so a reader can wait for the fresh list.
  function banksDone() {
    var list = $("banks");
    list.setAttribute("data-generation", String(Number(list.getAttribute("data-generation") || 0) + 1));
  }

  // Only the latest request's answer is shown: an identity switch while an
  // earlier list is in flight must not show that list.
  var banksSeq = 0;
  function loadBanks() {
    var seq = ++banksSeq;
    show($("banks-error"), "");
    return api("GET", "/v1/banks").then(function (data) {
      if (seq !== banksSeq) return;
      var list = $("banks");
      clear(list);
      var banks = (data && data.banks) || [];
      $("banks-empty").hidden = banks.length > 0;
      banks.forEach(function (b) {
        var li = add(list, "li");
        var btn = add(li, "button");
        btn.type = "button";
        btn.setAttribute("data-testid", "bank");
        btn.setAttribute("data-bank", b.bank_id);
        if (b.bank_id === state.bank) btn.className = "active";
        add(btn, "span", b.bank_id);
        add(btn, "span", b.memory_count == null ? "" : b.memory_count, "count").setAttribute("data-testid", "bank-count");
        btn.addEventListener("click", function () { selectBank(b.bank_id); });
      });
      if (state.bank && !banks.some(function (b) { return b.bank_id === state.bank; })) selectBank(null);
      banksDone();
    }, function (e) {
      if (seq !== banksSeq) return;
      clear($("banks"));
      show($("banks-error"), errText(e));
      banksDone();
    });
  }

  function selectBank(bank) {
    state.bank = bank;
    Array.prototype.forEach.call(document.querySelectorAll("[data-testid=bank]"), function (b) {
      b.className = b.getAttribute("data-bank") === bank ? "active" : "";
    });
    $("search-title").textContent = bank ? "Search " + bank : "Search";
    $("search-note").textContent = bank ? "" : "Pick a bank, then recall.";
    $("search-note").hidden = !!bank;
    clear($("hits"));
    closeDetail();
  }

  function channelChips(parent, ranks) {
    Object.keys(ranks || {}).sort().forEach(function (name) {
      var c = add(parent, "span", name + " #" + ranks[name], "chip");
      c.setAttribute("data-testid", "channel");
      c.title = "found by the " + name + " channel at rank " + ranks[name];
    });
  }

  function search(ev) {
    if (ev) ev.preventDefault();
    show($("search-error"), "");
    if (!state.bank) { show($("search-error"), "Pick a bank first."); return; }
    var q = $("query").value;
    return api("POST", "/v1/recall", { query: q, bank_id: state.bank, max_results: 20 }).then(function (res) {
      var list = $("hits");
      clear(list);
      var ranks = (res.trace && res.trace.channel_ranks) || {};
      (res.hits || []).forEach(function (h) {
        var li = add(list, "li");
        li.setAttribute("data-testid", "hit");
        li.setAttribute("data-memory-id", h.memory_id);
        var meta = add(li, "div", null, "meta");
        var s = add(meta, "span", Number(h.score || 0).toFixed(3), "score");
        s.setAttribute("data-testid", "hit-score");
        channelChips(meta, ranks[h.memory_id]);
        if (h.occurred_at) add(meta, "span", h.occurred_at);
        add(li, "div", h.text).setAttribute("data-testid", "hit-text");
        li.addEventListener("click", function () { openMemory(h.bank_id || state.bank, h.memory_id, li); });
      });
      $("search-note").hidden = (res.hits || []).length > 0;
      $("search-note").textContent = "Nothing recalled for that query.";
      state.generation += 1;
      list.setAttribute("data-generation", String(state.generation));
    }, function (e) { show($("search-error"), errText(e)); });
  }

  function closeDetail() {
    state.open = null;
    $("detail").hidden = true;
    $("detail-empty").hidden = false;
    show($("detail-error"), "");
  }

  function row(tbody, cells) {
    var tr = add(tbody, "tr");
    cells.forEach(function (c) { add(tr, "td", c); });
    return tr;
  }

  function openMemory(bank, id, li) {
    show($("detail-error"), "");
    Array.prototype.forEach.call(document.querySelectorAll("ol.hits li"), function (x) { x.classList.remove("open"); });
    if (li) li.classList.add("open");
    return api("POST", "/v1/memory", { bank_id: bank, memory_id: id }).then(function (m) {
      state.open = { bank: bank, id: id };
      $("detail-empty").hidden = true;
      $("detail").hidden = false;
      $("confirm").hidden = true;
      show($("forget-done"), "");
      $("forget").hidden = false;
      $("d-text").textContent = m.text;
      $("d-id").textContent = m.memory_id;
      $("d-bank").textContent = m.bank_id;
      $("d-fact").textContent = m.fact_type || "";
      $("d-occurred").textContent = m.occurred_at || "";
      $("d-retained").textContent = m.retained_at || "";
      $("d-archived").textContent = m.archived_at || "no";
      var tags = $("d-tags"); clear(tags);
      (m.tags || []).forEach(function (t) { add(tags, "span", t, "chip").setAttribute("data-testid", "tag"); });
      var md = $("d-metadata"); clear(md);
      Object.keys(m.metadata || {}).sort().forEach(function (k) {
        var v = m.metadata[k];
        row(md, [k, typeof v === "string" ? v : JSON.stringify(v)]).setAttribute("data-testid", "metadata-row");
      });
      var ents = $("d-entities"); clear(ents);
      if (!(m.entities || []).length) add(ents, "p", "none", "note");
      (m.entities || []).forEach(function (e) {
        var c = add(ents, "span", e.name, "chip");
        c.setAttribute("data-testid", "entity");
        c.title = (e.entity_type || "") + " " + (e.id || "");
        ents.appendChild(document.createTextNode(" "));
      });
      var hist = $("d-history"); clear(hist);
      (m.history || []).forEach(function (h) {
        var who = h.principal ? " by " + h.principal : "";
        var why = h.reason ? " (" + h.reason + ")" : "";
        row(hist, [h.at || "", h.event + who + why]).setAttribute("data-testid", "history-row");
      });
    }, function (e) {
      $("detail").hidden = true;
      show($("detail-error"), errText(e));
    });
  }

  function forget() {
    var o = state.open;
    if (!o) return;
    return api("POST", "/v1/forget", { bank_id: o.bank, memory_ids: [o.id] }).then(function (res) {
      $("confirm").hidden = true;
      $("forget").hidden = true;
      show($("forget-done"), "Forgotten (" + (res.deleted_count || 0) + " deleted, " + (res.archived_count || 0) + " archived).");
      var li = document.querySelector('ol.hits li[data-memory-id="' + CSS.escape(o.id) + '"]');
      if (li) li.parentNode.removeChild(li);
      state.open = null;
      return loadBanks();
    }, function (e) {
      $("confirm").hidden = true;
      show($("detail-error"), errText(e));
    });
  }

  $("search-form").addEventListener("submit", search);
  $("forget").addEventListener("click", function () { $("confirm").hidden = false; });
  $("confirm-no").addEventListener("click", function () { $("confirm").hidden = true; });
  $("confirm-yes").addEventListener("click", forget);
  $("connect").addEventListener("click", function () {
    ["principal", "token", "apikey"].forEach(function (k) { store.setItem("astrocyte." + k, $(k).value); });
    selectBank(null);
    clear($("banks"));  // the previous identity's banks are not this one's
    $("banks-empty").hidden = true;
    loadBanks();
  });
  loadBanks();
})();
</script>
</body>
</html>
]==]
