// The React, Vue and Svelte bindings (`tessera-policy/react`, `/vue`, `/svelte`) as an app meets
// them: the packed tarball installed in a scratch project beside the frameworks pinned in the
// root package.json, each binding driven by a fake client that keeps the store contract of
// `tessera-policy/client`. React and Vue render into happy-dom and on the server; the Svelte
// stores run without a compiler, on Svelte 5 and on Svelte 4. Run by `cargo xtask test`.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { build, createLogger } from "vite";

import { root, runJson, scratchProject } from "./support.mjs";

const FIXTURES = join(root, "tests/npm/bindings");

let dir;

/** Links `name` (or `from`) from the root's pinned tooling into `project`'s node_modules. */
function link(project, name, from = name) {
  const to = join(project, "node_modules", name);
  mkdirSync(join(to, ".."), { recursive: true });
  symlinkSync(join(root, "node_modules", from), to, "dir");
}

before(() => {
  dir = scratchProject("bindings");
  cpSync(FIXTURES, dir, { recursive: true });
  for (const name of ["react", "react-dom", "vue", "svelte", "happy-dom", "@types/react"]) link(dir, name);
  // Svelte 4 beside it: the same package, with `svelte` the pinned `svelte-4`.
  const svelte4 = join(dir, "svelte4");
  mkdirSync(join(svelte4, "node_modules"), { recursive: true });
  cpSync(join(dir, "node_modules/tessera-policy"), join(svelte4, "node_modules/tessera-policy"), { recursive: true });
  link(svelte4, "svelte", "svelte-4");
  for (const file of readdirSync(FIXTURES).filter((name) => name.endsWith(".mjs"))) cpSync(join(FIXTURES, file), join(svelte4, file));
});

test("React: the provider's hooks and <Can> follow the client, and the server renders its server snapshot", () => {
  const out = runJson(dir, "react.mjs");
  assert.match(out.react, /^19\./);
  // The server snapshot: loading, everything denied, the render prop told why.
  assert.match(out.server, /<p id="status">loading<\/p>/);
  assert.doesNotMatch(out.server, /id="create"/);
  assert.match(out.server, /<p id="project">hidden<\/p>/);
  assert.match(out.server, /<i>no tasks<\/i>/);
  assert.match(out.server, /t-1 false fake_denied/);

  assert.match(out.loading, /<p id="status">loading<\/p>/);
  assert.match(out.loading, /<ul><\/ul>/);
  assert.ok(out.listenersMounted > 0, "mounted components subscribe");

  assert.match(out.ready, /<p id="status">ready<\/p>/);
  assert.match(out.ready, /<button id="create">New task<\/button>/);
  assert.match(out.ready, /<p id="project">visible<\/p>/);
  assert.match(out.ready, /<ul><li>p-rebrand<\/li><li>t-1<\/li><\/ul>/);
  assert.match(out.ready, /<p id="version">u-ada@1<\/p>/);
  assert.match(out.ready, /<b>tasks<\/b>no t-2/);
  assert.match(out.ready, /<em>t-1 true allowed<\/em>/, "the render prop gets the decision and its explanation");
  assert.match(out.ready, /<em>announce false fake_denied: the fake denies \{"can":"announce"\}<\/em>/);

  assert.match(out.versionOnly, /<p id="version">u-ada@2<\/p>/, "usePolicy re-renders on every change");
  assert.deepEqual(out.rerendersOnVersion, { status: 0, create: 0 }, "useCan and usePolicyStatus re-render only when their answer changes");
  assert.equal(out.filterCallsOnVersion, 0, "useFilter is memoised on items and view");
  assert.equal(out.sameFilteredArray, true);

  assert.match(out.stale, /<p id="status">stale<\/p>/);
  assert.doesNotMatch(out.stale, /id="create"/);
  assert.match(out.stale, /<ul><li>t-2<\/li><\/ul>/);
  assert.match(out.stale, /<i>no tasks<\/i>t-2/);

  assert.equal(out.listenersUnmounted, 0, "unmounting unsubscribes");
  assert.deepEqual(out.hydrationErrors, [], "hydration starts from the server snapshot: no mismatch");
  assert.match(out.hydrated, /<button id="create">New task<\/button>/, "then renders the client's state");
  assert.match(out.noProvider, /no <PolicyProvider/);
});

