// The SDK's chat API against a real node: two people in a workspace post,
// edit, react, reply in threads, type, read, search, upload and download,
// and a post made offline is delivered once after the reconnect.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ParleyClient, Chat, snippetParts, applyReaction } from "../dist/index.js";
import { startServer } from "./server.mjs";

let srv;
const clients = [];
let ann, bob, ca, cb, A, B, ws, general;

before(async () => {
  // A free UDP port for media: other nodes may run on this machine.
  srv = await startServer({ env: { PARLEY_GATEWAY_HEARTBEAT_INTERVAL: "1s", PARLEY_MEDIA_UDP_ADDR: "127.0.0.1:0" } });
  ann = await srv.signUp("Ann");
  bob = await srv.signUp("Bob");
  ca = client(ann.options);
  cb = client(bob.options);
  await Promise.all([ca.connect(), cb.connect()]);
  A = new Chat(ca);
  B = new Chat(cb);
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

const until = async (cond, ms = 10000, what = "condition") => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 30));
  }
};

test("a workspace, an invite, and joining with its code", async () => {
  const r = await A.createWorkspace("Acme");
  assert.match(r.workspace.id, /^w_/);
  assert.equal(r.workspace.name, "Acme");
  ws = r.workspace.id;
  general = r.general;
  const inv = await A.createInvite(ws);
  assert.ok(inv.code.startsWith(`${ws}.`), inv.code);
  assert.ok(inv.link.endsWith(`/join/${inv.code}`));
  // A pasted link works as well as the bare code.
  const j = await B.joinWorkspace(inv.link);
  assert.equal(j.workspace.id, ws);
  assert.equal(j.role, "member");
  const boot = await B.boot(ws);
  assert.equal(boot.workspace, ws);
  assert.equal(boot.user, bob.user.id);
  assert.deepEqual(boot.workspaces.map((w) => w.name), ["Acme"]);
  assert.ok(boot.channels.some((c) => c.id === general && c.name === "general"), "bob is in #general");
  const members = await A.members({ workspace: ws });
  assert.deepEqual(members.map((m) => m.user).sort(), [ann.user.id, bob.user.id].sort());
});

test("post and receive, edit, react, thread reply, typing, over live updates", async () => {
  const got = [];
  const sub = await B.subscribeChannel(general, (u) => got.push(u));
  const typing = until(() => got.find((u) => u.type === "typing"), 5000, "typing");
  const t = await A.typing(general);
  assert.equal(t.sent, true);
  const ty = await typing;
  assert.equal(ty.user, ann.user.id);
  assert.ok(ty.expiresMs > 0);

  const p = await A.post(general, `hello @${bob.handle}`);
  assert.match(p.id, /^m\d+$/);
  assert.equal(p.duplicate, false);
  const msg = await until(() => got.find((u) => u.type === "message" && u.message.id === p.id), 5000, "the message");
  assert.equal(msg.message.author, ann.user.id);
  assert.equal(msg.message.text, `hello @${bob.handle}`);
  assert.deepEqual(msg.message.mentions, [bob.user.id]);
  assert.equal(msg.users[bob.user.id].handle, bob.handle, "mentioned profiles ride along");
  assert.equal(msg.message.seq, p.seq);

  const e = await A.edit(general, p.id, "hello everyone");
  assert.equal(e.changed, true);
  const ed = await until(() => got.find((u) => u.type === "edited" && u.id === p.id), 5000, "the edit");
  assert.equal(ed.text, "hello everyone");

  assert.equal((await B.react(general, p.id, "👍")).changed, true);
  assert.equal((await B.react(general, p.id, "👍")).changed, false, "reacting twice changes nothing");
  const re = await until(() => got.find((u) => u.type === "reaction"), 5000, "the reaction");
  assert.deepEqual([re.id, re.emoji, re.user, re.added], [p.id, "👍", bob.user.id, true]);

  const reply = await B.post(general, "a reply", { thread: p.id });
  const rep = await until(() => got.find((u) => u.type === "message" && u.message.id === reply.id), 5000, "the reply");
  assert.equal(rep.message.thread, p.id);
  assert.equal(rep.message.top, undefined, "replies are not top-level");

  const th = await A.thread(general, p.id, { min_seq: reply.seq });
  assert.deepEqual(th.messages.map((m) => m.id), [p.id, reply.id], "root first, then replies");
  const root = th.messages[0];
  assert.equal(root.text, "hello everyone");
  assert.ok(root.edited_at);
  assert.equal(root.reply_count, 1);
  assert.deepEqual(root.reactions, [{ emoji: "👍", count: 1, users: [bob.user.id] }]);

  // The history of the timeline holds the top-level message only.
  const hist = await B.history(general, { min_seq: reply.seq });
  assert.deepEqual(hist.messages.map((m) => m.id), [p.id]);

  assert.equal((await B.unreact(general, p.id, "👍")).changed, true);
  const un = await until(() => got.find((u) => u.type === "reaction" && !u.added), 5000, "the unreaction");
  applyReaction(root, un.emoji, un.user, un.added);
  assert.deepEqual(root.reactions, []);
  await sub.unsubscribe();
});

