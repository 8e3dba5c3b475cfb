// The small chat pages: onboarding (create or join a workspace), inviting
// people, creating a channel, and opening a DM with a member.
import { h } from "../ui/dom.js";
import type { ChatState } from "./state.js";

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
