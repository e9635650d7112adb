// Shared set-up for the end-to-end tests: the real `tessera serve` on a free loopback port with
// a fresh key and the built app, and Debian's Chromium driven by playwright-core.

import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const shots = join(root, "target", "e2e");

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through \`cargo xtask test\``);
  return value;
}

/**
 * Starts `tessera serve` on the demo organisation (or, with `org`, on that organisation file,
 * read-only); resolves once it prints its address.
 */
export async function startServer({ org } = {}) {
  const tessera = required("TESSERA_BIN");
  const site = required("TESSERA_SITE");
  const dir = mkdtempSync(join(tmpdir(), "tessera-e2e-"));
  const key = join(dir, "server.key");
  execFileSync(tessera, ["keygen", "--out", key], { stdio: "ignore" });
  let source;
  if (org) {
    source = ["--org", org];
  } else {
    // The demo organisation in a database of the test's own, so that admin edits are kept.
    const database = `sqlite:${join(dir, "tessera.db")}`;
    execFileSync(tessera, ["db", "import", join(root, "tests/demo/org.json"), "--database", database], {
      stdio: "ignore",
    });
    source = ["--database", database, "--content", join(root, "tests/demo/content.json")];
  }
  const child = spawn(
    tessera,
    [
      "serve",
      ...source,
      "--key", key,
      "--www", site,
      "--addr", "127.0.0.1:0",
      "--snapshot-issuer", "tessera-e2e",
      "--auth", "demo",
    ],
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
  /** A demo session of `user` (`POST /api/demo/sign-in`), as the app keeps it. */
  async function session(user) {
    const response = await fetch(`${url}/api/demo/sign-in`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user }),
    });
    if (!response.ok) throw new Error(`sign-in refused: ${response.status} ${await response.text()}`);
    const { token, expires_at } = await response.json();
    return { user, token, expires_at };
  }
  return {
    url,
    session,
    /** Makes `edits` as `user` (by default Ellen, a network admin of EMEA): `{revision, changed}`. */
    async edits(edits, user = "u-ellen") {
      const { token } = await session(user);
      const response = await fetch(`${url}/api/admin/edits`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify({ edits }),
      });
      if (!response.ok) throw new Error(`edits refused: ${response.status} ${await response.text()}`);
      return response.json();
    },
    /** GETs an API path as `user`, with their bearer token. */
    async getAs(user, path) {
      const { token } = await session(user);
      return fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    },
    async snapshotBytes(user) {
      const response = await this.getAs(user, "/api/snapshot");
      if (!response.ok) throw new Error(`snapshot: ${response.status}`);
      return Buffer.from(await response.arrayBuffer());
    },
    stop() {
      child.kill("SIGTERM");
    },
  };
}

const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Debian's Chromium, headless. */
export function launch() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
}

/** A page of a fresh context, with its errors collected (a test fails on any). */
export async function openPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (error) => page.errors.push(error.message));
  return { context, page };
}

/** Signs in as `user` through the form (its id typed into `#user`; `POST /api/demo/sign-in`), on the page as it is. */
export async function switchUser(page, user) {
  await page.fill("#user", user);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/**
 * In the page, the app's IndexedDB store (`www/store.js`): reads `key`, or, given `text`, keeps
 * it there as a string (as builds before issue 24's last round kept text). A read answers
 * `{ kind: "bytes" | "string", text }`, or undefined.
 */
function appStore(page, key, text) {
  return page.evaluate(
    ([key, text]) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open("tessera", 1);
        open.onupgradeneeded = () => open.result.createObjectStore("kv");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const transaction = open.result.transaction("kv", text === undefined ? "readonly" : "readwrite");
          const store = transaction.objectStore("kv");
          const request = text === undefined ? store.get(key) : store.put(text, key);
          transaction.oncomplete = () => {
            open.result.close();
            const value = text === undefined ? request.result : undefined;
            if (value instanceof Uint8Array) resolve({ kind: "bytes", text: new TextDecoder().decode(value) });
            else resolve(value === undefined ? undefined : { kind: typeof value, text: value });
          };
          transaction.onerror = () => reject(transaction.error);
        };
      }),
    [key, text],
  );
}

/**
 * What the app keeps in the device's IndexedDB under `key` (text as its UTF-8 bytes), as text,
 * or undefined. With `{ raw: true }`, only what kind of value IndexedDB holds there: "bytes",
 * "string" or undefined.
 */
export async function stored(page, key, { raw = false } = {}) {
  const value = await appStore(page, key);
  return raw ? value?.kind : value?.text;
}

/** Keeps `text` under `key` in the app's IndexedDB as a string, as builds before issue 24's last round did. */
export async function storeAsString(page, key, text) {
  await appStore(page, key, text);
}

