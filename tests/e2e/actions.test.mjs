// The demo's actions end to end (issue 22): each made through the app and decided by the real
// `tessera serve` (from a database, as actions need a writable source), read back where another
// user may see it, live through the event stream; the refusals said in words; and a tab that
// missed a revocation. Each test saves screenshots under target/e2e/.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { join } from "node:path";

import { launch, openPage, root, screenshot, signIn, startProxy, startServer } from "./support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** The status bar once the page's event stream is live. */
const LIVE = '[data-testid="link-status"][data-link="live"]';

/** A server (from a database unless `org` is given) and a page, both closed at the test's end. */
async function session(t, { org, ...contextOptions } = {}) {
  const server = await startServer({ org });
  const { context, page } = await openPage(browser, contextOptions);
  t.after(async () => {
    await context.close();
    server.stop();
  });
  return { server, context, page };
}

/** Another signed-in browser of the same test, closed at its end. */
async function another(t) {
  const { context, page } = await openPage(browser);
  t.after(() => context.close());
  return page;
}

async function openProject(page, name) {
  await page.getByRole("button", { name, exact: true }).click();
  await page.waitForSelector('[data-testid="project-page"]');
  await page.waitForSelector('[data-testid="project-lists"][data-state="read"]');
}

async function openMessaging(page, user) {
  await page.getByRole("button", { name: "Messaging", exact: true }).click();
  await page.waitForSelector(`[data-testid="messaging"][data-user="${user}"]`);
}

const projectActions = (page) =>
  page.$$eval('[data-testid="project-actions"] button:not([disabled])', (buttons) =>
    buttons.map((button) => button.dataset.action),
  );

/** The titles a Project page lists under `kind`. */
const listed = (page, kind) =>
  page.$$eval(`section.rows[data-kind="${kind}"] li .title`, (titles) => titles.map((title) => title.textContent));

/** Opens an action's form by its button, fills its first line and text, and submits it. */
async function act(page, action, { line, text } = {}) {
  await page.locator(`[data-action="${action}"]`).first().click();
  const form = page.locator(`form[data-form="${action}"]`);
  await form.waitFor();
  if (line !== undefined) await form.locator('[data-field="line"]').fill(line);
  if (text !== undefined) await form.locator('[data-field="text"]').fill(text);
  await form.locator('button[type="submit"]').click();
  return form;
}

/** The shell's notice, once it says something matching `pattern`. */
async function notice(page, pattern) {
  const shown = page.locator(".notice p").filter({ hasText: pattern });
  await shown.waitFor();
  return shown.innerText();
}

