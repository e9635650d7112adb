// Types of tessera-policy/react (crates/wasm/js/react.d.ts).

import type { ReactElement, ReactNode } from "react";
import type { Explanation, PolicyState, PolicyStatus, PolicyStore } from "./store.js";

export type { Explanation, PolicyError, PolicySource, PolicyState, PolicyStatus, PolicyStore, PolicyView } from "./store.js";

export interface PolicyProviderProps {
  /** A `PolicyClient` from `createPolicyClient`, or any object with its store contract. */
  client: PolicyStore;
  children?: ReactNode;
}

/** Gives its subtree `client`; the hooks and `<Can>` read it. */
export function PolicyProvider(props: PolicyProviderProps): ReactElement;

/** The client's state; re-renders on every change. */
export function usePolicy(): PolicyState;

/** Whether the user may `permission` (on `target`); re-renders when the answer changes. */
export function useCan(permission: string, target?: object): boolean;

/** Whether the user may see the resource `kind` `id` (of `project`); re-renders when the answer changes. */
export function useCanView(kind: string, id: string, project?: string): boolean;

/** The items the user may see, memoised on `items` and the view; re-renders when the view changes. */
export function useFilter<T>(items: T[]): T[];

/** The client's status alone; re-renders when it changes. */
export function usePolicyStatus(): PolicyStatus;

/** What `<Can>` asks: a permission (on a target), or whether a resource may be seen. */
export type CanQuery =
  | { permission: string; target?: object; view?: never }
  | { view: readonly [kind: string, id: string, project?: string]; permission?: never; target?: never };

export type CanProps = CanQuery & {
  /** What renders when denied (unless `children` is a function). */
  fallback?: ReactNode;
  /** What renders when allowed, or a function of the decision and its explanation. */
  children?: ReactNode | ((allowed: boolean, explanation: Explanation) => ReactNode);
};

/** Its children when allowed, else `fallback`; or `children(allowed, explanation)`. */
export function Can(props: CanProps): ReactElement;
