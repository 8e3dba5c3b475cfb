// Team messaging in Chromium: two people sign up in the app, Ann creates a
// workspace and an invite, Bob joins with the code; typing, messages both
// ways, an unread badge that clears, a reaction, a thread reply, a mention
// completed from the keyboard, an image upload, search with jump-to, and
// the channel at phone width.
import { launch, shot, step } from "./apphelpers.mjs";

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36).slice(-6);
const visible = async (loc, what, timeout = 15000) => {
  await loc.first().waitFor({ state: "visible", timeout }).catch(() => {
    throw new Error(`${what} is not visible`);
  });
};
const hidden = async (loc, what, timeout = 15000) => {
  await loc.first().waitFor({ state: "hidden", timeout }).catch(() => {
    throw new Error(`${what} is still visible`);
  });
};
const until = async (fn, what, timeout = 15000) => {
  const end = Date.now() + timeout;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

async function signUp(page, name, handle) {
  await page.goto(opts.url);
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel("Handle").fill(handle);
  await page.getByLabel("Email").fill(`${handle}@example.com`);
  await page.getByLabel("Password").fill("a long password");
  await page.getByLabel("Password").press("Enter");
  await visible(page.getByRole("heading", { name: `Welcome, ${name}` }), `${name}'s home screen`);
}

const log = (page) => page.getByRole("log");
const msg = (page, text) => log(page).locator("li.msg", { hasText: text });
const composer = (page, label = "Message #general") => page.getByRole("combobox", { name: label });
const sideLink = (page, name) => page.getByRole("navigation", { name: "Sidebar" }).locator(`a[data-channel]`, { hasText: name });

let ann, bob;
try {
  ann = await b.newUser({ width: 1280, height: 800 });
  bob = await b.newUser({ width: 1280, height: 800 });
  const annHandle = `ann${tag}`;
  const bobHandle = `bob${tag}`;

  await step("both sign up in the app", async () => {
    await signUp(ann, "Ann Lee", annHandle);
    await signUp(bob, "Bob Stone", bobHandle);
  });

  await step("Ann creates a workspace and lands in #general", async () => {
    await ann.getByRole("link", { name: /Messages/ }).first().click();
    await visible(ann.getByRole("heading", { name: "Create a workspace" }), "the onboarding");
    await ann.getByLabel("Workspace name").fill("Acme");
    await ann.getByLabel("Workspace name").press("Enter");
    await visible(ann.getByRole("heading", { name: "#general" }), "the #general channel");
    await visible(ann.getByRole("combobox", { name: "Workspace" }).or(ann.getByLabel("Workspace")), "the workspace switcher");
  });

  let code = "";
  await step("Ann creates an invite and reads the code", async () => {
    await ann.getByRole("link", { name: "Invite people" }).click();
    await ann.getByRole("button", { name: "Create invite code" }).click();
    const field = ann.getByLabel("Invite code");
    await visible(field, "the invite code");
    code = await field.inputValue();
    if (!/^w_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(code)) throw new Error(`unexpected invite code ${code}`);
  });

  await step("Bob joins with the code and lands in #general", async () => {
    await bob.goto(`${opts.url}/#/chat`);
    await visible(bob.getByRole("heading", { name: "Join a workspace" }), "Bob's onboarding");
    await bob.getByLabel("Invite code or link").fill(code);
    await bob.getByRole("button", { name: "Join", exact: true }).click();
    await visible(bob.getByRole("heading", { name: "#general" }), "#general for Bob");
    await ann.getByRole("navigation", { name: "Sidebar" }).locator("a[data-channel]", { hasText: "#general" }).click();
    await visible(composer(ann), "Ann's composer");
  });

  await step("Ann types: Bob sees that she is typing", async () => {
    await composer(ann).click();
    await composer(ann).pressSequentially("hello from ann", { delay: 20 });
    await visible(bob.getByText("Ann Lee is typing…"), "the typing indicator");
  });

  await step("Ann sends with Enter: Bob sees the message; Bob answers, Ann sees it", async () => {
    await composer(ann).press("Enter");
    await visible(msg(bob, "hello from ann"), "Ann's message at Bob's");
    await hidden(bob.getByText("Ann Lee is typing…"), "the typing indicator after the message");
    if ((await composer(ann).inputValue()) !== "") throw new Error("the composer was not cleared");
    await composer(bob).fill("hi ann, bob here");
    await composer(bob).press("Enter");
    await visible(msg(ann, "bob here"), "Bob's message at Ann's");
    await hidden(ann.locator("li.msg.pending"), "Ann's pending message");
    // Shift+Enter breaks the line instead of sending.
    await composer(ann).fill("line one");
    await composer(ann).press("Shift+Enter");
    await composer(ann).pressSequentially("line two");
    if ((await composer(ann).inputValue()) !== "line one\nline two") throw new Error("Shift+Enter did not add a line");
    await composer(ann).press("Enter");
    await visible(msg(bob, "line two"), "the two-line message");
  });

  await step("Up arrow edits Ann's last message", async () => {
    await composer(ann).press("ArrowUp");
    const box = ann.getByRole("textbox", { name: "Edit message" });
    await visible(box, "the edit box");
    await box.fill("line one, edited");
    await box.press("Enter");
    await visible(msg(bob, "line one, edited").locator(".edited"), "the edit at Bob's");
  });

  await step("an unread badge appears for a channel that got a message elsewhere, and clears when opened", async () => {
    await ann.getByRole("link", { name: "Create a channel" }).click();
    await ann.getByLabel("Name", { exact: true }).fill("random");
    await ann.getByLabel("Name", { exact: true }).press("Enter");
    await visible(ann.getByRole("heading", { name: "#random" }), "#random");
    await composer(bob).fill("news while ann is away");
    await composer(bob).press("Enter");
    const general = sideLink(ann, "#general");
    await until(async () => ((await general.locator(".chat-badge").textContent()) ?? "") === "1", "the unread badge '1' on #general");
    if (!(await general.getAttribute("aria-label"))?.includes("1 unread")) throw new Error("the badge is not in the link's label");
    await general.click();
    await visible(msg(ann, "news while ann is away"), "the new message");
    await until(async () => ((await general.locator(".chat-badge").textContent()) ?? "") === "", "the badge to clear");
    await until(async () => !(await general.getAttribute("class"))?.includes("unread"), "the channel to be read");
  });

  await step("a reaction round-trips", async () => {
    const m = msg(bob, "hello from ann");
    await m.hover();
    await m.getByRole("button", { name: "Add reaction" }).click();
    await m.getByRole("button", { name: "React with 🎉" }).click();
    const r = msg(ann, "hello from ann").getByRole("button", { name: /🎉 1/ });
    await visible(r, "Bob's reaction at Ann's");
    if ((await r.getAttribute("aria-pressed")) !== "false") throw new Error("Bob's reaction shows as Ann's");
    await r.click(); // Ann adds hers by toggling the same emoji
    await visible(msg(bob, "hello from ann").getByRole("button", { name: /🎉 2/ }), "two reactions at Bob's");
  });

  await step("a thread reply round-trips", async () => {
    const m = msg(bob, "hello from ann");
    await m.hover();
    await m.getByRole("button", { name: "Reply in thread" }).click();
    const panel = bob.getByRole("complementary", { name: "Thread" });
    await visible(panel, "Bob's thread panel");
    await composer(bob, "Reply in thread").fill("a reply in the thread");
    await composer(bob, "Reply in thread").press("Enter");
    await visible(panel.locator("li.msg", { hasText: "a reply in the thread" }), "the reply in Bob's thread");
    const link = msg(ann, "hello from ann").getByRole("button", { name: "1 reply" });
    await visible(link, "the reply count at Ann's");
    await link.click();
    const annPanel = ann.getByRole("complementary", { name: "Thread" });
    await visible(annPanel.locator("li.msg", { hasText: "a reply in the thread" }), "the reply in Ann's thread");
    await composer(ann, "Reply in thread").fill("thanks for the reply");
    await composer(ann, "Reply in thread").press("Enter");
    await visible(panel.locator("li.msg", { hasText: "thanks for the reply" }), "Ann's reply in Bob's thread");
    await shot(opts, ann, "chat-thread");
    await annPanel.getByRole("button", { name: "Close thread" }).click();
    await hidden(annPanel, "the thread panel");
  });

  await step("a mention completes from the keyboard", async () => {
    const c = composer(ann);
    await c.click();
    await c.pressSequentially(`ping @${bobHandle.slice(0, 4)}`, { delay: 30 });
    const list = ann.getByRole("listbox", { name: "People to mention" });
    await visible(list.getByRole("option", { name: /Bob Stone/ }), "the autocomplete option");
    if ((await c.getAttribute("aria-expanded")) !== "true") throw new Error("the combobox is not expanded");
    await c.press("Enter"); // picks the active option
    await hidden(list, "the listbox after picking");
    const v = await c.inputValue();
    if (v !== `ping @${bobHandle} `) throw new Error(`composer holds ${JSON.stringify(v)}`);
    await c.pressSequentially("please look");
    await c.press("Enter");
    await visible(msg(bob, "please look").locator(".mention.me"), "the mention highlighted for Bob");
  });

  await step("an image upload shows a preview to the other person", async () => {
    // A 1x1 PNG.
    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
    await bob.locator(".chat-main input[type=file]").setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: png });
    await visible(bob.locator(".upload-chip", { hasText: "dot.png" }).getByText("70 B"), "the finished upload");
    await composer(bob).fill("a picture");
    await composer(bob).press("Enter");
    const img = msg(ann, "a picture").getByRole("img", { name: "dot.png" });
    await visible(img, "the image at Ann's");
    await until(() => img.evaluate((el) => el.complete && el.naturalWidth === 1), "the image to load");
    await visible(msg(ann, "a picture").getByRole("link", { name: /Download dot\.png/ }), "the download link");
  });

  await step("search finds a message and jumps to it", async () => {
    const box = bob.getByRole("searchbox", { name: "Search messages" });
    const results = bob.getByRole("list", { name: "Search results" });
    await until(async () => {
      await box.fill("edited");
      await box.press("Enter");
      await bob.getByText(/messages?$|No messages found\./).first().waitFor({ timeout: 5000 }).catch(() => {});
      return (await results.getByRole("button").count()) > 0;
    }, "a search hit", 20000);
    const hit = results.getByRole("button").first();
    if (!(await hit.locator("mark").textContent())?.toLowerCase().startsWith("edit")) throw new Error("the match is not highlighted");
    await hit.click();
    await visible(msg(bob, "line one, edited"), "the found message");
    await until(() => msg(bob, "line one, edited").evaluate((el) => el.classList.contains("flash")), "the jump highlight");
  });

  await step("Ann opens a DM with Bob; Bob sees it with a badge and reads it", async () => {
    await ann.getByRole("link", { name: "Message someone" }).click();
    await ann.getByRole("button", { name: /Bob Stone/ }).click();
    await visible(ann.getByRole("heading", { name: "Bob Stone" }), "the DM with Bob");
    await composer(ann, "Message Bob Stone").fill("a private word");
    await composer(ann, "Message Bob Stone").press("Enter");
    const dm = sideLink(bob, "Ann Lee");
    await visible(dm, "the DM in Bob's sidebar");
    await until(async () => ((await dm.locator(".chat-badge").textContent()) ?? "") === "1", "the DM's unread badge");
    await dm.click();
    await visible(msg(bob, "a private word"), "the DM message at Bob's");
    await until(async () => ((await dm.locator(".chat-badge").textContent()) ?? "") === "", "the DM badge to clear");
    await sideLink(bob, "#general").click();
    await visible(composer(bob), "Bob back in #general");
    await sideLink(ann, "#general").click();
    await visible(composer(ann), "Ann back in #general");
  });

  await step("messages are grouped only under their own author", async () => {
    for (const [who, page] of [["Ann", ann], ["Bob", bob]]) {
      const wrong = await page.evaluate(() => [...document.querySelectorAll("li.msg.cont")]
        .filter((li) => li.previousElementSibling?.dataset.author !== li.dataset.author)
        .map((li) => li.textContent));
      if (wrong.length) throw new Error(`${who} sees messages under another author: ${JSON.stringify(wrong)}`);
    }
  });

  await step("screenshots of the channel, and the channel at phone width", async () => {
    await shot(opts, ann, "chat-channel");
    await bob.setViewportSize({ width: 360, height: 740 });
    await visible(composer(bob), "the composer at 360px");
    await composer(bob).fill("from my phone");
    await composer(bob).press("Enter");
    await visible(msg(ann, "from my phone"), "the phone's message at Ann's");
    const overflow = await bob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) throw new Error(`the page is ${overflow}px wider than the phone`);
    const box = await composer(bob).boundingBox();
    if (!box || box.x < 0 || box.x + box.width > 360) throw new Error(`the composer is off screen: ${JSON.stringify(box)}`);
    await shot(opts, bob, "chat-phone");
  });
  await step("older history loads on scroll-up and keeps the scroll position", async () => {
    await bob.setViewportSize({ width: 1280, height: 800 });
    for (let i = 1; i <= 55; i++) {
      await composer(bob).fill(`bulk ${i}`);
      await composer(bob).press("Enter");
    }
    await visible(msg(ann, "bulk 55"), "the last bulk message at Ann's");
    await ann.reload();
    await visible(msg(ann, "bulk 55"), "the latest page after a reload");
    const count = () => log(ann).locator("li.msg").count();
    const before = await count();
    if (before !== 50) throw new Error(`the first page has ${before} messages, want 50`);
    if (await msg(ann, "hello from ann").count()) throw new Error("older messages were loaded eagerly");
    // Scroll to the top: the first loaded message is the anchor.
    const [id, top0] = await log(ann).evaluate((el) => {
      const first = el.querySelector("li.msg");
      el.scrollTop = 0;
      return [first.dataset.id, first.getBoundingClientRect().top];
    });
    await visible(msg(ann, "hello from ann"), "the older messages");
    await visible(ann.getByText("This is the beginning of the conversation."), "the start of the channel");
    const after = await count();
    if (after <= before) throw new Error(`no older messages were added (${after})`);
    const [top1, scrollTop] = await log(ann).evaluate((el, id) =>
      [el.querySelector(`li.msg[data-id="${id}"]`).getBoundingClientRect().top, el.scrollTop], id);
    // The message that was at the top stays where it was on screen.
    if (Math.abs(top1 - top0) > 4 || scrollTop <= 0) {
      throw new Error(`the view jumped: the anchor moved from ${top0} to ${top1} (scrollTop ${scrollTop})`);
    }
  });
  console.log("chat: all steps passed");
} catch (e) {
  // What each person saw when a step failed.
  if (ann) await shot(opts, ann, "chat-failed-ann").catch(() => {});
  if (bob) await shot(opts, bob, "chat-failed-bob").catch(() => {});
  throw e;
} finally {
  await b.close();
}
