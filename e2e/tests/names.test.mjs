// Station names from OpenStreetMap, at 360 px: run.sh imported the shared CSV of
// names (départements 01–49; the repository's fixture without ../shared/data). Brands in the
// list with their badge, a map popup, the station page, the dashboard; the brand filter; a
// search for "leclerc" and a town. axe checks the pages with names (badge contrast, labels).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import AxeBuilder from "@axe-core/playwright";
import { BASE, MOBILE, REAL, SHOTS, launchBrowser, newPage as openPage, noHorizontalScroll, submit } from "../lib/harness.mjs";

// A town of the names file with branded stations, and a Leclerc town.
const TOWN = REAL ? "Rennes" : "Sceaux";
const FUEL = REAL ? "E10" : "Gazole";
const LECLERC = REAL ? "leclerc rennes" : "leclerc le cannet";

let browser;
const problems = [];
const newPage = () => openPage(browser, problems, MOBILE);

async function axe(page, what) {
  const r = await new AxeBuilder({ page }).options({ resultTypes: ["violations"] }).analyze();
  assert.deepEqual(r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(" ")}`), [], `axe on ${what}`);
}

before(async () => {
  assert.ok(BASE, "BASE_URL is set by run.sh");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  assert.deepEqual(problems, [], "no console errors");
});

describe("station names", () => {
  let named = null;

  it("shows brands with a badge in the list, and the attribution", async () => {
    const page = await newPage();
    await page.goto(`${BASE}/stations?q=${encodeURIComponent(TOWN)}&fuel=${FUEL}&radius_km=30`);
    const badges = page.locator('[data-testid="results"] [data-testid="brand-badge"]');
    assert.ok((await badges.count()) > 0, "brand badges in the list");
    const label = await badges.first().getAttribute("aria-label");
    assert.ok(label && label.length > 1, "the badge names the brand for screen readers");
    assert.ok(await page.getByRole("link", { name: /OpenStreetMap/ }).first().isVisible(), "attribution");
    named = await page.locator('[data-testid="results"] li:has([data-testid="station-name"]) a').first().getAttribute("href");
    await noHorizontalScroll(page);
    await page.screenshot({ path: `${SHOTS}names-list-360.png`, fullPage: true });
    await axe(page, "/stations with names");
    await page.context().close();
  });

  it("shows the name in a map popup", async () => {
    const page = await newPage();
    await page.goto(`${BASE}/stations?q=${encodeURIComponent(TOWN)}&fuel=${FUEL}`);
    await page.waitForSelector("#map[data-markers]", { timeout: 15_000 });
    const resp = await page.request.get(
      `${BASE}/api/v1/stations?lat=${await page.locator("#map").getAttribute("data-lat")}&lon=${await page.locator("#map").getAttribute("data-lon")}&fuel=${FUEL}&radius_km=30&limit=200&max_age_days=3650`,
    );
    const withName = (await resp.json()).stations.find((s) => s.name);
    assert.ok(withName, "the API gives names");
    // Close to that station, so that its own marker (not a cluster) is drawn.
    await page.goto(`${BASE}/stations?lat=${withName.latitude}&lon=${withName.longitude}&radius_km=1&fuel=${FUEL}`);
    await page.waitForSelector("#map[data-markers]", { timeout: 15_000 });
    const m = page.locator(`#map .leaflet-marker-icon[title^="${withName.name.replace(/"/g, '\\"')}"]`).first();
    await m.click();
    const popup = page.locator(".leaflet-popup-content");
    await popup.waitFor();
    assert.ok((await popup.textContent()).includes(withName.name), "the popup shows the name");
    assert.ok((await popup.textContent()).includes("OpenStreetMap"), "with the attribution");
    await page.screenshot({ path: `${SHOTS}names-popup-360.png` });
    await page.context().close();
  });

  it("titles the station page with its name", async () => {
    assert.ok(named, "a named station in the list");
    const page = await newPage();
    await page.goto(BASE + named);
    const name = (await page.locator('h1 [data-testid="station-name"]').textContent()).trim();
    assert.ok((await page.title()).startsWith(name), `title ${await page.title()} / name ${name}`);
    await page.screenshot({ path: `${SHOTS}names-station-360.png`, fullPage: true });
    await axe(page, "the station page");
    await page.context().close();
  });

  it("filters by brand with the select (a GET form)", async () => {
    const page = await newPage();
    await page.goto(`${BASE}/stations?q=${encodeURIComponent(TOWN)}&fuel=${FUEL}&radius_km=30`);
    const options = await page.locator("#brand option").allTextContents();
    assert.ok(options.length >= 2, `brands offered: ${options}`);
    const value = await page.locator("#brand option").nth(1).getAttribute("value");
    await Promise.all([page.waitForURL(/brand=/), page.locator("#brand").selectOption(value)]);
    const labels = await page.locator('[data-testid="results"] [data-testid="brand-badge"]').evaluateAll((b) => b.map((x) => x.getAttribute("aria-label")));
    const items = await page.locator('[data-testid="results"] li').count();
    assert.ok(items > 0 && labels.length === items && labels.every((l) => l === value), `only ${value}: ${labels}`);
    await page.screenshot({ path: `${SHOTS}names-filter-360.png`, fullPage: true });
    await page.context().close();
  });

  it("finds a Leclerc in a town", async () => {
    const page = await newPage();
    await page.goto(`${BASE}/stations?q=${encodeURIComponent(LECLERC)}&fuel=Gazole`);
    const names = await page.locator('[data-testid="results"] [data-testid="station-name"]').allTextContents();
    assert.ok(names.length > 0 && names.every((n) => /Leclerc/i.test(n)), `Leclercs: ${names}`);
    await page.screenshot({ path: `${SHOTS}names-search-360.png`, fullPage: true });
    await page.context().close();
  });

  it("shows the name on the dashboard", async () => {
    const page = await newPage();
    await page.goto(BASE + "/login");
    await page.locator("#login").fill(process.env.ADMIN_USER);
    await page.locator("#password").fill(process.env.ADMIN_PASSWORD);
    await submit(page.locator('form[action="/login"] button[type="submit"]'));
    const id = named.split("/").pop();
    const csrf = await page.locator('input[name="csrf"]').first().getAttribute("value");
    const r = await page.request.post(`${BASE}/me/stations/add`, { form: { csrf, station_id: id, back: "/me/stations" }, headers: { origin: BASE }, maxRedirects: 0 });
    assert.ok(r.status() < 400, `add answered ${r.status()}`);
    await page.goto(BASE + "/me");
    assert.ok((await page.locator('[data-testid="brand-badge"]').count()) > 0, "badge on the dashboard");
    await page.screenshot({ path: `${SHOTS}names-dashboard-360.png`, fullPage: true });
    await axe(page, "the dashboard");
    await page.context().close();
  });
});
