// Live rooms beyond the basics, through the SDK against a real Parley node:
// settings and reports, removal as the removed user's RoomWatch sees it,
// who may see invite-only and workspace rooms, a scheduled room started
// while a visitor watches it, and keepAudio's refusal without WebRTC.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ParleyClient, Rooms, Chat, keepAudio } from "../dist/index.js";
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

async function user(name) {
  const u = await srv.signUp(name);
  const c = new ParleyClient(u.options);
  clients.push(c);
  await c.connect();
  return { ...u, c, rooms: new Rooms(c), chat: new Chat(c) };
}

const until = async (cond, what, ms = 10000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

const code = (p) => p.then(() => "ok", (e) => e?.code ?? String(e));

test("settings, reports and a removal, as the room's stream tells them", async () => {
  const host = await user("Host");
  const lis = await user("Listener");
  const { room } = await host.rooms.create({ title: "Moderated" });
  const hw = await host.rooms.watch(room);
  const lw = await lis.rooms.watch(room);
  await until(() => hw.state.listeners.includes(lis.user.id), "the listener in the host's audience");

  const c = await lis.rooms.comment(room, "first!");
  const s = await host.rooms.settings(room, { comments_off: true, slow_mode: 10 });
  assert.equal(s.comments_off, true);
  await until(() => lw.state.settings.comments_off && lw.state.settings.slow_mode === 10, "the settings on the listener's side");
  assert.equal(await code(lis.rooms.comment(room, "still there?")), "forbidden");
  assert.equal(await code(host.rooms.comment(room, "hosts may talk")), "ok");
  assert.equal(await code(lis.rooms.settings(room, { comments_off: false })), "forbidden");

  const r1 = await host.rooms.report(room, { comment: c.comment }, "spam");
  assert.equal(typeof r1.report, "number");
  const r2 = await lis.rooms.report(room, { user: host.user.id });
  assert.equal(typeof r2.report, "number");

  const seen = [];
  lw.on((e) => seen.push(e.event));
  await host.rooms.kick(room, lis.user.id);
  await until(() => lw.state.removed, "the listener's state to say removed");
  assert.ok(seen.includes("room.kicked") || seen.includes("room.removed"), `events: ${seen}`);
  assert.equal(lw.state.you.role, "visitor");
  await until(() => !hw.state.listeners.includes(lis.user.id), "the listener gone from the host's audience");
  assert.equal(await code(lis.rooms.join(room)), "forbidden");
  await lw.close({ leave: false });
  await hw.close();
});

test("invite-only and workspace rooms: guests and members see them, others do not", async () => {
  const host = await user("Host");
  const guest = await user("Guest");
  const other = await user("Other");

  const inv = await host.rooms.create({ title: "Private", visibility: "invite" });
  assert.equal(await code(guest.rooms.get(inv.room)), "forbidden");
  assert.equal(await code(guest.rooms.listing(inv.room)), "not_found");
  const pushed = new Promise((resolve) => guest.c.onPush("room.invitation", (p) => resolve(p.data)));
  assert.equal((await host.rooms.guests(inv.room, [guest.user.id])).added, 1);
  const push = await pushed;
  assert.equal(String(push.room).replace(/^room:/, ""), inv.room);
  assert.equal(push.title, "Private");
  assert.equal((await guest.rooms.get(inv.room)).title, "Private");
  assert.equal(await code(other.rooms.get(inv.room)), "forbidden");

  const ws = await host.chat.createWorkspace("Acme");
  const invite = await host.chat.createInvite(ws.workspace.id);
  await guest.chat.joinWorkspace(invite.code);
  const wr = await host.rooms.create({ title: "Team sync", visibility: "workspace", workspace: ws.workspace.id });
  const snap = await guest.rooms.get(wr.room);
  assert.equal(snap.visibility, "workspace");
  assert.equal(snap.workspace, ws.workspace.id);
  assert.equal(await code(other.rooms.get(wr.room)), "forbidden");
  assert.equal(await code(other.rooms.listing(wr.room)), "not_found");
  // The member's home lists it (homes are computed by workers).
  await until(async () => (await guest.rooms.home()).rooms.some((e) => e.room === wr.room && e.reason === "workspace"), "the workspace room in the member's home");
  assert.ok((await host.rooms.list({ workspace: ws.workspace.id })).rooms.some((l) => l.room === wr.room));
  assert.equal(await code(other.rooms.list({ workspace: ws.workspace.id })), "forbidden");
});

test("a scheduled room: interest, then the start turns a visitor's watch live", async () => {
  const host = await user("Host");
  const fan = await user("Fan");
  const at = new Date(Date.now() + 3600_000);
  const { room, status } = await host.rooms.create({ title: "Later", scheduled_at: at });
  assert.equal(status, "scheduled");
  await until(async () => (await fan.rooms.list({ status: "upcoming" })).rooms.some((l) => l.room === room), "the room listed upcoming");

  const fw = await fan.rooms.watch(room);
  assert.equal(fw.state.status, "scheduled");
  assert.equal(fw.state.you.role, "visitor");
  const r = await fan.rooms.interest(room, true);
  assert.deepEqual(r, { interested: true, count: 1 });
  await until(() => fw.state.counts.interested === 1 && fw.state.you.interested, "the interest in the fan's state");

  const started = new Promise((resolve) => fan.c.onPush("room.started", (p) => resolve(p.data)));
  await host.rooms.start(room);
  await until(() => fw.state.status === "live", "the fan's watch to turn live");
  assert.equal(String((await started).room).replace(/^room:/, ""), room);
  await until(async () => (await fan.rooms.list({ status: "live" })).rooms.some((l) => l.room === room), "the room listed live");
  await fw.close();
  // Followed as a live room, the fan joins as a listener.
  const fw2 = await fan.rooms.watch(room);
  assert.equal(fw2.state.you.role, "listener");
  await fw2.close();
});

test("keepAudio refuses without WebRTC and joins nothing", async () => {
  const u = await user("NoRTC");
  const { room } = await u.rooms.create({ title: "Quiet" });
  await u.rooms.join(room);
  await assert.rejects(keepAudio(u.c, `room:${room}`), (e) => e.code === "unavailable");
  assert.equal(u.c.state, "open");
});
