// Browser tests of the public site: Debian's Chromium, headless, driven by playwright-core
// against the real binary that run.sh started (BASE_URL). No browser download.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  BASE, DESKTOP, MOBILE, REAL, SHOTS, launchBrowser, newPage as openPage, noHorizontalScroll, parsePrice,
} from "../lib/harness.mjs";

// A town and a fuel with several stations in the dataset.
const TOWN = REAL ? "Lyon" : "Paris";
const FUEL = REAL ? "E10" : "Gazole";
const OTHER_FUEL = REAL ? "Gazole" : "SP95";

let browser;
/** Messages of the browser console that reveal a bug: CSP violations, script errors. */
const problems = [];
const newPage = (viewport, locale) => openPage(browser, problems, viewport, locale);

before(async () => {
  assert.ok(BASE, "BASE_URL is set by run.sh");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

describe("public site", () => {
  let stationUrl = null;

  it("searches a town and lists the cheapest first", async () => {
    const page = await newPage();
    await page.goto(BASE + "/");
    await page.getByLabel(/Ville, code postal|Town, postcode/).fill(TOWN);
    await page.locator("#fuel").selectOption(FUEL);
    const t0 = Date.now();
    await Promise.all([page.waitForURL(/\?q=/), page.getByRole("button", { name: "Chercher" }).click()]);
    const prices = await page.locator('[data-testid="results"] [data-testid="price"]').allTextContents();
    assert.ok(prices.length >= (REAL ? 3 : 2), `results: ${prices}`);
    const values = prices.map(parsePrice);
    assert.deepEqual(values, [...values].sort((a, b) => a - b), "sorted by price");
    assert.ok(Date.now() - t0 < 10_000, "results in under ten seconds");
    stationUrl = await page.locator('[data-testid="results"] a').first().getAttribute("href");
    await page.context().close();
  });

  it("shows markers on the map (blank local tiles)", async () => {
    const page = await newPage(DESKTOP);
    await page.goto(`${BASE}/stations?q=${encodeURIComponent(TOWN)}&fuel=${FUEL}`);
    await page.waitForSelector("#map[data-markers]", { timeout: 15_000 });
    const n = Number(await page.locator("#map").getAttribute("data-markers"));
    assert.ok(n > 0, "the API gave markers");
    assert.ok((await page.locator("#map .leaflet-marker-icon").count()) > 0, "markers or clusters drawn");
    assert.ok((await page.locator('[data-testid="results"] li').count()) > 0, "list beside the map");
    await page.context().close();
  });

  it("filters by fuel", async () => {
    const page = await newPage();
    await page.goto(`${BASE}/stations?q=${encodeURIComponent(TOWN)}&fuel=${FUEL}`);
    await Promise.all([page.waitForURL(new RegExp(`fuel=${OTHER_FUEL}`)), page.locator("#fuel").selectOption(OTHER_FUEL)]);
    assert.equal(await page.locator("#map").getAttribute("data-fuel"), OTHER_FUEL);
    assert.match(await page.locator("h2 .badge").first().textContent(), new RegExp(OTHER_FUEL));
    await page.context().close();
  });

  it("opens a station and draws its price chart", async () => {
    assert.ok(stationUrl, "a station was found by the search");
    const page = await newPage(DESKTOP);
    await page.goto(BASE + stationUrl);
    await page.waitForSelector("#chart canvas", { timeout: 15_000 });
    assert.ok(Number(await page.locator("#chart").getAttribute("data-points")) >= 1, "history points");
    // The range links reload the page with the chart of that period.
    await Promise.all([page.waitForURL(/range=1y/), page.locator('[data-testid="chart-ranges"] a[data-range="1y"]').click()]);
    await page.waitForSelector('#chart[data-range="1y"] canvas');
    assert.equal(await page.locator('[data-testid="chart-ranges"] [aria-current="true"]').getAttribute("data-range"), "1y");
    assert.match(await page.locator('[data-testid="chart-summary"]').textContent(), /au plus bas|Pas d’historique/);
    assert.ok((await page.locator('[data-testid="prices"] tbody tr').count()) >= 1);
    await page.context().close();
  });

  it("switches the chart's range without JavaScript (server-drawn chart)", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: MOBILE });
    const page = await context.newPage();
    await page.goto(BASE + stationUrl);
    assert.equal(await page.locator('[data-testid="station-chart-svg"]').count(), 1, "an SVG chart without scripts");
    await Promise.all([page.waitForURL(/range=all/), page.locator('[data-testid="chart-ranges"] a[data-range="all"]').click()]);
    assert.equal(await page.locator("#chart").getAttribute("data-range"), "all");
    assert.equal(await page.locator('[data-testid="station-chart-svg"]').count(), 1);
    await context.close();
  });

  it("shows the trends: the chart, its table and the départements", async () => {
    const page = await newPage();
    await page.goto(BASE + "/tendances");
    assert.match(await page.locator('[data-testid="average-definition"]').textContent(), /fin de la journée/);
    await page.waitForSelector("#trend-chart canvas", { timeout: 15_000 });
    // The band runs from the 10th to the 90th percentile, the API's p10 and p90 of the same days.
    assert.match(await page.locator(".legend").textContent(), /10\u202f%–90\u202f% des stations/);
    const chart = JSON.parse(await page.locator("#trend-data").textContent());
    assert.deepEqual(chart.band, [1, 2]);
    const api = await (await page.request.get(BASE + "/api/v1/trends?fuel=Gazole&from=2000-01-01")).json();
    const byDay = new Map(api.points.map((p) => [p.at, p]));
    let checked = 0;
    chart.x.forEach((t, i) => {
      const p = byDay.get(new Date((t + 7200) * 1000).toISOString().slice(0, 10));
      if (!p || chart.series[1].values[i] === null) return;
      assert.deepEqual([chart.series[1].values[i], chart.series[2].values[i]], [p.p10, p.p90]);
      assert.ok(p.min <= p.p10 && p.p10 <= p.p90 && p.p90 <= p.max, JSON.stringify(p));
      checked += 1;
    });
    assert.ok(checked >= 1, "the chart's days are the API's");
    await page.locator(".table-fallback summary").click();
    assert.ok((await page.locator('[data-testid="trend-table"] tbody tr').count()) >= 1, "the table beside the chart");
    const depts = page.locator('[data-testid="dept-table"] tbody tr');
    assert.ok((await depts.count()) >= 1, "départements");
    await Promise.all([page.waitForURL(/dept=/), depts.first().locator("a").click()]);
    assert.match(await page.locator('[data-testid="series-title"]').textContent(), /Département/);
    await page.waitForSelector("#trend-chart canvas");
    await noHorizontalScroll(page);
    await page.context().close();
  });

  it("adds a station to the demo dashboard, remembered in the browser", async () => {
    const page = await newPage();
    // Around Paris the fixtures have only two stations, both shown by default (nothing left to
    // add): start there from one of them.
    await page.goto(BASE + (REAL ? "/demo" : "/demo?ids=75013008"));
    const rows = page.locator('[data-testid="dashboard"] tbody tr');
    const before = await rows.count();
    assert.ok(before >= 1, "default stations");
    const add = page.locator('a[data-add]').first();
    const id = await add.getAttribute("data-add");
    await Promise.all([page.waitForURL(/ids=/), add.click()]);
    await page.waitForSelector(`[data-testid="dashboard"] tr[data-id="${id}"]`);
    assert.equal(await rows.count(), before + 1);
    // Back to /demo: the saved list comes back.
    await page.goto(BASE + "/demo");
    await page.waitForURL(/ids=/);
    await page.waitForSelector(`[data-testid="dashboard"] tr[data-id="${id}"]`);
    await page.context().close();
  });

  it("switches language and remembers it", async () => {
    const page = await newPage();
    await page.goto(BASE + "/about");
    assert.equal(await page.locator("html").getAttribute("lang"), "fr");
    await Promise.all([page.waitForURL(/\/about$/), page.locator('[data-testid="lang-switch"]').click()]);
    assert.equal(await page.locator("html").getAttribute("lang"), "en");
    assert.equal(await page.locator("h1").textContent(), "About Carburoam");
    await page.goto(BASE + "/");
    assert.ok(await page.getByRole("button", { name: "Search" }).isVisible());
    await page.context().close();
  });

  it("fits a 360 px screen and takes screenshots of every page", async () => {
    const paths = {
      home: "/",
      search: `/?q=${encodeURIComponent(TOWN)}&fuel=${FUEL}`,
      stations: `/stations?q=${encodeURIComponent(TOWN)}&fuel=${FUEL}`,
      station: stationUrl || "/stations/1",
      demo: "/demo",
      about: "/about",
      notfound: "/no-such-page",
    };
    for (const [name, viewport] of [["mobile", MOBILE], ["desktop", DESKTOP]]) {
      const page = await newPage(viewport);
      for (const [key, path] of Object.entries(paths)) {
        await page.goto(BASE + path);
        await page.waitForLoadState("networkidle").catch(() => {});
        if (name === "mobile") await noHorizontalScroll(page);
        await page.screenshot({ path: `${SHOTS}${key}-${name}.png`, fullPage: true });
      }
      await page.context().close();
    }
  });

  it("breaks no Content-Security-Policy rule and throws no script error", () => {
    assert.deepEqual(problems, []);
  });
});
