// Overview: active (firing) alerts; counts by status for a window, per site and app; throughput and
// failure-rate charts; the slowest and the most failing apps.
import { getJSON } from "./api.js";
import { lineChart } from "./charts.js";
import { h, STATUSES, badge, duration, field, input, number, percent, select, time } from "./util.js";

const WINDOWS = [["1h", "last hour"], ["6h", "last 6 hours"], ["24h", "last 24 hours"], ["7d", "last 7 days"], ["30d", "last 30 days"]];

function scopeText(scope) {
  const parts = Object.entries(scope || {}).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return parts.length ? parts.map(([k, v]) => `${k}=${v}`).join(", ") : "all jobs";
}

// Firing alerts, newest first; a failure to load them (e.g. alerting switched off) is said, not thrown.
function alertsSection(alerts) {
  const body = alerts instanceof Error
    ? h("p", { class: "muted" }, `Alerts unavailable: ${alerts.message}`)
    : !alerts.length
      ? h("p", { class: "muted" }, "No firing alerts.")
      : h("table", { id: "alerts-table", "aria-labelledby": "alerts-h" },
        h("thead", {}, h("tr", {}, ["Rule", "Scope", "Since", "Job", "Summary"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, alerts.map((a) => {
          const item = (a.items || []).at(-1);
          return h("tr", { "data-alert-id": a.alert_id, "data-rule": a.rule },
            h("td", {}, a.rule), h("td", {}, scopeText(a.scope)), h("td", {}, time(a.started_at)),
            h("td", {}, item && item.job_id ? h("a", { href: `#/job/${item.job_id}` }, item.business_key || item.job_id.slice(0, 8)) : "—"),
            h("td", {}, a.summary));
        })));
  return h("section", { "aria-labelledby": "alerts-h", class: "alerts" }, h("h2", { id: "alerts-h" }, "Active alerts"), body);
}

function countsRow(label, counts) {
  return h("tr", {}, h("th", { scope: "row" }, label), STATUSES.map((s) => h("td", { class: "num" }, number(counts[s] || 0))));
}

export async function render(main, params, _arg, { navigate }) {
  const window_ = params.get("window") || "24h";
  const [data, alerts] = await Promise.all([
    getJSON("/v1/stats/overview", { window: window_, site_id: params.get("site_id"), app: params.get("app") }),
    getJSON("/v1/alerts", { state: "firing", limit: 50 }).then((r) => r.alerts, (err) => err),
  ]);
  const form = h("form", { class: "filters", "aria-label": "Overview filters", onsubmit: (e) => {
    e.preventDefault();
    navigate("overview", new URLSearchParams(new FormData(e.target)));
  } },
    field("Window", select("window", window_, WINDOWS)),
    field("Site", input("site_id", params.get("site_id"))),
    field("App", input("app", params.get("app"))),
    h("button", { type: "submit", class: "primary" }, "Apply"));
  const cards = h("div", { class: "cards", "aria-label": "Jobs by status" }, STATUSES.map((s) =>
    h("div", { class: "card" }, h("div", { class: "n" }, number(data.counts[s] || 0)), h("div", { class: "label" }, badge(s)))));
  const head = h("tr", {}, h("th", { scope: "col" }, "Name"), STATUSES.map((s) => h("th", { scope: "col", class: "num" }, s)));
  const xs = data.series.map((p) => Date.parse(p.start) / 1000);
  const charts = h("div", { class: "grid2" });
  const appLink = (a) => h("a", { href: `#/history?app=${encodeURIComponent(a.app)}` }, a.app);
  main.replaceChildren(
    h("h1", {}, "Overview"),
    form,
    h("p", { class: "muted" }, "Jobs created from ", time(data.since), " to ", time(data.until), `, ${data.bucket_s / 60}-minute buckets.`),
    alertsSection(alerts),
    cards,
    charts,
    h("div", { class: "grid2" },
      h("section", { "aria-labelledby": "slow-h" }, h("h2", { id: "slow-h" }, "Slowest apps (mean duration)"),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "App"), h("th", { scope: "col", class: "num" }, "Mean"), h("th", { scope: "col", class: "num" }, "Max"))),
          h("tbody", {}, data.slowest_apps.map((a) => h("tr", {}, h("td", {}, appLink(a)), h("td", { class: "num" }, duration(a.mean_duration_s)), h("td", { class: "num" }, duration(a.max_duration_s))))))),
      h("section", { "aria-labelledby": "fail-h" }, h("h2", { id: "fail-h" }, "Most failing apps"),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "App"), h("th", { scope: "col", class: "num" }, "Failed"), h("th", { scope: "col", class: "num" }, "Failure rate"))),
          h("tbody", {}, data.most_failing_apps.map((a) => h("tr", {}, h("td", {}, appLink(a)), h("td", { class: "num" }, number(a.counts.failed)), h("td", { class: "num" }, percent(a.failure_rate)))))))),
    h("h2", { id: "site-h" }, "By site"),
    h("table", { "aria-labelledby": "site-h" }, h("thead", {}, head.cloneNode(true)), h("tbody", {}, data.by_site.map((s) => countsRow(s.site_id, s.counts)))),
    h("h2", { id: "app-h" }, "By app"),
    h("table", { "aria-labelledby": "app-h" }, h("thead", {}, head), h("tbody", {}, data.by_app.map((a) => countsRow(a.app, a.counts)))),
  );
  const total = data.series.reduce((n, p) => n + p.jobs, 0);
  const stops = [
    lineChart(charts, { title: "Throughput (jobs started per bucket)", xs, yLabel: "jobs", summary: `${total} jobs in the window.`,
      series: [{ label: "all", values: data.series.map((p) => p.jobs), color: "--bar-running" }, { label: "failed", values: data.series.map((p) => p.counts.failed), color: "--bar-failed" }] }),
    lineChart(charts, { title: "Failure rate (failed / finished)", xs, yLabel: "%", summary: `Overall ${percent((data.counts.failed || 0) / Math.max(1, (data.counts.succeeded || 0) + (data.counts.failed || 0) + (data.counts.cancelled || 0)))}.`,
      series: [{ label: "failure rate %", values: data.series.map((p) => (p.failure_rate === null ? null : p.failure_rate * 100)), color: "--bar-failed" }] }),
  ];
  return () => stops.forEach((s) => s());
}
