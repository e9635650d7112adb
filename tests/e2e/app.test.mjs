// The app end to end: the real `tessera serve` with the demo organisation, the built app, and
// Debian's Chromium. Each test asserts what the page shows and saves a screenshot under
// target/e2e/. Run through `cargo xtask test` (which builds the app and the server first).

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import {
  focus,
  launch,
  listedProjects,
  openPage,
  record,
  root,
  screenshot,
  search,
  signIn,
  spoil,
  startProxy,
  startServer,
  stored,
  switchUser,
  waitStored,
} from "./support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** A server and a page for one test, both closed at its end. */
async function session(t, contextOptions) {
  const server = await startServer();
  const { context, page } = await openPage(browser, contextOptions);
  t.after(async () => {
    await context.close();
    server.stop();
  });
  return { server, context, page };
}

const actions = (page) =>
  page.$$eval('[data-testid="project-actions"] button:not([disabled])', (buttons) =>
    buttons.map((button) => button.dataset.action),
  );

/** An edit that changes what London's Project Managers (Ada, Priya) may do. */
const FINANCE_FOR_LONDON_PMS = {
  edit: "override_on",
  office: "o-lon",
  profile: "project_manager",
  permission: "finance.view",
};

/** The status bar once the page's event stream is live. */
const LIVE = '[data-testid="link-status"][data-link="live"]';

async function openProject(page, name) {
  await page.getByRole("button", { name, exact: true }).click();
  await page.waitForSelector('[data-testid="project-page"]');
}

test("1. a Client in London sees no Create task; a Project Manager on the same project does", async (t) => {
  const { server, page } = await session(t);

  await signIn(page, server.url, "u-ada");
  const firstRender = await page.evaluate(
    () => performance.getEntriesByName("tessera:first-filtered-render")[0]?.startTime,
  );
  assert.ok(firstRender > 0, "the app marks its first filtered render");
  await openProject(page, "Rebrand");
  assert.deepEqual(await actions(page), ["create-task", "upload-file", "edit-wiki"]);
  await screenshot(page, "1-project-manager");

  // A first visit of a fresh browser, timed from navigation to the first filtered render.
  const { context: fresh, page: cold } = await openPage(browser);
  t.after(() => fresh.close());
  // Signed in already: the tab holds Cleo's session, as after the picker.
  await cold.addInitScript((session) => sessionStorage.setItem("tessera.session", JSON.stringify(session)), await server.session("u-cleo"));
  await cold.goto(server.url);
  await cold.waitForSelector('[data-testid="projects"]');
  const coldRender = await cold.evaluate(
    () => performance.getEntriesByName("tessera:first-filtered-render")[0]?.startTime,
  );
  record("first-filtered-render", { cold_ms: Math.round(coldRender), warm_ms: Math.round(firstRender) });

  await openProject(cold, "Rebrand");
  // The demo's Client profile may upload files, nothing more.
  assert.deepEqual(await actions(cold), ["upload-file"]);
  assert.equal(await cold.locator('[data-action="create-task"]').count(), 0);
  await screenshot(cold, "1-client");

  // "Why can't I?": the hidden action shows greyed out, with the evaluator's reason.
  await cold.getByLabel("Why can't I?").check();
  const denied = cold.locator('[data-denied="create-task"]');
  await denied.waitFor();
  assert.ok(await denied.locator("button").isDisabled());
  const why = await denied.innerText();
  assert.match(why, /profile_lacks_permission/);
  // For people: names and phrases, not ids and keys.
  assert.match(why, /Clients in EMEA may not create tasks, and London does not switch it on/);
  assert.match(why, /Switch on “create tasks” for Clients in London\./);
  assert.doesNotMatch(why, /`|o-lon|n-emea|task\.create/);
  await screenshot(cold, "1-client-why-cant-i");
  assert.deepEqual([...page.errors, ...cold.errors], []);
});

test("2. an invite-only user's projects and search results hold only their team's projects", async (t) => {
  const { server, page } = await session(t);
  await signIn(page, server.url, "u-priya");
  const team = ["p-lon-website", "p-par-launch"];
  assert.deepEqual(await listedProjects(page), team);

  for (const text of ["budget", "website", "review", "launch"]) {
    const results = await search(page, text);
    const bound = results.filter((result) => result.kind !== "person");
    assert.ok(bound.length > 0, `"${text}" finds something on her team's projects`);
    for (const result of bound) {
      assert.ok(team.includes(result.project), `"${text}" showed ${result.kind} ${result.id} of ${result.project}`);
    }
  }
  // The server answers her only what she may see; an administrator asking the same finds more.
  const hers = await (await server.getAs("u-priya", "/api/search?q=budget")).json();
  assert.ok(hers.results.every((result) => !result.project || team.includes(result.project)));
  const wider = await (await server.getAs("u-ellen", "/api/search?q=budget")).json();
  assert.ok(wider.results.some((result) => result.project && !team.includes(result.project)));
  await search(page, "budget");
  await screenshot(page, "2-invite-only-search");
  assert.deepEqual(page.errors, []);
});

