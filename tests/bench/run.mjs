// The Node benchmark: tessera-policy against a hand-written baseline, CASL, casbin and Cedar, on
// one generated organisation (fixtures written by `tessera-bench fixtures`), every library
// checked for identical decisions before it is timed. `cargo xtask bench` runs it per scale.
//
//   node run.mjs check FIXTURES PACKAGE          identical decisions, or exit 1
//   node run.mjs bench FIXTURES PACKAGE SCALE    check, then time; JSON on stdout
//   node --expose-gc run.mjs load FIXTURES PACKAGE   load time and memory; JSON on stdout

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";

import { baseline, casbin, casl, cedar, model, rules, tessera, workload } from "./libraries.mjs";

const [mode, fixtures, packageDir, scale] = process.argv.slice(2);
const require = (await import("node:module")).createRequire(import.meta.url);

function read() {
  const org = JSON.parse(readFileSync(join(fixtures, "org.json"), "utf8"));
  const snapshot = readFileSync(join(fixtures, "snapshot.json"));
  const publicKey = readFileSync(join(fixtures, "key.pub"), "utf8");
  return { org, snapshot, publicKey };
}

/** Every library, built on the same organisation at the same clock. */
async function libraries(sizes) {
  const { org, snapshot, publicKey } = read();
  const now = Date.now();
  const work = workload(org, sizes);
  const m = model(org, now);
  const libs = {
    baseline: baseline(m, work.sample),
    rules: rules(m),
    tessera: tessera(packageDir, snapshot, publicKey, now, work.sample),
    casl: casl(m, work.sample),
    casbin: await casbin(m, work.sample),
    cedar: cedar(m, work.sample),
  };
  // The filter's user: the first of the sample who sees Projects by Office or Network.
  const filterUser = work.sample.find((id) => m.users.get(id).active && m.users.get(id).reach !== "team");
  return { libs, work, filterUser, org };
}

/** Identical decisions from every library (Cedar, a hundred times slower, on the first 2,000). */
function check({ libs, work, filterUser }) {
  const problems = [];
  for (const question of ["view", "createTask"]) {
    for (const [name, lib] of Object.entries(libs)) {
      if (name === "tessera") continue;
      const pairs = name === "cedar" ? work.pairs.slice(0, 2000) : work.pairs;
      let differ = 0;
      let first;
      for (const [user, project] of pairs) {
        if (lib[question](user, project) !== libs.tessera[question](user, project)) {
          differ++;
          first ??= `${user} ${project}: tessera ${libs.tessera[question](user, project)}`;
        }
      }
      if (differ > 0) problems.push(`${name} ${question}: ${differ} of ${pairs.length} differ (first: ${first})`);
    }
  }
  const got = libs.tessera.filter(filterUser, work.items);
  for (const name of ["baseline", "rules"]) {
    const expected = libs[name].filter(filterUser, work.items);
    if (expected.length !== got.length || expected.some((item, i) => item !== got[i])) {
      problems.push(`filter: tessera keeps ${got.length}, ${name} ${expected.length}`);
    }
  }
  const allowed = work.pairs.filter(([u, p]) => libs.tessera.view(u, p)).length;
  const created = work.pairs.filter(([u, p]) => libs.tessera.createTask(u, p)).length;
  return { problems, allowed, created, pairs: work.pairs.length, kept: got.length, results: work.items.length };
}

