// The whole life of an account, in a real browser (Debian's Chromium driven by playwright-core)
// against the real binary that run.sh started (BASE_URL), on a 360×740 phone screen in French:
// register, pick fuels, add stations from the list and the map, read the dashboard, rename a
// station, log out, reset the forgotten password with the code mailed over real SMTP, log in
// again, export the data, delete the account.
//
// The mail: run.sh points the server at 127.0.0.1:$SMTP_PORT (plain SMTP); this file listens
// there with the npm package smtp-server (a real SMTP server) and parses what arrives with
// mailparser. Nothing on the server side is mocked.
//
// Rate limits are per client address and shared with the other test files (same server): this
// file does 2 registrations, 3 logins, 1 "forgot password" and 2 resets.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import {
  BASE, REAL, SMTP_PORT, launchBrowser, newPage as openPage, parsePrice, path, screenshotter, startMailbox, steps, submit,
} from "../lib/harness.mjs";

/** Towns searched on /me/stations and how many stations to add from each (see tests/fixtures/README.md:
 * around Paris the fixtures have only Paris 13 and Sceaux, so the third comes from Lyon). */
const TOWNS = REAL ? [["Lyon", 3]] : [["Paris", 2], ["Lyon", 1]];
const FUELS = ["E10", "Gazole"];

// A fresh account each run (the database is a temp one, but a rerun against the same server
// must not collide).
const stamp = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
const USERNAME = `e2e_${stamp}`;
const DISPLAY_NAME = "Camille Testeuse";
const EMAIL = `camille.${stamp}@example.org`;
const PASSWORD = `Rv${randomBytes(9).toString("base64url")}-7k`;
const NEW_PASSWORD = `Nq${randomBytes(9).toString("base64url")}-4w`;
const WEAK_PASSWORD = "password123";
const OWN_NAME = "Station du boulot";
const PRICE_RE = /^\d,\d{3} €$/;
const EUROS_RE = /^\d+,\d{2} €$/;

let browser;
let mailbox;
let page;
/** Messages of the browser console that reveal a bug: CSP violations, script errors. */
const problems = [];
const newPage = (viewport, locale) => openPage(browser, problems, viewport, locale);
const waitForMail = (pred, what, timeoutMs) => mailbox.waitForMail(pred, what, timeoutMs);
const shoot = screenshotter("account");
// Each step depends on the ones before it: after a failure the rest are skipped.
const { step } = steps();


async function fillLogin(p, login, password) {
  await p.locator("#login").fill(login);
  await p.locator("#password").fill(password);
  return p.locator('form[action="/login"] button[type="submit"]');
}

before(async () => {
  assert.ok(BASE, "BASE_URL is set by run.sh");
  assert.ok(SMTP_PORT > 0, "SMTP_PORT is set by run.sh (the server sends its mail there)");
  mailbox = await startMailbox();
  browser = await launchBrowser();
  page = await newPage();
});

after(async () => {
  await browser?.close();
  await mailbox?.close();
});

