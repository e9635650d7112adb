
// ---- tessera-policy: questions about Projects, fast (crates/wasm/js/fast.js) ----------------
// `cargo xtask dist` appends this to the module wasm-bindgen writes, where `PolicyEngine` and
// `UserView` are in scope. A string costs far more to send into WebAssembly than a decision
// costs to take there, so a Project id crosses once: the engine's views remember its index
// (per snapshot generation: an update makes every remembered index stale, and the module says
// so), and from then on a question passes numbers only, answered by the core's precomputed
// `UserView`. Anything else goes to the methods wasm-bindgen wrote, which decide the same.

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
// time hardly moves. Decisions still honour the snapshot's expiry and the Agreements' to the
// second they are written in.
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

/** The current generation, asked with one that is never current. */
function tesseraGeneration(view) {
  return view.__ask(0xffffffff, 0, 0, 0) - 2;
}

/** Project indices for `ids` (-1 for unknown ones), remembered in `state`; undefined if an id
 * cannot be sent joined by newlines. */
function tesseraIndices(view, state, ids) {
  const indices = new Int32Array(ids.length);
  const missing = [];
  for (let i = 0; i < ids.length; i++) {
    const index = state.projects.get(ids[i]);
    if (index === undefined) missing.push(i);
    else indices[i] = index;
  }
  if (missing.length > 0) {
    const names = missing.map((i) => ids[i]);
    if (names.some((id) => id.includes("\n"))) return undefined;
    const found = view.__projectIndices(names.join("\n"));
    for (let k = 0; k < missing.length; k++) {
      indices[missing[k]] = found[k];
      if (found[k] >= 0) state.projects.set(names[k], found[k]);
    }
  }
  return indices;
}

/** The answers to `questions[i]` about Project `ids[i]` (1 or 0 each), or undefined when the
 * slow path must answer. */
function tesseraAskAll(view, questions, ids) {
  const state = view.__tessera;
  if (state === undefined) return undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const indices = tesseraIndices(view, state, ids);
    if (indices === undefined) return undefined;
    const codes = new Uint32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      // An unknown Project, or no question: denied (question 7 asks nothing).
      codes[i] = indices[i] < 0 || questions[i] > 5 ? 7 : indices[i] * 8 + questions[i];
    }
    if (codes.length === 0) return new Uint8Array(0);
    const answers = view.__askAll(state.generation, codes, Date.now());
    if (answers.length === codes.length) return answers;
    state.projects.clear();
    state.generation = tesseraGeneration(view);
  }
  return undefined;
}

/** The answer to `question` about Project `id`, or undefined when the slow path must answer. */
function tesseraAsk(view, question, id) {
  const state = view.__tessera;
  if (state === undefined) return undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    let index = state.projects.get(id);
    if (index === undefined) {
      if (id.includes("\n")) return undefined;
      index = view.__projectIndices(id)[0];
      // An unknown Project is denied, whoever asks.
      if (index < 0) return false;
      state.projects.set(id, index);
    }
    const answer = view.__ask(state.generation, question, index, tesseraClock());
    if (answer < 2) return answer === 1;
    state.projects.clear();
    state.generation = answer - 2;
  }
  return undefined;
}

const tesseraForUser = PolicyEngine.prototype.forUser;
PolicyEngine.prototype.forUser = function forUser(user) {
  const view = tesseraForUser.call(this, user);
  // One memory of Project indices per engine, shared by its views.
  if (this.__tessera === undefined) this.__tessera = { generation: tesseraGeneration(view), projects: new Map() };
  view.__tessera = this.__tessera;
  return view;
};

const tesseraCanView = UserView.prototype.canView;
UserView.prototype.canView = function canView(kind, id, project) {
  const question = tesseraKind(kind);
  if (question >= 0 && typeof id === "string") {
    const unset = project === undefined || project === null;
    const target = kind === "project" ? (unset ? id : undefined) : typeof project === "string" ? project : undefined;
    if (target !== undefined) {
      const answer = tesseraAsk(this, question, target);
      if (answer !== undefined) return answer;
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
    const answer = tesseraAsk(this, question, target.project);
    if (answer !== undefined) return answer;
  }
  return tesseraCan.call(this, permission, target);
};

/** The value of `name` on `item` if it is a string (as the module reads an item's fields). */
function tesseraField(item, name) {
  const value = item[name];
  return typeof value === "string" ? value : undefined;
}

UserView.prototype.filter = function filter(items) {
  const list = Array.from(items);
  const questions = new Uint8Array(list.length);
  const ids = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    questions[i] = 7;
    ids[i] = "";
    if (item === null || (typeof item !== "object" && typeof item !== "function")) continue;
    const kind = tesseraField(item, "kind");
    const id = tesseraField(item, "id");
    if (kind === undefined || id === undefined) continue;
    const project = tesseraField(item, "project");
    const question = tesseraKind(kind);
    if (question < 0) {
      // A person or a group (which hangs off no Project): asked one by one.
      if ((kind === "person" || kind === "group") && project === undefined) questions[i] = 6;
      ids[i] = id;
      continue;
    }
    if (kind === "project" ? project === undefined : project !== undefined) {
      questions[i] = question;
      ids[i] = kind === "project" ? id : project;
    }
  }
  let answers = tesseraAskAll(this, questions, ids);
  if (answers === undefined) {
    answers = questions.map((question, i) => {
      if (question > 5) return 0;
      const item = list[i];
      return tesseraCanView.call(this, item.kind, item.id, tesseraField(item, "project")) ? 1 : 0;
    });
  }
  const out = [];
  for (let i = 0; i < list.length; i++) {
    if (questions[i] === 6 ? tesseraCanView.call(this, list[i].kind, ids[i], undefined) : answers[i] === 1) out.push(list[i]);
  }
  return out;
};

UserView.prototype.filterIds = function filterIds(kind, ids, project) {
  const list = Array.from(ids, (id) => {
    if (typeof id !== "string") throw new TypeError("filterIds: ids must be strings");
    return id;
  });
  const question = tesseraKind(kind);
  if (question < 0) {
    return kind === "person" || kind === "group" ? list.filter((id) => this.canView(kind, id, project)) : [];
  }
  if (kind !== "project") {
    // Every id hangs off the same Project: one answer for all.
    return list.length > 0 && this.canView(kind, list[0], project) ? list : [];
  }
  if (project !== undefined && project !== null) return [];
  const answers = tesseraAskAll(this, new Uint8Array(list.length), list);
  if (answers === undefined) return list.filter((id) => tesseraCanView.call(this, kind, id, undefined));
  return list.filter((_, i) => answers[i] === 1);
};
