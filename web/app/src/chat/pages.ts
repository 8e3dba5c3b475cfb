// The small chat pages: onboarding (create or join a workspace), inviting
// people, creating a channel, and opening a DM with a member.
import { h } from "../ui/dom.js";
import type { ChatState } from "./state.js";
import type { Channel, MentionItem } from "../../../sdk/src/chat.js";
import { avatar, fmtTime, richText } from "./messages.js";

function errText(e: any): string {
  return e?.message || String(e);
}

/** busy disables a form's controls while fn runs. */
async function busy(form: HTMLFormElement, fn: () => Promise<void>): Promise<void> {
  const ctrls = [...form.querySelectorAll<HTMLInputElement | HTMLButtonElement>("input,button,select")];
  ctrls.forEach((c) => (c.disabled = true));
  try {
    await fn();
  } finally {
    ctrls.forEach((c) => (c.disabled = false));
  }
}

export function onboarding(main: HTMLElement, st: ChatState): void {
  const name = h("input", { id: "chat-ws-name", name: "name", required: true, maxlength: "80", autocomplete: "off", placeholder: "Acme" });
  const code = h("input", { id: "chat-invite-code", name: "code", required: true, autocomplete: "off", placeholder: "w_….…" });
  const create = h("form", { class: "card", "aria-labelledby": "chat-create-h", onsubmit: (e: Event) => {
    e.preventDefault();
    void busy(create, async () => {
      try {
        const r = await st.chat.createWorkspace(name.value.trim());
        await st.reload(r.workspace.id);
        st.app.navigate(`#/c/${r.general}`);
      } catch (err) {
        st.app.toast(`Could not create the workspace: ${errText(err)}`, "error");
      }
    });
  } },
    h("h2", { id: "chat-create-h" }, "Create a workspace"),
    h("label", { for: "chat-ws-name" }, "Workspace name"), name,
    h("button", { type: "submit", class: "btn primary" }, "Create workspace"));
  const join = h("form", { class: "card", "aria-labelledby": "chat-join-h", onsubmit: (e: Event) => {
    e.preventDefault();
    void busy(join, async () => {
      try {
        const r = await st.chat.joinWorkspace(code.value);
        await st.reload(r.workspace.id);
        const gen = st.boot?.channels?.find((c) => c.name === "general") ?? st.boot?.channels?.[0];
        st.app.navigate(gen ? `#/c/${gen.id}` : "#/chat");
      } catch (err) {
        st.app.toast(`Could not join: ${errText(err)}`, "error");
      }
    });
  } },
    h("h2", { id: "chat-join-h" }, "Join a workspace"),
    h("label", { for: "chat-invite-code" }, "Invite code or link"), code,
    h("button", { type: "submit", class: "btn primary" }, "Join"));
  main.append(h("section", { class: "chat-page" },
    h("h1", null, st.workspaces.length ? "Another workspace" : "Welcome to team messaging"),
    h("p", null, "Start a workspace for your team, or join one with the invite code someone shared with you."),
    h("div", { class: "chat-cards" }, create, join)));
  name.focus();
}

export function invitePage(main: HTMLElement, st: ChatState): void {
  const out = h("div", { class: "chat-invite-out", "aria-live": "polite" });
  const ws = st.workspaces.find((w) => w.id === st.workspace);
  const form = h("form", { class: "card", onsubmit: (e: Event) => {
    e.preventDefault();
    void busy(form, async () => {
      try {
        const inv = await st.chat.createInvite(st.workspace);
        const field = h("input", { id: "chat-invite-value", readonly: true, value: inv.code, "aria-label": "Invite code" });
        const copy = h("button", { type: "button", class: "btn", onclick: async () => {
          field.select();
          try {
            await navigator.clipboard.writeText(inv.code);
            st.app.toast("Invite code copied");
          } catch {
            document.execCommand?.("copy");
            st.app.toast("Select the code and copy it");
          }
        } }, "Copy");
        out.replaceChildren(
          h("label", { for: "chat-invite-value" }, "Invite code (valid until ", new Date(inv.expires_at).toLocaleDateString(), ")"),
          h("div", { class: "row" }, field, copy),
          h("p", { class: "muted" }, "Or share the link: ", h("code", null, inv.link)));
        field.select();
      } catch (err) {
        st.app.toast(`Could not create an invite: ${errText(err)}`, "error");
      }
    });
  } },
    h("h1", null, `Invite people to ${ws?.name ?? "the workspace"}`),
    h("p", null, "Anyone with the code can join as a member (up to 100 people, for a week)."),
    h("button", { type: "submit", class: "btn primary" }, "Create invite code"), out);
  main.append(h("section", { class: "chat-page" }, form));
}