test("3. the firewall holds in projects and search; an alien sees exactly the host projects of their teams", async (t) => {
  const { server, page } = await session(t);
  const org = await import("../demo/org.json", { with: { type: "json" } }).then((module) => module.default);
  const officeNetwork = new Map(org.offices.map((office) => [office.id, office.network]));
  const projectNetwork = new Map(org.projects.map((project) => [project.id, officeNetwork.get(project.office)]));
  const userNetwork = new Map(org.users.map((user) => [user.id, officeNetwork.get(user.home_office)]));

  // Dana, in New York (Americas): nothing of EMEA or APAC, in the list or in search.
  await signIn(page, server.url, "u-dana");
  for (const project of await listedProjects(page)) assert.equal(projectNetwork.get(project), "n-amer");
  for (const text of ["budget", "website", "launch", "review", ""]) {
    for (const result of await search(page, text)) {
      const network = result.kind === "person" ? userNetwork.get(result.id) : projectNetwork.get(result.project);
      assert.equal(network, "n-amer", `"${text}" showed ${result.kind} ${result.id}`);
    }
  }
  await screenshot(page, "3-firewall-search");

  // Bob, of New York, shared into London by an Agreement: London projects only where on the team.
  await switchUser(page, "u-bob");
  await page.waitForSelector('[data-testid="projects"][data-user="u-bob"]');
  const listed = await listedProjects(page);
  const london = listed.filter((project) => projectNetwork.get(project) === "n-emea");
  const onTeam = org.projects
    .filter((project) => project.office === "o-lon" && project.team.includes("u-bob"))
    .map((project) => project.id)
    .sort();
  assert.deepEqual(london, onTeam);
  assert.deepEqual(onTeam, ["p-lon-vendor-portal", "p-lon-website"]);
  for (const result of await search(page, "")) {
    if (result.kind === "person") continue;
    if (projectNetwork.get(result.project) === "n-emea") assert.ok(onTeam.includes(result.project));
  }
  await screenshot(page, "3-alien-projects");
  assert.deepEqual(page.errors, []);
});

test("4. offline, the app starts and searches its cache, still filtered", async (t) => {
  const { server, context, page } = await session(t);
  // Ada visits first; then the policy changes (for both, London's Project Managers), and
  // Priya visits on the newer version.
  await signIn(page, server.url, "u-ada");
  await server.edits([FINANCE_FOR_LONDON_PMS]);
  await switchUser(page, "u-priya");
  await page.waitForSelector('[data-testid="projects"][data-user="u-priya"]');
  // The service worker holds the shell, and Priya's search cache is warm.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await waitStored(page, "tessera.search.u-priya");
  await page.reload(); // Now controlled by the service worker.
  await page.waitForSelector('[data-testid="projects"]');

  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector('[data-testid="projects"]');
  assert.match(await page.getByTestId("network-status").innerText(), /Offline/);
  assert.deepEqual(await listedProjects(page), ["p-lon-website", "p-par-launch"]);

  const results = await search(page, "budget");
  assert.equal(await page.getByTestId("search-summary").getAttribute("data-source"), "cache");
  const bound = results.filter((result) => result.kind !== "person");
  assert.ok(bound.length > 0);
  for (const result of bound) assert.ok(["p-lon-website", "p-par-launch"].includes(result.project));
  await screenshot(page, "4-offline-search");

  // Offline, Ada's older snapshot is still hers to use: no false rollback.
  await switchUser(page, "u-ada");
  await page.waitForSelector('[data-testid="projects"][data-user="u-ada"]');
  assert.equal(await page.locator('[data-testid="refusal"]').count(), 0);
  assert.ok((await listedProjects(page)).includes("p-rebrand"));
  assert.deepEqual(page.errors, []);
});

