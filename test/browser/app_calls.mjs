// A call in the app, in Chromium: A and B sign up through the app; A starts
// a call to B by user id; B's page rings (wherever B is), B accepts; both
// are connected, hear each other (RTP packets with audio energy arriving in
// each page), A mutes, and both leave.
import { launch, shot, step, visible, until, inbound } from "./apphelpers.mjs";
import * as helpers from "./apphelpers.mjs";

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36);

const signUp = (page, name, handle) => helpers.signUp(opts, page, name, handle);


try {
  const a = await b.newUser({ width: 1280, height: 800 });
  const bob = await b.newUser({ width: 360, height: 780 });
  let bobId;

  await step("sign up A and B through the app", async () => {
    await signUp(a, "Ada Caller", `ada${tag}`);
    await signUp(bob, "Bo Callee", `bo${tag}`);
  });

  await step("B finds the id to share on the call screen", async () => {
    await bob.goto(opts.url + "/#/calls");
    bobId = (await bob.locator(".cl-my-id").textContent())?.trim();
    if (!bobId?.startsWith("u_")) throw new Error(`no user id shown: ${bobId}`);
    await bob.goto(opts.url + "/#/rooms"); // B is elsewhere in the app when the call comes
  });

  await step("A calls B", async () => {
    await a.goto(opts.url + "/#/calls");
    await a.getByLabel("People to call").fill(bobId);
    await a.getByLabel("People to call").press("Enter");
    await visible(a.getByRole("heading", { name: "Call" }), "the call screen");
    await visible(a.locator(`.cl-person[data-user="${bobId}"]`, { hasText: "ringing" }), "B ringing on A's screen");
  });

  await step("B's page rings; B accepts", async () => {
    const ring = bob.getByRole("alertdialog");
    await visible(ring.getByText("Ada Caller"), "the ring naming the caller");
    await ring.getByRole("button", { name: "📞 Accept" }).click();
    await visible(bob.getByRole("button", { name: "Leave call" }), "B in the call");
    if (await bob.getByRole("alertdialog").count()) throw new Error("the ring stayed after accepting");
  });

  await step("both connected and hearing each other", async () => {
    for (const [p, who] of [[a, "A"], [bob, "B"]]) {
      await visible(p.getByText("Connected · 2 in the call"), `${who}'s call status`);
      const s = await until(async () => {
        const x = await inbound(p);
        return x.connection === "connected" && x.packets > 50 && x.energy > 0 ? x : null;
      }, `audio arriving in ${who}'s page`, 30000);
      console.log(`${who} received ${s.packets} packets, energy ${s.energy.toFixed(4)}`);
    }
    await visible(a.getByRole("timer", { name: "Call duration" }).getByText(/^\d+:\d\d$/), "the call's duration");
    await shot(opts, a, "call");
  });

  await step("A mutes, then both leave", async () => {
    await a.getByRole("button", { name: "Mute", exact: true }).click();
    await visible(a.getByRole("button", { name: "Unmute", exact: true }), "A's unmute button");
    await a.getByRole("button", { name: "Leave call" }).click();
    await bob.getByRole("button", { name: "Leave call" }).click();
    for (const [p, who] of [[a, "A"], [bob, "B"]]) {
      await visible(p.getByText(/Call ended/), `the end of the call on ${who}'s page`);
    }
  });
  console.log("calls: all steps passed");
} finally {
  await b.close();
}
