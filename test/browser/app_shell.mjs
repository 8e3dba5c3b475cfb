// The app shell in Chromium: sign up (field rules and the server's field
// errors), the signed-in layout, a reload that keeps the session, sign out, a
// wrong and a right sign-in, the drawer at phone width, "Reconnecting…"
// while the Go test's proxy cuts the network and "Connected" after, and
// presence going "away" after the idle timeout (shortened through the
// parley.idle_ms storage key), as another user sees it with presence.get.
import { launch, shot, step, until } from "./apphelpers.mjs";

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36);
const email = `ann${tag}@example.com`;
const password = "a long password";
const expectVisible = async (loc, what, timeout = 15000) => {
  await loc.first().waitFor({ state: "visible", timeout }).catch(() => {
    throw new Error(`${what} is not visible`);
  });
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// control cuts ("down") or restores ("up") the proxy between browser and node.
const control = async (what) => {
  const r = await fetch(`${opts.control}/${what}`, { method: "POST" });
  if (r.status !== 204) throw new Error(`proxy ${what}: ${r.status}`);
};
const signUpHTTP = async (handle) => {
  const r = await fetch(`${opts.url}/v1/auth/signup`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: `${handle}@example.com`, password: "a long password", handle, display_name: handle }),
  });
  const body = await r.json();
  if (r.status !== 201) throw new Error(`sign-up ${r.status}: ${JSON.stringify(body)}`);
  return body;
};
// presenceOf asks the server, over its own WebSocket in page (another
// user's browser), for user's presence status.
const presenceOf = (page, token, user) =>
  page.evaluate(
    async ({ token, user }) => {
      const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/v1/ws");
      const next = (pred) =>
        new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error("no answer")), 10000);
          ws.onmessage = (m) => {
            const f = JSON.parse(m.data);
            if (pred(f)) {
              clearTimeout(t);
              res(f);
            }
          };
          ws.onclose = (e) => rej(new Error(`closed ${e.code} ${e.reason}`));
        });
      try {
        await new Promise((res, rej) => {
          ws.onopen = res;
          ws.onerror = () => rej(new Error("cannot connect"));
        });
        let p = next((f) => f.type === "hello" || f.type === "error");
        ws.send(JSON.stringify({ type: "auth", token }));
        const hello = await p;
        if (hello.type !== "hello") throw new Error(JSON.stringify(hello));
        p = next((f) => f.type === "res" && f.id === 1);
        ws.send(JSON.stringify({ type: "req", id: 1, method: "presence.get", params: { users: [user] } }));
        const r = await p;
        if (r.error) throw new Error(`presence.get: ${r.error.message}`);
        return r.result.users?.[0]?.status ?? "none";
      } finally {
        ws.onclose = null;
        ws.close();
      }
    },
    { token, user },
  );

