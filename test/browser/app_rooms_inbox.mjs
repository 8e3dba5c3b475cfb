// The moderation inbox and blocking, in Chromium: a listener reports a
// comment and a person; the host's inbox shows each report live with who
// reported what; the host deletes the reported comment from the inbox and
// resolves the other report; the host blocks the troll, who is put out and
// can't join again (a clear message) until the host unblocks them from
// Blocked people; the host edits the room's title and the audience sees it.
import { launch, shot, step, visible, until } from "./apphelpers.mjs";
import * as helpers from "./apphelpers.mjs";

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36);
const signUp = (page, name, handle) => helpers.signUp(opts, page, name, handle);

try {
  const host = await b.newUser({ width: 1280, height: 900 });
  const leo = await b.newUser({ width: 1280, height: 800 });
  const tom = await b.newUser({ width: 390, height: 800 });
  let leoId, tomId, room;

  await step("sign up a host, a listener and a troll", async () => {
    await signUp(host, "Hana Host", `hana${tag}`);
    leoId = await signUp(leo, "Leo Listener", `leo${tag}`);
    tomId = await signUp(tom, "Tom Troll", `tom${tag}`);
  });

  const title = `Town hall ${tag}`;
  await step("the host starts a room; the others join it", async () => {
    await host.goto(opts.url + "/#/rooms");
    await host.getByRole("button", { name: "Create room", exact: true }).click();
    await host.getByLabel("Title").fill(title);
    await host.getByRole("button", { name: "Start room" }).click();
    await visible(host.getByRole("heading", { name: title }), "the room's title");
    room = (await host.evaluate(() => location.hash)).replace("#/room/", "");
    await visible(host.getByRole("heading", { name: /Reports/ }), "the host's moderation inbox");
    await visible(host.getByText("No reports."), "the empty inbox");
    for (const p of [leo, tom]) {
      await p.goto(`${opts.url}/#/room/${room}`);
      await visible(p.getByRole("button", { name: "✋ Raise hand" }), "the listener's controls");
    }
    // Listeners have no inbox.
    if (await leo.getByRole("heading", { name: /Reports/ }).count()) throw new Error("a listener sees the moderation inbox");
    await visible(host.locator(`.rm-audience [data-user="${tomId}"]`), "the troll in the host's audience");
    await visible(leo.locator(`.rm-audience [data-user="${tomId}"]`), "the troll in the listener's audience");
  });

  await step("the listener reports the troll's comment; the host's inbox shows it live", async () => {
    await tom.getByLabel("Write a comment").fill(`buy cheap followers ${tag}`);
    await tom.getByLabel("Write a comment").press("Enter");
    const row = leo.locator(".rm-comment", { hasText: "buy cheap followers" });
    await visible(row, "the troll's comment");
    await row.getByLabel(/Actions for comment/).click();
    await row.getByRole("menuitem", { name: /Report comment/ }).click();
    await leo.getByLabel("Reason").fill("spam links");
    await leo.getByRole("button", { name: "Report", exact: true }).click();
    await visible(leo.getByText("Thanks. The moderators will take a look."), "the report's confirmation");

    const item = host.locator(".rm-mod-item").first();
    await visible(item, "the report in the host's inbox");
    await until(async () => (await item.innerText()).includes("Leo Listener reported a comment by Tom Troll"), "who reported whose comment");
    const text = await item.innerText();
    if (!text.includes(`buy cheap followers ${tag}`) || !text.includes("Reason: spam links")) throw new Error(`the report reads: ${text}`);
    await visible(host.getByText("(1 open)"), "one open report");
    await shot(opts, host, "rooms-mod-inbox");
  });

  await step("the host deletes the comment from the inbox, which resolves the report", async () => {
    await host.locator(".rm-mod-item").first().getByRole("button", { name: /Delete the reported comment/ }).click();
    await until(async () => (await leo.locator(".rm-comment", { hasText: "buy cheap followers" }).count()) === 0, "the comment gone for the listener");
    await until(async () => (await host.locator('.rm-mod-item[data-resolved="true"]').count()) === 1, "the report resolved");
    await visible(host.getByText("(0 open)"), "no open report");
  });

  await step("the listener reports the troll himself; the host resolves it", async () => {
    const face = leo.locator(`.rm-audience [data-user="${tomId}"]`);
    await face.locator("summary").click();
    await face.getByRole("menuitem", { name: "Report…" }).click();
    await leo.getByLabel("Reason").fill("harassing people");
    await leo.getByRole("button", { name: "Report", exact: true }).click();
    const item = host.locator('.rm-mod-item[data-resolved="false"]');
    await visible(item, "the second report");
    await until(async () => (await item.innerText()).includes("Leo Listener reported Tom Troll"), "the person report's line");
    await item.getByRole("button", { name: /Resolve report/ }).click();
    await until(async () => (await host.locator('.rm-mod-item[data-resolved="false"]').count()) === 0, "the second report resolved");
    // Resolved reports are hidden until asked for.
    await until(async () => !(await host.locator(".rm-mod-item").first().isVisible()), "resolved reports hidden");
    await host.getByLabel("Show resolved").check();
    await until(async () => (await host.locator(".rm-mod-item:visible").count()) === 2, "both reports shown as resolved");
  });

  await step("the host blocks the troll, who is put out and can't come back", async () => {
    const face = host.locator(`.rm-audience [data-user="${tomId}"]`);
    await face.locator("summary").click();
    await face.getByRole("menuitem", { name: "Block…" }).click();
    await visible(host.getByText("can't see or join any of your rooms"), "what blocking does");
    await host.getByRole("button", { name: "Block Tom Troll" }).click();
    await visible(tom.getByRole("heading", { name: "You were blocked from this host's rooms" }), "the troll's blocked screen");
    await tom.goto(opts.url + "/#/rooms");
    await tom.goto(`${opts.url}/#/room/${room}`);
    await visible(tom.getByRole("heading", { name: "You can't join this room" }), "the blocked message on joining");
    await visible(tom.getByText("The host has blocked you from their rooms"), "why");
    await shot(opts, tom, "rooms-blocked");
  });

  await step("the host unblocks the troll from Blocked people; he can join again", async () => {
    await host.goto(opts.url + "/#/rooms/blocked");
    const list = host.getByRole("list", { name: "Blocked people" });
    await visible(list.getByText("Tom Troll"), "the troll on the block list");
    await list.getByRole("button", { name: "Unblock Tom Troll" }).click();
    await visible(host.getByText("You haven't blocked anyone."), "the empty block list");
    await tom.goto(opts.url + "/#/rooms");
    await tom.goto(`${opts.url}/#/room/${room}`);
    await visible(tom.getByRole("button", { name: "✋ Raise hand" }), "the troll back in the room");
  });

  await step("the host edits the room's title; the audience sees it", async () => {
    await host.goto(`${opts.url}/#/room/${room}`);
    await host.getByRole("button", { name: "✎ Edit details" }).click();
    await host.getByLabel("Title").fill(`Renamed ${tag}`);
    await host.getByLabel("Description").fill("Now with a description");
    await host.getByRole("button", { name: "Save" }).click();
    await visible(leo.getByRole("heading", { name: `Renamed ${tag}` }), "the new title for the listener");
    await visible(leo.getByText("Now with a description"), "the new description for the listener");
    // The inbox remembers resolved reports in this browser.
    await visible(host.getByText("(0 open)"), "the inbox reopened, nothing open");
  });
} finally {
  await b.close();
}
