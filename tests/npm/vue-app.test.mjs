// A Vue app (Vite) built against the packed tarball, served by a real `tessera serve` and run in
// Chromium: its first render and an administrator's edit arriving live. Run by `cargo xtask test`.

import { test } from "node:test";
import assert from "node:assert/strict";

import { buildAndServe, statusBecomes } from "./apps.mjs";

test("a Vue app renders its user's decisions and follows an edit live", async () => {
  const { server, browser } = await buildAndServe("vue-app", ["vue", "@vue"]);
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error));
  await page.goto(`${server.url}/?user=u-cleo`);
  await statusBecomes(page, "ready network");
  assert.equal(await page.textContent("#create"), "cannot create tasks");
  const edited = await server.edit("u-ellen", [
    { edit: "override_on", office: "o-lon", profile: "client", permission: "task.create" },
  ]);
  await page.waitForFunction(() => document.getElementById("create").textContent === "can create tasks", null, {
    timeout: 5_000,
  });
  assert.equal(await statusBecomes(page, "ready network"), `ready network ${edited.revision}`);
  assert.deepEqual(errors, []);
});