test("Vue: usePolicy is a shallowRef of the client's state, the composables computeds of it, and the server renders its server snapshot", () => {
  const out = runJson(dir, "vue.mjs");
  assert.match(out.vue, /^3\./);
  assert.match(out.loading, /<p id="status">loading<\/p>/);
  assert.doesNotMatch(out.loading, /id="create"/);
  assert.ok(out.listenersMounted > 0, "a mounted component subscribes");

  assert.match(out.ready, /<p id="status">ready<\/p><button id="create">New task<\/button><p id="project">visible<\/p>/);
  assert.match(out.ready, /<ul><li>p-rebrand<\/li><li>t-1<\/li><\/ul><p id="version">u-ada@1<\/p>/);
  assert.match(out.versionOnly, /u-ada@2/);
  assert.doesNotMatch(out.otherPermission, /id="create"/, "a ref argument is followed");
  assert.match(out.stale, /<p id="status">stale<\/p><!----><p id="project">hidden<\/p><ul><li>t-2<\/li><\/ul>/);
  assert.equal(out.listenersUnmounted, 0, "the subscription ends with the component's scope");

  assert.match(out.provided, /<button id="create">New task<\/button>/, "providePolicy provides to descendants");
  assert.equal(out.providedListenersUnmounted, 0);

  assert.match(out.server, /<p id="status">loading<\/p>/);
  assert.doesNotMatch(out.server, /id="create"/);
  assert.match(out.server, /<ul><\/ul><p id="version">null@null<\/p>/);
  assert.equal(out.serverListeners, 0, "server rendering does not subscribe");
  assert.match(out.noClient, /no client provided/);
});

for (const [name, project, major] of [
  ["Svelte 5", () => dir, "5"],
  ["Svelte 4", () => join(dir, "svelte4"), "4"],
]) {
  test(`${name}: the derived stores follow the client and tell only of changes`, () => {
    const out = runJson(project(), "svelte.mjs");
    assert.equal(out.svelte.split(".")[0], major);
    assert.ok(out.listenersSubscribed > 0);
    assert.deepEqual(out.values.status, ["loading", "ready", "stale"], "a version alone changes no status");
    assert.deepEqual(out.values.create, [false, true, false]);
    assert.deepEqual(out.values.announce, [false]);
    assert.deepEqual(out.values.project, [false, true, false]);
    assert.deepEqual(out.values.list, [[], ["t-1"], ["t-1"], ["t-2"]]);
    assert.deepEqual(out.values.storeList, [[], ["p-rebrand", "t-1"], ["p-rebrand", "t-1"], ["p-rebrand", "t-1", "p-rebrand"], ["t-2"]]);
    assert.deepEqual(out.values.version, [null, 1, 2]);
    assert.equal(out.current, "stale", "`get(client)` reads the client as a store");
    assert.equal(out.listenersUnsubscribed, 0, "the last unsubscriber ends the subscription to the client");
  });
}

test("the bindings' types type-check a TypeScript app of each (nodenext and bundler resolution)", () => {
  const tsc = join(root, "node_modules/.bin/tsc");
  for (const [module, moduleResolution] of [
    ["nodenext", "nodenext"],
    ["esnext", "bundler"],
  ]) {
    const config = `tsconfig.${moduleResolution}.json`;
    const compilerOptions = { strict: true, noEmit: true, module, moduleResolution, target: "es2022", lib: ["es2022", "dom"], types: [], jsx: "react-jsx" };
    writeFileSync(join(dir, config), JSON.stringify({ compilerOptions, files: ["consumer.tsx"] }));
    execFileSync(tsc, ["-p", config], { cwd: dir, stdio: "inherit" });
  }
});

test("Vite bundles an app of all three bindings without a warning", async () => {
  const warnings = [];
  const logger = createLogger("warn");
  const customLogger = { ...logger, warn: (message) => warnings.push(message), warnOnce: (message) => warnings.push(message) };
  await build({ root: join(dir, "vite"), configFile: false, customLogger, build: { outDir: join(dir, "vite/dist") } });
  assert.deepEqual(warnings, []);
});
