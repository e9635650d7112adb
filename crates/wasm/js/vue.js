// tessera-policy/vue: Vue 3 bindings of a policy client (crates/wasm/js/vue.js). The client is
// provided to a tree (a plugin, or `providePolicy` in a component's setup); `usePolicy` gives a
// component a `shallowRef` of its state, subscribed until the component's scope ends, and the
// other composables are `computed`s of it.

import { computed, getCurrentScope, inject, onScopeDispose, provide, shallowRef, ssrContextKey, toValue } from "vue";

/** The injection key under which the client is provided. */
export const policyKey = Symbol("tessera-policy");

/** `app.use(PolicyPlugin, client)`: provides `client` to the whole app. */
export const PolicyPlugin = {
  install(app, client) {
    app.provide(policyKey, client);
  },
};

/** Provides `client` to the calling component's descendants (call it in `setup`). */
export function providePolicy(client) {
  provide(policyKey, client);
}

/** A `shallowRef` of the client's state, updated on every change until the scope ends. */
export function usePolicy() {
  const client = inject(policyKey, null);
  if (!client) throw new Error("tessera-policy/vue: no client provided (app.use(PolicyPlugin, client) or providePolicy(client))");
  // Rendered on the server: the stable server snapshot, and no subscription, which nothing would end.
  if (inject(ssrContextKey, null)) return shallowRef(client.getServerSnapshot());
  const state = shallowRef(client.getSnapshot());
  const unsubscribe = client.subscribe((next) => {
    state.value = next;
  });
  if (getCurrentScope()) onScopeDispose(unsubscribe);
  return state;
}

/** Whether the user may `permission` (on `target`); each may be a ref or a getter. */
export function useCan(permission, target) {
  const state = usePolicy();
  return computed(() => state.value.view.can(toValue(permission), toValue(target)));
}

/** Whether the user may see the resource `kind` `id` (of `project`); each may be a ref or a getter. */
export function useCanView(kind, id, project) {
  const state = usePolicy();
  return computed(() => state.value.view.canView(toValue(kind), toValue(id), toValue(project)));
}

/** The items (an array, a ref or a getter) the user may see. */
export function useFilter(items) {
  const state = usePolicy();
  return computed(() => state.value.view.filter(toValue(items)));
}

/** The client's status alone. */
export function usePolicyStatus() {
  const state = usePolicy();
  return computed(() => state.value.status);
}
