// The npm package as a user meets it: installed from the packed tarball, imported as ESM and as
// CommonJS, type-checked, linted, and within its size budget. Run by `cargo xtask test`.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { writeFileSync } from "node:fs";
import { root, scratchProject, signDemo, resign, runJson, tarball, tessera } from "./support.mjs";

/** The budget for the WebAssembly module, gzip: Cedar's is 1,409 KB, Biscuit's 730 KB. */
const BUDGET_GZIP_BYTES = 150 * 1000;
/** The budget for `tessera-policy/client` on top of the engine, idb-keyval included: its
 * JavaScript bundled and minified as an app's bundler ships it, gzip. */
const CLIENT_BUDGET_GZIP_BYTES = 6 * 1000;

/** The budget for each framework binding (`tessera-policy/react`, `/vue`, `/svelte`), gzip. */
const BINDING_BUDGET_GZIP_BYTES = 2 * 1000;

let dir;
let signed;

const ESM_CONSUMER = `
import { readFileSync } from "node:fs";
import { PolicyEngine, VersionStore, isTesseraError } from "tessera-policy";

const snapshot = readFileSync("demo-5.snapshot.json");
const trustedKeys = [readFileSync("demo.key.pub", "utf8")];
const engine = PolicyEngine.load(snapshot, { trustedKeys });
const ada = engine.forUser("u-ada");
const cleo = engine.forUser("u-cleo");
const bob = engine.forUser("u-bob");
const out = {
  info: engine.info,
  adaCreatesTask: ada.can("task.create", { project: "p-rebrand" }),
  cleoCreatesTask: cleo.can("task.create", { project: "p-rebrand" }),
  cleoExplained: cleo.explain({ can: "task.create", target: { project: "p-rebrand" } }),
  bobSeesRebrand: bob.canView("project", "p-rebrand"),
  bobProjects: bob.visibleProjects(),
  filtered: ada.filter([
    { kind: "project", id: "p-rebrand", title: "kept" },
    { kind: "task", id: "t-1", project: "p-rebrand" },
    { kind: "task", id: "t-2", project: "p-nyc-app" },
    { kind: "person", id: "u-bob" },
    { kind: "person", id: "u-iris" },
  ]),
  filteredIds: ada.filterIds("project", ["p-rebrand", "p-nyc-app", "p-missing"]),
  adaPermissions: ada.permissions(),
  nobody: engine.forUser("u-nobody").explain({ view: "project", id: "p-rebrand" }),
};

// A tampered snapshot throws a TesseraError, and a failed update keeps the engine as it was.
const tampered = Buffer.from(readFileSync("demo-6.snapshot.json"));
tampered[Math.floor(tampered.length / 2)] ^= 1;
try {
  engine.update(tampered);
  out.tampered = "accepted";
} catch (error) {
  out.tampered = { isTesseraError: isTesseraError(error), name: error.name, code: error.code };
}
out.versionAfterTamper = engine.info.version;
try {
  engine.update(readFileSync("demo-4.snapshot.json"));
} catch (error) {
  out.rollback = error.code;
}
out.versionAfterUpdate = engine.update(readFileSync("demo-6.snapshot.json")).version;
try {
  PolicyEngine.load(snapshot, { trustedKeys: ["tessera-ed25519-public:AAAA"] });
} catch (error) {
  out.badKey = error.code;
}
const store = new VersionStore();
store.load(readFileSync("demo-6.snapshot.json"), { trustedKeys });
try {
  store.load(snapshot, { trustedKeys });
} catch (error) {
  out.storeRollback = error.code;
}
console.log(JSON.stringify(out));
`;

const FULL_CONSUMER = `
import { readFileSync } from "node:fs";
import { PolicyEngine } from "tessera-policy/full";
import { PolicyEngine as LeanEngine } from "tessera-policy";

const trustedKeys = [readFileSync("demo.key.pub", "utf8")];
const before = PolicyEngine.load(readFileSync("demo-6.snapshot.json"), { trustedKeys });
const after = PolicyEngine.load(readFileSync("demo-7.snapshot.json"), { trustedKeys });
const query = { can: "task.create", target: { project: "p-rebrand" } };
console.log(JSON.stringify({
  impact: before.diff(after),
  unchanged: before.diff(before),
  explained: before.forUser("u-cleo").explain(query),
  lean: LeanEngine.load(readFileSync("demo-6.snapshot.json"), { trustedKeys }).forUser("u-cleo").explain(query),
}));
`;

