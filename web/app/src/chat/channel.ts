// The channel screen: header with search, the timeline (lazy history on
// scroll-up that keeps the scroll position), typing indicator, composer,
// and side panels for a thread and search results. Live updates patch the
// one message they concern.
import { h } from "../ui/dom.js";
import { applyReaction, snippetParts, type Attachment, type ChannelUpdate, type Message, type Upload } from "../../../sdk/src/chat.js";
import type { Subscription } from "../../../sdk/src/types.js";
import { initials, type ChatState } from "./state.js";
import { Composer } from "./composer.js";
import { icon } from "./icons.js";
import { MessageList, avatar, fmtTime, group, type RenderCtx } from "./messages.js";

const PAGE = 50;

export function channelView(main: HTMLElement, st: ChatState, channel: string, focusId?: string): () => void {
  let alive = true;
  const cleanups: (() => void)[] = [];
  const msgs = new Map<string, Message>();
  const blobs = new Map<string, Promise<string>>();
  let moreBefore = false;
  let moreAfter = false;
  let loadingOlder = false;
  let ready = false;
  const buffered: ChannelUpdate[] = [];
  let sub: Subscription | null = null;
  let threadRoot: string | null = null;
  const typers = new Map<string, { timer: number; thread?: string }>();

  const info = st.channels.get(channel);
  const title = info ? st.channelName(info) : "…";
  const titleEl = h("h1", { id: "chat-title" }, title);
  const topicEl = h("span", { class: "chat-topic muted" }, info?.topic ?? "");
  let memberCount = info?.member_count ?? 0;
  let pinCount = -1;
  const membersBtn = h("button", { type: "button", class: "members-btn", onclick: () => void openMembers() });
  const pinsBtn = h("button", { type: "button", class: "head-btn", "aria-label": "Pinned messages", title: "Pinned messages", onclick: () => void openPins() }, icon("pin"));
  const pinsCountEl = h("span", { class: "count" });
  pinsBtn.append(pinsCountEl);
  const paintHead = () => {
    membersBtn.replaceChildren(icon("users"), ` ${memberCount}`);
    membersBtn.setAttribute("aria-label", `${memberCount} ${memberCount === 1 ? "member" : "members"}: show them`);
    membersBtn.title = `${memberCount} ${memberCount === 1 ? "member" : "members"}`;
    membersBtn.hidden = memberCount <= 0;
    pinsCountEl.textContent = pinCount > 0 ? String(pinCount) : "";
    pinsBtn.setAttribute("aria-label", pinCount > 0 ? `Pinned messages (${pinCount})` : "Pinned messages");
  };
  paintHead();
  const callBtn = h("button", { type: "button", class: "head-btn call", "aria-label": "Start a call", title: "Start a call with this channel",
    onclick: () => st.app.navigate(`#/calls/channel:${channel}`) }, icon("phone"), h("span", { class: "label" }, "Call"));

  // ---- rendering context ----
  const ctx: RenderCtx = {
    st, inThread: false,
    blobUrl: (a: Attachment) => {
      let p = blobs.get(a.id);
      if (!p) {
        p = st.chat.download(a.id).then((b) => URL.createObjectURL(b));
        blobs.set(a.id, p);
        p.catch(() => blobs.delete(a.id));
      }
      return p;
    },
    actions: {
      react: (m, emoji) => {
        const on = m.reactions?.find((r) => r.emoji === emoji)?.users.includes(st.me);
        (on ? st.chat.unreact(channel, m.id, emoji) : st.chat.react(channel, m.id, emoji))
          .catch((e) => st.app.toast(`Could not react: ${e.message}`, "error"));
      },
      openThread: (m) => void openThread(m.id),
      edit: (m, li) => startEdit(m, li),
      remove: (m) => void st.chat.delete(channel, m.id).catch((e) => st.app.toast(`Could not delete: ${e.message}`, "error")),
      pin: (m, on) => void (on ? st.chat.pin(channel, m.id) : st.chat.unpin(channel, m.id))
        .then(() => st.app.toast(on ? "Pinned to the channel" : "Unpinned"))
        .catch((e) => st.app.toast(`Could not ${on ? "pin" : "unpin"}: ${e.message}`, "error")),
    },
  };
  const threadCtx: RenderCtx = { ...ctx, inThread: true };
  const list = new MessageList(ctx, "Messages");
  const tlist = new MessageList(threadCtx, "Thread messages");

  // ---- layout ----
  const log = h("div", { class: "chat-log", tabindex: "0", "aria-labelledby": "chat-title", role: "log", "aria-keyshortcuts": "ArrowUp ArrowDown" });
  const older = h("div", { class: "chat-older muted", "aria-live": "polite" });
  const latestBtn = h("button", { type: "button", class: "chat-latest", hidden: true, onclick: () => {
    if (moreAfter) void loadLatest();
    else {
      toBottom();
      latestBtn.hidden = true;
      markReadIfSeen();
    }
  } }, icon("down"), "Jump to latest");
  log.append(older, list.ol);
  const typingEl = h("div", { class: "chat-typing muted", "aria-live": "polite" });
  const composer = new Composer({ st, channel, label: `Message ${title}`, send: (t, ups) => send(t, ups), editLast: () => editLast(list) });

  const searchInput = h("input", { type: "search", placeholder: "Search", "aria-label": "Search messages", autocomplete: "off" });
  const searchForm = h("form", { role: "search", class: "chat-search-form", onsubmit: (e: Event) => {
    e.preventDefault();
    void runSearch(searchInput.value.trim());
  } }, searchInput);

  const threadPanel = h("aside", { class: "chat-panel chat-thread", "aria-labelledby": "chat-thread-h", hidden: true });
  const searchPanel = h("aside", { class: "chat-panel chat-results", "aria-labelledby": "chat-results-h", hidden: true });
  const infoPanel = h("aside", { class: "chat-panel chat-info", "aria-labelledby": "chat-info-h", hidden: true });
  const joinBar = h("div", { class: "chat-join", hidden: true });

  const view = h("section", { class: "chat-view" },
    h("header", { class: "chat-head" },
      h("div", { class: "chat-head-title" }, titleEl, h("div", { class: "chat-head-sub" }, membersBtn, topicEl)),
      h("div", { class: "chat-head-actions" }, pinsBtn, callBtn), searchForm),
    h("div", { class: "chat-body" },
      h("div", { class: "chat-main" }, h("div", { class: "chat-log-wrap" }, log, latestBtn), typingEl, joinBar, composer.form),
      threadPanel, searchPanel, infoPanel));
  main.append(view);

  // Drag and drop: files dropped on the thread go to its composer.
  let threadComposer: Composer | null = null;
  view.addEventListener("dragover", (e) => {
    if (e.dataTransfer?.types.includes("Files")) {
      e.preventDefault();
      view.classList.add("dropping");
    }
  });
  view.addEventListener("dragleave", (e) => {
    if (e.target === view || !view.contains(e.relatedTarget as Node)) view.classList.remove("dropping");
  });
  view.addEventListener("drop", (e) => {
    view.classList.remove("dropping");
    const files = e.dataTransfer?.files;
    if (!files?.length) return;
    e.preventDefault();
    const target = threadComposer && threadPanel.contains(e.target as Node) ? threadComposer : composer;
    for (const f of files) target.addFile(f);
  });

  // ---- state sync ----
  st.setViewing(channel);
  cleanups.push(() => {
    if (st.viewing === channel) st.setViewing("");
  });
  cleanups.push(st.on((c) => {
    if (c.kind === "profiles") {
      view.querySelectorAll<HTMLElement>(".author[data-user]").forEach((el) => (el.textContent = st.displayName(el.dataset.user!)));
      view.querySelectorAll<HTMLElement>(".chat-avatar[data-user]").forEach((el) => {
        if (el.firstChild?.nodeType === Node.TEXT_NODE) el.firstChild.textContent = initials(st.displayName(el.dataset.user!));
      });
      const i = st.channels.get(channel);
      if (i) titleEl.textContent = st.channelName(i);
      showTyping();
    } else if (c.kind === "counts" && c.channel === channel) {
      markReadIfSeen();
    } else if (c.kind === "presence") {
      view.querySelectorAll<HTMLElement>(`.presence[data-user="${CSS.escape(c.user)}"]`).forEach((d) => (d.className = `presence ${c.status}`));
    } else if (c.kind === "boot") {
      const i = st.channels.get(channel);
      if (i) {
        titleEl.textContent = st.channelName(i);
        topicEl.textContent = i.topic ?? "";
      }
    }
  }));

  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 60;
  const toBottom = () => {
    log.scrollTop = log.scrollHeight;
    stuck = true;
  };
  // stuck: the view follows the newest message (it was at the bottom when
  // last scrolled), so an image that finishes loading keeps it there.
  let stuck = true;
  log.addEventListener("chat-media", (e) => {
    if (stuck) {
      log.scrollTop = log.scrollHeight;
      return;
    }
    // An image above the visible part grew: move by as much.
    const { dh, top } = (e as CustomEvent<{ dh: number; top: number }>).detail;
    if (dh && top < log.getBoundingClientRect().top) log.scrollTop += dh;
  });

  // showEdge shows the start of the channel once no older message is left.
  const showEdge = () => {
    if (moreBefore) {
      older.className = "chat-older muted";
      older.replaceChildren();
      return;
    }
    const i = st.channels.get(channel);
    const name = i ? st.channelName(i) : titleEl.textContent ?? "";
    const about = i?.topic ?? "";
    older.className = "chat-older chat-intro";
    older.replaceChildren(h("h2", null, name),
      h("p", { class: "muted" }, "This is the beginning of the conversation.", about ? ` Topic: ${about}` : ""));
  };

  let readTimer = 0;
  let readPending = false;
  const markRead = () => {
    clearTimeout(readTimer);
    readPending = true;
    readTimer = window.setTimeout(() => {
      readPending = false;
      if (!alive || document.visibilityState !== "visible") return;
      st.chat.markRead(channel).then((c) => st.setCounts(channel, c)).catch(() => {});
    }, 250);
  };
  // The channel is read only while someone can see its newest messages:
  // the tab is visible and the timeline is scrolled to the bottom.
  let dividerPending = false;
  const markReadIfSeen = (force = false) => {
    if (!ready || moreAfter || document.visibilityState !== "visible" || !atBottom()) return;
    const c = st.channels.get(channel);
    if (!force && c && c.unread === 0 && c.read_seq >= c.last_seq) return;
    dividerPending = false;
    markRead();
  };
  const onVisible = () => markReadIfSeen();
  document.addEventListener("visibilitychange", onVisible);
  cleanups.push(() => document.removeEventListener("visibilitychange", onVisible));

  // ---- live updates ----
  const apply = (u: ChannelUpdate) => {
    switch (u.type) {
      case "message": {
        st.addProfiles(u.users);
        const m = u.message;
        if (msgs.has(m.id)) return;
        msgs.set(m.id, m);
        stopTyping(m.author);
        if (m.thread) {
          const root = msgs.get(m.thread);
          if (root) {
            root.reply_count = (root.reply_count ?? 0) + 1;
            root.last_reply_at = m.created_at;
            list.update(root);
            if (threadRoot === m.thread) tlist.update(root);
          }
          if (threadRoot === m.thread) {
            const stick = atBottomOf(tlistLog);
            replacePending(tlist, m) ?? tlist.append(m);
            if (stick) tlistLog.scrollTop = tlistLog.scrollHeight;
          }
          return;
        }
        if (moreAfter) {
          latestBtn.hidden = false;
          return;
        }
        const mine = m.author === st.me;
        const stick = mine || atBottom();
        replacePending(list, m) ?? list.append(m);
        if (stick) toBottom();
        if (!mine) {
          // Unseen: mark where the new messages start, offer the way down.
          if ((!stick || document.visibilityState !== "visible") && !dividerPending) {
            list.markUnread(m.id);
            dividerPending = true;
          }
          if (!stick) latestBtn.hidden = false;
          markReadIfSeen(true);
        }
        return;
      }
      case "edited": {
        const m = msgs.get(u.id);
        if (!m) return;
        st.addProfiles(u.users);
        m.text = u.text;
        m.mentions = u.mentions;
        m.edited_at = u.at;
        redraw(m);
        return;
      }
      case "deleted": {
        const m = msgs.get(u.id);
        if (!m) return;
        m.deleted = true;
        m.text = "";
        m.reactions = [];
        m.attachments = [];
        redraw(m);
        if (u.thread) {
          const root = msgs.get(u.thread);
          if (root && root.reply_count) {
            root.reply_count--;
            redraw(root);
          }
        }
        return;
      }
      case "reaction": {
        const m = msgs.get(u.id);
        if (m && applyReaction(m, u.emoji, u.user, u.added)) redraw(m);
        return;
      }
      case "pin": {
        const m = msgs.get(u.id);
        if (m && !!m.pinned !== u.pinned) {
          m.pinned = u.pinned;
          redraw(m);
        }
        if (pinned) pinChanged(u.id, u.pinned);
        else {
          if (pinCount >= 0) pinCount = Math.max(0, pinCount + (u.pinned ? 1 : -1));
          paintHead();
        }
        return;
      }
      case "member": {
        memberCount = Math.max(0, memberCount + (u.joined ? 1 : -1));
        paintHead();
        if (infoShows === "members") void openMembers();
        return;
      }
      case "typing": {
        if (u.user === st.me) return;
        const old = typers.get(u.user);
        if (old) clearTimeout(old.timer);
        typers.set(u.user, { thread: u.thread, timer: window.setTimeout(() => stopTyping(u.user), u.expiresMs) });
        showTyping();
        return;
      }
      default:
    }
  };
  const redraw = (m: Message) => {
    list.update(m);
    tlist.update(m);
  };
  const stopTyping = (user: string) => {
    const t = typers.get(user);
    if (!t) return;
    clearTimeout(t.timer);
    typers.delete(user);
    showTyping();
  };
  let threadTypingEl: HTMLElement | null = null;
  const showTyping = () => {
    const say = (users: string[]) => {
      const names = users.map((u) => st.displayName(u));
      if (names.length === 0) return "";
      if (names.length === 1) return `${names[0]} is typing…`;
      if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
      return "Several people are typing…";
    };
    const main: string[] = [];
    const thread: string[] = [];
    for (const [u, t] of typers) (t.thread ? (t.thread === threadRoot ? thread : null) : main)?.push(u);
    typingEl.textContent = say(main);
    if (threadTypingEl) threadTypingEl.textContent = say(thread);
  };

  // ---- sending ----
  const pendingByKey = new Map<string, HTMLElement>();
  const pendingById = new Map<string, HTMLElement>();
  const replacePending = (l: MessageList, m: Message): HTMLElement | undefined => {
    const el = pendingById.get(m.id);
    if (!el) return undefined;
    pendingById.delete(m.id);
    const li = l.append(m);
    if (el.parentNode === l.ol) el.replaceWith(li); // keep the place it was sent at
    else el.remove();
    group(li);
    if (li.nextElementSibling) group(li.nextElementSibling as HTMLElement);
    return li;
  };
  const send = (text: string, ups: Upload[], thread?: string) => {
    const l = thread ? tlist : list;
    const key = st.app.conn.newKey();
    const li = h("li", { class: "msg pending", dataset: { author: st.me, ts: String(Date.now()) } },
      h("span", { class: "chat-avatar ghost", "aria-hidden": "true" }),
      h("div", { class: "msg-body" },
        h("div", { class: "msg-meta" }, h("span", { class: "author" }, st.displayName(st.me)), " ", h("span", { class: "muted status" }, "sending…")),
        h("div", { class: "msg-text" }, text),
        ups.length ? h("div", { class: "muted" }, ups.map((u) => [icon("file"), ` ${u.name} `])) : null));
    if (!thread && moreAfter) void loadLatest();
    l.appendEl(li);
    pendingByKey.set(key, li);
    if (thread) tlistLog.scrollTop = tlistLog.scrollHeight;
    else toBottom();
    const attempt = () => {
      li.classList.remove("failed");
      li.querySelector(".status")!.textContent = "sending…";
      st.chat.post(channel, text, { key, thread, attachments: ups.map((u) => u.id) }).then((r) => {
        pendingByKey.delete(key);
        if (l.has(r.id)) {
          // The message arrived first: drop the placeholder, regroup its neighbour.
          const next = li.nextElementSibling as HTMLElement | null;
          li.remove();
          if (next) group(next);
        }
        else {
          li.dataset.id = r.id;
          pendingById.set(r.id, li);
        }
      }, (e) => {
        li.classList.add("failed");
        const status = li.querySelector(".status")!;
        status.replaceChildren(`not sent (${e.message}) `, h("button", { type: "button", class: "link", onclick: attempt }, "Retry"));
      });
    };
    attempt();
  };

  // ---- editing ----
  const editLast = (l: MessageList) => {
    const id = l.lastOwn(st.me);
    const m = id ? msgs.get(id) : undefined;
    const li = id ? l.els.get(id) : undefined;
    if (m && li) startEdit(m, li);
  };
  const startEdit = (m: Message, li: HTMLElement) => {
    const textEl = li.querySelector<HTMLElement>(".msg-text");
    if (!textEl || li.querySelector(".edit-box")) return;
    const box = h("textarea", { class: "edit-box", "aria-label": "Edit message", rows: 2 });
    box.value = m.text;
    const done = (save: boolean) => {
      const text = box.value;
      form.replaceWith(textEl);
      if (save && text.trim() && text !== m.text) {
        st.chat.edit(channel, m.id, text).catch((e) => st.app.toast(`Could not edit: ${e.message}`, "error"));
      }
      (li.isConnected ? li.querySelector<HTMLElement>("[data-focus=edit]") : null)?.focus();
      composer.focus();
    };
    const form = h("form", { class: "edit-form", onsubmit: (e: Event) => {
      e.preventDefault();
      done(true);
    } }, box, h("div", { class: "row" },
      h("button", { type: "submit", class: "btn primary small" }, "Save"),
      h("button", { type: "button", class: "btn small", onclick: () => done(false) }, "Cancel"),
      h("span", { class: "muted small" }, "Enter to save, Esc to cancel")));
    box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        done(true);
      } else if (e.key === "Escape") {
        e.preventDefault();
        done(false);
      }
    });
    textEl.replaceWith(form);
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  };

  // ---- history ----
  const remember = (ms: Message[] | null) => {
    for (const m of ms ?? []) {
      msgs.set(m.id, m);
      st.wantProfile(m.author);
    }
    return ms ?? [];
  };
  const loadLatest = async () => {
    const r = await st.chat.history(channel, { limit: PAGE });
    if (!alive) return;
    list.clear();
    const ms = remember(r.messages);
    for (const m of ms) list.append(m);
    moreBefore = r.more_before;
    moreAfter = false;
    latestBtn.hidden = true;
    showEdge();
    toBottom();
  };
  // showUnread puts the "New messages" divider at the first message after
  // readSeq by someone else, and scrolls to it when it is off screen.
  const showUnread = (readSeq: number) => {
    let first: Message | undefined;
    for (const li of list.ol.querySelectorAll<HTMLElement>("li.msg[data-id]")) {
      const m = msgs.get(li.dataset.id!);
      if (m && m.seq > readSeq && m.author !== st.me) {
        first = m;
        break;
      }
    }
    if (!first) return;
    const sep = list.markUnread(first.id);
    if (!sep) return;
    const y = sep.getBoundingClientRect().top - log.getBoundingClientRect().top;
    if (y < 0) {
      log.scrollTop += y - 40;
      stuck = atBottom();
      if (!stuck) latestBtn.hidden = false;
    }
  };
  const loadAround = async (id: string) => {
    const r = await st.chat.history(channel, { around: id, limit: PAGE });
    if (!alive) return;
    list.clear();
    for (const m of remember(r.messages)) list.append(m);
    moreBefore = r.more_before;
    moreAfter = r.more_after;
    latestBtn.hidden = !moreAfter;
    showEdge();
    highlight(id);
  };
  const loadOlder = async () => {
    if (loadingOlder || !moreBefore) return;
    const first = list.ol.querySelector<HTMLElement>("li.msg[data-id]:not(.pending)");
    const firstMsg = first ? msgs.get(first.dataset.id!) : undefined;
    if (!firstMsg) return;
    loadingOlder = true;
    older.textContent = "Loading older messages…";
    try {
      const r = await st.chat.history(channel, { before: firstMsg.seq, limit: PAGE });
      if (!alive) return;
      // Keep the first message where it is on screen (the intro that
      // replaces the loading line is taller: measure before it).
      const y0 = first!.getBoundingClientRect().top;
      moreBefore = r.more_before;
      showEdge();
      list.prepend(remember(r.messages));
      log.scrollTop += first!.getBoundingClientRect().top - y0;
    } catch (e: any) {
      older.textContent = `Could not load older messages: ${e.message}`;
    } finally {
      loadingOlder = false;
    }
  };
  const loadNewer = async () => {
    if (loadingOlder || !moreAfter) return;
    const lis = list.ol.querySelectorAll<HTMLElement>("li.msg[data-id]:not(.pending)");
    const last = lis.length ? msgs.get(lis[lis.length - 1].dataset.id!) : undefined;
    if (!last) return;
    loadingOlder = true;
    try {
      const r = await st.chat.history(channel, { after: last.seq, limit: PAGE });
      if (!alive) return;
      for (const m of remember(r.messages)) list.append(m);
      moreAfter = r.more_after;
      latestBtn.hidden = !moreAfter;
    } finally {
      loadingOlder = false;
    }
  };
  log.addEventListener("scroll", () => {
    stuck = atBottom();
    if (stuck && !moreAfter) {
      latestBtn.hidden = true;
      markReadIfSeen();
    }
    if (log.scrollTop < 200) void loadOlder();
    if (moreAfter && atBottom()) void loadNewer();
  });

  const highlight = (id: string) => {
    const li = list.els.get(id) ?? tlist.els.get(id);
    if (!li) return;
    li.scrollIntoView({ block: "center" });
    li.classList.add("flash");
    li.tabIndex = -1;
    li.focus({ preventScroll: true });
    setTimeout(() => li.classList.remove("flash"), 2000);
  };

  // ---- thread panel ----
  const tlistLog = h("div", { class: "chat-log thread-log", tabindex: "0", "aria-label": "Thread" }, tlist.ol);
  // The keyboard moves through messages: Up and Down (Home, End) from the
  // log or a message focus a message, whose actions Tab then reaches.
  for (const el of [log, tlistLog]) {
    el.addEventListener("keydown", (e) => {
      const t = e.target as HTMLElement;
      if (t !== el && !t.matches("li.msg")) return;
      const msgs = [...el.querySelectorAll<HTMLElement>("li.msg")];
      if (!msgs.length) return;
      const at = msgs.indexOf(t);
      let next = -1;
      if (e.key === "ArrowUp") next = at < 0 ? msgs.length - 1 : Math.max(0, at - 1);
      else if (e.key === "ArrowDown") next = at < 0 ? 0 : Math.min(msgs.length - 1, at + 1);
      else if (e.key === "Home" && at >= 0) next = 0;
      else if (e.key === "End" && at >= 0) next = msgs.length - 1;
      if (next < 0) return;
      e.preventDefault();
      msgs[next].tabIndex = -1;
      msgs[next].focus();
    });
  }
  const atBottomOf = (el: HTMLElement) => el.scrollHeight - el.scrollTop - el.clientHeight < 60;
  const closeThread = () => {
    threadRoot = null;
    threadPanel.hidden = true;
    threadComposer?.dispose();
    threadComposer = null;
    threadTypingEl = null;
    tlist.clear();
    view.classList.remove("with-panel");
  };
  const openThread = async (root: string, focusReply?: string) => {
    searchPanel.hidden = true;
    closeInfo();
    threadRoot = root;
    tlist.clear();
    threadComposer?.dispose();
    const tc = new Composer({ st, channel, thread: root, label: "Reply in thread", send: (t, ups) => send(t, ups, root), editLast: () => editLast(tlist) });
    threadComposer = tc;
    threadTypingEl = h("div", { class: "chat-typing muted", "aria-live": "polite" });
    threadPanel.replaceChildren(
      h("div", { class: "chat-panel-head" }, h("h2", { id: "chat-thread-h" }, "Thread"),
        h("button", { type: "button", class: "icon-btn", "aria-label": "Close thread", onclick: () => {
          closeThread();
          composer.focus();
        } }, "✕")),
      tlistLog, threadTypingEl, tc.form);
    threadPanel.hidden = false;
    view.classList.add("with-panel");
    try {
      const r = await st.chat.thread(channel, root, { limit: 200 });
      if (!alive || threadRoot !== root) return;
      for (const m of r.messages ?? []) {
        const known = msgs.get(m.id);
        if (!known) remember([m]);
        tlist.append(known ?? m);
      }
      tlistLog.scrollTop = tlistLog.scrollHeight;
      if (focusReply) highlight(focusReply);
      else tc.focus();
    } catch (e: any) {
      st.app.toast(`Could not open the thread: ${e.message}`, "error");
    }
  };
  threadPanel.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !(e.target as HTMLElement).closest(".emoji-picker,.edit-form")) {
      closeThread();
      composer.focus();
    }
  });

  // ---- search ----
  const runSearch = async (q: string) => {
    if (!q) return;
    closeThread();
    closeInfo();
    searchPanel.hidden = false;
    view.classList.add("with-panel");
    const results = h("ul", { class: "chat-hits", "aria-label": "Search results" });
    const status = h("p", { class: "muted", "aria-live": "polite" }, "Searching…");
    searchPanel.replaceChildren(
      h("div", { class: "chat-panel-head" }, h("h2", { id: "chat-results-h" }, `Results for “${q}”`),
        h("button", { type: "button", class: "icon-btn", "aria-label": "Close search results", onclick: () => {
          searchPanel.hidden = true;
          view.classList.remove("with-panel");
          searchInput.focus();
        } }, "✕")),
      status, results);
    try {
      const r = await st.chat.search(st.workspace, q, { limit: 30 });
      if (!alive) return;
      const hits = r.hits ?? [];
      status.textContent = hits.length ? `${hits.length}${r.has_more ? "+" : ""} messages` : "No messages found.";
      for (const hit of hits) {
        const m = hit.message;
        st.wantProfile(m.author);
        const chName = st.channels.get(m.channel) ? st.channelName(st.channels.get(m.channel)!) : "";
        results.append(h("li", null, h("button", { type: "button", class: "hit", onclick: () => jump(m) },
          h("span", { class: "hit-meta muted" }, h("span", { class: "author", dataset: { user: m.author } }, st.displayName(m.author)),
            ` ${chName} · ${fmtTime(m.created_at)}`),
          h("span", { class: "hit-text" }, snippetParts(hit.snippet || m.text).map((p) => p.match ? h("mark", null, p.text) : p.text)))));
      }
    } catch (e: any) {
      status.textContent = `Search failed: ${e.message}`;
    }
  };
  const jump = (m: Message) => {
    if (m.channel !== channel) {
      st.app.navigate(`#/c/${m.channel}/m/${m.thread ? `${m.thread}/${m.id}` : m.id}`);
      return;
    }
    searchPanel.hidden = true;
    closeInfo();
    view.classList.remove("with-panel");
    if (m.thread) {
      void openThread(m.thread, m.id);
      return;
    }
    if (list.has(m.id)) highlight(m.id);
    else void loadAround(m.id);
  };

  // ---- pinned messages and members (one side panel) ----
  let infoShows: "" | "pins" | "members" = "";
  const closeInfo = () => {
    if (!infoShows) return;
    infoShows = "";
    pinned = null;
    infoPanel.hidden = true;
    view.classList.remove("with-panel");
  };
  const infoHead = (title: string, back: HTMLElement) => h("div", { class: "chat-panel-head" }, h("h2", { id: "chat-info-h" }, title),
    h("button", { type: "button", class: "icon-btn", "aria-label": `Close ${title.toLowerCase()}`, onclick: () => {
      closeInfo();
      back.focus();
    } }, "✕"));
  const showInfo = (kind: "pins" | "members", ...children: HTMLElement[]) => {
    const first = infoShows !== kind;
    if (first) {
      closeThread();
      searchPanel.hidden = true;
    }
    infoShows = kind;
    infoPanel.replaceChildren(...children);
    infoPanel.hidden = false;
    view.classList.add("with-panel");
    if (first) infoPanel.querySelector<HTMLElement>(".chat-panel-head button")?.focus();
  };
  // The pinned list is read when the panel opens, then follows the
  // channel's pin events (the list query may lag just behind them).
  let pinned: Message[] | null = null;
  const pinsStatus = h("p", { class: "muted", "aria-live": "polite" });
  const pinsUl = h("ul", { class: "chat-pins", "aria-label": "Pinned messages" });
  const renderPins = () => {
    if (!pinned) return;
    pinCount = pinned.length;
    paintHead();
    pinsStatus.textContent = pinned.length ? "" : "Nothing is pinned yet. Pin a message from its actions to keep it here.";
    pinsUl.replaceChildren(...pinned.map((m) => {
      st.wantProfile(m.author);
      return h("li", { class: "pin-item", dataset: { id: m.id } },
        h("button", { type: "button", class: "hit", onclick: () => jump(m) },
          h("span", { class: "hit-meta muted" }, h("span", { class: "author", dataset: { user: m.author } }, st.displayName(m.author)), ` · ${fmtTime(m.created_at)}`),
          h("span", { class: "hit-text" }, m.text || (m.attachments?.length ? m.attachments.map((a) => a.name).join(", ") : ""))),
        h("button", { type: "button", class: "icon-btn", "aria-label": "Unpin message", title: "Unpin", onclick: () => {
          st.chat.unpin(channel, m.id).then(() => pinChanged(m.id, false), (e) => st.app.toast(`Could not unpin: ${e.message}`, "error"));
        } }, "✕"));
    }));
  };
  const pinChanged = (id: string, on: boolean) => {
    if (!pinned) return;
    const had = pinned.some((m) => m.id === id);
    if (!on && had) pinned = pinned.filter((m) => m.id !== id);
    else if (on && !had) {
      const m = msgs.get(id);
      if (m) pinned.unshift(m);
      else {
        void st.chat.message(channel, id).then((x) => {
          if (pinned && !pinned.some((p) => p.id === id)) {
            pinned.unshift(x);
            renderPins();
          }
        }, () => {});
      }
    } else return;
    renderPins();
  };
  const openPins = async () => {
    if (infoShows === "pins") {
      closeInfo();
      return;
    }
    pinsStatus.textContent = "Loading…";
    pinsUl.replaceChildren();
    showInfo("pins", infoHead("Pinned messages", pinsBtn), pinsStatus, pinsUl);
    try {
      const ps = await st.chat.pins(channel);
      if (!alive || (infoShows as string) !== "pins") return;
      pinned = ps;
      renderPins();
    } catch (e: any) {
      pinsStatus.textContent = `Could not load the pins: ${e.message}`;
    }
  };
  const openMembers = async () => {
    const ul = h("ul", { class: "chat-members", "aria-label": "Members" });
    if (infoShows !== "members") showInfo("members", infoHead("Members", membersBtn), ul);
    try {
      const ms = await st.chat.members({ channel }, { limit: 200 });
      if (!alive || infoShows !== "members") return;
      for (const m of ms) {
        st.profiles.set(m.user, m.profile);
        ul.append(h("li", { class: "member-row" }, avatar(st, m.user),
          h("span", null, h("strong", null, m.profile.display_name || m.profile.handle), " ", h("span", { class: "muted" }, `@${m.profile.handle}`),
            m.role === "owner" || m.role === "admin" ? h("span", { class: "muted" }, ` · ${m.role}`) : null)));
      }
      infoPanel.querySelector(".chat-members")?.replaceWith(ul);
    } catch (e: any) {
      ul.append(h("li", { class: "muted" }, `Could not list the members: ${e.message}`));
    }
  };
  infoPanel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      const back = infoShows === "pins" ? pinsBtn : membersBtn;
      closeInfo();
      back.focus();
    }
  });

  // ---- start ----
  const start = async () => {
    // Where the user had read to, before this visit reads the channel.
    const readSeq = info?.read_seq ?? 0;
    const details = st.chat.channel(channel);
    details.then((c) => {
      if (!alive) return;
      memberCount = c.member_count;
      topicEl.textContent = c.topic || c.purpose || "";
      paintHead();
    }, () => {});
    st.chat.pins(channel).then((p) => {
      if (!alive || pinCount >= 0) return;
      pinCount = p.length;
      paintHead();
    }, () => {});
    try {
      let ch = info;
      if (!ch) {
        const c = await details;
        if (!alive) return;
        if (c.workspace !== st.workspace) {
          await st.reload(c.workspace);
          if (!alive) return;
        }
        titleEl.textContent = st.channels.get(channel) ? st.channelName(st.channels.get(channel)!) : `#${c.name ?? channel}`;
        topicEl.textContent = c.topic ?? "";
        if (!c.member) {
          composer.form.hidden = true;
          joinBar.hidden = false;
          joinBar.replaceChildren(h("span", null, `You are not a member of #${c.name}. `),
            h("button", { type: "button", class: "btn primary", onclick: async () => {
              try {
                await st.chat.joinChannel(channel);
                await st.reload();
                joinBar.hidden = true;
                composer.form.hidden = false;
                composer.focus();
              } catch (e: any) {
                st.app.toast(`Could not join: ${e.message}`, "error");
              }
            } }, "Join channel"));
        }
      }
      sub = await st.chat.subscribeChannel(channel, (u) => (ready ? apply(u) : buffered.push(u)), {
        onReset: () => void loadLatest().catch(() => {}),
        onEnd: (e) => st.app.toast(`You can no longer read this conversation (${e.code})`, "error"),
      });
      if (!alive) {
        void sub.unsubscribe().catch(() => {});
        return;
      }
      const [mid, reply] = focusId ? focusId.split("/") : [];
      if (mid && !reply) await loadAround(mid);
      else {
        await loadLatest();
        if (info) showUnread(readSeq);
      }
      ready = true;
      buffered.splice(0).forEach(apply);
      markReadIfSeen(true);
      if (mid && reply) void openThread(mid, reply);
      else if (!composer.form.hidden) composer.focus();
    } catch (e: any) {
      if (!alive) return;
      older.textContent = `Could not open this conversation: ${e.message}`;
      composer.form.hidden = true;
    }
  };
  void start();

  return () => {
    alive = false;
    // A read marker still waiting for its pause is sent now: what was on
    // screen when leaving was seen.
    if (readPending && document.visibilityState === "visible") st.chat.markRead(channel).then((c) => st.setCounts(channel, c)).catch(() => {});
    clearTimeout(readTimer);
    for (const t of typers.values()) clearTimeout(t.timer);
    cleanups.forEach((f) => f());
    composer.dispose();
    threadComposer?.dispose();
    void sub?.unsubscribe().catch(() => {});
    for (const p of blobs.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
  };
}
