// The chat section of the sidebar: workspace switcher, channels and DMs
// with live unread and mention badges. Counts patch one row; only a new
// boot rebuilds the lists.
import { h, clear } from "../ui/dom.js";
import type { BootChannel } from "../../../sdk/src/chat.js";
import type { ChatState } from "./state.js";
import { icon } from "./icons.js";

export function mountSidebar(el: HTMLElement, st: ChatState): void {
  el.classList.add("chat-side");
  const rows = new Map<string, { row: HTMLElement; badge: HTMLElement; link: HTMLAnchorElement; label: HTMLElement }>();
  const mentionsBadge = h("span", { class: "chat-badge empty" });
  const mentionsLink = h("a", { href: "#/chat/mentions", dataset: { page: "mentions" } }, icon("at"), h("span", { class: "chat-list-name" }, "Mentions"), mentionsBadge);
  const browseLink = h("a", { href: "#/chat/browse", dataset: { page: "browse" } }, icon("hash"), h("span", { class: "chat-list-name" }, "Browse channels"));
  const paintMentions = () => {
    let n = 0;
    for (const c of st.channels.values()) n += c.mentions;
    mentionsBadge.textContent = n > 0 ? String(n) : "";
    mentionsBadge.className = n > 0 ? "chat-badge mention" : "chat-badge empty";
    mentionsLink.setAttribute("aria-label", n > 0 ? `Mentions, ${n} new` : "Mentions");
  };
  const markPage = () => {
    for (const a of [mentionsLink, browseLink]) {
      if (location.hash === a.getAttribute("href")) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  };
  window.addEventListener("hashchange", markPage);

  const render = () => {
    clear(el);
    rows.clear();
    const wss = st.workspaces;
    if (wss.length === 0) {
      el.append(h("a", { href: "#/chat/new", class: "chat-side-cta" }, "Create or join a workspace"));
      return;
    }
    const select = h("select", { "aria-label": "Workspace", class: "chat-ws-select", onchange: async () => {
      await st.reload(select.value);
      const first = st.boot?.channels?.[0];
      if (first) st.app.navigate(`#/c/${first.id}`);
    } }, wss.map((w) => h("option", { value: w.id, selected: w.id === st.workspace }, w.name)));
    el.append(h("div", { class: "chat-ws" }, select,
      h("a", { href: "#/chat/new", class: "icon-btn", "aria-label": "Create or join a workspace", title: "Create or join a workspace" }, "+"),
      h("a", { href: "#/chat/invite", class: "icon-btn", "aria-label": "Invite people", title: "Invite people" }, "✉")));

    const chans = [...st.channels.values()].filter((c) => c.kind === "public" || c.kind === "private")
      .sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""));
    const dms = [...st.channels.values()].filter((c) => c.kind === "dm" || c.kind === "group");
    el.append(
      h("ul", { class: "chat-list chat-side-links", "aria-label": "Messaging views" }, h("li", null, mentionsLink), h("li", null, browseLink)),
      h("div", { class: "chat-side-head" }, h("span", { id: "chat-channels-h" }, "Channels"),
        h("a", { href: "#/chat/new-channel", class: "icon-btn", "aria-label": "Create a channel", title: "Create a channel" }, "+")),
      h("ul", { class: "chat-list", "aria-labelledby": "chat-channels-h" }, chans.map(row)),
      h("div", { class: "chat-side-head" }, h("span", { id: "chat-dms-h" }, "Direct messages"),
        h("a", { href: "#/chat/dm", class: "icon-btn", "aria-label": "Message someone", title: "Message someone" }, "+")),
      h("ul", { class: "chat-list", "aria-labelledby": "chat-dms-h" }, dms.map(row)),
    );
    markCurrent();
    paintMentions();
    markPage();
  };

  const row = (c: BootChannel): HTMLElement => {
    const label = h("span", { class: "chat-list-name" }, st.channelName(c));
    const badge = h("span", { class: "chat-badge" });
    const link = h("a", { href: `#/c/${c.id}`, dataset: { channel: c.id } }, c.kind === "dm" || c.kind === "group" ? presenceDot(c) : null, label, badge);
    const li = h("li", null, link);
    rows.set(c.id, { row: li, badge, link, label });
    paint(c.id);
    return li;
  };

  const presenceDot = (c: BootChannel): HTMLElement | null => {
    const other = (c.people ?? []).find((u) => u !== st.me);
    if (!other || (c.people ?? []).length > 2) return null;
    st.watchPresence(other);
    return h("span", { class: `presence ${st.presence.get(other) ?? "offline"}`, dataset: { user: other }, "aria-hidden": "true" });
  };

  const paint = (id: string) => {
    const r = rows.get(id);
    const c = st.channels.get(id);
    if (!r || !c) return;
    const unread = c.unread > 0 && st.viewing !== id;
    r.link.classList.toggle("unread", unread);
    r.badge.textContent = c.mentions > 0 ? String(c.mentions) : unread ? String(c.unread) : "";
    r.badge.className = c.mentions > 0 ? "chat-badge mention" : unread ? "chat-badge" : "chat-badge empty";
    const label = st.channelName(c);
    r.link.setAttribute("aria-label", label + (c.mentions > 0 ? `, ${c.mentions} mentions` : "") + (unread ? `, ${c.unread} unread` : ""));
  };

  const markCurrent = () => {
    for (const [id, r] of rows) {
      if (id === st.viewing) r.link.setAttribute("aria-current", "page");
      else r.link.removeAttribute("aria-current");
      paint(id);
    }
  };

  st.on((c) => {
    if (c.kind === "boot") render();
    else if (c.kind === "counts") {
      if (!rows.has(c.channel)) render();
      else paint(c.channel);
      paintMentions();
    } else if (c.kind === "profiles") {
      for (const [id, r] of rows) {
        const ch = st.channels.get(id);
        if (ch) r.label.textContent = st.channelName(ch);
      }
    } else if (c.kind === "viewing") {
      markCurrent();
    } else if (c.kind === "presence") {
      el.querySelectorAll<HTMLElement>(`.presence[data-user="${c.user}"]`).forEach((d) => (d.className = `presence ${c.status}`));
    }
  });
  render();
}
