// Accessibility of every page (WCAG 2.1 AA / RGAA 4.1), in a real browser (Debian's
// Chromium driven by playwright-core) against the real binary that run.sh started (BASE_URL):
// - keyboard only: a visitor registers (going through the error summary first), adds a station
//   from the list (skipping the map), renames it and logs out with Tab, Shift+Tab, Enter, Space
//   and typing, never a click; every element focused on the way shows a visible focus;
// - axe-core (npm @axe-core/playwright) on every page: public pages, the API documentation, the
//   account pages and their error states, the dashboard, the admin console and the 404 page, in
//   French and in English, light and dark, at 360 px and 1280 px: any violation, whatever its
//   impact, fails the page's test and is printed;
// - zoom to 200 % and WCAG 1.4.12 text spacing: no page scrolls sideways.
//
// Rate limits are per client address and shared with the other test files (same server): this
// file does 2 registrations (one refused), 4 logins (two refused), 2 "forgot password" and 2 resets.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import AxeBuilder from "@axe-core/playwright";
import {
  BASE, DESKTOP, MOBILE, REAL, launchBrowser, newPage as openPage, noHorizontalScroll, path, startMailbox, steps, submit,
} from "../lib/harness.mjs";

const ADMIN_USER = process.env.ADMIN_USER;
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
const TOWN = REAL ? "Lyon" : "Paris";
const FUEL = REAL ? "E10" : "Gazole";
const stamp = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
const USERNAME = `e2e_kbd_${stamp}`;
const EMAIL = `clavier.${stamp}@example.org`;
const PASSWORD = `Kb${randomBytes(9).toString("base64url")}-5t`;
const OWN_NAME = "Station du clavier";
/** 200 % zoom of the 1280×860 desktop window. */
const ZOOMED = { width: 640, height: 430 };
/** WCAG 1.4.12: text spacing a user may set; nothing may be cut or overflow. */
const TEXT_SPACING = `* { line-height: 1.5 !important; letter-spacing: .12em !important; word-spacing: .16em !important; }
p { margin-bottom: 2em !important; }`;

let browser;
let mailbox;
/** Messages of the browser console that reveal a bug: CSP violations, script errors. */
const problems = [];
const newPage = (viewport, locale) => openPage(browser, problems, viewport, locale);
const { step } = steps();

before(async () => {
  assert.ok(BASE, "BASE_URL is set by run.sh");
  assert.ok(ADMIN_USER && ADMIN_PASSWORD, "ADMIN_USER and ADMIN_PASSWORD are set by run.sh");
  // The registration sends a welcome mail: something must listen where the server sends it.
  mailbox = await startMailbox();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await mailbox?.close();
});

// --- keyboard ---------------------------------------------------------------------------------

/** What has the focus, and whether it can be seen: a 2 px outline or a box shadow, on screen. */
function focused(p, selector) {
  return p.evaluate((sel) => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return {
      match: sel ? el.matches(sel) : false,
      desc: el.outerHTML.replace(/\s+/g, " ").slice(0, 140),
      shown: r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && r.left < innerWidth,
      ring: (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2) || cs.boxShadow !== "none",
    };
  }, selector);
}

/**
 * Presses Tab (Shift+Tab with `back`) until the focus is on `selector`; every element focused on
 * the way must show its focus.
 */
async function tabTo(p, selector, { back = false, max = 60 } = {}) {
  const seen = [];
  for (let i = 0; i < max; i++) {
    await p.keyboard.press(back ? "Shift+Tab" : "Tab");
    const f = await focused(p, selector);
    if (!f) continue;
    seen.push(f.desc);
    assert.ok(f.shown && f.ring, `${path(p)}: the focus is not visible on ${f.desc}`);
    if (f.match) return;
  }
  assert.fail(`${path(p)}: ${selector} not reached with ${max} presses of ${back ? "Shift+Tab" : "Tab"}; ` +
    `focused on the way: ${seen.slice(-8).join(" → ")}`);
}

