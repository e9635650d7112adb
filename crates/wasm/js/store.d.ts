// The store contract of `tessera-policy/client` that the React, Vue and Svelte bindings read
// (crates/wasm/js/store.d.ts). A `PolicyClient` from `createPolicyClient` meets it; so does any
// object with these members, which is how the bindings are tested.

/** Where the client stands: `ready` is the only status in which a snapshot is fresh. */
export type PolicyStatus = "loading" | "ready" | "stale" | "expired" | "refused" | "signed_out";

/** Where the snapshot in use came from. */
export type PolicySource = "bootstrap" | "cache" | "network";

/** Why the last fetch or verification failed: `reason` is stable (`bad_signature`, `rollback`, `expired`, `unknown_key`, `network`, `http`, …). */
export interface PolicyError {
  reason: string;
  message: string;
  /** The HTTP status, for an HTTP failure. */
  status?: number;
}

/** A decision with its reason. */
export interface Explanation {
  allowed: boolean;
  code: string;
  message: string;
  facts?: unknown;
}

/** The signed-in user's decisions: deny-all while nothing usable is loaded. */
export interface PolicyView {
  can(permission: string, target?: object): boolean;
  canView(kind: string, id: string, project?: string): boolean;
  explain(query: object): Explanation;
  filter<T>(items: T[]): T[];
}

/** One frozen state of the client: its identity changes only when something changed. */
export interface PolicyState {
  status: PolicyStatus;
  source: PolicySource | null;
  version: number | null;
  expiresAt: number | null;
  lastError: PolicyError | null;
  /** A newer snapshot waits for `activate()`. */
  pending: boolean;
  user: string | null;
  /** Always present; deny-all when nothing usable is loaded. */
  view: PolicyView;
}

/** What the bindings need of a client: the store contract React, Vue and Svelte know. */
export interface PolicyStore {
  /** Calls `listener(state)` at once and on every change; returns the unsubscriber. */
  subscribe(listener: (state: PolicyState) => void): () => void;
  getSnapshot(): PolicyState;
  /** For server rendering: a stable `loading` state with a deny-all view. */
  getServerSnapshot(): PolicyState;
}
