// uPlot line charts sized to their container, coloured from the page's CSS variables (so they
// follow light/dark), described for screen readers by the element's aria-label.
import uPlot from "../vendor/uPlot.esm.js";
import { cssVar, h } from "./util.js";

// series: [{label, values, color(css var name), scale?}] ; xs: unix seconds
export function lineChart(container, { title, xs, series, yLabel, y2Label, summary }) {
  const box = h("figure", { class: "chart", role: "img", "aria-label": `${title}. ${summary || ""}` });
  const caption = h("figcaption", {}, title);
  container.append(h("div", {}, caption, box));
  const fg = cssVar("--fg"), line = cssVar("--line");
  const axis = (label, scale, side) => ({ label, scale, side, stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line } });
  const axes = [{ stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line } }, axis(yLabel, "y", 3)];
  if (y2Label) axes.push({ ...axis(y2Label, "y2", 1), grid: { show: false } });
  const opts = {
    width: Math.max(300, box.clientWidth || container.clientWidth || 600),
    height: 220,
    scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] }, y2: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes,
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: cssVar(s.color), width: 2, scale: s.scale || "y", spanGaps: false, points: { show: xs.length < 60 } }))],
  };
  const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], box);
  const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(300, box.clientWidth), height: 220 }));
  observer.observe(box);
  return () => { observer.disconnect(); plot.destroy(); };
}