test("5. a tampered snapshot and a rolled-back snapshot are refused, with the banner and no data", async (t) => {
  // Requests are intercepted from the page, so the service worker is kept out of the way.
  const { server, context, page } = await session(t, { serviceWorkers: "block" });

  // Tampered: one byte of the signed payload changed in transit.
  await context.route("**/api/snapshot", async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: spoil(await response.body()) });
  });
  await page.goto(server.url);
  await switchUser(page, "u-ada");
  const banner = page.getByTestId("refusal");
  await banner.waitFor();
  assert.equal(await banner.getAttribute("data-code"), "bad_signature");
  await page.getByTestId("no-data").waitFor();
  assert.equal(await page.locator('[data-testid="projects"]').count(), 0);
  assert.equal(await page.locator("[data-action]").count(), 0);
  await screenshot(page, "5-tampered");
  await context.unroute("**/api/snapshot");

  // Rolled back: an older version, signed by the right key, after a newer one was accepted.
  const old = await server.snapshotBytes("u-ada");
  await server.edits([FINANCE_FOR_LONDON_PMS]);
  await page.reload();
  await page.waitForSelector('[data-testid="projects"]');
  assert.equal(await page.locator('[data-testid="refusal"]').count(), 0);
  await context.route("**/api/snapshot", (route) =>
    route.fulfill({ status: 200, contentType: "application/json", body: old }),
  );
  await focus(page);
  await banner.waitFor();
  assert.equal(await banner.getAttribute("data-code"), "rollback");
  assert.equal(await page.locator('[data-testid="projects"]').count(), 0);
  assert.equal(await page.locator("[data-action]").count(), 0);
  assert.match(await banner.innerText(), /last good snapshot/);
  await screenshot(page, "5-rollback");

  // A reload cannot roll it back either: the highest version is stored on the device, and
  // the refusal stands from the first render, before the (slow) answer arrives.
  await context.unroute("**/api/snapshot");
  await context.route("**/api/snapshot", async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.fulfill({ status: 200, contentType: "application/json", body: old });
  });
  await page.reload();
  await banner.waitFor();
  assert.equal(await page.locator('[data-testid="projects"]').count(), 0);
  assert.equal(await page.locator("[data-action]").count(), 0);
  await page.waitForTimeout(2000);
  assert.equal(await banner.getAttribute("data-code"), "rollback");
  assert.equal(await page.locator('[data-testid="projects"]').count(), 0);

  // The last good snapshot was kept: once the server's answer is good again, it is back.
  await context.unroute("**/api/snapshot");
  await focus(page);
  await page.waitForSelector('[data-testid="projects"]');
  assert.equal(await page.locator('[data-testid="refusal"]').count(), 0);
  assert.deepEqual(page.errors, []);
});

test("5b. with the service worker on, a refused snapshot never reaches the device's offline copy", async (t) => {
  const { server, page } = await session(t);
  const proxy = await startProxy(t, server.url);
  await signIn(page, proxy.url, "u-ada");
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await page.waitForSelector('[data-testid="projects"][data-user="u-ada"]');
  assert.ok(await page.evaluate(() => Boolean(navigator.serviceWorker.controller)));
  const storedSnapshot = () => stored(page, "tessera.snapshot.u-ada");
  // The service worker keeps no snapshot: its URL no longer names the user.
  const inWorkerCache = () =>
    page.evaluate(async () =>
      (await (await caches.open("tessera-api-v1")).keys()).filter((request) => request.url.includes("/api/snapshot")).length,
    );
  const good = await waitStored(page, "tessera.snapshot.u-ada");
  assert.ok(good, "the app stored the snapshot it accepted");
  assert.equal(await inWorkerCache(), 0);

  // The answer is spoilt on its way through the service worker.
  proxy.tamper = true;
  await server.edits([FINANCE_FOR_LONDON_PMS]);
  await focus(page);
  const banner = page.getByTestId("refusal");
  await banner.waitFor();
  assert.equal(await banner.getAttribute("data-code"), "bad_signature");
  assert.equal(await storedSnapshot(), good, "the refused answer was not stored");
  assert.equal(await inWorkerCache(), 0);
  assert.equal(await page.locator('[data-testid="projects"]').count(), 0);
  await screenshot(page, "5b-tampered-through-service-worker");
  assert.deepEqual(page.errors, []);
});

test("6. an override switched on the server reaches the open page without a reload", async (t) => {
  const { server, page } = await session(t);
  await signIn(page, server.url, "u-ada");
  await openProject(page, "Rebrand");
  assert.ok((await actions(page)).includes("create-task"));
  const before = await page.getByTestId("snapshot-status").innerText();
  await page.evaluate(() => {
    window.notReloaded = true;
  });

  // Ellen, a network admin of EMEA, switches it off for London's Project Managers.
  const { revision: version } = await server.edits([
    { edit: "override_off", office: "o-lon", profile: "project_manager", permission: "task.create" },
  ]);
  await focus(page);
  await page.waitForFunction(
    (v) => document.querySelector('[data-testid="snapshot-status"]')?.textContent.includes(`v${v} `),
    version,
  );
  assert.notEqual(await page.getByTestId("snapshot-status").innerText(), before);
  assert.deepEqual(await actions(page), ["upload-file", "edit-wiki"]);
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  await screenshot(page, "6-override-applied");
  assert.deepEqual(page.errors, []);
});

