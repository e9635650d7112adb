// The package's fast path for questions about Projects (crates/wasm/js/fast.js) against the
// general evaluator, as a user meets both: every demo user, Project and question through
// canView, can, filter and filterIds, checked against `explain(...).allowed`; across an update
// (remembered Project indices go stale); at a snapshot's expiry (the clock is read again).

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { root, scratchProject, signDemo, tessera } from "./support.mjs";

const CONSUMER = `
import { readFileSync } from "node:fs";
import { PolicyEngine } from "tessera-policy";

const org = JSON.parse(readFileSync("org.json", "utf8"));
const trustedKeys = [readFileSync("demo.key.pub", "utf8")];
const mode = process.argv[2];
const slow = (view, query) => view.explain(query).allowed;

function compare(engine, label) {
  const problems = [];
  const users = [...org.users.map((u) => u.id), "u-nobody"];
  const projects = [...org.projects.map((p) => p.id), "p-missing", "p-with\\nnewline"];
  for (const user of users) {
    const view = engine.forUser(user);
    const items = [];
    for (const project of projects) {
      const cases = [
        [view.canView("project", project), { view: "project", id: project }],
        [view.canView("task", "t-1", project), { view: "task", id: "t-1", project }],
        [view.canView("document", "d-1", project), { view: "document", id: "d-1", project }],
        [view.canView("report", "r-1", project), { view: "report", id: "r-1", project }],
        [view.canView("finance", "f-1", project), { view: "finance", id: "f-1", project }],
        [view.canView("project", project, project), { view: "project", id: project, project }],
        [view.canView("task", "t-1"), { view: "task", id: "t-1" }],
      ];
      for (const permission of ["task.create", "file.upload", "wiki.manage", "reports.view"]) {
        cases.push([view.can(permission, { project }), { can: permission, target: { project } }]);
        cases.push([view.can(permission, { project, group: undefined }), { can: permission, target: { project } }]);
      }
      for (const [fast, query] of cases) {
        const expected = slow(view, query);
        if (fast !== expected) problems.push(\`\${label} \${user} \${JSON.stringify(query)}: \${fast}, expected \${expected}\`);
      }
      items.push({ kind: "project", id: project }, { kind: "task", id: "t-2", project }, { kind: "report", id: "r-2", project });
      items.push({ kind: "project", id: project, project }, { kind: "finance", id: "f-2" }, { kind: "widget", id: project });
    }
    items.push({ kind: "person", id: "u-bob" }, { kind: "person", id: "u-bob", project: "p-rebrand" }, { kind: "group", id: "g-design" }, null, 7, { id: "x" });
    const filtered = view.filter(items);
    const expected = items.filter((item) => {
      if (item === null || typeof item !== "object" || typeof item.kind !== "string" || typeof item.id !== "string") return false;
      const query = { view: item.kind, id: item.id, ...(typeof item.project === "string" ? { project: item.project } : {}) };
      return ["project", "task", "document", "report", "finance", "person", "group"].includes(item.kind) && slow(view, query);
    });
    if (filtered.length !== expected.length || filtered.some((item, i) => item !== expected[i])) {
      problems.push(\`\${label} \${user} filter: \${filtered.length} kept, expected \${expected.length}\`);
    }
    const ids = view.filterIds("project", projects);
    const expectedIds = projects.filter((id) => slow(view, { view: "project", id }));
    if (JSON.stringify(ids) !== JSON.stringify(expectedIds)) problems.push(\`\${label} \${user} filterIds: \${ids}\`);
    const tasks = view.filterIds("task", ["t-1", "t-2"], "p-rebrand");
    if (tasks.length !== (slow(view, { view: "task", id: "t-1", project: "p-rebrand" }) ? 2 : 0)) problems.push(\`\${label} \${user} filterIds task\`);
    if (view.filterIds("widget", ["p-rebrand"]).length !== 0) problems.push(\`\${label} \${user} filterIds widget\`);
  }
  return problems;
}

const out = {};
if (mode === "compare") {
  const engine = PolicyEngine.load(readFileSync("demo-1.snapshot.json"), { trustedKeys });
  out.before = compare(engine, "v1");
  const cleo = engine.forUser("u-cleo");
  out.cleoBefore = cleo.can("task.create", { project: "p-rebrand" });
  try {
    cleo.can("task.create", { project: "p-rebrand", colour: null });
    out.unknownField = "accepted";
  } catch (error) {
    out.unknownField = error.code;
  }
  engine.update(readFileSync("demo-2.snapshot.json"));
  out.cleoAfter = cleo.can("task.create", { project: "p-rebrand" });
  out.after = compare(engine, "v2");
} else {
  // A snapshot that expires in a second or two: allowed now, denied after.
  const engine = PolicyEngine.load(readFileSync("short.snapshot.json"), { trustedKeys });
  const ada = engine.forUser("u-ada");
  out.beforeExpiry = [ada.canView("project", "p-rebrand"), ada.can("task.create", { project: "p-rebrand" })];
  await new Promise((resolve) => setTimeout(resolve, 2500));
  out.afterExpiry = [ada.canView("project", "p-rebrand"), ada.can("task.create", { project: "p-rebrand" }), ada.filter([{ kind: "project", id: "p-rebrand" }]).length];
  out.code = ada.explain({ view: "project", id: "p-rebrand" }).code;
}
console.log(JSON.stringify(out));
`;

let dir;

before(() => {
  dir = scratchProject("fast-path", { "fast.mjs": CONSUMER });
  const { key } = signDemo(dir, { version: 1 });
  const org = JSON.parse(readFileSync(join(root, "tests/demo/org.json"), "utf8"));
  writeFileSync(join(dir, "org.json"), JSON.stringify(org));
  // Version 2: London lets clients create tasks.
  const london = org.offices.find((office) => office.id === "o-lon");
  london.overrides = { ...london.overrides, client: { ...(london.overrides?.client ?? {}), "task.create": true } };
  writeFileSync(join(dir, "org-2.json"), JSON.stringify(org));
  const sign = (file, out, ...extra) =>
    execFileSync(tessera(), ["sign", join(dir, file), "--key", key, "--out", join(dir, out), ...extra], { stdio: "ignore" });
  sign("org-2.json", "demo-2.snapshot.json", "--version", "2");
  sign("org.json", "short.snapshot.json", "--version", "3", "--expires-in", "2s");
});

const run = (mode) => JSON.parse(execFileSync("node", ["fast.mjs", mode], { cwd: dir, encoding: "utf8" }));

test("the fast path decides as the general evaluator, before and after an update", () => {
  const out = run("compare");
  assert.deepEqual(out.before, []);
  assert.deepEqual(out.after, []);
  assert.equal(out.cleoBefore, false);
  assert.equal(out.cleoAfter, true, "a view asks the new snapshot after an update");
  assert.equal(out.unknownField, "invalid_query", "a malformed target still throws");
});

test("the fast path honours the snapshot's expiry", () => {
  const out = run("expiry");
  assert.deepEqual(out.beforeExpiry, [true, true]);
  assert.deepEqual(out.afterExpiry, [false, false, 0]);
  assert.equal(out.code, "snapshot_expired");
});
