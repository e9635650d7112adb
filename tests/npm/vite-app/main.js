// A consumer of the npm package through its bundler build: load the signed snapshot the page is
// served with, ask a few questions, and show the answers.
import { PolicyEngine, isTesseraError } from "tessera-policy";

const QUESTIONS = [
  ["u-ada", { can: "task.create", target: { project: "p-rebrand" } }],
  ["u-cleo", { can: "task.create", target: { project: "p-rebrand" } }],
  ["u-bob", { view: "project", id: "p-rebrand" }],
  ["u-bob", { view: "project", id: "p-lon-website" }],
  ["u-ada", { view: "project", id: "p-nyc-app" }],
  ["u-nobody", { view: "project", id: "p-rebrand" }],
];

const status = document.getElementById("status");
try {
  const [snapshot, key] = await Promise.all(["./snapshot.json", "./key.pub"].map((path) => fetch(path).then((r) => r.text())));
  const engine = PolicyEngine.load(snapshot, { trustedKeys: [key] });
  const rows = document.getElementById("decisions");
  for (const [user, query] of QUESTIONS) {
    const decision = engine.forUser(user).explain(query);
    const row = rows.insertRow();
    row.dataset.user = user;
    row.dataset.question = JSON.stringify(query);
    for (const text of [user, JSON.stringify(query), decision.allowed ? "allowed" : "denied", decision.code]) {
      row.insertCell().textContent = text;
    }
  }
  status.textContent = `ready: snapshot version ${engine.info.version} from ${engine.info.issuer}`;
} catch (error) {
  status.textContent = isTesseraError(error) ? `refused: ${error.code}` : `failed: ${error}`;
}