test("19. Create task, Upload file and Edit wiki are made by the server; another user's open page shows each without a reload; a retry after a lost answer makes the task once", async (t) => {
  const { server, page: ada } = await session(t);
  const cleo = await another(t);
  // Cleo (a Client of London, on Rebrand) has the Project open, listening.
  await signIn(cleo, server.url, "u-cleo");
  await openProject(cleo, "Rebrand");
  await cleo.waitForSelector(LIVE);
  await cleo.evaluate(() => {
    window.notReloaded = true;
  });

  await signIn(ada, server.url, "u-ada");
  await openProject(ada, "Rebrand");
  // The first answer is lost on its way back (the server made the task); the app says so and
  // sends it again with the same key, and the server answers what it answered the first time.
  const sent = [];
  let lost = false;
  await ada.route("**/api/projects/p-rebrand/tasks", async (route) => {
    sent.push(route.request().headers()["idempotency-key"]);
    if (!lost) {
      lost = true;
      await route.fetch();
      await route.abort("connectionreset");
      return;
    }
    await route.continue();
  });
  const form = await act(ada, "create-task", { line: "Draft the brand brief" });
  const alert = form.locator('[role="alert"][data-code="network"]');
  await alert.waitFor();
  assert.match(await alert.innerText(), /was not sent: the server could not be reached/);
  await form.getByRole("button", { name: "Try again" }).click();
  assert.match(await notice(ada, "created"), /Task “Draft the brand brief” created in Rebrand\./);
  assert.equal(sent.length, 2);
  assert.ok(sent[0] && sent[0] === sent[1], `one key for both: ${sent}`);
  const { items } = await (await server.getAs("u-ada", "/api/projects/p-rebrand/items")).json();
  assert.equal(items.filter((item) => item.title === "Draft the brand brief").length, 1, "made once");
  await ada.waitForFunction(() =>
    [...document.querySelectorAll('section.rows[data-kind="task"] .title')].some((t) => t.textContent === "Draft the brand brief"),
  );
  // Cleo's page was told (`event: content`) and read the list again.
  await cleo.waitForFunction(() =>
    [...document.querySelectorAll('section.rows[data-kind="task"] .title')].some((t) => t.textContent === "Draft the brand brief"),
  );

  // A text file chosen from the device: its name and text fill the form.
  await ada.locator('[data-action="upload-file"]').click();
  const upload = ada.locator('form[data-form="upload-file"]');
  await upload.locator('input[type="file"]').setInputFiles({
    name: "brief.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("Colours: navy and gold.\nTone: plain.\n"),
  });
  await ada.waitForFunction(() => document.querySelector('form[data-form="upload-file"] [data-field="line"]')?.value === "brief.txt");
  await upload.locator('button[type="submit"]').click();
  assert.match(await notice(ada, "uploaded"), /File “brief\.txt” uploaded to Rebrand\./);
  await cleo.waitForFunction(() =>
    [...document.querySelectorAll('section.rows[data-kind="document"] .title')].some((t) => t.textContent === "brief.txt"),
  );
  const file = cleo.locator('section.rows[data-kind="document"] li').filter({ hasText: "brief.txt" });
  await file.locator("summary").click();
  assert.match(await file.locator("pre").innerText(), /Colours: navy and gold\.\nTone: plain\./);
  assert.match(await file.innerText(), /Ada Lovelace/);

  await act(ada, "edit-wiki", { text: "# Rebrand\nThe brief is in brief.txt." });
  assert.match(await notice(ada, "wiki"), /The wiki of Rebrand is saved\./);
  await ada.waitForFunction(() => document.querySelector('[data-testid="wiki"] .wiki-text')?.textContent.includes("brief.txt"));
  await cleo.waitForFunction(() => document.querySelector('[data-testid="wiki"] .wiki-text')?.textContent.includes("The brief is in brief.txt."));
  assert.match(await cleo.getByTestId("wiki").innerText(), /Last written by Ada Lovelace/);
  // Editing again starts from the wiki as it is.
  await ada.locator('[data-action="edit-wiki"]').click();
  assert.match(await ada.locator('form[data-form="edit-wiki"] [data-field="text"]').inputValue(), /The brief is in brief\.txt\./);

  // Cleo (a Client) may upload files but not create tasks: her page offers only that.
  assert.deepEqual(await projectActions(cleo), ["upload-file"]);
  assert.deepEqual(await listed(cleo, "task"), await listed(ada, "task"));
  assert.equal(await cleo.evaluate(() => window.notReloaded), true);
  await screenshot(ada, "19-project-actions");
  await screenshot(cleo, "19-read-back-live");
  assert.deepEqual([...ada.errors, ...cleo.errors], []);
});

test("20. New project: made by the server, opened at once, and in the list of a colleague who may see it", async (t) => {
  const { server, page: ada } = await session(t);
  const sam = await another(t);
  // Sam (London, all in office) will see a new London Project; Dana (New York) will not.
  await signIn(sam, server.url, "u-sam");
  await sam.waitForSelector(LIVE);
  const before = Number(await sam.getByTestId("projects").getAttribute("data-count"));

  await signIn(ada, server.url, "u-ada");
  await act(ada, "new-project", { line: "Brand Lab" });
  assert.match(await notice(ada, "created"), /Project “Brand Lab” created, with you on its team\./);
  // The app fetched the snapshot the answer named, and opened the new Project.
  await ada.waitForSelector('[data-testid="project-page"] h2:text-is("Brand Lab")');
  assert.deepEqual(await projectActions(ada), ["create-task", "upload-file", "edit-wiki"]);
  const id = await ada.getByTestId("project-page").getAttribute("data-project");
  assert.match(id, /^p-[0-9a-f]{16}$/);

  await sam.waitForSelector(`[data-testid="projects"][data-count="${before + 1}"]`);
  await sam.getByRole("button", { name: "Brand Lab", exact: true }).waitFor();
  const dana = await (await server.getAs("u-dana", `/api/projects/${id}/items`)).json();
  assert.equal(dana.error.code, "not_found", "behind the firewall, as if it did not exist");
  await screenshot(ada, "20-new-project");
  assert.deepEqual([...ada.errors, ...sam.errors], []);
});

