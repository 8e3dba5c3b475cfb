// One live room (#/room/<id>): the stage, the audience, hands and
// invitations, moderation, comments, reactions, polls, the audio, and the
// summary once the room has ended. The DOM is patched per event: each event
// repaints only the parts it changes.
import type { App } from "../app.js";
import type { StreamEvent } from "../../../sdk/src/types.js";
import { Rooms, RoomWatch, DEFAULT_REACTIONS, type RoomRole, type StageMember, type RoomSummary, type Poll, type RoomComment, type RoomSettings } from "../../../sdk/src/rooms.js";
import { keepAudio, type KeptAudio } from "../../../sdk/src/audio.js";
import { Chat } from "../../../sdk/src/chat.js";
import { h, clear, append } from "../ui/dom.js";
import { menuKeys } from "../ui/menu.js";
import { avatarEl, nameEl, labelFor } from "./people.js";
import { icon } from "./icons.js";
import { modInbox } from "./modinbox.js";

const rank: Record<RoomRole, number> = { host: 4, moderator: 3, speaker: 2, listener: 1, visitor: 0 };

export function renderRoom(app: App, main: HTMLElement, id: string): () => void {
  const rooms = new Rooms(app.conn);
  let watch: RoomWatch | null = null;
  let audio: KeptAudio | null = null;
  let stopped = false;
  const closers: (() => void)[] = [];
  clear(main);
  const root = h("div", { class: "rm-room" }, h("p", { class: "rm-empty" }, "Joining the room…"));
  main.appendChild(root);

  const stop = async (leave: boolean) => {
    for (const c of closers.splice(0)) c();
    const a = audio;
    audio = null;
    if (a) await a.leave();
    const w = watch;
    watch = null;
    if (w) await w.close({ leave });
  };

  const open = async () => {
    try {
      watch = await rooms.watch(id);
    } catch (e: any) {
      if (stopped) return;
      clear(root);
      const blocked = e?.code === "forbidden" && /blocked/i.test(String(e?.message ?? ""));
      root.appendChild(h("div", { class: "rm-gone", dataset: { reason: blocked ? "blocked" : e?.code ?? "error" } },
        h("h1", null, blocked ? "You can't join this room" : "Room unavailable"),
        h("p", null, blocked
          ? "The host has blocked you from their rooms, so you can't see or join them."
          : e?.code === "not_found" ? "This room does not exist or you may not see it."
          : e?.code === "forbidden" ? `You can't join this room: ${e?.message ?? e}.` : `${e?.message ?? e}`),
        h("a", { href: "#/rooms" }, "Back to rooms")));
      return;
    }
    if (stopped) {
      void stop(true);
      return;
    }
    const s = watch.state;
    if (s.status === "ended") {
      void stop(false);
      showSummary(app, rooms, root, id, s.title, s.summary ?? null);
      return;
    }
    if (s.status === "scheduled") {
      drawScheduled(app, rooms, root, watch, () => {
        // Started: follow it as a live room.
        void stop(false).then(() => { if (!stopped) void open(); });
      });
      return;
    }
    drawLive(app, rooms, root, watch, {
      onClose: (fn) => closers.push(fn),
      getAudio: () => audio,
      setAudio: (a) => { audio = a; },
      ended: (summary) => {
        void stop(false);
        showSummary(app, rooms, root, id, watch?.state.title ?? "", summary);
      },
    });
  };
  void open();
  return () => {
    stopped = true;
    void stop(true);
  };
}

function drawScheduled(app: App, rooms: Rooms, root: HTMLElement, w: RoomWatch, started: () => void): void {
  const s = w.state;
  const when = s.scheduled_at ? new Date(s.scheduled_at).toLocaleString() : "";
  const interest = h("button", { type: "button", class: "rm-interest", "aria-pressed": String(s.you.interested) });
  const count = h("span", { class: "rm-count" });
  const paint = () => {
    interest.textContent = w.state.you.interested ? "★ Interested" : "☆ Interested";
    interest.setAttribute("aria-pressed", String(w.state.you.interested));
    count.textContent = `${w.state.counts.interested} interested`;
  };
  interest.addEventListener("click", async () => {
    try {
      const r = await rooms.interest(w.room, !w.state.you.interested);
      w.state.you.interested = r.interested;
      w.state.counts.interested = r.count;
      paint();
    } catch (e: any) {
      app.toast(e?.message ?? String(e), "error");
    }
  });
  // Before the start nobody has joined: the host is told by the room's host field.
  const host = s.host === app.conn.user?.id;
  clear(root);
  root.appendChild(h("div", { class: "rm-scheduled" },
    h("div", { class: "rm-hero-card" },
      h("div", { class: "rm-head-meta" }, h("span", { class: "rm-badge" }, "🗓 Scheduled"), h("time", { class: "rm-when", dateTime: s.scheduled_at ?? "" }, when)),
      h("h1", null, s.title),
      s.description ? h("p", { class: "rm-desc" }, s.description) : null,
      h("div", { class: "rm-card-speaker" }, avatarEl(app.conn, s.host, "rm-avatar rm-avatar-md"), h("span", null, "Hosted by ", nameEl(app.conn, s.host))),
      h("p", { class: "rm-desc" }, host
        ? "People who mark themselves interested are notified when you start."
        : "Mark yourself interested and you'll be notified when it starts."),
      h("div", { class: "rm-actions rm-actions-start" }, interest, count,
        host ? h("button", { type: "button", class: "rm-primary", onclick: () => rooms.start(w.room).catch((e) => app.toast(e.message, "error")) }, "Start now") : null,
        host ? h("button", { type: "button", class: "rm-danger", onclick: () => rooms.end(w.room).then(() => app.navigate("#/rooms"), (e) => app.toast(e.message, "error")) }, "Cancel room") : null,
        host ? h("button", { type: "button", onclick: () => openGuests(app, rooms, w.room, s.visibility) }, icon("userPlus", 16), "Invite people") : null,
      )),
    h("a", { class: "rm-button", href: "#/rooms" }, "Back to rooms")));
  paint();
  w.on((e) => {
    if (e.event === "room.started") started();
    else if (e.event === "room.ended") app.navigate("#/rooms");
    else paint();
  });
}

