// tessera-policy/vue against the fake client: mounted by createApp into happy-dom, and rendered
// on the server by vue/server-renderer. Prints what it saw as JSON.
import "./dom.mjs";
import { readFileSync } from "node:fs";
import { createApp, createSSRApp, defineComponent, h, nextTick, ref } from "vue";
import { renderToString } from "vue/server-renderer";
import { PolicyPlugin, providePolicy, useCan, useCanView, useFilter, usePolicy, usePolicyStatus } from "tessera-policy/vue";
import { FakeClient, READY, fakeView } from "./fake-client.mjs";

const items = [
  { kind: "project", id: "p-rebrand" },
  { kind: "task", id: "t-1" },
  { kind: "task", id: "t-2" },
];
const permission = ref("task.create");

const Page = defineComponent({
  setup() {
    const state = usePolicy();
    const status = usePolicyStatus();
    const create = useCan(permission, { project: "p-rebrand" });
    const project = useCanView("project", () => "p-rebrand");
    const list = useFilter(items);
    return () =>
      h("main", [
        h("p", { id: "status" }, status.value),
        create.value ? h("button", { id: "create" }, "New task") : null,
        h("p", { id: "project" }, project.value ? "visible" : "hidden"),
        h("ul", list.value.map((item) => h("li", { key: item.id }, item.id))),
        h("p", { id: "version" }, `${state.value.user}@${state.value.version}`),
      ]);
  },
});

const out = { vue: JSON.parse(readFileSync(new URL(import.meta.resolve("vue/package.json")), "utf8")).version };
const client = new FakeClient();

// With the plugin.
const container = document.createElement("div");
document.body.append(container);
const app = createApp(Page).use(PolicyPlugin, client);
app.mount(container);
out.loading = container.innerHTML;
out.listenersMounted = client.listeners;
client.set(READY);
await nextTick();
out.ready = container.innerHTML;
client.set({ version: 2 });
await nextTick();
out.versionOnly = container.innerHTML;
permission.value = "announce";
await nextTick();
out.otherPermission = container.innerHTML;
permission.value = "task.create";
client.set({ status: "stale", view: fakeView({ see: ["task:t-2"] }) });
await nextTick();
out.stale = container.innerHTML;
app.unmount();
out.listenersUnmounted = client.listeners;

// With providePolicy in a parent's setup.
const other = new FakeClient();
other.set(READY);
const Parent = defineComponent({
  setup() {
    providePolicy(other);
    return () => h(Page);
  },
});
const second = document.createElement("div");
const parentApp = createApp(Parent);
parentApp.mount(second);
out.provided = second.innerHTML;
parentApp.unmount();
out.providedListenersUnmounted = other.listeners;

// On the server: the server snapshot, and no subscription left behind.
const server = new FakeClient();
server.set(READY);
out.server = await renderToString(createSSRApp(Page).use(PolicyPlugin, server));
out.serverListeners = server.listeners;

try {
  const lonely = createApp(Page);
  lonely.config.warnHandler = () => {};
  lonely.mount(document.createElement("div"));
} catch (error) {
  out.noClient = error.message;
}
console.log(JSON.stringify(out));
