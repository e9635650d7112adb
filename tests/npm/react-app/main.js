// A React app as a frontend developer would write it with `tessera-policy/client` and
// `tessera-policy/react`, served by a real `tessera serve` (same origin) and driven by
// tests/npm/react-app.test.mjs. No JSX, so that Vite needs no React plugin.
import { createElement as h } from "react";
import { createRoot } from "react-dom/client";
import { createPolicyClient } from "tessera-policy/client";
import { Can, PolicyProvider, useCan, usePolicy } from "tessera-policy/react";

const user = new URLSearchParams(location.search).get("user") ?? "u-cleo";

// The app's session: a demo token kept per tab, as a real app keeps its identity provider's.
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

// The issuer's public key ships with the app (here a static file beside it).
const key = await (await fetch("/key.pub")).text();
const client = createPolicyClient({ url: location.origin, trustedKeys: [key], getToken });
window.tesseraClient = client;

function Status() {
  const state = usePolicy();
  const error = state.lastError ? ` ${state.lastError.reason}` : "";
  return h("p", { id: "status" }, `${state.status} ${state.source} ${state.version}${error}`);
}

function CreateTask() {
  const allowed = useCan("task.create", { project: "p-rebrand" });
  return h("p", { id: "create" }, allowed ? "can create tasks" : "cannot create tasks");
}

function Why() {
  return h(Can, { permission: "task.create", target: { project: "p-rebrand" } }, (allowed, explanation) =>
    h("p", { id: "why" }, `${allowed ? "allowed" : "denied"} ${explanation?.code ?? ""}`),
  );
}

function App() {
  return h(
    "main",
    null,
    h(Status),
    h(CreateTask),
    h(Why),
    h("button", { id: "sign-out", onClick: () => client.signOut() }, "Sign out"),
  );
}

createRoot(document.getElementById("root")).render(h(PolicyProvider, { client }, h(App)));
