// tessera-policy/client (crates/wasm/js/client.js): snapshots fetched, kept, verified, refreshed
// and pushed, behind a store that frameworks subscribe to. The rules of trust (what to accept,
// refuse, keep or activate, when to go stale or expire) are the core's, in Rust (`PolicyTrust`,
// crates/core/src/trust.rs); this file does only the I/O: fetch, storage, events, timers, tabs.

import { PolicyTrust } from "tessera-policy";
import { createStore, get, set, del } from "idb-keyval";

const NO = () => false;

/** A view that denies everything; `explain` says why. */
function denyAll(code, message) {
  return Object.freeze({
    can: NO,
    canView: NO,
    explain: () => ({ allowed: false, code, message, facts: [] }),
    filter: () => [],
  });
}

const SERVER = Object.freeze({
  status: "loading",
  source: null,
  version: null,
  expiresAt: null,
  lastError: null,
  pending: false,
  user: null,
  view: denyAll("no_snapshot", "No policy snapshot is loaded yet."),
});

/** Memory, for workers without IndexedDB, server rendering and private mode. */
export function memoryStorage() {
  const map = new Map();
  return {
    get: (key) => map.get(key),
    set: (key, value) => void map.set(key, value),
    del: (key) => void map.delete(key),
  };
}

/** IndexedDB through idb-keyval where there is one, else memory; a storage that fails falls back to memory. */
function safe(storage) {
  if (!storage) {
    if (typeof indexedDB === "undefined") return memoryStorage();
    const store = createStore("tessera-policy", "client");
    storage = { get: (key) => get(key, store), set: (key, value) => set(key, value, store), del: (key) => del(key, store) };
  }
  const memory = memoryStorage();
  const call = async (op, key, value) => {
    try {
      return await storage[op](key, value);
    } catch {
      return memory[op](key, value);
    }
  };
  return { get: (key) => call("get", key), set: (key, value) => call("set", key, value), del: (key) => call("del", key) };
}

/** The `sub` claim of a JWT, read without verifying (only to tell users apart on this device). */
export function tokenSubject(token) {
  try {
    const part = String(token).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
    return typeof claims.sub === "string" && claims.sub ? claims.sub : null;
  } catch {
    return null;
  }
}

/** Server-sent events from a fetch body: `{ event, data }`. */
async function* events(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      let event = "message";
      let data = "";
      for (const line of buffer.slice(0, end).split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      buffer = buffer.slice(end + 2);
      yield { event, data };
    }
  }
}

