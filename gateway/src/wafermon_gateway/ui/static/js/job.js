// Job detail: facts, sub-jobs as a Gantt timeline coloured by status, progress over time, the
// event timeline and the metadata tree.
import { getJSON } from "./api.js";
import { lineChart } from "./charts.js";
import { h, appName, badge, duration, number, time } from "./util.js";

function tree(value) {
  if (value === null || typeof value !== "object") return h("span", {}, JSON.stringify(value));
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  if (!entries.length) return h("span", { class: "muted" }, Array.isArray(value) ? "[]" : "{}");
  return h("ul", {}, entries.map(([k, v]) => h("li", {}, h("span", { class: "k" }, `${k}: `), tree(v))));
}

function gantt(job, subjobs) {
  const startOf = (s) => Date.parse(s.started_at || s.created_at);
  const endOf = (s) => Date.parse(s.finished_at || s.updated_at);
  const t0 = Math.min(startOf(job), ...subjobs.map(startOf));
  const t1 = Math.max(endOf(job), ...subjobs.map(endOf), t0 + 1);
  const span = t1 - t0;
  return h("div", { class: "gantt", role: "list", "aria-label": "Sub-job timeline" }, subjobs.map((s) => {
    const left = ((startOf(s) - t0) / span) * 100;
    const width = Math.max(0.5, ((endOf(s) - startOf(s)) / span) * 100);
    const label = `${s.sub_key || s.id.slice(0, 8)}: ${s.status}, ${duration((endOf(s) - startOf(s)) / 1000)}${s.error ? `, ${s.error.type}: ${s.error.message}` : ""}`;
    return h("div", { class: "row", role: "listitem" },
      h("span", {}, s.sub_key || s.id.slice(0, 8), " ", badge(s.status)),
      h("div", { class: "track" }, h("div", { class: "bar", role: "img", "data-status": s.status, title: label, "aria-label": label, style: `left:${left}%;width:${width}%` })));
  }));
}

export async function render(main, _params, id) {
  const data = await getJSON(`/v1/jobs/${encodeURIComponent(id)}`);
  const j = data.job;
  const m = j.metrics || {};
  const cpu = m.cpu_user_s === undefined ? null : m.cpu_user_s + (m.cpu_sys_s || 0);
  const subKey = new Map(data.subjobs.map((s) => [s.id, s.sub_key || s.id.slice(0, 8)]));
  const progress = data.timeline.filter((t) => t.event.entity_id === j.id && typeof t.event.progress === "number");
  const chartBox = h("div", {});
  main.replaceChildren(
    h("h1", {}, `Job ${j.business_key || j.id} `, badge(j.status)),
    h("dl", { class: "facts" },
      h("dt", {}, "Id"), h("dd", {}, j.id),
      h("dt", {}, "App"), h("dd", {}, `${appName(j)} ${j.app ? j.app.version : ""}`),
      h("dt", {}, "Site"), h("dd", {}, j.site_id),
      h("dt", {}, "Started"), h("dd", {}, time(j.started_at || j.created_at)),
      h("dt", {}, "Finished"), h("dd", {}, time(j.finished_at)),
      h("dt", {}, "Duration"), h("dd", {}, duration(j.duration_s)),
      h("dt", {}, "CPU"), h("dd", {}, cpu === null ? "—" : `${number(cpu, 2)} s`),
      h("dt", {}, "Peak memory"), h("dd", {}, m.mem_max_mb === undefined ? "—" : `${number(m.mem_max_mb)} MB`),
      h("dt", {}, "Host / pid"), h("dd", {}, `${j.host} / ${j.pid}`),
      h("dt", {}, "SDK"), h("dd", {}, (data.timeline[0] && data.timeline[0].event.sdk) ? `${data.timeline[0].event.sdk.lang} ${data.timeline[0].event.sdk.version}` : "—"),
      h("dt", {}, "Error"), h("dd", { class: j.error ? "error" : "" }, j.error ? `${j.error.type}: ${j.error.message}` : "—")),
    h("h2", {}, `Sub-jobs (${data.subjobs.length}${data.subjobs_truncated ? "+" : ""})`),
    data.subjobs.length ? gantt(j, data.subjobs) : h("p", { class: "muted" }, "No sub-jobs."),
    h("h2", {}, "Progress over time"),
    progress.length ? chartBox : h("p", { class: "muted" }, "No progress reported."),
    h("h2", { id: "tl-h" }, "Event timeline"),
    h("table", { "aria-labelledby": "tl-h" },
      h("thead", {}, h("tr", {}, ["Time", "Entity", "Event", "Status", "Seq"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, data.timeline.map((t) => h("tr", {}, h("td", {}, time(t.event.at)),
        h("td", {}, t.event.entity_type === "job" ? "job" : `sub-job ${subKey.get(t.event.entity_id) || ""}`),
        h("td", {}, t.event.event_kind), h("td", {}, badge(t.event.status)), h("td", { class: "num" }, t.event.seq))))),
    h("h2", {}, "Metadata"),
    h("div", { class: "tree" }, tree(j.metadata)));
  if (progress.length) {
    return lineChart(chartBox, { title: "Job progress", xs: progress.map((t) => Date.parse(t.event.at) / 1000), yLabel: "%",
      summary: `${progress.length} progress reports.`, series: [{ label: "progress %", values: progress.map((t) => t.event.progress * 100), color: "--bar-running" }] });
  }
  return null;
}
