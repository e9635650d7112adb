// Shared set-up for the npm package tests: a scratch project with the packed tarball installed
// as a user would install it, and a demo snapshot signed by the real `tessera` binary.

import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through \`cargo xtask test\``);
  return value;
}

/** The packed tarball and the `tessera` binary, from `cargo xtask test`. */
export const tarball = () => required("TESSERA_TARBALL");
export const tessera = () => required("TESSERA_BIN");

/** A fresh project with `tessera-policy` installed from the tarball; `files` are written into it. */
export function scratchProject(name, files = {}) {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${name}-`));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `scratch-${name}`, private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--silent", tarball()], {
    cwd: dir,
    stdio: ["ignore", "ignore", "inherit"],
  });
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
