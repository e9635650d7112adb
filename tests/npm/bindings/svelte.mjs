// tessera-policy/svelte against the fake client: the derived stores, subscribed to as a
// component's `$store` would be, without a compiler. Prints what it saw as JSON.
import { readFileSync } from "node:fs";
import { derived, get, writable } from "svelte/store";
import { can, canView, filtered, status } from "tessera-policy/svelte";
import { FakeClient, READY, fakeView } from "./fake-client.mjs";

const out = { svelte: JSON.parse(readFileSync("node_modules/svelte/package.json", "utf8")).version };
const client = new FakeClient();

/** Every value a store gives its subscriber, and the unsubscriber. */
function record(store) {
  const values = [];
  const unsubscribe = store.subscribe((value) => values.push(value));
  return { values, unsubscribe };
}

const items = writable([
  { kind: "project", id: "p-rebrand" },
  { kind: "task", id: "t-1" },
]);
const seen = {
  status: record(status(client)),
  create: record(can(client, "task.create", { project: "p-rebrand" })),
  announce: record(can(client, "announce")),
  project: record(canView(client, "project", "p-rebrand")),
  list: record(derived(filtered(client, [{ kind: "task", id: "t-1" }, { kind: "task", id: "t-2" }]), (list) => list.map((item) => item.id))),
  storeList: record(derived(filtered(client, items), (list) => list.map((item) => item.id))),
  // The client is itself a store.
  version: record(derived(client, (state) => state.version)),
};
out.listenersSubscribed = client.listeners;
client.set(READY);
client.set({ version: 2 });
items.update((list) => [...list, { kind: "task", id: "t-2" }, { kind: "project", id: "p-rebrand" }]);
client.set({ status: "stale", view: fakeView({ see: ["task:t-2"] }) });
out.current = get(client).status;
out.values = Object.fromEntries(Object.entries(seen).map(([name, { values }]) => [name, values]));
for (const { unsubscribe } of Object.values(seen)) unsubscribe();
out.listenersUnsubscribed = client.listeners;
console.log(JSON.stringify(out));
