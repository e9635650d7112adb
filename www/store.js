// The app's storage on the device: one IndexedDB object store of text by key (kept as its UTF-8
// bytes: the app hands its own bytes over and takes them back with a copy, where text would be
// converted both ways, some 20 ms each for an administrator's 7 MB snapshot), for what is too
// big for local storage (a network administrator's snapshot at 100,000 users is megabytes;
// local storage holds about five). The app (crates/app/src/browser.rs) imports these
// functions; every failure (quota, a private window without IndexedDB) rejects with an Error
// that the app shows on screen. The boot script starts reading the signed-in user's snapshot
// (`preload`) while the app's WebAssembly is still loading; the app takes that read
// (`storeTake`) instead of starting its own.

const NAME = "tessera";
const STORE = "kv";
let opened = null;

function open() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      if (typeof indexedDB === "undefined") {
        reject(new Error("this browser keeps no IndexedDB here"));
        return;
      }
      const request = indexedDB.open(NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error("IndexedDB could not be opened"));
      request.onblocked = () => reject(new Error("IndexedDB is blocked by another tab"));
    });
    // A failed open is tried again next time.
    opened.catch(() => {
      opened = null;
    });
  }
  return opened;
}

function run(mode, act) {
  return open().then(
    (db) =>
      new Promise((resolve, reject) => {
        const transaction = db.transaction(STORE, mode);
        const request = act(transaction.objectStore(STORE));
        transaction.oncomplete = () => resolve(request.result);
        transaction.onerror = () => reject(transaction.error ?? request.error ?? new Error("IndexedDB failed"));
        transaction.onabort = () => reject(transaction.error ?? new Error("IndexedDB aborted the write"));
      }),
  );
}

/**
 * The text stored under `key` as its UTF-8 bytes (a `Uint8Array`), or undefined. What an older
 * version of the app stored as a string is given as it is (the app reads both).
 */
export function storeGet(key) {
  return run("readonly", (store) => store.get(key)).then((value) =>
    value instanceof Uint8Array || typeof value === "string" ? value : undefined,
  );
}

/**
 * Stores `bytes` (a `Uint8Array`: text as UTF-8) under `key`. They are copied at once: the app
 * passes a view of its own memory, which is not its to keep.
 */
export function storeSet(key, bytes) {
  const value = bytes.slice();
  return run("readwrite", (store) => store.put(value, key)).then(() => undefined);
}

/** Deletes `key`. */
export function storeDelete(key) {
  return run("readwrite", (store) => store.delete(key)).then(() => undefined);
}

/** Reads started before the app ran, by key; each is taken once. */
const early = new Map();

/** Starts reading `keys` now, for the app to take later. */
export function preload(keys) {
  for (const key of keys) {
    const read = storeGet(key);
    // A failure is said by the app when it takes the read.
    read.then(() => performance.mark(`tessera:preloaded:${key.split(".")[1]}`)).catch(() => {});
    early.set(key, read);
  }
}

/** The read `preload` started for `key` (taken once), or else a new one. */
export function storeTake(key) {
  const read = early.get(key);
  early.delete(key);
  return read ?? storeGet(key);
}
