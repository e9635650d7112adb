// tessera-policy/client: snapshots fetched, kept, verified, refreshed and pushed.

/** What the client answers from: a deny-all view when nothing usable is loaded or it expired. */
export interface PolicyView {
  can(permission: string, target?: object): boolean;
  canView(kind: string, id: string, project?: string): boolean;
  explain(query: object): { allowed: boolean; code: string; message: string; facts?: unknown };
  filter<T>(items: T[]): T[];
}

/** Why the last refresh failed or was refused. */
export interface PolicyError {
  reason: "bad_signature" | "rollback" | "expired" | "unknown_key" | "wrong_user" | "network" | "http" | (string & {});
  message: string;
  /** The HTTP status, for `http` and the issuer's refusals. */
  status?: number;
}

/** One immutable state: its identity changes only when something changed. */
export interface PolicyState {
  /** `stale`: deciding from a verified snapshot while the last refresh failed; `expired`: past expiry or `maxAge`, denying. */
  status: "loading" | "ready" | "stale" | "expired" | "refused" | "signed_out";
  source: "bootstrap" | "cache" | "network" | null;
  version: number | null;
  /** Unix seconds. */
  expiresAt: number | null;
  lastError: PolicyError | null;
  /** A newer snapshot waits for `activate()` (with `activateOnLoad: false`). */
  pending: boolean;
  user: string | null;
  view: PolicyView;
}

export interface PolicyClient {
  /** Calls `listener(state)` at once and on every change; returns the unsubscribe. */
  subscribe(listener: (state: PolicyState) => void): () => void;
  getSnapshot(): PolicyState;
  /** For server rendering: a stable `loading` state with a deny-all view. */
  getServerSnapshot(): PolicyState;
  /** Resolves at the first status other than `loading`. */
  ready(): Promise<PolicyState>;
  refresh(): Promise<void>;
  /** Swaps in a pending snapshot. */
  activate(): void;
  /** Drops what is held and deletes the user's stored snapshot; `refresh()` signs in again. */
  signOut(): Promise<void>;
  /** Stops listening and polling, releases the lock. */
  close(): void;
}

/** Where the client keeps snapshots, ETags and rollback floors; values are structured-cloneable. */
export interface PolicyStorage {
  get(key: string): unknown | Promise<unknown>;
  set(key: string, value: unknown): void | Promise<void>;
  del(key: string): void | Promise<void>;
}

/** What the client needs of Web Locks (`navigator.locks`). */
export interface PolicyLocks {
  request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<unknown>): Promise<unknown>;
}

/** What the client needs of a `BroadcastChannel`. */
export interface PolicyChannel {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
}

export interface PolicyClientOptions {
  /** The issuer's base URL: the client asks `url + "/api/snapshot"` and `url + "/api/events"`. */
  url: string;
  /** The issuer's public keys (contents of `KEY.pub` files). */
  trustedKeys: string[];
  /** The bearer token of the signed-in user, or a promise of it. */
  getToken(): string | Promise<string>;
  /** Default: IndexedDB (idb-keyval) where there is one, else memory. */
  storage?: PolicyStorage;
  /** Seconds a snapshot stays usable after the issuer last confirmed it (a 200 or a 304); by default until its own expiry. */
  maxAge?: number;
  /** Default `true`; `false`: a newer snapshot waits as `pending` until `activate()`. */
  activateOnLoad?: boolean;
  /** A snapshot to start from (server-rendered into the page, say); verified like any other. */
  bootstrap?: string | Uint8Array;
  /** Default `globalThis.fetch`. */
  fetch?: (input: string, init?: { headers?: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;
  /** The user a token names (default: its `sub` claim, read without verifying, to keep users' data apart). */
  userOf?(token: string): string | null;
  /** Seconds between ETag polls when the issuer has no events (default 60). */
  pollInterval?: number;
  /** The first wait after a failure, in seconds (default 1); each failure doubles it, with jitter. */
  retry?: number;
  /** The longest wait between retries, in seconds (default 60). */
  maxBackoff?: number;
  /** Whether to listen to `/api/events` (default `true`). */
  events?: boolean;
  /** Web Locks (default `navigator.locks`); `null`: every client holds its own connection. */
  locks?: PolicyLocks | null;
  /** Tells other tabs of a new snapshot (default a `BroadcastChannel`); `null`: none. */
  channel?: PolicyChannel | null;
  /** Where `focus`, `online` and `visibilitychange` are heard, and `document.hidden` read (default `globalThis`). */
  window?: { addEventListener(type: string, listener: () => void): void; removeEventListener(type: string, listener: () => void): void; document?: { hidden?: boolean } } | null;
}

export function createPolicyClient(options: PolicyClientOptions): PolicyClient;

/** A storage in memory (for tests, workers without IndexedDB, server rendering). */
export function memoryStorage(): PolicyStorage;

/** The `sub` claim of a JWT, read without verifying; `null` if there is none. */
export function tokenSubject(token: string): string | null;
