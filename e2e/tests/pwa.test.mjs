// The installable web app in Debian's Chromium: the manifest and its icons, the
// service worker registered at scope /, the "notifications on this device" block (its button
// only where the Push API exists, its explanation without JavaScript), and the last prices seen
// kept for offline use (and forgotten at logout, or as soon as a page shows the session is over).
//
// Push itself cannot be delivered here: subscribing needs the browser vendor's push service,
// out of reach of this machine; tests/it/push.rs covers delivery with a local push endpoint.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import AxeBuilder from "@axe-core/playwright";
import { BASE, launchBrowser, newPage as openPage, path, steps, submit } from "../lib/harness.mjs";

let browser;
let page;
const problems = [];
const { step } = steps();

before(async () => {
  assert.ok(BASE, "BASE_URL is set by run.sh");
  assert.ok(process.env.ADMIN_USER && process.env.ADMIN_PASSWORD, "run.sh made an admin account");
  browser = await launchBrowser();
  page = await openPage(browser, problems);
});

after(async () => {
  await browser?.close();
});

step("the manifest and its icons load", async () => {
  await page.goto(BASE + "/");
  const href = await page.locator('link[rel="manifest"]').getAttribute("href");
  assert.equal(href, "/manifest.webmanifest");
  const resp = await page.request.get(BASE + href);
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()["content-type"], /application\/manifest\+json/);
  const m = await resp.json();
  assert.equal(m.display, "standalone");
  assert.ok(m.icons.some((i) => i.purpose === "maskable" && i.sizes === "512x512"));
  for (const icon of m.icons) {
    const img = await page.request.get(BASE + icon.src);
    assert.equal(img.status(), 200, icon.src);
    assert.equal(img.headers()["content-type"], "image/png");
  }
});

step("the service worker registers at scope / and controls the pages", async () => {
  const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
  assert.equal(scope, BASE + "/");
  await page.reload();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  assert.deepEqual(problems, []);
});

step("logs in (the admin account run.sh made: registrations are rate-limited per address)", async () => {
  await page.goto(BASE + "/login");
  await page.locator("#login").fill(process.env.ADMIN_USER);
  await page.locator("#password").fill(process.env.ADMIN_PASSWORD);
  await submit(page.locator('form[action="/login"] button[type="submit"]'), /\/(me|admin)/);
});

step("the notifications block offers the button where the Push API exists", async () => {
  await page.goto(BASE + "/me/push");
  const block = page.locator('[data-testid="push-block"]');
  await block.waitFor();
  await page.waitForFunction(() => document.querySelector("#push-block .push-nojs").hidden);
  assert.equal(await block.locator(".push-nojs").isVisible(), false, `the no-JavaScript text is hidden ${problems}`);
  const hasPush = await page.evaluate(() => "PushManager" in window && "Notification" in window);
  assert.ok(hasPush, "Chromium has the Push API");
  await page.locator('[data-testid="push-on"]').waitFor();
  assert.ok(await page.locator('[data-testid="push-status"]').isVisible());
  assert.equal(await page.locator('[data-testid="push-off"]').isVisible(), false);
  assert.ok(await page.locator('[data-testid="push-no-devices"]').isVisible());
  // axe-core, light and dark.
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    const r = await new AxeBuilder({ page }).setLegacyMode(true)
      .options({ resultTypes: ["violations"], rules: { "target-size": { enabled: true } } }).analyze();
    assert.deepEqual(r.violations.map((v) => `${scheme}: ${v.id} ${v.nodes.map((n) => n.target).join(" ")}`), []);
  }
  await page.emulateMedia({ colorScheme: "light" });
  // The button is big enough to touch.
  const box = await page.locator('[data-testid="push-on"]').boundingBox();
  assert.ok(box.height >= 24 && box.width >= 24, JSON.stringify(box));
  assert.deepEqual(problems, []);
});