test("history pages backwards with before", async () => {
  const ch = await A.createChannel(ws, "paging");
  assert.equal(ch.name, "paging");
  const ids = [];
  for (let i = 0; i < 7; i++) ids.push((await A.post(ch.id, `n${i}`)).id);
  const last = await A.post(ch.id, "n7");
  ids.push(last.id);
  const p1 = await A.history(ch.id, { limit: 3, min_seq: last.seq });
  assert.deepEqual(p1.messages.map((m) => m.text), ["n5", "n6", "n7"]);
  assert.equal(p1.more_before, true);
  const p2 = await A.history(ch.id, { limit: 3, before: p1.messages[0].seq });
  assert.deepEqual(p2.messages.map((m) => m.text), ["n2", "n3", "n4"]);
  const p3 = await A.history(ch.id, { limit: 3, before: p2.messages[0].seq });
  assert.deepEqual(p3.messages.map((m) => m.text), ["n0", "n1"]);
  assert.equal(p3.more_before, false);
});

test("unread counts arrive as pushes and clear with mark_read", async () => {
  const ch = await A.createChannel(ws, "counts");
  await B.joinChannel(ch.id);
  const pushes = [];
  const off = B.onCounts((c) => pushes.push(c));
  await A.post(ch.id, "one");
  const p = await A.post(ch.id, `two @${bob.handle}`);
  const c = await until(() => pushes.findLast((x) => x.channel === ch.id && x.unread === 2 && x.mentions === 1), 5000, "counts push");
  assert.equal(c.workspace, ws);
  assert.equal(c.last_seq, p.seq);
  const boot = await B.boot(ws);
  const bc = boot.channels.find((x) => x.id === ch.id);
  assert.equal(bc.unread, 2);
  assert.equal(bc.mentions, 1);
  const read = await B.markRead(ch.id);
  assert.deepEqual([read.unread, read.mentions, read.read_seq], [0, 0, p.seq]);
  await until(() => pushes.findLast((x) => x.channel === ch.id)?.unread === 0, 5000, "cleared counts push");
  const mention = await B.mentions({ workspace: ws });
  assert.ok(mention.mentions.some((m) => m.channel === ch.id && m.id === p.id && m.by === ann.user.id));
  off();
});

test("search, autocomplete, profiles, directory and DMs", async () => {
  const p = await A.post(general, "the deployment of the zeppelin is on friday");
  const r = await until(async () => {
    const s = await B.search(ws, "zeppelin");
    return s.hits?.length ? s : null;
  }, 10000, "a search hit");
  assert.equal(r.hits[0].message.id, p.id);
  const parts = snippetParts(r.hits[0].snippet);
  assert.ok(parts.some((x) => x.match && x.text.toLowerCase() === "zeppelin"), JSON.stringify(parts));

  const ac = await A.autocomplete(ws, bob.handle.slice(0, 3), { channel: general });
  assert.ok(ac.some((u) => u.user === bob.user.id && u.profile.handle === bob.handle && u.in_channel === true));
  const prof = await A.profiles(ws, [bob.user.id]);
  assert.equal(prof[bob.user.id].profile.display_name, "Bob");
  const dir = await B.directory(ws);
  assert.ok(dir.some((c) => c.name === "general") && dir.some((c) => c.name === "paging"));
  const dm = await A.openDM(ws, [bob.user.id]);
  assert.equal(dm.kind, "dm");
  assert.equal((await B.openDM(ws, [ann.user.id])).id, dm.id, "the same people meet in the same DM");
  const info = await B.channel(dm.id);
  assert.equal(info.kind, "dm");
  assert.equal(info.member, true);
});

