// The signed-in layout: sidebar (brand, connection state, the modules'
// sections, user menu), the main pane with hash routes, toasts, and the
// phone-width drawer. createShell returns the App handed to the modules.
import type { ParleyClient } from "../../../sdk/src/client.js";
import type { ConnState, User } from "../../../sdk/src/types.js";
import type { App, Render } from "../app.js";
import { clear, h } from "../ui/dom.js";

interface Route {
  pattern: RegExp;
  render: Render;
}

interface Section {
  id: string;
  title: string;
  order: number;
  el: HTMLElement;
  wrap: HTMLElement;
}

export interface Shell {
  app: App;
  /** start routes the current location (call after the modules installed). */
  start(): void;
  /** destroy removes the layout and its listeners. */
  destroy(): void;
}

const STATE_TEXT: Record<ConnState, string> = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  closed: "Offline",
};

export function initials(u: User): string {
  const src = (u.display_name || u.handle || "?").trim();
  const parts = src.split(/\s+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : src.slice(0, 2);
  return s.toUpperCase();
}

/** createShell draws the signed-in layout; home renders the "#/" route. */
export function createShell(root: HTMLElement, client: ParleyClient, user: User, signOut: () => void, home: Render): Shell {
  const routes: Route[] = [];
  const sections: Section[] = [];
  const signOutHooks: (() => void)[] = [];
  const cleanups: (() => void)[] = [];
  let routeCleanup: (() => void) | void;

  // ---- layout ----
  const main = h("main", { class: "main", id: "main", tabindex: "-1", "aria-live": "off" });
  const toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
  const stateDot = h("span", { class: "dot", "aria-hidden": "true" });
  const stateText = h("span", { class: "state-text" }, STATE_TEXT[client.state]);
  const pendingText = h("span", { class: "pending" });
  pendingText.hidden = true;
  const status = h("div", { class: "conn", role: "status", "aria-live": "polite", dataset: { state: client.state } }, stateDot, stateText, pendingText);
  const sectionsEl = h("div", { class: "sections" });

  const menuList = h(
    "div",
    { class: "menu", role: "menu", id: "user-menu" },
    h("div", { class: "menu-head" }, h("strong", null, user.display_name), h("span", { class: "muted" }, "@" + user.handle)),
    h(
      "button",
      { type: "button", role: "menuitem", class: "menu-item", onclick: () => signOut() },
      "Sign out",
    ),
  );
  menuList.hidden = true;
  const menuButton = h(
    "button",
    {
      type: "button",
      class: "user-button",
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-controls": "user-menu",
      "aria-label": `Account: ${user.display_name}`,
    },
    h("span", { class: "avatar", "aria-hidden": "true" }, initials(user)),
    h("span", { class: "user-name" }, user.display_name),
    h("span", { class: "chev", "aria-hidden": "true" }, "▾"),
  );
  const setMenu = (open: boolean) => {
    menuList.hidden = !open;
    menuButton.setAttribute("aria-expanded", String(open));
    if (open) (menuList.querySelector("[role=menuitem]") as HTMLElement | null)?.focus();
  };
  menuButton.addEventListener("click", () => setMenu(menuList.hidden));
  menuList.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      setMenu(false);
      menuButton.focus();
    }
  });
  const userMenu = h("div", { class: "user-menu" }, menuList, menuButton);

  const sidebar = h(
    "nav",
    { class: "sidebar", id: "sidebar", "aria-label": "Sidebar" },
    h(
      "div",
      { class: "sidebar-head" },
      h("a", { class: "brand", href: "#/", "aria-label": "Parley home" }, h("span", { class: "logo", "aria-hidden": "true" }, "P"), h("span", null, "Parley")),
      status,
    ),
    sectionsEl,
    userMenu,
  );

  const drawerButton = h(
    "button",
    { type: "button", class: "icon-btn menu-toggle", "aria-label": "Open navigation", "aria-controls": "sidebar", "aria-expanded": "false" },
    h("span", { class: "burger", "aria-hidden": "true" }, "☰"),
  );
  const topbar = h(
    "header",
    { class: "topbar" },
    drawerButton,
    h("a", { class: "brand", href: "#/" }, h("span", { class: "logo", "aria-hidden": "true" }, "P"), h("span", null, "Parley")),
    h("span", { class: "topbar-state", "aria-hidden": "true" }),
  );
  const backdrop = h("div", { class: "backdrop", "aria-hidden": "true" });
  const shellEl = h("div", { class: "shell" }, topbar, sidebar, backdrop, main, toasts);
  clear(root);
  root.removeAttribute("aria-live");
  root.appendChild(shellEl);

  const phone = window.matchMedia("(max-width: 700px)");
  const setDrawer = (open: boolean) => {
    shellEl.classList.toggle("drawer-open", open);
    drawerButton.setAttribute("aria-expanded", String(open));
    drawerButton.setAttribute("aria-label", open ? "Close navigation" : "Open navigation");
    // Off-screen, the drawer's links must not take focus.
    if (phone.matches) sidebar.inert = !open;
    if (open) (sidebar.querySelector("a, button") as HTMLElement | null)?.focus();
  };
  const syncPhone = () => {
    sidebar.inert = phone.matches && !shellEl.classList.contains("drawer-open");
    if (!phone.matches) setDrawer(false);
  };
  syncPhone();
  phone.addEventListener("change", syncPhone);
  cleanups.push(() => phone.removeEventListener("change", syncPhone));
  drawerButton.addEventListener("click", () => setDrawer(!shellEl.classList.contains("drawer-open")));
  backdrop.addEventListener("click", () => setDrawer(false));
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape" && shellEl.classList.contains("drawer-open")) {
      setDrawer(false);
      drawerButton.focus();
    }
  };
  document.addEventListener("keydown", onKey);
  cleanups.push(() => document.removeEventListener("keydown", onKey));
  const onDocClick = (e: MouseEvent) => {
    if (!menuList.hidden && !userMenu.contains(e.target as Node)) setMenu(false);
  };
  document.addEventListener("click", onDocClick);
  cleanups.push(() => document.removeEventListener("click", onDocClick));

  // ---- connection state ----
  const showState = (s: ConnState) => {
    status.dataset.state = s;
    stateText.textContent = STATE_TEXT[s];
    shellEl.dataset.conn = s;
    (topbar.querySelector(".topbar-state") as HTMLElement).textContent = s === "open" ? "" : STATE_TEXT[s];
  };
  cleanups.push(client.onState(showState));
  showState(client.state);
  cleanups.push(
    client.onQueue((n) => {
      pendingText.hidden = n === 0;
      pendingText.textContent = n === 0 ? "" : `Sending ${n}…`;
    }),
  );

  // ---- toasts ----
  const toast = (message: string, kind: "info" | "error" = "info") => {
    const t = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : undefined }, message);
    const close = h("button", { type: "button", class: "icon-btn toast-close", "aria-label": "Dismiss" }, "×");
    t.appendChild(close);
    const remove = () => t.remove();
    close.addEventListener("click", remove);
    toasts.appendChild(t);
    setTimeout(remove, kind === "error" ? 8000 : 4000);
  };

  // ---- routes ----
  const notFound: Render = (el) => {
    el.appendChild(h("div", { class: "empty" }, h("h1", null, "Nothing here"), h("p", null, h("a", { href: "#/" }, "Go home"))));
  };

  const show = () => {
    if (typeof routeCleanup === "function") {
      try {
        routeCleanup();
      } catch (e) {
        console.error(e);
      }
    }
    routeCleanup = undefined;
    clear(main);
    const hash = location.hash || "#/";
    let render: Render | null = null;
    let match: RegExpMatchArray | null = null;
    if (hash === "#/" || hash === "#") {
      render = home;
      match = hash.match(/^#\/?$/);
    } else {
      for (const r of routes) {
        match = hash.match(r.pattern);
        if (match) {
          render = r.render;
          break;
        }
      }
    }
    if (!render || !match) {
      render = notFound;
      match = hash.match(/.*/)!;
    }
    for (const a of sidebar.querySelectorAll("a[href]")) {
      if (a.getAttribute("href") === hash) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    try {
      routeCleanup = render(main, match);
    } catch (e) {
      console.error(e);
      toast(`This page failed to load: ${(e as Error)?.message ?? e}`, "error");
    }
    if (phone.matches) setDrawer(false);
    // A page that replaced the focused element (a link in the old page)
    // hands the focus to the new page, so the keyboard goes on from there.
    if (!document.activeElement || document.activeElement === document.body) main.focus({ preventScroll: true });
  };
  const onHash = () => show();

  const app: App = {
    conn: client,
    client,
    user,
    route(pattern, render) {
      routes.push({ pattern, render });
    },
    navigate(hash) {
      if (location.hash === hash) show();
      else location.hash = hash;
    },
    sidebarSection(id, title, order) {
      const have = sections.find((s) => s.id === id);
      if (have) return have.el;
      const headId = `section-${id}`;
      const el = h("div", { class: "section-body" });
      const wrap = h("section", { class: "section", "aria-labelledby": headId, dataset: { section: id } }, h("h2", { id: headId, class: "section-title" }, title), el);
      const s: Section = { id, title, order, el, wrap };
      sections.push(s);
      sections.sort((a, b) => a.order - b.order);
      const next = sections[sections.indexOf(s) + 1];
      sectionsEl.insertBefore(wrap, next ? next.wrap : null);
      return el;
    },
    toast,
    onSignOut(cb) {
      signOutHooks.push(cb);
    },
  };

  return {
    app,
    start() {
      window.addEventListener("hashchange", onHash);
      show();
    },
    destroy() {
      window.removeEventListener("hashchange", onHash);
      for (const cb of signOutHooks) {
        try {
          cb();
        } catch (e) {
          console.error(e);
        }
      }
      if (typeof routeCleanup === "function") {
        try {
          routeCleanup();
        } catch (e) {
          console.error(e);
        }
      }
      for (const c of cleanups) c();
      shellEl.remove();
    },
  };
}
