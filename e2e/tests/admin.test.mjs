// The admin console, in a real browser (Debian's Chromium driven by playwright-core) against the
// real binary that run.sh started (BASE_URL), in French:
// - an anonymous visitor and a freshly registered normal user get the site's 404 page on every
//   /admin URL, see no "Admin" link, and their form posts to the console (with a valid CSRF
//   token) are 404s that change nothing;
// - the admin (made by run.sh with the real CLI, `carburoam admin create`, and handed over as
//   ADMIN_USER / ADMIN_PASSWORD) logs in, reads the usage figures and the data counts, runs the
//   feed job ("Run now": run.sh points --feed-url at a local copy of the last file loaded, so
//   this is a real import that leaves the data as it was), opens the run, finds the normal user,
//   sends them a password reset — the code arrives over real SMTP — and sees it in the audit log;
//   downloads a backup.
// Screenshots of every console page (360×740 and 1280×860) go to e2e/screenshots/admin-*.png.
//
// The mail: the server sends to 127.0.0.1:$SMTP_PORT (plain SMTP); this file listens there with
// the npm package smtp-server while it runs (run.sh runs the test files one after the other, so
// the account test's listener is closed by then) and parses what arrives with mailparser.
//
// Rate limits are per client address and shared with the other test files (same server): this
// file does 1 registration and 1 login.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  BASE, REAL, SMTP_PORT, launchBrowser, newPage as openPage, path, screenshotter, startMailbox, steps, submit,
} from "../lib/harness.mjs";

const ADMIN_USER = process.env.ADMIN_USER;
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
/** How long the run started from the console may take to show up finished (the national file
 * takes a few seconds in a debug build; the fixtures, milliseconds). */
const RUN_TIMEOUT_MS = REAL ? 90_000 : 20_000;
const CODE_RE = /\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b/;

/** Every console URL: none of them may exist for anyone but an admin. */
const ADMIN_URLS = [
  "/admin",
  "/admin/etl",
  "/admin/etl/runs/1",
  "/admin/users",
  "/admin/users?q=admin",
  "/admin/users/1",
  "/admin/backups",
  "/admin/backups/download",
];

// A fresh normal user each run (a rerun against the same server must not collide).
const stamp = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
const USERNAME = `e2e_adm_${stamp}`;
const DISPLAY_NAME = "Dominique Aidée";
const EMAIL = `dominique.${stamp}@example.org`;
const PASSWORD = `Kz${randomBytes(9).toString("base64url")}-3p`;

let browser;
let mailbox;
/** Messages of the browser console that reveal a bug: CSP violations, script errors. */
const problems = [];
const newPage = (viewport, locale) => openPage(browser, problems, viewport, locale);
const waitForMail = (pred, what, timeoutMs) => mailbox.waitForMail(pred, what, timeoutMs);
const shoot = screenshotter("admin");
// Each step depends on the ones before it: after a failure the rest are skipped.
const { step, failed } = steps();

/** A whole number shown on a page ("1 234" with any kind of space allowed), or a failure. */
function int(text, what) {
  const t = (text ?? "").trim().replace(/[\s\u00a0\u202f]/g, "");
  assert.match(t, /^\d+$/, `${what}: a whole number, got ${JSON.stringify(text)}`);
  return Number(t);
}

/** The text of the <dd> whose <dt> is `label` (or starts with it) in the figures of the page. */
async function figure(p, label) {
  const items = await p.locator("dl.figures > div").evaluateAll((divs) => divs.map((d) => ({
    dt: d.querySelector("dt")?.textContent.trim() ?? "",
    dd: d.querySelector("dd")?.textContent.trim() ?? "",
  })));
  let found = items.filter((i) => i.dt === label);
  if (found.length === 0) found = items.filter((i) => i.dt.startsWith(label));
  assert.equal(found.length, 1, `one figure "${label}" on ${path(p)} (figures: ${items.map((i) => i.dt).join(" | ")})`);
  return found[0].dd;
}

/** The CSRF token of this browser (the cookie every form repeats in its hidden `csrf` field). */
async function csrfOf(p) {
  const c = (await p.context().cookies(BASE)).find((c) => c.name === "carburoam_csrf");
  assert.ok(c, "the site gave this browser a CSRF cookie");
  return c.value;
}

