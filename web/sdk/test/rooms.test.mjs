// Live rooms through the SDK against a real Parley node: create, join,
// hand -> invite -> speaker, comments, reactions, polls, mute, end and
// summary, with RoomWatch keeping each side's RoomState current.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ParleyClient, Rooms, ParleyError } from "../dist/index.js";
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
  return { ...u, c, rooms: new Rooms(c) };
}

const until = async (cond, what, ms = 10000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

test("a live room from creation to summary, as host and listener see it", async () => {
  const host = await user("Host");
  const lis = await user("Listener");

  const created = await host.rooms.create({ title: "SDK room", description: "testing" });
  assert.equal(created.status, "live");
  assert.equal(created.stream, `room:${created.room}`);

  const hw = await host.rooms.watch(created.room);
  assert.equal(hw.state.you.role, "host");
  assert.deepEqual(hw.state.stage.map((m) => m.user), [host.user.id]);

  // The listing shows it live.
  await until(async () => (await lis.rooms.list()).rooms.some((r) => r.room === created.room), "the room listed live");
  const listing = await lis.rooms.listing(created.room);
  assert.equal(listing.title, "SDK room");

  const lw = await lis.rooms.watch(created.room);
  assert.equal(lw.state.you.role, "listener");
  await until(() => hw.state.listeners.includes(lis.user.id), "the host to see the listener join");
  await until(() => hw.state.counts.total === 2, "the host's count to reach 2");

  // Hand -> invitation -> speaker.
  assert.equal((await lis.rooms.hand(created.room, true)).raised, true);
  await until(() => hw.state.hands.includes(lis.user.id), "the hand in the host's queue");
  assert.equal(lw.state.you.hand, true);
  const q = await host.rooms.hands(created.room);
  assert.deepEqual(q.users, [lis.user.id]);
  await host.rooms.invite(created.room, lis.user.id);
  await until(() => lw.state.you.invited, "the listener to see the invitation");
  assert.ok(hw.state.invited.includes(lis.user.id));
  await lis.rooms.answerInvite(created.room, true);
  await until(() => lw.state.you.role === "speaker", "the listener to become a speaker");
  await until(() => hw.state.stage.some((m) => m.user === lis.user.id && m.role === "speaker"), "the host to see the new speaker");
  assert.ok(!hw.state.hands.includes(lis.user.id), "the hand left the queue");
  assert.ok(!hw.state.listeners.includes(lis.user.id), "the speaker left the audience list");
  assert.equal(lw.state.you.hand, false);

  // A moderator's mute, locked: the speaker cannot unmute.
  await lis.rooms.mute(created.room, false);
  await until(() => hw.state.stage.find((m) => m.user === lis.user.id)?.muted === false, "the speaker unmuted");
  await host.rooms.muteUser(created.room, lis.user.id, { locked: true });
  await until(() => lw.state.you.muted && lw.state.you.locked, "the speaker muted and locked");
  await assert.rejects(lis.rooms.mute(created.room, false), (e) => e instanceof ParleyError && e.code === "forbidden");

  // Comments and the pinned comment.
  const c1 = await lis.rooms.comment(created.room, "hello room");
  await until(() => hw.state.comments.some((c) => c.n === c1.comment && c.text === "hello room" && c.user === lis.user.id), "the host to see the comment");
  await host.rooms.pin(created.room, c1.comment);
  await until(() => lw.state.pinned?.n === c1.comment, "the pinned comment");
  assert.equal(lw.state.pinned.text, "hello room");
  await host.rooms.unpin(created.room);
  await until(() => lw.state.pinned == null, "the pin removed");

  // Reactions: the totals reach both.
  const ticks = [];
  hw.on((e) => { if (e.event === "room.reactions") ticks.push(e.data.counts); });
  await lis.rooms.react(created.room, "🔥", 3);
  await until(() => (hw.state.reactions["🔥"] ?? 0) === 3 && (lw.state.reactions["🔥"] ?? 0) === 3, "the reactions counted");
  assert.ok(ticks.some((t) => t["🔥"] === 3), "a tick carried the three reactions");

  // A poll: open, vote from both, live totals, close.
  const p = await host.rooms.openPoll(created.room, "Tabs or spaces?", ["tabs", "spaces"]);
  await until(() => lw.state.polls.some((x) => x.poll === p.poll && x.open), "the listener to see the poll");
  await lis.rooms.vote(created.room, p.poll, 1);
  await host.rooms.vote(created.room, p.poll, 1);
  await assert.rejects(lis.rooms.vote(created.room, p.poll, 0), (e) => e.code === "already_exists");
  await until(() => hw.state.polls.find((x) => x.poll === p.poll)?.votes === 2, "both votes counted");
  assert.deepEqual(lw.state.polls.find((x) => x.poll === p.poll).totals.length, 2);
  await until(() => lw.state.you.voted.includes(p.poll), "the listener's vote recorded in its state");
  const closed = await host.rooms.closePoll(created.room, p.poll);
  assert.deepEqual(closed.totals, [0, 2]);
  await until(() => lw.state.polls.find((x) => x.poll === p.poll)?.open === false, "the poll closed for the listener");

  // The end, and the summary on both sides.
  const ended = await host.rooms.end(created.room);
  assert.equal(ended.status, "ended");
  await until(() => lw.state.status === "ended" && lw.state.summary, "the listener to see the end");
  assert.ok(lw.state.summary.speakers.includes(lis.user.id));
  assert.equal(lw.state.summary.comments, 1);
  await until(async () => {
    try {
      const s = await lis.rooms.summary(created.room);
      return s.peak_concurrent === 2 && s.polls.length === 1 && s.reactions_total === 3;
    } catch (e) {
      if (e.code === "not_found") return false;
      throw e;
    }
  }, "the summary over HTTP");
  await hw.close();
  await lw.close();
});

test("a scheduled room: upcoming listing, interest, start", async () => {
  const host = await user("Planner");
  const fan = await user("Fan");
  const at = new Date(Date.now() + 3600_000);
  const r = await host.rooms.create({ title: "Later", scheduled_at: at });
  assert.equal(r.status, "scheduled");
  await until(async () => (await fan.rooms.list({ status: "upcoming" })).rooms.some((x) => x.room === r.room), "listed as upcoming");
  const fw = await fan.rooms.watch(r.room);
  assert.equal(fw.state.status, "scheduled");
  const i = await fan.rooms.interest(r.room, true);
  assert.deepEqual([i.interested, i.count], [true, 1]);
  await until(() => fw.state.you.interested && fw.state.counts.interested === 1, "interest applied to the fan's state");
  const started = new Promise((res) => fan.c.onPush("room.started", (p) => res(p.data)));
  await host.rooms.start(r.room);
  assert.equal((await started).room.replace(/^room:/, ""), r.room);
  await until(() => fw.state.status === "live", "the fan to see the start");
  await fw.close();
  await host.rooms.end(r.room);
});

test("a moderator appointed by the host removes a listener, whose watch learns it", async () => {
  const host = await user("Boss");
  const mod = await user("Mod");
  const lis = await user("Rowdy");
  const r = await host.rooms.create({ title: "Moderated" });
  const hw = await host.rooms.watch(r.room);
  const mw = await mod.rooms.watch(r.room);
  const lw = await lis.rooms.watch(r.room);
  await until(() => hw.state.listeners.includes(mod.user.id) && hw.state.listeners.includes(lis.user.id), "both in the audience");
  await host.rooms.setRole(r.room, mod.user.id, "moderator");
  await until(() => mw.state.you.role === "moderator", "the moderator's own state");
  assert.ok(lw.state.stage.some((m) => m.user === mod.user.id && m.role === "moderator"));
  await assert.rejects(lis.rooms.kick(r.room, mod.user.id), (e) => e.code === "forbidden");
  await mod.rooms.kick(r.room, lis.user.id);
  await until(() => lw.state.removed, "the removed listener's watch to know");
  await until(() => !hw.state.listeners.includes(lis.user.id), "the host's audience without them");
  await assert.rejects(lis.rooms.join(r.room), (e) => ["forbidden", "not_found"].includes(e.code));
  await host.rooms.end(r.room);
  await until(() => mw.state.status === "ended", "the end");
  for (const w of [hw, mw, lw]) await w.close();
});
