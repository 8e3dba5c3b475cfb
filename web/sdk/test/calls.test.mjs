// Team calls through the SDK against a real Parley node: start, ring on
// every device of the callee, decline, the call's stream folded into a
// CallState, and the end of a call nobody joined.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ParleyClient, Calls } from "../dist/index.js";
import { startServer } from "./server.mjs";

let srv;
const clients = [];
before(async () => {
  srv = await startServer();
});
after(async () => {
  for (const c of clients) c.close();
  await srv?.stop();
});

async function device(u) {
  const c = new ParleyClient(u.options);
  clients.push(c);
  await c.connect();
  return { c, calls: new Calls(c) };
}

const until = async (cond, what, ms = 10000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

test("a call rings the callee's devices; a decline stops the ring everywhere and ends the call", async () => {
  const ann = await srv.signUp("Ann");
  const bob = await srv.signUp("Bob");
  const a = await device(ann);
  const b1 = await device(bob);
  const b2 = await device(bob);
  const rings = [];
  const ended = [];
  for (const d of [b1, b2]) {
    d.calls.onRing((r) => rings.push(r));
    d.calls.onRingEnded((r) => ended.push(r));
  }

  const started = await a.calls.start({ members: [bob.user.id] });
  assert.match(started.call, /^call:/);
  assert.deepEqual([...started.members].sort(), [ann.user.id, bob.user.id].sort());
  await until(() => rings.length === 2, "the ring on both of Bob's devices");
  assert.ok(rings.every((r) => r.call === started.call && r.by === ann.user.id));

  const aw = await a.calls.watch(started.call);
  await until(() => aw.state.status === "active", "the caller's state to load");
  assert.equal(aw.state.startedBy, ann.user.id);
  assert.ok(aw.state.ringing.has(bob.user.id));
  const bw = await b1.calls.watch(started.call);

  await b1.calls.decline(started.call);
  await until(() => ended.length === 2, "the ring to stop on both devices");
  assert.ok(ended.every((r) => r.call === started.call));
  await until(() => aw.state.declined.has(bob.user.id), "the caller to see the decline");
  assert.ok(!aw.state.ringing.has(bob.user.id));
  // Nobody joined and nobody is left ringing: the call ends.
  await until(() => aw.state.status === "ended" && bw.state.status === "ended", "the call to end");
  assert.equal(aw.state.endReason, "declined");
  await assert.rejects(b1.calls.decline(started.call), (e) => ["conflict", "closed"].includes(e.code));
  await aw.close();
  await bw.close();
});

test("call.start refuses an empty call", async () => {
  const ann = await srv.signUp("Cy");
  const a = await device(ann);
  await assert.rejects(a.calls.start({ members: [] }), (e) => e.code === "invalid_argument");
});
