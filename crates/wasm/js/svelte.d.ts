// Types of tessera-policy/svelte (crates/wasm/js/svelte.d.ts).

import type { Readable } from "svelte/store";
import type { PolicyState, PolicyStatus } from "./store.js";

export type { Explanation, PolicyError, PolicySource, PolicyState, PolicyStatus, PolicyStore, PolicyView } from "./store.js";

/** A `PolicyClient`, or any store of a `PolicyState`. */
export type PolicyReadable = Readable<PolicyState>;

/** Whether the user may `permission` (on `target`). */
export function can(client: PolicyReadable, permission: string, target?: object): Readable<boolean>;

/** Whether the user may see the resource `kind` `id` (of `project`). */
export function canView(client: PolicyReadable, kind: string, id: string, project?: string): Readable<boolean>;

/** The items (an array, or a store of one) the user may see. */
export function filtered<T>(client: PolicyReadable, items: T[] | Readable<T[]>): Readable<T[]>;

/** The client's status alone. */
export function status(client: PolicyReadable): Readable<PolicyStatus>;
