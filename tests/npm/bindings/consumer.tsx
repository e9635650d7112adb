// A TypeScript app of each binding: type-checked (never run) against the packed types.
import { useState } from "react";
import { createApp, ref } from "vue";
import { derived, get, writable } from "svelte/store";
import { Can, PolicyProvider, useCan, useCanView, useFilter, usePolicy, usePolicyStatus } from "tessera-policy/react";
import type { Explanation, PolicyState, PolicyStatus, PolicyStore } from "tessera-policy/react";
import * as vue from "tessera-policy/vue";
import * as svelte from "tessera-policy/svelte";

/** What `createPolicyClient` gives: the store contract and more. */
interface Client extends PolicyStore {
  ready(): Promise<PolicyState>;
  refresh(): Promise<void>;
  activate(): void;
  signOut(): Promise<void>;
  close(): void;
}
declare const client: Client;

type Task = { kind: "task"; id: string; title: string };

function Tasks({ tasks }: { tasks: Task[] }) {
  const state: PolicyState = usePolicy();
  const status: PolicyStatus = usePolicyStatus();
  const creates: boolean = useCan("task.create", { project: "p-rebrand" });
  const sees: boolean = useCanView("project", "p-rebrand") && useCanView("task", "t-1", "p-rebrand");
  const visible: Task[] = useFilter(tasks);
  const [open] = useState(false);
  return (
    <ul data-status={status} data-version={state.version ?? ""} data-open={open && creates && sees}>
      {visible.map((task) => (
        <li key={task.id}>{task.title}</li>
      ))}
      <Can permission="task.create" target={{ project: "p-rebrand" }} fallback={<span>no</span>}>
        <button>New task</button>
      </Can>
      <Can view={["project", "p-rebrand"]}>{(allowed: boolean, why: Explanation) => (allowed ? null : why.message)}</Can>
      <Can permission="announce">{(allowed, why) => `${allowed} ${why.code}`}</Can>
      {/* @ts-expect-error: a permission or a view, not both */}
      <Can permission="announce" view={["project", "p-1"]} />
    </ul>
  );
}
export const app = (
  <PolicyProvider client={client}>
    <Tasks tasks={[]} />
  </PolicyProvider>
);

// Vue.
createApp({}).use(vue.PolicyPlugin, client);
vue.providePolicy(client);
const vueState: PolicyState = vue.usePolicy().value;
const permission = ref("task.create");
const vueCreates: boolean = vue.useCan(permission, () => ({ project: "p-rebrand" })).value;
const vueSees: boolean = vue.useCanView("project", "p-rebrand").value;
const vueTasks: Task[] = vue.useFilter(ref<Task[]>([])).value;
const vueStatus: PolicyStatus = vue.usePolicyStatus().value;
// @ts-expect-error: the state is read-only
vue.usePolicy().value = vueState;

// Svelte: the client is a store of its state.
const svelteState: PolicyState = get(client);
const svelteCreates: boolean = get(svelte.can(client, "task.create", { project: "p-rebrand" }));
const svelteSees: boolean = get(svelte.canView(client, "project", "p-rebrand"));
const svelteTasks: Task[] = get(svelte.filtered(client, writable<Task[]>([])));
const svelteList: Task[] = get(svelte.filtered(client, [] as Task[]));
const svelteStatus = derived(svelte.status(client), (status: PolicyStatus) => status === "ready");
console.log(vueCreates, vueSees, vueTasks, vueStatus, svelteState, svelteCreates, svelteSees, svelteTasks, svelteList, svelteStatus);
