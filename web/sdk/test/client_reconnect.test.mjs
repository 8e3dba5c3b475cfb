// Reconnect, resume by sequence, the outgoing queue and token refresh,
// against a real node that is restarted under the clients.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ParleyClient, Backoff, backoffDelay, backoffWindow } from "../dist/index.js";
import { startServer } from "./server.mjs";

let srv;
const clients = [];
before(async () => {
  // A short heartbeat so that a dead server is noticed quickly, and an
  // access token that expires within the test.
  srv = await startServer({ env: { PARLEY_AUTH_ACCESS_TTL: "10s", PARLEY_GATEWAY_HEARTBEAT_INTERVAL: "1s" } });
});
after(async () => {
  for (const c of clients) c.close();
  await srv?.stop();
});

function client(opts) {
  const c = new ParleyClient({ ...opts, backoff: { baseMs: 100, capMs: 1000 } });
  clients.push(c);
  return c;
}

const until = async (cond, ms = 20000, what = "condition") => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test("backoff delays are full jitter within [0, min(cap, base*2^n)]", () => {
  const opts = { baseMs: 100, capMs: 5000 };
  assert.equal(backoffWindow(0, opts), 100);
  assert.equal(backoffWindow(3, opts), 800);
  assert.equal(backoffWindow(6, opts), 5000);
  assert.equal(backoffWindow(5000, opts), 5000);
  assert.equal(backoffDelay(4, { ...opts, random: () => 0 }), 0);
  assert.equal(backoffDelay(4, { ...opts, random: () => 0.999999 }), 1599);
  const b = new Backoff(opts);
  const seen = new Set();
  for (let n = 0; n < 12; n++) {
    const d = b.next();
    assert.ok(d >= 0 && d <= Math.min(5000, 100 * 2 ** n), `attempt ${n}: ${d}`);
    assert.ok(Number.isInteger(d));
  }
  // Jitter: many draws of one window are spread over it.
  for (let i = 0; i < 200; i++) seen.add(Math.floor(backoffDelay(10, opts) / 500));
  assert.ok(seen.size >= 8, `delays spread over the window (buckets ${[...seen]})`);
  b.reset();
  assert.equal(b.attempts, 0);
  assert.ok(b.next() <= 100);
});

test("a restarted server: the client reconnects and resumes without gap or duplicate; queued requests apply once", async () => {
  const pub = await srv.signUp("pub");
  const sub = await srv.signUp("sub");
  const cp = client(pub.options);
  const cs = client(sub.options);
  await Promise.all([cp.connect(), cs.connect()]);
  const stream = `topic:resume${Date.now().toString(36)}`;
  const got = [];
  const s = await cs.subscribe(stream, (e) => got.push(e.data.data.i));
  for (let i = 1; i <= 5; i++) await cp.request("topic.publish", { stream, data: { i } });
  await until(() => got.length === 5, 10000, "events before the restart");

  const states = [];
  cs.onState((st) => states.push(st));
  const pendings = [];
  cp.onQueue((n) => pendings.push(n));

  // While the server is down the publisher queues three events; plain
  // requests fail at once offline.
  let queued;
  await srv.restart({
    kill: true,
    whileDown: async () => {
      await until(() => cp.state === "reconnecting", 10000, "the publisher to notice the drop");
      await assert.rejects(cp.request("presence.get", { users: [sub.user.id] }), (e) => e.code === "disconnected");
      queued = [6, 7, 8].map((i) => cp.request("topic.publish", { stream, data: { i } }, { queue: true }));
      assert.equal(cp.pending, 3);
    },
  });
  const results = await Promise.all(queued);
  assert.deepEqual(
    results.map((r) => r.seq),
    [6, 7, 8],
  );
  assert.ok(results.every((r) => !r.duplicate));
  assert.equal(cp.pending, 0);
  assert.equal(pendings.at(-1), 0);
  assert.ok(Math.max(...pendings) === 3);

  for (let i = 9; i <= 10; i++) await cp.request("topic.publish", { stream, data: { i } });
  await until(() => got.length >= 10, 20000, "events after the restart");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "no gap, no duplicate");
  assert.equal(s.seq, 10);
  assert.ok(states.includes("reconnecting") && states.at(-1) === "open", `states ${states}`);
});

