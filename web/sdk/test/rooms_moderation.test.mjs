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

test("the moderation inbox: reports arrive live to the host, with history for a new moderator", async () => {
  const host = await user("Host");
  const lis = await user("Listener");
  const mod = await user("Mod");
  const { room } = await host.rooms.create({ title: "Inbox" });
  const hw = await host.rooms.watch(room);
  await lis.rooms.watch(room);
  const mw = await mod.rooms.watch(room);

  const got = [];
  const sub = await host.rooms.moderation(room, (r) => got.push(r));
  // Not a moderator yet: the inbox is closed to them.
  assert.equal(await code(mod.rooms.moderation(room, () => {})), "forbidden");

  const c = await lis.rooms.comment(room, "buy cheap pills");
  const r1 = await lis.rooms.report(room, { comment: c.comment }, "spam");
  const r2 = await mod.rooms.report(room, { user: lis.user.id }, "rude");
  await until(() => got.length === 2, "two reports in the host's inbox");
  assert.deepEqual(
    { report: got[0].report, by: got[0].by, user: got[0].user, comment: got[0].comment, text: got[0].text, reason: got[0].reason },
    { report: r1.report, by: lis.user.id, user: lis.user.id, comment: c.comment, text: "buy cheap pills", reason: "spam" });
  assert.equal(got[1].report, r2.report);
  assert.equal(got[1].by, mod.user.id);
  assert.equal(got[1].user, lis.user.id);
  assert.equal(got[1].comment, undefined);
  assert.equal(got[1].reason, "rude");
  assert.ok(got[1].seq > got[0].seq);

  // Made a moderator, Mod reads the inbox from the start.
  await host.rooms.setRole(room, mod.user.id, "moderator");
  await until(() => mw.state.you.role === "moderator", "the moderator role");
  const seen = [];
  const msub = await mod.rooms.moderation(room, (r) => seen.push(r));
  await until(() => seen.length === 2, "the inbox's history for the new moderator");
  assert.deepEqual(seen.map((r) => r.report), [r1.report, r2.report]);

  // Acting on a report: the moderator deletes the comment, the host blocks the person.
  await mod.rooms.deleteComment(room, c.comment);
  await until(() => !hw.state.comments.some((x) => x.n === c.comment), "the comment gone");
  await host.rooms.block(room, lis.user.id);
  await until(() => !hw.state.listeners.includes(lis.user.id), "the blocked listener gone");
  await sub.unsubscribe();
  await msub.unsubscribe();
  await hw.close();
  await mw.close();
});

test("the block list: blocked people cannot join the host's rooms until unblocked", async () => {
  const host = await user("Host");
  const pest = await user("Pest");
  const other = await user("Other");
  assert.deepEqual((await host.rooms.blocks()).users, []);
  await host.rooms.blockUser(pest.user.id);
  await host.rooms.blockUser(pest.user.id); // idempotent
  assert.deepEqual((await host.rooms.blocks()).users, [pest.user.id]);

  const { room } = await host.rooms.create({ title: "No pests" });
  const err = await pest.rooms.join(room).then(() => null, (e) => e);
  assert.equal(err?.code, "forbidden");
  assert.match(err.message, /blocked/);
  assert.equal(await code(pest.rooms.listing(room)), "not_found");
  assert.equal(await code(other.rooms.join(room)), "ok");

  // room.block by the host adds to the same list.
  await other.rooms.leave(room);
  await host.rooms.block(room, other.user.id);
  await until(async () => (await host.rooms.blocks()).users.includes(other.user.id), "room.block on the host's list");

  await host.rooms.unblockUser(pest.user.id);
  assert.ok(!(await host.rooms.blocks()).users.includes(pest.user.id));
  assert.equal(await code(pest.rooms.join(room)), "ok");
});
