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
// Every request and WebSocket of every page must go to the server's own
// host (the app fetches nothing from elsewhere): close() fails otherwise.
export async function launch(opts) {
  const browser = await chromium.launch({ executablePath: opts.chromium, args: flags, headless: true });
  const host = new URL(opts.url).hostname;
  const external = new Set();
  const check = (u) => {
    const url = new URL(u);
    if (["data:", "blob:", "about:"].includes(url.protocol)) return;
    if (url.hostname !== host) external.add(u);
  };
  return {
    // newUser opens an isolated browser context (its own storage: one
    // signed-in person) and a page in it.
    async newUser({ width = 1280, height = 800 } = {}) {
      const c = await browser.newContext({ viewport: { width, height }, permissions: ["microphone"] });
      const page = await c.newPage();
      page.on("pageerror", (e) => process.stderr.write(`page error: ${e}\n`));
      page.on("console", (m) => { if (m.type() === "error") process.stderr.write(`console: ${m.text()}\n`); });
      page.on("request", (r) => check(r.url()));
      page.on("websocket", (ws) => check(ws.url()));
      return page;
    },
    async close() {
      await browser.close();
      if (external.size) throw new Error(`the app reached outside the server: ${[...external].join(", ")}`);
    },
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

// visible waits until loc's first match is visible; what names it in the failure.
export async function visible(loc, what, timeout = 15000) {
  await loc.first().waitFor({ state: "visible", timeout }).catch(() => {
    throw new Error(`${what} is not visible`);
  });
}

// until polls fn every 100 ms until it returns something truthy, and
// returns that; what names the wait in the failure.
export async function until(fn, what, timeout = 20000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// signUp creates an account through the app's sign-up form and waits for
// the home screen; it returns the new user's id.
export async function signUp(opts, page, name, handle) {
  await page.goto(opts.url);
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel("Handle").fill(handle);
  await page.getByLabel("Email").fill(`${handle}@example.com`);
  await page.getByLabel("Password", { exact: true }).fill("a long password");
  await page.getByLabel("Password", { exact: true }).press("Enter");
  await visible(page.getByRole("heading", { name: `Welcome, ${name}` }), `${name}'s home screen`);
  return page.evaluate(() => JSON.parse(localStorage.getItem("parley.session")).user.id);
}

// inbound sums the audio a page's audio sessions received (the audio
// helper's window.parleyAudioStats).
export function inbound(page) {
  return page.evaluate(async () => {
    const all = await window.parleyAudioStats();
    let packets = 0, energy = 0;
    for (const s of all) for (const r of s.inbound) { packets += r.packetsReceived; energy += r.totalAudioEnergy; }
    return { packets, energy, sessions: all.length, connection: all.map((s) => s.connection).join(","), errors: all.flatMap((s) => s.errors) };
  });
}