export function newChannelPage(main: HTMLElement, st: ChatState): void {
  const name = h("input", { id: "chat-ch-name", required: true, maxlength: "80", autocomplete: "off", placeholder: "design" });
  const topic = h("input", { id: "chat-ch-topic", maxlength: "250", autocomplete: "off" });
  const priv = h("input", { id: "chat-ch-private", type: "checkbox" });
  const form = h("form", { class: "card", onsubmit: (e: Event) => {
    e.preventDefault();
    void busy(form, async () => {
      try {
        const ch = await st.chat.createChannel(st.workspace, name.value.trim().replace(/^#/, ""), {
          private: priv.checked, ...(topic.value.trim() ? { topic: topic.value.trim() } : {}) });
        await st.reload();
        st.app.navigate(`#/c/${ch.id}`);
      } catch (err) {
        st.app.toast(`Could not create the channel: ${errText(err)}`, "error");
      }
    });
  } },
    h("h1", null, "Create a channel"),
    h("label", { for: "chat-ch-name" }, "Name"), name,
    h("label", { for: "chat-ch-topic" }, "Topic (optional)"), topic,
    h("label", { class: "check" }, priv, " Private: only invited people can see it"),
    h("button", { type: "submit", class: "btn primary" }, "Create channel"));
  main.append(h("section", { class: "chat-page" }, form));
  name.focus();
}

export function dmPage(main: HTMLElement, st: ChatState): () => void {
  const list = h("ul", { class: "chat-people", "aria-label": "Members" });
  const filter = h("input", { type: "search", id: "chat-dm-filter", placeholder: "Filter by name", autocomplete: "off" });
  let alive = true;
  const open = async (user: string) => {
    try {
      const ch = await st.chat.openDM(st.workspace, [user]);
      await st.reload();
      st.app.navigate(`#/c/${ch.id}`);
    } catch (err) {
      st.app.toast(`Could not open the conversation: ${errText(err)}`, "error");
    }
  };
  const show = async () => {
    const q = filter.value.trim();
    const people = q
      ? (await st.chat.autocomplete(st.workspace, q, { limit: 20 })).map((u) => ({ user: u.user, profile: u.profile }))
      : await st.chat.members({ workspace: st.workspace }, { limit: 100 });
    if (!alive) return;
    list.replaceChildren(...people.filter((m) => m.user !== st.me).map((m) => {
      st.profiles.set(m.user, m.profile);
      return h("li", null, h("button", { type: "button", onclick: () => open(m.user) },
        h("span", { class: "name" }, m.profile.display_name || m.profile.handle), " ",
        h("span", { class: "muted" }, "@" + m.profile.handle)));
    }));
    if (!list.firstChild) list.append(h("li", { class: "muted" }, "Nobody else here yet: invite people first."));
  };
  let t = 0;
  filter.addEventListener("input", () => {
    clearTimeout(t);
    t = window.setTimeout(() => void show().catch(() => {}), 150);
  });
  main.append(h("section", { class: "chat-page" }, h("div", { class: "card" },
    h("h1", null, "Message someone"),
    h("label", { for: "chat-dm-filter" }, "Find a member"), filter, list)));
  void show().catch((err) => st.app.toast(`Could not list members: ${errText(err)}`, "error"));
  filter.focus();
  return () => {
    alive = false;
  };
}

/** mentionsPage lists the messages that mention the user, newest first;
 * each opens its message in place (in its thread for replies). */
