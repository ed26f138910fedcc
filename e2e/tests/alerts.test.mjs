// Price alerts end to end, in Debian's Chromium against the real binary run.sh started:
// a user follows a station, creates a threshold alert on /me/alerts (in the page, as a person
// would), an operator imports with the real CLI a feed file where that station dropped below the
// threshold, the server's alert worker picks the change up (as from another instance's import:
// at its next tick, within 30 s) and the alert email reaches the SMTP listener: subject, station,
// price, link, RFC 8058 List-Unsubscribe headers. Its one-click unsubscribe, without login,
// pauses the rule. Then the price is put back (a second import) so the files after this one see
// the site's data as it was.
//
// The file imported: the last file run.sh loaded (E2E_LAST_FILE, ZIP or XML) with one price of
// the followed station lowered and its update time moved one minute later (e2e/lib/reprice.py),
// imported by `carburoam import` (E2E_BIN) into the served database (E2E_DB).
//
// The account: run.sh's admin (registrations are rate-limited per address and the other files
// use them up); this file does 1 login.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { BASE, REAL, launchBrowser, newPage as openPage, path, startMailbox, steps, submit } from "../lib/harness.mjs";

const { E2E_BIN, E2E_DB, E2E_LAST_FILE, ADMIN_USER, ADMIN_PASSWORD } = process.env;
const ADMIN_EMAIL = "admin@example.org"; // run.sh's `admin create … --email`
const TOWN = REAL ? "Lyon" : "Brest";
const OWN_NAME = "Station des alertes";
const REPRICE = new URL("../lib/reprice.py", import.meta.url).pathname;
/** The worker's tick (src/alerts/mod.rs TICK, 30 s) plus the evaluation and the SMTP send. */
const ALERT_MAIL_MS = 45_000;

let browser;
let mailbox;
let page;
let dir;
const problems = [];
const { step } = steps();

/** Writes a copy of the last file with `station`'s `fuel` price moved by `delta` thousandths. */
function reprice(station, fuel, delta, secondsLater, name) {
  const dst = join(dir, `${name}-${basename(E2E_LAST_FILE)}`);
  const r = spawnSync("python3", [REPRICE, E2E_LAST_FILE, dst, station, String(delta), String(secondsLater), fuel],
    { encoding: "utf8" });
  assert.equal(r.status, 0, `reprice.py: ${r.stderr}`);
  return { file: dst, ...JSON.parse(r.stdout) };
}

/** `carburoam import` of `file` into the served database, as an operator would. */
function importFile(file) {
  const r = spawnSync(E2E_BIN, ["import", "--database", E2E_DB, file], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `carburoam import ${file}: ${r.stderr}`);
}

/** `1,234` (the form's French decimal) of thousandths. */
const frPrice = (milli) => `${Math.floor(milli / 1000)},${String(milli % 1000).padStart(3, "0")}`;

before(async () => {
  assert.ok(BASE, "BASE_URL is set by run.sh");
  assert.ok(E2E_BIN && E2E_DB && E2E_LAST_FILE, "run.sh hands over E2E_BIN, E2E_DB and E2E_LAST_FILE");
  assert.ok(ADMIN_USER && ADMIN_PASSWORD, "run.sh made an admin account");
  dir = mkdtempSync(join(tmpdir(), "carburoam-alerts-"));
  mailbox = await startMailbox();
  browser = await launchBrowser();
  page = await openPage(browser, problems);
});

