// Starts the app: the WebAssembly module, then the service worker. A file, not an inline
// script, so that the page runs under a Content-Security-Policy without 'unsafe-inline'.
// Until the module has mounted the app, the shell's #boot says it is loading; here it says
// why the app cannot start, when it cannot.

import { preload } from "/store.js";

// Where a start's time goes (the large-organisation browser test records these marks).
performance.mark("tessera:boot");

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
    .then(({ default: init }) => {
      performance.mark("tessera:glue-imported");
      return init({ module_or_path: "/pkg/tessera_app_bg.wasm" });
    })
    .catch((error) => {
      console.error("tessera: the app could not start", error);
      say(`The app could not be loaded (${error?.message ?? error}). Reload to try again.`);
    });
}

// The service worker is registered once the page has loaded, but on a first visit (no worker
// controls the page yet) only once the app has shown its first screen: installing copies the
// whole shell (the module and every split-off part, past the HTTP cache), which competed with
// the app's first fetches (some 80 ms between the app's start and its list). Signed out, the
// first screen is the sign-in form, there once the page has loaded. At the latest, five seconds
// after the page loaded.
if ("serviceWorker" in navigator) {
  const firstVisit = !navigator.serviceWorker.controller;
  let registered = false;
  const register = () => {
    if (registered) return;
    registered = true;
    navigator.serviceWorker.register("/sw.js").catch((error) => console.warn("service worker:", error));
  };
  const waitForList = firstVisit && user && typeof PerformanceObserver === "function";
  const loaded = () => {
    if (!waitForList) register();
    setTimeout(register, 5000);
  };
  if (waitForList) {
    new PerformanceObserver((marks, observer) => {
      if (marks.getEntries().some((mark) => mark.name === "tessera:first-filtered-render")) {
        observer.disconnect();
        register();
      }
    }).observe({ type: "mark", buffered: true });
  }
  if (document.readyState === "complete") loaded();
  else window.addEventListener("load", loaded, { once: true });
}
