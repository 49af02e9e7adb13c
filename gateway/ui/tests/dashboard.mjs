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
