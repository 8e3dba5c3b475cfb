// Notifications in Chromium: the app asks for permission only when the user
// clicks "Enable notifications"; while the tab is hidden a mention, a direct
// message and an incoming call each show a browser notification with the
// right title (read by wrapping window.Notification: the real constructor
// still runs); nothing is shown while the tab is visible; the ring tone
// plays until the call is declined; clicking the call's notification opens
// the call. The other person is a protocol client on the real server.
import { launch, shot, step, visible, until } from "./apphelpers.mjs";
import * as helpers from "./apphelpers.mjs";
import { bots } from "./app_rooms_bots.mjs";

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36);

try {
  const ana = await b.newUser({ width: 1280, height: 800 });
  // No permission decided yet (the helper's context grants the microphone
  // only, which leaves notifications denied).
  await ana.context().clearPermissions();
  await ana.addInitScript(() => {
    const Real = window.Notification;
    if (!Real) return;
    window.__notes = [];
    window.__noteObjs = [];
    window.__asked = 0;
    class Recorded extends Real {
      constructor(title, o = {}) {
        super(title, o);
        window.__notes.push({ title, body: o.body ?? "", tag: o.tag ?? "" });
        window.__noteObjs.push(this);
      }
    }
    Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
    Recorded.requestPermission = (...a) => {
      window.__asked++;
      return Real.requestPermission(...a);
    };
    window.Notification = Recorded;
  });
  const notes = () => ana.evaluate(() => window.__notes);
  const people = await bots(b, opts.url);
  let anaId, bobId, ws, general;
  const handle = `ana${tag}`;

  await step("sign up; the banner offers notifications, and nothing was asked on load", async () => {
    anaId = await helpers.signUp(opts, ana, "Ana Alvarez", handle);
    await visible(ana.getByRole("button", { name: "🔔 Enable notifications" }), "the Enable notifications banner");
    if ((await ana.evaluate(() => window.__asked)) !== 0) throw new Error("the permission was asked on load");
    await shot(opts, ana, "notify-banner");
    await ana.context().grantPermissions(["notifications"], { origin: opts.url });
    await ana.getByRole("button", { name: "🔔 Enable notifications" }).click();
    await visible(ana.getByText(/Notifications are on/), "the confirmation");
    await until(async () => (await ana.getByRole("button", { name: "🔔 Enable notifications" }).count()) === 0, "the banner gone");
    if ((await ana.evaluate(() => window.__asked)) !== 1) throw new Error("the permission was not asked on the click");
    if ((await ana.evaluate(() => Notification.permission)) !== "granted") throw new Error("permission not granted");
  });

  await step("Bob shares a workspace with Ana", async () => {
    bobId = await people.add("Bob Bot");
    ws = await people.req("Bob Bot", "chat.workspace.create", { name: `Notify ${tag}` });
    general = ws.general;
    const inv = await people.req("Bob Bot", "chat.invite.create", { workspace: ws.workspace.id });
    await people.as("Ana", ana);
    await people.req("Ana", "chat.workspace.join", { code: inv.code });
  });

  await step("a mention while the tab is visible shows no notification", async () => {
    await people.req("Bob Bot", "chat.post", { channel: general, text: `hello @${handle}, visible`, key: `k1${tag}` });
    await new Promise((r) => setTimeout(r, 1500));
    const n = await notes();
    if (n.length) throw new Error(`notified while visible: ${JSON.stringify(n)}`);
  });

  await step("the tab goes to the background", async () => {
    await ana.evaluate(() => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      document.dispatchEvent(new Event("visibilitychange"));
    });
  });

  await step("a mention in #general notifies", async () => {
    await people.req("Bob Bot", "chat.post", { channel: general, text: `@${handle} can you review the plan?`, key: `k2${tag}` });
    const n = await until(async () => (await notes()).find((x) => x.title.includes("mentioned you")), "the mention's notification");
    if (n.title !== "Bob Bot mentioned you in #general") throw new Error(`title: ${n.title}`);
    if (!n.body.includes("can you review the plan?")) throw new Error(`body: ${n.body}`);
  });

  await step("a direct message notifies", async () => {
    const dm = await people.req("Bob Bot", "chat.dm.open", { workspace: ws.workspace.id, users: [anaId] });
    await people.req("Bob Bot", "chat.post", { channel: dm.id, text: `psst ${tag}`, key: `k3${tag}` });
    const n = await until(async () => (await notes()).find((x) => x.title.includes("sent you a message")), "the DM's notification");
    if (n.title !== "Bob Bot sent you a message" || n.body !== `psst ${tag}`) throw new Error(`DM notification: ${JSON.stringify(n)}`);
    if (n.tag !== `chat:${dm.id}`) throw new Error(`tag: ${n.tag}`);
  });

  let call;
  await step("an incoming call rings with a tone and notifies", async () => {
    const r = await people.req("Bob Bot", "call.start", { members: [bobId, anaId] });
    call = r.call;
    const n = await until(async () => (await notes()).find((x) => x.title.includes("calling you")), "the call's notification");
    if (n.title !== "Bob Bot is calling you") throw new Error(`title: ${n.title}`);
    if (n.tag !== call) throw new Error(`tag: ${n.tag}`);
    await until(async () => (await ana.evaluate(() => document.documentElement.dataset.ringTone)) === "running", "the ring tone playing");
  });

  await step("clicking the call's notification opens the call; declining stops the tone", async () => {
    await ana.evaluate((c) => {
      const n = window.__noteObjs.find((x) => x.tag === c);
      n.dispatchEvent(new Event("click"));
    }, call);
    await until(async () => (await ana.evaluate(() => location.hash)) === `#/call/${call.replace(/^call:/, "")}`, "the call's page");
    await shot(opts, ana, "notify-call");
    await ana.getByRole("alertdialog").getByRole("button", { name: "Decline" }).click();
    await until(async () => (await ana.evaluate(() => document.documentElement.dataset.ringTone)) === undefined, "the ring tone stopped");
  });

  const titles = (await notes()).map((n) => n.title);
  process.stdout.write(`notifications shown: ${JSON.stringify(titles)}\n`);
} finally {
  await b.close();
}