export function createPolicyClient(options) {
  const {
    url,
    trustedKeys,
    getToken,
    maxAge,
    activateOnLoad = true,
    bootstrap,
    userOf = tokenSubject,
    pollInterval = 60,
    retry = 1,
    maxBackoff = 60,
    events: useEvents = true,
  } = options;
  const base = String(url).replace(/\/+$/, "");
  const fetcher = options.fetch ?? ((...args) => globalThis.fetch(...args));
  const storage = safe(options.storage);
  const locks = options.locks === undefined ? globalThis.navigator?.locks : options.locks;
  const target = options.window === undefined ? globalThis : options.window;
  const channel =
    options.channel === undefined
      ? typeof BroadcastChannel === "function"
        ? new BroadcastChannel("tessera-policy " + base)
        : null
      : options.channel;
  const trust = new PolicyTrust({ trustedKeys }, maxAge, activateOnLoad);
  const input = (kind, reason, message, status) => trust.input(kind, reason, message, status, Date.now());
  const key = (kind, user) => `${base} ${kind} ${user}`;
  const abort = new AbortController();
  const listeners = new Set();

  let state = SERVER;
  let out = JSON.parse(input("state"));
  let closed = false;
  let signedOut = false;
  let generation = 0;
  let newest = null;
  let inflight = null;
  let deadlineTimer;
  let wake = () => {};
  let connection;
  let lastShown;
  let release = () => {};
  let resolveReady;
  const readyPromise = new Promise((resolve) => (resolveReady = resolve));

  const floorsOf = async (user) => {
    const floors = user ? await storage.get(key("floor", user)) : null;
    const clean = {};
    for (const [issuer, version] of Object.entries(floors ?? {})) if (Number.isSafeInteger(version)) clean[issuer] = version;
    return clean;
  };

  /** Does what the rules say to store, then publishes the state. */
  async function apply(text, bytes) {
    out = JSON.parse(text);
    const user = out.user;
    if (out.clear) await Promise.all([storage.del(key("snapshot", out.clear)), storage.del(key("confirmed", out.clear))]);
    if (user && "store" in out) await storage.set(key("snapshot", user), { bytes, etag: out.store });
    if (user && out.confirmed != null) await storage.set(key("confirmed", user), out.confirmed);
    if (user && out.floorIssuer) {
      // Read again just before writing: another tab may have raised it.
      const floors = await floorsOf(user);
      const [issuer, version] = [out.floorIssuer, out.floor];
      newest = version;
      if (!(floors[issuer] >= version)) await storage.set(key("floor", user), { ...floors, [issuer]: version });
    }
    // What the state shows, to tell a change.
    const shown = JSON.stringify([out.status, out.source, out.version, out.expiresAt, out.deadline, out.pending, out.user, out.reason, out.message, out.httpStatus]);
    if (shown !== lastShown) {
      lastShown = shown;
      publish();
    }
    return out;
  }

  function publish() {
    const { status, deadline } = out;
    let view;
    const engine = status === "ready" || status === "stale" ? trust.engine() : undefined;
    if (engine && out.user) {
      const decide = engine.forUser(out.user);
      const end = deadline * 1000;
      const live = () => Date.now() < end;
      const expired = denyAll("snapshot_expired", "The policy snapshot is past its expiry or maxAge.");
      view = Object.freeze({
        can: (permission, target) => live() && decide.can(permission, target),
        canView: (kind, id, project) => live() && decide.canView(kind, id, project),
        explain: (query) => (live() ? decide.explain(query) : expired.explain()),
        filter: (items) => (live() ? decide.filter(items) : []),
      });
    } else {
      const why = {
        loading: ["no_snapshot", "No policy snapshot is loaded yet."],
        expired: ["snapshot_expired", "The policy snapshot is past its expiry or maxAge: connect to fetch a new one."],
        signed_out: ["signed_out", "Signed out."],
      }[status] ?? ["no_snapshot", `No usable policy snapshot: ${out.message ?? status}`];
      view = denyAll(...why);
    }
    const lastError = out.reason
      ? Object.freeze(out.httpStatus == null ? { reason: out.reason, message: out.message } : { reason: out.reason, message: out.message, status: out.httpStatus })
      : null;
    const next = {
      status,
      source: out.source ?? null,
      version: out.version ?? null,
      expiresAt: out.expiresAt ?? null,
      lastError,
      pending: out.pending,
      user: out.user ?? null,
      view,
    };
    state = Object.freeze(next);
    clearTimeout(deadlineTimer);
    if (engine) {
      deadlineTimer = setTimeout(tick, Math.min(2 ** 31 - 1, deadline * 1000 - Date.now() + 5));
      deadlineTimer.unref?.();
    }
    if (status !== "loading") resolveReady(state);
    for (const listener of [...listeners]) listener(state);
  }

  function tick() {
    apply(input("tick")).then((now) => now.status === "expired" && refresh(true), () => {});
  }

  /** Verifies bytes with the user's floors as stored now. */
  async function load(bytes, etag, source, confirmed) {
    const floors = await floorsOf(out.user);
    const floor = (issuer) => floors[issuer] ?? 0;
    const text = trust.input(source, etag ?? undefined, undefined, undefined, Date.now(), bytes, confirmed == null ? undefined : confirmed * 1000, floor);
    return apply(text, bytes);
  }

  async function fromStorage(user) {
    const stored = user ? await storage.get(key("snapshot", user)) : null;
    if (stored?.bytes) await load(stored.bytes, stored.etag, "cache", await storage.get(key("confirmed", user)));
  }

  /** A token's user: another than the one held clears what was theirs, and their own stored copy loads. */
  async function setUser(user) {
    if (user ? user === out.user : out.status !== "signed_out") return;
    generation++;
    await apply(input("user", user ?? undefined));
    await fromStorage(user);
  }

  async function fetchSnapshot() {
    let at = generation;
    const fail = (reason, message, status) => at === generation && apply(input("fail", reason, message, status));
    let token;
    try {
      token = await getToken();
      if (!token) throw new Error("getToken gave no token");
    } catch (error) {
      return fail("token", String(error?.message ?? error));
    }
    await setUser(userOf(token));
    at = generation;
    const headers = { Authorization: `Bearer ${token}` };
    if (out.etag) headers["If-None-Match"] = out.etag;
    let response;
    try {
      response = await fetcher(base + "/api/snapshot", { headers, signal: abort.signal });
    } catch (error) {
      return fail("network", String(error?.message ?? error));
    }
    if (at !== generation || closed) return;
    if (response.status === 304) return apply(input("not_modified"));
    if (response.ok) {
      let bytes;
      try {
        bytes = new Uint8Array(await response.arrayBuffer());
      } catch (error) {
        return fail("network", String(error?.message ?? error));
      }
      if (at !== generation) return;
      const result = await load(bytes, response.headers.get("ETag"), "network");
      if (result.floorIssuer) channel?.postMessage({ user: result.user, version: result.floor });
      return;
    }
    let reason = "http";
    let message = `The issuer answered ${response.status}.`;
    try {
      const error = (await response.json()).error;
      if (response.status === 403 && (error.code === "unknown_user" || error.code === "inactive_user")) reason = error.code;
      if (typeof error.message === "string") message = error.message;
    } catch {}
    return fail(reason, message, response.status);
  }

  /** One request at a time; automatic refreshes wait while signed out. */
  function refresh(automatic) {
    if (closed || (signedOut && automatic)) return Promise.resolve();
    signedOut = false;
    // An explicit refresh asks after the request in flight, which may have left before it was called.
    if (inflight && !automatic) return inflight.then(() => refresh(false));
    return (inflight ??= fetchSnapshot().finally(() => (inflight = null)));
  }

  const hidden = () => target?.document?.hidden === true;
  const sleep = (ms) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref?.();
      wake = () => (clearTimeout(timer), resolve());
    });
  // Exponential, capped, with jitter: between half and all of min(maxBackoff, retry * 2^(n-1)) seconds.
  const backoff = (failures) => Math.min(maxBackoff, retry * 2 ** Math.min(failures - 1, 30)) * (500 + Math.random() * 500);

  /** Holds `/api/events` open until it ends; true if it connected. */
  async function listen(signal) {
    const token = await getToken();
    const response = await fetcher(base + "/api/events", {
      headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
      signal,
    });
    if (!response.ok || !response.body) {
      if ([404, 405, 501].includes(response.status)) return null;
      return false;
    }
    for await (const { event, data } of events(response.body)) {
      if (closed || signal.aborted) break;
      if (event === "snapshot") {
        let version;
        try {
          version = JSON.parse(data).version;
        } catch {}
        if (version !== newest) await refresh(true);
      } else if (event === "revoked") await refresh(true);
      else if (event === "expired") break;
    }
    return true;
  }

  /** The connection this tab holds: events if the issuer has them, else ETag polling; backoff with jitter on failures. */
  async function hold() {
    let failures = 0;
    let streaming = useEvents;
    while (!closed) {
      if (hidden() || signedOut) {
        await sleep(pollInterval * 1000);
        continue;
      }
      connection = new AbortController();
      const stop = () => connection.abort();
      abort.signal.addEventListener("abort", stop);
      let connected = false;
      if (streaming) {
        try {
          const result = await listen(connection.signal);
          if (result === null) streaming = false;
          connected = result === true;
        } catch {}
      }
      abort.signal.removeEventListener("abort", stop);
      if (closed) return;
      // Hidden or signed out: the connection was dropped on purpose; wait above.
      if (hidden() || signedOut) continue;
      await refresh(true);
      const ok = out.status === "ready";
      failures = ok && (connected || !streaming) ? 0 : failures + 1;
      await sleep(failures ? backoff(failures) : streaming ? 1000 : pollInterval * 1000);
    }
  }

  const onFocus = () => {
    if (hidden()) connection?.abort();
    else {
      refresh(true);
      wake();
    }
  };
  const onMessage = (message) => {
    const data = message?.data ?? message;
    if (data?.user && data.user === out.user && data.version !== newest) fromStorage(data.user);
  };

  async function start() {
    let token = null;
    try {
      token = await getToken();
    } catch {}
    await setUser(token ? userOf(token) : null);
    if (bootstrap) await load(typeof bootstrap === "string" ? bootstrap : new Uint8Array(bootstrap), null, "bootstrap");
    if (!activateOnLoad) await apply(input("activate"));
    if (closed) return;
    for (const name of ["focus", "online", "visibilitychange"]) target?.addEventListener?.(name, onFocus);
    channel?.addEventListener?.("message", onMessage);
    if (locks?.request) {
      locks
        .request("tessera-policy " + base, { signal: abort.signal }, () => new Promise((resolve) => ((release = resolve), hold().then(resolve))))
        .catch(() => {});
    } else hold();
    await refresh();
  }
  start().catch((error) => apply(input("fail", "network", String(error?.message ?? error))));

  return {
    subscribe(listener) {
      listeners.add(listener);
      listener(state);
      return () => listeners.delete(listener);
    },
    getSnapshot: () => state,
    getServerSnapshot: () => SERVER,
    ready: () => readyPromise,
    refresh: () => refresh(false),
    activate() {
      apply(input("activate"));
    },
    async signOut() {
      generation++;
      signedOut = true;
      newest = null;
      connection?.abort();
      await apply(input("sign_out"));
    },
    close() {
      closed = true;
      abort.abort();
      wake();
      release();
      clearTimeout(deadlineTimer);
      for (const name of ["focus", "online", "visibilitychange"]) target?.removeEventListener?.(name, onFocus);
      channel?.removeEventListener?.("message", onMessage);
      if (options.channel === undefined) channel?.close();
    },
  };
}
