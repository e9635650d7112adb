// A React app (Vite) built against the packed tarball, served by a real `tessera serve` and run
// in Debian's Chromium with playwright-core: `tessera-policy/client` and `tessera-policy/react`
// as a frontend developer uses them. Run by `cargo xtask test`.

import { test } from "node:test";
import assert from "node:assert/strict";

import { buildAndServe, statusBecomes } from "./apps.mjs";

const LONDON_CLIENTS_CREATE_TASKS = [
  { edit: "override_on", office: "o-lon", profile: "client", permission: "task.create" },
];
const LONDON_CLIENTS_DO_NOT = [
  { edit: "clear_override", office: "o-lon", profile: "client", permission: "task.create" },
];

/** The keys of every IndexedDB object store of the page's origin. */
async function storedKeys(page) {
  return page.evaluate(async () => {
    const keys = [];
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open(name);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      for (const store of db.objectStoreNames) {
        keys.push(
          ...(await new Promise((resolve) => {
            const request = db.transaction(store).objectStore(store).getAllKeys();
            request.onsuccess = () => resolve(request.result.map(String));
          })),
        );
      }
      db.close();
    }
    return keys;
  });
}

test("a React app keeps, verifies, refreshes and shares its policy", async () => {
  const { server, browser } = await buildAndServe("react-app", ["react", "react-dom", "scheduler"]);
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error));

  // First visit: fetched, verified, rendered.
  await page.goto(`${server.url}/?user=u-cleo`);
  const first = await statusBecomes(page, "ready network");
  const version = Number(first.split(" ")[2]);
  assert.ok(version > 1_700_000_000, first);
  assert.equal(await page.textContent("#create"), "cannot create tasks");
  assert.equal(await page.textContent("#why"), "denied profile_lacks_permission");
  assert.ok((await storedKeys(page)).some((key) => key.includes(" snapshot u-cleo")), "the snapshot is kept");

  // Reloaded with the issuer unreachable: it starts from the kept copy, verified again.
  await page.route("**/api/**", (route) => route.abort("internetdisconnected"));
  await page.reload();
  await page.waitForFunction(() => / cache /.test(document.getElementById("status")?.textContent ?? ""));
  assert.equal(await page.textContent("#create"), "cannot create tasks");
  await page.unroute("**/api/**");
  // Back online: confirmed by the issuer (a 304, so the copy is still the one from the cache).
  await page.evaluate(() => window.tesseraClient.refresh());
  assert.equal(await statusBecomes(page, "ready"), `ready cache ${version}`);

  // An administrator's edit reaches the open page without a reload.
  const old = await page.evaluate(async () => {
    const token = sessionStorage.getItem("token:u-cleo");
    return (await fetch("/api/snapshot", { headers: { Authorization: `Bearer ${token}` } })).text();
  });
  const edited = await server.edit("u-ellen", LONDON_CLIENTS_CREATE_TASKS);
  await page.waitForFunction(() => document.getElementById("create").textContent === "can create tasks", null, {
    timeout: 5_000,
  });
  assert.equal(await statusBecomes(page, "ready network"), `ready network ${edited.revision}`);

  // A tampered answer, then an older snapshot: refused, and the last good one stays.
  const tampered = old.replace(/"payload":"(.)/, (_, c) => `"payload":"${c === "A" ? "B" : "A"}`);
  for (const [body, reason] of [
    [tampered, "bad_signature"],
    [old, "rollback"],
  ]) {
    await page.route("**/api/snapshot", (route) =>
      route.fulfill({ status: 200, contentType: "application/json", headers: { ETag: `W/"${reason}"` }, body }),
    );
    await page.evaluate(() => window.tesseraClient.refresh());
    await page.waitForFunction((reason) => document.getElementById("status").textContent.endsWith(reason), reason);
    assert.equal(await page.textContent("#create"), "can create tasks", `after ${reason}`);
    await page.unroute("**/api/snapshot");
  }

  // Two tabs of one user: one event stream between them, and both update.
  const streams = new Map();
  const second = await context.newPage();
  for (const [name, tab] of [
    ["first", page],
    ["second", second],
  ]) {
    streams.set(name, 0);
    tab.on("request", (request) => {
      if (new URL(request.url()).pathname === "/api/events") streams.set(name, streams.get(name) + 1);
    });
  }
  await second.goto(`${server.url}/?user=u-cleo`);
  await statusBecomes(second, "ready");
  const back = await server.edit("u-ellen", LONDON_CLIENTS_DO_NOT);
  for (const tab of [page, second]) {
    await tab.waitForFunction(() => document.getElementById("create").textContent === "cannot create tasks", null, {
      timeout: 5_000,
    });
    assert.match(await statusBecomes(tab, "ready"), new RegExp(` ${back.revision}$`));
  }
  assert.equal(streams.get("second"), 0, "the second tab opened no event stream of its own");

  // Signing out (the other tab closed first: each tab has its own session) clears what belonged
  // to the user. Only the rollback floor stays, so that an older snapshot is refused next time.
  await second.close();
  await page.click("#sign-out");
  await statusBecomes(page, "signed_out");
  assert.equal(await page.textContent("#create"), "cannot create tasks");
  const left = await storedKeys(page);
  assert.ok(!left.some((key) => / (snapshot|confirmed) /.test(key)), `nothing of the user is kept: ${left}`);
  assert.ok(left.some((key) => key.includes(" floor u-cleo")), `the floor stays: ${left}`);
  assert.deepEqual(errors, []);
});