/** Presses `key` and waits for the page it leads to. */
async function pressAndLoad(p, key = "Enter") {
  await Promise.all([p.waitForEvent("load"), p.keyboard.press(key)]);
}

// --- axe --------------------------------------------------------------------------------------

/** Waits for what scripts add to the page (map markers, the chart) so that axe sees it too. */
async function settle(p) {
  await p.waitForLoadState("load");
  if (await p.locator("#map").count()) await p.waitForSelector("#map[data-markers]", { timeout: 15_000 });
  if (await p.locator("#chart").count()) await p.waitForSelector("#chart[data-points]", { timeout: 15_000 });
  if (await p.locator("#route-map").count()) await p.waitForSelector("#route-map[data-drawn]", { timeout: 15_000 });
  if (await p.locator("form.route-form").count() && !(await p.locator("#route-map").count())) {
    await p.waitForSelector("#pick-map.leaflet-container", { timeout: 15_000 });
  }
}

/**
 * A GPX track between two stations of `TOWN` selling `FUEL` (read from the API), for the route
 * page's answer: the server that run.sh starts plans no route itself, a GPX file needs no engine.
 */
async function townTrack() {
  const html = await (await fetch(`${BASE}/stations?q=${encodeURIComponent(TOWN)}&fuel=${FUEL}`)).text();
  const ids = [...new Set([...html.matchAll(/href="\/stations\/(\d+)"/g)].map((m) => m[1]))].slice(0, 2);
  const [a, b] = await Promise.all(ids.map(async (id) => (await fetch(`${BASE}/api/v1/stations/${id}`)).json()));
  const pts = [];
  for (let i = 0; i <= 40; i++) {
    const t = i / 40;
    pts.push(`<trkpt lat="${a.latitude + (b.latitude - a.latitude) * t}" lon="${a.longitude + (b.longitude - a.longitude) * t}"/>`);
  }
  return `<?xml version="1.0"?><gpx version="1.1" creator="e2e" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>${pts.join("")}</trkseg></trk></gpx>`;
}

/**
 * Map markers that overlap at a small zoom are the one target-size failure allowed, under WCAG
 * 2.5.8's "equivalent" exception: every marker's action (open the station, add it) is also a
 * button or link of 24 px or more in the list beside the map, the keyboard alternative.
 */
function excused(v, n) {
  return v.id === "target-size" && n.html.includes("leaflet-marker-icon");
}

/** One line per violation and node, for the report. */
function describeViolations(label, all) {
  const violations = all
    .map((v) => ({ ...v, nodes: v.nodes.filter((n) => !excused(v, n)) }))
    .filter((v) => v.nodes.length > 0);
  return violations.flatMap((v) => [
    `${label}: [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`,
    ...v.nodes.slice(0, 6).map((n) => `    ${n.target.join(" ")}: ${n.failureSummary.replace(/\s*\n\s*/g, " ")}`),
  ]);
}

/**
 * Rules whose result can change with the colour scheme or the width of the window (colours,
 * sizes and overlaps of targets, boxes that scroll). The others read the markup and ARIA, the
 * same at any width and in any scheme.
 */
const COLOUR_RULES = ["color-contrast", "link-in-text-block"];
const VISUAL_RULES = [...COLOUR_RULES, "target-size", "scrollable-region-focusable", "region"];

/**
 * axe on the page as it is, light and dark, at 360 px and 1280 px: the violations found, as
 * lines (empty when there is none). Every rule runs in light at 360 px, with target-size (WCAG 2.2,
 * off by default in axe, checked by Lighthouse: touch targets of 24 px at least); the rules that
 * depend on the width run again at 1280 px, those that depend on colours in dark at both widths
 * (running every rule in all four cases would triple the time for results that cannot differ).
 */
