// Live board: running jobs from GET /v1/jobs, then kept current by the SSE stream; jobs that
// finish stay in "Recently finished" with their final status.
import { followStream, getJSON } from "./api.js";
import { h, appName, badge, duration, field, input, jobLink, time } from "./util.js";

const KEEP_FINISHED = 30;

export async function render(main, params, _arg, { navigate }) {
  const filters = {};
  for (const name of ["site_id", "app"]) if (params.get(name)) filters[name] = params.get(name);
  const first = await getJSON("/v1/jobs", { ...filters, status: "running", limit: 500 });
  const jobs = new Map(first.items.map((j) => [j.id, { job: j, seenAt: Date.now() }]));
  const running = h("tbody", { id: "live-running" });
  const finished = h("tbody", { id: "live-finished" });
  const form = h("form", { class: "filters", "aria-label": "Live board filters", onsubmit: (e) => {
    e.preventDefault();
    navigate("live", new URLSearchParams(new FormData(e.target)));
  } }, field("Site", input("site_id", params.get("site_id"))), field("App", input("app", params.get("app"))),
    h("button", { type: "submit", class: "primary" }, "Apply"));
  const conn = document.getElementById("conn");
  const header = () => h("tr", {}, ["Job", "App", "Site", "Status", "Progress", "Started", "Elapsed", "Since last event"].map((t) => h("th", { scope: "col" }, t)));
  main.replaceChildren(h("h1", {}, "Live board"), form,
    h("h2", { id: "run-h" }, "Running"), h("table", { "aria-labelledby": "run-h" }, h("thead", {}, header()), running),
    h("h2", { id: "fin-h" }, "Recently finished"), h("table", { "aria-labelledby": "fin-h" }, h("thead", {}, header()), finished));

  function row(entry) {
    const j = entry.job;
    const started = Date.parse(j.started_at || j.created_at);
    const end = j.finished_at ? Date.parse(j.finished_at) : Date.now();
    const last = Date.parse(j.updated_at);
    const pct = j.progress === null || j.progress === undefined ? null : Math.round(j.progress * 100);
    const tr = h("tr", { "data-job-id": j.id, "data-status": j.status },
      h("td", {}, jobLink(j)), h("td", {}, appName(j)), h("td", {}, j.site_id),
      h("td", {}, badge(j.status), j.status === "lost" ? h("span", { class: "lost-mark", title: "no heartbeat: the job went silent" }, " ⚠ lost") : null),
      h("td", {}, pct === null ? h("span", { class: "muted" }, "—") :
        h("div", { class: "progress", role: "progressbar", "aria-label": `progress of ${j.business_key || j.id}`, "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100 }, h("span", { style: `width:${pct}%` }))),
      h("td", {}, time(j.started_at || j.created_at, { brief: true })),
      h("td", { class: "num" }, duration((end - started) / 1000)),
      h("td", { class: "num" }, duration(Math.max(0, Date.now() - last) / 1000)));
    if (Date.now() - entry.seenAt < 1200) tr.classList.add("flash");
    return tr;
  }
  function draw() {
    const all = [...jobs.values()];
    const active = all.filter((e) => e.job.status === "running" || e.job.status === "lost").sort((a, b) => b.job.created_at.localeCompare(a.job.created_at));
    const done = all.filter((e) => !(e.job.status === "running" || e.job.status === "lost")).sort((a, b) => b.seenAt - a.seenAt).slice(0, KEEP_FINISHED);
    running.replaceChildren(...(active.length ? active.map(row) : [h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No running jobs."))]));
    finished.replaceChildren(...(done.length ? done.map(row) : [h("tr", {}, h("td", { colspan: 8, class: "muted" }, "None since this page opened."))]));
  }
  draw();
  const stopStream = followStream({ kind: "job", ...filters }, (_kind, j) => {
    jobs.set(j.id, { job: j, seenAt: Date.now() });
    draw();
  }, (state, message) => { conn.textContent = state === "live" ? "● live" : state === "denied" ? `stream: ${message}` : "reconnecting…"; });
  // The once-a-second refresh of elapsed times skips a beat while a keyboard user is on a row's
  // link, so focus is not lost; stream events still redraw at once.
  const timer = setInterval(() => { if (!document.activeElement?.closest("#live-running, #live-finished")) draw(); }, 1000);
  return () => { stopStream(); clearInterval(timer); conn.textContent = ""; };
}
