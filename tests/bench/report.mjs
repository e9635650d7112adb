// Tables (Markdown, on stdout) and the chart (SVG) of a benchmark run, from what
// `cargo xtask bench` wrote into target/bench/ and target/criterion/.
//
//   node report.mjs RESULTS_DIR SCALES SVG_PATH

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [dir, scaleList, svgPath] = process.argv.slice(2);
const scales = scaleList.split(",");
const LIBRARIES = ["tessera", "baseline", "rules", "casl", "casbin", "cedar"];
const NAMES = {
  tessera: "tessera-policy",
  baseline: "plain JS, per-user Sets (baseline)",
  rules: "plain JS, rules over Maps",
  casl: "@casl/ability",
  casbin: "casbin",
  cedar: "@cedar-policy/cedar-wasm",
};
const COLOURS = { tessera: "#d62728", baseline: "#000000", rules: "#7f7f7f", casl: "#1f77b4", casbin: "#2ca02c", cedar: "#9467bd" };

/** Of a few fresh processes' loads, the one with the median first load, with every run's times. */
function median(runs) {
  const list = Array.isArray(runs) ? runs : [runs];
  const sorted = [...list].sort((a, b) => a.loadMs - b.loadMs);
  const middle = sorted[Math.floor(sorted.length / 2)];
  const warm = list.map((r) => r.warmLoadMs).sort((a, b) => a - b);
  return { ...middle, warmLoadMs: warm[Math.floor(warm.length / 2)], firstRuns: sorted.map((r) => r.loadMs), warmRuns: warm };
}

const results = Object.fromEntries(
  scales.map((scale) => [
    scale,
    {
      ...JSON.parse(readFileSync(join(dir, `${scale}.json`), "utf8")),
      load: median(JSON.parse(readFileSync(join(dir, `${scale}-load.json`), "utf8"))),
      loadFull: median(JSON.parse(readFileSync(join(dir, `${scale}-load-full.json`), "utf8"))),
    },
  ]),
);

function criterion(group, bench, scale) {
  const file = join(dir, "../criterion", group, bench, scale, "new/estimates.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")).mean.point_estimate : undefined;
}

const ns = (value) => (value >= 10_000 ? `${(value / 1000).toFixed(0)} µs` : value >= 1000 ? `${(value / 1000).toFixed(1)} µs` : `${value.toFixed(0)} ns`);
const ratio = (value, base) => `${(value / base).toFixed(2)}×`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

const lines = [];
for (const scale of scales) {
  const r = results[scale];
  lines.push(`### ${scale}: ${r.counts.users.toLocaleString("en")} users, ${r.counts.projects.toLocaleString("en")} Projects`, "");
  lines.push("| library | view project | ratio | task.create in project | ratio |", "|---|---:|---:|---:|---:|");
  for (const lib of LIBRARIES.filter((lib) => r.decisions.view[lib] !== undefined)) {
    const view = r.decisions.view[lib];
    const create = r.decisions.createTask[lib];
    lines.push(`| ${NAMES[lib]} | ${ns(view)} | ${ratio(view, r.decisions.view.baseline)} | ${ns(create)} | ${ratio(create, r.decisions.createTask.baseline)} |`);
  }
  lines.push("");
  lines.push(
    `Filter of ${r.check.results.toLocaleString("en")} cached search results for one user: tessera-policy ${r.filterMs.tessera.toFixed(2)} ms; the baseline ${r.filterMs.baseline.toFixed(2)} ms (${ratio(r.filterMs.tessera, r.filterMs.baseline)})${r.filterMs.rules === undefined ? "" : `; plain JS, rules over Maps ${r.filterMs.rules.toFixed(2)} ms (${ratio(r.filterMs.tessera, r.filterMs.rules)})`}.`,
  );
  lines.push(
    "",
    `Load and verify a snapshot of ${mb(r.load.snapshotBytes)} (its organisation JSON: ${mb(r.load.orgJsonBytes)}), in ${r.load.firstRuns.length} fresh processes per build: the first load of each (median, and the range), then in each process the median of 5 more loads (V8 has by then compiled the module's code with its optimising tier; the median of the processes' figures). Memory after the first load, in the median process: the growth of the module's memory (which never shrinks), and of the process's resident memory.`,
    "",
    "| build | first load | warm load | module memory | ratio to snapshot | process RSS growth |",
    "|---|---:|---:|---:|---:|---:|",
  );
  const range = (list) => (list.length > 1 ? ` (${list[0].toFixed(0)}–${list[list.length - 1].toFixed(0)})` : "");
  for (const [name, l] of [["tessera-policy", r.load], ["tessera-policy/full", r.loadFull]]) {
    lines.push(
      `| ${name} | ${l.loadMs.toFixed(0)} ms${range(l.firstRuns)} | ${l.warmLoadMs.toFixed(0)} ms${range(l.warmRuns)} | ${mb(l.wasmMemoryBytes)} | ${ratio(l.wasmMemoryBytes, l.snapshotBytes)} | ${mb(l.memoryBytes)} |`,
    );
  }
  lines.push("");
  lines.push(`Decisions checked identical first: ${r.check.pairs.toLocaleString("en")} pairs per question (Cedar: the first 2,000) and the filter.`);
  const native = [
    ["decision", "view_project", "view project, id resolved"],
    ["decision", "task_create", "task.create, id resolved"],
    ["decision", "task_create_by_index", "task.create, by Project index"],
    ["decision", "general_evaluator", "task.create, general evaluator (`Policy::allows`)"],
    ["filter_100k", "ids", "filter 100k ids"],
    ["filter_100k", "indices", "filter 100k Project indices"],
  ];
  lines.push("", "Natively (criterion, mean):", "", "| what | time |", "|---|---:|");
  for (const [group, bench, label] of native) {
    const value = criterion(group, bench, scale);
    if (value !== undefined) lines.push(`| ${label} | ${group === "filter_100k" ? `${(value / 1e6).toFixed(2)} ms` : ns(value)} |`);
  }
  lines.push("");
}
const any = results[scales[0]];
lines.push(`wasm: ${any.wasm.raw.toLocaleString("en")} bytes raw, ${any.wasm.gzip.toLocaleString("en")} bytes gzip (Node zlib, level 9).`);
lines.push(`Versions: ${Object.entries(any.versions).map(([name, version]) => `${name} ${version}`).join(", ")}.`);
console.log(lines.join("\n"));