/**
 * Checks that `url` answers the site's own 404 page (not a redirect to the login page, not a
 * 403 that would tell the console exists), in French, and without an "Admin" link.
 */
async function assertNotFound(p, url, who) {
  const resp = await p.goto(BASE + url);
  assert.equal(resp.status(), 404, `${who}: GET ${url} answers 404`);
  assert.equal(path(p), url, `${who}: GET ${url} is not redirected`);
  assert.equal((await p.locator(".error-page .status").textContent()).trim(), "404", `${who}: ${url} shows the 404 page`);
  assert.equal(await p.locator("html").getAttribute("lang"), "fr");
  assert.equal(await p.locator('[data-testid="nav-admin"]').count(), 0, `${who}: no Admin link on ${url}`);
  assert.doesNotMatch(await p.title(), /admin/i, `${who}: the 404 page of ${url} does not name the console`);
}

/** Posts a console form the way the browser would (same origin, this browser's CSRF token). */
async function postForm(p, url) {
  return p.request.post(BASE + url, {
    form: { csrf: await csrfOf(p) },
    headers: { Origin: BASE },
    maxRedirects: 0,
  });
}

/** The rows of the runs table on /admin/etl: { id, href, source, status }. */
async function runRows(p) {
  return p.locator('table[data-testid="runs"] tbody tr').evaluateAll((trs) => trs.map((tr) => ({
    id: tr.cells[0].textContent.trim(),
    href: tr.cells[0].querySelector("a")?.getAttribute("href") ?? null,
    source: tr.cells[3].textContent.trim(),
    status: tr.cells[4].textContent.trim(),
    cls: tr.className,
  })));
}

/** The rows of an audit table: { actor, action, target, href }. */
async function auditRows(p) {
  const table = p.locator('table[data-testid="audit"]');
  if ((await table.count()) === 0) return [];
  return table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => ({
    actor: tr.cells[1].textContent.trim(),
    action: tr.cells[2].textContent.trim(),
    target: tr.cells[3].textContent.trim(),
    href: tr.cells[3].querySelector("a")?.getAttribute("href") ?? null,
  })));
}

before(async () => {
  assert.ok(BASE, "BASE_URL is set by run.sh");
  assert.ok(SMTP_PORT > 0, "SMTP_PORT is set by run.sh (the server sends its mail there)");
  assert.ok(ADMIN_USER && ADMIN_PASSWORD, "ADMIN_USER and ADMIN_PASSWORD are set by run.sh (carburoam admin create)");
  mailbox = await startMailbox();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await mailbox?.close();
});

