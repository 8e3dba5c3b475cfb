// Drives Parley's audio test page (/test/media.html) in headless Chromium.
//
//   node media.mjs '<json>'
//
// The JSON names the server URL, the Chromium binary and what to do:
//   {"url": "...", "chromium": "/usr/bin/chromium", "mode": "hold", "peers": [{"token", "session", "publish"}]}
//     join every peer (one page each), print {"ready": true} and wait for
//     stdin to close (the Go test checks what its own clients hear
//     meanwhile); then print every page's stats.
//   {"url": ..., "mode": "listen", "peers": [...], "minPackets": 50, "timeoutMs": 20000}
//     join and wait until every page received minPackets; print the stats.
//   {"url": ..., "mode": "latency", "peers": [{"token", "session"}], "joins": 20}
//     join as a listener, wait for the first audio packet, leave; repeat;
//     print the times from the join request to the first packet.
// Every result is one JSON line on stdout; failures exit 1 with a message.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const opts = JSON.parse(process.argv[2]);
const dataDir = mkdtempSync(join(tmpdir(), "parley-chromium-"));
const flags = [
  "--headless", "--no-sandbox",
  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
  "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
  "--autoplay-policy=no-user-gesture-required",
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function openPage(context, peer) {
  const page = await context.newPage();
  page.on("pageerror", (e) => process.stderr.write("page error: " + e + "\n"));
  await page.goto(opts.url + "/test/media.html");
  await page.evaluate((p) => window.parleyJoin(p), peer);
  return page;
}

async function statsOf(pages) {
  return Promise.all(pages.map((p) => p.evaluate(() => window.parleyStats())));
}

const received = (s) => s.inbound.reduce((n, r) => n + r.packetsReceived, 0);

let context;
try {
  context = await chromium.launchPersistentContext(dataDir, {
    executablePath: opts.chromium || "/usr/bin/chromium",
    headless: true,
    args: flags,
    ignoreDefaultArgs: ["--mute-audio"],
  });
  const out = {};
  if (opts.mode === "hold") {
    const pages = [];
    for (const p of opts.peers) pages.push(await openPage(context, p));
    process.stdout.write(JSON.stringify({ ready: true }) + "\n");
    await new Promise((resolve) => { process.stdin.on("end", resolve); process.stdin.on("close", resolve); process.stdin.resume(); });
    out.stats = await statsOf(pages);
  } else if (opts.mode === "listen") {
    const pages = [];
    for (const p of opts.peers) pages.push(await openPage(context, p));
    const deadline = Date.now() + (opts.timeoutMs || 20000);
    for (;;) {
      out.stats = await statsOf(pages);
      if (out.stats.every((s) => received(s) >= opts.minPackets)) break;
      if (Date.now() > deadline) throw new Error("timed out: " + JSON.stringify(out.stats));
      await sleep(50);
    }
  } else if (opts.mode === "latency") {
    out.firstAudioMs = [];
    const peer = opts.peers[0];
    for (let i = 0; i < opts.joins; i++) {
      const page = await openPage(context, peer);
      const deadline = Date.now() + 10000;
      let ms = null;
      while (ms === null) {
        ms = await page.evaluate(() => window.parley.firstAudioMs);
        if (ms === null && Date.now() > deadline) throw new Error("no audio on join " + i);
        if (ms === null) await sleep(5);
      }
      out.firstAudioMs.push(ms);
      if (opts.verbose) process.stderr.write(JSON.stringify(await page.evaluate(() => window.parley.marks)) + " first " + ms + "\n");
      await page.evaluate((s) => window.parleyLeave(s), peer.session);
      await page.close();
    }
  } else {
    throw new Error("unknown mode " + opts.mode);
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  await context.close();
  rmSync(dataDir, { recursive: true, force: true });
} catch (e) {
  process.stderr.write(String(e && e.stack || e) + "\n");
  if (context) await context.close().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(1);
}
