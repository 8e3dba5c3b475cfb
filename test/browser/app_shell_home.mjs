// The home screen in Chromium: a new account sees the first-run guide;
// another user's live and scheduled rooms show up with Join and Open links;
// once Ann has a workspace that Bob joined, Bob's messages and a mention of
// Ann appear on her home without a reload, and the title counts them.
import { launch, shot, step, visible, until } from "./apphelpers.mjs";
import * as helpers from "./apphelpers.mjs";

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36).slice(-6);

const signUp = (page, name, handle) => helpers.signUp(opts, page, name, handle);

const token = async (page) => JSON.parse(await page.evaluate(() => localStorage.getItem("parley.session"))).access_token;
const section = (page, name) => page.getByRole("region", { name });

let ann, bob;
try {
  ann = await b.newUser({ width: 1280, height: 800 });
  bob = await b.newUser({ width: 1280, height: 800 });
  const annHandle = `ann${tag}`;

  await step("a new account sees the first-run guide", async () => {
    await signUp(ann, "Ann Lee", annHandle);
    const start = section(ann, "Get started");
    await visible(start, "the first-run guide");
    const ws = start.getByRole("link", { name: "Create or join a workspace" });
    if ((await ws.getAttribute("href")) !== "#/chat/new") throw new Error("the workspace link does not go to #/chat/new");
    if ((await start.getByRole("link", { name: "Start a live room" }).getAttribute("href")) !== "#/rooms") throw new Error("the room link does not go to #/rooms");
    await visible(section(ann, "Live now").getByText("No live rooms right now"), "the empty live rooms");
    if ((await ann.title()) !== "Parley") throw new Error(`the title is ${await ann.title()}`);
    await shot(opts, ann, "home-first-run");
  });

  let live = "";
  await step("Bob's live and scheduled rooms are on Ann's home", async () => {
    await signUp(bob, "Bob Stone", `bob${tag}`);
    const tok = await token(bob);
    const create = async (body) => {
      const r = await fetch(`${opts.url}/v1/rooms`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${tok}` },
        body: JSON.stringify(body),
      });
      const j = await r.json();
      if (r.status !== 201) throw new Error(`create room ${r.status}: ${JSON.stringify(j)}`);
      return j.room;
    };
    live = await create({ title: "Morning standup", visibility: "public" });
    const later = await create({ title: "Friday demo", visibility: "public", scheduled_at: new Date(Date.now() + 3 * 3600e3).toISOString() });
    await ann.reload();
    const join = section(ann, "Live now").getByRole("link", { name: "Join Morning standup" });
    await visible(join, "the live room's Join link");
    if ((await join.getAttribute("href")) !== `#/room/${live}`) throw new Error(`Join goes to ${await join.getAttribute("href")}`);
    await visible(section(ann, "Live now").getByText("Hosted by Bob Stone"), "the host's name");
    const open = section(ann, "Upcoming rooms").getByRole("link", { name: "Open Friday demo" });
    await visible(open, "the upcoming room");
    if ((await open.getAttribute("href")) !== `#/room/${later}`) throw new Error(`Open goes to ${await open.getAttribute("href")}`);
    await join.click();
    await until(async () => (await ann.evaluate(() => location.hash)) === `#/room/${live}`, "the room route");
    await ann.goto(`${opts.url}/#/`);
    await visible(ann.getByRole("heading", { name: "Welcome, Ann Lee" }), "home again");
  });

  await step("Ann creates a workspace from the guide; Bob joins it", async () => {
    await section(ann, "Get started").getByRole("link", { name: "Create or join a workspace" }).click();
    await ann.getByLabel("Workspace name").fill("Acme");
    await ann.getByLabel("Workspace name").press("Enter");
    await visible(ann.getByRole("heading", { name: "#general" }), "#general");
    await ann.getByRole("link", { name: "Invite people" }).click();
    await ann.getByRole("button", { name: "Create invite code" }).click();
    const code = await ann.getByLabel("Invite code").inputValue();
    await bob.goto(`${opts.url}/#/chat`);
    await bob.getByLabel("Invite code or link").fill(code);
    await bob.getByRole("button", { name: "Join", exact: true }).click();
    await visible(bob.getByRole("heading", { name: "#general" }), "#general for Bob");
  });

  await step("Bob's messages and mention show on Ann's home as they arrive", async () => {
    await ann.goto(`${opts.url}/#/`);
    const unread = section(ann, "Unread");
    await visible(unread.getByText("You're all caught up."), "the caught-up state");
    if (await section(ann, "Get started").count()) {
      if (await section(ann, "Get started").isVisible()) throw new Error("the first-run guide is still shown");
    }
    const box = bob.getByRole("combobox", { name: "Message #general" });
    await box.fill("morning all");
    await box.press("Enter");
    await box.fill(`ping @${annHandle} have a look`);
    await box.press("Escape"); // close a mention suggestion, if any
    await box.press("Enter");
    const row = unread.getByRole("link", { name: /#general/ });
    await visible(row, "#general in Unread");
    await until(async () => /2 new messages, 1 mention/.test((await row.getAttribute("aria-label")) ?? ""), "2 new messages and 1 mention", 15000);
    if ((await row.getAttribute("href")) === null || !(await row.getAttribute("href")).startsWith("#/c/")) throw new Error("the row does not link to the channel");
    await until(async () => (await ann.title()) === "(1) Parley", `the title "(1) Parley" (is ${await ann.title()})`);
    await shot(opts, ann, "home");
  });

  await step("reading the channel clears it from home and the title", async () => {
    await section(ann, "Unread").getByRole("link", { name: /#general/ }).click();
    await visible(ann.getByRole("log").locator("li.msg", { hasText: "have a look" }), "the mention in the channel");
    await until(async () => (await ann.title()) === "Parley", "the title without a count", 15000);
    await ann.goto(`${opts.url}/#/`);
    await visible(section(ann, "Unread").getByText("You're all caught up."), "caught up again");
  });

  await step("phone width: the home screen fits", async () => {
    await ann.setViewportSize({ width: 360, height: 740 });
    // The sidebar slides away into the drawer.
    await ann.waitForFunction(() => document.getElementById("sidebar").getBoundingClientRect().right <= 0, null, { timeout: 5000 });
    await visible(section(ann, "Live now").getByRole("link", { name: "Join Morning standup" }), "Join at phone width");
    const overflow = await ann.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) throw new Error(`the page is ${overflow}px wider than the screen`);
    await shot(opts, ann, "home-phone");
  });
  console.log("app shell home: ok");
} finally {
  await b.close();
}