export function mentionsPage(main: HTMLElement, st: ChatState): () => void {
  let alive = true;
  let next = "";
  const list = h("ul", { class: "chat-feed", "aria-label": "Mentions" });
  const status = h("p", { class: "muted", "aria-live": "polite" }, "Loading…");
  const more = h("button", { type: "button", class: "btn", hidden: true, onclick: () => void load() }, "Show older mentions");
  const item = (m: MentionItem) => {
    st.wantProfile(m.by);
    const ch = st.channels.get(m.channel);
    const where = ch ? st.channelName(ch) : "a channel";
    const what = m.kind === "user" ? "mentioned you" : `notified @${m.kind}`;
    const href = `#/c/${m.channel}/m/${m.thread ? `${m.thread}/${m.id}` : m.id}`;
    return h("li", { class: "mention-item" }, avatar(st, m.by),
      h("button", { type: "button", onclick: () => st.app.navigate(href) },
        h("span", { class: "mention-meta" }, h("strong", { class: "author", dataset: { user: m.by } }, st.displayName(m.by)),
          ` ${what} in `, h("strong", null, where), m.thread ? " (thread)" : "", h("span", { class: "muted" }, ` · ${fmtTime(m.at)}`)),
        h("span", { class: "mention-text" }, richText(st, m.text))));
  };
  const load = async () => {
    more.disabled = true;
    try {
      const r = await st.chat.mentions({ workspace: st.workspace, limit: 30, ...(next ? { before: next } : {}) });
      if (!alive) return;
      const ms = r.mentions ?? [];
      for (const m of ms) list.append(item(m));
      next = r.next ?? "";
      more.hidden = !next || ms.length === 0;
      status.textContent = list.childElementCount ? "" : "Nobody has mentioned you yet. When someone writes @your-handle, it shows here.";
    } catch (err) {
      status.textContent = `Could not load your mentions: ${errText(err)}`;
    } finally {
      more.disabled = false;
    }
  };
  const off = st.on((c) => {
    if (c.kind === "profiles") list.querySelectorAll<HTMLElement>(".author[data-user]").forEach((el) => (el.textContent = st.displayName(el.dataset.user!)));
  });
  main.append(h("section", { class: "chat-page" },
    h("div", { class: "chat-page-head" }, h("h1", null, "Mentions")), status, list, more));
  void load();
  return () => {
    alive = false;
    off();
  };
}

/** browsePage is the directory of the workspace's public channels: open
 * the ones the user is in, join the others. */
export function browsePage(main: HTMLElement, st: ChatState): () => void {
  let alive = true;
  const list = h("ul", { class: "chat-feed", "aria-label": "Public channels" });
  const filter = h("input", { type: "search", id: "chat-browse-filter", placeholder: "Filter channels", autocomplete: "off" });
  const status = h("p", { class: "muted", "aria-live": "polite" }, "Loading…");
  let all: Channel[] = [];
  const row = (c: Channel) => {
    const member = c.member || st.channels.has(c.id);
    const btn = h("button", { type: "button", class: member ? "btn" : "btn primary", "aria-label": `${member ? "Open" : "Join"} #${c.name}`, onclick: async () => {
      if (member) {
        st.app.navigate(`#/c/${c.id}`);
        return;
      }
      btn.disabled = true;
      try {
        await st.chat.joinChannel(c.id);
        await st.reload();
        st.app.navigate(`#/c/${c.id}`);
      } catch (err) {
        btn.disabled = false;
        st.app.toast(`Could not join #${c.name}: ${errText(err)}`, "error");
      }
    } }, member ? "Open" : "Join");
    return h("li", { class: "dir-item", dataset: { name: c.name ?? "" } },
      h("div", { class: "dir-info" }, h("span", { class: "dir-name" }, `#${c.name}`),
        h("span", { class: "dir-topic muted" }, [c.topic || c.purpose || "No topic", ` · ${c.member_count} ${c.member_count === 1 ? "member" : "members"}`])),
      btn);
  };
  const show = () => {
    const q = filter.value.trim().replace(/^#/, "").toLowerCase();
    const shown = all.filter((c) => !q || (c.name ?? "").toLowerCase().includes(q) || (c.topic ?? "").toLowerCase().includes(q));
    list.replaceChildren(...shown.map(row));
    status.textContent = shown.length ? `${shown.length} ${shown.length === 1 ? "channel" : "channels"}` : q ? "No channel matches." : "No public channels yet.";
  };
  filter.addEventListener("input", show);
  main.append(h("section", { class: "chat-page" },
    h("div", { class: "chat-page-head" }, h("h1", null, "Browse channels"), h("a", { href: "#/chat/new-channel", class: "btn" }, "Create a channel")),
    h("label", { for: "chat-browse-filter", class: "muted" }, "Find a channel"), filter, status, list));
  (async () => {
    try {
      // The directory pages by name; a workspace has few enough to list them all.
      let after = "";
      for (let i = 0; i < 20; i++) {
        const page = await st.chat.directory(st.workspace, { limit: 200, ...(after ? { after } : {}) });
        all.push(...page);
        if (page.length < 200) break;
        after = page[page.length - 1].name ?? "";
      }
      if (alive) show();
    } catch (err) {
      status.textContent = `Could not list the channels: ${errText(err)}`;
    }
  })();
  filter.focus();
  return () => {
    alive = false;
    all = [];
  };
}
