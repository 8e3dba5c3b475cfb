// Team messaging in the web app: onboarding, the sidebar's workspaces,
// channels and DMs, and the channel screen. See app.ts for the contract.
import "./chat.css";
import { h } from "../ui/dom.js";
import type { App, Render } from "../app.js";
import { ChatState } from "./state.js";
import { mountSidebar } from "./sidebar.js";
import { channelView } from "./channel.js";
import { browsePage, dmPage, invitePage, mentionsPage, newChannelPage, onboarding } from "./pages.js";

/** install adds the chat screens to the app. */
export function install(app: App): void {
  const st = new ChatState(app);
  mountSidebar(app.sidebarSection("chat", "Messages", 10), st);

  // after renders a page once the boot payload is in.
  const after = (fn: (main: HTMLElement, m: RegExpMatchArray) => (() => void) | void, needWorkspace = true): Render => (main, m) => {
    let alive = true;
    let cleanup: (() => void) | void;
    const wait = h("p", { class: "muted chat-wait" }, "Loading…");
    main.append(wait);
    st.ready().then(() => {
      if (!alive) return;
      wait.remove();
      if (needWorkspace && !st.workspace) onboarding(main, st);
      else cleanup = fn(main, m);
    }, (e) => {
      wait.textContent = `Could not load your workspaces: ${e?.message ?? e}`;
    });
    return () => {
      alive = false;
      if (cleanup) cleanup();
    };
  };

  app.route(/^#\/chat\/?$/, after((main) => {
    const chans = st.boot?.channels ?? [];
    const gen = chans.find((c) => c.name === "general") ?? chans[0];
    if (gen) app.navigate(`#/c/${gen.id}`);
    else onboarding(main, st);
  }));
  app.route(/^#\/chat\/new$/, after((main) => onboarding(main, st), false));
  app.route(/^#\/chat\/invite$/, after((main) => invitePage(main, st)));
  app.route(/^#\/chat\/new-channel$/, after((main) => newChannelPage(main, st)));
  app.route(/^#\/chat\/dm$/, after((main) => dmPage(main, st)));
  app.route(/^#\/chat\/mentions$/, after((main) => mentionsPage(main, st)));
  app.route(/^#\/chat\/browse$/, after((main) => browsePage(main, st)));
  app.route(/^#\/c\/([A-Za-z0-9_-]+)(?:\/m\/([A-Za-z0-9_/]+))?$/, after((main, m) => channelView(main, st, m[1], m[2])));
  void st.ready().catch(() => {});
}
