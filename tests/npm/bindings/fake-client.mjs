// A stand-in for `createPolicyClient`: the store contract the bindings read, driven by hand.
// A class, so that a binding that calls its methods unbound fails here.

/** A view that allows exactly `can` (`permission` or `permission@project`) and `see` (`kind:id`). */
export function fakeView({ can = [], see = [] } = {}) {
  const allowedCan = new Set(can);
  const allowedSee = new Set(see);
  const canKey = (permission, target) => (target?.project ? `${permission}@${target.project}` : permission);
  const view = {
    filterCalls: 0,
    can: (permission, target) => allowedCan.has(canKey(permission, target)),
    canView: (kind, id) => allowedSee.has(`${kind}:${id}`),
    explain(query) {
      const allowed = "can" in query ? allowedCan.has(canKey(query.can, query.target)) : allowedSee.has(`${query.view}:${query.id}`);
      return allowed
        ? { allowed, code: "allowed", message: "the fake allows it" }
        : { allowed, code: "fake_denied", message: `the fake denies ${JSON.stringify(query)}` };
    },
    filter(items) {
      view.filterCalls += 1;
      return items.filter((item) => allowedSee.has(`${item.kind}:${item.id}`));
    },
  };
  return view;
}

const LOADING = { status: "loading", source: null, version: null, expiresAt: null, lastError: null, pending: false, user: null };

export class FakeClient {
  #listeners = new Set();
  #state = Object.freeze({ ...LOADING, view: fakeView() });
  #server = Object.freeze({ ...LOADING, view: fakeView() });

  subscribe(listener) {
    this.#listeners.add(listener);
    listener(this.#state);
    return () => this.#listeners.delete(listener);
  }
  getSnapshot() {
    return this.#state;
  }
  getServerSnapshot() {
    return this.#server;
  }
  async ready() {
    return this.#state;
  }
  async refresh() {}
  activate() {}
  async signOut() {}
  close() {}

  /** The next state, `patch` over this one; every listener hears it. */
  set(patch) {
    this.#state = Object.freeze({ ...this.#state, ...patch });
    for (const listener of [...this.#listeners]) listener(this.#state);
  }
  get listeners() {
    return this.#listeners.size;
  }
}

/** The state of a ready client whose user may create tasks in p-rebrand and see p-rebrand and t-1. */
export const READY = {
  status: "ready",
  source: "network",
  version: 1,
  expiresAt: 2000000000,
  user: "u-ada",
  view: fakeView({ can: ["task.create@p-rebrand"], see: ["project:p-rebrand", "task:t-1"] }),
};