const CJS_CONSUMER = `
const { readFileSync } = require("node:fs");
const { PolicyEngine } = require("tessera-policy");
const engine = PolicyEngine.load(readFileSync("demo-5.snapshot.json", "utf8"), {
  trustedKeys: [readFileSync("demo.key.pub", "utf8")],
});
console.log(JSON.stringify({ version: engine.info.version, ada: engine.forUser("u-ada").canView("project", "p-rebrand") }));
`;

const TS_CONSUMER = `
import { PolicyEngine, VersionStore, isTesseraError } from "tessera-policy";
import type { Decision, LoadOptions, Query, SnapshotInfo, Target, TesseraError } from "tessera-policy";
import { PolicyEngine as FullEngine } from "tessera-policy/full";
import type { Impact } from "tessera-policy/full";
import { createPolicyClient, memoryStorage } from "tessera-policy/client";
import type { PolicyClient, PolicyState } from "tessera-policy/client";

declare const bytes: Uint8Array;
const options: LoadOptions = { trustedKeys: ["tessera-ed25519-public:..."], minVersion: 3, now: new Date() };
const engine: PolicyEngine = PolicyEngine.load(bytes, options);
const info: SnapshotInfo = engine.info;
const version: number = info.version;
const view = engine.forUser("u-ada");
const target: Target = { project: "p-rebrand" };
const allowed: boolean = view.can("task.create", target) && view.canView("task", "t-1", "p-rebrand");
const query: Query = { view: "person", id: "u-bob" };
const decision: Decision = view.explain(query);
const code: string = decision.code;
const items = view.filter([{ kind: "task" as const, id: "t-1", project: "p-rebrand", title: "Brief" }]);
const title: string = items[0].title;
const ids: string[] = view.filterIds("project", ["p-1"]);
const permissions: Record<string, boolean> = view.permissions();
try {
  engine.update("...", { minVersion: version });
} catch (error) {
  if (isTesseraError(error)) {
    const failure: TesseraError = error;
    console.log(failure.code, allowed, code, title, ids, permissions);
  }
}
new VersionStore(undefined, "my-app").minVersion("tessera");
const full = FullEngine.load(bytes, options);
const impact: Impact = full.diff(FullEngine.load(bytes, options));
const gained: string[] | undefined = impact.users[0]?.gained.projects;
console.log(gained, full.forUser("u-1").explain(query).grants?.[0]?.edits[0]?.edit);
const policy: PolicyClient = createPolicyClient({
  url: "https://issuer.example",
  trustedKeys: ["tessera-ed25519-public:..."],
  getToken: async () => "token",
  storage: memoryStorage(),
  maxAge: 3600,
  activateOnLoad: false,
  locks: null,
});
const unsubscribe: () => void = policy.subscribe((state: PolicyState) => {
  const reason: string | undefined = state.lastError?.reason;
  const may: boolean = state.view.can("task.create", { project: "p-rebrand" }) && state.view.canView("project", "p-1");
  console.log(reason, may, state.status === "stale", state.view.filter([{ id: 1 }])[0]?.id);
});
unsubscribe();
policy.getServerSnapshot().view.explain({ view: "project", id: "p-1" }).code;
// @ts-expect-error: a status the contract does not have
policy.getSnapshot().status === "offline";
// @ts-expect-error: not a resource kind
view.canView("widget", "w-1");
// @ts-expect-error: a query is a view or a permission
view.explain({ id: "p-1" });
`;

