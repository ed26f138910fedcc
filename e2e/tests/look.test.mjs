// What the pages say and look like, in Debian's Chromium against the real binary
// that run.sh started (BASE_URL):
// - the freshness banner: the data loaded by run.sh is a file of months ago, so every page says
//   since when the official feed has not changed, with the feed's date, in both languages;
// - the trends page in French and English: départements by number and name, the chart's legend
//   and cursor in the page's language (uPlot's default says "Time");
// - every radio and checkbox of /me/alerts and /tendances sits beside its label (a text-input
//   style once stretched them into large circles with the label pushed right);
// - no table cell of /me, /stations or /tendances lies outside a 360 px window;
// - axe in the dark scheme on a dense list with its map (cluster counts once gave 1.34:1).
//
// Logs in once as run.sh's admin (no registration: those are rate-limited per address).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import AxeBuilder from "@axe-core/playwright";
import { BASE, DESKTOP, MOBILE, REAL, launchBrowser, newPage as openPage, submit } from "../lib/harness.mjs";

const ADMIN_USER = process.env.ADMIN_USER;
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
const TOWN = REAL ? "Lyon" : "Paris";
const FUEL = REAL ? "E10" : "Gazole";

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
  assert.deepEqual(problems, [], "no CSP violation nor script error");
});

async function setLang(p, lang) {
  await p.context().addCookies([{ name: "lang", value: lang, url: BASE }]);
}

/** Table cells of `main` (the visually hidden ones aside) that stick out of the window. */
function cellsOutside(p) {
  return p.evaluate(() => {
    for (const d of document.querySelectorAll("main details")) d.open = true;
    const out = [];
    for (const c of document.querySelectorAll("main td, main th")) {
      const r = c.getBoundingClientRect();
      if (r.width <= 1 || r.height <= 1) continue;
      if (r.left < -0.5 || r.right > innerWidth + 0.5) {
        out.push(`${c.tagName} "${c.textContent.trim().slice(0, 40)}" at ${Math.round(r.left)}–${Math.round(r.right)} px`);
      }
    }
    return out;
  });
}

/**
 * Every radio and checkbox inside a label: the box at the label's start, its text right after it
 * on the same line, the box no wider than a box.
 */
function boxesBesideLabels(p) {
  return p.evaluate(() => {
    const bad = [];
    let n = 0;
    for (const input of document.querySelectorAll('main label input[type="radio"], main label input[type="checkbox"]')) {
      const label = input.closest("label");
      const text = [...label.childNodes].find((c) => c.nodeType === 3 && c.textContent.trim());
      if (!text || input.offsetParent === null) continue;
      n++;
      const range = document.createRange();
      range.selectNodeContents(text);
      // The first line starts right after the box; the box's middle is within the text's lines.
      const t = [...range.getClientRects()][0];
      const all = range.getBoundingClientRect();
      const b = input.getBoundingClientRect();
      const middle = b.top + b.height / 2;
      const gap = t.left - b.right;
      if (b.width > 32 || gap < 0 || gap > 24 || middle < all.top || middle > all.bottom) {
        bad.push(`${input.name}=${input.value}: box ${Math.round(b.left)}–${Math.round(b.right)} × ${Math.round(b.top)}–${Math.round(b.bottom)}, ` +
          `text "${text.textContent.trim().slice(0, 30)}" at ${Math.round(t.left)} × ${Math.round(t.top)}–${Math.round(t.bottom)}`);
      }
    }
    return { n, bad };
  });
}