// The chart: ns per decision (view project) against users, log-log, a line per library.
const W = 760;
const H = 400;
const M = { left: 70, right: 270, top: 30, bottom: 50 };
const users = scales.map((scale) => results[scale].counts.users);
const charted = LIBRARIES.filter((lib) => scales.every((scale) => results[scale].decisions.view[lib] !== undefined));
const values = scales.flatMap((scale) => charted.map((lib) => results[scale].decisions.view[lib]));
const [xMin, xMax] = [Math.min(...users) / 2, Math.max(...users) * 2];
const [yMin, yMax] = [10 ** Math.floor(Math.log10(Math.min(...values))), 10 ** Math.ceil(Math.log10(Math.max(...values)))];
const x = (v) => M.left + ((Math.log10(v) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * (W - M.left - M.right);
const y = (v) => H - M.bottom - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - M.top - M.bottom);
const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  `<text x="${M.left}" y="18" font-size="14">Cost per decision (view project, Node) against organisation size</text>`,
  `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="black"/>`,
  `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="black"/>`,
];
for (let v = yMin; v <= yMax; v *= 10) {
  svg.push(`<line x1="${M.left}" y1="${y(v)}" x2="${W - M.right}" y2="${y(v)}" stroke="#ddd"/>`);
  svg.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${ns(v)}</text>`);
}
for (const [i, scale] of scales.entries()) {
  svg.push(`<text x="${x(users[i])}" y="${H - M.bottom + 18}" text-anchor="middle">${scale} (${users[i].toLocaleString("en")} users)</text>`);
}
svg.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">users (log scale); ns per decision (log scale)</text>`);
for (const [i, lib] of charted.entries()) {
  const points = scales.map((scale, k) => `${x(users[k]).toFixed(1)},${y(results[scale].decisions.view[lib]).toFixed(1)}`);
  svg.push(`<polyline fill="none" stroke="${COLOURS[lib]}" stroke-width="2" points="${points.join(" ")}"/>`);
  for (const point of points) {
    const [px, py] = point.split(",");
    svg.push(`<circle cx="${px}" cy="${py}" r="3" fill="${COLOURS[lib]}"/>`);
  }
  svg.push(`<rect x="${W - M.right + 15}" y="${M.top + i * 22}" width="14" height="4" fill="${COLOURS[lib]}"/>`);
  svg.push(`<text x="${W - M.right + 35}" y="${M.top + i * 22 + 6}">${NAMES[lib]}</text>`);
}
svg.push("</svg>");
writeFileSync(svgPath, `${svg.join("\n")}\n`);
