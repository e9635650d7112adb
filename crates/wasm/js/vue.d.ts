// Types of tessera-policy/vue (crates/wasm/js/vue.d.ts).

import type { ComputedRef, InjectionKey, MaybeRefOrGetter, Plugin, ShallowRef } from "vue";
import type { PolicyState, PolicyStatus, PolicyStore } from "./store.js";

export type { Explanation, PolicyError, PolicySource, PolicyState, PolicyStatus, PolicyStore, PolicyView } from "./store.js";

/** The injection key under which the client is provided. */
export const policyKey: InjectionKey<PolicyStore>;

/** `app.use(PolicyPlugin, client)`: provides `client` (a `PolicyClient`) to the whole app. */
export const PolicyPlugin: Plugin<[PolicyStore]>;

/** Provides `client` to the calling component's descendants (call it in `setup`). */
export function providePolicy(client: PolicyStore): void;

/** A `shallowRef` of the client's state, updated on every change until the calling scope ends. */
export function usePolicy(): Readonly<ShallowRef<PolicyState>>;

/** Whether the user may `permission` (on `target`). */
export function useCan(permission: MaybeRefOrGetter<string>, target?: MaybeRefOrGetter<object | undefined>): ComputedRef<boolean>;

/** Whether the user may see the resource `kind` `id` (of `project`). */
export function useCanView(
  kind: MaybeRefOrGetter<string>,
  id: MaybeRefOrGetter<string>,
  project?: MaybeRefOrGetter<string | undefined>,
): ComputedRef<boolean>;

/** The items the user may see. */
export function useFilter<T>(items: MaybeRefOrGetter<T[]>): ComputedRef<T[]>;

/** The client's status alone. */
export function usePolicyStatus(): ComputedRef<PolicyStatus>;
