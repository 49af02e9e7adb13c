// The router: every view's state lives in the URL fragment (#/view/arg?query), so a link can be
// shared; views render into <main> and return a function that stops their timers and streams.
import { ApiError, apiKey } from "./api.js";
import { h } from "./util.js";
import * as overview from "./overview.js";
import * as live from "./live.js";
import * as jobs from "./jobs.js";
import * as job from "./job.js";
import * as history from "./history.js";

const VIEWS = { overview, live, jobs, job, history };
const main = document.getElementById("view");
let stop = null;
let generation = 0;

export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const [name, ...rest] = path.split("/");
  return { name: VIEWS[name] ? name : "overview", arg: rest.join("/"), params: new URLSearchParams(query) };
}

// Replace the query of the current view (a filter change): a new history entry, so Back undoes it.
export function navigate(name, params, arg = "") {
  const clean = new URLSearchParams();
  for (const [k, v] of params) if (v !== "") clean.append(k, v);
  const query = clean.toString();
  location.hash = `#/${name}${arg ? `/${arg}` : ""}${query ? `?${query}` : ""}`;
}

function keyForm(message) {
  const inputEl = h("input", { id: "api-key", type: "password", autocomplete: "off" });
  const form = h("form", { class: "keyform", onsubmit: (e) => {
    e.preventDefault();
    apiKey.set(inputEl.value.trim());
    route();
  } },
    h("h1", {}, "API key needed"),
    h("p", {}, message),
    h("label", { for: "api-key" }, "API key (a key with the read scope; kept for this browser session only)"),
    inputEl,
    h("p", {}, h("button", { type: "submit", class: "primary" }, "Use this key")));
  main.replaceChildren(form);
  inputEl.focus();
}

export function showError(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    keyForm(error.message);
    return;
  }
  main.replaceChildren(h("div", { role: "alert", class: "error" }, h("h1", {}, "Could not load this view"), h("p", {}, String(error.message || error))));
}

async function route() {
  const mine = ++generation;
  if (stop) { stop(); stop = null; }
  const { name, arg, params } = parseHash();
  for (const link of document.querySelectorAll(".top nav a")) {
    const current = link.dataset.view === name || (name === "job" && link.dataset.view === "jobs");
    if (current) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  document.title = `${name === "job" ? "Job" : name[0].toUpperCase() + name.slice(1)} · wafermon`;
  try {
    const cleanup = await VIEWS[name].render(main, params, arg, { navigate, isCurrent: () => mine === generation });
    if (mine === generation) stop = cleanup || null; else if (cleanup) cleanup();
  } catch (error) {
    if (mine === generation) showError(error);
  }
}

document.getElementById("key-button").addEventListener("click", () => {
  keyForm(apiKey.get() ? "Enter another key, or leave empty and submit to forget the current one." : "Enter the API key the gateway's operator gave you.");
});
document.getElementById("api-key")?.addEventListener("input", () => {});
window.addEventListener("hashchange", route);
if (!location.hash) history.replaceState(null, "", "#/overview");
route();
