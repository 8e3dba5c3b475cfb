// Measures the web app: the bundle's size (raw, gzip as the node serves
// it) and the time from navigation to the signed-in shell being usable in
// headless Chromium, against a real node started by test/server.mjs.
//
// A signed-in user's session is put in localStorage before the page loads;
// the app marks "parley:shell" when the signed-in layout is drawn and
// "parley:connected" at the connection's first hello (performance marks,
// relative to navigation start). "Interactive" is the later of the two and
// the home screen's heading being there. Cold loads use a fresh browser
// context (empty cache); warm loads reload the same page (the node answers
// 304 for unchanged assets). Medians of BENCH_LOADS (default 9) loads each.
//
// Run: cd web && npm run build && npm run bench:app
// Needs Chromium (CHROMIUM, default /usr/bin/chromium) and playwright-core
// from test/browser (`cd test/browser && npm ci`).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { request } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadavg, cpus } from "node:os";
import { startServer } from "../test/server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..", "..");
const { chromium } = createRequire(join(repo, "test", "browser", "package.json"))("playwright-core");
const LOADS = Number(process.env.BENCH_LOADS ?? 9);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

// What the node sends for one asset with and without gzip.
const fetchBytes = (url, gzip) =>
  new Promise((res, rej) => {
    const r = request(url, { headers: gzip ? { "Accept-Encoding": "gzip" } : {} }, (resp) => {
      let n = 0;
      resp.on("data", (d) => (n += d.length));
      resp.on("end", () => res({ n, enc: resp.headers["content-encoding"] ?? "identity" }));
    });
    r.on("error", rej);
    r.end();
  });

const srv = await startServer();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  headless: true,
});
try {
  // ---- bundle size ----
  const dist = join(repo, "internal", "webapp", "dist");
  let rawTotal = 0;
  let gzTotal = 0;
  for (const f of ["index.html", "app.js", "app.css", "icon.svg"]) {
    const data = readFileSync(join(dist, f));
    const served = await fetchBytes(`${srv.url}/${f === "index.html" ? "" : f}`, true);
    const plain = await fetchBytes(`${srv.url}/${f === "index.html" ? "" : f}`, false);
    rawTotal += plain.n;
    gzTotal += served.n;
    console.log(`${f}: ${kb(data.length)} raw, served ${kb(served.n)} (${served.enc}); gzip -9 locally ${kb(gzipSync(data, { level: 9 }).length)}`);
  }
  console.log(`first load transfers (bodies): ${kb(rawTotal)} raw, ${kb(gzTotal)} as served with gzip`);

  // ---- load to interactive ----
  const u = await srv.signUp("loadtest");
  const session = JSON.stringify(u.session);
  const measure = async (page) => {
    await page.getByRole("heading", { name: /^Welcome, / }).waitFor({ timeout: 30000 });
    await page.waitForFunction(() => performance.getEntriesByName("parley:connected").length > 0, null, { timeout: 30000 });
    return page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const mark = (n) => performance.getEntriesByName(n)[0]?.startTime ?? NaN;
      return {
        dcl: nav.domContentLoadedEventEnd,
        shell: mark("parley:shell"),
        connected: mark("parley:connected"),
        transfer: nav.transferSize,
      };
    });
  };
  const cold = [];
  const warm = [];
  for (let i = 0; i < LOADS; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.addInitScript((s) => {
      if (!localStorage.getItem("parley.session")) localStorage.setItem("parley.session", s);
    }, session);
    const page = await ctx.newPage();
    await page.goto(srv.url);
    cold.push(await measure(page));
    await page.reload();
    warm.push(await measure(page));
    await ctx.close();
  }
  const report = (name, xs) => {
    const ready = xs.map((x) => Math.max(x.shell, x.connected));
    console.log(
      `${name} (median of ${xs.length}): DOMContentLoaded ${median(xs.map((x) => x.dcl)).toFixed(0)} ms, shell drawn ${median(xs.map((x) => x.shell)).toFixed(0)} ms, ` +
        `connected (interactive) ${median(ready).toFixed(0)} ms; min ${Math.min(...ready).toFixed(0)} max ${Math.max(...ready).toFixed(0)} ms`,
    );
  };
  report("cold load, empty cache", cold);
  report("warm reload, cached (304)", warm);
  console.log(`Chromium ${browser.version()}, node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
} finally {
  await browser.close();
  await srv.stop();
}
