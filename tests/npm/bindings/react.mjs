// tessera-policy/react against the fake client: rendered by react-dom into happy-dom, and on
// the server by renderToString. Prints what it saw as JSON.
import "./dom.mjs";
import { readFileSync } from "node:fs";
import { act, createElement as h } from "react";
import { createRoot, hydrateRoot } from "react-dom/client";
import { renderToString } from "react-dom/server";
import { Can, PolicyProvider, useCan, useCanView, useFilter, usePolicy, usePolicyStatus } from "tessera-policy/react";
import { FakeClient, READY, fakeView } from "./fake-client.mjs";

const renders = { status: 0, create: 0 };
const items = [
  { kind: "project", id: "p-rebrand" },
  { kind: "task", id: "t-1" },
  { kind: "task", id: "t-2" },
];
const filtered = [];

function Status() {
  renders.status += 1;
  return h("p", { id: "status" }, usePolicyStatus());
}
function CreateTask() {
  renders.create += 1;
  return useCan("task.create", { project: "p-rebrand" }) ? h("button", { id: "create" }, "New task") : null;
}
function Project() {
  return h("p", { id: "project" }, useCanView("project", "p-rebrand") ? "visible" : "hidden");
}
function List() {
  // usePolicy re-renders this on every change; useFilter's list stays the same array.
  usePolicy();
  const list = useFilter(items);
  filtered.push(list);
  return h("ul", null, list.map((item) => h("li", { key: item.id }, item.id)));
}
function Version() {
  const { version, user } = usePolicy();
  return h("p", { id: "version" }, `${user}@${version}`);
}
function App() {
  return h(
    "main",
    null,
    h(Status),
    h(CreateTask),
    h(Project),
    h(List),
    h(Version),
    h(Can, { permission: "task.create", target: { project: "p-rebrand" }, fallback: h("i", null, "no tasks") }, h("b", null, "tasks")),
    h(Can, { view: ["task", "t-2"], fallback: "no t-2" }, "t-2"),
    h(Can, { view: ["task", "t-1", "p-rebrand"] }, (allowed, why) => h("em", null, `t-1 ${allowed} ${why.code}`)),
    h(Can, { permission: "announce" }, (allowed, why) => h("em", null, `announce ${allowed} ${why.code}: ${why.message}`)),
  );
}

const out = { react: JSON.parse(readFileSync(new URL(import.meta.resolve("react/package.json")), "utf8")).version };
const client = new FakeClient();
const app = h(PolicyProvider, { client }, h(App));

// On the server: the server snapshot (loading, deny-all), whatever the client holds.
client.set(READY);
out.server = renderToString(app);
client.set({ status: "loading", source: null, version: null, user: null, view: fakeView() });

const container = document.createElement("div");
document.body.append(container);
const root = createRoot(container);
await act(() => root.render(app));
out.loading = container.innerHTML;
out.listenersMounted = client.listeners;

await act(() => client.set(READY));
out.ready = container.innerHTML;
const afterReady = { ...renders };
const filterCallsReady = READY.view.filterCalls;

// A change that answers nothing differently: the hooks that select an answer do not re-render,
// and useFilter hands back the same array without filtering again.
await act(() => client.set({ version: 2 }));
out.versionOnly = container.innerHTML;
out.rerendersOnVersion = { status: renders.status - afterReady.status, create: renders.create - afterReady.create };
out.filterCallsOnVersion = READY.view.filterCalls - filterCallsReady;
out.sameFilteredArray = filtered.at(-1) === filtered.at(-2);

await act(() => client.set({ status: "stale", view: fakeView({ see: ["task:t-2"] }) }));
out.stale = container.innerHTML;

await act(() => root.unmount());
out.listenersUnmounted = client.listeners;

// Hydrating the server's HTML while the client is ready: the server snapshot first, with no
// mismatch, then the client's.
const hydrated = document.createElement("div");
hydrated.innerHTML = out.server;
document.body.append(hydrated);
const recoverable = [];
client.set(READY);
let again;
await act(() => {
  again = hydrateRoot(hydrated, app, { onRecoverableError: (error) => recoverable.push(String(error.message)) });
});
out.hydrated = hydrated.innerHTML;
out.hydrationErrors = recoverable;
await act(() => again.unmount());

try {
  renderToString(h(Status));
} catch (error) {
  out.noProvider = error.message;
}
console.log(JSON.stringify(out));