test("upload a file, attach it, download it", async () => {
  const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
  const progress = [];
  const up = await A.upload(general, new Blob([bytes]), "dot.png", { onProgress: (loaded, total) => progress.push([loaded, total]) });
  assert.ok(progress.length >= 1, "onProgress was called");
  assert.deepEqual(progress.at(-1), [bytes.length, bytes.length], "the last progress call has loaded == total");
  assert.equal(up.name, "dot.png");
  assert.equal(up.size, bytes.length);
  assert.equal(up.content_type, "image/png");
  const p = await A.post(general, "", { attachments: [up.id] });
  const m = await A.message(general, p.id);
  assert.deepEqual(m.attachments, [{ id: up.id, name: "dot.png", size: bytes.length, content_type: "image/png" }]);
  const blob = await B.download(up.id);
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), bytes);
  assert.equal(blob.type, "image/png");
  assert.equal(B.downloadUrl(up.id), `${srv.url}/v1/chat/uploads/${up.id}`);
  // Someone outside the workspace cannot read it.
  const eve = await srv.signUp("Eve");
  const ce = client(eve.options);
  await assert.rejects(new Chat(ce).download(up.id), (e) => e.code === "not_found");
});

test("pin and unpin: the pins list and the stream events", async () => {
  const events = [];
  const sub = await B.subscribeChannel(general, (u) => u.type === "pin" && events.push(u));
  const a = await A.post(general, "the release checklist");
  const b = await A.post(general, "the on-call rota");
  assert.deepEqual(await A.pins(general), []);
  assert.equal((await A.pin(general, a.id)).changed, true);
  assert.equal((await B.pin(general, b.id)).changed, true);
  assert.equal((await A.pin(general, a.id)).changed, false, "pinning twice changes nothing");
  let pins = await B.pins(general);
  assert.deepEqual(pins.map((m) => m.id), [b.id, a.id], "most recently pinned first");
  assert.ok(pins.every((m) => m.pinned === true));
  assert.equal(pins[1].text, "the release checklist");
  await A.unpin(general, b.id);
  pins = await A.pins(general);
  assert.deepEqual(pins.map((m) => m.id), [a.id]);
  assert.equal((await B.message(general, b.id)).pinned, undefined);
  await until(() => events.length >= 3, 5000, "three pin events");
  assert.deepEqual(events.map((e) => [e.id, e.pinned]), [[a.id, true], [b.id, true], [b.id, false]]);
  await sub.unsubscribe();
});

test("a post made while offline is delivered exactly once after the reconnect", async () => {
  const got = [];
  await B.subscribeChannel(general, (u) => u.type === "message" && got.push(u.message));
  const key = ca.newKey();
  let sent;
  await srv.restart({
    kill: true,
    whileDown: async () => {
      await until(() => ca.state === "reconnecting", 10000, "ann to notice the drop");
      sent = A.post(general, "written offline", { key });
      assert.equal(ca.pending, 1, "the post waits in the queue");
    },
  });
  const r = await sent;
  assert.equal(r.duplicate, false);
  // Retrying with the same key (a client that lost the answer) changes nothing.
  const again = await A.post(general, "written offline", { key });
  assert.equal(again.id, r.id);
  assert.equal(again.duplicate, true);
  await until(() => got.some((m) => m.id === r.id), 20000, "the offline post");
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(got.filter((m) => m.text === "written offline").length, 1, "delivered once");
  const h = await B.history(general, { min_seq: r.seq });
  assert.equal(h.messages.filter((m) => m.text === "written offline").length, 1, "stored once");
});