interface LiveHooks {
  /** onClose registers cleanup for when the room's page closes. */
  onClose(fn: () => void): void;
  getAudio(): KeptAudio | null;
  setAudio(a: KeptAudio | null): void;
  ended(summary: RoomSummary | null): void;
}

const roleLabel: Record<RoomRole, string> = { host: "Host", moderator: "Moderator", speaker: "Speaker", listener: "Listener", visitor: "Visitor" };
const visLabel: Record<string, string> = { public: "🌐 Public", workspace: "🏢 Workspace", invite: "🔒 Invite only" };
const audienceShown = 60;

function drawLive(app: App, rooms: Rooms, root: HTMLElement, w: RoomWatch, hooks: LiveHooks): void {
  const conn = app.conn;
  const me = conn.user?.id ?? "";
  const room = w.room;
  const st = () => w.state;
  const isMod = () => st().you.role === "host" || st().you.role === "moderator";
  const onStage = () => rank[st().you.role] >= 2;
  const act = (p: Promise<unknown>, what: string) => p.catch((e: any) => app.toast(`${what}: ${e?.message ?? e}`, "error"));

  // Header.
  const title = h("h1", { class: "rm-title" }, st().title);
  const desc = h("p", { class: "rm-desc", hidden: !st().description }, st().description ?? "");
  const counts = h("p", { class: "rm-counts", "aria-live": "polite" });
  const endBox = h("span", { class: "rm-end" });
  const drawEnd = () => {
    clear(endBox);
    if (st().you.role !== "host") return;
    endBox.appendChild(h("button", {
      type: "button", class: "rm-danger", onclick: () => {
        clear(endBox);
        const yes = h("button", { type: "button", class: "rm-danger", onclick: () => act(rooms.end(room), "End room") }, "End for everyone");
        endBox.append(h("span", null, "End the room? "), yes, h("button", { type: "button", onclick: drawEnd }, "Cancel"));
        yes.focus();
      },
    }, "End room"));
  };
  const modBox = h("span", { class: "rm-head-actions" });
  const drawModBox = () => {
    clear(modBox);
    if (!isMod()) return;
    append(modBox, [
      h("button", { type: "button", class: "rm-invite-guests", onclick: () => openGuests(app, rooms, room, st().visibility) }, icon("userPlus", 16), "Invite people"),
      h("button", { type: "button", class: "rm-settings-btn", onclick: () => openSettings(app, rooms, room, st().settings, st().you.role === "host") }, icon("settings", 16), "Settings"),
      st().you.role === "host" ? h("button", { type: "button", class: "rm-edit-btn", onclick: () => openEdit(app, rooms, room, st().title, st().description ?? "") }, "✎ Edit details") : null,
    ]);
  };
  const header = h("header", { class: "rm-room-head" },
    h("div", { class: "rm-head-text" },
      h("div", { class: "rm-head-meta" },
        h("span", { class: "rm-live-chip" }, "LIVE"),
        h("span", { class: "rm-badge" }, visLabel[st().visibility] ?? st().visibility),
        h("span", null, "Hosted by ", nameEl(conn, st().host))),
      title, desc, counts),
    h("div", { class: "rm-head-actions" }, modBox, h("a", { class: "rm-button", href: "#/rooms" }, "Leave room"), endBox));

  // Invitation banner.
  const banner = h("div", { class: "rm-banner", role: "alert", hidden: true });
  const drawBanner = () => {
    clear(banner);
    banner.hidden = !st().you.invited;
    if (!st().you.invited) return;
    banner.append(h("span", null, "🎤 You're invited to speak."),
      h("button", { type: "button", class: "rm-primary", onclick: () => act(rooms.answerInvite(room, true), "Accept") }, "Accept"),
      h("button", { type: "button", onclick: () => act(rooms.answerInvite(room, false), "Decline") }, "Decline"));
  };

  // Stage.
  const stageH = h("h2", { id: "rm-stage-h" });
  const stageGrid = h("ul", { class: "rm-stage", "aria-label": "Speakers" });
  const tiles = new Map<string, HTMLLIElement>();
  let stageKey = "";
  const drawStage = (force = false) => {
    const key = `${st().you.role}|${st().invited.join()}|` + st().stage.map((m) => `${m.user}:${m.role}:${m.muted}:${!!m.locked}`).join();
    if (!force && key === stageKey) return;
    stageKey = key;
    clear(stageGrid);
    tiles.clear();
    stageH.textContent = `On stage · ${st().stage.length}`;
    for (const m of st().stage) {
      const li = stageTile(m);
      tiles.set(m.user, li);
      stageGrid.appendChild(li);
    }
    drawSpeaking();
  };
  const stageTile = (m: StageMember): HTMLLIElement => {
    const mute = h("span", { class: "rm-mute-icon", role: "img", "aria-label": m.locked ? "muted by a moderator" : "muted", title: m.locked ? "Muted by a moderator" : "Muted", hidden: !m.muted },
      m.locked ? "🔒" : icon("micOff", 15));
    return h("li", { class: "rm-tile", dataset: { user: m.user, role: m.role, muted: String(m.muted) } },
      h("span", { class: "rm-ring" }, avatarEl(conn, m.user, "rm-avatar rm-avatar-lg"), mute),
      nameEl(conn, m.user),
      h("span", { class: `rm-role rm-role-${m.role}` }, roleLabel[m.role]),
      m.user === me ? h("span", { class: "rm-you" }, "you") : null,
      personMenu(m.user, m.role, true, m.muted));
  };
  const drawSpeaking = () => {
    for (const [u, li] of tiles) li.classList.toggle("rm-speaking", st().speaking.has(u));
  };

  // The menu of one person: moderation (by rank) and reporting.
  const personMenu = (user: string, role: RoomRole, stage: boolean, muted: boolean): HTMLElement | null => {
    const myRank = rank[st().you.role];
    if (user === me || myRank < 1) return null;
    const host = st().you.role === "host";
    const items: HTMLElement[] = [];
    const item = (text: string, fn: () => unknown, danger = false) =>
      items.push(h("button", { type: "button", role: "menuitem", class: danger ? "rm-menu-danger" : undefined, onclick: () => { details.open = false; void fn(); } }, text));
    const cmd = (text: string, fn: () => Promise<unknown>, danger = false) => item(text, () => act(fn(), text), danger);
    if (myRank >= 3 && rank[role] < myRank) {
      if (stage) {
        if (!muted) cmd("Mute", () => rooms.muteUser(room, user));
        if (role === "speaker") cmd("Move to audience", () => rooms.removeFromStage(room, user));
        else if (host) cmd("Move to audience", () => rooms.setRole(room, user, "listener"));
      } else {
        if (st().invited.includes(user)) cmd("Cancel invitation", () => rooms.cancelInvite(room, user));
        else cmd("Invite to speak", () => rooms.invite(room, user));
      }
      if (host && role !== "moderator") cmd("Make moderator", () => rooms.setRole(room, user, "moderator"));
      cmd("Remove from room", () => rooms.kick(room, user), true);
      item("Block…", () => labelFor(conn, user).then((n) => confirmBlock(app, n, host
        ? "They leave this room now and can't see or join any of your rooms until you unblock them (Rooms → Blocked people)."
        : "They leave this room now and can't see or join any of the host's rooms until the host unblocks them.",
        () => rooms.block(room, user))), true);
    } else if (user !== st().host) {
      // Anyone may block people from the rooms they host themselves.
      item("Block from my rooms…", () => labelFor(conn, user).then((n) => confirmBlock(app, n,
        "They won't be able to see or join rooms you host. This room is not yours, so they stay here. Unblock them in Rooms → Blocked people.",
        () => rooms.blockUser(user))), true);
    }
    item("Report…", () => labelFor(conn, user).then((n) => openReport(app, rooms, room, { user }, n)));
    const summary = h("summary", { class: "rm-menu-btn", "aria-label": "Actions" }, "⋯");
    void labelFor(conn, user).then((n) => summary.setAttribute("aria-label", `Actions for ${n}`));
    const details = menuKeys(h("details", { class: "rm-menu" }, summary, h("div", { class: "rm-menu-list", role: "menu" }, items)));
    return details;
  };

  // My controls: audio, mute, hand, stage.
  const controls = h("div", { class: "rm-controls", role: "group", "aria-label": "Your controls" });
  const audioState = h("span", { class: "rm-audio-state", "aria-live": "polite" });
  const drawControls = () => {
    const had = [...controls.querySelectorAll("button")].indexOf(document.activeElement as HTMLButtonElement);
    clear(controls);
    const a = hooks.getAudio();
    if (!a) {
      controls.appendChild(h("button", { type: "button", class: "rm-primary rm-join-audio", onclick: joinAudioNow }, "🎧 Join audio"));
    } else {
      controls.appendChild(h("button", { type: "button", class: "rm-leave-audio", onclick: leaveAudio }, "Leave audio"));
    }
    if (onStage()) {
      const you = st().you;
      controls.appendChild(h("button", {
        type: "button", class: "rm-mic", "aria-pressed": String(!you.muted),
        disabled: you.muted && you.locked,
        onclick: () => act(rooms.mute(room, !you.muted), you.muted ? "Unmute" : "Mute"),
      }, you.muted ? (you.locked ? "🔒 Muted by a moderator" : "🎙 Unmute") : "🔇 Mute"));
      if (you.role !== "host") controls.appendChild(h("button", { type: "button", onclick: () => act(rooms.leaveStage(room), "Leave the stage") }, "Leave stage"));
    } else if (st().you.role === "listener") {
      const raised = st().you.hand;
      controls.appendChild(h("button", {
        type: "button", class: "rm-hand", "aria-pressed": String(raised),
        onclick: () => act(rooms.hand(room, !raised), raised ? "Lower hand" : "Raise hand"),
      }, raised ? "✋ Lower hand" : "✋ Raise hand"));
      if (st().settings.open_stage) controls.appendChild(h("button", { type: "button", onclick: () => act(rooms.joinStage(room), "Join the stage") }, "Join the stage"));
    }
    controls.appendChild(audioState);
    // The redrawn control in the same place keeps the keyboard focus.
    if (had >= 0) [...controls.querySelectorAll("button")].slice(0, had + 1).pop()?.focus();
    drawAudioState();
  };
  const drawAudioState = () => {
    const a = hooks.getAudio();
    audioState.dataset.state = a?.state ?? "none";
    audioState.dataset.rejoins = String(a?.rejoins ?? 0);
    if (!a) audioState.textContent = "";
    else if (a.state === "reconnecting") audioState.textContent = "Reconnecting audio…";
    else if (onStage() && !st().you.muted) audioState.textContent = "You're live";
    else if (onStage()) audioState.textContent = "You're muted";
    else audioState.textContent = "Listening";
  };
  let joining = false;
  const joinAudioNow = async () => {
    if (joining || hooks.getAudio()) return;
    joining = true;
    try {
      const a = await keepAudio(app.client, `room:${room}`, { microphone: true, events: w });
      hooks.setAudio(a);
      a.onChange(() => drawAudioState());
      a.onClosed((reason) => {
        if (hooks.getAudio() === a) hooks.setAudio(null);
        if (reason !== "session_ended") app.toast(`Audio stopped (${reason.replace(/_/g, " ")})`, "error");
        drawControls();
      });
    } catch (e: any) {
      app.toast(`Could not join the audio: ${e?.message ?? e}`, "error");
    } finally {
      joining = false;
      drawControls();
    }
  };
  const leaveAudio = async () => {
    const a = hooks.getAudio();
    hooks.setAudio(null);
    if (a) await a.leave();
    drawControls();
  };

  // Reactions.
  const flyLayer = h("div", { class: "rm-fly", "aria-hidden": "true" });
  const reactBar = h("div", { class: "rm-react", role: "group", "aria-label": "Reactions" },
    DEFAULT_REACTIONS.map((e) => h("button", { type: "button", class: "rm-emoji", "aria-label": `React ${e}`, title: `React ${e}`, onclick: () => act(rooms.react(room, e), "React") }, e)));
  const reactTotals = h("p", { class: "rm-react-totals", "aria-label": "Reactions so far" });
  const drawReactTotals = () => {
    const r = st().reactions;
    reactTotals.textContent = Object.entries(r).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([e, n]) => `${e} ${n}`).join("  ");
  };
  const fly = (emoji: string) => {
    if (flyLayer.childElementCount > 40) return;
    const el = h("span", { class: "rm-flying" }, emoji);
    el.style.left = `${5 + Math.random() * 85}%`;
    el.style.animationDelay = `${Math.random() * 300}ms`;
    el.addEventListener("animationend", () => el.remove());
    flyLayer.appendChild(el);
    setTimeout(() => el.remove(), 4000);
  };

  // Hands queue (moderators).
  const handsBox = h("section", { class: "rm-panel rm-hands", "aria-labelledby": "rm-hands-h" });
  const drawHands = () => {
    clear(handsBox);
    // Shown to hosts and moderators while someone waits.
    if (!isMod() || st().hands.length === 0) {
      handsBox.hidden = true;
      return;
    }
    handsBox.hidden = false;
    handsBox.appendChild(h("h2", { id: "rm-hands-h" }, "✋ Raised hands ", h("span", { class: "rm-panel-count" }, `(${st().hands.length})`)));
    if (st().hands.length === 0) {
      handsBox.appendChild(h("p", { class: "rm-empty" }, "No hands raised."));
      return;
    }
    const ul = h("ul", { class: "rm-people" });
    for (const u of st().hands) {
      const invited = st().invited.includes(u);
      const btn = h("button", {
        type: "button", class: invited ? "rm-small rm-invite" : "rm-primary rm-small rm-invite",
        onclick: () => act(invited ? rooms.cancelInvite(room, u) : rooms.invite(room, u), "Invite"),
      }, invited ? "Invited · cancel" : "Invite to speak");
      void labelFor(conn, u).then((n) => btn.setAttribute("aria-label", invited ? `Cancel invitation of ${n}` : `Invite ${n} to speak`));
      ul.appendChild(h("li", { class: "rm-person", dataset: { user: u } }, avatarEl(conn, u, "rm-avatar rm-avatar-sm"), nameEl(conn, u), btn));
    }
    handsBox.appendChild(ul);
  };

  // Audience: a compact grid of faces.
  const audienceH = h("h2", { id: "rm-aud-h" });
  const audienceList = h("ul", { class: "rm-audience", "aria-label": "Audience" });
  const audienceMore = h("p", { class: "rm-more" });
  // Patched per user, so that an open menu survives the count updates.
  const audEls = new Map<string, { li: HTMLLIElement; key: string }>();
  let audMode = "";
  const drawAudience = () => {
    const n = Math.max(st().counts.listeners ?? 0, st().listeners.length);
    clear(audienceH);
    audienceH.append("Audience ", h("span", { class: "rm-panel-count" }, `· ${n}`));
    const mode = `${st().you.role}`;
    if (mode !== audMode) {
      audMode = mode;
      clear(audienceList);
      audEls.clear();
    }
    const shown = st().listeners.slice(0, audienceShown);
    const keep = new Set<string>();
    let prev: Element | null = null;
    for (const u of shown) {
      keep.add(u);
      const hand = st().hands.includes(u) || (u === me && st().you.hand);
      const key = `${hand}:${st().invited.includes(u)}`;
      let c = audEls.get(u);
      if (!c || c.key !== key) {
        const li = h("li", { class: "rm-aud", dataset: { user: u } },
          avatarEl(conn, u, "rm-avatar rm-avatar-md"),
          hand ? h("span", { class: "rm-aud-hand", role: "img", "aria-label": "hand raised" }, "✋") : null,
          nameEl(conn, u),
          u === me ? h("span", { class: "rm-you" }, "you") : null,
          personMenu(u, "listener", false, false));
        if (c) c.li.replaceWith(li);
        c = { li, key };
        audEls.set(u, c);
      }
      const want: Element | null = prev ? prev.nextElementSibling : audienceList.firstElementChild;
      if (want !== c.li) audienceList.insertBefore(c.li, want);
      prev = c.li;
    }
    for (const [u, c] of audEls) {
      if (!keep.has(u)) {
        c.li.remove();
        audEls.delete(u);
      }
    }
    audienceMore.textContent = n > shown.length ? `+${n - shown.length} more listening` : shown.length ? "" : "Nobody in the audience yet.";
  };
  const drawCounts = () => {
    const c = st().counts;
    clear(counts);
    counts.append(
      h("span", { class: "rm-badge" }, icon("users", 13), `${c.total} in the room`),
      h("span", { class: "rm-badge" }, icon("headphones", 13), `${c.listeners} listening`),
      ...(c.hands ? [h("span", { class: "rm-badge" }, `✋ ${c.hands}`)] : []));
  };

  // Comments.
  const pinnedBox = h("div", { class: "rm-pinned", "aria-label": "Pinned comment" });
  const commentList = h("ol", { class: "rm-comments", "aria-label": "Comments", "aria-live": "polite" });
  const noComments = h("li", { class: "rm-comments-empty" }, "No comments yet. Say hi 👋");
  const commentEls = new Map<number, HTMLLIElement>();
  const drawPinned = () => {
    clear(pinnedBox);
    const p = st().pinned;
    pinnedBox.hidden = !p;
    if (!p) return;
    append(pinnedBox, [
      h("div", { class: "rm-pin-head" }, "📌 Pinned by the hosts",
        isMod() ? h("button", { type: "button", class: "rm-small rm-ghost", onclick: () => act(rooms.unpin(room), "Unpin") }, "Unpin") : null),
      h("div", null, h("strong", null, nameEl(conn, p.author)), " ", h("span", { class: "rm-pin-text" }, p.text))]);
  };
  const commentMenu = (c: RoomComment): HTMLElement | null => {
    const items: HTMLElement[] = [];
    const item = (text: string, label: string, fn: () => unknown, danger = false) =>
      items.push(h("button", { type: "button", role: "menuitem", "aria-label": label, class: danger ? "rm-menu-danger" : undefined, onclick: () => { details.open = false; void fn(); } }, text));
    if (isMod()) item("📌 Pin", `Pin comment ${c.n}`, () => act(rooms.pin(room, c.n), "Pin"));
    if (isMod() || c.user === me) item("Delete", `Delete comment ${c.n}`, () => act(rooms.deleteComment(room, c.n), "Delete"), true);
    if (c.user !== me && st().you.role !== "visitor") item("Report…", `Report comment ${c.n}`, () => openReport(app, rooms, room, { comment: c.n }, `“${c.text.slice(0, 80)}”`));
    if (!items.length) return null;
    const details = menuKeys(h("details", { class: "rm-menu" }, h("summary", { "aria-label": `Actions for comment ${c.n}` }, "⋯"), h("div", { class: "rm-menu-list", role: "menu" }, items)));
    return details;
  };
  const commentEl = (c: RoomComment): HTMLLIElement =>
    h("li", { class: "rm-comment", dataset: { n: String(c.n), user: c.user } },
      avatarEl(conn, c.user, "rm-avatar rm-avatar-sm"),
      h("div", { class: "rm-comment-body" }, h("strong", null, nameEl(conn, c.user)), h("span", { class: "rm-comment-text" }, c.text)),
      commentMenu(c) ?? h("span"));
  const addComment = (c: RoomComment) => {
    if (commentEls.has(c.n)) return;
    noComments.remove();
    const li = commentEl(c);
    commentEls.set(c.n, li);
    const near = commentList.scrollHeight - commentList.scrollTop - commentList.clientHeight < 80;
    commentList.appendChild(li);
    while (commentList.childElementCount > 200) {
      const first = commentList.firstElementChild as HTMLLIElement;
      commentEls.delete(Number(first.dataset.n));
      first.remove();
    }
    if (near) commentList.scrollTop = commentList.scrollHeight;
  };
  const drawComments = () => {
    clear(commentList);
    commentEls.clear();
    for (const c of st().comments) addComment(c);
    if (!commentEls.size) commentList.appendChild(noComments);
  };
  const commentInput = h("input", { type: "text", name: "comment", maxlength: "500", autocomplete: "off", "aria-label": "Write a comment", placeholder: "Say something…", enterkeyhint: "send" });
  const sendBtn = h("button", { type: "submit", class: "rm-primary" }, "Send");
  const commentForm = h("form", { class: "rm-comment-form" }, commentInput, sendBtn);
  const composerNote = h("p", { class: "rm-composer-note", "aria-live": "polite" });
  const drawComposer = () => {
    const s = st().settings;
    const exempt = isMod();
    const off = s.comments_off && !exempt;
    commentInput.disabled = off || st().you.role === "visitor";
    sendBtn.disabled = commentInput.disabled;
    commentInput.placeholder = off ? "Comments are off" : "Say something…";
    const notes: string[] = [];
    if (s.comments_off) notes.push(exempt ? "Comments are off for the audience." : "The hosts turned comments off.");
    else if (s.slow_mode > 0) notes.push(`Slow mode: one comment every ${fmtSecs(s.slow_mode)}${exempt ? " (not for hosts)" : ""}.`);
    composerNote.textContent = notes.join(" ");
  };
  commentForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = commentInput.value.trim();
    if (!text) return;
    commentInput.value = "";
    try {
      await rooms.comment(room, text);
    } catch (e: any) {
      commentInput.value = text;
      const wait = e?.details?.retry_after_ms ?? e?.retry_after_ms;
      app.toast(e?.code === "rate_limited" ? `Slow down${wait ? `: try again in ${Math.ceil(wait / 1000)} s` : ""}` : `Comment: ${e?.message ?? e}`, "error");
    }
  });

  // Polls.
  const pollsBox = h("section", { class: "rm-panel rm-polls-box", "aria-labelledby": "rm-polls-h" });
  const pollList = h("div", { class: "rm-polls" });
  const pollEls = new Map<number, { el: HTMLElement; paint: () => void }>();
  const pollForm = h("div", { class: "rm-poll-new" });
  const drawPollsBox = () => {
    pollsBox.hidden = !isMod() && st().polls.length === 0;
  };
  const drawPollForm = () => {
    clear(pollForm);
    drawPollsBox();
    if (!isMod()) return;
    const openBtn = h("button", { type: "button", "aria-expanded": "false" }, "📊 New poll");
    const q = h("input", { type: "text", maxlength: "200", "aria-label": "Poll question", placeholder: "Question", required: true });
    const opts = h("div", { class: "rm-poll-opts" });
    const addOpt = () => {
      if (opts.childElementCount >= 6) return;
      const i = opts.childElementCount + 1;
      opts.appendChild(h("input", { type: "text", maxlength: "80", "aria-label": `Option ${i}`, placeholder: `Option ${i}` }));
    };
    addOpt();
    addOpt();
    const form = h("form", { class: "rm-form", hidden: true },
      q, opts,
      h("div", { class: "rm-actions" },
        h("button", { type: "button", onclick: addOpt }, "Add option"),
        h("button", { type: "submit", class: "rm-primary" }, "Open poll")));
    openBtn.addEventListener("click", () => {
      form.hidden = !form.hidden;
      openBtn.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) q.focus();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const options = [...opts.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean);
      try {
        await rooms.openPoll(room, q.value.trim(), options);
        q.value = "";
        opts.querySelectorAll("input").forEach((i) => { i.value = ""; });
        form.hidden = true;
        openBtn.setAttribute("aria-expanded", "false");
      } catch (e: any) {
        app.toast(`Poll: ${e?.message ?? e}`, "error");
      }
    });
    pollForm.append(openBtn, form);
  };
  const pollCard = (p: Poll) => {
    const el = h("section", { class: "rm-poll", dataset: { poll: String(p.poll) }, "aria-label": `Poll: ${p.question}` });
    const paint = () => {
      const cur = st().polls.find((x) => x.poll === p.poll) ?? p;
      const voted = st().you.voted.includes(cur.poll);
      const canVote = cur.open && !voted && st().you.role !== "visitor";
      clear(el);
      el.appendChild(h("h3", null, "📊 ", cur.question, h("span", { class: "rm-poll-status", dataset: { open: String(cur.open) } }, cur.open ? "open" : "closed")));
      const total = cur.totals.reduce((a, b) => a + b, 0);
      const ul = h("ul", { class: "rm-poll-options" });
      cur.options.forEach((o, i) => {
        const n = cur.totals[i] ?? 0;
        const pct = total ? Math.round((n * 100) / total) : 0;
        const bar = h("span", { class: "rm-bar" });
        // Voters see the results once they voted; hosts see them live.
        const results = !canVote || isMod();
        bar.style.width = results ? `${pct}%` : "0%";
        const label = h("span", { class: "rm-poll-label" }, h("span", null, o), results ? h("span", { class: "rm-poll-n" }, ` ${n} (${pct}%)`) : null);
        ul.appendChild(h("li", null,
          canVote
            ? h("button", { type: "button", class: "rm-vote", "aria-label": `Vote ${o}`, onclick: () => vote(cur.poll, i) }, bar, label)
            : h("div", { class: "rm-vote rm-result" }, bar, label)));
      });
      el.appendChild(ul);
      el.appendChild(h("p", { class: "rm-poll-foot" }, `${total} vote${total === 1 ? "" : "s"}`, voted ? " · you voted" : "",
        cur.open && isMod() ? h("button", { type: "button", class: "rm-small", onclick: () => act(rooms.closePoll(room, cur.poll), "Close poll") }, "Close poll") : null));
    };
    paint();
    return { el, paint };
  };
  const vote = async (poll: number, option: number) => {
    try {
      await rooms.vote(room, poll, option);
      if (!st().you.voted.includes(poll)) st().you.voted.push(poll);
    } catch (e: any) {
      if (e?.code === "already_exists" && !st().you.voted.includes(poll)) st().you.voted.push(poll);
      else app.toast(`Vote: ${e?.message ?? e}`, "error");
    }
    pollEls.get(poll)?.paint();
  };
  const drawPolls = () => {
    for (const p of st().polls) {
      let c = pollEls.get(p.poll);
      if (!c) {
        c = pollCard(p);
        pollEls.set(p.poll, c);
        pollList.prepend(c.el);
      } else c.paint();
    }
    drawPollsBox();
  };
  pollsBox.append(h("h2", { id: "rm-polls-h" }, "Polls"), pollForm, pollList);

  // The moderation inbox (hosts and moderators).
  const inbox = modInbox(app, rooms, room, st);
  hooks.onClose(() => inbox.close());

  // Layout.
  clear(root);
  root.append(
    header, banner,
    h("div", { class: "rm-body" },
      h("div", { class: "rm-col" },
        h("section", { class: "rm-panel rm-stage-box", "aria-labelledby": "rm-stage-h" }, stageH, stageGrid, reactTotals, flyLayer),
        h("div", { class: "rm-dock" }, controls, reactBar),
        inbox.el,
        handsBox,
        pollsBox,
        h("section", { class: "rm-panel", "aria-labelledby": "rm-aud-h" }, audienceH, audienceList, audienceMore)),
      h("aside", { class: "rm-panel rm-side", "aria-labelledby": "rm-com-h" },
        h("div", { class: "rm-side-head" }, h("h2", { id: "rm-com-h" }, "Comments")),
        pinnedBox, commentList,
        h("div", { class: "rm-composer" }, commentForm, composerNote))),
  );
  const drawRoleParts = () => {
    audMode = "";
    drawStage(true);
    drawControls();
    drawHands();
    drawAudience();
    drawPinned();
    drawPollForm();
    drawEnd();
    drawModBox();
    drawComposer();
    inbox.sync();
    for (const c of pollEls.values()) c.paint();
  };
  drawCounts();
  drawBanner();
  drawComments();
  drawReactTotals();
  drawPolls();
  drawRoleParts();

  let myRole = st().you.role;
  let markBlocked: (() => void) | null = null;
  w.on((e: StreamEvent) => {
    switch (e.event) {
      case "media.speakers":
        drawSpeaking();
        return;
      case "room.counts":
        drawCounts();
        drawAudience();
        return;
      case "room.participants":
        drawCounts();
        drawAudience();
        if (e.data?.stage) drawStage();
        return;
      case "room.hand":
        drawHands();
        drawAudience();
        drawControls();
        drawCounts();
        return;
      case "room.invited":
      case "room.invite_cancelled":
      case "room.invite_declined":
        drawBanner();
        drawHands();
        drawAudience();
        return;
      case "room.comment": {
        const c = st().comments[st().comments.length - 1];
        if (c) addComment(c);
        return;
      }
      case "room.comment_deleted":
        commentEls.get(e.data?.n)?.remove();
        commentEls.delete(e.data?.n);
        inbox.commentGone(e.data?.n);
        if (!commentEls.size) commentList.appendChild(noComments);
        drawPinned();
        return;
      case "room.comment_pinned":
      case "room.comment_unpinned":
        drawPinned();
        return;
      case "room.reactions": {
        drawReactTotals();
        for (const [emoji, n] of Object.entries((e.data?.counts ?? {}) as Record<string, number>)) {
          for (let i = 0; i < Math.min(n, 6); i++) fly(emoji);
        }
        return;
      }
      case "room.poll_opened":
      case "room.poll_votes":
      case "room.poll_closed":
        drawPolls();
        return;
      case "room.settings":
        drawControls();
        drawComposer();
        return;
      case "room.updated":
        title.textContent = st().title;
        desc.textContent = st().description ?? "";
        desc.hidden = !st().description;
        return;
      case "room.ended":
        hooks.ended(st().summary ?? null);
        return;
      case "room.removed":
      case "room.kicked":
      case "room.blocked":
        if (st().removed) {
          inbox.close();
          const a = hooks.getAudio();
          hooks.setAudio(null);
          void a?.leave();
          const head = h("h1", null, "You were removed from this room");
          const why = h("p", { class: "rm-desc" }, "A host or moderator removed you. You can't rejoin this room.");
          const gone = h("div", { class: "rm-gone", dataset: { reason: "removed" } },
            h("div", { class: "rm-hero-card" },
              h("div", { class: "rm-empty-art", "aria-hidden": "true" }, "🚪"), head, why,
              h("a", { class: "rm-button", href: "#/rooms" }, "Back to rooms")));
          const showBlocked = () => {
            gone.dataset.reason = "blocked";
            head.textContent = "You were blocked from this host's rooms";
            why.textContent = "A host or moderator blocked you: you can't rejoin this room or join the host's other rooms.";
          };
          if (markBlocked) {
            if (e.event === "room.blocked") markBlocked();
            return;
          }
          markBlocked = showBlocked;
          clear(root);
          root.appendChild(gone);
          // The stream may end before the event says why: the room tells.
          if (e.event === "room.blocked") showBlocked();
          else void rooms.get(room).catch((err: any) => { if (/blocked/i.test(String(err?.message ?? ""))) showBlocked(); });
          return;
        }
        drawRoleParts();
        drawCounts();
        return;
      case "room.reloaded":
        drawCounts();
        drawBanner();
        drawComments();
        drawReactTotals();
        drawPolls();
        drawRoleParts();
        return;
      default:
        // Stage and role changes.
        if (st().you.role !== myRole) {
          myRole = st().you.role;
          drawRoleParts();
          drawBanner();
          drawComments();
        } else {
          drawStage();
          drawControls();
          drawHands();
          drawAudience();
          drawBanner();
        }
        drawCounts();
    }
  });
}

