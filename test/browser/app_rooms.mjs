// A live room in the app, in Chromium: a host and a listener (the listener
// at phone width) sign up through the app; the host opens a room from the
// lobby; the listener finds it live, joins, raises a hand, is invited,
// accepts, joins the audio with the fake microphone, unmutes and is heard by
// the host (RTP packets and audio energy arriving in the host's page, and
// the speaking ring); the host mutes the listener; a comment, a pin, a
// flying reaction and a poll go round; the host ends the room and both see
// the summary.
import { launch, shot, step, visible, until, inbound } from "./apphelpers.mjs";
import * as helpers from "./apphelpers.mjs";
import { bots } from "./app_rooms_bots.mjs";

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36);

const signUp = (page, name, handle) => helpers.signUp(opts, page, name, handle);


try {
  const host = await b.newUser({ width: 1280, height: 900 });
  const lis = await b.newUser({ width: 360, height: 780 });
  const title = `Audio hour ${tag}`;
  let lisId;

  await step("sign up host and listener through the app", async () => {
    await signUp(host, "Hana Host", `hana${tag}`);
    lisId = await signUp(lis, "Leo Listener", `leo${tag}`);
  });

  await step("the host opens a room from the lobby", async () => {
    await host.goto(opts.url + "/#/rooms");
    await visible(host.getByRole("heading", { name: "Live now" }), "the lobby");
    await host.getByRole("button", { name: "Create room", exact: true }).click();
    await host.getByLabel("Title").fill(title);
    await host.getByLabel("Description").fill("Talking about audio");
    await host.getByRole("button", { name: "Start room" }).click();
    await visible(host.getByRole("heading", { name: title }), "the room's title");
    await visible(host.getByRole("list", { name: "Speakers" }).getByText("Hana Host"), "the host on the stage");
  });

  await step("the listener sees it live in the lobby and joins", async () => {
    await lis.goto(opts.url + "/#/rooms");
    const card = lis.getByRole("list", { name: "Live rooms" }).getByRole("link", { name: `Join ${title}` });
    await visible(card, "the live room in the listener's lobby", 20000);
    await visible(lis.getByRole("list", { name: "Live rooms" }).getByText("Hana Host"), "the host's name on the card");
    await visible(lis.getByRole("list", { name: "Live rooms" }).getByText("1 on stage"), "the stage's size on the card");
    await shot(opts, lis, "rooms-lobby");
    await card.click();
    await visible(lis.getByRole("button", { name: "✋ Raise hand" }), "the raise-hand button");
    await visible(host.locator(`.rm-audience [data-user="${lisId}"]`), "the listener in the host's audience list");
  });

  await step("both join the audio", async () => {
    await host.getByRole("button", { name: "🎧 Join audio" }).click();
    await lis.getByRole("button", { name: "🎧 Join audio" }).click();
    await visible(host.getByRole("button", { name: "Leave audio" }), "the host's audio joined");
    await visible(lis.getByRole("button", { name: "Leave audio" }), "the listener's audio joined");
    await until(async () => (await inbound(lis)).connection === "connected", "the listener's audio connection");
  });

  await step("the listener raises a hand; the host invites; the listener accepts", async () => {
    await lis.getByRole("button", { name: "✋ Raise hand" }).click();
    const invite = host.getByRole("button", { name: "Invite Leo Listener to speak" });
    await visible(invite, "the hand in the host's queue with an invite button");
    await invite.click();
    await visible(lis.getByText("You're invited to speak."), "the invitation banner");
    await lis.getByRole("button", { name: "Accept" }).click();
    await visible(lis.getByRole("button", { name: "🎙 Unmute" }), "the listener on stage (muted)");
    await visible(host.locator(`.rm-stage [data-user="${lisId}"]`), "the new speaker on the host's stage");
  });

  await step("the room fills up: a second speaker, listeners, comments, a pinned comment, a poll", async () => {
    const room = (await host.evaluate(() => location.hash)).replace("#/room/", "");
    const people = await bots(b, opts.url);
    const mia = await people.add("Mia Speaker");
    for (const n of ["Mia Speaker", "Noah Park", "Olivia Chen", "Pat Rivera"]) {
      if (n !== "Mia Speaker") await people.add(n);
      await people.enter(n, room);
    }
    await people.req("Mia Speaker", "room.hand", { room, raised: true });
    await host.getByRole("button", { name: "Invite Mia Speaker to speak" }).click();
    await until(async () => people.req("Mia Speaker", "room.invite.answer", { room, accept: true }).then(() => true, () => false), "Mia's accepted invitation");
    await visible(host.locator(`.rm-stage [data-user="${mia}"]`), "the second speaker on the stage");
    await visible(host.locator(".rm-audience .rm-aud"), "the listeners in the audience");
    await people.req("Noah Park", "room.comment", { room, text: "Great topic! Glad I caught this live 🎧" });
    await people.req("Olivia Chen", "room.comment", { room, text: "Could you cover echo cancellation next?" });
    await people.req("Pat Rivera", "room.comment", { room, text: "Greetings from Lisbon 👋" });
    const row = host.locator(".rm-comment", { hasText: "echo cancellation" });
    await row.getByLabel(/Actions for comment/).click();
    await row.getByRole("menuitem", { name: /Pin comment/ }).click();
    await visible(lis.locator(".rm-pinned", { hasText: "echo cancellation" }), "the pinned comment on the speaker's page");
    await host.getByRole("button", { name: "📊 New poll" }).click();
    await host.getByLabel("Poll question").fill("What should we cover next?");
    await host.getByLabel("Option 1").fill("Codecs");
    await host.getByLabel("Option 2").fill("Latency");
    await host.getByRole("button", { name: "Open poll" }).click();
    const poll = host.locator(".rm-poll", { hasText: "What should we cover next?" });
    await visible(poll, "the poll on the host's page");
    const n = await poll.getAttribute("data-poll");
    for (const [who, opt] of [["Noah Park", 0], ["Olivia Chen", 1], ["Pat Rivera", 1]]) await people.req(who, "room.poll.vote", { room, poll: Number(n), option: opt });
    await visible(poll.getByText("3 votes"), "the votes on the host's page");
  });

  await step("the new speaker unmutes and the host hears them", async () => {
    const before = await inbound(host);
    await lis.getByRole("button", { name: "🎙 Unmute" }).click();
    await visible(lis.getByRole("button", { name: "🔇 Mute" }), "the speaker unmuted");
    const heard = await until(async () => {
      const s = await inbound(host);
      return s.packets > before.packets + 100 && s.energy > before.energy ? s : null;
    }, "audio packets with energy from the speaker in the host's page", 30000);
    console.log(`host received ${heard.packets} packets, energy ${heard.energy.toFixed(4)}`);
    await visible(host.locator(`.rm-stage [data-user="${lisId}"].rm-speaking`), "the speaking ring on the speaker", 20000);
    // The picture starts at the room's header, wherever the host scrolled.
    await host.evaluate(() => { window.scrollTo(0, 0); document.getElementById("main")?.scrollTo(0, 0); });
    await shot(opts, host, "room-stage");
  });

  await step("the host mutes the speaker; the mute icon shows", async () => {
    const tile = host.locator(`.rm-stage [data-user="${lisId}"]`);
    await tile.getByRole("group").or(tile.locator("summary")).first().click();
    await tile.getByRole("menuitem", { name: "Mute" }).click();
    await visible(host.locator(`.rm-stage [data-user="${lisId}"] .rm-mute-icon`), "the mute icon on the host's page");
    await visible(lis.locator(`.rm-stage [data-user="${lisId}"] .rm-mute-icon`), "the mute icon on the speaker's page");
    await visible(lis.getByRole("button", { name: "🎙 Unmute" }), "the speaker's unmute button");
    // The server stops forwarding: the host's inbound packets stop growing.
    await until(async () => {
      const a = await inbound(host);
      await new Promise((r) => setTimeout(r, 800));
      const c = await inbound(host);
      return c.packets - a.packets < 5;
    }, "the muted speaker's audio to stop reaching the host");
  });

  await step("a comment goes round and is pinned", async () => {
    await lis.getByLabel("Write a comment").fill("Hello from the audience");
    await lis.getByLabel("Write a comment").press("Enter");
    const c = host.getByRole("list", { name: "Comments" }).getByText("Hello from the audience");
    await visible(c, "the comment on the host's page");
    const row = host.locator(".rm-comment", { hasText: "Hello from the audience" });
    await row.getByLabel(/Actions for comment/).click();
    await row.getByRole("menuitem", { name: /Pin comment/ }).click();
    await visible(lis.locator(".rm-pinned", { hasText: "Hello from the audience" }), "the pinned comment on the listener's page");
  });

  await step("a reaction flies", async () => {
    const flying = host.locator(".rm-flying", { hasText: "🔥" });
    await lis.getByRole("button", { name: "React 🔥" }).click();
    await visible(flying, "the flying reaction on the host's page", 5000);
    await visible(host.locator(".rm-react-totals", { hasText: "🔥 1" }), "the reaction totals");
  });

  await step("a poll: create, vote, live results", async () => {
    await host.getByRole("button", { name: "📊 New poll" }).click();
    await host.getByLabel("Poll question").fill("More audio hours?");
    await host.getByLabel("Option 1").fill("Yes");
    await host.getByLabel("Option 2").fill("No");
    await host.getByRole("button", { name: "Open poll" }).click();
    await visible(lis.getByRole("button", { name: "Vote Yes" }), "the poll on the listener's page");
    await lis.getByRole("button", { name: "Vote Yes" }).click();
    await visible(host.locator(".rm-poll", { hasText: "More audio hours?" }).getByText("1 (100%)"), "the live result on the host's page");
    await visible(lis.locator(".rm-poll", { hasText: "you voted" }), "the listener's vote recorded");
    await host.locator(".rm-poll", { hasText: "More audio hours?" }).getByRole("button", { name: "Close poll" }).click();
    await visible(lis.locator(".rm-poll .rm-poll-status", { hasText: "closed" }), "the poll closed on the listener's page");
  });

  await step("the host ends the room; both see the summary", async () => {
    await host.getByRole("button", { name: "End room" }).click();
    await host.getByRole("button", { name: "End for everyone" }).click();
    for (const [p, who] of [[host, "host"], [lis, "listener"]]) {
      await visible(p.getByRole("heading", { name: "Room ended" }), `the summary on the ${who}'s page`);
      await visible(p.getByText("Peak in the room"), `the peak on the ${who}'s page`);
      await visible(p.locator(".rm-stat", { hasText: "Comments" }).getByText("4", { exact: true }), `the comment count on the ${who}'s page`);
      await visible(p.locator(".rm-summary .rm-poll", { hasText: "More audio hours?" }), `the poll result on the ${who}'s page`);
    }
    await visible(lis.locator(".rm-summary").getByText("Leo Listener"), "the listener among the speakers");
    await shot(opts, lis, "room-summary");
    const after = await inbound(host);
    if (after.sessions !== 0) throw new Error("the host's audio is still open after the end");
  });
  console.log("rooms: all steps passed");
} finally {
  await b.close();
}