test("21. Create group, Send announcement (Network and group), Start direct message and Reply: made by the server and read back by the other person, live", async (t) => {
  const { server, page: ellen } = await session(t);
  const cleo = await another(t);
  await signIn(cleo, server.url, "u-cleo");
  await openMessaging(cleo, "u-cleo");
  await cleo.waitForSelector(LIVE);
  await cleo.evaluate(() => {
    window.notReloaded = true;
  });

  // Ellen, an admin of EMEA, where announcements are on.
  await signIn(ellen, server.url, "u-ellen");
  await openMessaging(ellen, "u-ellen");
  await act(ellen, "send-announcement", { text: "The office closes at four on Friday." });
  assert.match(await notice(ellen, "Announcement"), /Announcement sent to your Network\./);
  await cleo.getByTestId("announcements").getByText("The office closes at four on Friday.").waitFor();
  assert.match(await cleo.getByTestId("announcements").innerText(), /Ellen Marsh/);

  // A group of two: its name is shown to its members.
  await ellen.locator('[data-action="create-group"]').click();
  const group = ellen.locator('form[data-form="create-group"]');
  await group.locator('[data-field="line"]').fill("Launch crew");
  await group.getByLabel("Cleo Barnes").check();
  await group.locator('button[type="submit"]').click();
  assert.match(await notice(ellen, "Group"), /Group “Launch crew” created\./);
  const panel = ellen.getByTestId("group-panel");
  await panel.waitFor();
  assert.match(await panel.innerText(), /Announcements of Launch crew/);
  const groupId = await panel.getAttribute("data-group");
  await panel.locator('[data-field="text"]').fill("Kick-off on Monday.");
  await panel.locator('button[type="submit"]').click();
  assert.match(await notice(ellen, "Announcement"), /Announcement sent to Launch crew\./);
  await panel.getByTestId("messages").getByText("Kick-off on Monday.").waitFor();
  // Cleo's snapshot now holds the group (an event), and its name is read from the server.
  const row = cleo.locator(`[data-testid="groups"] li[data-group="${groupId}"]`);
  await row.getByRole("button", { name: "Launch crew" }).click();
  await cleo.getByTestId("group-panel").getByText("Kick-off on Monday.").waitFor();
  assert.equal(await row.locator('[data-action="send-group-announcement"]').count(), 0, "a plain user may not announce");

  // A conversation, and a reply each way.
  await ellen.locator('[data-action="start-dm"]').click();
  const start = ellen.locator('form[data-form="start-dm"]');
  await start.locator('[data-field="person"]').selectOption("u-cleo");
  await start.locator('button[type="submit"]').click();
  assert.match(await notice(ellen, "Direct message"), /Direct message with Cleo Barnes started\./);
  const conversation = ellen.getByTestId("dm-panel");
  await conversation.waitFor();
  await conversation.locator('[data-field="text"]').fill("Hello Cleo, welcome aboard.");
  await conversation.locator('button[type="submit"]').click();
  assert.match(await notice(ellen, "Reply"), /Reply sent to Cleo Barnes\./);
  const dm = await conversation.getAttribute("data-dm");
  await cleo.locator(`[data-testid="dms"] li[data-dm="${dm}"] [data-action="reply"]`).click();
  const hers = cleo.getByTestId("dm-panel");
  await hers.getByText("Hello Cleo, welcome aboard.").waitFor();
  assert.match(await hers.innerText(), /Conversation with Ellen Marsh/);
  await hers.locator('[data-field="text"]').fill("Thank you!");
  await hers.locator('button[type="submit"]').click();
  // Ellen's open conversation hears of it.
  await conversation.getByText("Thank you!").waitFor();
  // Starting it again answers the one they have.
  await ellen.locator('[data-action="start-dm"]').click();
  await start.locator('[data-field="person"]').selectOption("u-cleo");
  await start.locator('button[type="submit"]').click();
  assert.match(await notice(ellen, "already"), /You already have a conversation with Cleo Barnes/);

  assert.equal(await cleo.evaluate(() => window.notReloaded), true);
  await screenshot(ellen, "21-messaging-actions");
  await screenshot(cleo, "21-messaging-read-back");
  assert.deepEqual([...ellen.errors, ...cleo.errors], []);
});

