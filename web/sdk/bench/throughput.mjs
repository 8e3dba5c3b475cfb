// Measures the TypeScript SDK (sdk/dist) in Node against a real Parley node
// started by test/server.mjs (SQLite, embedded NATS, loopback):
//
//  1. request round trip: sequential presence.get and topic.publish
//     requests of one client, p50/p99;
//  2. delivery: one publisher bursts topic.publish requests (a window of
//     requests in flight) to one topic; one subscriber receives the events
//     through ParleyClient.subscribe. Reports deliveries/s and the
//     publish-to-delivery latency p50/p99 (both clients are in this process,
//     so they share a clock; they also share its one JavaScript thread).
//
//  3. latency at a steady rate below saturation (BENCH_RATE/s, default 200),
//     where the burst's figure is mostly queueing behind the window;
//  4. catch-up: a fresh subscriber subscribes with after = N - 5000 (the
//     node's gateway.resume_max_events) and receives those 5,000 events
//     replayed from the log: how fast the SDK takes in a backlog.
//
// Run: cd web && npm run bench   (BENCH_N=10000 BENCH_WINDOW=256 to change)
// The node's per-connection rate limit (50 frames/s by default) is raised
// for the run: a burst would otherwise measure the limiter.
import WebSocket from "ws";
import { ParleyClient } from "../dist/index.js";
import { startServer } from "../test/server.mjs";
import { loadavg, cpus } from "node:os";

const N = Number(process.env.BENCH_N ?? 10000);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 256);
const RTT_N = Number(process.env.BENCH_RTT_N ?? 2000);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const PACED_N = Number(process.env.BENCH_PACED_N ?? 2000);

const now = () => performance.timeOrigin + performance.now();
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(2)} ms`;

const srv = await startServer({
  env: { PARLEY_GATEWAY_RATE_PER_SECOND: "1000000", PARLEY_GATEWAY_RATE_BURST: "1000000" },
});
const clients = [];
try {
  const a = await srv.signUp("publisher");
  const b = await srv.signUp("subscriber");
  const pub = new ParleyClient(a.options);
  const sub = new ParleyClient(b.options);
  clients.push(pub, sub);
  await Promise.all([pub.connect(), sub.connect()]);

  // ---- 1. round trips ----
  const rtt = async (label, fn) => {
    for (let i = 0; i < 200; i++) await fn(i); // warm up
    const xs = [];
    for (let i = 0; i < RTT_N; i++) {
      const t = performance.now();
      await fn(i);
      xs.push(performance.now() - t);
    }
    console.log(`${label}: n=${RTT_N} p50 ${ms(pct(xs, 50))} p99 ${ms(pct(xs, 99))}`);
    return xs;
  };
  await rtt("request round trip (presence.get)", () => pub.request("presence.get", { users: [a.user.id] }));
  await rtt("request round trip (topic.publish, logged)", (i) => pub.request("topic.publish", { stream: "topic:rtt", data: { i } }));

  // ---- 2. delivery through a subscription ----
  const stream = `topic:bench${Date.now().toString(36)}`;
  const lat = [];
  let got = 0;
  let lastSeq = 0;
  let outOfOrder = 0;
  let firstSend = 0;
  let lastAt = 0;
  let done;
  const all = new Promise((r) => (done = r));
  await sub.subscribe(stream, (e) => {
    const t = now();
    if (e.seq !== lastSeq + 1) outOfOrder++;
    lastSeq = e.seq;
    lat.push(t - e.data.data.t);
    got++;
    lastAt = t;
    if (got === N) done();
  });

  firstSend = now();
  let next = 0;
  let acked = 0;
  await new Promise((resolve, reject) => {
    const send = () => {
      while (next < N && next - acked < WINDOW) {
        const i = next++;
        pub.request("topic.publish", { stream, data: { i, t: now() } }).then(() => {
          acked++;
          if (acked === N) resolve();
          else send();
        }, reject);
      }
    };
    send();
  });
  const pubDone = now();
  const timeout = setTimeout(() => done(), 60000);
  await all;
  clearTimeout(timeout);
  const secs = (lastAt - firstSend) / 1000;
  console.log(`publish: ${N} topic.publish in ${((pubDone - firstSend) / 1000).toFixed(2)} s (${Math.round(N / ((pubDone - firstSend) / 1000))}/s acknowledged, window ${WINDOW})`);
  console.log(`delivery: ${got}/${N} events to one subscriber in ${secs.toFixed(2)} s = ${Math.round(got / secs)} deliveries/s; out of order or gaps: ${outOfOrder}`);
  console.log(`delivery latency (publish call to handler): p50 ${ms(pct(lat, 50))} p99 ${ms(pct(lat, 99))} max ${ms(Math.max(...lat))}`);

  // ---- 3. latency at a steady rate ----
  {
    const paced = `topic:paced${Date.now().toString(36)}`;
    const xs = [];
    let fin;
    const allPaced = new Promise((r) => (fin = r));
    await sub.subscribe(paced, (e) => {
      xs.push(now() - e.data.data.t);
      if (xs.length === PACED_N) fin();
    });
    const gap = 1000 / RATE;
    const start = performance.now();
    for (let i = 0; i < PACED_N; i++) {
      const wait = start + i * gap - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pub.request("topic.publish", { stream: paced, data: { i, t: now() } }).catch(() => {});
    }
    const to = setTimeout(() => fin(), 30000);
    await allPaced;
    clearTimeout(to);
    console.log(`steady ${RATE}/s: ${xs.length}/${PACED_N} delivered, latency p50 ${ms(pct(xs, 50))} p99 ${ms(pct(xs, 99))}`);
    if (xs.length !== PACED_N) process.exitCode = 1;
  }

  // ---- 4. catch-up of a backlog by a new subscriber ----
  const CATCH = Math.min(N, 5000);
  const c = await srv.signUp("catchup");
  const late = new ParleyClient(c.options);
  clients.push(late);
  await late.connect();
  let n3 = 0;
  let bad3 = 0;
  let end3;
  const all3 = new Promise((r) => (end3 = r));
  const t3 = now();
  let expect = N - CATCH;
  await late.subscribe(stream, (e) => {
    if (e.seq !== ++expect) bad3++;
    if (++n3 === CATCH) end3();
  }, { after: N - CATCH, onReset: (seq, reason) => { console.log(`catch-up: reset at ${seq} (${reason})`); end3(); } });
  const to3 = setTimeout(() => end3(), 60000);
  await all3;
  clearTimeout(to3);
  const s3 = (now() - t3) / 1000;
  console.log(`catch-up: ${n3}/${CATCH} replayed events to a new subscriber in ${s3.toFixed(2)} s = ${Math.round(n3 / s3)} deliveries/s; out of order or gaps: ${bad3}`);
  if (n3 !== CATCH || bad3) process.exitCode = 1;
  console.log(`node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  if (got !== N || outOfOrder) process.exitCode = 1;
} finally {
  for (const c of clients) c.close();
  await srv.stop();
}
