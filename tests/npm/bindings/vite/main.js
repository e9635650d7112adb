// The three bindings in one app, for Vite to bundle.
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import { createApp, h } from "vue";
import { Can, PolicyProvider, useCan } from "tessera-policy/react";
import { PolicyPlugin, useCan as useVueCan } from "tessera-policy/vue";
import { can } from "tessera-policy/svelte";
import { FakeClient } from "../fake-client.mjs";

const client = new FakeClient();
const Create = () => (useCan("task.create") ? createElement("button", null, "New task") : null);
createRoot(document.getElementById("react")).render(
  createElement(PolicyProvider, { client }, createElement(Create), createElement(Can, { permission: "announce" }, "announce")),
);
createApp({ setup: () => ((create) => () => h("p", String(create.value)))(useVueCan("task.create")) })
  .use(PolicyPlugin, client)
  .mount("#vue");
can(client, "task.create").subscribe((allowed) => console.log(allowed));
