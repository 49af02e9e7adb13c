// History: for an app or a business key, duration/CPU/memory percentiles per day or week and
// failures by error type.
import { getJSON } from "./api.js";
import { lineChart } from "./charts.js";
import { h, field, input, number, select } from "./util.js";

export async function render(main, params, _arg, { navigate }) {
  const q = { app: params.get("app") || "", business_key: params.get("business_key") || "", window: params.get("window") || "30d", bucket: params.get("bucket") || "day" };
  const form = h("form", { class: "filters", "aria-label": "History filters", onsubmit: (e) => {
    e.preventDefault();
    navigate("history", new URLSearchParams(new FormData(e.target)));
  } },
    field("App", input("app", q.app)),
    field("Business key", input("business_key", q.business_key)),
    field("Range", select("window", q.window, [["7d", "7 days"], ["30d", "30 days"], ["12w", "12 weeks"], ["52w", "52 weeks"]])),
    field("Bucket", select("bucket", q.bucket, [["hour", "hour"], ["day", "day"], ["week", "week"]])),
    h("button", { type: "submit", class: "primary" }, "Show"));
  if (!q.app && !q.business_key) {
    main.replaceChildren(h("h1", {}, "History"), form, h("p", { class: "muted" }, "Choose an app or a business key."));
    return null;
  }
  const data = await getJSON("/v1/stats/history", q);
  const xs = data.series.map((p) => Date.parse(p.start) / 1000);
  const charts = h("div", { class: "grid3" });
  main.replaceChildren(h("h1", {}, `History of ${q.app ? `app ${q.app}` : `key ${q.business_key}`}`), form, charts,
    h("h2", { id: "err-h" }, "Failures by error type"),
    h("table", { "aria-labelledby": "err-h" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Kind"), h("th", { scope: "col" }, "Error type"), h("th", { scope: "col", class: "num" }, "Failures"))),
      h("tbody", {}, data.errors.length ? data.errors.map((e) => h("tr", {}, h("td", {}, e.kind), h("td", {}, e.type), h("td", { class: "num" }, number(e.count)))) : [h("tr", {}, h("td", { colspan: 3, class: "muted" }, "No failures."))])),
    h("h2", { id: "b-h" }, `Per ${data.bucket}`),
    h("table", { "aria-labelledby": "b-h" }, h("thead", {}, h("tr", {}, ["Start", "Jobs", "Failed", "Duration p50 (s)", "Duration p95 (s)", "CPU p95 (s)", "Memory max (MB)"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, data.series.map((p) => h("tr", {}, h("td", {}, new Date(p.start).toLocaleDateString()), h("td", { class: "num" }, number(p.jobs)), h("td", { class: "num" }, number(p.failed)),
        h("td", { class: "num" }, number(p.duration_p50, 2)), h("td", { class: "num" }, number(p.duration_p95, 2)), h("td", { class: "num" }, number(p.cpu_p95, 2)), h("td", { class: "num" }, number(p.mem_max)))))));
  const col = (k) => data.series.map((p) => p[k]);
  const stops = [
    lineChart(charts, { title: "Duration (s)", xs, yLabel: "s", series: [{ label: "p50", values: col("duration_p50"), color: "--bar-succeeded" }, { label: "p95", values: col("duration_p95"), color: "--bar-cancelled" }] }),
    lineChart(charts, { title: "CPU (s)", xs, yLabel: "s", series: [{ label: "p50", values: col("cpu_p50"), color: "--bar-running" }, { label: "p95", values: col("cpu_p95"), color: "--bar-lost" }] }),
    lineChart(charts, { title: "Memory (MB)", xs, yLabel: "MB", series: [{ label: "p50", values: col("mem_p50"), color: "--bar-running" }, { label: "max", values: col("mem_max"), color: "--bar-failed" }] }),
  ];
  return () => stops.forEach((s) => s());
}
