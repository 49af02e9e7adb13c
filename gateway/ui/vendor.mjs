// Copies the dashboard's front-end dependencies from node_modules (pinned by package-lock.json)
// into the gateway package, so the installed gateway serves them with no internet access.
// `node vendor.mjs --check` fails when the committed copies differ from node_modules.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, "..", "src", "wafermon_gateway", "ui", "static", "vendor");
const files = [
  ["uplot/dist/uPlot.esm.js", "uPlot.esm.js"],
  ["uplot/dist/uPlot.min.css", "uPlot.min.css"],
  ["uplot/LICENSE", "uPlot.LICENSE"],
];
const check = process.argv.includes("--check");
let stale = 0;
mkdirSync(target, { recursive: true });
for (const [from, to] of files) {
  const source = readFileSync(join(here, "node_modules", from));
  const dest = join(target, to);
  const same = existsSync(dest) && Buffer.compare(readFileSync(dest), source) === 0;
  if (check) {
    if (!same) { console.error(`vendor: ${to} differs from node_modules/${from}; run: npm --prefix gateway/ui run vendor`); stale++; }
  } else if (!same) {
    writeFileSync(dest, source);
    console.log(`vendor: ${from} -> ${to}`);
  }
}
process.exit(stale ? 1 : 0);
