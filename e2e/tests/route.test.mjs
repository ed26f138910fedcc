// The route search in a real browser (Debian's Chromium driven by playwright-core)
// against the real binary:
// - a GPX track chosen in the page's form of the server run.sh started (which plans no route
//   itself: a GPX file needs no engine): the best stop sentence, the list, the route line on the
//   map;
// - a trip planned by labels (place names of the loaded data) on a second server of the same
//   binary, started here on a consistent copy of the database (`carburoam backup`) with
//   `--router osrm` pointed at a local server answering in OSRM's documented format (a straight
//   line between the points, roads 1.2 times the straight line at 60 km/h in the matrix), so that
//   the test needs no network and gives the same answer each time: with scripts (the map), and
//   without (the form posts, the server answers with the list);
// - a signed-in user's vehicle filling the form, a route saved and shown on /me with its best
//   stop now, and deleted;
// - screenshots of the form, the answers and /me at 360 and 1280 px, light and dark.
import { describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import AxeBuilder from "@axe-core/playwright";
import {
  BASE, DESKTOP, MOBILE, REAL, SHOTS, launchBrowser, newPage as openPage, noHorizontalScroll, path, steps, submit,
} from "../lib/harness.mjs";

const FUEL = REAL ? "E10" : "Gazole";
/** Two places of the loaded data, a few to a few tens of km apart. */
const FROM = REAL ? "Lyon" : "Paris";
const TO = REAL ? "Vienne" : "Sceaux";
const stamp = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
const USERNAME = `e2e_route_${stamp}`;
const PASSWORD = `Rt${randomBytes(9).toString("base64url")}-7q`;

let browser;
const problems = [];
const newPage = (viewport, locale) => openPage(browser, problems, viewport, locale);

/** A page in a fresh context with scripts off. */
async function noScriptPage() {
  const context = await browser.newContext({ viewport: MOBILE, locale: "fr-FR", deviceScaleFactor: 1, javaScriptEnabled: false });
  await context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  const p = await context.newPage();
  p.setDefaultTimeout(10_000);
  return p;
}
const { step } = steps();
let tmp;
let osrm;
let osrmCalls = 0;
let second;
let SECOND = null;

// --- OSRM, as its documentation describes it ------------------------------------------------------

function haversineKm(a, b) {
  const r = 6371.0088;
  const rad = (d) => (d * Math.PI) / 180;
  const dLat = rad(b[1] - a[1]);
  const dLon = rad(b[0] - a[0]);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a[1])) * Math.cos(rad(b[1])) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(h));
}

