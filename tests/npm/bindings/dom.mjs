// A DOM for React and Vue to render into: happy-dom's window, its names made globals (those
// Node lacks) before either loads.
import { Window } from "happy-dom";

const window = new Window({ url: "http://localhost/" });
for (const name of Object.getOwnPropertyNames(window)) {
  if (!(name in globalThis) && !name.startsWith("_")) {
    Object.defineProperty(globalThis, name, { value: window[name], configurable: true, writable: true });
  }
}
globalThis.window = window;
globalThis.document = window.document;
globalThis.IS_REACT_ACT_ENVIRONMENT = true;
