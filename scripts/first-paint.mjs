// The cold first render of a page in Chromium: first-contentful-paint (the Performance API) of a
// new browser with a new profile per run, so nothing is cached (no HTTP cache, no service
// worker, no compiled scripts). Several servers are measured in turn, run after run, so that
// the machine's load falls on each alike; prints each one's runs and median.
//
//   node scripts/first-paint.mjs [--runs 9] [--path PATH] URL...   (PATH appended to each URL)
//   node scripts/first-paint.mjs --runs 9 http://127.0.0.1:8081/ http://127.0.0.1:8082/
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
const bases = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runs") runs = Number(args[++i]);
  else if (args[i] === "--path") path = args[++i];
  else bases.push(args[i]);
}
if (!bases.length || !(runs > 0)) {
  console.error("usage: node scripts/first-paint.mjs [--runs N] [--path PATH] URL...");
  process.exit(2);
}

/** One cold load of `url`: first-contentful-paint in ms, or NaN. */
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
          const done = () => resolve(get() ? get().startTime : NaN);
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
  const xs = results[i].map((x) => Math.round(x));
  console.log(`${b}${path}: median ${Math.round(median(results[i]))} ms (runs: ${xs.join(", ")})`);
});