async function axeAll(p, label) {
  const found = [];
  for (const [scheme, vp, rules] of [["light", MOBILE, null], ["light", DESKTOP, VISUAL_RULES], ["dark", DESKTOP, COLOUR_RULES], ["dark", MOBILE, COLOUR_RULES]]) {
    await p.emulateMedia({ colorScheme: scheme });
    await p.setViewportSize(vp);
    const axe = new AxeBuilder({ page: p }).setLegacyMode(true).options({ resultTypes: ["violations"], rules: { "target-size": { enabled: true } } });
    const r = await (rules ? axe.withRules(rules) : axe).analyze();
    found.push(...describeViolations(`${label} (${scheme}, ${vp.width} px)`, r.violations));
  }
  await p.emulateMedia({ colorScheme: "light" });
  return found;
}

function assertClean(found) {
  assert.equal(found.length, 0, `axe found violations:\n${found.join("\n")}`);
}

async function setLang(p, lang) {
  await p.context().addCookies([{ name: "lang", value: lang, url: BASE }]);
}

async function login(p, user, password) {
  await p.goto(BASE + "/login");
  await p.locator("#login").fill(user);
  await p.locator("#password").fill(password);
  await submit(p.locator('form[action="/login"] button[type="submit"]'));
  assert.ok(await p.locator('[data-testid="logout"]').isVisible(), `logged in as ${user} (at ${path(p)})`);
}

