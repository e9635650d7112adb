// Shared set-up for the npm package tests: a scratch project with the packed tarball installed
// as a user would install it, and a demo snapshot signed by the real `tessera` binary.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** What Chromium runs with here: no sandbox (root in a container), nothing that calls home. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through \`cargo xtask test\``);
  return value;
}

/** The packed tarball and the `tessera` binary, from `cargo xtask test`. */
export const tarball = () => required("TESSERA_TARBALL");
export const tessera = () => required("TESSERA_BIN");

/**
 * A fresh project with `tessera-policy` installed from the tarball; `files` are written into it,
 * and `links` (package names) are linked from the repository's own pinned `node_modules`.
 */
export function scratchProject(name, files = {}, { links = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${name}-`));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `scratch-${name}`, private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--silent", tarball()], {
    cwd: dir,
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (const link of links) {
    mkdirSync(dirname(join(dir, "node_modules", link)), { recursive: true });
    symlinkSync(join(root, "node_modules", link), join(dir, "node_modules", link), "dir");
  }
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** Signs the demo organisation with a fresh key; returns the snapshot and public key paths. */
export function signDemo(dir, { version = 1, scope } = {}) {
  const key = join(dir, "demo.key");
  execFileSync(tessera(), ["keygen", "--out", key, "--force"], { stdio: "ignore" });
  const snapshot = join(dir, `demo-${version}.snapshot.json`);
  const args = ["sign", join(root, "tests/demo/org.json"), "--key", key, "--version", String(version), "--out", snapshot];
  if (scope) args.push("--scope", scope);
  execFileSync(tessera(), args, { stdio: "ignore" });
  return { snapshot, publicKey: `${key}.pub`, key };
}

/** Signs the demo organisation again with an existing key. */
export function resign(dir, key, version) {
  const snapshot = join(dir, `demo-${version}.snapshot.json`);
  execFileSync(tessera(), ["sign", join(root, "tests/demo/org.json"), "--key", key, "--version", String(version), "--out", snapshot], {
    stdio: "ignore",
  });
  return snapshot;
}

/** Runs `node script` in `dir` and parses what it prints as JSON. */
export function runJson(dir, script) {
  return JSON.parse(execFileSync("node", [script], { cwd: dir, encoding: "utf8" }));
}

export const read = (path) => readFileSync(path, "utf8");

/**
 * A real `tessera serve` on a free loopback port: the demo organisation imported into a SQLite
 * database of its own, signed with `key`, serving `www`, with the demo's sign-in. Resolves once
 * it listens; `stop()` ends it.
 */
export async function startTessera({ key, www, dir }) {
  const database = `sqlite:${join(dir, "tessera.db")}`;
  execFileSync(tessera(), ["db", "import", join(root, "tests/demo/org.json"), "--database", database], { stdio: "ignore" });
  const child = spawn(
    tessera(),
    ["serve", "--database", database, "--key", key, "--www", www, "--addr", "127.0.0.1:0", "--auth", "demo", "--resync-secs", "1"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const url = await new Promise((resolveUrl, reject) => {
    let seen = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      seen += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(seen);
      if (match) resolveUrl(match[1]);
    });
    child.on("exit", (code) => reject(new Error(`tessera serve exited (${code}) before listening:\n${seen}`)));
  });
  async function token(user) {
    const response = await fetch(`${url}/api/demo/sign-in`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user }),
    });
    if (!response.ok) throw new Error(`sign-in refused: ${response.status}`);
    return (await response.json()).token;
  }
  /** `POST /api/admin/edits` as `user`; resolves to the answer's JSON. */
  async function edit(user, edits) {
    const response = await fetch(`${url}/api/admin/edits`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${await token(user)}` },
      body: JSON.stringify({ edits }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`the edit was refused: ${response.status} ${JSON.stringify(body)}`);
    return body;
  }
  return { url, token, edit, stop: () => child.kill() };
}
