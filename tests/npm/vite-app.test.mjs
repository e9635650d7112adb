// A Vite app consumes the packed tarball through the `bundler` build; it is built, served on
// 127.0.0.1, opened in Debian's Chromium with playwright-core, and the decisions it shows are
// checked. Run by `cargo xtask test`.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import { build, preview } from "vite";
import wasm from "vite-plugin-wasm";
import { chromium } from "playwright-core";

import { CHROMIUM_ARGS, root, scratchProject, signDemo } from "./support.mjs";


const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("a Vite app shows the decisions of the bundler build", async () => {
  const dir = scratchProject("vite-app");
  cpSync(join(root, "tests/npm/vite-app"), dir, { recursive: true });
  const { snapshot, publicKey } = signDemo(dir, { version: 3 });
  mkdirSync(join(dir, "public"), { recursive: true });
  copyFileSync(snapshot, join(dir, "public/snapshot.json"));
  copyFileSync(publicKey, join(dir, "public/key.pub"));

  const config = {
    root: dir,
    configFile: false,
    logLevel: "warn",
    plugins: [wasm()],
    build: { target: "esnext", outDir: join(dir, "dist") },
    preview: { host: "127.0.0.1", port: 0, strictPort: false },
  };
  await build(config);
  const server = await preview(config);
  cleanups.push(() => new Promise((resolve) => server.httpServer.close(resolve)));
  const url = server.resolvedUrls.local[0];

  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error));
  await page.goto(url);
  await page.waitForFunction(() => !document.getElementById("status").textContent.startsWith("loading"));
  mkdirSync(join(root, "target/e2e"), { recursive: true });
  await page.screenshot({ path: join(root, "target/e2e/npm-vite-app.png") });

  assert.equal(await page.textContent("#status"), "ready: snapshot version 3 from tessera");
  const rows = await page.$$eval("#decisions tr", (rows) => rows.map((row) => [...row.cells].map((cell) => cell.textContent)));
  const answers = rows.map(([user, , answer, code]) => `${user} ${answer} ${code}`);
  assert.deepEqual(answers, [
    "u-ada allowed profile_grants",
    "u-cleo denied profile_lacks_permission",
    "u-bob denied not_on_team",
    "u-bob allowed on_team",
    "u-ada denied firewall",
    "u-nobody denied unknown_user",
  ]);
  assert.deepEqual(errors, []);
});
