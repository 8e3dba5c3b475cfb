// The app shell in Chromium: sign up, the signed-in layout, a reload that
// keeps the session, sign out, a wrong and a right sign-in, and the drawer
// at phone width.
import { launch, shot, step } from "./apphelpers.mjs";

const opts = JSON.parse(process.argv[2]);
const b = await launch(opts);
const tag = Date.now().toString(36);
const email = `ann${tag}@example.com`;
const password = "a long password";
const expectVisible = async (loc, what) => {
  await loc.first().waitFor({ state: "visible", timeout: 15000 }).catch(() => {
    throw new Error(`${what} is not visible`);
  });
};

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
    await page.getByLabel("Handle").fill(`ann${tag}`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByLabel("Password").press("Enter"); // forms submit with Enter
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
  console.log("app shell: ok");
} finally {
  await b.close();
}