/** Nanoseconds per call of `fn` over `pairs`, `calls` calls. */
function time(fn, pairs, calls) {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const pair = pairs[i % pairs.length];
    if (fn(pair[0], pair[1])) sink++;
  }
  const elapsed = Number(process.hrtime.bigint() - start);
  if (sink < 0) console.log(sink);
  return elapsed / calls;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function bench() {
  const built = await libraries();
  const checked = check(built);
  if (checked.problems.length > 0) throw new Error(`decisions differ:\n${checked.problems.join("\n")}`);
  const { libs, work, filterUser } = built;
  const rounds = 7;
  const decisions = {};
  for (const question of ["view", "createTask"]) {
    const samples = Object.fromEntries(Object.keys(libs).map((name) => [name, []]));
    for (let round = 0; round <= rounds; round++) {
      for (const [name, lib] of Object.entries(libs)) {
        const calls = name === "cedar" ? 1_000 : 200_000;
        // Each library starts clean: no other's garbage is collected in its time.
        globalThis.gc?.();
        const ns = time(lib[question], work.pairs, calls);
        if (round > 0) samples[name].push(ns); // round 0 warms up
      }
    }
    decisions[question] = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, median(s)]));
  }
  const filter = { baseline: [], rules: [], tessera: [] };
  for (let round = 0; round <= rounds; round++) {
    for (const name of ["baseline", "rules", "tessera"]) {
      globalThis.gc?.();
      const start = process.hrtime.bigint();
      libs[name].filter(filterUser, work.items);
      if (round > 0) filter[name].push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  const installed = (name) => JSON.parse(readFileSync(join(import.meta.dirname, "../../node_modules", name, "package.json"), "utf8")).version;
  const versions = { node: process.version, ...Object.fromEntries(["@casl/ability", "casbin", "@cedar-policy/cedar-wasm"].map((name) => [name, installed(name)])) };
  const wasm = readFileSync(join(packageDir, "web/tessera_policy_bg.wasm"));
  const { gzipSync } = await import("node:zlib");
  return {
    scale,
    counts: { users: built.org.users.length, projects: built.org.projects.length },
    check: checked,
    decisions,
    filterMs: Object.fromEntries(Object.entries(filter).map(([name, ms]) => [name, median(ms)])),
    versions,
    wasm: { raw: wasm.length, gzip: gzipSync(wasm, { level: 9 }).length },
  };
}

/** Load and verify in a fresh process: time, and memory after load against the snapshot. */
function load() {
  // The module's memory is not exported by the package: catch it as the module is instantiated.
  let memory;
  const Instance = WebAssembly.Instance;
  WebAssembly.Instance = function (module, imports) {
    const instance = new Instance(module, imports);
    memory = instance.exports.memory;
    return instance;
  };
  // TESSERA_ENTRY=full/node measures the `full` build, which reads snapshots as a stream.
  const { PolicyEngine } = require(`${packageDir}/${process.env.TESSERA_ENTRY ?? "node"}/tessera_policy.js`);
  WebAssembly.Instance = Instance;
  const publicKey = readFileSync(join(fixtures, "key.pub"), "utf8");
  // Instantiate the module first (it is not the snapshot's cost), on a tiny call.
  try {
    PolicyEngine.load("{}", { trustedKeys: [publicKey] });
  } catch {}
  globalThis.gc();
  const wasmBefore = memory.buffer.byteLength;
  const before = process.memoryUsage();
  let bytes = readFileSync(join(fixtures, "snapshot.json"));
  const start = process.hrtime.bigint();
  const engine = PolicyEngine.load(bytes, { trustedKeys: [publicKey], maxBytes: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  bytes = null;
  globalThis.gc();
  const after = process.memoryUsage();
  const wasmGrowth = memory.buffer.byteLength - wasmBefore;
  const version = engine.info.version;
  // Then warm: the same load again, the module's code now compiled by V8's optimising tier (a
  // first load also pays for that; an app pays it once per page).
  engine.free();
  bytes = readFileSync(join(fixtures, "snapshot.json"));
  const warm = [];
  for (let round = 0; round < 5; round++) {
    globalThis.gc();
    const start = process.hrtime.bigint();
    const again = PolicyEngine.load(bytes, { trustedKeys: [publicKey], maxBytes: 1 << 30 });
    warm.push(Number(process.hrtime.bigint() - start) / 1e6);
    again.free();
  }
  warm.sort((a, b) => a - b);
  bytes = null;
  return {
    entry: process.env.TESSERA_ENTRY ?? "node",
    loadMs: ms,
    warmLoadMs: warm[2],
    snapshotBytes: statSync(join(fixtures, "snapshot.json")).size,
    orgJsonBytes: statSync(join(fixtures, "org.json")).size,
    // The WebAssembly memory is an ArrayBuffer: it shows in `arrayBuffers` (and never shrinks).
    memoryBytes: after.rss - before.rss,
    wasmMemoryBytes: wasmGrowth,
    version,
  };
}

if (mode === "check") {
  const built = await libraries({ users: 300, pairs: 20_000, results: 20_000 });
  const checked = check(built);
  console.log(JSON.stringify(checked));
  if (checked.problems.length > 0) process.exit(1);
} else if (mode === "bench") {
  console.log(JSON.stringify(await bench()));
} else if (mode === "load") {
  console.log(JSON.stringify(load()));
} else {
  console.error("usage: node run.mjs check|bench|load FIXTURES PACKAGE [SCALE]");
  process.exit(2);
}
