// Starts the app: the WebAssembly module, then the service worker. A file, not an inline
// script, so that the page runs under a Content-Security-Policy without 'unsafe-inline'.
// Until the module has mounted the app, the shell's #boot says it is loading; here it says
// why the app cannot start, when it cannot.

import { preload } from "/store.js";

// The signed-in user's last good snapshot is read from IndexedDB while the module loads: on a
// return visit the app starts from it at once (and verifies it again before using it).
const user = (() => {
  try {
    const session = JSON.parse(sessionStorage.getItem("tessera.session") ?? "null");
    if (session?.user) return session.user;
    return navigator.onLine ? null : localStorage.getItem("tessera.user");
  } catch {
    return null;
  }
})();
if (user) preload([`tessera.snapshot.${user}`, `tessera.snapshot-meta.${user}`]);

function say(text) {
  const message = document.getElementById("boot-message");
  if (message) message.textContent = text;
  document.getElementById("boot")?.setAttribute("data-state", "failed");
}

if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") {
  say("The Tessera demo needs WebAssembly, which this browser does not run (or has switched off). Try a current Chrome, Edge, Firefox or Safari.");
} else {
  import("/pkg/tessera_app.js")
    .then(({ default: init }) => init({ module_or_path: "/pkg/tessera_app_bg.wasm" }))
    .catch((error) => {
      console.error("tessera: the app could not start", error);
      say(`The app could not be loaded (${error?.message ?? error}). Reload to try again.`);
    });
}

// The service worker installs once the page has loaded, so that its copying of the shell does
// not compete with the app's own first start.
if ("serviceWorker" in navigator) {
  const register = () =>
    navigator.serviceWorker.register("/sw.js").catch((error) => console.warn("service worker:", error));
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register, { once: true });
}
