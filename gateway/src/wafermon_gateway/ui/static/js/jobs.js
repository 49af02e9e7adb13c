// Jobs: filters (site, app, status, business key search, time range), sort and cursor paging, all in
// the URL. The key search finds keys containing the text (any case, 3 characters at least).
import { getJSON } from "./api.js";
import { h, STATUSES, appName, badge, duration, field, input, jobLink, select, time } from "./util.js";

const NAMES = ["site_id", "app", "status", "business_key", "business_key_contains", "since", "until", "sort", "cursor"];

export async function render(main, params, _arg, { navigate }) {
  const query = {};
  for (const name of NAMES) if (params.get(name)) query[name] = params.get(name);
  const toIso = (v) => (v ? new Date(v).toISOString() : undefined);
  const data = await getJSON("/v1/jobs", { ...query, since: toIso(query.since), until: toIso(query.until), limit: 50 });
  const form = h("form", { class: "filters", "aria-label": "Job filters", onsubmit: (e) => {
    e.preventDefault();
    const next = new URLSearchParams(new FormData(e.target));
    next.delete("cursor");
    navigate("jobs", next);
  } },
    field("Site", input("site_id", query.site_id)),
    field("App", input("app", query.app)),
    field("Status", select("status", query.status || "", [["", "any"], ...STATUSES.map((s) => [s, s])])),
    field("Business key contains", input("business_key_contains", query.business_key_contains, { type: "search", minlength: 3 })),
    field("Created from", input("since", query.since, { type: "datetime-local" })),
    field("Created before", input("until", query.until, { type: "datetime-local" })),
    field("Sort", select("sort", query.sort || "-created_at", [["-created_at", "newest first"], ["created_at", "oldest first"], ["-updated_at", "recently updated"], ["updated_at", "least recently updated"]])),
    h("button", { type: "submit", class: "primary" }, "Apply"));
  const rows = data.items.map((j) => h("tr", { "data-job-id": j.id, "data-status": j.status },
    h("td", {}, jobLink(j)), h("td", {}, appName(j)), h("td", {}, j.site_id), h("td", {}, badge(j.status)),
    h("td", {}, time(j.created_at)), h("td", { class: "num" }, duration(j.duration_s)), h("td", {}, j.host)));
  const pager = h("div", { class: "pager" },
    query.cursor ? h("a", { href: "#", onclick: (e) => { e.preventDefault(); const p = new URLSearchParams(params); p.delete("cursor"); navigate("jobs", p); } }, "First page") : null,
    data.next_cursor ? h("a", { href: "#", onclick: (e) => { e.preventDefault(); const p = new URLSearchParams(params); p.set("cursor", data.next_cursor); navigate("jobs", p); } }, "Next page") : null,
    h("span", { class: "muted" }, `${data.items.length} jobs on this page`));
  main.replaceChildren(h("h1", {}, "Jobs"), form,
    h("table", { id: "jobs-table", "aria-label": "Jobs" },
      h("thead", {}, h("tr", {}, ["Job", "App", "Site", "Status", "Created", "Duration", "Host"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No jobs match."))])),
    pager);
}
