
// ---- tessera-policy: questions about Projects, fast (crates/wasm/js/fast.js) ----------------
// `cargo xtask dist` appends this to the module wasm-bindgen writes, where `PolicyEngine`,
// `UserView` and the module's `wasm` exports are in scope. Sending a string into WebAssembly
// costs more than a decision there, so a view asks the module once per question for every
// Project it allows (the core's precomputed `UserView` answers them all), keeps their ids as a
// `Set`, and answers from it until the snapshot changes (any engine's update bumps a counter it
// reads from the module's memory) or the time leaves the span over which those answers hold (an
// Agreement's or the snapshot's expiry). Anything else goes to the methods wasm-bindgen wrote,
// which decide the same.

/** 0 a Project (or a task or document of it), 1 a report row, 2 a finance row; -1 otherwise. */
function tesseraKind(kind) {
  switch (kind) {
    case "project":
    case "task":
    case "document":
      return 0;
    case "report":
      return 1;
    case "finance":
      return 2;
    default:
      return -1;
  }
}

/** The permissions that act in a Project, numbered as the module numbers them. */
function tesseraPermission(permission) {
  switch (permission) {
    case "task.create":
      return 3;
    case "file.upload":
      return 4;
    case "wiki.manage":
      return 5;
    default:
      return -1;
  }
}

// The clock is read once per 64 questions, and again in each new task (a microtask forgets it):
// reading it costs more than a decision, and within one synchronous run of an app's code the
// time hardly moves. Expiries are written to the second.
let tesseraNow = -1;
let tesseraAsked = 0;

function tesseraForget() {
  tesseraNow = -1;
}

function tesseraClock() {
  if (tesseraNow < 0 || ++tesseraAsked > 63) {
    if (tesseraNow < 0) queueMicrotask(tesseraForget);
    tesseraNow = Date.now();
    tesseraAsked = 0;
  }
  return tesseraNow;
}

// The count of updates, read from the module's memory (a view tells where it lies).
let tesseraWords = null;
let tesseraAt = -1;

function tesseraUpdates(view) {
  if (tesseraAt < 0) tesseraAt = view.__updates();
  if (tesseraWords === null || tesseraWords.length === 0) tesseraWords = new Uint32Array(wasm.memory.buffer);
  return tesseraWords[tesseraAt >>> 2];
}

/** The ids of the Projects for which `question` is allowed now, or undefined when the slow path
 * must answer. A view keeps its Sets and the span over which they all hold on itself, in few
 * fields, so that a decision touches little memory. */
function tesseraSet(view, question) {
  const now = tesseraClock();
  const updates = tesseraUpdates(view);
  if (view.__seen !== updates || now < view.__from || now >= view.__until) {
    view.__seen = updates;
    view.__from = -Infinity;
    view.__until = Infinity;
    view.__sets = [undefined, undefined, undefined, undefined, undefined, undefined];
  }
  let set = view.__sets[question];
  if (set === undefined) {
    const text = view.__visible(question, now);
    if (text === "") return undefined;
    const lines = text.split("\n");
    const span = lines[0].split(" ");
    view.__from = Math.max(view.__from, Number(span[0]));
    view.__until = Math.min(view.__until, Number(span[1]));
    set = view.__sets[question] = new Set(lines.slice(1));
  }
  return set;
}

const tesseraForUser = PolicyEngine.prototype.forUser;
PolicyEngine.prototype.forUser = function forUser(user) {
  const view = tesseraForUser.call(this, user);
  // Every view with the same fields, in the same order: one shape for the engine to optimise.
  view.__seen = -1;
  view.__from = 0;
  view.__until = 0;
  view.__sets = null;
  return view;
};

const tesseraCanView = UserView.prototype.canView;
UserView.prototype.canView = function canView(kind, id, project) {
  const question = tesseraKind(kind);
  if (question >= 0 && typeof id === "string") {
    const unset = project === undefined || project === null;
    const target = kind === "project" ? (unset ? id : undefined) : typeof project === "string" ? project : undefined;
    if (target !== undefined) {
      const set = tesseraSet(this, question);
      if (set !== undefined) return set.has(target);
    }
  }
  return tesseraCanView.call(this, kind, id, project);
};

/** A target that names a Project and nothing else, as the module would read it. */
function tesseraProjectOnly(target) {
  if (target === null || typeof target !== "object" || typeof target.project !== "string") return false;
  const prototype = Object.getPrototypeOf(target);
  if (prototype !== Object.prototype && prototype !== null) return false;
  for (const key in target) if (key !== "project" && target[key] !== undefined) return false;
  return true;
}

const tesseraCan = UserView.prototype.can;
UserView.prototype.can = function can(permission, target) {
  const question = tesseraPermission(permission);
  if (question >= 0 && tesseraProjectOnly(target)) {
    const set = tesseraSet(this, question);
    if (set !== undefined) return set.has(target.project);
  }
  return tesseraCan.call(this, permission, target);
};

/** The value of `name` on `item` if it is a string (as the module reads an item's fields). */
function tesseraField(item, name) {
  const value = item[name];
  return typeof value === "string" ? value : undefined;
}

UserView.prototype.filter = function filter(items) {
  const list = Array.isArray(items) ? items : Array.from(items);
  const sets = [];
  const out = [];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (item === null || (typeof item !== "object" && typeof item !== "function")) continue;
    const kind = tesseraField(item, "kind");
    const id = tesseraField(item, "id");
    if (kind === undefined || id === undefined) continue;
    const project = tesseraField(item, "project");
    const question = tesseraKind(kind);
    if (question < 0) {
      // A person or a group, asked one by one; any other kind is left out.
      if ((kind === "person" || kind === "group") && tesseraCanView.call(this, kind, id, project)) out.push(item);
      continue;
    }
    // A Project names no Project to hang off; the other kinds must.
    const target = kind === "project" ? (project === undefined ? id : undefined) : project;
    if (target === undefined) continue;
    let set = sets[question];
    if (set === undefined) set = sets[question] = tesseraSet(this, question) ?? null;
    if (set === null ? tesseraCanView.call(this, kind, id, project) : set.has(target)) out.push(item);
  }
  return out;
};

UserView.prototype.filterIds = function filterIds(kind, ids, project) {
  const list = Array.from(ids, (id) => {
    if (typeof id !== "string") throw new TypeError("filterIds: ids must be strings");
    return id;
  });
  if (tesseraKind(kind) >= 0 && kind !== "project") {
    // Every id hangs off the same Project: one answer for all.
    return list.length > 0 && this.canView(kind, list[0], project) ? list : [];
  }
  if (tesseraKind(kind) < 0 && kind !== "person" && kind !== "group") return [];
  return list.filter((id) => this.canView(kind, id, project));
};