describe("account life", () => {
  /** The stations added, in order: { id, label }. */
  const added = [];
  let renamedId = null;
  let resetLink = null;
  let resetCode = null;

  step("refuses a weak password at registration, next to the field", async () => {
    await page.goto(BASE + "/register");
    assert.equal(await page.locator("html").getAttribute("lang"), "fr");
    await page.locator("#username").fill(USERNAME);
    await page.locator("#display_name").fill(DISPLAY_NAME);
    await page.locator("#email").fill(EMAIL);
    await page.locator("#password").fill(WEAK_PASSWORD);
    await page.locator("#confirm").fill(WEAK_PASSWORD);
    const resp = await submit(page.locator('form[action="/register"] button[type="submit"]'));
    assert.equal(resp.status(), 422, "a refused registration answers 422");
    assert.equal(path(page), "/register");
    const err = page.locator("#password-err");
    await err.waitFor();
    assert.ok((await err.textContent()).trim().length > 10, "the refusal says why");
    assert.equal(await page.locator("#password").getAttribute("aria-invalid"), "true");
    assert.match(await page.locator("#password").getAttribute("aria-describedby"), /password-err/);
    assert.ok(await page.locator('[data-testid="form-errors"]').isVisible(), "a summary of the errors on top");
    // What was typed is kept (never the password).
    assert.equal(await page.locator("#username").inputValue(), USERNAME);
    assert.equal(await page.locator("#email").inputValue(), EMAIL);
    assert.equal(await page.locator("#password").inputValue(), "");
    await shoot(page, "register-error");
  });

  step("registers and lands on /me/stations", async () => {
    await page.locator("#password").fill(PASSWORD);
    await page.locator("#confirm").fill(PASSWORD);
    // No fuel at registration: they are picked in the profile next.
    for (const box of await page.locator('form[action="/register"] input[name="fuel"]').all()) await box.uncheck();
    await submit(page.locator('form[action="/register"] button[type="submit"]'), /\/me\/stations/);
    assert.match(path(page), /^\/me\/stations/);
    assert.ok(await page.locator('[data-testid="logout"]').isVisible(), "logged in: the header offers to log out");
  });

  step("picks E10 and Gazole in the profile", async () => {
    await page.goto(BASE + "/me/profile");
    const boxes = page.locator('form[action="/me/profile"] input[name="fuel"]');
    assert.ok((await boxes.count()) >= 2, "one checkbox per fuel");
    assert.equal(await page.locator('form[action="/me/profile"] input[name="fuel"]:checked').count(), 0,
      "no fuel chosen at registration");
    for (const fuel of FUELS) await boxes.and(page.locator(`[value="${fuel}"]`)).check();
    await submit(page.locator('form[action="/me/profile"] button[type="submit"]'), /\/me\/profile\?msg=saved/);
    assert.ok(await page.locator('[data-testid="message"]').isVisible(), "saved message");
    const checked = await page.locator('form[action="/me/profile"] input[name="fuel"]:checked')
      .evaluateAll((els) => els.map((e) => e.value));
    assert.deepEqual(checked.sort(), [...FUELS].sort());
  });

  step("adds three stations from the list and the map", async () => {
    await page.goto(BASE + "/me/stations");
    let viaMap = false;
    for (const [town, count] of TOWNS) {
      await page.locator("#q").fill(town);
      await Promise.all([page.waitForURL(/[?&]q=/), page.locator('form.search button[type="submit"]').click()]);
      const ids = await pickCandidates(count);
      for (const id of ids) {
        const li = page.locator(`ul[data-testid="candidates"] li[data-id="${id}"]`);
        const label = await li.getAttribute("data-name");
        if (!viaMap) {
          // Through the marker's popup: the same form as the list's.
          viaMap = true;
          const marker = page.locator(`#mine-map .leaflet-marker-icon[title="${label.replace(/"/g, '\\"')}"]`);
          await marker.first().waitFor();
          // Markers of nearby stations may overlap: a DOM click on this one, as Leaflet listens.
          await marker.first().dispatchEvent("click");
          const popupButton = page.locator('#mine-map .leaflet-popup-content form[action="/me/stations/add"] button[type="submit"]');
          await popupButton.waitFor();
          assert.equal(await page.locator(".leaflet-popup-content input[name=station_id]").inputValue(), id);
          await submit(popupButton, /msg=added/);
        } else {
          await submit(li.locator(`button[data-add="${id}"]`), /msg=added/);
        }
        added.push({ id, label });
        assert.ok(await page.locator(`ol[data-testid="my-stations"] li[data-station="${id}"]`).isVisible(),
          `station ${id} (${label}) in my list`);
        // Back where the search was: the same candidates, this one marked as mine.
        assert.equal(await page.locator(`ul[data-testid="candidates"] li[data-id="${id}"]`).getAttribute("data-mine"), "true");
        assert.equal(await page.locator(`button[data-add="${id}"]`).count(), 0, "no second Add button");
      }
    }
    assert.equal(await page.locator('ol[data-testid="my-stations"] > li').count(), 3);
  });

  /**
   * `count` candidate ids from the list on /me/stations, preferring (on the real national data,
   * where some stations sell neither fuel or have not updated for weeks) stations with a
   * fresh price for both fuels, so that the dashboard has something to compare.
   */
  async function pickCandidates(count) {
    await page.locator('ul[data-testid="candidates"] li').first().waitFor();
    const ids = await page.locator("ul[data-testid=candidates] li button[data-add]")
      .evaluateAll((els) => els.map((e) => e.dataset.add));
    assert.ok(ids.length >= count, `at least ${count} stations to add around the town (got ${ids.length})`);
    if (!REAL) return ids.slice(0, count);
    const stations = [];
    for (const id of ids) {
      const r = await page.request.get(`${BASE}/api/v1/stations/${id}`);
      if (r.ok()) stations.push(await r.json());
    }
    // Fresh: within 3 days of the newest price around (the dashboard's rule, against the snapshot).
    const newest = Math.max(0, ...stations.flatMap((s) => (s.prices ?? []).map((p) => Date.parse(p.updated_at))));
    const usable = (s, fuel) => (s.prices ?? []).some((p) => p.fuel === fuel && newest - Date.parse(p.updated_at) < 2 * 86_400_000) &&
      !(s.shortages ?? []).some((x) => x.fuel === fuel);
    const good = stations.filter((s) => FUELS.every((f) => usable(s, f))).map((s) => String(s.id)).slice(0, count);
    for (const id of ids) if (good.length < count && !good.includes(id)) good.push(id);
    return good;
  }

  step("/me shows each fuel cheapest first, and the savings", async () => {
    await page.goto(BASE + "/me");
    assert.equal(path(page), "/me");
    for (const fuel of FUELS) {
      const section = page.locator(`section[data-testid="fuel-${fuel}"]`);
      assert.ok(await section.isVisible(), `a ${fuel} section`);
      const rows = await section.locator("tr[data-station]").evaluateAll((trs) => trs.map((tr) => ({
        id: tr.dataset.station,
        price: tr.cells[1].textContent.trim(),
        usable: !tr.classList.contains("stale-row") && !tr.querySelector(".shortage"),
        best: tr.classList.contains("best-row"),
      })));
      assert.ok(rows.length >= 2, `${fuel}: at least two of my stations sell it (rows: ${JSON.stringify(rows)})`);
      for (const r of rows) {
        assert.ok(added.some((a) => a.id === r.id), `${fuel}: row ${r.id} is one of mine`);
        assert.match(r.price, PRICE_RE, `${fuel}: price of ${r.id} formatted like 1,739 €`);
      }
      // Usable prices first, cheapest first; stale or in-shortage ones after.
      const usable = rows.filter((r) => r.usable);
      assert.deepEqual(rows.slice(0, usable.length), usable, `${fuel}: usable prices before the others`);
      const values = usable.map((r) => parsePrice(r.price));
      assert.deepEqual(values, [...values].sort((a, b) => a - b), `${fuel}: sorted cheapest first`);
      if (usable.length > 0) {
        assert.ok(rows[0].best, `${fuel}: the first row is marked cheapest`);
        assert.equal(rows.filter((r) => r.best).length, 1, `${fuel}: one cheapest`);
      }
      const savings = page.locator(`[data-testid="savings-${fuel}"]`);
      assert.ok(await savings.isVisible(), `${fuel}: a savings block`);
      if (usable.length >= 2) {
        const amount = (await savings.locator('[data-testid="saving-amount"]').textContent()).trim();
        assert.match(amount, EUROS_RE, `${fuel}: savings like 42,50 €`);
      }
    }
    // The test's data is chosen so that E10 has two fresh prices to compare.
    const e10 = (await page.locator('[data-testid="savings-E10"] [data-testid="saving-amount"]').textContent()).trim();
    assert.match(e10, EUROS_RE, "E10 savings shown");
    await shoot(page, "dashboard");
  });

  step("renames a station, and the dashboard shows the new name", async () => {
    await page.goto(BASE + "/me/stations");
    renamedId = added[1].id;
    const li = page.locator(`ol[data-testid="my-stations"] li[data-station="${renamedId}"]`);
    const form = li.locator('form[action$="/rename"]');
    await form.locator('input[name="name"]').fill(OWN_NAME);
    await submit(form.locator('button[type="submit"]'), /msg=renamed/);
    assert.equal((await li.locator("strong").first().textContent()).trim(), OWN_NAME);
    assert.equal(await li.locator('form[action$="/rename"] input[name="name"]').inputValue(), OWN_NAME);
    await shoot(page, "stations");
    await page.goto(BASE + "/me");
    for (const fuel of FUELS) {
      const row = page.locator(`section[data-testid="fuel-${fuel}"] tr[data-station="${renamedId}"]`);
      if ((await row.count()) === 0) continue; // not sold there
      assert.equal((await row.locator("th a").first().textContent()).trim(), OWN_NAME, `${fuel}: renamed`);
    }
    assert.ok((await page.getByText(OWN_NAME).count()) >= 1, "the new name on the dashboard");
    await page.goto(BASE + "/me/profile");
    await shoot(page, "profile");
  });

  step("logs out, and a wrong password is refused", async () => {
    await submit(page.locator('[data-testid="logout"]'), /\/login\?done=logout/);
    assert.equal(await page.locator('[data-testid="logout"]').count(), 0, "logged out");
    assert.ok(await page.locator('[data-testid="message"]').isVisible(), "logged-out message");
    // /me now asks to log in.
    await page.goto(BASE + "/me");
    assert.match(path(page), /^\/login/);
    const resp = await submit(await fillLogin(page, USERNAME, PASSWORD + "x"));
    assert.equal(resp.status(), 401);
    const msg = page.locator('[data-testid="message"]');
    assert.ok(await msg.isVisible(), "the login page says why");
    assert.match(await msg.getAttribute("class"), /error/);
    assert.equal(await page.locator("#login").inputValue(), USERNAME, "the login typed is kept");
    await shoot(page, "login-error");
  });

  step("forgot the password: the code arrives by mail", async () => {
    await page.goto(BASE + "/forgot-password");
    await shoot(page, "forgot");
    await page.locator("#email").fill(EMAIL);
    const resp = await submit(page.locator('form[action="/forgot-password"] button[type="submit"]'));
    assert.equal(resp.status(), 200);
    assert.ok(await page.locator('a[href="/reset-password"]').isVisible(), "tells to enter the code");
    const mail = await waitForMail((m) => m.to.includes(EMAIL.toLowerCase()) && /\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b/.test(m.text),
      `password reset mail to ${EMAIL}`);
    assert.match(mail.subject, /réinitialisation/);
    resetCode = mail.text.match(/\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b/)?.[0];
    assert.ok(resetCode, `a Crockford base32 code XXXX-XXXX-XXXX in the mail:\n${mail.text}`);
    resetLink = mail.text.match(/https?:\/\/\S+\/reset-password\?\S+/)?.[0];
    assert.ok(resetLink, `a reset link in the mail:\n${mail.text}`);
    assert.ok(resetLink.startsWith(BASE + "/reset-password?"), `the link points at this server: ${resetLink}`);
    const q = new URL(resetLink).searchParams;
    assert.equal(q.get("login"), USERNAME);
    assert.equal(q.get("code"), resetCode);
  });

  step("a wrong code is refused next to the field", async () => {
    await page.goto(BASE + "/reset-password");
    // A well-formed code that is not the one mailed.
    const wrong = resetCode === "AAAA-BBBB-CCCC" ? "CCCC-BBBB-AAAA" : "AAAA-BBBB-CCCC";
    await page.locator("#login").fill(USERNAME);
    await page.locator("#code").fill(wrong);
    await page.locator("#password").fill(NEW_PASSWORD);
    await page.locator("#confirm").fill(NEW_PASSWORD);
    const resp = await submit(page.locator('form[action="/reset-password"] button[type="submit"]'));
    assert.equal(resp.status(), 422);
    const err = page.locator("#code-err");
    assert.ok(await err.isVisible(), "#code-err shown");
    assert.ok((await err.textContent()).trim().length > 5);
    assert.equal(await page.locator("#code").getAttribute("aria-invalid"), "true");
    await shoot(page, "reset-error");
  });

  step("the mail's link fills in the reset form; the new password is set", async () => {
    await page.goto(resetLink);
    assert.equal(await page.locator("#login").inputValue(), USERNAME, "login pre-filled");
    assert.equal(await page.locator("#code").inputValue(), resetCode, "code pre-filled");
    await page.locator("#password").fill(NEW_PASSWORD);
    await page.locator("#confirm").fill(NEW_PASSWORD);
    await submit(page.locator('form[action="/reset-password"] button[type="submit"]'), /\/login\?done=reset/);
    assert.ok(await page.locator('[data-testid="message"]').isVisible(), "password changed message");
    await shoot(page, "login");
    await waitForMail((m) => m.to.includes(EMAIL.toLowerCase()) && /mot de passe a été modifié/.test(m.subject),
      `"password changed" notice to ${EMAIL}`);
  });

  step("logs in with the new password", async () => {
    await submit(await fillLogin(page, USERNAME, NEW_PASSWORD), /\/me$/);
    assert.ok(await page.locator('[data-testid="logout"]').isVisible());
    assert.ok(await page.getByText(OWN_NAME).first().isVisible(), "my stations are still there");
  });

  step("exports the account as JSON", async () => {
    await page.goto(BASE + "/me/profile");
    const link = page.locator('a[data-testid="export"]');
    assert.equal(await link.getAttribute("href"), "/me/export");
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    assert.equal(download.suggestedFilename(), `carburoam-${USERNAME}.json`);
    const doc = JSON.parse(await readFile(await download.path(), "utf8"));
    assert.equal(doc.account?.username, USERNAME);
    assert.equal(doc.account?.email, EMAIL);
    assert.deepEqual([...doc.fuels].sort(), [...FUELS].sort());
    assert.equal(doc.stations?.length, 3, "the three stations");
    assert.deepEqual(doc.stations.map((s) => String(s.station_id)).sort(), added.map((a) => a.id).sort());
    assert.equal(doc.stations.find((s) => String(s.station_id) === renamedId)?.name, OWN_NAME, "with the name I gave");
    assert.ok(!JSON.stringify(doc).includes(NEW_PASSWORD), "no password in the export");
    // The same document over HTTP: a JSON attachment, never cached.
    const r = await page.request.get(BASE + "/me/export");
    assert.equal(r.status(), 200);
    assert.match(r.headers()["content-type"], /^application\/json/);
    assert.match(r.headers()["content-disposition"], /^attachment/);
    assert.equal(r.headers()["cache-control"], "no-store");
  });

  step("deletes the account, then cannot log in again", async () => {
    const form = page.locator('form[action="/me/delete"]');
    await form.locator('input[name="password"]').fill(NEW_PASSWORD);
    await submit(form.locator('button[type="submit"]'), /\/login\?done=deleted/);
    assert.ok(await page.locator('[data-testid="message"]').isVisible(), "account deleted message");
    await waitForMail((m) => m.to.includes(EMAIL.toLowerCase()) && /compte a été supprimé/.test(m.subject),
      `"account deleted" notice to ${EMAIL}`);
    assert.equal(await page.locator('[data-testid="logout"]').count(), 0, "logged out");
    const resp = await submit(await fillLogin(page, USERNAME, NEW_PASSWORD));
    assert.equal(resp.status(), 401);
    const msg = page.locator('[data-testid="message"]');
    assert.ok(await msg.isVisible(), "the login page says it failed");
    assert.match(await msg.getAttribute("class"), /error/);
    await page.goto(BASE + "/register");
    await shoot(page, "register");
  });

  it("breaks no Content-Security-Policy rule and throws no script error", () => {
    assert.deepEqual(problems, []);
  });
});