before(() => {
  dir = scratchProject("package", {
    "esm.mjs": ESM_CONSUMER,
    "cjs.cjs": CJS_CONSUMER,
    "full.mjs": FULL_CONSUMER,
    "consumer.ts": TS_CONSUMER,
    "tsconfig.json": JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022", "dom"], types: [] },
      files: ["consumer.ts"],
    }),
    "tsconfig.bundler.json": JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: "esnext", moduleResolution: "bundler", target: "es2022", lib: ["es2022", "dom"], types: [] },
      files: ["consumer.ts"],
    }),
  });
  signed = signDemo(dir, { version: 5 });
  resign(dir, signed.key, 4);
  resign(dir, signed.key, 6);
  // The next version of the demo organisation: London lets clients create tasks.
  const org = JSON.parse(readFileSync(join(root, "tests/demo/org.json"), "utf8"));
  const london = org.offices.find((office) => office.id === "o-lon");
  london.overrides = { ...london.overrides, client: { ...(london.overrides?.client ?? {}), "task.create": true } };
  writeFileSync(join(dir, "org-next.json"), JSON.stringify(org));
  execFileSync(tessera(), ["sign", join(dir, "org-next.json"), "--key", signed.key, "--version", "7", "--out", join(dir, "demo-7.snapshot.json")], {
    stdio: "ignore",
  });
});

test("imported as ESM, it verifies a snapshot signed by `tessera sign` and decides", () => {
  const out = runJson(dir, "esm.mjs");
  assert.equal(out.info.version, 5);
  assert.equal(out.info.issuer, "tessera");
  assert.equal(out.info.scope, "org");
  assert.match(out.info.keyId, /^[0-9a-f]{16}$/);
  assert.equal(out.adaCreatesTask, true, "a Project Manager on the team creates tasks");
  assert.equal(out.cleoCreatesTask, false, "a Client on the same team does not");
  assert.equal(out.cleoExplained.allowed, false);
  assert.equal(out.cleoExplained.code, "profile_lacks_permission");
  assert.match(out.cleoExplained.message, /client/);
  assert.ok(out.cleoExplained.facts.some((fact) => fact.fact === "network_default"));
  assert.equal(out.bobSeesRebrand, false, "an alien user sees only host projects whose team they are on");
  assert.ok(out.bobProjects.includes("p-lon-website"));
  assert.deepEqual(
    out.filtered.map((item) => item.id),
    ["p-rebrand", "t-1", "u-bob"],
  );
  assert.equal(out.filtered[0].title, "kept", "filter returns the caller's own objects");
  assert.deepEqual(out.filteredIds, ["p-rebrand"]);
  assert.equal(out.adaPermissions["project.create"], true);
  assert.equal(out.adaPermissions["network.manage"], false);
  assert.equal(out.nobody.code, "unknown_user");
});

test("load and update failures throw TesseraErrors with stable codes; updates are atomic", () => {
  const out = runJson(dir, "esm.mjs");
  assert.equal(out.tampered.isTesseraError, true);
  assert.equal(out.tampered.name, "TesseraError");
  assert.ok(["bad_signature", "malformed_envelope"].includes(out.tampered.code), out.tampered.code);
  assert.equal(out.versionAfterTamper, 5, "a failed update keeps the old snapshot");
  assert.equal(out.rollback, "rollback");
  assert.equal(out.versionAfterUpdate, 6);
  assert.equal(out.badKey, "invalid_key");
  assert.equal(out.storeRollback, "rollback", "the version store refuses an older snapshot after a reload");
});

test("the full build says what a new snapshot changes, and what would grant a denial", () => {
  const out = runJson(dir, "full.mjs");
  assert.deepEqual(out.unchanged, { users: [] });
  const cleo = out.impact.users.find((user) => user.user === "u-cleo");
  assert.ok(cleo, "Cleo, a London client, gains task creation");
  assert.ok(
    cleo.gained.permissions.some((query) => query.can === "task.create" && query.target.project === "p-rebrand"),
    JSON.stringify(cleo),
  );
  assert.ok(out.impact.users.every((user) => Object.keys(user.lost).length === 0), "nothing is lost");
  assert.equal(out.explained.allowed, false);
  assert.ok(out.explained.grants.length > 0, "a denial lists what would allow it");
  assert.ok(out.explained.grants[0].edits.some((edit) => edit.edit === "override_on"), JSON.stringify(out.explained.grants));
  assert.equal(out.lean.grants, undefined, "the default build does not carry suggestions");
});

