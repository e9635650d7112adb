// The Tessera demo's service worker: after one visit the app starts and works with the network
// off.
//
// - The app shell (this build's HTML, scripts, WebAssembly and the modules split off it, styles,
//   manifest, icons) is cached at install, under a cache named after the build, and served
//   cache-first.
// - The public keys go to the network first; each good answer is cached and served when the
//   network is down. The sign-in lookup (`/api/users?q=`) goes to the network only: offline,
//   the app offers the users who signed in on the device.
// - Snapshots go to the network only. `GET /api/snapshot` answers the user the bearer token
//   names, so its URL is the same for everyone: a cache keyed by it would hand one user's
//   snapshot to the next. The app keeps the last good snapshot per user itself (IndexedDB,
//   bytes it verified) and starts from it offline.
// - Search and the admin API go to the network only: the app keeps its own cache of results
//   and searches it offline, filtering every result through the evaluator. Nothing sent with
//   a bearer token is cached here.
// `cargo xtask site` replaces BUILD below with a hash of the built files.
const BUILD = "__TESSERA_BUILD__";
const SHELL = `tessera-shell-${BUILD}`;
const API = "tessera-api-v1";
const SHELL_FILES = [
  "/",
  "/index.html",
  "/boot.js",
  "/store.js",
  "/app.css",
  "/manifest.webmanifest",
  "/icons/icon.svg",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/icons/maskable-512.png",
  "/pkg/tessera_app.js",
  "/pkg/tessera_app_bg.wasm",
];
// The modules split off the app (the admin page, the impact preview) and their loader: fetched
// when first needed, cached here at install so that they open offline too. `cargo xtask site`
// replaces the placeholder with their paths.
const LAZY_FILES = ["__TESSERA_LAZY__"];
const CACHED_API = ["/api/public-keys"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      // Past the HTTP cache: this build's files, never an older copy.
      .then((cache) => cache.addAll([...SHELL_FILES, ...LAZY_FILES].map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith("tessera-shell-") && name !== SHELL)
            .map((name) => caches.delete(name)),
        ),
      )
      // Snapshots earlier builds cached here (under `/api/snapshot?user=…`) go.
      .then(() => caches.open(API))
      .then((cache) =>
        cache
          .keys()
          .then((requests) =>
            Promise.all(
              requests
                .filter((request) => new URL(request.url).pathname === "/api/snapshot")
                .map((request) => cache.delete(request)),
            ),
          ),
      )
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(API);
  try {
    const response = await fetch(request);
    if (response.ok) {
      // Cached under the URL alone, so a conditional request can fall back to it too.
      await cache.put(request.url, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await cache.match(request.url);
    if (cached) return cached;
    throw error;
  }
}

async function shellFirst(request) {
  const cache = await caches.open(SHELL);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (CACHED_API.includes(url.pathname)) {
    event.respondWith(networkFirst(request));
  } else if (url.pathname.startsWith("/api/")) {
    return; // Snapshots, search, the admin API, the event stream: the network, or a failure the app handles.
  } else if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(() => caches.open(SHELL).then((cache) => cache.match("/index.html"))),
    );
  } else {
    event.respondWith(shellFirst(request));
  }
});
