// What the browser test files share: the settings run.sh hands over, a real SMTP listener
// (the npm package smtp-server) that parses what the server sends, Debian's Chromium driven by
// playwright-core, and the few page helpers every file uses.
import { it } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { SMTPServer } from "smtp-server";
import { simpleParser } from "mailparser";

export const BASE = process.env.BASE_URL;
export const SMTP_PORT = Number(process.env.SMTP_PORT);
export const REAL = process.env.E2E_DATASET === "real";
export const SHOTS = new URL("../screenshots/", import.meta.url).pathname;
export const MOBILE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 860 };
export const MAIL_TIMEOUT_MS = 10_000;

// --- the SMTP listener -----------------------------------------------------------------------

/**
 * Listens on 127.0.0.1:`port` (where run.sh points the server's mail) until `close()`.
 * `mails` holds every message received, parsed: { to: [addresses], subject, text, html, header }
 * (`header(name)`: the raw value of a header, unfolded, or null).
 */
export async function startMailbox(port = SMTP_PORT) {
  const mails = [];
  const waiters = new Set();
  const server = await new Promise((resolve, reject) => {
    const s = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      closeTimeout: 500,
      onData(stream, session, callback) {
        simpleParser(stream)
          .then((m) => {
            mails.push({
              to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
              subject: m.subject ?? "",
              text: m.text ?? "",
              html: m.html || "",
              header: (name) => {
                const l = (m.headerLines ?? []).find((h) => h.key === name.toLowerCase());
                return l ? l.line.slice(l.line.indexOf(":") + 1).replace(/\r?\n[ \t]+/g, " ").trim() : null;
              },
            });
            for (const w of waiters) w();
            callback();
          })
          .catch(callback);
      },
    });
    s.once("error", (e) =>
      reject(new Error(`cannot listen for mail on 127.0.0.1:${port} (${e.message}): is another test file still listening there?`)));
    s.listen(port, "127.0.0.1", () => {
      s.removeAllListeners("error");
      s.on("error", (e) => console.error("SMTP listener:", e.message));
      resolve(s);
    });
  });

  /** The first mail (received before or after this call) matching `pred`, or a clear failure. */
  function waitForMail(pred, what, timeoutMs = MAIL_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = mails.find(pred);
        if (!m) return false;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(m);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        const got = mails.map((m) => `"${m.subject}" to ${m.to.join(",")}`).join("; ") || "nothing";
        reject(new Error(`no ${what} reached the SMTP listener on 127.0.0.1:${port} within ` +
          `${timeoutMs / 1000} s (received: ${got}); is the server started with CARBUROAM_SMTP_HOST/PORT/TLS=none?`));
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  }

  const close = () => new Promise((resolve) => server.close(resolve));
  return { mails, waitForMail, close };
}

// --- the browser ------------------------------------------------------------------------------

/** Debian's Chromium, headless, with nothing that phones home. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * A page in a fresh context (its own cookies) whose console messages that reveal a bug (CSP
 * violations, script errors) are pushed to `problems`.
 */
export async function newPage(browser, problems, viewport = MOBILE, locale = "fr-FR") {
  const context = await browser.newContext({ viewport, locale, deviceScaleFactor: 1, acceptDownloads: true });
  // Nothing leaves the machine (tiles already point at a dead address, see run.sh).
  await context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  const p = await context.newPage();
  p.setDefaultTimeout(10_000);
  p.on("console", (m) => {
    const text = m.text();
    if (/Content.Security.Policy|Uncaught|TypeError|ReferenceError/i.test(text)) problems.push(`${p.url()}: ${text}`);
  });
  p.on("pageerror", (e) => problems.push(`${p.url()}: ${e.message}`));
  return p;
}

/** Path and query of the page's URL. */
export function path(p) {
  const u = new URL(p.url());
  return u.pathname + u.search;
}

/**
 * Clicks a submit button and waits for the page its POST leads to (the next document's load
 * event: the URL alone can be the same as before, e.g. adding a second station); returns the
 * POST's response.
 */
export async function submit(button, urlPattern) {
  const p = button.page();
  const [resp] = await Promise.all([
    p.waitForResponse((r) => r.request().method() === "POST" && r.url().startsWith(BASE)),
    p.waitForEvent("load"),
    button.click(),
  ]);
  if (urlPattern) assert.match(p.url(), urlPattern, `after the POST to ${new URL(resp.url()).pathname}`);
  return resp;
}

export async function noHorizontalScroll(p) {
  const { sw, iw } = await p.evaluate(() => ({ sw: document.documentElement.scrollWidth, iw: window.innerWidth }));
  assert.ok(sw <= iw, `${path(p)}: page is ${sw}px wide in a ${iw}px viewport`);
}

/** A price as shown on a page (`1,739 €`, `€1.739`) as a number of euros. */
export function parsePrice(text) {
  return parseFloat(text.replace(/[^\d,.]/g, "").replace(",", "."));
}

/** `shoot(page, name)`: full-page screenshots `<prefix>-<name>-{mobile,desktop}.png`, phone first. */
export function screenshotter(prefix) {
  return async function shoot(p, name) {
    await p.waitForLoadState("networkidle").catch(() => {});
    await noHorizontalScroll(p);
    await p.screenshot({ path: `${SHOTS}${prefix}-${name}-mobile.png`, fullPage: true });
    await p.setViewportSize(DESKTOP);
    await p.waitForTimeout(100);
    await p.screenshot({ path: `${SHOTS}${prefix}-${name}-desktop.png`, fullPage: true });
    await p.setViewportSize(MOBILE);
  };
}

// --- steps ------------------------------------------------------------------------------------

/**
 * Tests that each depend on the ones before: after a failure the rest are skipped, naming it.
 * `failed()` is the name of the step that failed, if any.
 */
export function steps() {
  let failedName = null;
  function step(name, fn, timeout = 60_000) {
    it(name, { timeout }, async (t) => {
      if (failedName) {
        t.skip(`skipped: "${failedName}" failed`);
        return;
      }
      try {
        await fn(t);
      } catch (e) {
        failedName = name;
        throw e;
      }
    });
  }
  return { step, failed: () => failedName };
}
