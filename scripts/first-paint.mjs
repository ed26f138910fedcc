// The cold first render of a page in Chromium: first-contentful-paint (the Performance API) of a
// new browser with a new profile per run, so nothing is cached (no HTTP cache, no service
// worker, no compiled scripts). Several servers are measured in turn, run after run, so that
// the machine's load falls on each alike; prints each one's runs and median.
//
//   node scripts/first-paint.mjs [--runs 9] [--path PATH] [--detail] URL...   (PATH appended to each URL)
//   node scripts/first-paint.mjs --runs 9 http://127.0.0.1:8081/ http://127.0.0.1:8082/
//
// --detail also prints the median of each step before the paint (ms from the navigation's
// start, the Navigation and Resource Timing APIs): the HTML's first and last byte, each
// render-blocking stylesheet's last byte, the end of parsing, first-contentful-paint.
//
// Uses playwright-core from e2e/node_modules (`cd e2e && npm ci`) and /usr/bin/chromium
// (CHROMIUM to override).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(new URL("../e2e/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const args = process.argv.slice(2);
let runs = 9;
let path = "";
let detail = false;
const bases = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runs") runs = Number(args[++i]);
  else if (args[i] === "--path") path = args[++i];
  else if (args[i] === "--detail") detail = true;
  else bases.push(args[i]);
}
if (!bases.length || !(runs > 0)) {
  console.error("usage: node scripts/first-paint.mjs [--runs N] [--path PATH] [--detail] URL...");
  process.exit(2);
}

/** One cold load of `url`: { fcp, steps } (ms; fcp NaN when no paint was seen). */
async function once(url) {
  const profile = mkdtempSync(join(tmpdir(), "first-paint-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--no-first-run", "--disable-extensions"],
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    await page.goto(url, { waitUntil: "load" });
    // The paint entry may come a frame after `load`.
    return await page.evaluate(
      () =>
        new Promise((resolve) => {
          const get = () => performance.getEntriesByName("first-contentful-paint")[0];
          const done = () => {
            const nav = performance.getEntriesByType("navigation")[0] || {};
            const steps = { "html first byte": nav.responseStart, "html last byte": nav.responseEnd };
            for (const r of performance.getEntriesByType("resource")) {
              if (r.renderBlockingStatus === "blocking") steps[new URL(r.name).pathname.replace(/^\/static\/[0-9a-f]+\//, "")] = r.responseEnd;
            }
            steps["parsed (domInteractive)"] = nav.domInteractive;
            const fcp = get() ? get().startTime : NaN;
            steps["first-contentful-paint"] = fcp;
            resolve({ fcp, steps });
          };
          if (get()) return done();
          new PerformanceObserver(done).observe({ type: "paint", buffered: true });
          setTimeout(done, 3000);
        }),
    );
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const median = (xs) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

const results = bases.map(() => []);
for (let r = 0; r < runs; r++) {
  // Alternate which server goes first.
  const order = bases.map((_, i) => i);
  if (r % 2) order.reverse();
  for (const i of order) results[i].push(await once(bases[i] + path));
}
bases.forEach((b, i) => {
  const fcps = results[i].map((r) => r.fcp);
  console.log(`${b}${path}: median ${Math.round(median(fcps))} ms (runs: ${fcps.map(Math.round).join(", ")})`);
  if (!detail) return;
  const names = [...new Set(results[i].flatMap((r) => Object.keys(r.steps)))];
  const at = (n) => median(results[i].map((r) => r.steps[n] ?? NaN));
  for (const n of names.sort((a, b) => at(a) - at(b))) console.log(`  ${n}: median ${at(n).toFixed(1)} ms`);
});