/** Contrast ratios under 4.5:1 of the map's cluster counts, as "count: ratio" lines. */
function clusterContrasts(p) {
  return p.evaluate(() => {
    const rgba = (s) => { const m = s.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
    const over = (top, under) => ({ r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a), b: top.b * top.a + under.b * (1 - top.a), a: 1 });
    const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
    const out = [];
    const clusters = [...document.querySelectorAll("#map .marker-cluster")];
    for (const outer of clusters) {
      const inner = outer.querySelector("div");
      const bg = over(rgba(getComputedStyle(inner).backgroundColor), over(rgba(getComputedStyle(outer).backgroundColor), { r: 0xe8, g: 0xe6, b: 0xe1, a: 1 }));
      const fg = over(rgba(getComputedStyle(inner).color), bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      if (ratio < 4.5) out.push(`${inner.textContent.trim()}: ${ratio.toFixed(2)}`);
    }
    return out.length ? out : clusters.length ? [] : ["no cluster drawn"];
  });
}

describe("what the pages say and look like", () => {
  it("shows the feed's date and the banner on every page, in both languages", async () => {
    const p = await newPage(MOBILE);
    for (const [lang, words] of [["fr", "Le flux officiel n’a pas changé depuis le"], ["en", "The official feed has not changed since"]]) {
      await setLang(p, lang);
      for (const url of ["/", `/stations?q=${TOWN}&fuel=${FUEL}`, lang === "fr" ? "/tendances" : "/trends", "/about"]) {
        await p.goto(BASE + url);
        const banner = p.locator('[data-testid="stale-banner"]');
        assert.ok(await banner.isVisible(), `${lang} ${url}: the banner shows (the data is months old)`);
        const text = await banner.textContent();
        const when = await p.locator('[data-testid="freshness"] time').textContent();
        assert.ok(text.includes(words) && text.includes(when.trim()), `${lang} ${url}: "${text}" names the feed's date "${when}"`);
        const iso = await p.locator('[data-testid="freshness"] time').getAttribute("datetime");
        assert.ok(Date.now() - Date.parse(iso) > 3600_000, `${url}: the header's time ${iso} is the feed's, over an hour old`);
        const box = await banner.boundingBox();
        assert.ok(box.x >= 0 && box.x + box.width <= MOBILE.width + 0.5, `${url}: the banner fits the phone`);
      }
    }
    await p.context().close();
  });

  for (const [lang, path, title] of [["fr", "/tendances", "Tendances des prix"], ["en", "/trends", "Price trends"]]) {
    it(`draws the trends page in ${lang === "fr" ? "French" : "English"}`, async () => {
      const p = await newPage(DESKTOP);
      await setLang(p, lang);
      await p.goto(`${BASE}${path}?fuel=${FUEL}&period=1m`);
      assert.equal((await p.locator("h1").textContent()).trim(), title);
      await p.waitForSelector("#trend-chart[data-points]", { timeout: 15_000 });
      const legend = (await p.locator("#trend-chart .u-legend").textContent()) ?? "";
      assert.ok(legend.includes("Date") && !legend.includes("Time"), `legend in the page's language: "${legend}"`);
      // The cursor's value of the x series: a day in the page's language.
      const box = await p.locator("#trend-chart .u-over").boundingBox();
      await p.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      const x = (await p.locator("#trend-chart .u-legend .u-series").first().textContent()) ?? "";
      const months = lang === "fr" ? /janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc/ : /Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec/;
      assert.match(x, months, `cursor's day "${x}"`);
      // Départements by number and name, in the table, the selector and the cheapest line.
      const names = await p.locator('[data-testid="dept-table"] tbody th a').allTextContents();
      assert.ok(names.length > 0, "a département table");
      for (const n of names) assert.match(n, /^(\d\d|2[AB]|97\d) \p{L}/u, `"${n}" has a number and a name`);
      const options = await p.locator("#trend-area option").allTextContents();
      assert.ok(options.slice(1).every((o) => /^(\d\d|2[AB]|97\d) \p{L}/u.test(o)), `selector: ${options.slice(0, 4)}`);
      assert.match(await p.locator('[data-testid="cheapest-dept"]').textContent(), /(\d\d|2[AB]|97\d) \p{L}/u);
      await p.context().close();
    });
  }

  it("puts every radio and checkbox beside its label, on a phone and a desktop", async () => {
    const p = await newPage(MOBILE);
    await p.goto(BASE + "/login");
    await p.locator("#login").fill(ADMIN_USER);
    await p.locator("#password").fill(ADMIN_PASSWORD);
    await submit(p.locator('form[action="/login"] button[type="submit"]'), /\/(me|admin)/);
    for (const vp of [MOBILE, DESKTOP]) {
      await p.setViewportSize(vp);
      for (const url of ["/me/alerts", `/tendances?fuel=${FUEL}`]) {
        await p.goto(BASE + url);
        const { n, bad } = await boxesBesideLabels(p);
        assert.ok(n >= (url === "/me/alerts" ? 3 : 4), `${url}: ${n} boxes checked`);
        assert.deepEqual(bad, [], `${url} at ${vp.width} px`);
      }
    }
    // Without scripts every kind's fields show under their kind; with them, the chosen kind's.
    await p.goto(BASE + "/me/alerts");
    const form = p.locator('[data-testid="rule-form"]');
    await form.locator('input[name="kind"][value="digest"]').check();
    assert.ok(await form.locator("#weekday").isVisible(), "the digest's fields show");
    assert.ok(!(await form.locator("#price").isVisible()), "the threshold's fields hide");
    await form.locator('input[name="kind"][value="threshold"]').check();
    assert.ok(await form.locator("#price").isVisible() && !(await form.locator("#weekday").isVisible()));

    // /me with stations: follow two around the town when there is no table yet.
    await p.setViewportSize(MOBILE);
    await p.goto(BASE + "/me");
    if ((await p.locator("table.dashboard tbody tr").count()) < 2) {
      await p.goto(`${BASE}/me/stations?q=${TOWN}`);
      for (let i = 0; i < 2; i++) {
        const add = p.locator("ul[data-testid=candidates] li button[data-add]").first();
        if (await add.count()) await submit(add, /msg=added/);
      }
      await p.goto(BASE + "/me");
    }
    assert.ok((await p.locator("table.dashboard tbody tr").count()) >= 1, "/me has a station table");
    for (const url of ["/me", `/stations?q=${TOWN}&fuel=${FUEL}`, `/tendances?fuel=${FUEL}&period=1m`, `/trends?fuel=${FUEL}&period=1y`]) {
      await p.goto(BASE + url);
      assert.deepEqual(await cellsOutside(p), [], `${url}: every table cell inside 360 px`);
    }
    // On the phone a station of /me reads as one block: its name, then price, change and age.
    const row = p.locator("table.dashboard tbody tr").first();
    await p.goto(BASE + "/me");
    const [name, price, age] = await Promise.all([
      row.locator("th").boundingBox(), row.locator("td").first().boundingBox(), row.locator("td").last().boundingBox(),
    ]);
    assert.ok(price.y >= name.y + name.height - 1 && age.y < price.y + price.height, "name above, price and age on one line");
    await p.context().close();
  });

  it("passes axe in the dark scheme on a dense list with its map", { timeout: 120_000 }, async () => {
    const p = await newPage(DESKTOP, "en-GB");
    await p.emulateMedia({ colorScheme: "dark" });
    for (const lang of ["en", "fr"]) {
      await setLang(p, lang);
      for (const vp of [DESKTOP, MOBILE]) {
        await p.setViewportSize(vp);
        await p.goto(`${BASE}/stations?lat=48.85&lon=2.35&fuel=${REAL ? "E10" : "Gazole"}&radius_km=30`);
        await p.waitForSelector("#map[data-markers]", { timeout: 15_000 });
        await p.waitForTimeout(400);
        // axe leaves text over the map's tiles "incomplete": the cluster counts are measured here,
        // their colours blended over the blank tiles run.sh serves (#e8e6e1).
        const low = await clusterContrasts(p);
        assert.deepEqual(low, [], `cluster counts under 4.5:1 (dark, ${lang}, ${vp.width} px)`);
        const r = await new AxeBuilder({ page: p }).setLegacyMode(true).options({ resultTypes: ["violations"] }).analyze();
        const lines = r.violations.flatMap((v) => [`[${v.impact}] ${v.id}: ${v.help}`, ...v.nodes.slice(0, 4).map((n) => `    ${n.target.join(" ")}`)]);
        assert.deepEqual(lines, [], `axe, dark, ${lang}, ${vp.width} px`);
      }
    }
    await p.context().close();
  });
});
