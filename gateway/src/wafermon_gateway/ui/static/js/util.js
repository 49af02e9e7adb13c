// Small DOM and formatting helpers shared by the views.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const local = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const short = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

// A <time> in the viewer's zone with the UTC time on hover (title) and in the datetime attribute.
export function time(iso, { brief = false } = {}) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const moment = new Date(iso);
  const utc = moment.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  return h("time", { datetime: iso, title: utc }, (brief ? short : local).format(moment));
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  const hours = Math.floor(m / 60);
  return hours < 48 ? `${hours} h ${m % 60} min` : `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function number(value, digits = 1) {
  if (value === null || value === undefined) return "—";
  return Number.isInteger(value) ? value.toLocaleString() : value.toLocaleString(undefined, { maximumFractionDigits: digits });
}

export function percent(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
}

export function badge(status) {
  return h("span", { class: `badge status-${status}` }, status);
}

export const STATUSES = ["running", "succeeded", "failed", "cancelled", "lost", "orphaned"];

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function jobLink(job, label) {
  return h("a", { href: `#/job/${job.id}` }, label ?? (job.business_key || job.id.slice(0, 8)));
}

export function appName(job) {
  return job.app ? job.app.name : "";
}

// A labelled form control for the filter bars.
export function field(label, control) {
  return h("label", {}, label, control);
}

export function select(name, value, options) {
  return h("select", { name }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
}

export function input(name, value, attrs = {}) {
  return h("input", { name, value: value ?? "", ...attrs });
}