test("7. announcements follow the feature switch, the role and group membership", async (t) => {
  const { server, page } = await session(t);
  const messaging = async (user) => {
    await signIn(page, server.url, user);
    await page.getByRole("button", { name: "Messaging", exact: true }).click();
    await page.waitForSelector(`[data-testid="messaging"][data-user="${user}"]`);
  };
  const groupsWithAnnounce = () =>
    page.$$eval('[data-testid="groups"] li', (items) =>
      items.filter((item) => item.querySelector('[data-action="send-group-announcement"]')).map((item) => item.dataset.group),
    );
  const listedGroups = () =>
    page.$$eval('[data-testid="groups"] li', (items) => items.map((item) => item.dataset.group));

  // Ellen: admin in EMEA, where announcements are on.
  await messaging("u-ellen");
  assert.equal(await page.locator('[data-action="send-announcement"]').count(), 1);
  await screenshot(page, "7-admin-announcements-on");

  // Grace: admin in the Americas, where they are off.
  await messaging("u-grace");
  assert.equal(await page.locator('[data-action="send-announcement"]').count(), 0);
  assert.deepEqual(await groupsWithAnnounce(), []);
  await screenshot(page, "7-admin-announcements-off");

  // Oliver: a manager in London, in one group: the group action there, and no org-wide one.
  await messaging("u-oliver");
  assert.deepEqual(await listedGroups(), ["g-lon-design"]);
  assert.deepEqual(await groupsWithAnnounce(), ["g-lon-design"]);
  assert.equal(await page.locator('[data-action="send-announcement"]').count(), 0);
  await screenshot(page, "7-manager-groups");

  // Ada: a plain user in the same group: no group announcement.
  await messaging("u-ada");
  assert.ok((await listedGroups()).includes("g-lon-design"));
  assert.deepEqual(await groupsWithAnnounce(), []);
  assert.deepEqual(page.errors, []);
});

test("8. signing in: a token from the demo sign-in on every call, no user in any URL; a refused token brings the sign-in back", async (t) => {
  const { server, context, page } = await session(t, { serviceWorkers: "block" });
  const requests = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.startsWith("/api/")) requests.push(request);
  });
  await page.goto(server.url);
  await page.getByTestId("signed-out").waitFor();
  assert.equal(await page.locator('[data-testid="projects"]').count(), 0);

  await switchUser(page, "u-cleo");
  await page.waitForSelector('[data-testid="projects"][data-user="u-cleo"]');
  const signIn = requests.find((request) => request.url().endsWith("/api/demo/sign-in"));
  assert.ok(signIn, "the picker signs in through the server");
  assert.equal(signIn.method(), "POST");
  assert.deepEqual(JSON.parse(signIn.postData()), { user: "u-cleo" });
  const held = await page.evaluate(() => JSON.parse(sessionStorage.getItem("tessera.session")));
  assert.equal(held.user, "u-cleo");
  const withToken = requests.filter((request) => ["/api/snapshot", "/api/search"].includes(new URL(request.url()).pathname));
  assert.ok(withToken.some((request) => new URL(request.url()).pathname === "/api/snapshot"));
  for (const request of withToken) {
    assert.equal((await request.allHeaders()).authorization, `Bearer ${held.token}`, request.url());
    assert.ok(!request.url().includes("u-cleo"), request.url());
  }
  // The token stays in this tab: not in local storage, not in another tab.
  assert.equal(
    await page.evaluate((token) => Object.keys(localStorage).some((key) => localStorage.getItem(key).includes(token)), held.token),
    false,
  );
  const other = await context.newPage();
  await other.goto(server.url);
  await other.getByTestId("signed-out").waitFor();
  assert.equal(await other.locator('[data-testid="projects"]').count(), 0);
  await other.close();
  // A reload keeps it.
  await page.reload();
  await page.waitForSelector('[data-testid="projects"][data-user="u-cleo"]');
  await screenshot(page, "8-signed-in");

  // A token the server refuses (here, spoilt in storage before a reload): 401, back to sign-in.
  await page.evaluate(() => {
    const stored = JSON.parse(sessionStorage.getItem("tessera.session"));
    sessionStorage.setItem("tessera.session", JSON.stringify({ ...stored, token: "not-a-token" }));
  });
  await page.reload();
  const signedOut = page.getByTestId("signed-out");
  await signedOut.waitFor();
  assert.match(await signedOut.innerText(), /session has ended.*invalid_token/);
  assert.equal(await page.locator('[data-testid="projects"]').count(), 0);
  assert.equal(await page.locator("[data-action]").count(), 0);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("tessera.session")), null);
  await screenshot(page, "8-token-refused");
  // Signing in again brings it all back.
  await switchUser(page, "u-cleo");
  await page.waitForSelector('[data-testid="projects"][data-user="u-cleo"]');
  assert.deepEqual(page.errors, []);
});