try {
  const page = await b.newUser({ width: 1280, height: 800 });
  await step("open the sign-in screen", async () => {
    await page.goto(opts.url);
    await expectVisible(page.getByRole("heading", { name: "Sign in to Parley" }), "the sign-in heading");
    await expectVisible(page.getByLabel("Email"), "the labelled email field");
    await shot(opts, page, "signin");
  });

  await step("sign up", async () => {
    await page.getByRole("button", { name: "Create an account" }).click();
    await expectVisible(page.getByRole("heading", { name: "Create your Parley account" }), "the sign-up heading");
    await page.getByLabel("Display name").fill("Ann Example");
    // The handle of an existing account: the server's error shows at the field.
    const taken = `taken${tag}`;
    await signUpHTTP(taken);
    const handle = page.getByLabel("Handle");
    await handle.fill("a");
    await page.getByLabel("Email").focus(); // leaving the field checks it
    await expectVisible(page.locator("#f-handle-error").getByText("A handle has 2 to 32 characters."), "the inline handle error");
    if ((await handle.getAttribute("aria-invalid")) !== "true") throw new Error("the handle is not marked invalid");
    await handle.fill(taken);
    if (await page.locator("#f-handle-error").isVisible()) throw new Error("the handle error stays after the fix");
    await page.getByLabel("Email").fill(email);
    const pw = page.getByLabel("Password");
    await pw.fill("short");
    const rule = page.locator(".rule", { hasText: "At least 8 characters" });
    if (await rule.evaluate((el) => el.classList.contains("met"))) throw new Error("the length rule is met by 5 characters");
    await pw.press("Enter");
    await expectVisible(page.locator("#f-password-error").getByText("Use at least 8 characters."), "the inline password error");
    await pw.fill(password);
    if (!(await rule.evaluate((el) => el.classList.contains("met")))) throw new Error("the length rule is not met by a long password");
    await pw.press("Enter"); // forms submit with Enter
    await expectVisible(page.locator("#f-handle-error").getByText("Handle is already taken."), "the server's error next to the handle");
    await shot(opts, page, "signup-errors");
    await handle.fill(`ann${tag}`);
    await pw.press("Enter");
    await expectVisible(page.getByRole("heading", { name: "Welcome, Ann Example" }), "the home screen");
  });

  await step("the shell: sidebar, sections, connection state", async () => {
    const nav = page.getByRole("navigation", { name: "Sidebar" });
    await expectVisible(nav, "the sidebar");
    await expectVisible(nav.getByText("Connected"), "the connection state 'Connected'");
    await expectVisible(nav.getByRole("button", { name: "Account: Ann Example" }), "the user menu button");
    const session = await page.evaluate(() => localStorage.getItem("parley.session"));
    if (!session || !JSON.parse(session).access_token) throw new Error("the session is not persisted");
    await shot(opts, page, "home");
  });

  await step("a reload keeps the session", async () => {
    await page.reload();
    await expectVisible(page.getByRole("heading", { name: "Welcome, Ann Example" }), "the home screen after a reload");
    await expectVisible(page.getByText("Connected"), "the connection after a reload");
  });

  await step("an unknown route shows a way home", async () => {
    await page.goto(opts.url + "/#/no/such/place");
    await expectVisible(page.getByRole("heading", { name: "Nothing here" }), "the not-found screen");
    await page.getByRole("link", { name: "Go home" }).click();
    await expectVisible(page.getByRole("heading", { name: "Welcome, Ann Example" }), "home again");
  });

  await step("sign out from the user menu (keyboard)", async () => {
    const menu = page.getByRole("button", { name: "Account: Ann Example" });
    await menu.focus();
    await page.keyboard.press("Enter");
    const item = page.getByRole("menuitem", { name: "Sign out" });
    await expectVisible(item, "the sign-out menu item");
    await page.keyboard.press("Enter"); // the item has focus
    await expectVisible(page.getByRole("heading", { name: "Sign in to Parley" }), "the sign-in screen after sign-out");
    const session = await page.evaluate(() => localStorage.getItem("parley.session"));
    if (session) throw new Error("the session is still stored after sign-out");
    await page.reload();
    await expectVisible(page.getByRole("heading", { name: "Sign in to Parley" }), "signed out after a reload");
  });

  await step("a wrong password shows the server's message; the right one signs in", async () => {
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await expectVisible(alert, "the error message");
    const text = (await alert.textContent()) ?? "";
    if (!/password|credentials|email/i.test(text)) throw new Error(`unexpected error text: ${text}`);
    await page.getByLabel("Password").fill(password);
    await page.getByLabel("Password").press("Enter");
    await expectVisible(page.getByRole("heading", { name: "Welcome, Ann Example" }), "home after signing in again");
  });

  const phone = await b.newUser({ width: 360, height: 740 });
  await step("phone width: the sidebar is a drawer behind a menu button", async () => {
    await phone.goto(opts.url);
    await phone.getByLabel("Email").fill(email);
    await phone.getByLabel("Password").fill(password);
    await phone.getByLabel("Password").press("Enter");
    await expectVisible(phone.getByRole("heading", { name: "Welcome, Ann Example" }), "home at phone width");
    const toggle = phone.getByRole("button", { name: "Open navigation" });
    await expectVisible(toggle, "the menu button");
    const inView = () =>
      phone.evaluate(() => {
        const r = document.getElementById("sidebar").getBoundingClientRect();
        return r.right > 0 && r.left < window.innerWidth;
      });
    if (await inView()) throw new Error("the drawer is open before the menu button is pressed");
    await toggle.click();
    await phone.waitForFunction(() => {
      const r = document.getElementById("sidebar").getBoundingClientRect();
      return r.left >= 0 && r.right > 100;
    }, null, { timeout: 5000 });
    const expanded = await phone.getByRole("button", { name: "Close navigation" }).getAttribute("aria-expanded");
    if (expanded !== "true") throw new Error(`aria-expanded is ${expanded}`);
    await expectVisible(phone.getByRole("button", { name: "Account: Ann Example" }), "the user menu inside the drawer");
    await shot(opts, phone, "home-phone-drawer");
    await phone.keyboard.press("Escape");
    await phone.waitForFunction(() => document.getElementById("sidebar").getBoundingClientRect().right <= 0, null, { timeout: 5000 });
  });
  await step("the network drops: Reconnecting…, then Connected again", async () => {
    const nav = page.getByRole("navigation", { name: "Sidebar" });
    await expectVisible(nav.getByText("Connected"), "Connected before the cut");
    await control("down");
    await expectVisible(nav.getByText("Reconnecting…"), "the Reconnecting… indicator");
    const state = await nav.locator(".conn").getAttribute("data-state");
    if (state !== "reconnecting") throw new Error(`the connection state is ${state}`);
    await shot(opts, page, "reconnecting");
    // Stay down over a few retries: each is refused and the indicator stays.
    await sleep(2500);
    await expectVisible(nav.getByText("Reconnecting…"), "the indicator while retries fail");
    await control("up");
    await expectVisible(nav.getByText("Connected"), "Connected after the network is back", 30000);
  });

  await step("idle: another user sees Ann away, then online again after input", async () => {
    const bob = await signUpHTTP(`bob${tag}`);
    const ann = JSON.parse(await page.evaluate(() => localStorage.getItem("parley.session"))).user.id;
    const probe = await b.newUser();
    await probe.goto(opts.url); // the app's origin, signed out
    // Ann's phone session would keep her online: only this page is hers now.
    await phone.context().close();
    // The idle timeout is read at sign-in: set it, then reload.
    await page.evaluate(() => localStorage.setItem("parley.idle_ms", "3000"));
    await page.reload();
    await expectVisible(page.getByRole("navigation", { name: "Sidebar" }).getByText("Connected"), "Connected after the reload");
    await page.mouse.move(200, 200);
    await page.mouse.move(220, 240);
    const first = await presenceOf(probe, bob.access_token, ann);
    if (first !== "online") throw new Error(`right after input Ann is ${first}, want online`);
    await until(async () => (await presenceOf(probe, bob.access_token, ann)) === "away", "Ann to be away", 20000);
    await page.mouse.move(400, 300);
    await page.keyboard.press("Shift");
    await until(async () => (await presenceOf(probe, bob.access_token, ann)) === "online", "Ann to be online again", 15000);
  });
  console.log("app shell: ok");
} finally {
  await b.close();
}
