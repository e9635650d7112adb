// The app's byte budget (issue 24): the WebAssembly every user loads, gzip -9, as the npm
// module's size test holds its own. Modules loaded only when a page needs them (the admin
// page, the impact preview: `pkg/*.wasm` beside the main one, if the build splits) are
// counted apart and not held to it.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";

/** The budget for the module every user loads, gzip, in bytes. */
const BUDGET_GZIP_BYTES = 250_000;

const site = process.env.TESSERA_SITE;

test(`the app's WebAssembly that every user loads is within ${BUDGET_GZIP_BYTES / 1000} KB gzip`, { skip: !site }, () => {
  const pkg = join(site, "pkg");
  const main = readFileSync(join(pkg, "tessera_app_bg.wasm"));
  const gzip = gzipSync(main, { level: 9 }).length;
  const lazy = readdirSync(pkg)
    .filter((name) => name.endsWith(".wasm") && name !== "tessera_app_bg.wasm")
    .map((name) => ({ name, gzip: gzipSync(readFileSync(join(pkg, name)), { level: 9 }).length }));
  console.log(`app wasm: ${main.length} bytes raw, ${gzip} bytes gzip -9; loaded when needed: ${JSON.stringify(lazy)}`);
  assert.ok(gzip <= BUDGET_GZIP_BYTES, `${gzip} bytes gzip is over the budget of ${BUDGET_GZIP_BYTES}`);
});
