// Accessibility of the web app, in Chromium: two people sign up through the
// app and build up a workspace (a channel message with a reaction and a
// thread reply), a live room (host, speaker, listener) and a call; axe-core
// (WCAG 2 A and AA rules) checks every main screen in the light and the
// dark color scheme, and the test fails on any serious or critical
// violation. Then a keyboard-only run: sign in, send a message in a
// channel, open its thread and reply, react, raise a hand in a room, with
// the focus visible at every step and the dialogs keeping and returning the
// focus. axe-core is injected by this test only; the app never ships it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { launch, shot, step, visible, until } from "./apphelpers.mjs";
import * as helpers from "./apphelpers.mjs";

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36).slice(-6);
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const signUp = (page, name, handle) => helpers.signUp(opts, page, name, handle);

// ---- axe ----

const problems = []; // serious and critical violations, over all screens
const counts = {}; // rule id -> violations seen (any impact)

// audit runs axe on page in both color schemes and records what it finds
// under the screen's name. The page must stay as it is while it runs.
async function audit(page, screen) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(50); // let the styles settle
    if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] }, resultTypes: ["violations"] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target.join(" "), impact: n.impact, summary: n.failureSummary })) }));
    });
    for (const v of violations) {
      counts[v.id] = (counts[v.id] ?? 0) + v.nodes.length;
      for (const n of v.nodes) {
        const line = `[${screen}, ${scheme}] ${n.impact ?? v.impact} ${v.id}: ${n.target} — ${v.help}\n      ${(n.summary ?? "").replace(/\n/g, "\n      ")}`;
        if (["serious", "critical"].includes(n.impact ?? v.impact)) problems.push(line);
        else console.log(`note: ${line}`);
      }
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  console.log(`axe: ${screen} checked`);
}

// ---- keyboard ----

// focusInfo describes the focused element and whether its focus shows: an
// outline or a box shadow on the element, or an outline its wrapper draws
// (a wrapper has no outline otherwise).
const focusInfo = (page) => page.evaluate(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return { ok: false, desc: "nothing (body)" };
  const shows = (e, shadow) => {
    const cs = getComputedStyle(e);
    return (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0) || (shadow && cs.boxShadow !== "none");
  };
  let ok = shows(el, true);
  for (let p = el.parentElement, i = 0; !ok && p && i < 3; p = p.parentElement, i++) ok = p.matches(":focus-within") && shows(p, false);
  const name = el.getAttribute("aria-label") || (el.labels && el.labels[0]?.textContent) || el.textContent?.trim().slice(0, 40) || "";
  const r = el.getBoundingClientRect();
  return { ok: ok && r.width > 0 && r.height > 0, desc: `${el.tagName.toLowerCase()}${el.getAttribute("role") ? `[role=${el.getAttribute("role")}]` : ""} "${name}"`, name };
});

// press presses a key and checks that the focus is visible afterwards
// (Tab may leave the page for the browser's own controls: wrap allows that).
async function press(page, key, wrap = false) {
  await page.keyboard.press(key);
  const f = await focusInfo(page);
  if (!f.ok && !(wrap && f.desc === "nothing (body)")) throw new Error(`after ${key} the focus is not visible: ${f.desc}`);
  return f;
}

// tabTo presses Tab (or Shift+Tab) until the focused element matches test
// (a function of focusInfo), checking that each stop shows its focus.
async function tabTo(page, test, what, { back = false, max = 80 } = {}) {
  const seen = [];
  const now = await focusInfo(page);
  if (now.ok && test(now)) return now;
  for (let i = 0; i < max; i++) {
    const f = await press(page, back ? "Shift+Tab" : "Tab", true);
    seen.push(f.desc);
    if (test(f)) return f;
  }
  throw new Error(`${what} not reached with ${back ? "Shift+Tab" : "Tab"}; stops: ${seen.slice(-20).join(", ")}`);
}
const named = (re) => (f) => re.test(f.name);

