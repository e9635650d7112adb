// `tessera-policy/client` as an app meets it: installed from the packed tarball, driven against a
// fake issuer (a Node HTTP server answering `/api/snapshot` with ETags and `/api/events` as
// server-sent events) that serves snapshots signed by the real `tessera` binary. Run by `cargo
// xtask test`.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { root, scratchProject, tessera } from "./support.mjs";

let dir;
let key;
let publicKey;
let client;
const signed = new Map();

before(async () => {
  dir = scratchProject("client");
  key = join(dir, "issuer.key");
  execFileSync(tessera(), ["keygen", "--out", key, "--force"], { stdio: "ignore" });
  publicKey = readFileSync(`${key}.pub`, "utf8");
  client = await import(pathToFileURL(join(dir, "node_modules/tessera-policy/client/index.js")).href);
});

/** The demo organisation signed for `user` at `version`. */
function sign(version, { user = "u-ada", expiresIn = "24h" } = {}) {
  const id = `${version}-${user}-${expiresIn}`;
  if (!signed.has(id)) {
    const out = join(dir, `snapshot-${id}.json`);
    execFileSync(
      tessera(),
      ["sign", join(root, "tests/demo/org.json"), "--key", key, "--version", String(version), "--scope", `user:${user}`, "--expires-in", expiresIn, "--out", out],
      { stdio: "ignore" },
    );
    signed.set(id, readFileSync(out));
  }
  return signed.get(id);
}

function tampered(bytes) {
  const copy = Buffer.from(bytes);
  copy[Math.floor(copy.length / 2)] ^= 1;
  return copy;
}

/** An unsigned JWT naming `sub`: the client reads the claim only to tell users apart. */
function token(sub) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none" })}.${part({ sub })}.x`;
}