after(async () => {
  await browser?.close();
  await mailbox?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The followed station: { id, fuel, old, new, file } once chosen. */
const chosen = {};

step("logs in", async () => {
  await page.goto(BASE + "/login");
  await page.locator("#login").fill(ADMIN_USER);
  await page.locator("#password").fill(ADMIN_PASSWORD);
  await submit(page.locator('form[action="/login"] button[type="submit"]'), /\/(me|admin)/);
});

step("follows a station and names it", async () => {
  await page.goto(BASE + "/me/stations");
  await page.locator("#q").fill(TOWN);
  await Promise.all([page.waitForURL(/[?&]q=/), page.locator('form.search button[type="submit"]').click()]);
  await page.locator('ul[data-testid="candidates"] li').first().waitFor();
  const ids = await page.locator("ul[data-testid=candidates] li button[data-add]").evaluateAll((els) => els.map((e) => e.dataset.add));
  // A station with a price and no shortage of that fuel, read from the public API.
  for (const id of ids) {
    const r = await page.request.get(`${BASE}/api/v1/stations/${id}`);
    if (!r.ok()) continue;
    const s = await r.json();
    const p = (s.prices ?? []).find((x) => x.price > 0.1 && !(s.shortages ?? []).some((y) => y.fuel === x.fuel));
    if (p) {
      chosen.id = String(id);
      chosen.fuel = p.fuel;
      break;
    }
  }
  assert.ok(chosen.id, `a station with a price around ${TOWN} (candidates: ${ids.join(", ")})`);
  await submit(page.locator(`ul[data-testid="candidates"] li button[data-add="${chosen.id}"]`), /msg=added/);
  const li = page.locator(`ol[data-testid="my-stations"] li[data-station="${chosen.id}"]`);
  const form = li.locator('form[action$="/rename"]');
  await form.locator('input[name="name"]').fill(OWN_NAME);
  await submit(form.locator('button[type="submit"]'), /msg=renamed/);
});

step("creates a threshold alert on /me/alerts, mailed, without quiet hours", async () => {
  // The file to import later: the station's price 6 cents lower; the threshold 2 cents under
  // the price of today, so that the drop crosses it.
  Object.assign(chosen, reprice(chosen.id, chosen.fuel, -60, 60, "drop"));
  assert.equal(chosen.new, chosen.old - 60);
  await page.goto(BASE + "/me/alerts");
  const addEmail = page.locator('form[action="/me/alerts/channels/email"] button[type="submit"]');
  if (await addEmail.count()) await submit(addEmail, /\/me\/alerts/);
  assert.ok(await page.locator('[data-testid="channel-email"]').isVisible(), "the email channel is listed");

  // Quiet hours off (the same start and end), so that the test passes at night too.
  await page.locator("#quiet_start").fill("00:00");
  await page.locator("#quiet_end").fill("00:00");
  await submit(page.locator('form[action="/me/alerts/settings"] button[type="submit"]'), /\/me\/alerts/);

  const form = page.locator('[data-testid="rule-form"]');
  await form.locator('input[name="kind"][value="threshold"]').check();
  await form.locator("#fuel").selectOption(chosen.fuel);
  await form.locator("#price").fill(frPrice(chosen.old - 20));
  await form.locator('input[name="where"][value="mine"]').check();
  await submit(form.locator('button[type="submit"]'), /\/me\/alerts/);
  const rules = page.locator('ul.alert-rules li[data-testid^="rule-"]');
  assert.equal(await rules.count(), 1, `one rule listed ${await page.locator("main").innerText()}`);
  const text = await rules.first().innerText();
  assert.ok(text.includes(chosen.fuel), `the rule names its fuel: ${text}`);
  assert.ok(text.includes(frPrice(chosen.old - 20)), `the rule shows its threshold: ${text}`);
  chosen.rule = (await rules.first().getAttribute("data-testid")).replace("rule-", "");
  assert.deepEqual(problems, []);
});

step("an import where the station drops below the threshold mails the alert", async () => {
  const since = mailbox.mails.length;
  importFile(chosen.file);
  const mail = await mailbox.waitForMail(
    (m) => mailbox.mails.indexOf(m) >= since && m.to.includes(ADMIN_EMAIL) && /alerte prix|price alert/.test(m.subject),
    "price alert", ALERT_MAIL_MS);
  assert.match(mail.subject, /^Carburoam\u202f: alerte prix$/);
  const price = frPrice(chosen.new);
  assert.ok(mail.text.includes(`${chosen.fuel} à ${price} €`), `the fuel and the new price: ${mail.text}`);
  assert.ok(mail.text.includes(OWN_NAME), `the station, by the user's name for it: ${mail.text}`);
  assert.ok(mail.text.includes(`${frPrice(chosen.old - 20)} €`), `the threshold: ${mail.text}`);
  assert.ok(mail.text.includes(`${BASE}/stations/${chosen.id}`), `a link to the station: ${mail.text}`);
  assert.ok(mail.html.includes(OWN_NAME), "an HTML part too");
  const unsub = mail.header("List-Unsubscribe");
  assert.match(unsub ?? "", new RegExp(`^<${BASE}/alerts/unsubscribe/[A-Za-z0-9_-]{20,}>$`));
  assert.equal(mail.header("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  chosen.unsubscribe = unsub.slice(1, -1);
  // One alert for one change: no second mail from the same import.
  await page.waitForTimeout(1000);
  assert.equal(mailbox.mails.filter((m) => mailbox.mails.indexOf(m) >= since && /alerte prix/.test(m.subject)).length, 1);
});

step("the one-click unsubscribe (RFC 8058, no login) pauses the rule", async () => {
  // What a mail client sends: a POST without cookies.
  const r = await fetch(chosen.unsubscribe, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "List-Unsubscribe=One-Click",
    redirect: "manual",
  });
  assert.ok(r.status < 400, `the unsubscribe POST answers ${r.status}`);
  await page.goto(BASE + "/me/alerts");
  const rule = page.locator(`[data-testid="rule-${chosen.rule}"]`);
  assert.ok(await rule.locator(".badge").isVisible(), "the rule is paused");
  assert.ok(await rule.locator(`form[action="/me/alerts/rules/${chosen.rule}/resume"]`).isVisible(), "and can be resumed");
});

step("puts the price back and deletes the rule (the data as the other files expect it)", async () => {
  const back = reprice(chosen.id, chosen.fuel, 0, 120, "back");
  importFile(back.file);
  const r = await page.request.get(`${BASE}/api/v1/stations/${chosen.id}`);
  const p = (await r.json()).prices.find((x) => x.fuel === chosen.fuel);
  assert.equal(Math.round(p.price * 1000), chosen.old, "the price is back");
  await page.goto(BASE + "/me/alerts");
  await submit(page.locator(`form[action="/me/alerts/rules/${chosen.rule}/delete"] button[type="submit"]`), /\/me\/alerts/);
  assert.equal(path(page).startsWith("/me/alerts"), true);
  assert.equal(await page.locator("ul.alert-rules li").count(), 0, "the rule is gone");
});
