// Rendering of messages and the list that holds them: one <li> per message,
// patched in place on edits, reactions and replies; consecutive messages of
// one author within five minutes are grouped under one avatar.
import { h } from "../ui/dom.js";
import type { Attachment, Message } from "../../../sdk/src/chat.js";
import { hue, initials, type ChatState } from "./state.js";
import { icon } from "./icons.js";

export const EMOJI = ["👍", "❤️", "😂", "🎉", "👀", "🚀", "🙏", "✅"];
const groupMs = 5 * 60 * 1000;

export interface MessageActions {
  react(m: Message, emoji: string): void;
  pin?(m: Message, pinned: boolean): void;
  openThread?(m: Message): void;
  edit(m: Message, li: HTMLElement): void;
  remove(m: Message): void;
}

export interface RenderCtx {
  st: ChatState;
  actions: MessageActions;
  /** blobUrl loads an upload with the session's token and caches its URL. */
  blobUrl(a: Attachment): Promise<string>;
  inThread: boolean;
}

export function fmtTime(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  const t = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toDateString() === today.toDateString() ? t : `${d.toLocaleDateString()} ${t}`;
}

function dayOf(ts: number): Date {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d;
}

/** dayKey names the local calendar day of a time (ms). */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** dayLabel is how a day separator reads: "Today", "Yesterday", or the date. */
export function dayLabel(ts: number, now = Date.now()): string {
  const days = Math.round((dayOf(now).getTime() - dayOf(ts).getTime()) / 86400000);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  const d = new Date(ts);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return d.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric", ...(sameYear ? {} : { year: "numeric" }) });
}

function daySep(ts: number): HTMLLIElement {
  return h("li", { class: "day-sep", dataset: { day: dayKey(ts) } }, h("span", { class: "day-label" }, dayLabel(ts)));
}

export function fmtSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** avatar draws a person's initials with a presence dot. */
export function avatar(st: ChatState, user: string): HTMLElement {
  const el = h("span", { class: "chat-avatar", "aria-hidden": "true", dataset: { user } }, initials(st.displayName(user)),
    h("span", { class: `presence ${st.presence.get(user) ?? "offline"}`, dataset: { user } }));
  el.style.setProperty("--hue", String(hue(user)));
  st.watchPresence(user);
  return el;
}

