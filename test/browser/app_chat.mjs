// Team messaging in Chromium: two people sign up in the app, Ann creates a
// workspace and an invite, Bob joins with the code; typing, messages both
// ways, an unread badge that clears, a reaction, a thread reply, a mention
// completed from the keyboard, an image upload, search with jump-to, and
// the channel at phone width.
import { launch, shot, step, visible, until } from "./apphelpers.mjs";
import * as helpers from "./apphelpers.mjs";
import { deflateSync } from "node:zlib";

// png encodes an RGB image (pixel(x, y) -> [r, g, b]) as a PNG file.
function png(w, hgt, pixel) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(hgt, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((w * 3 + 1) * hgt);
  for (let y = 0; y < hgt; y++) {
    for (let x = 0; x < w; x++) raw.set(pixel(x, y), y * (w * 3 + 1) + 1 + x * 3);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

// chart draws a small latency chart: bars that fall after a fix.
function chart() {
  const w = 480, hgt = 270;
  const bars = [210, 200, 215, 190, 205, 120, 90, 80, 85, 78, 82, 75];
  return png(w, hgt, (x, y) => {
    if (y > 240 && y < 243 && x > 20 && x < 460) return [150, 156, 170];
    const i = Math.floor((x - 30) / 36);
    const inBar = i >= 0 && i < bars.length && (x - 30) % 36 < 26 && y < 241 && y > 241 - bars[i];
    if (inBar) return i < 5 ? [226, 110, 96] : [79, 91, 213];
    if (y % 60 === 0 && x > 20 && x < 460) return [228, 231, 238];
    return [250, 251, 253];
  });
}

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36).slice(-6);
const hidden = async (loc, what, timeout = 15000) => {
  await loc.first().waitFor({ state: "hidden", timeout }).catch(() => {
    throw new Error(`${what} is still visible`);
  });
};

const signUp = (page, name, handle) => helpers.signUp(opts, page, name, handle);

const log = (page) => page.getByRole("log");
const msg = (page, text) => log(page).locator("li.msg", { hasText: text });
const composer = (page, label = "Message #general") => page.getByRole("combobox", { name: label });
const generalId = () => ann.locator("a[data-channel]", { hasText: "#general" }).first().getAttribute("data-channel");
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
    await bob.locator(".chat-main input[type=file]").setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: chart() });
    await visible(bob.locator(".upload-chip.done", { hasText: "dot.png" }), "the finished upload");
    await composer(bob).fill("a picture");
    await composer(bob).press("Enter");
    const img = msg(ann, "a picture").getByRole("img", { name: "dot.png" });
    await visible(img, "the image at Ann's");
    await until(() => img.evaluate((el) => el.complete && el.naturalWidth === 480), "the image to load");
    // The preview keeps the 16:9 aspect within 360x240, its link right below.
    const box = await msg(ann, "a picture").locator(".img-box").boundingBox();
    if (!box || Math.abs(box.width - 360) > 3 || Math.abs(box.height - 203) > 3) throw new Error(`the preview is ${JSON.stringify(box)}, want 360x203`);
    const link = msg(ann, "a picture").getByRole("link", { name: /Download dot\.png/ });
    await visible(link, "the download link");
    const lb = await link.boundingBox();
    if (!lb || lb.y - (box.y + box.height) > 40) throw new Error(`the download link is ${lb && lb.y - (box.y + box.height)}px below the image`);
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

  await step("a day separator heads today's messages", async () => {
    const seps = log(ann).locator(".day-sep");
    await visible(seps.filter({ hasText: "Today" }), "the 'Today' separator");
    if ((await seps.count()) !== 1) throw new Error(`${await seps.count()} day separators for one day`);
  });

  await step("Bob pins a message: Ann sees it marked and in the pinned list, and unpins it there", async () => {
    const m = msg(bob, "hello from ann");
    await m.hover();
    await m.getByRole("button", { name: "Pin message" }).click();
    await visible(msg(ann, "hello from ann").locator(".pinned-label"), "the pinned mark at Ann's");
    const pinsBtn = ann.getByRole("button", { name: /^Pinned messages/ });
    await until(async () => (await pinsBtn.getAttribute("aria-label")) === "Pinned messages (1)", "the pin count in the header");
    await pinsBtn.click();
    const panel = ann.getByRole("complementary", { name: "Pinned messages" });
    const item = panel.getByRole("list", { name: "Pinned messages" }).getByRole("listitem");
    await visible(item.filter({ hasText: "hello from ann" }), "the pinned message in the list");
    await item.getByRole("button", { name: /hello from ann/ }).click();
    await until(() => msg(ann, "hello from ann").evaluate((el) => el.classList.contains("flash")), "the jump to the pinned message");
    await pinsBtn.click();
    await panel.getByRole("button", { name: "Unpin message" }).click();
    await visible(panel.getByText("Nothing is pinned yet."), "the empty pinned list");
    await hidden(msg(bob, "hello from ann").locator(".pinned-label"), "the pinned mark at Bob's");
    await panel.getByRole("button", { name: "Close pinned messages" }).click();
    await hidden(panel, "the pinned panel");
  });

  await step("Bob's Mentions view lists Ann's mention and opens it in place", async () => {
    await bob.getByRole("navigation", { name: "Sidebar" }).getByRole("link", { name: /^Mentions/ }).click();
    await visible(bob.getByRole("heading", { name: "Mentions" }), "the Mentions view");
    const item = bob.getByRole("list", { name: "Mentions" }).getByRole("listitem").filter({ hasText: "please look" });
    await visible(item, "the mention of Bob");
    if (!(await item.textContent()).includes("Ann Lee mentioned you in #general")) throw new Error(`the mention reads ${await item.textContent()}`);
    await item.getByRole("button").click();
    await visible(bob.getByRole("heading", { name: "#general" }), "#general from the mention");
    await until(() => msg(bob, "please look").evaluate((el) => el.classList.contains("flash")), "the mentioned message highlighted");
  });

  await step("the channel header shows the members and its call button opens the call screen", async () => {
    const head = ann.locator(".chat-head");
    await visible(head.getByRole("button", { name: /^2 members/ }), "the member count");
    await head.getByRole("button", { name: "Start a call" }).click();
    await until(async () => decodeURIComponent(new URL(ann.url()).hash) === `#/calls/channel:${await generalId()}`, "the call route");
    await sideLink(ann, "#general").click();
    await visible(composer(ann), "Ann back in #general");
  });

  await step("a large file uploads with a progress percentage and shows as a file card", async () => {
    // Record every percentage the composer shows while the upload runs.
    await bob.evaluate(() => {
      window.__progress = [];
      new MutationObserver((ms) => {
        for (const m of ms) if (m.attributeName === "data-progress") window.__progress.push(Number(m.target.dataset.progress));
      }).observe(document.querySelector(".chat-main .composer"), { subtree: true, attributes: true, attributeFilter: ["data-progress"] });
    });
    const big = Buffer.alloc(6 * 1024 * 1024, 7);
    await bob.locator(".chat-main input[type=file]").setInputFiles({ name: "release-notes.bin", mimeType: "application/octet-stream", buffer: big });
    await visible(bob.locator(".upload-chip.done", { hasText: "release-notes.bin" }), "the finished upload");
    const seen = await bob.evaluate(() => window.__progress);
    console.log(`upload progress seen: ${JSON.stringify(seen)}`);
    if (seen.at(-1) !== 100) throw new Error(`the progress ended at ${seen.at(-1)} (${JSON.stringify(seen)})`);
    if (seen.some((v, i) => i > 0 && v < seen[i - 1])) throw new Error(`the progress went back: ${JSON.stringify(seen)}`);
    await composer(bob).fill("the notes, as a file");
    await composer(bob).press("Enter");
    const card = msg(ann, "the notes, as a file").locator(".file-card");
    await visible(card, "the file card at Ann's");
    const text = await card.textContent();
    if (!text.includes("release-notes.bin") || !text.includes("6.0 MB")) throw new Error(`the file card reads ${text}`);
    await visible(card.getByRole("link", { name: "Download release-notes.bin (6.0 MB)" }), "the card's download button");
  });

  let launchComposer = "Message #launch";
  await step("Ann creates #launch with a topic; Bob finds it in Browse channels and joins", async () => {
    await ann.getByRole("link", { name: "Create a channel" }).click();
    await ann.getByLabel("Name", { exact: true }).fill("launch");
    await ann.getByLabel("Topic (optional)").fill("Shipping Parley 1.0 on Friday");
    await ann.getByLabel("Name", { exact: true }).press("Enter");
    await visible(ann.getByRole("heading", { name: "#launch", level: 1 }), "#launch");
    await visible(ann.locator(".chat-head").getByText("Shipping Parley 1.0 on Friday"), "the topic in the header");
    await bob.getByRole("navigation", { name: "Sidebar" }).getByRole("link", { name: "Browse channels" }).click();
    await visible(bob.getByRole("heading", { name: "Browse channels" }), "the channel directory");
    const row = bob.getByRole("list", { name: "Public channels" }).getByRole("listitem").filter({ hasText: "#launch" });
    await visible(row.getByText("Shipping Parley 1.0 on Friday"), "#launch's topic in the directory");
    await visible(bob.getByRole("button", { name: "Open #general" }), "#general as one of Bob's channels");
    await row.getByRole("button", { name: "Join #launch" }).click();
    await visible(bob.getByRole("heading", { name: "#launch", level: 1 }), "#launch for Bob");
    await visible(sideLink(bob, "#launch"), "#launch in Bob's sidebar");
  });

  await step("a team conversation in #launch", async () => {
    const say = async (page, text) => {
      await composer(page, launchComposer).fill(text);
      await composer(page, launchComposer).press("Enter");
      await visible(msg(page === ann ? bob : ann, text), `"${text}" at the other's`);
    };
    await say(ann, "Morning! Release candidate 1.0-rc2 is on staging 🚀");
    await say(bob, "Nice. Running the smoke tests against it now");
    await say(bob, "All green except the upload size check; the fix is in review");
    await say(ann, "Great, I'll merge it as soon as it's approved");
    await bob.locator(".chat-main input[type=file]").setInputFiles({ name: "p95-latency.png", mimeType: "image/png", buffer: chart() });
    await visible(bob.locator(".upload-chip.done", { hasText: "p95-latency.png" }), "the chart upload");
    await say(bob, "p95 latency on staging before and after the fix 📉");
    const c = composer(bob, launchComposer);
    await c.pressSequentially(`@${annHandle.slice(0, 4)}`, { delay: 20 });
    await visible(bob.getByRole("listbox", { name: "People to mention" }).getByRole("option", { name: /Ann Lee/ }), "Ann in the autocomplete");
    await c.press("Enter");
    await c.pressSequentially("can you double-check the migration notes before Friday?");
    await c.press("Enter");
    await visible(msg(ann, "migration notes").locator(".mention.me"), "the mention of Ann");
    await say(ann, "Will do after lunch 👍");
    // Reactions and a thread on the first message.
    const first = msg(bob, "Release candidate");
    await first.hover();
    await first.getByRole("button", { name: "Add reaction" }).click();
    await first.getByRole("button", { name: "React with 🎉" }).click();
    const chartMsg = msg(ann, "p95 latency");
    await chartMsg.hover();
    await chartMsg.getByRole("button", { name: "Add reaction" }).click();
    await chartMsg.getByRole("button", { name: "React with 🚀" }).click();
    await visible(msg(bob, "p95 latency").getByRole("button", { name: /🚀 1/ }), "Ann's reaction at Bob's");
    await first.hover();
    await first.getByRole("button", { name: "Reply in thread" }).click();
    await composer(bob, "Reply in thread").fill("Smoke tests passed on staging ✅");
    await composer(bob, "Reply in thread").press("Enter");
    await visible(msg(ann, "Release candidate").getByRole("button", { name: "1 reply" }), "the reply count at Ann's");
    await bob.getByRole("complementary", { name: "Thread" }).getByRole("button", { name: "Close thread" }).click();
    await visible(msg(ann, "Release candidate").getByRole("button", { name: /🎉 1/ }), "Bob's reaction at Ann's");
    await until(() => msg(ann, "p95 latency").getByRole("img").evaluate((el) => el.complete && el.naturalWidth === 480), "the chart to load at Ann's");
    await composer(ann, launchComposer).click();
    await ann.mouse.move(0, 0);
    await log(ann).evaluate((el) => (el.scrollTop = el.scrollHeight));
    await shot(opts, ann, "chat-channel");
  });

  await step("the channel at phone width", async () => {
    await bob.setViewportSize({ width: 360, height: 740 });
    await visible(composer(bob, launchComposer), "the composer at 360px");
    await composer(bob, launchComposer).fill("from my phone");
    await composer(bob, launchComposer).press("Enter");
    await visible(msg(ann, "from my phone"), "the phone's message at Ann's");
    const overflow = await bob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) throw new Error(`the page is ${overflow}px wider than the phone`);
    const box = await composer(bob, launchComposer).boundingBox();
    if (!box || box.x < 0 || box.x + box.width > 360) throw new Error(`the composer is off screen: ${JSON.stringify(box)}`);
    const img = await msg(bob, "p95 latency").locator(".img-box").boundingBox();
    if (!img || img.x + img.width > 360) throw new Error(`the image preview overflows the phone: ${JSON.stringify(img)}`);
    await shot(opts, bob, "chat-phone");
    await bob.setViewportSize({ width: 1280, height: 800 });
    await sideLink(bob, "#general").click();
    await visible(composer(bob), "Bob back in #general");
    await sideLink(ann, "#general").click();
    await visible(composer(ann), "Ann back in #general");
  });

  await step("older history loads on scroll-up and keeps the scroll position", async () => {
    for (let i = 1; i <= 55; i++) {
      await composer(bob).fill(`bulk ${i}`);
      await composer(bob).press("Enter");
    }
    await visible(msg(ann, "bulk 55"), "the last bulk message at Ann's");
    // Ann reads them where she is (the read marker follows after a short
    // pause); unread messages would open the channel at the first of them,
    // so wait until the server has her marker past the last one.
    const ch = await generalId();
    await until(() => ann.evaluate(async (ch) => {
      const s = JSON.parse(localStorage.getItem("parley.session"));
      const r = await fetch(`/v1/chat/channels/${ch}`, { headers: { Authorization: `Bearer ${s.access_token}` } });
      const c = (await r.json()).counts;
      return r.ok && c && c.unread === 0;
    }, ch), "Ann's read marker past the bulk messages");
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
