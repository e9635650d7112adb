// Shared by the app tests (react-app, vue-app): an app of `tests/npm/<name>` built with Vite
// against the packed tarball, served by a real `tessera serve`, and a Chromium to open it in.

import { after } from "node:test";
import { cpSync, copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";

import { build } from "vite";
import wasm from "vite-plugin-wasm";
import { chromium } from "playwright-core";

import { CHROMIUM_ARGS, root, scratchProject, startTessera, tessera } from "./support.mjs";

const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Builds the app in `tests/npm/<name>` against the tarball, and serves it from a real issuer. */
export async function buildAndServe(name, links) {
  const dir = scratchProject(name, {}, { links });
  cpSync(join(root, "tests/npm", name), dir, { recursive: true });
  const key = join(dir, "server.key");
  execFileSync(tessera(), ["keygen", "--out", key], { stdio: "ignore" });
  mkdirSync(join(dir, "public"), { recursive: true });
  copyFileSync(`${key}.pub`, join(dir, "public/key.pub"));
  await build({
    root: dir,
    configFile: false,
    logLevel: "warn",
    plugins: [wasm()],
    build: { target: "esnext", outDir: join(dir, "dist") },
  });
  const server = await startTessera({ key, www: join(dir, "dist"), dir });
  cleanups.push(() => server.stop());
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  cleanups.push(() => browser.close());
  return { server, browser };
}

/** What the page says, once `#status` starts with `prefix`. */
export async function statusBecomes(page, prefix, timeout = 10_000) {
  await page.waitForFunction((prefix) => document.getElementById("status")?.textContent.startsWith(prefix), prefix, {
    timeout,
  });
  return page.textContent("#status");
}