test("events published while the subscriber is down are replayed on resume", async () => {
  const pub = await srv.signUp("pub2");
  const sub = await srv.signUp("sub2");
  const cp = client(pub.options);
  const cs = client(sub.options);
  await Promise.all([cp.connect(), cs.connect()]);
  const stream = `topic:gap${Date.now().toString(36)}`;
  const got = [];
  await cs.subscribe(stream, (e) => got.push(e.seq));
  await cp.request("topic.publish", { stream, data: {} });
  await until(() => got.length === 1);

  await srv.restart({ downMs: 200 });
  // The publisher comes back first (queue: it publishes as soon as it can);
  // whichever reconnects first, the subscriber sees every event once.
  const rs = [];
  for (let i = 0; i < 4; i++) rs.push(cp.request("topic.publish", { stream, data: {} }, { queue: true }));
  await Promise.all(rs);
  await until(() => got.length === 5, 20000, "replayed events");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(got, [1, 2, 3, 4, 5]);
});

test("a queued request whose answer was lost is applied once", async () => {
  const u = await srv.signUp("once");
  const w = await srv.signUp("watch");
  const c = client(u.options);
  const cw = client(w.options);
  await Promise.all([c.connect(), cw.connect()]);
  const stream = `topic:once${Date.now().toString(36)}`;
  const seen = [];
  await cw.subscribe(stream, (e) => seen.push(e.seq));
  // The server applies the request but its answer never reaches the
  // client (the socket stops being read), then the connection drops: the
  // request is sent again after the reconnect with the same key.
  c["ws"].onmessage = null;
  const p = c.request("topic.publish", { stream, data: { x: 1 } }, { queue: true });
  await until(() => seen.length === 1, 10000, "the first publish to be applied");
  c["ws"].close(); // as a network drop would
  const r = await p;
  assert.equal(r.seq, 1);
  assert.equal(r.duplicate, true, "the retry was recognised by its key");
  await until(() => c.state === "open");
  const next = await c.request("topic.publish", { stream, data: { x: 2 } });
  assert.equal(next.seq, 2, "the first publish was applied once");
  await until(() => seen.length === 2);
  assert.deepEqual(seen, [1, 2]);
});

test("the access token is refreshed before it expires, on HTTP and the live connection", async () => {
  const u = await srv.signUp("fresh");
  const c = client(u.options);
  await c.connect();
  const first = c.session;
  const sessions = [];
  c.onSession((s) => sessions.push(s));
  // The token lives 10 s; the client refreshes about 2 s before.
  await until(() => sessions.length >= 1, 15000, "a refresh");
  assert.notEqual(c.session.access_token, first.access_token);
  assert.notEqual(c.session.refresh_token, first.refresh_token);
  // Past the first token's expiry the connection is still the same one and works.
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(first.expires_at) - Date.now() + 1500)));
  assert.equal(c.state, "open");
  const res = await c.request("topic.publish", { stream: "topic:fresh", data: {} });
  assert.ok(res.seq >= 1);
  const me = await c.http("GET", "/v1/me");
  assert.equal(me.id, u.user.id);
});

test("a revoked session closes the client and signs it out", async () => {
  const u = await srv.signUp("gone");
  const c = client(u.options);
  await c.connect();
  const ended = [];
  c.onSession((s) => ended.push(s));
  // Another device signs the same session out (logout with its token).
  const r = await fetch(`${srv.url}/v1/auth/logout`, {
    method: "POST",
    headers: { Authorization: `Bearer ${u.session.access_token}` },
  });
  assert.equal(r.status, 204);
  await until(() => c.state === "closed", 10000, "closed");
  assert.deepEqual(ended, [null]);
  assert.equal(c.session, null);
});