test("22. a tab that missed a revocation still shows Create task; the server refuses it (403), the app fetches its snapshot, the button goes and the reason is shown", async (t) => {
  const { server, page } = await session(t, { serviceWorkers: "block" });
  const proxy = await startProxy(t, server.url);
  await signIn(page, proxy.url, "u-ada");
  await openProject(page, "Rebrand");
  await page.waitForSelector(LIVE);
  const held = await page.getByTestId("snapshot-status").innerText();

  // The stream is held back: nothing will tell this tab.
  proxy.refuseEvents = true;
  proxy.cut();
  await page.waitForSelector('[data-testid="link-status"][data-link="down"]');
  const { revision } = await server.edits([
    { edit: "override_off", office: "o-lon", profile: "project_manager", permission: "task.create" },
  ]);
  assert.ok((await projectActions(page)).includes("create-task"), "the tab has not heard");

  const answers = [];
  page.on("response", (response) => {
    if (response.url().endsWith("/api/projects/p-rebrand/tasks")) answers.push(response);
  });
  await act(page, "create-task", { line: "Too late" });
  const said = await notice(page, "refused");
  assert.match(said, /^The server refused “Create task”: .*London.*\(office_override_off\)/s);
  const [refused] = answers;
  assert.equal(refused.status(), 403);
  assert.equal((await refused.json()).error.decision.code, "office_override_off");
  assert.ok(Number(refused.headers()["tessera-snapshot-version"]) > Number(/v(\d+)/.exec(held)[1]));
  // The snapshot the answer named was fetched: the button is gone, the form with it.
  await page.waitForFunction(
    (v) => document.querySelector('[data-testid="snapshot-status"]')?.textContent.includes(`v${v} `),
    revision,
  );
  assert.deepEqual(await projectActions(page), ["upload-file", "edit-wiki"]);
  assert.equal(await page.locator('form[data-form="create-task"]').count(), 0);
  const { items } = await (await server.getAs("u-ada", "/api/projects/p-rebrand/items")).json();
  assert.equal(items.filter((item) => item.title === "Too late").length, 0, "nothing was written");
  await screenshot(page, "22-missed-revocation");
  assert.deepEqual(page.errors, []);
});

test("23. refusals in words: a Project no longer seen (404), a file the server will not take (422), a read-only organisation file (409)", async (t) => {
  const { server, page } = await session(t, { serviceWorkers: "block" });
  // Priya (invite only) has Website Relaunch open; her stream is held back while she leaves its team.
  await page.route("**/api/events?**", (route) => route.abort());
  await signIn(page, server.url, "u-priya");
  await openProject(page, "Website Relaunch");

  // A file with a control character: the server refuses it (422), the form stays open.
  await page.locator('[data-action="upload-file"]').click();
  const upload = page.locator('form[data-form="upload-file"]');
  await upload.locator('input[type="file"]').setInputFiles({
    name: "image.bin",
    mimeType: "application/octet-stream",
    buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02]),
  });
  await page.waitForFunction(() => document.querySelector('form[data-form="upload-file"] [data-field="line"]')?.value === "image.bin");
  await upload.locator('button[type="submit"]').click();
  const invalid = upload.locator('[role="alert"][data-code="invalid_body"]');
  await invalid.waitFor();
  assert.match(await invalid.innerText(), /“Upload file” was not made: `text` holds a control character\./);
  // Over the server's cap: said before anything is sent.
  await upload.locator('input[type="file"]').setInputFiles({
    name: "big.txt",
    mimeType: "text/plain",
    buffer: Buffer.alloc(40 * 1024, "a"),
  });
  await upload.locator('[data-code="file"]').getByText(/big\.txt” is 40960 bytes: files are at most 32 KiB/).waitFor();
  await upload.getByRole("button", { name: "Cancel" }).click();

  await server.edits([{ edit: "remove_from_team", project: "p-lon-website", user: "u-priya" }]);
  await act(page, "create-task", { line: "Notes" });
  assert.match(await notice(page, "“Create task” was not made"), /“Create task” was not made: No project .*It may be gone, or no longer yours to see\./);
  // The answer named her new snapshot: the page now says the Project is not hers to see.
  await page.getByText("This project is not available to you.").waitFor();
  await screenshot(page, "23-not-found");

  // An organisation served from a file is read-only: the server says so, and the app in words.
  const { server: readOnly, page: other } = await session(t, { org: join(root, "tests/demo/org.json"), serviceWorkers: "block" });
  await signIn(other, readOnly.url, "u-ada");
  await openProject(other, "Rebrand");
  const refused = (await act(other, "create-task", { line: "Brief" })).locator('[role="alert"][data-code="read_only_source"]');
  await refused.waitFor();
  assert.match(await refused.innerText(), /read-only organisation file, so nothing can be saved here/);
  await screenshot(other, "23-read-only");
  assert.deepEqual([...page.errors, ...other.errors], []);
});
