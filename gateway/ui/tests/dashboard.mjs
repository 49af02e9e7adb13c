// Browser test of the dashboard in Debian's headless Chromium, driven by playwright-core (no
// browser download). Started by test_dashboard.py, which runs a real gateway and sidecar:
//   GATEWAY_URL, OUT_DIR, EMIT (JSON argv that emits the test job and prints its id), LOT, SITE, APP.
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import assert from "node:assert/strict";

const { GATEWAY_URL, OUT_DIR, EMIT, LOT, SITE, APP } = process.env;
const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const report = { screenshots: [], axe: {}, timings: {} };
const consoleErrors = [];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"], // playwright itself gives each launch a fresh profile dir
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("console", (msg) => { if (msg.type() === "error") consoleErrors.push(msg.text()); });
  page.on("pageerror", (err) => consoleErrors.push(String(err)));

  async function check(name) {
    await page.screenshot({ path: join(OUT_DIR, `${name}.png`), fullPage: true });
    report.screenshots.push(`${name}.png`);
    await page.addScriptTag({ path: axePath });
    const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
    report.axe[name] = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  }

  // Overview renders (first screen) and passes the accessibility check.
  let started = Date.now();
  await page.goto(`${GATEWAY_URL}/ui/#/overview`);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  report.timings.overview_ms = Date.now() - started;
  await check("overview");

  // Live board: the job shows within 2 s of its start, then turns succeeded without a reload.
  await page.goto(`${GATEWAY_URL}/ui/#/live`);
  await page.getByRole("heading", { name: "Live board" }).waitFor();
  await page.locator("#conn", { hasText: "live" }).waitFor();
  const child = spawn(JSON.parse(EMIT)[0], JSON.parse(EMIT).slice(1), { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env } });
  const jobId = await new Promise((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(String(d).trim().split("\n")[0]));
    child.once("exit", (code) => reject(new Error(`emitter exited ${code} before printing the job id`)));
  });
  started = Date.now();
  await page.locator(`#live-running tr[data-job-id="${jobId}"]`).waitFor({ timeout: 2000 });
  report.timings.live_appear_ms = Date.now() - started;
  await check("live");
  await page.locator(`#live-finished tr[data-job-id="${jobId}"][data-status="succeeded"]`).waitFor({ timeout: 30000 });
  await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", resolve)));
  assert.equal(child.exitCode, 0, "the emitter failed");

  // Job detail: three bars in the sub-job timeline, exactly one marked failed.
  await page.locator(`#live-finished tr[data-job-id="${jobId}"] a`).click();
  await page.locator(".gantt .bar").nth(2).waitFor();
  assert.equal(await page.locator(".gantt .bar").count(), 3);
  assert.equal(await page.locator('.gantt .bar[data-status="failed"]').count(), 1);
  assert.equal(await page.locator('.gantt .bar[data-status="succeeded"]').count(), 2);
  await page.getByText("particle count 412").first().waitFor().catch(() => {});
  // The metadata tree: the job's nested metadata (sent only with its start) rendered as nested lists.
  await page.locator(".tree ul ul li", { hasText: "ETCH-03" }).waitFor();
  assert.match(await page.locator(".tree").innerText(), /recipe:\s*"etch-7"[\s\S]*tool:[\s\S]*id:\s*"ETCH-03"/);
  await check("job");

  // Jobs: filter by status through the form (keyboard: fill and press Enter), then by site.
  await page.goto(`${GATEWAY_URL}/ui/#/jobs`);
  await page.locator(`#jobs-table tr[data-job-id="${jobId}"]`).waitFor();
  await page.getByLabel("Status").selectOption("failed");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL(/status=failed/);
  // The table is redrawn once the filtered page has loaded: every row failed (or none match).
  await page.waitForFunction(() => [...document.querySelectorAll("#jobs-table tbody tr")].every((r) => r.dataset.status === "failed" || r.textContent === "No jobs match."));
  assert.equal(await page.locator(`#jobs-table tr[data-job-id="${jobId}"]`).count(), 0, "a succeeded job listed under failed");
  await page.getByLabel("Status").selectOption("succeeded");
  await page.getByLabel("Site").fill(SITE);
  await page.getByLabel("Site").press("Enter");
  await page.waitForURL(new RegExp(`site_id=${SITE}`));
  await page.locator(`#jobs-table tr[data-job-id="${jobId}"]`).waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll("#jobs-table tbody tr")].every((r) => r.dataset.status === "succeeded"));
  for (const status of await page.locator("#jobs-table tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.status))) {
    assert.equal(status, "succeeded");
  }
  await check("jobs");
  await page.getByLabel("Site").fill("no-such-site");
  await page.getByLabel("Site").press("Enter");
  await page.getByText("No jobs match.").waitFor();
  // Business key search: part of the key, in other case, finds the job; a literal % matches nothing.
  await page.getByLabel("Site").fill("");
  await page.getByLabel("Status").selectOption("");
  await page.getByLabel("Business key contains").fill(LOT.slice(3, 12).toUpperCase());
  await page.getByLabel("Business key contains").press("Enter");
  await page.waitForURL(/business_key_contains=/);
  await page.locator(`#jobs-table tr[data-job-id="${jobId}"]`).waitFor();
  await page.getByLabel("Business key contains").fill("wser%lot");
  await page.getByLabel("Business key contains").press("Enter");
  await page.getByText("No jobs match.").waitFor();

  // An alert rule made through the API, a job that fails: the overview lists the firing alert,
  // linked to the job.
  const api = (path, init = {}) => fetch(`${GATEWAY_URL}${path}`, { ...init, headers: { "Content-Type": "application/json" } });
  let r = await api("/v1/alerting/rules/dash-failures", { method: "PUT",
    body: JSON.stringify({ kind: "job_failed", scope: { app: APP }, notify: [] }) });
  assert.ok(r.ok, `rule: ${r.status} ${await r.text()}`);
  const failedId = crypto.randomUUID();
  const at = (ms) => new Date(Date.now() - ms).toISOString().replace("Z", "000Z"); // the wire wants microseconds
  const base = { schema: "wafermon.event/1", entity_type: "job", entity_id: failedId, parent_id: null, site_id: SITE,
    app: { name: APP, version: "1.0" }, business_key: `${LOT}-bad`, sub_key: null, metadata: {}, host: "node-t", pid: 7,
    sdk: { lang: "python", version: "0.1.0" } };
  r = await api("/v1/ingest/managed", { method: "POST", body: JSON.stringify([
    { ...base, event_id: crypto.randomUUID(), event_kind: "started", seq: 0, at: at(3000), status: "running" },
    { ...base, event_id: crypto.randomUUID(), event_kind: "finished", seq: 1, at: at(1000), status: "failed",
      metrics: { duration_s: 2.0 }, error: { type: "ValueError", message: "etch rate out of range" } }]) });
  const ingested = await r.json();
  assert.ok(r.ok && ingested.accepted === 2, `ingest: ${r.status} ${JSON.stringify(ingested)}`);
  // Rules run after the ingest answers: wait until the API has the alert, then open the overview.
  const deadline = Date.now() + 15000;
  let firing = [];
  while (!firing.length && Date.now() < deadline) {
    firing = (await (await api("/v1/alerts?state=firing&rule=dash-failures")).json()).alerts;
    if (!firing.length) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.equal(firing.length, 1, "the rule fired no alert");
  await page.goto(`${GATEWAY_URL}/ui/#/overview`);
  const alertRow = page.locator('#alerts-table tr[data-rule="dash-failures"]');
  await alertRow.waitFor({ timeout: 15000 });
  assert.equal(await alertRow.locator(`a[href="#/job/${failedId}"]`).count(), 1, "the alert links to the failed job");
  assert.match(await alertRow.innerText(), new RegExp(`app=${APP}`));
  await check("overview-alerts");

  // History of the test app, and the overview again now that it has data (also at 1920x1080).
  await page.goto(`${GATEWAY_URL}/ui/#/history?app=${APP}`);
  await page.getByRole("heading", { name: `History of app ${APP}` }).waitFor();
  await check("history");
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(`${GATEWAY_URL}/ui/#/overview?window=1h`);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.locator("figure.chart canvas").first().waitFor();
  await check("overview-wall");

  for (const [view, violations] of Object.entries(report.axe)) assert.deepEqual(violations, [], `axe violations on ${view}`);
  assert.deepEqual(consoleErrors, [], "console errors");
  report.ok = true;
} finally {
  report.console_errors = consoleErrors;
  writeFileSync(join(OUT_DIR, "report.json"), JSON.stringify(report, null, 2));
  await browser.close();
}