test("9. an admin previews and applies a suggestion for someone she manages; their open page gains the action through the event stream, without a reload", async (t) => {
  const { server, page } = await session(t);
  const org = await import("../demo/org.json", { with: { type: "json" } }).then((module) => module.default);
  const londonClients = org.users
    .filter((user) => user.home_office === "o-lon" && user.profile === "client" && user.active !== false)
    .map((user) => user.id);

  // Cleo, a Client in London, has Rebrand open in another browser.
  const { context: cleoContext, page: cleo } = await openPage(browser);
  t.after(() => cleoContext.close());
  const cleoRequests = [];
  cleo.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith("/api/")) cleoRequests.push({ request, url, at: Date.now() });
  });
  await signIn(cleo, server.url, "u-cleo");
  await openProject(cleo, "Rebrand");
  assert.deepEqual(await actions(cleo), ["upload-file"]);
  // Her page listens: a ticket asked for with her bearer token, then the stream on the ticket.
  await cleo.waitForSelector(LIVE);
  const ticket = cleoRequests.find(({ url }) => url.pathname === "/api/events/ticket");
  assert.equal(ticket.request.method(), "POST");
  assert.match((await ticket.request.allHeaders()).authorization, /^Bearer /);
  const stream = cleoRequests.find(({ url }) => url.pathname === "/api/events");
  assert.equal(stream.request.resourceType(), "eventsource");
  assert.match(stream.url.search, /^\?ticket=[0-9a-f]{48}$/);
  assert.equal((await stream.request.allHeaders()).authorization, undefined, "no token in the stream's request");
  await cleo.evaluate(() => {
    window.notReloaded = true;
  });

  // Ellen, a network admin of EMEA, looks at what Cleo cannot do.
  await signIn(page, server.url, "u-ellen");
  await page.getByRole("button", { name: "Admin", exact: true }).click();
  await page.getByTestId("admin").waitFor();
  await page.selectOption("#admin-user", "u-cleo");
  await page.getByRole("button", { name: "Show what they cannot do" }).click();
  const denial = page.locator('[data-testid="denials"] li.denial[data-permission="task.create"][data-project="p-rebrand"]');
  await denial.waitFor();
  assert.match(await denial.innerText(), /Create tasks in Rebrand/);
  assert.match(await denial.innerText(), /Cleo Barnes works in London as a Client\. Clients in EMEA may not create tasks/);
  const grants = denial.locator("li.grant");
  const override = grants.filter({ hasText: "Switch on “create tasks” for Clients in London" });
  assert.equal(await override.locator('[data-admin="apply"]').count(), 1);
  // A Network's defaults are a system superuser's to change: no Preview, no Apply.
  const networkDefault = grants.filter({ hasText: "throughout EMEA" });
  assert.equal(await networkDefault.count(), 1);
  assert.equal(await networkDefault.locator("[data-admin]").count(), 0);

  await override.locator('[data-admin="preview"]').click();
  const impact = override.getByTestId("impact");
  await impact.waitFor();
  const gaining = await impact.locator("li[data-user]").evaluateAll((items) => items.map((item) => item.dataset.user));
  assert.ok(londonClients.length > 0);
  for (const user of londonClients) assert.ok(gaining.includes(user), `${user} gains`);
  assert.match(await impact.locator('li[data-user="u-cleo"]').innerText(), /Cleo Barnes\s*would gain:.*create tasks in Rebrand/);
  assert.equal(await impact.locator(".lost").count(), 0, "nobody loses anything");
  await screenshot(page, "9-admin-preview");

  const applied = Date.now();
  await override.locator('[data-admin="apply"]').click();
  await denial.waitFor({ state: "detached" });
  assert.match(await page.locator(".notice").innerText(), /Applied: revision \d+ is now served/);
  await screenshot(page, "9-admin-applied");

  // Cleo's page hears of it at once, with no focus and long before any poll (ten minutes
  // while the stream is live, a minute without it): Create task, no reload.
  await cleo.waitForSelector('[data-testid="project-actions"] [data-action="create-task"]');
  const arrived = Date.now() - applied;
  assert.ok(arrived < 10_000, `the change took ${arrived} ms`);
  const fetches = cleoRequests.filter(({ url, at }) => url.pathname === "/api/snapshot" && at >= applied);
  assert.equal(fetches.length, 1, "one fetch, on the event");
  assert.deepEqual(await actions(cleo), ["create-task", "upload-file"]);
  assert.equal(await cleo.evaluate(() => window.notReloaded), true);
  record("9-event-latency", { applied_to_rendered_ms: arrived });
  await screenshot(cleo, "9-client-gains-create-task");
  assert.deepEqual([...page.errors, ...cleo.errors], []);
});

