// A Vue app with `tessera-policy/client` and `tessera-policy/vue`, served by a real
// `tessera serve` and driven by tests/npm/vue-app.test.mjs. Render functions, so that Vite needs
// no Vue plugin.
import { createApp, defineComponent, h } from "vue";
import { createPolicyClient } from "tessera-policy/client";
import { PolicyPlugin, useCan, usePolicy } from "tessera-policy/vue";

const user = new URLSearchParams(location.search).get("user") ?? "u-cleo";

async function getToken() {
  const kept = sessionStorage.getItem(`token:${user}`);
  if (kept) return kept;
  const response = await fetch("/api/demo/sign-in", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user }),
  });
  if (!response.ok) throw new Error(`sign-in refused: ${response.status}`);
  const { token } = await response.json();
  sessionStorage.setItem(`token:${user}`, token);
  return token;
}

const key = await (await fetch("/key.pub")).text();
const client = createPolicyClient({ url: location.origin, trustedKeys: [key], getToken });

const App = defineComponent({
  setup() {
    const state = usePolicy();
    const canCreate = useCan("task.create", { project: "p-rebrand" });
    return () =>
      h("main", [
        h("p", { id: "status" }, `${state.value.status} ${state.value.source} ${state.value.version}`),
        h("p", { id: "create" }, canCreate.value ? "can create tasks" : "cannot create tasks"),
      ]);
  },
});

createApp(App).use(PolicyPlugin, client).mount("#root");
