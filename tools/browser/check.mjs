// Drives the gateway's memory browser (GET /ui) in headless Chromium and
// prints what a person would have seen, as one JSON object on stdout, for
// spec/serve/20-browser_spec.lua to check. Usage:
//   node check.mjs BASE_URL SCENARIO_JSON
// SCENARIO_JSON: {"principal": "...", "bank": "...", "query": "...",
//                 "intruder": "...", "chromium": "/usr/bin/chromium"}
// Steps: open /ui as `principal`, list banks, recall `query` in `bank`,
// open the first hit, forget it through the confirmation, recall again; then
// switch to `intruder` and list banks and try to open a memory of `bank`.
import puppeteer from "puppeteer-core";

const [base, scenarioText] = process.argv.slice(2);
if (!base || !scenarioText) {
  console.error("usage: node check.mjs BASE_URL SCENARIO_JSON");
  process.exit(2);
}
const sc = JSON.parse(scenarioText);
const out = { console_errors: [], page_errors: [] };

const browser = await puppeteer.launch({
  executablePath: sc.chromium || process.env.ASTRO_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // --no-sandbox: the specs may run as root, where Chromium's sandbox
  // refuses to start; the page is our own, served on 127.0.0.1.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(60000); // generous: CI machines may be loaded
  // Console errors of the person's own session; the intruder's refused
  // requests (403, logged by Chromium) come after `watching` is off.
  let watching = true;
  page.on("console", (m) => { if (watching && m.type() === "error") out.console_errors.push(m.text()); });
  page.on("pageerror", (e) => out.page_errors.push(String(e)));
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });

  const texts = (sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent));
  const useIdentity = async (principal) => {
    await page.$eval("[data-testid=principal]", (el, v) => { el.value = v; }, principal);
    await page.click("[data-testid=connect]");
  };
  const banks = async () => page.$$eval("[data-testid=bank]", (els) => els.map((b) => ({
    bank_id: b.getAttribute("data-bank"),
    count: Number(b.querySelector("[data-testid=bank-count]").textContent),
  })));
  // the page bumps data-generation on the bank list each time a list answered
  const banksGeneration = () => page.$eval("#banks", (el) => Number(el.getAttribute("data-generation") || 0));
  const waitBanksAfter = (g) => page.waitForFunction((g) =>
    Number(document.querySelector("#banks").getAttribute("data-generation") || 0) > g, {}, g);
  const recall = async (query) => {
    await page.$eval("[data-testid=query]", (el) => { el.value = ""; });
    await page.type("[data-testid=query]", query);
    // the page bumps data-generation on the list each time a recall answered
    const gen = await page.$eval("[data-testid=hits]", (el) => Number(el.getAttribute("data-generation") || 0));
    await page.click("[data-testid=search]");
    await page.waitForFunction((g) => {
      const el = document.querySelector("[data-testid=hits]");
      return Number(el.getAttribute("data-generation") || 0) > g ||
        !document.querySelector("[data-testid=search-error]").hidden;
    }, {}, gen);
    return page.$$eval("[data-testid=hit]", (els) => els.map((li) => ({
      memory_id: li.getAttribute("data-memory-id"),
      text: li.querySelector("[data-testid=hit-text]").textContent,
      score: Number(li.querySelector("[data-testid=hit-score]").textContent),
      channels: Array.from(li.querySelectorAll("[data-testid=channel]")).map((c) => c.textContent),
    })));
  };

  const res = await page.goto(base + "/ui", { waitUntil: "load" });
  out.status = res.status();
  out.content_type = res.headers()["content-type"];
  out.title = await page.title();

  await useIdentity(sc.principal);
  await page.waitForSelector(`[data-testid=bank][data-bank="${sc.bank}"]`);
  out.banks = await banks();

  await page.click(`[data-testid=bank][data-bank="${sc.bank}"]`);
  out.hits = await recall(sc.query);

  if (out.hits.length > 0) {
    const first = out.hits[0].memory_id;
    await page.click(`[data-testid=hit][data-memory-id="${first}"]`);
    await page.waitForFunction((id) => {
      const d = document.querySelector("[data-testid=detail]");
      return !d.hidden && document.querySelector("[data-testid=detail-id]").textContent === id;
    }, {}, first);
    out.detail = {
      memory_id: await page.$eval("[data-testid=detail-id]", (e) => e.textContent),
      text: await page.$eval("[data-testid=detail-text]", (e) => e.textContent),
      tags: await texts("[data-testid=tag]"),
      metadata: await page.$$eval("[data-testid=metadata-row]", (rows) =>
        rows.map((r) => Array.from(r.cells).map((c) => c.textContent))),
      entities: await texts("[data-testid=entity]"),
      history: await page.$$eval("[data-testid=history-row]", (rows) => rows.map((r) => r.cells[1].textContent)),
    };
    // Forget asks first: the first click only shows the confirmation.
    await page.click("[data-testid=forget]");
    out.confirm_shown = await page.$eval("[data-testid=confirm]", (e) => !e.hidden);
    await page.click("[data-testid=confirm-cancel]");
    out.still_there_after_cancel = await page.$(`[data-testid=hit][data-memory-id="${first}"]`) !== null;
    await page.click("[data-testid=forget]");
    await page.click("[data-testid=confirm-forget]");
    await page.waitForFunction(() => !document.querySelector("[data-testid=forget-done]").hidden);
    out.forget_message = await page.$eval("[data-testid=forget-done]", (e) => e.textContent);
    await page.waitForFunction((bank, n) => {
      const b = document.querySelector(`[data-testid=bank][data-bank="${bank}"] [data-testid=bank-count]`);
      return b && Number(b.textContent) === n - 1;
    }, {}, sc.bank, out.banks.find((b) => b.bank_id === sc.bank).count);
    out.banks_after_forget = await banks();
    out.hits_after_forget = await recall(sc.query);
    out.forgotten_id = first;
  }

  // Another principal: the bank list shows nothing of the bank, and its
  // memories cannot be opened, even by URL.
  watching = false;
  const before = await banksGeneration();
  await useIdentity(sc.intruder);
  await waitBanksAfter(before);
  out.intruder_banks = await banks();
  const probe = out.hits_after_forget && out.hits_after_forget[0];
  if (probe) {
    // POSTs body to path from inside the page as principal who.
    const postAs = (path, body, who) => page.evaluate(async (path, body, who) => {
      const r = await fetch(path, { method: "POST",
        headers: { "X-Astrocyte-Principal": who, "Content-Type": "application/json" },
        body: JSON.stringify(body) });
      return { status: r.status, body: await r.text() };
    }, path, body, who);
    out.intruder_memory = await postAs("/v1/memory", { bank_id: sc.bank, memory_id: probe.memory_id }, sc.intruder);
    out.intruder_recall = await postAs("/v1/recall", { bank_id: sc.bank, query: sc.query }, sc.intruder);
  }
  out.external_requests = external;
} catch (e) {
  out.failure = String(e && e.stack || e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(out.failure ? 1 : 0);