function fmtSecs(s: number): string {
  return s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}

/** dialog opens a modal dialog with form; it is removed when closed. */
function dialog(labelId: string, ...children: (HTMLElement | null)[]): { dlg: HTMLDialogElement; form: HTMLFormElement } {
  const dlg = h("dialog", { class: "rm-dialog", "aria-labelledby": labelId });
  const form = h("form", { method: "dialog", class: "rm-form" }, children);
  dlg.appendChild(form);
  dlg.addEventListener("close", () => dlg.remove());
  document.body.appendChild(dlg);
  dlg.showModal();
  return { dlg, form };
}

/** openReport reports a comment or a person to the room's moderators. */
function openReport(app: App, rooms: Rooms, room: string, target: { comment?: number; user?: string }, what: string): void {
  const reason = h("textarea", { id: "rm-r-reason", rows: "3", maxlength: "500", placeholder: "What's wrong? (optional)" });
  const err = h("p", { class: "rm-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "rm-danger" }, "Report");
  const { dlg, form } = dialog("rm-r-h",
    h("h2", { id: "rm-r-h" }, target.comment !== undefined ? "Report this comment" : "Report this person"),
    h("p", { class: "rm-hint" }, what, ". The room's hosts and moderators will see your report; others won't know it was you."),
    h("label", { for: "rm-r-reason" }, "Reason"), reason, err,
    h("div", { class: "rm-actions" }, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      await rooms.report(room, target, reason.value.trim() || undefined);
      dlg.close();
      app.toast("Thanks. The moderators will take a look.");
    } catch (e: any) {
      err.textContent = e?.message ?? String(e);
    } finally {
      submit.disabled = false;
    }
  });
  reason.focus();
}

/** confirmBlock asks before blocking someone; what says what the block does. */
function confirmBlock(app: App, name: string, what: string, block: () => Promise<unknown>): void {
  const err = h("p", { class: "rm-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "rm-danger" }, `Block ${name}`);
  const { dlg, form } = dialog("rm-b-h",
    h("h2", { id: "rm-b-h" }, `Block ${name}?`),
    h("p", { class: "rm-hint" }, what), err,
    h("div", { class: "rm-actions" }, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      await block();
      dlg.close();
      app.toast(`${name} is blocked`);
    } catch (e: any) {
      err.textContent = e?.message ?? String(e);
    } finally {
      submit.disabled = false;
    }
  });
  submit.focus();
}

/** openEdit changes the room's title and description (the host). */
function openEdit(app: App, rooms: Rooms, room: string, title: string, description: string): void {
  const t = h("input", { id: "rm-e-title", type: "text", maxlength: "120", required: true, value: title, autocomplete: "off" });
  const d = h("textarea", { id: "rm-e-desc", rows: "3" });
  d.value = description;
  const err = h("p", { class: "rm-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "rm-primary" }, "Save");
  const { dlg, form } = dialog("rm-e-h",
    h("h2", { id: "rm-e-h" }, "Edit room details"),
    h("label", { for: "rm-e-title" }, "Title"), t,
    h("label", { for: "rm-e-desc" }, "Description"), d, err,
    h("div", { class: "rm-actions" }, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const next: { title?: string; description?: string } = {};
    if (t.value.trim() !== title) next.title = t.value.trim();
    if (d.value.trim() !== description) next.description = d.value.trim();
    if (!next.title && next.description === undefined) return dlg.close();
    submit.disabled = true;
    try {
      await rooms.update(room, next);
      dlg.close();
      app.toast("Room details saved");
    } catch (e: any) {
      err.textContent = e?.message ?? String(e);
    } finally {
      submit.disabled = false;
    }
  });
  t.focus();
}

/** openSettings changes slow mode, comments and the open stage. */
function openSettings(app: App, rooms: Rooms, room: string, cur: RoomSettings, host: boolean): void {
  const slow = h("select", { id: "rm-s-slow" },
    [0, 5, 10, 30, 60, 120, 300, 600].map((s) => h("option", { value: String(s), selected: s === cur.slow_mode }, s === 0 ? "Off" : `One comment every ${fmtSecs(s)}`)));
  const off = h("input", { type: "checkbox", id: "rm-s-off", checked: cur.comments_off });
  const open = h("input", { type: "checkbox", id: "rm-s-open", checked: cur.open_stage });
  const err = h("p", { class: "rm-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "rm-primary" }, "Save");
  const { dlg, form } = dialog("rm-s-h",
    h("h2", { id: "rm-s-h" }, "Room settings"),
    h("label", { for: "rm-s-slow" }, "Slow mode"), slow,
    h("label", { class: "rm-check" }, off, "Turn comments off"),
    h("p", { class: "rm-hint" }, "Hosts and moderators can always comment."),
    host ? h("label", { class: "rm-check" }, open, "Open stage: listeners may step up without an invitation") : null,
    err,
    h("div", { class: "rm-actions" }, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      const next: Partial<RoomSettings> = { slow_mode: Number(slow.value), comments_off: off.checked };
      if (host) next.open_stage = open.checked;
      await rooms.settings(room, next);
      dlg.close();
      app.toast("Settings saved");
    } catch (e: any) {
      err.textContent = e?.message ?? String(e);
    } finally {
      submit.disabled = false;
    }
  });
  slow.focus();
}

/** openGuests invites people to the room by user id or @handle (handles
 * are looked up in the user's workspaces). */
function openGuests(app: App, rooms: Rooms, room: string, visibility: string): void {
  const input = h("input", { id: "rm-g-who", autocomplete: "off", placeholder: "@handle or u_…, comma separated", required: true });
  const err = h("p", { class: "rm-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "rm-primary" }, "Send invitations");
  const { dlg, form } = dialog("rm-g-h",
    h("h2", { id: "rm-g-h" }, "Invite people"),
    h("p", { class: "rm-hint" }, visibility === "invite"
      ? "This room is invite only: the people you invite can find it and join."
      : "They get a notification and see the room on their home."),
    h("label", { for: "rm-g-who" }, "Who"), input, err,
    h("div", { class: "rm-actions" }, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    submit.disabled = true;
    try {
      const want = input.value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
      if (!want.length) throw new Error("Name at least one person");
      const users = await Promise.all(want.map((x) => resolvePerson(app, x)));
      const r = await rooms.guests(room, users);
      dlg.close();
      app.toast(r.added ? `Invited ${r.added} ${r.added === 1 ? "person" : "people"}` : "They were invited already");
    } catch (e: any) {
      err.textContent = e?.message ?? String(e);
    } finally {
      submit.disabled = false;
    }
  });
  input.focus();
}

/** resolvePerson turns a user id or a @handle (searched in the user's
 * workspaces) into a user id. */
async function resolvePerson(app: App, x: string): Promise<string> {
  if (/^u_[A-Za-z0-9_-]+$/.test(x)) return x;
  const handle = x.replace(/^@/, "").toLowerCase();
  const chat = new Chat(app.conn);
  try {
    const boot = await chat.boot();
    for (const ws of boot.workspaces ?? []) {
      const users = await chat.autocomplete(ws.id, handle, { limit: 10 });
      const hit = users.find((u) => (u.profile?.handle ?? "").toLowerCase() === handle);
      if (hit) return hit.user;
    }
  } catch {
    // No workspaces: only user ids work.
  }
  throw new Error(`Nobody found for "${x}": use their user id (u_…)`);
}

/** showSummary draws the summary of an ended room. */
export function showSummary(app: App, rooms: Rooms, root: HTMLElement, id: string, title: string, summary: RoomSummary | null): void {
  clear(root);
  const box = h("div", { class: "rm-summary", "aria-labelledby": "rm-sum-h" },
    h("h1", { id: "rm-sum-h" }, "Room ended"), h("p", { class: "rm-desc" }, title), h("p", { class: "rm-empty" }, "Loading the summary…"));
  root.appendChild(box);
  const draw = (s: RoomSummary) => {
    clear(box);
    const mins = Math.floor(s.duration_seconds / 60);
    const secs = s.duration_seconds % 60;
    const stat = (label: string, value: string | number) => h("div", { class: "rm-stat" }, h("dt", null, label), h("dd", null, String(value)));
    append(box, [
      h("div", { class: "rm-head-meta" }, h("span", { class: "rm-badge" }, "Ended"), s.ended_at ? h("time", { dateTime: s.ended_at }, new Date(s.ended_at).toLocaleString()) : null),
      h("h1", { id: "rm-sum-h" }, "Room ended"),
      h("p", { class: "rm-desc" }, s.title || title),
      h("dl", { class: "rm-stats" },
        stat("Duration", mins ? `${mins} min ${secs} s` : `${secs} s`),
        stat("Peak in the room", s.peak_concurrent),
        stat("Listeners", s.unique_listeners),
        stat("Comments", s.comments),
        stat("Reactions", s.reactions_total),
        stat("Interested", s.interested)),
      h("h2", null, "Speakers"),
      h("ul", { class: "rm-people" }, (s.speakers ?? []).map((u) => h("li", { class: "rm-person" }, avatarEl(app.conn, u, "rm-avatar rm-avatar-sm"), nameEl(app.conn, u)))),
      Object.keys(s.reactions ?? {}).length ? h("p", { class: "rm-react-totals" }, Object.entries(s.reactions).map(([e, n]) => `${e} ${n}`).join("  ")) : null,
      (s.polls ?? []).length ? h("h2", null, "Polls") : null,
      (s.polls ?? []).map((p) => {
        const total = p.totals.reduce((a, b) => a + b, 0);
        return h("section", { class: "rm-poll" }, h("h3", null, p.question),
          h("ul", { class: "rm-poll-options" }, p.options.map((o, i) => {
            const pct = total ? Math.round((p.totals[i] * 100) / total) : 0;
            const bar = h("span", { class: "rm-bar" });
            bar.style.width = `${pct}%`;
            return h("li", null, h("div", { class: "rm-vote rm-result" }, bar, h("span", { class: "rm-poll-label" }, o, h("span", { class: "rm-poll-n" }, ` ${p.totals[i]} (${pct}%)`))));
          })));
      }),
      h("a", { class: "rm-button", href: "#/rooms" }, "Back to rooms")]);
  };
  if (summary) draw(summary);
  else {
    // The summary is projected shortly after the end.
    let tries = 0;
    const load = () => rooms.summary(id).then(draw, () => { if (++tries < 10) setTimeout(load, 500); });
    load();
  }
}