step("turning notifications on without a reachable push service says it failed, and stores nothing", async () => {
  await page.context().grantPermissions(["notifications"], { origin: BASE });
  const status = page.locator('[data-testid="push-status"]');
  const failed = await page.locator('[data-testid="push-block"]').getAttribute("data-failed");
  await page.locator('[data-testid="push-on"]').click();
  // Chromium asks its vendor's push service, out of reach here: the subscription fails.
  await page.waitForFunction((f) => document.querySelector('[data-testid="push-status"]').textContent === f, failed,
    { timeout: 30_000 });
  assert.ok(await page.locator('[data-testid="push-on"]').isEnabled(), "the button can be tried again");
  await page.reload();
  assert.ok(await page.locator('[data-testid="push-no-devices"]').isVisible());
  assert.ok(await status.isVisible());
  assert.deepEqual(problems, []);
}, 60_000);

step("without JavaScript the block explains and shows no button", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: "fr-FR", storageState: await page.context().storageState() });
  const p = await context.newPage();
  await p.goto(BASE + "/me/push");
  assert.ok(await p.locator(".push-nojs").isVisible(), "the explanation is shown");
  assert.equal(await p.locator('[data-testid="push-on"]').isVisible(), false);
  await context.close();
});

step("keeps the last prices seen for offline use", async () => {
  await page.goto(BASE + "/me");
  const heading = (await page.locator("h1").first().textContent()).trim();
  // The worker stores the page after the response: give it a moment.
  await page.waitForFunction(async () => {
    const c = await caches.open("carburoam-pages");
    return (await c.match("/me")) !== undefined;
  });
  await page.context().setOffline(true);
  try {
    await page.reload();
    assert.equal(path(page), "/me");
    assert.equal((await page.locator("h1").first().textContent()).trim(), heading, "the dashboard as last seen");
    await page.goto(BASE + "/stations?q=Lyon");
    await page.locator('[data-testid="offline"]').waitFor();
    // Its style came from the worker's cache too.
    const styled = await page.evaluate(() => getComputedStyle(document.body).fontFamily.includes("system-ui"));
    assert.ok(styled, "the offline page has the site's stylesheet");
  } finally {
    await page.context().setOffline(false);
  }
});

step("a session ended elsewhere: the first page that shows no session forgets the kept pages", async () => {
  await page.goto(BASE + "/me");
  await page.waitForFunction(async () => (await (await caches.open("carburoam-pages")).match("/me")) !== undefined);
  // Another browser holding the same session logs out: the session ends on the server, while
  // this browser still has its cookie and its kept pages.
  const context = await browser.newContext({ locale: "fr-FR", storageState: await page.context().storageState() });
  const other = await context.newPage();
  await other.goto(BASE + "/me");
  await submit(other.locator('[data-testid="logout"]'), /\/login/);
  await context.close();
  // Any page will do: it says there is no session any more.
  await page.goto(BASE + "/about");
  await page.waitForFunction(async () => !(await caches.keys()).includes("carburoam-pages"));
  await page.context().setOffline(true);
  try {
    await page.goto(BASE + "/me");
    await page.locator('[data-testid="offline"]').waitFor();
    assert.equal(await page.locator('[data-testid="logout"]').count(), 0, "no account offline");
  } finally {
    await page.context().setOffline(false);
  }
  // Logged in again for the next step.
  await page.goto(BASE + "/login");
  await page.locator("#login").fill(process.env.ADMIN_USER);
  await page.locator("#password").fill(process.env.ADMIN_PASSWORD);
  await submit(page.locator('form[action="/login"] button[type="submit"]'), /\/(me|admin)/);
  assert.deepEqual(problems, []);
});

step("logging out forgets the kept pages", async () => {
  await page.goto(BASE + "/me");
  await submit(page.locator('[data-testid="logout"]'), /\/login/);
  // The worker deletes them while the POST goes by.
  await page.waitForFunction(async () => !(await caches.keys()).includes("carburoam-pages"));
  await page.context().setOffline(true);
  try {
    await page.goto(BASE + "/me");
    await page.locator('[data-testid="offline"]').waitFor();
  } finally {
    await page.context().setOffline(false);
  }
  assert.deepEqual(problems, []);
});