/** richText turns message text into nodes: @mentions and links. */
export function richText(st: ChatState, text: string): Node[] {
  const me = st.profiles.get(st.me)?.handle?.toLowerCase();
  const out: Node[] = [];
  const re = /(@[\p{L}\p{N}_.-]+)|(https?:\/\/[^\s<>"]+)/gu;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    if (m[1]) {
      const handle = m[1].slice(1).replace(/[.]+$/, "").toLowerCase();
      out.push(h("span", { class: handle === me || ["channel", "here", "everyone"].includes(handle) ? "mention me" : "mention" }, m[1]));
    } else {
      out.push(h("a", { href: m[2], target: "_blank", rel: "noopener noreferrer" }, m[2]));
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** The box an image preview fits in, keeping its aspect ratio. */
const PREVIEW_W = 360;
const PREVIEW_H = 240;

/** fitBox is the size an image of w x h is shown at (never enlarged). */
export function fitBox(w: number, h: number): { width: number; height: number } {
  if (!(w > 0 && h > 0)) return { width: 240, height: 160 };
  const k = Math.min(1, PREVIEW_W / w, PREVIEW_H / h);
  return { width: Math.max(1, Math.round(w * k)), height: Math.max(1, Math.round(h * k)) };
}

function extension(name: string): string {
  const m = /\.([A-Za-z0-9]{1,5})$/.exec(name);
  return m ? m[1].toUpperCase() : "FILE";
}

async function saveAs(ctx: RenderCtx, a: Attachment): Promise<void> {
  try {
    const url = await ctx.blobUrl(a);
    const tmp = h("a", { href: url, download: a.name });
    document.body.append(tmp);
    tmp.click();
    tmp.remove();
  } catch (err: any) {
    ctx.st.app.toast(`Could not download ${a.name}: ${err?.message ?? err}`, "error");
  }
}

/** showImage opens an image full size in a modal dialog (Esc closes it). */
function showImage(ctx: RenderCtx, a: Attachment, url: string): void {
  const dlg = h("dialog", { class: "chat-lightbox", "aria-label": a.name, onclick: (e: Event) => {
    if (e.target === dlg) dlg.close();
  }, onclose: () => dlg.remove() },
    h("img", { src: url, alt: a.name }),
    h("div", { class: "chat-lightbox-bar" },
      h("span", { class: "name" }, a.name), h("span", { class: "muted" }, fmtSize(a.size)),
      h("button", { type: "button", class: "btn small", onclick: () => void saveAs(ctx, a) }, icon("download"), " Download"),
      h("button", { type: "button", class: "btn small", "aria-label": "Close", onclick: () => dlg.close() }, "✕")));
  document.body.append(dlg);
  dlg.showModal();
}

function attachmentEl(ctx: RenderCtx, a: Attachment): HTMLElement {
  const size = fmtSize(a.size);
  const download = h("a", { href: "#", class: "att-download", "aria-label": `Download ${a.name} (${size})`, title: "Download",
    onclick: (e: Event) => {
      e.preventDefault();
      void saveAs(ctx, a);
    } }, icon("download"));
  if (!a.content_type.startsWith("image/")) {
    return h("div", { class: "attachment file-card" },
      h("span", { class: "file-icon", "aria-hidden": "true" }, icon("file"), h("span", { class: "ext" }, extension(a.name))),
      h("span", { class: "file-info" }, h("span", { class: "file-name", title: a.name }, a.name),
        h("span", { class: "file-size muted" }, `${size} · ${a.content_type.split(";")[0]}`)),
      download);
  }
  // A placeholder of a fixed size until the image is in, then the image's
  // own aspect ratio within PREVIEW_W x PREVIEW_H.
  const img = h("img", { alt: a.name, class: "preview", decoding: "async" });
  const box = h("button", { type: "button", class: "img-box loading", "aria-label": `Open ${a.name} full size`, title: a.name });
  box.append(img);
  // Width and aspect ratio (not a height), so that a narrow screen scales
  // the box down instead of letterboxing the image.
  const place = fitBox(0, 0);
  box.style.width = `${place.width}px`;
  box.style.aspectRatio = `${place.width} / ${place.height}`;
  ctx.blobUrl(a).then((u) => {
    img.addEventListener("load", () => {
      const f = fitBox(img.naturalWidth, img.naturalHeight);
      const before = box.getBoundingClientRect();
      box.style.width = `${f.width}px`;
      box.style.aspectRatio = `${f.width} / ${f.height}`;
      box.classList.remove("loading");
      // Tell the timeline how much taller the message got, so that it can
      // keep what is on screen in place.
      const dh = box.getBoundingClientRect().height - before.height;
      box.dispatchEvent(new CustomEvent("chat-media", { bubbles: true, detail: { dh, top: before.top } }));
    }, { once: true });
    img.src = u;
    box.addEventListener("click", () => showImage(ctx, a, u));
  }).catch(() => {
    box.classList.remove("loading");
    box.classList.add("broken");
    box.replaceChildren(h("span", { class: "muted" }, "Preview unavailable"));
  });
  return h("figure", { class: "attachment image" }, box,
    h("figcaption", { class: "img-caption" }, h("span", { class: "file-name", title: a.name }, a.name),
      h("span", { class: "muted" }, size), download));
}

export function renderMessage(ctx: RenderCtx, m: Message): HTMLLIElement {
  const { st } = ctx;
  const li = h("li", { class: "msg", dataset: { id: m.id, author: m.author, ts: String(Date.parse(m.created_at) || 0) } });
  if (m.deleted) {
    li.classList.add("deleted");
    li.append(h("span", { class: "chat-avatar ghost", "aria-hidden": "true" }), h("div", { class: "msg-body" }, h("p", { class: "muted" }, "This message was deleted.")));
    return li;
  }
  const mine = m.author === st.me;
  if (m.pinned) li.classList.add("pinned");
  const body = h("div", { class: "msg-body" },
    h("div", { class: "msg-meta" },
      h("span", { class: "author", dataset: { user: m.author } }, st.displayName(m.author)), " ",
      h("time", { datetime: m.created_at, title: new Date(m.created_at).toLocaleString() }, fmtTime(m.created_at)),
      m.edited_at ? h("span", { class: "edited muted" }, " (edited)") : null,
      m.pinned ? h("span", { class: "pinned-label" }, icon("pin"), "Pinned") : null),
    h("div", { class: "msg-text" }, richText(st, m.text)));
  for (const a of m.attachments ?? []) body.append(attachmentEl(ctx, a));
  if (m.reactions?.length) {
    body.append(h("div", { class: "reactions", role: "group", "aria-label": "Reactions" }, m.reactions.map((r) => {
      const on = r.users.includes(st.me);
      const who = r.users.slice(0, 5).map((u) => st.displayName(u)).join(", ");
      return h("button", { type: "button", class: on ? "reaction on" : "reaction", "aria-pressed": on ? "true" : "false",
        "aria-label": `${r.emoji} ${r.count}, ${on ? "remove your reaction" : "react"}`, title: who,
        dataset: { focus: `r:${r.emoji}` }, onclick: () => ctx.actions.react(m, r.emoji) }, `${r.emoji} ${r.count}`);
    })));
  }
  if (!ctx.inThread && m.reply_count && ctx.actions.openThread) {
    body.append(h("button", { type: "button", class: "thread-link", dataset: { focus: "thread" }, onclick: () => ctx.actions.openThread!(m) },
      `${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}`));
  }
  const picker = h("div", { class: "emoji-picker", role: "group", "aria-label": "Pick a reaction", hidden: true,
    onkeydown: (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        picker.hidden = true;
        reactBtn.setAttribute("aria-expanded", "false");
        reactBtn.focus();
      }
    } },
    EMOJI.map((e) => h("button", { type: "button", "aria-label": `React with ${e}`, onclick: () => {
      // The focus goes back to the button that opened the picker.
      picker.hidden = true;
      reactBtn.setAttribute("aria-expanded", "false");
      reactBtn.focus();
      ctx.actions.react(m, e);
    } }, e)));
  const reactBtn = h("button", { type: "button", class: "icon-btn", "aria-label": "Add reaction", title: "Add reaction", dataset: { focus: "react" },
    "aria-expanded": "false", onclick: () => {
      picker.hidden = !picker.hidden;
      reactBtn.setAttribute("aria-expanded", String(!picker.hidden));
      if (!picker.hidden) picker.querySelector("button")?.focus();
    } }, "☺");
  const actions = h("div", { class: "msg-actions" }, reactBtn,
    !ctx.inThread && ctx.actions.openThread && !m.thread
      ? h("button", { type: "button", class: "icon-btn", "aria-label": "Reply in thread", title: "Reply in thread", dataset: { focus: "reply" }, onclick: () => ctx.actions.openThread!(m) }, icon("reply"))
      : null,
    ctx.actions.pin
      ? h("button", { type: "button", class: m.pinned ? "icon-btn on" : "icon-btn", "aria-label": m.pinned ? "Unpin message" : "Pin message",
        title: m.pinned ? "Unpin" : "Pin to channel", dataset: { focus: "pin" }, onclick: () => ctx.actions.pin!(m, !m.pinned) }, icon("pin"))
      : null,
    mine ? h("button", { type: "button", class: "icon-btn", "aria-label": "Edit message", title: "Edit", dataset: { focus: "edit" }, onclick: () => ctx.actions.edit(m, li) }, "✎") : null,
    mine ? h("button", { type: "button", class: "icon-btn", "aria-label": "Delete message", title: "Delete", onclick: () => {
      if (confirm("Delete this message?")) ctx.actions.remove(m);
    } }, icon("trash")) : null);
  li.append(avatar(st, m.author), body, actions, picker);
  return li;
}

/** MessageList holds one list of messages (a timeline or a thread). */
export class MessageList {
  readonly ol: HTMLOListElement;
  readonly els = new Map<string, HTMLLIElement>();

  constructor(private ctx: RenderCtx, label: string) {
    this.ol = h("ol", { class: "msgs", "aria-label": label });
  }

  clear(): void {
    this.ol.replaceChildren();
    this.els.clear();
  }

  has(id: string): boolean {
    return this.els.has(id);
  }

  append(m: Message): HTMLLIElement {
    if (this.els.has(m.id)) return this.update(m)!;
    const li = renderMessage(this.ctx, m);
    this.els.set(m.id, li);
    this.appendEl(li);
    return li;
  }

  /** appendEl adds a message element (or a placeholder of one being sent)
   * at the end, after a day separator when it starts a new day. */
  appendEl(li: HTMLElement): void {
    const ts = Number(li.dataset.ts) || Date.now();
    let last = this.ol.lastElementChild as HTMLElement | null;
    while (last && !last.dataset.ts) last = last.previousElementSibling as HTMLElement | null;
    if (!last || dayKey(Number(last.dataset.ts)) !== dayKey(ts)) this.ol.append(daySep(ts));
    this.ol.append(li);
    group(li);
  }

  /** prepend adds older messages (in order) before the first one. */
  prepend(ms: Message[]): void {
    const first = this.ol.firstElementChild as HTMLElement | null;
    const frag = document.createDocumentFragment();
    const added: HTMLLIElement[] = [];
    let day = "";
    for (const m of ms) {
      if (this.els.has(m.id)) continue;
      const li = renderMessage(this.ctx, m);
      const k = dayKey(Number(li.dataset.ts));
      if (k !== day) frag.append(daySep(Number(li.dataset.ts)));
      day = k;
      this.els.set(m.id, li);
      frag.append(li);
      added.push(li);
    }
    this.ol.insertBefore(frag, first);
    // The old first day's separator goes when the added messages end on that day.
    if (first?.classList.contains("day-sep") && first.dataset.day === day) {
      const next = first.nextElementSibling as HTMLElement | null;
      first.remove();
      if (next) group(next);
    }
    added.forEach(group);
    if (first?.isConnected) group(first);
  }

  /** markUnread puts the "New messages" divider before a message. */
  markUnread(id: string): HTMLElement | null {
    this.ol.querySelector(".unread-sep")?.remove();
    const li = this.els.get(id);
    if (!li) return null;
    const sep = h("li", { class: "unread-sep" }, h("span", null, "New messages"));
    li.before(sep);
    group(li);
    return sep;
  }

  /** update redraws a message, keeping the focus where it was. */
  update(m: Message): HTMLLIElement | undefined {
    const old = this.els.get(m.id);
    if (!old) return undefined;
    const had = old.contains(document.activeElement);
    const focused = had ? (document.activeElement as HTMLElement).dataset.focus : undefined;
    const li = renderMessage(this.ctx, m);
    old.replaceWith(li);
    this.els.set(m.id, li);
    group(li);
    if (li.nextElementSibling) group(li.nextElementSibling as HTMLElement);
    if (had) {
      // The message takes the focus first: that shows its actions
      // (:focus-within), so that the one that had it can take it back.
      li.tabIndex = -1;
      li.focus({ preventScroll: true });
      if (focused) li.querySelector<HTMLElement>(`[data-focus="${CSS.escape(focused)}"]`)?.focus({ preventScroll: true });
    }
    return li;
  }

  /** lastOwn is the newest message of the user, for Up-arrow editing. */
  lastOwn(user: string): string | undefined {
    const lis = this.ol.querySelectorAll<HTMLElement>(`li.msg[data-author="${CSS.escape(user)}"]:not(.deleted):not(.pending)`);
    return lis.length ? lis[lis.length - 1].dataset.id : undefined;
  }
}

/** group marks li as a continuation of the previous message's group. */
export function group(li: HTMLElement): void {
  const prev = li.previousElementSibling as HTMLElement | null;
  const cont = !!prev && !prev.classList.contains("deleted") && !li.classList.contains("deleted") &&
    prev.dataset.author === li.dataset.author &&
    Math.abs(Number(li.dataset.ts) - Number(prev.dataset.ts)) < groupMs;
  li.classList.toggle("cont", cont);
}