/** `GET /route/v1/driving/{lon,lat;…}` and `GET /table/v1/driving/{…}?sources=…&destinations=…`. */
function startOsrm() {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      osrmCalls++;
      const u = new URL(req.url, "http://x");
      const m = u.pathname.match(/^\/(route|table)\/v1\/driving\/(.+)$/);
      const send = (code, body) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (!m) return send(404, { code: "InvalidUrl" });
      const pts = decodeURIComponent(m[2]).split(";").map((p) => p.split(",").map(Number));
      if (m[1] === "route") {
        const coords = [];
        for (let i = 0; i + 1 < pts.length; i++) {
          for (let k = 0; k < 40; k++) {
            const t = k / 40;
            coords.push([pts[i][0] + (pts[i + 1][0] - pts[i][0]) * t, pts[i][1] + (pts[i + 1][1] - pts[i][1]) * t]);
          }
        }
        coords.push(pts[pts.length - 1]);
        let km = 0;
        for (let i = 0; i + 1 < pts.length; i++) km += haversineKm(pts[i], pts[i + 1]);
        return send(200, { code: "Ok", waypoints: [], routes: [{ distance: km * 1000, duration: (km / 80) * 3600, weight: 1, legs: [], geometry: { type: "LineString", coordinates: coords } }] });
      }
      const idx = (k) => u.searchParams.get(k).split(";").map(Number);
      const src = idx("sources");
      const dst = idx("destinations");
      const cell = (a, b) => 1.2 * haversineKm(pts[a], pts[b]);
      return send(200, {
        code: "Ok", sources: [], destinations: [],
        distances: src.map((a) => dst.map((b) => cell(a, b) * 1000)),
        durations: src.map((a) => dst.map((b) => cell(a, b) * 60)),
      });
    });
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The same binary on a copy of the database, planning routes with the local OSRM. */
async function startSecondServer() {
  const bin = process.env.E2E_BIN;
  const db = process.env.E2E_DB;
  assert.ok(bin && db, "E2E_BIN and E2E_DB are set by run.sh");
  const copy = join(tmp, "route.db");
  execFileSync(bin, ["backup", "--database", db, copy], { stdio: "pipe" });
  const port = await freePort();
  const child = spawn(bin, [
    "serve", "--database", `sqlite://${copy}`, "--bind", `127.0.0.1:${port}`, "--etl-every", "off",
    "--backfill-days", "0", "--names-every", "off", "--router", "osrm",
    "--router-url", `http://127.0.0.1:${osrm.address().port}`,
  ], { env: { ...process.env, CARBUROAM_DATA_DIR: join(tmp, "data"), CARBUROAM_PUBLIC_URL: `http://127.0.0.1:${port}` }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { err += d; });
  for (let i = 0; i < 200; i++) {
    if (/^listening on http:\/\//m.test(out)) return { child, url: `http://127.0.0.1:${port}` };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`the second server did not start: ${err.slice(-2000)}`);
}

/** A GPX track of `n` points on the straight line from `a` to `b` ([lat, lon]). */
function gpxTrack(a, b, n = 60) {
  const pts = [];
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    pts.push(`<trkpt lat="${(a[0] + (b[0] - a[0]) * t).toFixed(6)}" lon="${(a[1] + (b[1] - a[1]) * t).toFixed(6)}"><ele>50</ele></trkpt>`);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="e2e" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>e2e</name><trkseg>${pts.join("")}</trkseg></trk></gpx>\n`;
}

/** Full-page screenshots at 360 and 1280 px, light and dark: `route-<name>-<scheme>-<width>.png`. */
async function shoot(p, name) {
  for (const scheme of ["light", "dark"]) {
    await p.emulateMedia({ colorScheme: scheme });
    for (const vp of [MOBILE, DESKTOP]) {
      await p.setViewportSize(vp);
      await p.waitForTimeout(150);
      await noHorizontalScroll(p);
      await p.screenshot({ path: `${SHOTS}route-${name}-${scheme}-${vp.width}.png`, fullPage: true });
      // The top of the page, at a size one can read.
      const height = Math.min(1600, await p.evaluate(() => document.documentElement.scrollHeight));
      await p.screenshot({ path: `${SHOTS}route-${name}-${scheme}-${vp.width}-top.png`, fullPage: true, clip: { x: 0, y: 0, width: vp.width, height } });
    }
  }
  await p.emulateMedia({ colorScheme: "light" });
  await p.setViewportSize(MOBILE);
}

/** Clicks a submit button of the second server's pages and waits for the page it leads to. */
async function send(button, urlPattern) {
  const p = button.page();
  await Promise.all([p.waitForEvent("load"), button.click()]);
  if (urlPattern) assert.match(path(p), urlPattern);
}

/** axe on the page, light and dark (the pages a11y.test.mjs cannot reach: they need an engine). */
async function axeClean(p, label) {
  const found = [];
  for (const scheme of ["light", "dark"]) {
    await p.emulateMedia({ colorScheme: scheme });
    const r = await new AxeBuilder({ page: p }).setLegacyMode(true)
      .options({ resultTypes: ["violations"], rules: { "target-size": { enabled: true } } }).analyze();
    for (const v of r.violations) {
      // Overlapping map markers: the list beside the map is their keyboard alternative (as a11y.test.mjs).
      const nodes = v.nodes.filter((n) => !(v.id === "target-size" && n.html.includes("leaflet-marker-icon")));
      if (nodes.length) found.push(`${label} (${scheme}): ${v.id}: ${v.help} — ${nodes.map((n) => n.target.join(" ")).slice(0, 4).join(", ")}`);
    }
  }
  await p.emulateMedia({ colorScheme: "light" });
  assert.deepEqual(found, [], found.join("\n"));
}

/** The answer as the page shows it: the best stop sentence and the stations of the list. */
async function answerOf(p) {
  await p.locator('[data-testid="route-summary"]').waitFor();
  const best = (await p.locator('[data-testid="route-best"]').textContent()).trim();
  const stations = await p.locator('[data-testid="route-results"] li').count();
  return { best, stations };
}

before(async () => {
  assert.ok(BASE, "BASE_URL is set by run.sh");
  tmp = mkdtempSync(join(tmpdir(), "carburoam-route-"));
  osrm = await startOsrm();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (second) {
    second.child.kill();
    await new Promise((r) => (second.child.exitCode !== null ? r() : second.child.once("exit", r)));
  }
  await new Promise((r) => (osrm ? osrm.close(r) : r()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("route search", () => {
  let gpxFile;
  let stationsAlong;

  step("the empty form, with a map to pick the ends on", async () => {
    const p = await newPage();
    const resp = await p.goto(BASE + "/trajet");
    assert.equal(resp.status(), 200);
    await p.locator('#pick-map.leaflet-container').waitFor();
    assert.ok(await p.locator('[data-testid="locate-from"]').isVisible(), "a “my position” button");
    // A tap on the map sets the start, then the end, as positions.
    const pick = p.locator("#pick-map");
    const box = await pick.boundingBox();
    await pick.click({ position: { x: box.width * 0.4, y: box.height * 0.5 } });
    // Apart enough not to make a double click (which zooms).
    await p.waitForTimeout(600);
    await pick.click({ position: { x: box.width * 0.6, y: box.height * 0.5 } });
    assert.match(await p.locator("#from").inputValue(), /^-?\d+\.\d{5},-?\d+\.\d{5}$/);
    assert.match(await p.locator("#to").inputValue(), /^-?\d+\.\d{5},-?\d+\.\d{5}$/);
    await p.goto(BASE + "/trajet");
    await p.locator('#pick-map.leaflet-container').waitFor();
    await shoot(p, "form");
    await p.context().close();
  });

  step("a GPX track chosen in the form: the best stop, the list and the route on the map", async () => {
    // Two stations of the fuel a few km apart: the track runs between them.
    const html = await (await fetch(`${BASE}/stations?q=${encodeURIComponent(FROM)}&fuel=${FUEL}`)).text();
    const ids = [...new Set([...html.matchAll(/href="\/stations\/(\d+)"/g)].map((m) => m[1]))].slice(0, 8);
    const list = [];
    for (const id of ids) list.push(await (await fetch(`${BASE}/api/v1/stations/${id}`)).json());
    assert.ok(list.length >= 2 && list.every((s) => typeof s.latitude === "number"), `stations of ${FROM}: ${ids.join(", ")}`);
    const a = list[0];
    const b = list.reduce((far, s) => (Math.abs(s.latitude - a.latitude) + Math.abs(s.longitude - a.longitude) >
      Math.abs(far.latitude - a.latitude) + Math.abs(far.longitude - a.longitude) ? s : far), list[1]);
    gpxFile = join(tmp, "trajet.gpx");
    writeFileSync(gpxFile, gpxTrack([a.latitude, a.longitude], [b.latitude, b.longitude]));
    const p = await newPage();
    await p.goto(BASE + "/trajet");
    await p.locator("#fuel").selectOption(FUEL);
    await p.locator("#gpx").setInputFiles(gpxFile);
    await submit(p.locator('[data-testid="route-submit"]'));
    assert.equal(path(p), "/trajet", "the post's own page");
    const { best, stations } = await answerOf(p);
    assert.match(best, /^Meilleur arrêt\s: .+, à \d,\d{3}\s€ le litre, \d+,\d{2}\s€ le plein détour compris\./, best);
    assert.ok(stations >= 2, `${stations} stations along the track`);
    stationsAlong = stations;
    await p.locator("#route-map path.route-line").waitFor();
    const markers = await p.locator("#route-map .leaflet-marker-icon").count();
    assert.equal(markers, stations, "a marker per station of the list");
    await shoot(p, "gpx");
    // A file that is not GPX: the page says so.
    const bad = join(tmp, "notes.gpx");
    writeFileSync(bad, "<kml><Document/></kml>");
    await p.goto(BASE + "/trajet");
    await p.locator("#gpx").setInputFiles(bad);
    const resp = await submit(p.locator('[data-testid="route-submit"]'));
    assert.equal(resp.status(), 422);
    assert.match(await p.locator('[data-testid="route-error"]').textContent(), /pas une trace GPX/);
    await p.context().close();
  });

  step("by place names, with scripts: the best stop, the list and the route on the map", async () => {
    second = await startSecondServer();
    SECOND = second.url;
    const p = await newPage();
    await p.goto(SECOND + "/trajet");
    await p.locator("#from").fill(FROM);
    await p.locator("#to").fill(TO);
    await p.locator("#fuel").selectOption(FUEL);
    await Promise.all([p.waitForEvent("load"), p.locator('[data-testid="route-submit"]').click()]);
    // With scripts the form is sent as a GET: a page to share.
    assert.match(path(p), new RegExp(`^/trajet\\?from=${FROM}&to=${TO}&fuel=${FUEL}`));
    const { best, stations } = await answerOf(p);
    assert.match(best, /^Meilleur arrêt\s: /);
    assert.ok(stations >= 1, "stations along the route");
    assert.match(await p.locator('[data-testid="route-summary"]').textContent(), /Trajet de [\d,\s]+km, environ/);
    // Leaflet draws the (straight) route as an SVG path from one end to the other.
    const d = await p.locator("#route-map path.route-line").getAttribute("d");
    assert.match(d ?? "", /^M-?\d+ -?\d+L-?\d+ -?\d+/, "the route line is drawn");
    assert.ok(osrmCalls >= 1, "the engine was asked");
    await shoot(p, "results");
    await p.context().close();
  });

  step("by place names, without scripts: the form posts, the list renders on the server", async () => {
    const p = await noScriptPage();
    await p.goto(SECOND + "/trajet");
    await p.locator("#from").fill(FROM);
    await p.locator("#to").fill(TO);
    await p.locator("#fuel").selectOption(FUEL);
    await Promise.all([p.waitForEvent("load"), p.locator('[data-testid="route-submit"]').click()]);
    assert.match(path(p), new RegExp(`^/trajet\\?from=${FROM}&to=${TO}&fuel=${FUEL}`), "the post was sent to the page of the places");
    const { best, stations } = await answerOf(p);
    assert.match(best, /^Meilleur arrêt\s: /);
    assert.ok(stations >= 1);
    assert.equal(await p.locator("#route-map.leaflet-container").count(), 0, "no map without scripts");
    // A GPX track too, without scripts.
    await p.goto(SECOND + "/trajet");
    await p.locator("#gpx").setInputFiles(gpxFile);
    await p.locator("#fuel").selectOption(FUEL);
    await Promise.all([p.waitForEvent("load"), p.locator('[data-testid="route-submit"]').click()]);
    assert.equal((await answerOf(p)).stations, stationsAlong);
    await p.context().close();
  });

  step("a signed-in driver: the vehicle fills the form, a route is saved, /me shows its best stop", async () => {
    const p = await newPage();
    await p.goto(SECOND + "/register");
    await p.locator("#username").fill(USERNAME);
    await p.locator("#display_name").fill("Rita Route");
    await p.locator("#email").fill(`${USERNAME}@example.org`);
    await p.locator("#password").fill(PASSWORD);
    await p.locator("#confirm").fill(PASSWORD);
    await send(p.locator('form[action="/register"] button[type="submit"]'), /\/me\/stations/);
    await p.goto(SECOND + "/me/profile");
    await p.locator("#vehicle_fuel").selectOption(FUEL);
    await p.locator("#tank_litres").fill("52");
    await p.locator("#consumption").fill("5.8");
    await send(p.locator('form[action="/me/vehicle"] button[type="submit"]'), /\/me\/profile/);
    await p.goto(SECOND + "/trajet");
    assert.equal(await p.locator("#fuel").inputValue(), FUEL);
    assert.equal(await p.locator("#litres").inputValue(), "52");
    assert.equal(await p.locator("#consumption").inputValue(), "5.8");
    await p.locator("#from").fill(FROM);
    await p.locator("#to").fill(TO);
    await Promise.all([p.waitForEvent("load"), p.locator('[data-testid="route-submit"]').click()]);
    await answerOf(p);
    assert.equal(await p.locator("#route-name").inputValue(), `${FROM} → ${TO}`);
    await p.locator("#route-map[data-drawn]").waitFor();
    await axeClean(p, "/trajet signed in, with the save form");
    await p.locator("#route-name").fill("Maison → travail");
    const calls = osrmCalls;
    await send(p.locator('[data-testid="route-save-button"]'), /\/me(#routes)?$/);
    const saved = p.locator('[data-testid="saved-routes"] li');
    assert.equal(await saved.count(), 1);
    assert.match(await saved.locator("h3").textContent(), /Maison → travail/);
    assert.match(await saved.locator('[data-testid="route-best-now"]').textContent(), /^Meilleur arrêt maintenant\s: /);
    assert.equal(osrmCalls, calls, "/me asks no engine");
    await axeClean(p, "/me with a saved route");
    await shoot(p, "me");
    await send(saved.locator('[data-testid="route-delete"]'), /\/me(#routes)?$/);
    assert.equal(await p.locator('[data-testid="saved-routes"] li').count(), 0);
    await p.context().close();
  });

  step("breaks no Content-Security-Policy rule and throws no script error", async () => {
    assert.deepEqual(problems, []);
  });
});