// trapped checks that Tab and Shift+Tab keep the focus inside the dialog
// matched by sel for n stops each way. A modal dialog lets the focus go out
// to the browser's own controls (the page then has no focus) but never to
// the page behind it.
async function trapped(page, sel, n = 12) {
  for (const key of ["Tab", "Shift+Tab"]) {
    let out = 0;
    for (let i = 0; i < n; i++) {
      const f = await press(page, key, true);
      if (f.desc === "nothing (body)") {
        if (++out > 1) throw new Error(`${key} left the dialog twice in a row`);
        continue;
      }
      out = 0;
      if (!(await page.evaluate((s) => !!document.activeElement?.closest(s), sel))) throw new Error(`${key} left the dialog to ${f.desc}`);
    }
  }
}

let ann, bob, kb;
try {
  ann = await b.newUser({ width: 1280, height: 800 });
  bob = await b.newUser({ width: 1280, height: 800 });
  const annHandle = `ann${tag}`, bobHandle = `bob${tag}`;
  let bobId;

  await step("sign-in and sign-up screens", async () => {
    await ann.goto(opts.url);
    await visible(ann.getByRole("button", { name: "Sign in" }), "the sign-in form");
    await audit(ann, "sign-in");
    await ann.getByRole("button", { name: "Create an account" }).click();
    await ann.getByLabel("Email").fill("not-an-email");
    await ann.getByLabel("Email").press("Tab");
    await visible(ann.locator(".field-error:not([hidden])"), "the email field's error");
    await audit(ann, "sign-up with a field error");
  });

  await step("both sign up; the home screen", async () => {
    await signUp(ann, "Ann Lee", annHandle);
    bobId = await signUp(bob, "Bob Stone", bobHandle);
    await audit(ann, "home");
  });

  await step("a workspace with a channel conversation", async () => {
    await ann.getByRole("link", { name: /Messages/ }).first().click();
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
    await ann.getByRole("navigation", { name: "Sidebar" }).locator("a[data-channel]", { hasText: "#general" }).click();
    const c = ann.getByRole("combobox", { name: "Message #general" });
    await c.fill("Welcome to Acme, everyone");
    await c.press("Enter");
    const m = bob.getByRole("log").locator("li.msg", { hasText: "Welcome to Acme" });
    await visible(m, "the message at Bob's");
    await m.hover();
    await m.getByRole("button", { name: "Add reaction" }).click();
    await m.getByRole("button", { name: "React with 🎉" }).click();
    await m.hover();
    await m.getByRole("button", { name: "Reply in thread" }).click();
    await bob.getByRole("combobox", { name: "Reply in thread" }).fill("Thanks, glad to be here");
    await bob.getByRole("combobox", { name: "Reply in thread" }).press("Enter");
    const am = ann.getByRole("log").locator("li.msg", { hasText: "Welcome to Acme" });
    await visible(am.getByRole("button", { name: "1 reply" }), "the reply count at Ann's");
    await visible(am.getByRole("button", { name: /🎉 1/ }), "the reaction at Ann's");
    await bob.getByRole("complementary", { name: "Thread" }).getByRole("button", { name: "Close thread" }).click();
    await ann.mouse.move(0, 0);
    await audit(ann, "channel");
    await am.getByRole("button", { name: "1 reply" }).click();
    await visible(ann.getByRole("complementary", { name: "Thread" }).locator("li.msg", { hasText: "glad to be here" }), "the thread");
    await audit(ann, "thread panel");
    await ann.getByRole("complementary", { name: "Thread" }).getByRole("button", { name: "Close thread" }).click();
    const box = ann.getByRole("searchbox", { name: "Search messages" });
    await until(async () => {
      await box.fill("welcome");
      await box.press("Enter");
      await ann.getByRole("list", { name: "Search results" }).getByRole("button").first().waitFor({ timeout: 3000 }).catch(() => {});
      return (await ann.getByRole("list", { name: "Search results" }).getByRole("button").count()) > 0;
    }, "a search hit");
    await audit(ann, "search results");
  });

  const title = `Office hours ${tag}`;
  await step("rooms: lobby, create dialog, room page with the moderator menu, summary", async () => {
    await ann.goto(opts.url + "/#/rooms");
    await visible(ann.getByRole("heading", { name: "Live now" }), "the lobby");
    await audit(ann, "rooms lobby");
    await ann.getByRole("button", { name: "Create room", exact: true }).click();
    await visible(ann.getByRole("dialog"), "the create-room dialog");
    await audit(ann, "create-room dialog");
    await ann.getByLabel("Title").fill(title);
    await ann.getByRole("button", { name: "Start room" }).click();
    await visible(ann.getByRole("list", { name: "Speakers" }).getByText("Ann Lee"), "Ann on the stage");
    await bob.goto(opts.url + "/#/rooms");
    await bob.getByRole("list", { name: "Live rooms" }).getByRole("link", { name: `Join ${title}` }).click();
    await bob.getByRole("button", { name: "✋ Raise hand" }).click();
    await ann.getByRole("button", { name: "Invite Bob Stone to speak" }).click();
    await bob.getByRole("button", { name: "Accept" }).click();
    await visible(bob.getByRole("button", { name: "🎙 Unmute" }), "Bob on the stage");
    await bob.getByLabel("Write a comment").fill("Hello, room");
    await bob.getByLabel("Write a comment").press("Enter");
    await visible(ann.getByRole("list", { name: "Comments" }).getByText("Hello, room"), "the comment at Ann's");
    await audit(ann, "room page (host)");
    await audit(bob, "room page (speaker)");
    const tile = ann.locator(`.rm-stage [data-user="${bobId}"]`);
    await tile.locator("summary").click();
    await visible(tile.getByRole("menuitem").first(), "the moderator menu");
    await audit(ann, "room page with the moderator menu open");
    await ann.keyboard.press("Escape");
    await bob.getByRole("button", { name: "Leave", exact: true }).or(bob.getByRole("link", { name: /lobby|Rooms/i })).first().click().catch(() => {});
    await bob.goto(opts.url + "/#/rooms");
    await visible(bob.getByRole("heading", { name: "Live now" }), "Bob back in the lobby");
    await audit(bob, "rooms lobby with a live room");
    await ann.getByRole("button", { name: "End room" }).click();
    await ann.getByRole("button", { name: "End for everyone" }).click();
    await visible(ann.getByRole("heading", { name: "Room ended" }), "the summary");
    await audit(ann, "room summary");
  });

  await step("calls: the call screen, the ring, the call page", async () => {
    await ann.goto(opts.url + "/#/calls");
    await visible(ann.getByLabel("People to call"), "the call screen");
    await audit(ann, "start a call");
    await ann.getByLabel("People to call").fill(bobId);
    await ann.getByLabel("People to call").press("Enter");
    const ring = bob.getByRole("alertdialog");
    await visible(ring, "the ring at Bob's");
    await audit(bob, "incoming-call ring");
    await ring.getByRole("button", { name: "📞 Accept" }).click();
    await visible(ann.getByText("Connected · 2 in the call"), "the call connected");
    await audit(ann, "call page");
    await ann.getByRole("button", { name: "Leave call" }).click();
    await bob.getByRole("button", { name: "Leave call" }).click();
    await visible(ann.getByText(/Call ended/), "the end of the call");
  });

  await step("phone width: the drawer", async () => {
    await ann.goto(opts.url + "/#/");
    await ann.setViewportSize({ width: 360, height: 740 });
    await ann.getByRole("button", { name: "Open navigation" }).click();
    await visible(ann.getByRole("navigation", { name: "Sidebar" }).getByRole("link", { name: /Live rooms/ }), "the drawer's links");
    await ann.waitForTimeout(300); // the slide-in
    await audit(ann, "drawer open at 360px");
    const overflow = await ann.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) throw new Error(`the page is ${overflow}px wider than the phone`);
    await shot(opts, ann, "a11y-drawer");
    await ann.setViewportSize({ width: 1280, height: 800 });
  });

  // ---- keyboard only ----
  kb = await b.newUser({ width: 1280, height: 800 });
  await step("keyboard: sign in", async () => {
    await kb.goto(opts.url);
    await visible(kb.getByRole("button", { name: "Sign in" }), "the sign-in form");
    await tabTo(kb, named(/^Email/), "the email field");
    await kb.keyboard.type(`${annHandle}@example.com`);
    await tabTo(kb, named(/^Password/), "the password field");
    await kb.keyboard.type("a long password");
    await kb.keyboard.press("Enter");
    await visible(kb.getByRole("heading", { name: "Welcome, Ann Lee" }), "the home screen");
  });

  await step("keyboard: the account menu keeps and returns the focus", async () => {
    await tabTo(kb, named(/^Account:/), "the account menu button");
    await press(kb, "Enter");
    const f = await focusInfo(kb);
    if (!/Sign out/.test(f.desc)) throw new Error(`the menu did not take the focus: ${f.desc}`);
    await press(kb, "Escape");
    const back = await focusInfo(kb);
    if (!/^Account:/.test(back.name)) throw new Error(`Escape did not return the focus to the menu button: ${back.desc}`);
  });

  await step("keyboard: send a message in #general", async () => {
    await bob.goto(opts.url + "/#/chat");
    await bob.getByRole("navigation", { name: "Sidebar" }).locator("a[data-channel]", { hasText: "#general" }).click();
    await visible(bob.getByRole("combobox", { name: "Message #general" }), "Bob in #general");
    await tabTo(kb, named(/#general/), "the #general link");
    await press(kb, "Enter");
    await visible(kb.getByRole("heading", { name: "#general" }), "#general");
    await tabTo(kb, named(/^Message #general/), "the composer");
    await kb.keyboard.type("typed without a mouse");
    await press(kb, "Enter");
    await visible(bob.getByRole("log").locator("li.msg", { hasText: "typed without a mouse" }), "the message at Bob's");
  });

  // toMessage goes back from the composer to the message log, and up
  // with the arrow key to the last message, which must hold text.
  const toMessage = async (text) => {
    await tabTo(kb, (f) => f.desc.startsWith("div[role=log]"), "the message log", { back: true });
    await press(kb, "ArrowUp");
    const inMsg = await kb.evaluate(() => document.activeElement.matches("li.msg") ? document.activeElement.textContent : "");
    if (!inMsg.includes(text)) throw new Error(`ArrowUp did not focus the last message: ${inMsg}`);
  };

  await step("keyboard: open the thread, reply, close it with Escape", async () => {
    await toMessage("typed without a mouse");
    const f = await tabTo(kb, named(/^Reply in thread$/), "the message's Reply in thread button");
    const inMsg = await kb.evaluate(() => document.activeElement.closest("li.msg")?.textContent ?? "");
    if (!inMsg.includes("typed without a mouse")) throw new Error(`${f.desc} is on another message: ${inMsg}`);
    await press(kb, "Enter");
    const panel = kb.getByRole("complementary", { name: "Thread" });
    await visible(panel, "the thread panel");
    const g = await focusInfo(kb);
    if (g.name !== "Reply in thread") await tabTo(kb, named(/^Reply in thread$/), "the thread's composer");
    await kb.keyboard.type("a reply by keyboard");
    await press(kb, "Enter");
    await visible(bob.getByRole("log").locator("li.msg", { hasText: "typed without a mouse" }).getByRole("button", { name: "1 reply" }), "the reply count at Bob's");
    await press(kb, "Escape");
    if (await panel.isVisible()) throw new Error("Escape did not close the thread");
  });

  await step("keyboard: react to the message", async () => {
    await toMessage("typed without a mouse");
    await tabTo(kb, (f) => f.name === "Add reaction", "the Add reaction button");
    const inMsg = await kb.evaluate(() => document.activeElement.closest("li.msg")?.textContent ?? "");
    if (!inMsg.includes("typed without a mouse")) throw new Error(`Add reaction is on another message: ${inMsg}`);
    await press(kb, "Enter");
    const f = await focusInfo(kb);
    if (!/^React with/.test(f.name)) throw new Error(`the picker did not take the focus: ${f.desc}`);
    await press(kb, "Tab");
    const pick = await focusInfo(kb);
    if (!/^React with/.test(pick.name)) throw new Error(`Tab left the picker for ${pick.desc}`);
    await press(kb, "Enter");
    const back = await focusInfo(kb);
    if (back.name !== "Add reaction") throw new Error(`after picking, the focus is on ${back.desc}, not Add reaction`);
    const emoji = pick.name.replace("React with ", "");
    await visible(bob.getByRole("log").locator("li.msg", { hasText: "typed without a mouse" }).getByRole("button", { name: new RegExp(`${emoji} 1`) }), "the reaction at Bob's");
  });

  await step("keyboard: the create-room dialog keeps the focus and returns it on Escape", async () => {
    await tabTo(kb, named(/^Live rooms/), "the Live rooms link", { back: true, max: 120 });
    await press(kb, "Enter");
    await visible(kb.getByRole("heading", { name: "Live now" }), "the lobby");
    await tabTo(kb, (f) => f.name === "Create room", "the Create room button");
    await press(kb, "Enter");
    await visible(kb.getByRole("dialog"), "the dialog");
    await trapped(kb, "dialog");
    await press(kb, "Escape");
    if (await kb.getByRole("dialog").count()) throw new Error("Escape did not close the dialog");
    const f = await focusInfo(kb);
    if (f.name !== "Create room") throw new Error(`the focus went to ${f.desc}, not back to Create room`);
  });

  const title2 = `Keyboard hour ${tag}`;
  await step("keyboard: join a live room and raise a hand", async () => {
    await bob.goto(opts.url + "/#/rooms");
    await bob.getByRole("button", { name: "Create room", exact: true }).click();
    await bob.getByLabel("Title").fill(title2);
    await bob.getByRole("button", { name: "Start room" }).click();
    await visible(bob.getByRole("list", { name: "Speakers" }).getByText("Bob Stone"), "Bob on the stage");
    await visible(kb.getByRole("list", { name: "Live rooms" }).getByRole("link", { name: `Join ${title2}` }), "the live room in the lobby", 20000);
    await tabTo(kb, named(new RegExp(`^Join ${title2}`)), "the room's card");
    await press(kb, "Enter");
    await tabTo(kb, named(/Raise hand/), "the raise-hand button");
    await press(kb, " ");
    await visible(bob.getByRole("button", { name: "Invite Ann Lee to speak" }), "the raised hand at the host's");
    await visible(kb.getByRole("button", { name: "✋ Lower hand" }), "the lower-hand button");
  });

  await step("keyboard: the host's moderator menu opens, moves with arrows, closes with Escape", async () => {
    const tile = bob.locator(".rm-stage .rm-tile").first();
    await bob.getByRole("button", { name: "Invite Ann Lee to speak" }).focus();
    await tabTo(bob, named(/^Actions for Ann Lee/), "the menu of Ann in the audience", { back: false, max: 40 }).catch(async () => {
      await tabTo(bob, named(/^Actions for Ann Lee/), "the menu of Ann in the audience", { back: true, max: 40 });
    });
    void tile;
    await press(bob, "Enter");
    let f = await focusInfo(bob);
    if (!/menuitem/.test(f.desc)) throw new Error(`the menu did not take the focus: ${f.desc}`);
    const first = f.name;
    f = await press(bob, "ArrowDown");
    if (f.name === first || !/menuitem/.test(f.desc)) throw new Error(`ArrowDown did not move in the menu: ${f.desc}`);
    await press(bob, "Escape");
    f = await focusInfo(bob);
    if (!/^Actions for Ann Lee/.test(f.name)) throw new Error(`Escape did not return the focus to the menu button: ${f.desc}`);
  });

  for (const [rule, n] of Object.entries(counts).sort()) console.log(`axe ${rule}: ${n} nodes`);
  if (problems.length) throw new Error(`${problems.length} serious or critical accessibility violations:\n  ${problems.join("\n  ")}`);
  console.log("a11y: all steps passed");
} catch (e) {
  for (const [p, n] of [[ann, "ann"], [bob, "bob"], [kb, "keyboard"]]) if (p) await shot(opts, p, `a11y-failed-${n}`).catch(() => {});
  if (problems.length && !String(e?.message).includes("accessibility violations")) console.log(`violations so far:\n  ${problems.join("\n  ")}`);
  throw e;
} finally {
  await b.close();
}