test("required as CommonJS, it works the same", () => {
  const out = runJson(dir, "cjs.cjs");
  assert.deepEqual(out, { version: 5, ada: true });
});

test("the packed types type-check a TypeScript consumer (nodenext and bundler resolution)", () => {
  const tsc = join(root, "node_modules/.bin/tsc");
  for (const project of ["tsconfig.json", "tsconfig.bundler.json"]) {
    execFileSync(tsc, ["-p", project], { cwd: dir, stdio: "inherit" });
  }
});

test("publint finds no problem", () => {
  const output = execFileSync(join(root, "node_modules/.bin/publint"), ["--strict", join(root, "target/npm/tessera-policy")], {
    encoding: "utf8",
  });
  assert.doesNotMatch(output, /warning|error|suggestion/i, output);
});

test("are the types wrong? no", () => {
  const attw = join(root, "node_modules/.bin/attw");
  // The main entry and the Node build: every rule.
  execFileSync(attw, [tarball(), "--entrypoints", ".", "node", "full", "package.json"], { stdio: "inherit" });
  // The web and bundler builds are ESM by nature (`import.meta.url`, ESM-integrated wasm), so
  // `require` of them resolving to ESM is by design; every other rule holds.
  // So are the client and the framework bindings, plain ESM like the frameworks they bind.
  execFileSync(attw, [tarball(), "--entrypoints", "web", "bundler", "full/web", "client", "react", "vue", "svelte", "--ignore-rules", "cjs-resolves-to-esm"], {
    stdio: "inherit",
  });
});

test(`the WebAssembly module is within its budget of ${BUDGET_GZIP_BYTES / 1000} KB gzip`, () => {
  const module = readFileSync(join(dir, "node_modules/tessera-policy/web/tessera_policy_bg.wasm"));
  const gzip = gzipSync(module, { level: 9 }).length;
  console.log(`tessera_policy_bg.wasm: ${module.length} bytes raw, ${gzip} bytes gzip`);
  assert.ok(gzip <= BUDGET_GZIP_BYTES, `${gzip} bytes gzip is over the budget of ${BUDGET_GZIP_BYTES}`);
});

test(`each framework binding is within its budget of ${BINDING_BUDGET_GZIP_BYTES / 1000} KB gzip`, () => {
  for (const binding of ["react", "vue", "svelte"]) {
    const code = readFileSync(join(dir, `node_modules/tessera-policy/${binding}.js`));
    const gzip = gzipSync(code, { level: 9 }).length;
    console.log(`tessera-policy/${binding}: ${code.length} bytes raw, ${gzip} bytes gzip`);
    assert.ok(gzip <= BINDING_BUDGET_GZIP_BYTES, `tessera-policy/${binding}: ${gzip} bytes gzip is over the budget of ${BINDING_BUDGET_GZIP_BYTES}`);
  }
});

test(`the client is within its budget of ${CLIENT_BUDGET_GZIP_BYTES / 1000} KB gzip on top of the engine`, async () => {
  const { build } = await import(join(root, "node_modules/rolldown/dist/index.mjs"));
  const result = await build({
    input: join(dir, "node_modules/tessera-policy/client/index.js"),
    external: ["tessera-policy"],
    write: false,
    logLevel: "silent",
    output: { format: "esm", minify: true },
  });
  const code = result.output.map((chunk) => chunk.code ?? "").join("");
  assert.match(code, /idb-keyval|indexedDB/, "idb-keyval is bundled in");
  const gzip = gzipSync(Buffer.from(code), { level: 9 }).length;
  const unminified = gzipSync(readFileSync(join(dir, "node_modules/tessera-policy/client/index.js")), { level: 9 }).length;
  console.log(`tessera-policy/client: ${code.length} bytes minified with idb-keyval, ${gzip} bytes gzip (client alone unminified: ${unminified} gzip)`);
  assert.ok(gzip <= CLIENT_BUDGET_GZIP_BYTES, `${gzip} bytes gzip is over the budget of ${CLIENT_BUDGET_GZIP_BYTES}`);
});