describe("accessibility", () => {
  let stationId = null;
  /** The keyboard user's page, from one step to the next. */
  let kbd = null;

  step("keyboard only: registers, through the error summary", async () => {
    const p = await newPage();
    await p.goto(BASE + "/");
    // The first Tab shows the skip link; Enter moves the focus to the content.
    await tabTo(p, "a.skip", { max: 1 });
    await p.keyboard.press("Enter");
    assert.equal(await p.evaluate(() => document.activeElement.id), "main", "the skip link leads to <main>");
    // Back up into the header's menu: log in, then "create an account".
    await tabTo(p, 'header a[href="/login"]', { back: true });
    await pressAndLoad(p);
    assert.equal(path(p), "/login");
    await tabTo(p, 'main a[href="/register"]');
    await pressAndLoad(p);
    assert.equal(path(p), "/register");
    await tabTo(p, "#username");
    await p.keyboard.type(USERNAME);
    await tabTo(p, "#display_name");
    await p.keyboard.type("Claude Clavier");
    await tabTo(p, "#email");
    await p.keyboard.type(EMAIL);
    await tabTo(p, "#password");
    await p.keyboard.type(PASSWORD);
    await tabTo(p, "#confirm");
    await p.keyboard.type(PASSWORD + "x");
    await tabTo(p, 'form[action="/register"] button[type="submit"]');
    await pressAndLoad(p);
    // Refused: the summary on top has the focus and links to the field.
    const summary = await focused(p, '[data-testid="form-errors"]');
    assert.ok(summary?.match, `the error summary has the focus (focus on ${summary?.desc})`);
    assert.match(await p.locator("#confirm").getAttribute("aria-describedby"), /confirm-err/);
    const axeFound = await axeAll(p, "FR /register with errors");
    await tabTo(p, '[data-testid="form-errors"] a[href="#confirm"]');
    await p.keyboard.press("Enter");
    assert.equal(await p.evaluate(() => document.activeElement.id), "confirm", "the summary's link focuses the field");
    await tabTo(p, "#password", { back: true });
    await p.keyboard.type(PASSWORD);
    await tabTo(p, "#confirm");
    await p.keyboard.type(PASSWORD);
    await tabTo(p, `input[name="fuel"][value="${FUEL}"]`);
    if (!(await p.locator(`input[name="fuel"][value="${FUEL}"]`).isChecked())) await p.keyboard.press("Space");
    await tabTo(p, 'form[action="/register"] button[type="submit"]');
    await pressAndLoad(p);
    assert.match(path(p), /^\/me\/stations/, "registered, on /me/stations");
    kbd = p;
    assertClean(axeFound);
  });

  step("keyboard only: adds a station from the list, skipping the map", async () => {
    const p = kbd;
    // The link over the map leads to the list under it.
    await tabTo(p, "a.skip-map");
    await p.keyboard.press("Enter");
    assert.equal(await p.evaluate(() => document.activeElement.id), "candidates", "the list has the focus");
    await tabTo(p, "button[data-add]");
    stationId = await p.evaluate(() => document.activeElement.dataset.add);
    await pressAndLoad(p);
    await p.locator(`[data-testid="my-stations"] li[data-station="${stationId}"]`).waitFor();
  });

  step("keyboard only: renames it and logs out", async () => {
    const p = kbd;
    await tabTo(p, `#name-${stationId}`);
    await p.keyboard.type(OWN_NAME);
    await pressAndLoad(p);
    assert.equal((await p.locator(`li[data-station="${stationId}"] strong`).first().textContent()).trim(), OWN_NAME);
    await tabTo(p, '[data-testid="logout"]');
    await pressAndLoad(p);
    assert.ok(await p.locator('[data-testid="nav-login"]').isVisible(), "logged out");
    await p.context().close();
  });

  // axe, page by page, in both languages.
  const anon = {};
  const user = {};
  const admin = {};
  let runHref = null;
  let userHref = null;

  step("opens a visitor's, the keyboard user's and the admin's browsers", async () => {
    anon.p = await newPage();
    user.p = await newPage();
    await login(user.p, USERNAME, PASSWORD);
    admin.p = await newPage();
    await login(admin.p, ADMIN_USER, ADMIN_PASSWORD);
    await admin.p.goto(BASE + "/admin/etl");
    runHref = await admin.p.locator('[data-testid="runs"] tbody a').first().getAttribute("href");
    await admin.p.goto(`${BASE}/admin/users?q=${USERNAME}`);
    userHref = await admin.p.locator(`[data-testid="users"] a:text("${USERNAME}")`).getAttribute("href");
    await anon.p.goto(`${BASE}/stations?q=${TOWN}&fuel=${FUEL}`);
    stationId ??= (await anon.p.locator('[data-testid="results"] a').first().getAttribute("href")).split("/").pop();
  });

  /** Pages reached by URL (or by a function, for URLs found on the way), and by whom. */
  const pages = [
    [anon, "/"],
    [anon, `/?q=${TOWN}&fuel=${FUEL}`],
    [anon, `/stations?q=${TOWN}&fuel=${FUEL}`],
    [anon, "/stations/{id}", () => `/stations/${stationId}`],
    [anon, "/demo"],
    [anon, "/tendances"],
    [anon, "/trajet"],
    [anon, "/about"],
    [anon, "/api"],
    [anon, "/register"],
    [anon, "/login"],
    [anon, "/forgot-password"],
    [anon, "/forgot-username"],
    [anon, "/reset-password"],
    [anon, "/no-such-page"],
    [user, "/me"],
    [user, "/me/stations"],
    [user, `/me/stations?q=${TOWN}`],
    [user, "/me/profile"],
    [admin, "/admin"],
    [admin, "/admin/etl"],
    [admin, "/admin/etl/runs/{id}", () => runHref],
    [admin, "/admin/users"],
    [admin, "/admin/users/{id}", () => userHref],
    [admin, "/admin/backups"],
  ];

  /** Forms sent with errors, or sent: the page that answers. */
  const states = [
    ["/trajet with a GPX track", anon, "/trajet", async (p) => {
      await p.locator("#fuel").selectOption(FUEL);
      await p.locator("#gpx").setInputFiles({ name: "trajet.gpx", mimeType: "application/gpx+xml", buffer: Buffer.from(await townTrack()) });
      await submit(p.locator('[data-testid="route-submit"]'));
      await p.locator('[data-testid="route-summary"]').waitFor();
      await settle(p);
    }],
    ["/trajet with a file that is not GPX", anon, "/trajet", async (p) => {
      await p.locator("#gpx").setInputFiles({ name: "notes.gpx", mimeType: "application/gpx+xml", buffer: Buffer.from("<kml/>") });
      await submit(p.locator('[data-testid="route-submit"]'));
      await p.locator('[data-testid="route-error"]').waitFor();
      await settle(p);
    }],
    ["/login refused", anon, "/login", async (p) => {
      await p.locator("#login").fill(`nobody_${stamp}`);
      await p.locator("#password").fill("not-the-password");
      await submit(p.locator('form[action="/login"] button[type="submit"]'));
    }],
    ["/forgot-password sent", anon, "/forgot-password", async (p) => {
      await p.locator("#email").fill(`nobody.${stamp}@example.org`);
      await submit(p.locator('form[action="/forgot-password"] button[type="submit"]'));
    }],
    ["/reset-password refused", anon, "/reset-password", async (p) => {
      await p.locator("#login").fill(USERNAME);
      await p.locator("#code").fill("AAAA-BBBB-CCCC");
      await p.locator("#password").fill(PASSWORD + "!");
      await p.locator("#confirm").fill(PASSWORD + "!");
      await submit(p.locator('form[action="/reset-password"] button[type="submit"]'));
      await p.locator('[data-testid="form-errors"], [data-testid="message"]').first().waitFor();
    }],
    ["/me/profile refused", user, "/me/profile", async (p) => {
      await p.locator("#display_name").fill("");
      await p.locator("#litres").fill("0");
      await p.locator("#display_name").evaluate((el) => el.removeAttribute("required"));
      await p.locator("#litres").evaluate((el) => el.removeAttribute("min"));
      await submit(p.locator('form[action="/me/profile"] button[type="submit"]'));
      await p.locator('[data-testid="form-errors"]').waitFor();
    }],
  ];

  for (const lang of ["fr", "en"]) {
    for (const [who, shown, url] of pages) {
      it(`axe: ${lang.toUpperCase()} ${shown}`, { timeout: 60_000 }, async (t) => {
        const p = who.p;
        if (!p) return t.skip("no browser: an earlier step failed");
        await setLang(p, lang);
        const to = url ? url() : shown;
        const resp = await p.goto(BASE + to);
        assert.ok(resp.status() === 200 || (to === "/no-such-page" && resp.status() === 404), `${to}: ${resp.status()}`);
        assert.equal(await p.locator("html").getAttribute("lang"), to === "/api" ? "en" : lang);
        await settle(p);
        assertClean(await axeAll(p, `${lang.toUpperCase()} ${to}`));
      });
    }
    for (const [label, who, url, act] of states) {
      it(`axe: ${lang.toUpperCase()} ${label}`, { timeout: 60_000 }, async (t) => {
        const p = who.p;
        if (!p) return t.skip("no browser: an earlier step failed");
        await setLang(p, lang);
        await p.goto(BASE + url);
        await act(p);
        assertClean(await axeAll(p, `${lang.toUpperCase()} ${label}`));
      });
    }
  }

  it("zoom 200 % and text spacing (WCAG 1.4.12) make no page scroll sideways", { timeout: 60_000 }, async () => {
    const context = await browser.newContext({ viewport: ZOOMED, bypassCSP: true, deviceScaleFactor: 1 });
    await context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
    const p = await context.newPage();
    const urls = ["/", `/?q=${TOWN}&fuel=${FUEL}`, `/stations?q=${TOWN}&fuel=${FUEL}`, `/stations/${stationId}`, "/demo",
      "/tendances", "/trajet", "/about", "/api", "/register", "/login", "/reset-password", "/no-such-page"];
    for (const url of urls) {
      await p.setViewportSize(ZOOMED);
      await p.goto(BASE + url);
      await noHorizontalScroll(p);
      await p.addStyleTag({ content: TEXT_SPACING });
      await noHorizontalScroll(p);
      await p.setViewportSize(MOBILE);
      await noHorizontalScroll(p);
    }
    await context.close();
  });

  it("breaks no Content-Security-Policy rule and throws no script error", async () => {
    for (const who of [anon, user, admin]) await who.p?.context().close();
    assert.deepEqual(problems, []);
  });
});
