// Live rooms beyond the basics, in Chromium: a scheduled room (another user
// marks Interested, the host starts it, it shows under Live now); moderator
// controls in the UI (move a speaker to the audience, make a moderator, the
// moderator's settings turn comments off, report a comment, remove someone,
// who sees it); a workspace room created in the UI, seen by a member and
// hidden from others; the audio joining again by itself after the
// WebSocket drops.
import { launch, shot, step, visible, until } from "./apphelpers.mjs";
import * as helpers from "./apphelpers.mjs";
import { bots } from "./app_rooms_bots.mjs";

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36);

const signUp = (page, name, handle) => helpers.signUp(opts, page, name, handle);

const roomOf = async (page) => (await page.evaluate(() => location.hash)).replace("#/room/", "");
const menu = async (page, scope, item) => {
  await scope.locator("summary").first().click();
  await scope.getByRole("menuitem", { name: item }).click();
};

const pages = [];
try {
  const host = await b.newUser({ width: 1280, height: 900 });
  const gia = await b.newUser({ width: 1280, height: 800 });
  pages.push(host, gia);
  // The host's WebSocket goes through a route the test can cut.
  let down = false;
  const routes = new Set();
  await host.routeWebSocket(/\/v1\/ws$/, (ws) => {
    if (down) {
      ws.close();
      return;
    }
    const server = ws.connectToServer();
    routes.add({ ws, server });
  });
  let hostId, giaId;
  const people = await bots(b, opts.url);

  await step("sign up the host and a guest through the app", async () => {
    hostId = await signUp(host, "Hana Host", `hana${tag}`);
    giaId = await signUp(gia, "Gia Guest", `gia${tag}`);
  });

  const sched = `Launch party ${tag}`;
  await step("the host schedules a room; the guest marks Interested", async () => {
    await host.goto(opts.url + "/#/rooms");
    await host.getByRole("button", { name: "Create room", exact: true }).click();
    await host.getByLabel("Title").fill(sched);
    await host.getByLabel("Schedule for later").check();
    await host.getByRole("button", { name: "Schedule room" }).click();
    await visible(host.getByRole("button", { name: "Start now" }), "the scheduled room's page");
    await gia.goto(opts.url + "/#/rooms");
    const card = gia.getByRole("list", { name: "Upcoming rooms" }).locator(".rm-card", { hasText: sched });
    await visible(card, "the room under Upcoming", 20000);
    await card.getByRole("button", { name: "☆ Interested" }).click();
    await visible(card.getByRole("button", { name: "★ Interested" }), "the interest marked");
    await visible(host.getByText("1 interested"), "the interest on the host's page");
  });

  await step("the host starts it; it shows under Live now and the guest joins", async () => {
    await host.getByRole("button", { name: "Start now" }).click();
    await visible(host.getByRole("heading", { name: "On stage · 1" }), "the live room on the host's page");
    const live = gia.getByRole("list", { name: "Live rooms" }).getByRole("link", { name: `Join ${sched}` });
    await visible(live, "the started room under Live now", 20000);
    if (await gia.getByRole("list", { name: "Upcoming rooms" }).locator(".rm-card", { hasText: sched }).count()) throw new Error("the room is still upcoming");
    await live.click();
    await visible(gia.getByRole("button", { name: "✋ Raise hand" }), "the guest in the room");
  });

  let room, mia;
  await step("moderation: a speaker is moved to the audience, the guest made moderator", async () => {
    room = await roomOf(host);
    mia = await people.add("Mia Speaker");
    await people.add("Noah Park");
    await people.enter("Mia Speaker", room);
    await people.enter("Noah Park", room);
    await people.req("Mia Speaker", "room.hand", { room, raised: true });
    await host.getByRole("button", { name: "Invite Mia Speaker to speak" }).click();
    await until(() => people.req("Mia Speaker", "room.invite.answer", { room, accept: true }).then(() => true, () => false), "Mia accepting");
    const tile = host.locator(`.rm-stage [data-user="${mia}"]`);
    await visible(tile, "Mia on the stage");
    await menu(host, tile, "Move to audience");
    await visible(host.locator(`.rm-audience [data-user="${mia}"]`), "Mia back in the audience");
    await visible(gia.locator(`.rm-audience [data-user="${mia}"]`), "Mia in the audience on the guest's page");
    if (await host.locator(`.rm-stage [data-user="${mia}"]`).count()) throw new Error("Mia is still on the stage");

    await menu(host, host.locator(`.rm-audience [data-user="${giaId}"]`), "Make moderator");
    await visible(gia.locator(`.rm-stage [data-user="${giaId}"] .rm-role`, { hasText: "Moderator" }), "the guest's moderator badge");
    await visible(gia.getByRole("button", { name: "Settings" }), "the moderator's settings button");
  });

  await step("the moderator reports a comment and turns comments off", async () => {
    await people.req("Noah Park", "room.comment", { room, text: `buy cheap followers ${tag}` });
    const row = gia.locator(".rm-comment", { hasText: "buy cheap followers" });
    await visible(row, "Noah's comment");
    await row.getByLabel(/Actions for comment/).click();
    await row.getByRole("menuitem", { name: /Report comment/ }).click();
    await gia.getByLabel("Reason").fill("spam");
    await gia.getByRole("button", { name: "Report", exact: true }).click();
    await visible(gia.getByText("Thanks. The moderators will take a look."), "the report's confirmation");

    await gia.getByRole("button", { name: "Settings" }).click();
    await gia.getByLabel("Turn comments off").check();
    await gia.getByRole("button", { name: "Save" }).click();
    await visible(host.getByText("Comments are off for the audience."), "comments off on the host's page");
    const refused = await people.req("Noah Park", "room.comment", { room, text: "still here?" }).then(() => null, (e) => String(e));
    if (!refused) throw new Error("a listener could comment with comments off");
    console.log(`listener's comment refused: ${refused}`);
  });

  await step("the host removes the moderator, who sees it", async () => {
    await menu(host, host.locator(`.rm-stage [data-user="${giaId}"]`), "Remove from room");
    await visible(gia.getByRole("heading", { name: "You were removed from this room" }), "the removal on the guest's page");
    // Gone from the stage and the audience (the moderation inbox still names her as a reporter).
    await until(async () => (await host.locator(`[data-user="${giaId}"]:not(.rm-mod *)`).count()) === 0, "the guest gone from the host's page");
    await visible(host.locator(".rm-mod-item", { hasText: "Gia Guest reported a comment by Noah Park" }), "the moderator's report in the host's inbox");
    await host.getByRole("button", { name: "End room" }).click();
    await host.getByRole("button", { name: "End for everyone" }).click();
    await visible(host.getByRole("heading", { name: "Room ended" }), "the summary");
  });

  const wsTitle = `Team sync ${tag}`;
  let wsRoom;
  await step("a workspace room: created in the UI, seen by a member, hidden from others", async () => {
    await people.as("host", host);
    await people.as("gia", gia);
    const ws = await people.req("host", "chat.workspace.create", { name: `Acme ${tag}` });
    const inv = await people.req("host", "chat.invite.create", { workspace: ws.workspace.id });
    await people.req("gia", "chat.workspace.join", { code: inv.code });
    await host.goto(opts.url + "/#/rooms");
    await host.getByRole("button", { name: "Create room", exact: true }).click();
    await host.getByLabel("Title").fill(wsTitle);
    await host.getByLabel("Who can join").selectOption("workspace");
    await host.locator("#rm-c-ws").selectOption({ label: `Acme ${tag}` });
    await host.getByRole("button", { name: "Start room" }).click();
    await visible(host.getByRole("heading", { name: wsTitle }), "the workspace room");
    await visible(host.locator(".rm-room-head").getByText("🏢 Workspace"), "the workspace badge");
    wsRoom = await roomOf(host);
    await gia.goto(opts.url + "/#/rooms");
    const card = gia.getByRole("list", { name: "Live rooms" }).locator(".rm-card", { hasText: wsTitle });
    await visible(card, "the workspace room in the member's lobby", 20000);
    await visible(card.getByText("🏢 Workspace"), "the card's workspace badge");
    const outsider = await people.req("Noah Park", "room.get", { room: wsRoom }).then(() => null, (e) => String(e));
    if (!outsider) throw new Error("a non-member could see the workspace room");
    await shot(opts, gia, "rooms-lobby-workspace");
  });

  await step("the host's audio joins again by itself after the connection drops", async () => {
    await host.getByRole("button", { name: "🎧 Join audio" }).click();
    await visible(host.getByRole("button", { name: "Leave audio" }), "the host's audio joined");
    const stats = () => host.evaluate(async () => (await window.parleyAudioStats()).map((s) => ({ p: s.participant, c: s.connection })));
    const first = await until(async () => { const s = await stats(); return s.length === 1 && s[0].c === "connected" ? s[0] : null; }, "the host's audio connected");
    down = true;
    for (const r of routes) {
      r.ws.close();
      r.server.close();
    }
    routes.clear();
    await visible(host.getByText("Reconnecting audio…"), "the reconnecting notice");
    down = false;
    await visible(host.locator('.rm-audio-state[data-rejoins="1"]', { hasText: "You're muted" }), "the audio joined again", 30000);
    await until(async () => { const s = await stats(); return s.length === 1 && s[0].c === "connected"; }, "the new audio connection", 30000);
    console.log(`audio rejoined as ${first.p} after the drop`);
  });
  console.log("rooms moderation: all steps passed");
} catch (e) {
  for (const [i, p] of pages.entries()) await shot(opts, p, `rooms-mod-failure-${i}`).catch(() => {});
  throw e;
} finally {
  await b.close();
}