/** A fake issuer: what it serves is set by the test; it records each request. */
async function issuer() {
  const state = { bytes: null, etag: null, version: 0, status: 200, code: "boom", events: true, requests: [], streams: new Set() };
  const server = createServer((req, res) => {
    state.requests.push({ url: req.url, auth: req.headers.authorization, ifNoneMatch: req.headers["if-none-match"], at: Date.now() });
    if (req.url === "/api/snapshot") {
      if (state.status !== 200 || !state.bytes) {
        res.writeHead(state.bytes ? state.status : 404, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: { code: state.code, message: `refused with ${state.code}` } }));
      } else if (req.headers["if-none-match"] === state.etag) {
        res.writeHead(304, { ETag: state.etag });
        res.end();
      } else {
        res.writeHead(200, { ETag: state.etag, "Content-Type": "application/json", "Cache-Control": "private, no-cache" });
        res.end(state.bytes);
      }
    } else if (req.url === "/api/events" && state.events) {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(`: hello\n\nevent: snapshot\ndata: {"version":${state.version}}\n\n`);
      state.streams.add(res);
      req.on("close", () => state.streams.delete(res));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${server.address().port}`;
  state.serve = (bytes, version = state.version + 1, etag = `W/"${version}-${bytes.length}"`) => {
    Object.assign(state, { bytes, version, etag, status: 200 });
  };
  state.publish = (bytes, version) => {
    state.serve(bytes, version);
    for (const stream of state.streams) stream.write(`event: snapshot\ndata: {"version":${version}}\n\n`);
  };
  state.count = (url) => state.requests.filter((request) => request.url === url).length;
  state.close = () => {
    for (const stream of state.streams) stream.destroy();
    server.closeAllConnections?.();
    return new Promise((resolve) => server.close(resolve));
  };
  return state;
}

/** A client of `server` with polling and events off unless asked; `options` override. */
function open(server, options = {}) {
  return client.createPolicyClient({
    url: server.url,
    trustedKeys: [publicKey],
    getToken: () => token("u-ada"),
    storage: client.memoryStorage(),
    events: false,
    pollInterval: 3600,
    locks: null,
    channel: null,
    ...options,
  });
}

/** Resolves with the first state that passes `check`. */
function until(policy, check, ms = 5000) {
  return new Promise((resolve, reject) => {
    let stop = () => {};
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out; last state ${JSON.stringify({ ...policy.getSnapshot(), view: undefined })}`));
    }, ms);
    stop = policy.subscribe((state) => {
      if (check(state)) {
        clearTimeout(timer);
        queueMicrotask(() => stop());
        resolve(state);
      }
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const REBRAND = ["task.create", { project: "p-rebrand" }];

test("the store contract: a loading state at once, stable identities, a stable server snapshot", async () => {
  const server = await issuer();
  server.serve(sign(5));
  const policy = open(server);
  const seen = [];
  const unsubscribe = policy.subscribe((state) => seen.push(state));
  assert.equal(seen.length, 1, "subscribe calls the listener at once");
  assert.equal(seen[0].status, "loading");
  assert.equal(seen[0].view.can(...REBRAND), false, "loading denies");
  assert.equal(policy.getServerSnapshot(), policy.getServerSnapshot());
  assert.equal(policy.getServerSnapshot().status, "loading");
  assert.equal(policy.getServerSnapshot().view.explain({ view: "project", id: "p-rebrand" }).allowed, false);
  const ready = await policy.ready();
  assert.equal(ready.status, "ready");
  assert.equal(policy.getSnapshot(), policy.getSnapshot(), "one object until something changes");
  assert.ok(Object.isFrozen(policy.getSnapshot()));
  const before = policy.getSnapshot();
  await policy.refresh(); // a 304: nothing changes
  assert.equal(policy.getSnapshot(), before);
  unsubscribe();
  policy.close();
  await server.close();
});

test("first visit: fetched with the bearer token, verified, decided; bytes, ETag and floor stored", async () => {
  const server = await issuer();
  server.serve(sign(5));
  const storage = client.memoryStorage();
  const policy = open(server, { storage });
  const state = await policy.ready();
  assert.equal(state.status, "ready");
  assert.equal(state.source, "network");
  assert.equal(state.version, 5);
  assert.equal(state.user, "u-ada");
  assert.equal(state.lastError, null);
  assert.equal(state.pending, false);
  assert.ok(state.expiresAt > Date.now() / 1000);
  assert.equal(state.view.can(...REBRAND), true);
  assert.equal(state.view.canView("project", "p-rebrand"), true);
  assert.equal(state.view.explain({ can: "network.manage" }).allowed, false);
  assert.deepEqual(
    state.view.filter([{ kind: "project", id: "p-rebrand" }, { kind: "project", id: "p-missing" }]).map((item) => item.id),
    ["p-rebrand"],
  );
  const request = server.requests.find((r) => r.url === "/api/snapshot");
  assert.equal(request.auth, `Bearer ${token("u-ada")}`);
  assert.equal(request.ifNoneMatch, undefined);
  const stored = await storage.get(`${server.url} snapshot u-ada`);
  assert.equal(stored.etag, server.etag);
  assert.equal(Buffer.from(stored.bytes).equals(server.bytes), true);
  assert.deepEqual(await storage.get(`${server.url} floor u-ada`), { tessera: 5 });
  policy.close();
  await server.close();
});

test("a reload starts from the stored copy, verified, and revalidates it with If-None-Match (304)", async () => {
  const server = await issuer();
  server.serve(sign(5));
  const storage = client.memoryStorage();
  const first = open(server, { storage });
  await first.ready();
  first.close();

  // Offline: the stored copy alone, verified.
  const offline = open(server, { storage, fetch: () => Promise.reject(new TypeError("fetch failed")) });
  const cold = await offline.ready();
  assert.equal(cold.source, "cache");
  assert.equal(cold.version, 5);
  assert.ok(["ready", "stale"].includes(cold.status));
  assert.equal(cold.view.can(...REBRAND), true);
  const stale = await until(offline, (state) => state.status === "stale");
  assert.equal(stale.lastError.reason, "network");
  assert.equal(stale.view.can(...REBRAND), true, "stale still decides");
  offline.close();

  // Online: the first request is a 304.
  const before = server.count("/api/snapshot");
  const second = open(server, { storage });
  while (server.count("/api/snapshot") <= before) await sleep(20);
  await sleep(50);
  assert.equal(second.getSnapshot().status, "ready");
  const request = server.requests.filter((r) => r.url === "/api/snapshot").at(-1);
  assert.equal(request.ifNoneMatch, server.etag);
  assert.equal(second.getSnapshot().source, "cache");
  second.close();

  // A stored copy that was tampered with is refused before any decision.
  const bytes = (await storage.get(`${server.url} snapshot u-ada`)).bytes;
  await storage.set(`${server.url} snapshot u-ada`, { bytes: tampered(bytes), etag: server.etag });
  const third = open(server, { storage, fetch: () => Promise.reject(new TypeError("offline")) });
  const refused = await third.ready();
  assert.equal(refused.status, "refused");
  assert.equal(refused.view.can(...REBRAND), false);
  third.close();
  await server.close();
});

test("a refused answer (tampered, older, another user's) keeps the last good snapshot, stale, then recovers", async () => {
  const server = await issuer();
  server.serve(sign(5));
  const storage = client.memoryStorage();
  const policy = open(server, { storage });
  await policy.ready();
  const etag = server.etag;
  for (const [bytes, reasons] of [
    [tampered(sign(6)), ["bad_signature", "malformed_envelope", "invalid_content"]],
    [sign(4), ["rollback"]],
    [sign(6, { user: "u-cleo" }), ["wrong_user"]],
  ]) {
    server.serve(bytes, 6);
    await policy.refresh();
    const state = policy.getSnapshot();
    assert.equal(state.status, "stale");
    assert.ok(reasons.includes(state.lastError.reason), state.lastError.reason);
    assert.equal(state.version, 5, "the last good snapshot stays");
    assert.equal(state.view.can(...REBRAND), true);
    assert.deepEqual(await storage.get(`${server.url} floor u-ada`), { tessera: 5 });
    assert.equal((await storage.get(`${server.url} snapshot u-ada`)).etag, etag, "the stored copy is the last good one");
  }
  server.serve(sign(6), 6);
  await policy.refresh();
  assert.equal(policy.getSnapshot().status, "ready");
  assert.equal(policy.getSnapshot().version, 6);
  assert.equal(policy.getSnapshot().lastError, null);
  policy.close();
  await server.close();
});

test("the rollback floor holds across two clients sharing one storage", async () => {
  const server = await issuer();
  const storage = client.memoryStorage();
  server.serve(sign(7));
  const first = open(server, { storage });
  await first.ready();
  // The stored copy is gone, the floor stays; the issuer (or someone in between) serves version 6.
  await storage.del(`${server.url} snapshot u-ada`);
  server.serve(sign(6), 6);
  const second = open(server, { storage });
  const state = await second.ready();
  assert.equal(state.status, "refused");
  assert.equal(state.lastError.reason, "rollback");
  assert.equal(state.view.can(...REBRAND), false);
  // The second raises the floor; the first, still open, reads it again before accepting.
  server.serve(sign(8), 8);
  await second.refresh();
  assert.equal(second.getSnapshot().version, 8);
  server.serve(sign(7), 7);
  first.close();
  const third = open(server, { storage: { ...storage, get: (k) => (k.endsWith("snapshot u-ada") ? undefined : storage.get(k)) } });
  assert.equal((await third.ready()).lastError.reason, "rollback");
  third.close();
  second.close();
  await server.close();
});

test("past maxAge decisions deny and the status says why; a 304 revives it", async () => {
  const server = await issuer();
  server.serve(sign(5));
  const policy = open(server, { maxAge: 1, fetch: (...args) => (server.down ? Promise.reject(new TypeError("offline")) : fetch(...args)) });
  await policy.ready();
  server.down = true;
  const expired = await until(policy, (state) => state.status === "expired", 4000);
  assert.equal(expired.view.can(...REBRAND), false);
  assert.equal(expired.view.explain({ can: "task.create", target: { project: "p-rebrand" } }).code, "snapshot_expired");
  assert.deepEqual(expired.view.filter([{ kind: "project", id: "p-rebrand" }]), []);
  server.down = false;
  await policy.refresh();
  assert.equal(policy.getSnapshot().status, "ready");
  assert.equal(policy.getSnapshot().view.can(...REBRAND), true);
  policy.close();
  await server.close();
});

test("past the snapshot's own expiry decisions deny, offline or after a reload", async () => {
  const server = await issuer();
  server.serve(sign(5, { expiresIn: "2s" }));
  const storage = client.memoryStorage();
  const policy = open(server, { storage, fetch: (...args) => (server.down ? Promise.reject(new TypeError("offline")) : fetch(...args)) });
  assert.equal((await policy.ready()).status, "ready");
  server.down = true;
  const expired = await until(policy, (state) => state.status === "expired", 5000);
  assert.equal(expired.view.can(...REBRAND), false);
  policy.close();
  const reloaded = open(server, { storage, fetch: () => Promise.reject(new TypeError("offline")) });
  const state = await reloaded.ready();
  assert.equal(state.status, "expired");
  assert.equal(state.view.canView("project", "p-rebrand"), false);
  reloaded.close();
  await server.close();
});

test("sign-out clears the user's stored snapshot; a token for another user clears the previous user's", async () => {
  const server = await issuer();
  server.serve(sign(5));
  const storage = client.memoryStorage();
  let who = "u-ada";
  const policy = open(server, { storage, getToken: () => token(who) });
  await policy.ready();
  await policy.signOut();
  assert.equal(policy.getSnapshot().status, "signed_out");
  assert.equal(policy.getSnapshot().user, null);
  assert.equal(policy.getSnapshot().view.can(...REBRAND), false);
  assert.equal(await storage.get(`${server.url} snapshot u-ada`), undefined);
  assert.deepEqual(await storage.get(`${server.url} floor u-ada`), { tessera: 5 }, "the floor stays");
  await policy.refresh(); // signs in again
  assert.equal(policy.getSnapshot().status, "ready");

  who = "u-cleo";
  server.serve(sign(9, { user: "u-cleo" }), 9);
  await policy.refresh();
  const state = policy.getSnapshot();
  assert.equal(state.user, "u-cleo");
  assert.equal(state.version, 9);
  assert.equal(state.view.can(...REBRAND), false, "Cleo, a client, creates no tasks");
  assert.equal(await storage.get(`${server.url} snapshot u-ada`), undefined);
  assert.ok(await storage.get(`${server.url} snapshot u-cleo`));
  policy.close();
  await server.close();
});

test("failures: network and HTTP errors go stale; the issuer refusing the user drops everything", async () => {
  const server = await issuer();
  server.serve(sign(5));
  const storage = client.memoryStorage();
  const policy = open(server, { storage });
  await policy.ready();
  server.status = 500;
  await policy.refresh();
  assert.equal(policy.getSnapshot().status, "stale");
  assert.deepEqual({ ...policy.getSnapshot().lastError }, { reason: "http", message: "refused with boom", status: 500 });
  server.status = 403;
  server.code = "inactive_user";
  await policy.refresh();
  const state = policy.getSnapshot();
  assert.equal(state.status, "refused");
  assert.equal(state.lastError.reason, "inactive_user");
  assert.equal(state.view.can(...REBRAND), false);
  assert.equal(await storage.get(`${server.url} snapshot u-ada`), undefined);
  policy.close();

  const none = open(server, { fetch: () => Promise.reject(new TypeError("offline")) });
  const refused = await none.ready();
  assert.equal(refused.status, "refused");
  assert.equal(refused.lastError.reason, "network");
  none.close();
  await server.close();
});

test("activateOnLoad: false keeps a newer snapshot pending until activate()", async () => {
  const server = await issuer();
  server.serve(sign(5));
  const policy = open(server, { activateOnLoad: false });
  assert.equal((await policy.ready()).version, 5, "the first snapshot is active at once");
  server.serve(sign(6), 6);
  await policy.refresh();
  assert.equal(policy.getSnapshot().pending, true);
  assert.equal(policy.getSnapshot().version, 5);
  policy.activate();
  assert.equal(policy.getSnapshot().pending, false);
  assert.equal(policy.getSnapshot().version, 6);
  policy.close();
  await server.close();
});

test("a bootstrap snapshot is verified and used before the network answers", async () => {
  const server = await issuer();
  server.serve(sign(6), 6);
  const policy = open(server, { bootstrap: sign(5).toString("utf8") });
  const first = await until(policy, (state) => state.status !== "loading");
  assert.equal(first.source, "bootstrap");
  assert.equal(first.version, 5);
  await until(policy, (state) => state.version === 6 && state.source === "network");
  policy.close();
  const bad = open(server, { bootstrap: tampered(sign(5)), fetch: () => Promise.reject(new TypeError("offline")) });
  assert.equal((await bad.ready()).status, "refused");
  bad.close();
  await server.close();
});

test("an event from /api/events (bearer) brings the new snapshot without a reload", async () => {
  const server = await issuer();
  server.serve(sign(5), 5);
  const policy = open(server, { events: true });
  await policy.ready();
  while (server.streams.size === 0) await sleep(20);
  const stream = server.requests.find((request) => request.url === "/api/events");
  assert.equal(stream.auth, `Bearer ${token("u-ada")}`);
  server.publish(sign(7), 7);
  const state = await until(policy, (s) => s.version === 7);
  assert.equal(state.source, "network");
  policy.close();
  await server.close();
});

test("failures back off with jitter, and polling resumes once the issuer answers", async () => {
  const server = await issuer();
  server.serve(sign(5), 5);
  server.events = false; // no events: ETag polling
  const policy = open(server, { events: true, pollInterval: 0.05, retry: 0.05, maxBackoff: 0.4 });
  await policy.ready();
  server.status = 500;
  const start = server.requests.length;
  await sleep(1500);
  const failing = server.requests.slice(start).filter((r) => r.url === "/api/snapshot").map((r) => r.at);
  const gaps = failing.slice(1).map((at, i) => at - failing[i]);
  assert.ok(gaps.length >= 3, `retried: ${gaps}`);
  assert.ok(gaps.length <= 12, `backed off: ${gaps}`);
  assert.ok(gaps.at(-1) > gaps[0], `the waits grow: ${gaps}`);
  assert.ok(Math.max(...gaps) < 400 + 150, `capped at maxBackoff: ${gaps}`);
  assert.equal(policy.getSnapshot().status, "stale");
  server.status = 200;
  await until(policy, (state) => state.status === "ready", 2000);
  policy.close();
  await server.close();
});

test("two tabs, one lock: one holds the event stream, the other hears of new snapshots and verifies them from storage", async () => {
  const server = await issuer();
  server.serve(sign(5), 5);
  const storage = client.memoryStorage();
  // Web Locks as a browser has them: one holder per name, the next waits.
  let held = Promise.resolve();
  const locks = {
    request(name, options, callback) {
      const run = held.then(() => callback());
      held = run.catch(() => {});
      return run;
    },
  };
  const channelName = `tessera-test-${Math.random()}`;
  const channel = () => new BroadcastChannel(channelName);
  const [a, b] = [channel(), channel()];
  const tab1 = open(server, { storage, locks, channel: a, events: true });
  await tab1.ready();
  const tab2 = open(server, { storage, locks, channel: b, events: true });
  await tab2.ready();
  while (server.streams.size === 0) await sleep(20);
  await sleep(200);
  assert.equal(server.streams.size, 1, "one connection for both tabs");
  server.publish(sign(8), 8);
  const [one, two] = await Promise.all([until(tab1, (s) => s.version === 8), until(tab2, (s) => s.version === 8)]);
  assert.equal(one.source, "network");
  assert.equal(two.source, "cache", "the other tab loaded it from storage, verified");
  // A tab is told of a new snapshot but verifies what it loads: a tampered stored copy is refused.
  const bytes = (await storage.get(`${server.url} snapshot u-ada`)).bytes;
  await storage.set(`${server.url} snapshot u-ada`, { bytes: tampered(sign(9)), etag: "x" });
  a.postMessage({ user: "u-ada", version: 9 });
  await until(tab2, (s) => s.lastError != null);
  assert.equal(tab2.getSnapshot().version, 8);
  await storage.set(`${server.url} snapshot u-ada`, { bytes, etag: server.etag });
  tab1.close();
  tab2.close();
  a.close();
  b.close();
  await server.close();
});

test("hidden, it lets the event stream go and asks nothing; on focus it asks again", async () => {
  const server = await issuer();
  server.serve(sign(5), 5);
  const page = new EventTarget();
  page.document = { hidden: false };
  const policy = open(server, { events: true, window: page });
  await policy.ready();
  while (server.streams.size === 0) await sleep(20);
  page.document.hidden = true;
  page.dispatchEvent(new Event("visibilitychange"));
  while (server.streams.size > 0) await sleep(20);
  const asked = server.requests.length;
  await sleep(300);
  assert.equal(server.requests.length, asked, "nothing is asked while hidden");
  page.document.hidden = false;
  page.dispatchEvent(new Event("focus"));
  while (server.count("/api/snapshot") === 0 || server.requests.length === asked) await sleep(20);
  assert.equal(server.requests.at(-1).url === "/api/snapshot" || server.requests.at(-1).url === "/api/events", true);
  while (server.streams.size === 0) await sleep(20);
  policy.close();
  await server.close();
});

test(`without Web Locks every client holds its own connection`, async () => {
  const server = await issuer();
  server.serve(sign(5), 5);
  const clients = [open(server, { events: true }), open(server, { events: true })];
  await Promise.all(clients.map((c) => c.ready()));
  while (server.streams.size < 2) await sleep(20);
  assert.equal(server.streams.size, 2);
  for (const c of clients) c.close();
  await server.close();
});

test("the user is read from the token's sub claim", () => {
  assert.equal(client.tokenSubject(token("u-ada")), "u-ada");
  assert.equal(client.tokenSubject("opaque"), null);
});