test("10. a Client sees why she cannot, and the suggestions, but no Preview or Apply; the server refuses her edit too", async (t) => {
  const { server, page } = await session(t);
  await signIn(page, server.url, "u-cleo");
  await openProject(page, "Rebrand");
  await page.getByLabel("Why can't I?").check();
  const denied = page.locator('[data-denied="create-task"]');
  await denied.waitFor();
  assert.ok((await denied.locator("li.grant").count()) >= 1, "the suggestions are shown");
  assert.equal(await page.locator("[data-admin]").count(), 0, "none of them is hers to make");
  assert.equal(await page.getByRole("button", { name: "Admin", exact: true }).count(), 0);
  await screenshot(page, "10-client-no-apply");

  const { token } = await server.session("u-cleo");
  const response = await fetch(`${server.url}/api/admin/edits`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      edits: [{ edit: "override_on", office: "o-lon", profile: "client", permission: "task.create" }],
    }),
  });
  assert.equal(response.status, 403);
  const { error } = await response.json();
  assert.equal(error.code, "forbidden");
  assert.equal(error.decision.code, "not_network_admin");
  assert.deepEqual(page.errors, []);
});

test("11. when the event stream fails, the page falls back to polling, reconnects with new tickets and catches up", async (t) => {
  const { server, page } = await session(t, { serviceWorkers: "block" });
  const proxy = await startProxy(t, server.url);
  const requests = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith("/api/")) requests.push(url);
  });
  const tickets = () => requests.filter((url) => url.pathname === "/api/events/ticket").length;
  const streams = () => requests.filter((url) => url.pathname === "/api/events").map((url) => url.searchParams.get("ticket"));
  const snapshots = () => requests.filter((url) => url.pathname === "/api/snapshot").length;
  // A clock the test can move: the fallback poll is a minute away.
  await page.clock.install();
  await signIn(page, proxy.url, "u-ada");
  await openProject(page, "Rebrand");
  await page.waitForSelector(LIVE);
  assert.ok((await actions(page)).includes("create-task"));
  await page.evaluate(() => {
    window.notReloaded = true;
  });

  // The stream drops, and the server behind the proxy cannot be reached for a while.
  proxy.refuseEvents = true;
  proxy.cut();
  await page.waitForSelector('[data-testid="link-status"][data-link="down"]');
  assert.match(await page.getByTestId("link-status").innerText(), /every minute/);
  const before = tickets();
  // Ellen switches task creation off for London's Project Managers: nobody can tell Ada's page.
  await server.edits([{ edit: "override_off", office: "o-lon", profile: "project_manager", permission: "task.create" }]);
  // It keeps trying, each time with a new ticket, backing off (half a second to a second,
  // then one to two, two to four).
  for (let wait = 0; tickets() < before + 2 && wait < 100; wait += 1) await page.waitForTimeout(100);
  assert.ok(tickets() >= before + 2, `reconnections: ${tickets() - before}`);
  assert.ok((await actions(page)).includes("create-task"), "not told yet");

  // The fallback: a minute on, the poll finds the change.
  const polled = snapshots();
  await page.clock.fastForward(61_000);
  await page.waitForSelector('[data-testid="project-actions"]:not(:has([data-action="create-task"]))');
  assert.ok(snapshots() > polled);
  assert.deepEqual(await actions(page), ["upload-file", "edit-wiki"]);

  // The server is back; a change made meanwhile arrives with the new stream's first event
  // (its next attempt is at most 16 s away after five failures; the next poll a minute from
  // the last, which this half minute does not reach).
  await server.edits([{ edit: "clear_override", office: "o-lon", profile: "project_manager", permission: "task.create" }]);
  proxy.refuseEvents = false;
  await page.clock.fastForward(30_000);
  await page.waitForSelector(LIVE);
  await page.waitForSelector('[data-testid="project-actions"] [data-action="create-task"]');
  const used = streams();
  assert.equal(new Set(used).size, used.length, "every stream on a ticket of its own");
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  await screenshot(page, "11-stream-recovered");
  assert.deepEqual(page.errors, []);
});

test("12. a user deactivated while her page is open: the stream says revoked, and the page shows the server's reason and stops listening", async (t) => {
  const { server, page } = await session(t);
  await signIn(page, server.url, "u-cleo");
  await openProject(page, "Rebrand");
  await page.waitForSelector(LIVE);

  // Ellen, a network admin of EMEA, deactivates Cleo; nobody touches Cleo's page.
  await server.edits([{ edit: "deactivate_user", user: "u-cleo" }]);
  const banner = page.getByTestId("refusal");
  await banner.waitFor();
  assert.equal(await banner.getAttribute("data-code"), "inactive_user");
  assert.equal(await page.locator('[data-testid="projects"]').count(), 0);
  assert.equal(await page.locator("[data-action]").count(), 0);
  await page.waitForSelector('[data-testid="link-status"][data-link="off"]', { state: "attached" });
  await screenshot(page, "12-revoked");
  assert.deepEqual(page.errors, []);
});