describe("admin console", () => {
  let anon;
  let user;
  let admin;
  let userId = null;
  let runsBefore = [];
  let runId = null;
  let usersTotal = null;
  let countsBefore = null;

  step("an anonymous visitor gets the 404 page on every /admin URL", async () => {
    anon = await newPage();
    await anon.goto(BASE + "/");
    assert.ok(await anon.locator('[data-testid="nav-login"]').isVisible(), "not logged in");
    for (const url of ADMIN_URLS) await assertNotFound(anon, url, "anonymous");
    const r = await postForm(anon, "/admin/etl/run");
    assert.equal(r.status(), 404, "anonymous: POST /admin/etl/run answers 404");
    await anon.context().close();
  });

  step("a normal user registers, and has no Admin link", async () => {
    user = await newPage();
    await user.goto(BASE + "/register");
    await user.locator("#username").fill(USERNAME);
    await user.locator("#display_name").fill(DISPLAY_NAME);
    await user.locator("#email").fill(EMAIL);
    await user.locator("#password").fill(PASSWORD);
    await user.locator("#confirm").fill(PASSWORD);
    await submit(user.locator('form[action="/register"] button[type="submit"]'), /\/me\/stations/);
    assert.ok(await user.locator('[data-testid="logout"]').isVisible(), "logged in");
    assert.ok(await user.locator('[data-testid="nav-me"]').isVisible(), "the account link");
    assert.equal(await user.locator('[data-testid="nav-admin"]').count(), 0, "no Admin link for a normal user");
  });

  step("the normal user gets the 404 page on every /admin URL, and cannot start a run", async () => {
    for (const url of ADMIN_URLS) await assertNotFound(user, url, "normal user");
    // A well-formed form post (same origin, valid CSRF token) to the console's actions.
    const r = await postForm(user, "/admin/etl/run");
    assert.equal(r.status(), 404, "normal user: POST /admin/etl/run answers 404");
    assert.equal(r.headers()["location"], undefined, "and does not redirect to the console");
    // Still logged in: the 404s did not end the session.
    await user.goto(BASE + "/me");
    assert.equal(path(user), "/me");
  });

  step("the admin logs in and has the Admin link", async () => {
    admin = await newPage();
    await admin.goto(BASE + "/login");
    await admin.locator("#login").fill(ADMIN_USER);
    await admin.locator("#password").fill(ADMIN_PASSWORD);
    const resp = await submit(admin.locator('form[action="/login"] button[type="submit"]'));
    assert.ok(resp.status() < 400, `login answered ${resp.status()}`);
    assert.ok(await admin.locator('[data-testid="logout"]').isVisible(), `logged in as ${ADMIN_USER} (at ${path(admin)})`);
    const link = admin.locator('[data-testid="nav-admin"]');
    assert.ok(await link.isVisible(), "the Admin link in the header");
    assert.equal(await link.getAttribute("href"), "/admin");
    await Promise.all([admin.waitForURL(/\/admin$/), link.click()]);
    assert.equal(await link.getAttribute("aria-current"), "page", "the Admin link marked current");
  });

  step("/admin shows the usage figures", async () => {
    assert.equal(path(admin), "/admin");
    assert.equal(await admin.locator("html").getAttribute("lang"), "fr");
    const usage = admin.locator('[data-testid="usage"]');
    assert.ok(await usage.isVisible(), "the usage figures");
    const total = int(await admin.locator('[data-testid="users-total"]').textContent(), "users total");
    assert.ok(total >= 2, `at least the admin and the user just registered (got ${total})`);
    const admins = int(await figure(admin, "Admins"), "admins");
    assert.ok(admins >= 1 && admins < total, `admins: ${admins} of ${total}`);
    assert.ok(int(await figure(admin, "Sessions actives"), "active sessions") >= 2, "the user's and the admin's sessions");
    assert.match(await figure(admin, "Codes de réinitialisation"), /^\d+ \/ \d+ \/ \d+$/, "reset codes sent / used / expired");
    // New accounts per week: every account was made today, so the bars add up to the total.
    const weeks = await admin.locator("section[aria-labelledby=w-title] table.bars tbody tr td.num")
      .evaluateAll((tds) => tds.map((td) => td.textContent.trim()));
    assert.ok(weeks.length >= 1, "at least this week's bar");
    assert.equal(weeks.map((w) => int(w, "accounts in a week")).reduce((a, b) => a + b, 0), total,
      `new accounts per week (${weeks.join(", ")}) add up to the total`);
    usersTotal = total;
    // Page views are counted in memory and written about every minute: a number, maybe still 0.
    int(await admin.locator('[data-testid="views-90"]').textContent(), "page views (90 days)");
    await shoot(admin, "overview");
  });

  step("/admin/etl shows the real counts and the runs", async () => {
    await Promise.all([admin.waitForURL(/\/admin\/etl$/), admin.locator('nav.admin-nav a[href="/admin/etl"]').click()]);
    const counts = admin.locator('[data-testid="counts"]');
    assert.ok(await counts.isVisible(), "the data counts");
    for (const label of ["Stations", "Prix actuels", "Points d’historique", "Ruptures"]) {
      const n = int(await figure(admin, label), label);
      assert.ok(n > 0, `${label}: ${n} > 0 from the data loaded`);
    }
    countsBefore = await admin.locator('[data-testid="counts"] dd').allTextContents();
    const stationsShown = int(await figure(admin, "Stations"), "stations");
    const prices = int(await figure(admin, "Prix actuels"), "prices");
    const history = int(await figure(admin, "Points d’historique"), "history");
    assert.ok(history >= prices, `at least one history point per current price (${history} < ${prices})`);
    assert.ok(stationsShown >= (REAL ? 5000 : 5), `stations: ${stationsShown}`);
    // The feed job is off in run.sh: nothing scheduled, but an admin can still run it.
    assert.match(await counts.locator("xpath=..").textContent(), /Aucun import planifié/);
    assert.ok(await admin.locator('[data-testid="run-now"]').isEnabled(), "Run now offered");
    runsBefore = await runRows(admin);
    assert.ok(runsBefore.length >= 1, "the imports done by run.sh are listed");
    for (const r of runsBefore) {
      assert.match(r.id, /^\d+$/);
      assert.equal(r.href, `/admin/etl/runs/${r.id}`, `run ${r.id} links to its page`);
      assert.notEqual(r.status, "running", `run ${r.id} is finished`);
    }
    assert.ok(runsBefore.some((r) => r.status === "success"), "a successful import among them");
    assert.equal(runsBefore.filter((r) => r.source.endsWith("(admin)")).length, 0,
      "no run started from the console yet (the normal user's POST started nothing)");
  });

  step("Run now imports the feed, and the new run appears in the table", async () => {
    const lastId = Math.max(...runsBefore.map((r) => Number(r.id)));
    await submit(admin.locator('[data-testid="run-now"]'), /\/admin\/etl\?msg=started$/);
    const msg = admin.locator('[data-testid="message"]');
    assert.ok(await msg.isVisible(), "the page says the import started");
    assert.match(await msg.textContent(), /Import lancé/);
    // The run goes on in the background: reload until it is listed and finished.
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    let mine = null;
    for (;;) {
      const rows = await runRows(admin);
      mine = rows.find((r) => Number(r.id) > lastId && r.source.endsWith("(admin)"));
      if (mine && mine.status !== "running") break;
      assert.ok(Date.now() < deadline, `the run started from the console is listed and finished within ` +
        `${RUN_TIMEOUT_MS / 1000} s (rows: ${JSON.stringify(rows.slice(0, 3))})`);
      await admin.waitForTimeout(500);
      await admin.goto(BASE + "/admin/etl");
    }
    assert.equal(mine.status, "success", `the run imported the feed: ${JSON.stringify(mine)}`);
    assert.match(mine.cls, /status-success/);
    assert.match(mine.source, /^feed-/, `the feed file run.sh set (--feed-url): ${mine.source}`);
    runId = mine.id;
    // The same data again: the counts did not move.
    assert.deepEqual(await admin.locator('[data-testid="counts"] dd').allTextContents(), countsBefore,
      "stations, prices, history points and shortages as before the run");
    await shoot(admin, "etl");
  });

  step("opens the run: its figures, log lines and rejected records", async () => {
    await Promise.all([admin.waitForURL(new RegExp(`/admin/etl/runs/${runId}$`)),
      admin.locator(`table[data-testid="runs"] a[href="/admin/etl/runs/${runId}"]`).click()]);
    assert.match(await admin.locator("h1").textContent(), new RegExp(`#${runId} — success`));
    assert.equal(await figure(admin, "Déclencheur"), "admin");
    assert.match(await figure(admin, "Source"), /\/feed-[^/]+$/, "the local feed file");
    const [created, updated, unchanged] = (await figure(admin, "Stations nouvelles"))
      .split("/").map((s, i) => int(s, `stations figure ${i}`));
    assert.ok(created + updated + unchanged > 0, "the file's stations were read");
    assert.equal(created, 0, "the same data again: no new station");
    const log = (await admin.locator('[data-testid="run-log"]').textContent()).split("\n").filter((l) => l.trim());
    assert.ok(log.length >= 2, `log lines (got ${JSON.stringify(log)})`);
    assert.match(log[0], /^received \d+ bytes from .*feed-/, "the log says what was read");
    assert.equal(await admin.locator('[data-testid="run-error"]').count(), 0, "no error");
    // The rejections table has as many rows as the run says it rejected.
    const rejected = int(await figure(admin, "Rejets"), "rejected");
    const rejSection = admin.locator("section.panel").filter({ has: admin.locator("h2", { hasText: "Enregistrements rejetés" }) });
    const rejRows = await rejSection.locator("tbody tr").count();
    assert.equal(rejRows, rejected, "one row per rejected record");
    if (!REAL) assert.ok(rejected > 0, "the fixtures hold records to reject");
    if (rejected > 0) {
      const reason = (await rejSection.locator("tbody tr").first().locator("td").nth(3).textContent()).trim();
      assert.ok(reason.length > 3, `a reason for the rejection (got "${reason}")`);
    }
    await shoot(admin, "run");
  });

  step("/admin/users finds the user; their page shows no password hash", async () => {
    await Promise.all([admin.waitForURL(/\/admin\/users$/), admin.locator('nav.admin-nav a[href="/admin/users"]').click()]);
    // Without a search, every account: as many as the usage page counts.
    assert.equal(await admin.locator('table[data-testid="users"] tbody tr').count(), usersTotal,
      "/admin/users lists as many accounts as /admin counts");
    // The audit log already has the run started above.
    const audit = await auditRows(admin);
    assert.ok(audit.some((a) => a.action === "run-etl" && a.actor === ADMIN_USER),
      `run-etl by ${ADMIN_USER} in the audit log: ${JSON.stringify(audit.slice(0, 5))}`);
    // By email, in any case, through the search form.
    await admin.locator("#q").fill(EMAIL.toUpperCase());
    await Promise.all([admin.waitForURL(/\/admin\/users\?q=/), admin.locator('form.search button[type="submit"]').click()]);
    assert.equal(await admin.locator("#q").inputValue(), EMAIL.toUpperCase(), "the search is kept in the field");
    const rows = admin.locator('table[data-testid="users"] tbody tr');
    assert.equal(await rows.count(), 1, `one account matches ${EMAIL}`);
    const link = rows.first().locator("a");
    assert.equal((await link.textContent()).trim(), USERNAME);
    const href = await link.getAttribute("href");
    assert.match(href, /^\/admin\/users\/\d+$/);
    userId = Number(href.split("/").pop());
    assert.equal((await rows.first().locator("td").nth(1).textContent()).trim(), DISPLAY_NAME);
    assert.equal((await rows.first().locator("td").nth(2).textContent()).trim(), EMAIL);
    // By a part of the display name, and by the part of the username after its last "_".
    for (const q of ["dominique aid", stamp]) {
      await admin.goto(BASE + `/admin/users?q=${encodeURIComponent(q)}`);
      assert.equal(await admin.locator(`table[data-testid="users"] a[href="/admin/users/${userId}"]`).count(), 1, `found by "${q}"`);
    }
    await admin.goto(BASE + `/admin/users?q=${encodeURIComponent(EMAIL)}`);
    await shoot(admin, "users");
    await Promise.all([admin.waitForURL(new RegExp(`/admin/users/${userId}$`)),
      admin.locator(`table[data-testid="users"] a[href="/admin/users/${userId}"]`).click()]);
    assert.equal((await admin.locator("h1").textContent()).trim(), USERNAME);
    assert.equal(await figure(admin, "Nom affiché"), DISPLAY_NAME);
    assert.equal(await figure(admin, "E-mail"), EMAIL);
    assert.match(await figure(admin, "Rôle"), /^utilisateur$/);
    const html = await admin.content();
    assert.doesNotMatch(html, /\$argon2|password_hash/i, "no password hash on the page");
  });

  it("finds an account by its exact username, underscores included", async (t) => {
    if (failed() || userId === null) return t.skip("the console steps before failed");
    await admin.goto(BASE + `/admin/users?q=${encodeURIComponent(USERNAME)}`);
    assert.equal(await admin.locator(`table[data-testid="users"] a[href="/admin/users/${userId}"]`).count(), 1,
      `searching "${USERNAME}" finds the account`);
  });

  step("the normal user's forged grant-admin is a 404 and changes nothing", async () => {
    const r = await postForm(user, `/admin/users/${userId}/grant-admin`);
    assert.equal(r.status(), 404, "normal user: POST grant-admin on themselves answers 404");
    await admin.goto(BASE + `/admin/users/${userId}`);
    assert.match(await figure(admin, "Rôle"), /^utilisateur$/, "still a normal user");
    assert.ok(!(await auditRows(admin)).some((a) => a.action === "grant-admin"), "no grant-admin in the audit log");
    await user.goto(BASE + "/me");
    assert.equal(await user.locator('[data-testid="nav-admin"]').count(), 0, "still no Admin link");
  });

  step("sends a password reset: the code arrives by mail, and the audit log says so", async () => {
    await submit(admin.locator('[data-testid="send-reset"]'), new RegExp(`/admin/users/${userId}\\?msg=send-reset$`));
    const msg = admin.locator('[data-testid="message"]');
    assert.ok(await msg.isVisible(), "a message says it was sent");
    assert.doesNotMatch(await msg.getAttribute("class"), /error/, `not an error: ${await msg.textContent()}`);
    assert.match(await msg.textContent(), /envoyé/);
    const mail = await waitForMail((m) => m.to.includes(EMAIL.toLowerCase()) && CODE_RE.test(m.text),
      `password reset mail to ${EMAIL}`);
    assert.match(mail.subject, /réinitialisation/);
    const code = mail.text.match(CODE_RE)[0];
    const link = mail.text.match(/https?:\/\/\S+\/reset-password\?\S+/)?.[0];
    assert.ok(link?.startsWith(BASE + "/reset-password?"), `a reset link to this server in the mail:\n${mail.text}`);
    assert.equal(new URL(link).searchParams.get("code"), code);
    assert.equal(new URL(link).searchParams.get("login"), USERNAME);
    // This account's audit log: the reset, by this admin, on this account.
    const audit = await auditRows(admin);
    const entry = audit.find((a) => a.action === "send-reset");
    assert.ok(entry, `send-reset in the account's audit log: ${JSON.stringify(audit)}`);
    assert.equal(entry.actor, ADMIN_USER, "done by the admin");
    assert.equal(entry.target, USERNAME);
    assert.equal(entry.href, `/admin/users/${userId}`);
    await shoot(admin, "user");
    // And in the whole audit log on /admin/users.
    await admin.goto(BASE + "/admin/users");
    assert.ok((await auditRows(admin)).some((a) => a.action === "send-reset" && a.actor === ADMIN_USER && a.target === USERNAME),
      "send-reset in the audit log of /admin/users");
    // The usage figures count it.
    await admin.goto(BASE + "/admin");
    const [sent] = (await figure(admin, "Codes de réinitialisation")).split("/").map((s) => int(s, "codes"));
    assert.ok(sent >= 1, `reset codes sent: ${sent}`);
  });

  step("/admin/backups downloads a consistent copy of the database", async () => {
    await Promise.all([admin.waitForURL(/\/admin\/backups$/), admin.locator('nav.admin-nav a[href="/admin/backups"]').click()]);
    // A POST form with the CSRF token (a GET is the 404 page: a cross-site link cannot start one).
    const button = admin.locator('[data-testid="download-backup"]');
    assert.equal(await button.evaluate((b) => `${b.form.method} ${new URL(b.form.action).pathname}`), "post /admin/backups/download");
    await shoot(admin, "backups");
    const [download] = await Promise.all([admin.waitForEvent("download"), button.click()]);
    assert.match(download.suggestedFilename(), /^carburoam-\d{8}T\d{6}Z\.db$/);
    assert.equal((await admin.request.get(BASE + "/admin/backups/download")).status(), 404);
    const r = await postForm(admin, "/admin/backups/download");
    assert.equal(r.status(), 200);
    assert.match(r.headers()["content-disposition"] ?? "", /^attachment; filename="carburoam-\d{8}T\d{6}Z\.db"$/);
    assert.equal(r.headers()["cache-control"], "no-store");
    const body = await r.body();
    assert.equal(body.subarray(0, 16).toString("latin1"), "SQLite format 3\0", "a SQLite database file");
    assert.ok(body.length > 10_000, `a real database (${body.length} bytes)`);
  });

  step("the normal user logs out", async () => {
    await submit(user.locator('[data-testid="logout"]'), /\/login\?done=logout/);
    await user.context().close();
    await admin.context().close();
  });

  it("breaks no Content-Security-Policy rule and throws no script error", () => {
    assert.deepEqual(problems, []);
  });
});
