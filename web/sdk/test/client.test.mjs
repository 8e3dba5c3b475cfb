// The SDK's connection against a real Parley node: sign-up/in/out,
// requests and their error codes, subscriptions and pushes, HTTP.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { ParleyClient, ParleyError, memoryStorage } from "../dist/index.js";
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

function client(opts) {
  const c = new ParleyClient(opts);
  clients.push(c);
  return c;
}

const until = async (cond, ms = 10000, what = "condition") => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test("sign up, sign out, sign in, and the errors of each", async () => {
  const storage = memoryStorage();
  const c = client({ baseUrl: srv.url, WebSocket, storage });
  const seen = [];
  c.onSession((s) => seen.push(s ? s.user.handle : null));
  const handle = `ann${Date.now().toString(36)}`;
  const email = `${handle}@example.com`;
  const s = await c.signUp({ email, password: "a long password", handle, display_name: "Ann" });
  assert.equal(s.user.handle, handle);
  assert.equal(c.user.handle, handle);
  assert.ok(storage.getItem("parley.session"), "the session is persisted");

  // A second client on the same storage is signed in already (a reload).
  const again = client({ baseUrl: srv.url, WebSocket, storage });
  assert.equal(again.user?.id, s.user.id);
  const me = await again.http("GET", "/v1/me");
  assert.equal(me.handle, handle);

  await assert.rejects(
    c.signUp({ email, password: "a long password", handle: handle + "x", display_name: "Ann" }),
    (e) => e instanceof ParleyError && e.code === "already_exists" && e.status === 409 && /email/.test(e.message),
  );

  await c.connect();
  assert.equal(c.state, "open");
  await c.signOut();
  assert.equal(c.session, null);
  assert.equal(c.state, "closed");
  assert.equal(storage.getItem("parley.session"), null);
  // The session is revoked on the server: its access token is refused.
  const r = await fetch(`${srv.url}/v1/me`, { headers: { Authorization: `Bearer ${s.access_token}` } });
  assert.equal(r.status, 401);

  await assert.rejects(
    c.signIn({ email, password: "wrong password" }),
    (e) => e instanceof ParleyError && e.code === "bad_credentials" && e.status === 401,
  );
  const s2 = await c.signIn({ email, password: "a long password" });
  assert.equal(s2.user.id, s.user.id);
  assert.deepEqual(seen, [handle, null, handle]);
});

test("requests answer results, and errors with stable codes", async () => {
  const u = await srv.signUp("bob");
  const c = client(u.options);
  const states = [];
  c.onState((s) => states.push(s));
  await c.connect();
  assert.deepEqual(states, ["connecting", "open"]);

  const r = await c.request("topic.publish", { stream: "topic:req", data: { n: 1 } });
  assert.equal(r.stream, "topic:req");
  assert.equal(r.seq, 1);

  await assert.rejects(c.request("no.such.method", {}), (e) => e instanceof ParleyError && e.code === "unknown_method");
  await assert.rejects(
    c.request("subscribe", { stream: "not a stream" }),
    (e) => e instanceof ParleyError && e.code === "invalid_argument",
  );
  await assert.rejects(
    c.subscribe(`user:u_someoneelse`, () => {}),
    (e) => e instanceof ParleyError && e.code === "forbidden",
  );
  // The connection survives failed requests.
  assert.equal(c.state, "open");
  const again = await c.request("topic.publish", { stream: "topic:req", data: { n: 2 }, key: "k1" });
  assert.equal(again.seq, 2);
  const dup = await c.request("topic.publish", { stream: "topic:req", data: { n: 2 }, key: "k1" });
  assert.equal(dup.seq, 2);
  assert.equal(dup.duplicate, true);

  // HTTP errors are ParleyErrors too.
  await assert.rejects(c.http("GET", "/v1/users/u_nobody"), (e) => e instanceof ParleyError && e.code === "not_found" && e.status === 404);

  // Not connected: a plain request fails at once with "disconnected".
  const off = client((await srv.signUp("off")).options);
  await assert.rejects(off.request("presence.get", { users: [u.user.id] }), (e) => e.code === "disconnected");
});

test("subscribe delivers events in order, catches up with after, and ends on unsubscribe", async () => {
  const u = await srv.signUp("cat");
  const pub = client(u.options);
  const sub = client((await srv.signUp("dan")).options);
  await Promise.all([pub.connect(), sub.connect()]);
  const stream = `topic:order${Date.now().toString(36)}`;
  for (let i = 1; i <= 3; i++) await pub.request("topic.publish", { stream, data: { i } });

  const got = [];
  const s = await sub.subscribe(stream, (e) => got.push(e), { after: 1 });
  assert.equal(s.stream, stream);
  for (let i = 4; i <= 10; i++) await pub.request("topic.publish", { stream, event: "tick", data: { i } });
  await until(() => got.length === 9, 10000, "9 events");
  assert.deepEqual(
    got.map((e) => e.seq),
    [2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  assert.equal(got[0].event, "topic.published");
  assert.deepEqual(got[5].data.data, { i: 7 });
  assert.equal(got[5].actor, u.user.id);
  assert.equal(s.seq, 10);

  await s.unsubscribe();
  await pub.request("topic.publish", { stream, data: { i: 11 } });
  await sub.request("presence.get", { users: [u.user.id] }); // a round trip after the publish
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(got.length, 9);
});

test("pushes reach onPush handlers by event and with *", async () => {
  // A chat workspace invite by one user to another produces pushes
  // (chat.workspace_added) on the added user's connections.
  const a = await srv.signUp("eve");
  const b = await srv.signUp("fay");
  const ca = client(a.options);
  const cb = client(b.options);
  await Promise.all([ca.connect(), cb.connect()]);
  const named = [];
  const all = [];
  const off = cb.onPush("chat.workspace_added", (p) => named.push(p));
  cb.onPush("*", (p) => all.push(p));
  const ws = await ca.request("chat.workspace.create", { name: "Pushes" });
  await ca.request("chat.member.add", { workspace: ws.workspace.id, user: b.user.id });
  await until(() => named.length === 1, 10000, "chat.workspace_added push");
  assert.equal(named[0].data.workspace, ws.workspace.id);
  assert.ok(all.some((p) => p.event === "chat.workspace_added"));
  off();
});