test("13. a hidden tab lets its stream go and does not poll; visible again, it listens and catches up", async (t) => {
  const { server, page } = await session(t);
  const requests = [];
  page.on("request", (request) => requests.push(new URL(request.url()).pathname));
  await signIn(page, server.url, "u-ada");
  await openProject(page, "Rebrand");
  await page.waitForSelector(LIVE);
  /** Another tab in front, or this one back (the page cannot be hidden for real headless). */
  const setHidden = (hidden) =>
    page.evaluate((hidden) => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
      document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
    }, hidden);

  await setHidden(true);
  await page.waitForSelector('[data-testid="link-status"][data-link="off"]', { state: "attached" });
  const asked = requests.length;
  await server.edits([{ edit: "override_off", office: "o-lon", profile: "project_manager", permission: "task.create" }]);
  await page.waitForTimeout(6000); // More than a tick.
  assert.deepEqual(requests.slice(asked), [], "nothing asked while hidden");
  assert.ok((await actions(page)).includes("create-task"));

  await setHidden(false);
  await page.waitForSelector(LIVE);
  await page.waitForSelector('[data-testid="project-actions"]:not(:has([data-action="create-task"]))');
  assert.deepEqual(await actions(page), ["upload-file", "edit-wiki"]);
  assert.deepEqual(page.errors, []);
});

