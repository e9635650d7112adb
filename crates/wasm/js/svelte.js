// tessera-policy/svelte: Svelte 4 and 5 stores of a policy client (crates/wasm/js/svelte.js).
// The client is itself a store (`$client` is its state); these are stores derived from it, which
// tell their subscribers only when their value changes.

import { derived } from "svelte/store";

/** Whether the user may `permission` (on `target`). */
export function can(client, permission, target) {
  return derived(client, (state) => state.view.can(permission, target));
}

/** Whether the user may see the resource `kind` `id` (of `project`). */
export function canView(client, kind, id, project) {
  return derived(client, (state) => state.view.canView(kind, id, project));
}

/** The items (an array, or a store of one) the user may see. */
export function filtered(client, items) {
  return items && typeof items.subscribe === "function"
    ? derived([client, items], ([state, list]) => state.view.filter(list))
    : derived(client, (state) => state.view.filter(items));
}

/** The client's status alone. */
export function status(client) {
  return derived(client, (state) => state.status);
}
