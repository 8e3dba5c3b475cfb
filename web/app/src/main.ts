// The Parley web app: the shell (sign in, layout, routes) and the feature
// modules. See app.ts for the contract between them.
import "./styles.css";
import { ParleyClient } from "../../sdk/src/client.js";
import type { ParleyError } from "../../sdk/src/types.js";
import type { App } from "./app.js";
import * as chat from "./chat/index.js";
import * as rooms from "./rooms/index.js";
import * as calls from "./calls/index.js";
import { renderAuth } from "./shell/auth.js";
import { createShell, type Shell } from "./shell/layout.js";
import { idleTimeout, watchPresence } from "./shell/presence.js";
import { renderHome } from "./shell/home.js";
import { Unread } from "./shell/unread.js";
import { startNotifications } from "./shell/notify.js";

/** The feature modules, installed in this order at every sign-in. */
export const modules: { install(app: App): void }[] = [chat, rooms, calls];

const root = document.getElementById("app");
if (root) boot(root);

function boot(root: HTMLElement): void {
  const client = new ParleyClient({ baseUrl: location.origin });
  let shell: Shell | null = null;
  let stopPresence: (() => void) | null = null;
  let unread: Unread | null = null;
  let signingOut = false;

  const showAuth = () => {
    document.title = "Sign in · Parley";
    renderAuth(root, client, "signin", start);
  };

  const stop = () => {
    stopPresence?.();
    stopPresence = null;
    unread?.stop();
    unread = null;
    shell?.destroy();
    shell = null;
  };

  const signOut = async () => {
    signingOut = true;
    stop();
    try {
      await client.signOut();
    } catch {
      // The local session is gone either way.
    }
    signingOut = false;
    if (location.hash && location.hash !== "#/") history.replaceState(null, "", location.pathname + location.search);
    showAuth();
  };

  function start(): void {
    const user = client.user;
    if (!user) return showAuth();
    document.title = "Parley";
    const u = new Unread(client);
    unread = u;
    // The title counts conversations with unread messages: "(3) Parley".
    u.onChange(() => {
      const n = u.total();
      document.title = n > 0 ? `(${n}) Parley` : "Parley";
    });
    shell = createShell(root, client, user, () => void signOut(), (el) => renderHome(el, client, user, u));
    for (const m of modules) {
      try {
        m.install(shell.app);
      } catch (e) {
        console.error(e);
        shell.app.toast(`A part of the app failed to start: ${(e as Error)?.message ?? e}`, "error");
      }
    }
    startNotifications(shell.app);
    shell.start();
    // Marks for load measurements (web/sdk/bench/app_load.mjs): the shell
    // drawn, and the connection's first hello.
    performance.mark("parley:shell");
    const offMark = client.onState((s) => {
      if (s !== "open") return;
      offMark();
      performance.mark("parley:connected");
    });
    stopPresence = watchPresence(client, idleTimeout());
    void u.load();
    client.connect().catch((e: ParleyError) => {
      // A refused session signs out (onSession below); other failures
      // keep retrying in the background.
      if (client.session) shell?.app.toast(`Cannot connect: ${e.message}`, "error");
    });
  }

  // The session ended elsewhere (revoked, expired): back to sign-in.
  client.onSession((s) => {
    if (s || signingOut || !shell) return;
    stop();
    showAuth();
    const note = document.createElement("p");
    note.className = "form-note";
    note.setAttribute("role", "status");
    note.textContent = "You were signed out. Sign in again to continue.";
    root.querySelector(".auth-card h1")?.after(note);
  });

  if (client.session) start();
  else showAuth();
}