test("14. the app runs under its Content-Security-Policy without a violation; the shell says it is loading, or why it cannot run", async (t) => {
  const { server, page } = await session(t);
  const refused = [];
  page.on("console", (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) refused.push(message.text());
  });
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) =>
      window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`),
    );
  });
  const response = await page.goto(server.url);
  const csp = response.headers()["content-security-policy"];
  for (const directive of ["default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "frame-ancestors 'none'"]) {
    assert.ok(csp.split("; ").includes(directive), `${directive} in ${csp}`);
  }
  // Every page and panel, under the policy: an administrator's, with "Why can't I?" and a preview.
  await switchUser(page, "u-ellen");
  await page.waitForSelector('[data-testid="projects"][data-user="u-ellen"]');
  await page.getByLabel("Why can't I?").check();
  await openProject(page, "Rebrand");
  await page.getByRole("button", { name: "Messaging", exact: true }).click();
  await page.getByTestId("messaging").waitFor();
  await search(page, "budget");
  await page.getByRole("button", { name: "Admin", exact: true }).click();
  await page.selectOption("#admin-user", "u-cleo");
  await page.getByRole("button", { name: "Show what they cannot do" }).click();
  const preview = page.locator('[data-testid="denials"] [data-admin="preview"]').first();
  await preview.click();
  await page.getByTestId("impact").first().waitFor();
  await screenshot(page, "14-under-csp");
  assert.deepEqual(refused, []);
  assert.deepEqual(await page.evaluate(() => window.cspViolations), []);

  // Before the module runs, the shell itself says the app is loading; it has no inline script.
  const html = await (await fetch(server.url)).text();
  assert.match(html, /Loading the app…/);
  assert.match(html, /<noscript>/);
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
  // A browser without WebAssembly is told so, not shown a blank page.
  const { context: bare, page: noWasm } = await openPage(browser);
  t.after(() => bare.close());
  await noWasm.addInitScript(() => {
    delete globalThis.WebAssembly;
  });
  await noWasm.goto(server.url);
  await noWasm.getByText(/needs WebAssembly/).waitFor();
  await screenshot(noWasm, "14-no-webassembly");
  assert.deepEqual([...page.errors, ...noWasm.errors], []);
});

test("15. the sign-in form finds people as one types (GET /api/users?q=), never downloads the directory, and offline offers who signed in here", async (t) => {
  const { server, context, page } = await session(t);
  const lookups = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname === "/api/users") lookups.push(url.search);
  });
  await page.goto(server.url);
  const field = page.locator("#user");
  await field.waitFor();
  await field.pressSequentially("cleo", { delay: 40 });
  const offered = () => page.$$eval("#user-options option", (options) => options.map((option) => option.value));
  await page.waitForFunction(() => [...document.querySelectorAll("#user-options option")].some((o) => o.value === "u-cleo"));
  assert.ok(lookups.length >= 1 && lookups.length <= 4, `lookups: ${lookups}`);
  for (const search of lookups) assert.match(search, /^\?q=[^&]+&limit=20$/);
  // A name typed in full signs that person in.
  await field.fill("Cleo Barnes");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForSelector('[data-testid="projects"][data-user="u-cleo"]');
  await switchUser(page, "u-ada");
  await page.waitForSelector('[data-testid="projects"][data-user="u-ada"]');
  assert.ok(lookups.every((search) => search.startsWith("?q=")), "the directory is never downloaded");

  // Offline: the people who signed in on this device, and nobody else.
  await context.setOffline(true);
  await field.fill("");
  await field.focus();
  await page.waitForFunction(() => document.querySelectorAll("#user-options option").length === 2);
  assert.deepEqual((await offered()).sort(), ["u-ada", "u-cleo"]);
  await field.pressSequentially("cle");
  await page.waitForFunction(() => document.querySelectorAll("#user-options option").length === 1);
  assert.deepEqual(await offered(), ["u-cleo"]);
  await screenshot(page, "15-offline-sign-in");
  await context.setOffline(false);
  assert.deepEqual(page.errors, []);
});

test("16. search caches are per user, filtered offline by the newest snapshot; Sign out forgets the user's cache, token and snapshot", async (t) => {
  const { server, context, page } = await session(t);
  const key = (item) => `${item.kind}\u001f${item.id}`;
  await signIn(page, server.url, "u-priya");
  const cached = JSON.parse(await waitStored(page, "tessera.search.u-priya"));
  // Priya's cache holds what the server answered her, under her key.
  const answered = await (await server.getAs("u-priya", "/api/search?q=&limit=10000")).json();
  assert.deepEqual(Object.keys(cached.items).sort(), answered.results.map(key).sort());
  const before = await search(page, "website");
  assert.ok(before.some((result) => result.project === "p-lon-website"));

  // Another user of the device starts from nothing of hers.
  await switchUser(page, "u-dana");
  await page.waitForSelector('[data-testid="projects"][data-user="u-dana"]');
  await waitStored(page, "tessera.search.u-dana");
  for (const result of await search(page, "website")) assert.notEqual(result.project, "p-lon-website");

  // Priya loses Website Relaunch after her cache was filled; offline, her cache shows none of it.
  await switchUser(page, "u-priya");
  await page.waitForSelector('[data-testid="projects"][data-user="u-priya"]');
  await server.edits([{ edit: "remove_from_team", project: "p-lon-website", user: "u-priya" }]);
  await focus(page);
  await page.waitForSelector('[data-testid="projects"][data-count="1"]');
  await context.setOffline(true);
  const after = await search(page, "website");
  assert.equal(await page.getByTestId("search-summary").getAttribute("data-source"), "cache");
  assert.ok(JSON.parse(await stored(page, "tessera.search.u-priya")).items[`project\u001fp-lon-website`], "still in her cache");
  assert.deepEqual(after.filter((result) => result.project === "p-lon-website"), [], "but never shown");
  await screenshot(page, "16-lost-access-offline");
  await context.setOffline(false);

  // Sign out: her token, snapshot and cache go; Dana's stay.
  await page.getByTestId("sign-out").click();
  await page.getByTestId("signed-out").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("tessera.session")), null);
  for (let wait = 0; (await stored(page, "tessera.search.u-priya")) !== undefined && wait < 50; wait += 1) {
    await page.waitForTimeout(100);
  }
  assert.equal(await stored(page, "tessera.search.u-priya"), undefined);
  assert.equal(await stored(page, "tessera.snapshot.u-priya"), undefined);
  assert.ok(await stored(page, "tessera.snapshot.u-dana"));
  assert.equal(await page.locator('[data-testid="projects"]').count(), 0);
  assert.deepEqual(page.errors, []);
});

test("17. no serious or critical axe-core violation on the app's pages", async (t) => {
  // axe is injected as a script, which the app's own policy would refuse.
  const { server, page } = await session(t, { bypassCSP: true });
  const axe = join(root, "node_modules/axe-core/axe.min.js");
  const check = async (name) => {
    await page.addScriptTag({ path: axe });
    const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    const bad = violations
      .filter((violation) => ["serious", "critical"].includes(violation.impact))
      .map((violation) => `${name}: ${violation.id} (${violation.impact}) ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`);
    assert.deepEqual(bad, []);
  };
  await page.goto(server.url);
  await page.locator("#user").waitFor();
  await check("sign-in");
  await switchUser(page, "u-ellen");
  await page.waitForSelector('[data-testid="projects"][data-user="u-ellen"]');
  await check("projects");
  await page.getByLabel("Why can't I?").check();
  await openProject(page, "Rebrand");
  await check("project");
  await page.getByRole("button", { name: "Messaging", exact: true }).click();
  await page.getByTestId("messaging").waitFor();
  await check("messaging");
  await search(page, "budget");
  await check("search");
  await page.getByRole("button", { name: "Admin", exact: true }).click();
  await page.selectOption("#admin-user", "u-cleo");
  await page.getByRole("button", { name: "Show what they cannot do" }).click();
  await page.getByTestId("denials").waitFor();
  await check("admin");
  assert.deepEqual(page.errors, []);
});

test("18. a device that cannot store (no IndexedDB, as in some private windows) says so on screen, and the app still runs online", async (t) => {
  const { server, page } = await session(t);
  await page.addInitScript(() => {
    Object.defineProperty(globalThis, "indexedDB", { configurable: true, get: () => undefined });
  });
  await signIn(page, server.url, "u-ada");
  const problem = page.getByTestId("storage-problem");
  await problem.waitFor();
  assert.match(await problem.innerText(), /could not keep/);
  assert.ok((await listedProjects(page)).includes("p-rebrand"));
  await screenshot(page, "18-storage-failure");
  assert.deepEqual(page.errors, []);
});