/** Waits until the device's IndexedDB holds something under `key`; returns it. */
export async function waitStored(page, key, timeout = 10_000) {
  for (const started = Date.now(); Date.now() - started < timeout; await page.waitForTimeout(50)) {
    const value = await stored(page, key);
    if (value !== undefined) return value;
  }
  throw new Error(`nothing was stored under ${key}`);
}

/** The ids of the Projects the page says the user sees (the whole list, not only the rows rendered). */
export function projectCount(page) {
  return page.getByTestId("projects").getAttribute("data-count").then(Number);
}

/** Loads the app and signs in as `user`; waits for the first filtered render. */
export async function signIn(page, url, user) {
  await page.goto(url);
  await switchUser(page, user);
  await page.waitForSelector(`[data-testid="projects"][data-user="${user}"]`);
}

/** The project ids the page lists. */
export function listedProjects(page) {
  return page.$$eval('[data-testid="projects"] li', (items) => items.map((item) => item.dataset.project).sort());
}

/** Searches and returns the results shown, as {kind, id, project}. */
export async function search(page, text) {
  await page.getByRole("button", { name: "Search", exact: true }).first().click();
  const summary = page.getByTestId("search-summary");
  const before = (await summary.count()) ? await summary.getAttribute("data-seq") : null;
  await page.fill("#q", text);
  await page.press("#q", "Enter");
  await page.waitForFunction(
    ([query, seq]) => {
      const shown = document.querySelector('[data-testid="search-summary"]');
      return shown && shown.dataset.query === query && shown.dataset.seq !== seq;
    },
    [text, before],
  );
  return page.$$eval('[data-testid="results"] li', (items) =>
    items.map((item) => ({ kind: item.dataset.kind, id: item.dataset.id, project: item.dataset.project })),
  );
}

/** Saves a full-page screenshot as target/e2e/NAME.png. */
export async function screenshot(page, name) {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Records a measurement in target/e2e/NAME.json. */
export function record(name, value) {
  mkdirSync(shots, { recursive: true });
  writeFileSync(join(shots, `${name}.json`), `${JSON.stringify(value, null, 2)}\n`);
}

/** Asks the app to look for a new snapshot now, as it does when the window gains focus. */
export function focus(page) {
  return page.evaluate(() => window.dispatchEvent(new Event("focus")));
}

/**
 * A proxy in front of `upstream` that can spoil snapshot answers on the way, for requests the
 * page cannot intercept itself (those the service worker makes), and break the event stream:
 * `proxy.cut()` drops every open stream, as a network or a proxy would, and while
 * `proxy.refuseEvents` holds, new ones are answered 502. Event streams pass through as they
 * arrive; everything else is read whole first.
 */
export async function startProxy(t, upstream) {
  const { createServer } = await import("node:http");
  const streams = new Set();
  const proxy = {
    tamper: false,
    refuseEvents: false,
    cut() {
      for (const stream of streams) stream();
      streams.clear();
    },
  };
  const server = createServer(async (request, response) => {
    if (new URL(request.url, "http://proxy").pathname === "/api/events") {
      if (proxy.refuseEvents) {
        response.writeHead(502, { "content-type": "text/plain" });
        response.end("the test's proxy refuses event streams");
        return;
      }
      const controller = new AbortController();
      const cut = () => {
        controller.abort();
        response.destroy();
      };
      streams.add(cut);
      response.on("close", () => streams.delete(cut));
      try {
        const answer = await fetch(`${upstream}${request.url}`, { headers: { accept: "text/event-stream" }, signal: controller.signal });
        response.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "text/plain", "cache-control": "no-store" });
        for await (const chunk of answer.body) response.write(chunk);
        response.end();
      } catch {
        response.destroy();
      }
      return;
    }
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    const headers = { ...request.headers };
    delete headers.host;
    const answer = await fetch(`${upstream}${request.url}`, {
      method: request.method,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
    });
    let body = Buffer.from(await answer.arrayBuffer());
    if (proxy.tamper && request.url.startsWith("/api/snapshot") && answer.status === 200) {
      body = spoil(body);
    }
    const out = {};
    answer.headers.forEach((value, name) => {
      if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(name)) out[name] = value;
    });
    response.writeHead(answer.status, out);
    response.end(body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    proxy.cut();
    server.close();
  });
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  return proxy;
}

/** One base64 character in the middle of a snapshot's payload changed: same length, other bytes. */
export function spoil(bytes) {
  const body = Buffer.from(bytes);
  const at = body.indexOf('"payload":"') + 11 + 200;
  body[at] = body[at] === 0x41 ? 0x42 : 0x41;
  return body;
}
