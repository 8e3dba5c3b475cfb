// Shared helpers of the web app's end-to-end scripts (app_*.mjs): launch
// Debian's Chromium with the flags that let it do WebRTC on loopback with a
// fake microphone, open pages, and save screenshots.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const flags = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
  "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
  "--autoplay-policy=no-user-gesture-required",
];

// launch starts Chromium; opts come from the Go test ({url, chromium, shots}).
export async function launch(opts) {
  const browser = await chromium.launch({ executablePath: opts.chromium, args: flags, headless: true });
  return {
    // newUser opens an isolated browser context (its own storage: one
    // signed-in person) and a page in it.
    async newUser({ width = 1280, height = 800 } = {}) {
      const c = await browser.newContext({ viewport: { width, height }, permissions: ["microphone"] });
      const page = await c.newPage();
      page.on("pageerror", (e) => process.stderr.write(`page error: ${e}\n`));
      page.on("console", (m) => { if (m.type() === "error") process.stderr.write(`console: ${m.text()}\n`); });
      return page;
    },
    close: () => browser.close(),
  };
}

// shot saves a full-page screenshot as <shots>/<name>.png when the Go test
// asked for screenshots.
export async function shot(opts, page, name) {
  if (!opts.shots) return;
  mkdirSync(opts.shots, { recursive: true });
  await page.screenshot({ path: join(opts.shots, `${name}.png`) });
}

// step runs fn and names the step in the failure.
export async function step(name, fn) {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${name}: ${e?.message ?? e}`);
  }
}
