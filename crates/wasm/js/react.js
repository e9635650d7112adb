// tessera-policy/react: React 18 and 19 bindings of a policy client (crates/wasm/js/react.js).
// Plain ESM without JSX. Every hook reads the client through `useSyncExternalStore`; all but
// `usePolicy` select what they need (an answer, the status, the view), so a component
// re-renders only when that changes. No "use client" directive: Vite warns of it in every build
// (the README tells a Next.js app to render the provider from a client file of its own).

import { createContext, createElement, Fragment, useContext, useMemo, useSyncExternalStore } from "react";

const PolicyContext = createContext(null);

/** Gives its subtree `client`, a `PolicyClient` (or any object with its store contract). */
export function PolicyProvider({ client, children }) {
  // Bound once per client: the hooks then subscribe once, whatever the client's methods are.
  const store = useMemo(
    () => ({
      subscribe: (listener) => client.subscribe(listener),
      get: () => client.getSnapshot(),
      server: () => client.getServerSnapshot(),
    }),
    [client],
  );
  return createElement(PolicyContext.Provider, { value: store }, children);
}

function useStore() {
  const store = useContext(PolicyContext);
  if (!store) throw new Error("tessera-policy/react: no <PolicyProvider client={…}> above this component");
  return store;
}

/** `select(state)` of the current state, re-rendering when it changes (by `Object.is`). */
function useSelect(select) {
  const store = useStore();
  return useSyncExternalStore(
    store.subscribe,
    () => select(store.get()),
    () => select(store.server()),
  );
}

const whole = (state) => state;
const viewOf = (state) => state.view;

/** The client's state: `{ status, source, version, expiresAt, lastError, pending, user, view }`. */
export function usePolicy() {
  return useSelect(whole);
}

/** Whether the user may `permission` (on `target`). */
export function useCan(permission, target) {
  return useSelect((state) => state.view.can(permission, target));
}

/** Whether the user may see the resource `kind` `id` (of `project`). */
export function useCanView(kind, id, project) {
  return useSelect((state) => state.view.canView(kind, id, project));
}

/** The items the user may see, the same array until `items` or the policy changes. */
export function useFilter(items) {
  const view = useSelect(viewOf);
  return useMemo(() => view.filter(items), [items, view]);
}

/** The client's status alone: `loading`, `ready`, `stale`, `expired`, `refused` or `signed_out`. */
export function usePolicyStatus() {
  return useSelect((state) => state.status);
}

/** The query `explain` takes, without undefined members. */
function queryOf(permission, target, resource) {
  if (resource) {
    const [kind, id, project] = resource;
    return project === undefined ? { view: kind, id } : { view: kind, id, project };
  }
  return target === undefined ? { can: permission } : { can: permission, target };
}

/**
 * `<Can permission target>` or `<Can view={[kind, id, project]}>`: its children when allowed,
 * else `fallback`; or, when `children` is a function, `children(allowed, explanation)`.
 */
export function Can({ permission, target, view: resource, fallback = null, children }) {
  const view = useSelect(viewOf);
  if (typeof children === "function") {
    const explanation = view.explain(queryOf(permission, target, resource));
    return createElement(Fragment, null, children(explanation.allowed, explanation));
  }
  const allowed = resource ? view.canView(resource[0], resource[1], resource[2]) : view.can(permission, target);
  return createElement(Fragment, null, allowed ? children : fallback);
}
