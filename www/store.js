// The app's storage on the device: one IndexedDB object store of text by key, for what is too
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

/** The text stored under `key`, or undefined. */
export function storeGet(key) {
  return run("readonly", (store) => store.get(key)).then((value) => (typeof value === "string" ? value : undefined));
}

/** Stores `value` (text) under `key`. */
export function storeSet(key, value) {
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
    read.catch(() => {}); // Said by the app when it takes it.
    early.set(key, read);
  }
}

/** The read `preload` started for `key` (taken once), or else a new one. */
export function storeTake(key) {
  const read = early.get(key);
  early.delete(key);
  return read ?? storeGet(key);
}
