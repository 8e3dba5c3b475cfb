// One live room (#/room/<id>): the stage, the audience, hands and
// invitations, moderation, comments, reactions, polls, the audio, and the
// summary once the room has ended. The DOM is patched per event: each event
// repaints only the parts it changes.
import type { App } from "../app.js";
import type { StreamEvent } from "../../../sdk/src/types.js";
import { Rooms, RoomWatch, DEFAULT_REACTIONS, type RoomRole, type StageMember, type RoomSummary, type Poll, type RoomComment } from "../../../sdk/src/rooms.js";
import { joinAudio, type AudioSession } from "../../../sdk/src/audio.js";
import { h, clear, append } from "../ui/dom.js";
import { avatarEl, nameEl, labelFor } from "./people.js";

const rank: Record<RoomRole, number> = { host: 4, moderator: 3, speaker: 2, listener: 1, visitor: 0 };

export function renderRoom(app: App, main: HTMLElement, id: string): () => void {
  const rooms = new Rooms(app.conn);
  let watch: RoomWatch | null = null;
  let audio: AudioSession | null = null;
  let stopped = false;
  clear(main);
  const root = h("div", { class: "rm-room" }, h("p", { class: "rm-empty" }, "Joining the room…"));
  main.appendChild(root);

  const stop = async (leave: boolean) => {
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
      root.appendChild(h("div", { class: "rm-gone" },
        h("h1", null, "Room unavailable"),
        h("p", null, e?.code === "not_found" ? "This room does not exist or you may not see it." : `${e?.message ?? e}`),
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
  const host = s.you.role === "host";
  clear(root);
  root.appendChild(h("div", { class: "rm-scheduled" },
    h("h1", null, s.title),
    s.description ? h("p", { class: "rm-desc" }, s.description) : null,
    h("p", null, "Starts ", h("time", { dateTime: s.scheduled_at ?? "" }, when), " · hosted by ", nameEl(app.conn, s.host)),
    h("div", { class: "rm-actions" }, interest, count,
      host ? h("button", { type: "button", class: "rm-primary", onclick: () => rooms.start(w.room).catch((e) => app.toast(e.message, "error")) }, "Start now") : null,
      host ? h("button", { type: "button", class: "rm-danger", onclick: () => rooms.end(w.room).then(() => app.navigate("#/rooms"), (e) => app.toast(e.message, "error")) }, "Cancel room") : null,
    ),
    h("a", { href: "#/rooms" }, "Back to rooms")));
  paint();
  w.on((e) => {
    if (e.event === "room.started") started();
    else if (e.event === "room.ended") app.navigate("#/rooms");
    else paint();
  });
}

interface LiveHooks {
  getAudio(): AudioSession | null;
  setAudio(a: AudioSession | null): void;
  ended(summary: RoomSummary | null): void;
}

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
  const header = h("header", { class: "rm-room-head" },
    h("div", null, title,
      st().description ? h("p", { class: "rm-desc" }, st().description!) : null,
      h("p", { class: "rm-host" }, h("span", { class: "rm-live-chip" }, "LIVE"), " Hosted by ", nameEl(conn, st().host)),
      counts),
    h("div", { class: "rm-head-actions" }, h("a", { class: "rm-button", href: "#/rooms" }, "Leave room"), endBox));

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
  const stageGrid = h("ul", { class: "rm-stage", "aria-label": "Speakers" });
  const tiles = new Map<string, HTMLLIElement>();
  const drawStage = () => {
    clear(stageGrid);
    tiles.clear();
    for (const m of st().stage) {
      const li = stageTile(m);
      tiles.set(m.user, li);
      stageGrid.appendChild(li);
    }
    drawSpeaking();
  };
  const stageTile = (m: StageMember): HTMLLIElement => {
    const roleText = m.role === "host" ? "Host" : m.role === "moderator" ? "Moderator" : "Speaker";
    const mute = h("span", { class: "rm-mute-icon", role: "img", "aria-label": "muted", title: m.locked ? "Muted by a moderator" : "Muted", hidden: !m.muted }, m.locked ? "🔒" : "🔇");
    const li = h("li", { class: "rm-tile", dataset: { user: m.user, role: m.role, muted: String(m.muted) } },
      h("span", { class: "rm-ring" }, avatarEl(conn, m.user, "rm-avatar rm-avatar-lg"), mute),
      nameEl(conn, m.user),
      h("span", { class: "rm-role" }, roleText, m.user === me ? " (you)" : ""),
      personMenu(m.user, m.role, true, m.muted),
    );
    return li;
  };
  const drawSpeaking = () => {
    for (const [u, li] of tiles) {
      const lvl = st().speaking.get(u);
      li.classList.toggle("rm-speaking", lvl !== undefined);
    }
  };

  // Moderation menu for one person.
  const personMenu = (user: string, role: RoomRole, stage: boolean, muted: boolean): HTMLElement | null => {
    const myRank = rank[st().you.role];
    if (user === me || myRank < 3 || rank[role] >= myRank) return null;
    const host = st().you.role === "host";
    const items: HTMLElement[] = [];
    const item = (text: string, fn: () => Promise<unknown>) =>
      items.push(h("button", { type: "button", role: "menuitem", onclick: () => { details.open = false; void act(fn(), text); } }, text));
    if (stage) {
      if (!muted) item("Mute", () => rooms.muteUser(room, user));
      if (role === "speaker") item("Move to audience", () => rooms.removeFromStage(room, user));
      else if (host) item("Move to audience", () => rooms.setRole(room, user, "listener"));
    } else {
      if (st().invited.includes(user)) item("Cancel invitation", () => rooms.cancelInvite(room, user));
      else item("Invite to speak", () => rooms.invite(room, user));
    }
    if (host && role !== "moderator") item("Make moderator", () => rooms.setRole(room, user, "moderator"));
    item("Remove from room", () => rooms.kick(room, user));
    const summary = h("summary", { class: "rm-menu-btn", "aria-label": "Actions" }, "⋯");
    void labelFor(conn, user).then((n) => summary.setAttribute("aria-label", `Actions for ${n}`));
    const details = h("details", { class: "rm-menu" }, summary, h("div", { class: "rm-menu-list", role: "menu" }, items));
    return details;
  };

  // My controls: audio, mute, hand, stage.
  const controls = h("div", { class: "rm-controls", role: "group", "aria-label": "Your controls" });
  const audioState = h("span", { class: "rm-audio-state", "aria-live": "polite" });
  const drawControls = () => {
    clear(controls);
    const a = hooks.getAudio();
    if (!a) {
      controls.appendChild(h("button", { type: "button", class: "rm-primary rm-join-audio", onclick: joinAudioNow }, "🎧 Join audio"));
    } else {
      controls.appendChild(h("button", { type: "button", class: "rm-leave-audio", onclick: leaveAudio }, "Leave audio"));
    }
    if (onStage()) {
      const you = st().you;
      const b = h("button", {
        type: "button", class: "rm-mic", "aria-pressed": String(!you.muted),
        disabled: you.muted && you.locked,
        onclick: () => act(rooms.mute(room, !you.muted), you.muted ? "Unmute" : "Mute"),
      }, you.muted ? (you.locked ? "🔒 Muted by a moderator" : "🎙 Unmute") : "🔇 Mute");
      controls.appendChild(b);
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
    drawAudioState();
  };
  const drawAudioState = () => {
    const a = hooks.getAudio();
    if (!a) audioState.textContent = "";
    else if (onStage() && !st().you.muted) audioState.textContent = "You're live";
    else if (onStage()) audioState.textContent = "You're muted";
    else audioState.textContent = "Listening";
  };
  let joining = false;
  const joinAudioNow = async () => {
    if (joining || hooks.getAudio()) return;
    joining = true;
    try {
      const a = await joinAudio(conn, `room:${room}`, { microphone: true, events: w });
      hooks.setAudio(a);
      a.onClosed((reason) => {
        if (hooks.getAudio() === a) hooks.setAudio(null);
        if (reason !== "session_ended") app.toast(`Audio stopped (${reason.replace(/_/g, " ")})`, "error");
        drawControls();
      });
      a.onPolicy(() => drawAudioState());
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
    DEFAULT_REACTIONS.map((e) => h("button", { type: "button", class: "rm-emoji", "aria-label": `React ${e}`, onclick: () => act(rooms.react(room, e), "React") }, e)));
  const reactTotals = h("p", { class: "rm-react-totals" });
  const drawReactTotals = () => {
    const r = st().reactions;
    reactTotals.textContent = Object.entries(r).filter(([, n]) => n > 0).map(([e, n]) => `${e} ${n}`).join("  ");
  };
  const fly = (emoji: string) => {
    const el = h("span", { class: "rm-flying" }, emoji);
    el.style.left = `${5 + Math.random() * 85}%`;
    el.style.animationDelay = `${Math.random() * 300}ms`;
    el.addEventListener("animationend", () => el.remove());
    flyLayer.appendChild(el);
    setTimeout(() => el.remove(), 4000);
  };

  // Hands queue (moderators).
  const handsBox = h("section", { class: "rm-hands", "aria-labelledby": "rm-hands-h" });
  const drawHands = () => {
    clear(handsBox);
    if (!isMod()) {
      handsBox.hidden = true;
      return;
    }
    handsBox.hidden = false;
    handsBox.appendChild(h("h2", { id: "rm-hands-h" }, `Raised hands (${st().hands.length})`));
    if (st().hands.length === 0) {
      handsBox.appendChild(h("p", { class: "rm-empty" }, "No hands raised."));
      return;
    }
    const ul = h("ul", { class: "rm-people" });
    for (const u of st().hands) {
      const invited = st().invited.includes(u);
      const btn = h("button", {
        type: "button", class: "rm-primary rm-invite",
        onclick: () => act(invited ? rooms.cancelInvite(room, u) : rooms.invite(room, u), "Invite"),
      }, invited ? "Invited · cancel" : "Invite to speak");
      void labelFor(conn, u).then((n) => btn.setAttribute("aria-label", invited ? `Cancel invitation of ${n}` : `Invite ${n} to speak`));
      ul.appendChild(h("li", { class: "rm-person", dataset: { user: u } }, avatarEl(conn, u), nameEl(conn, u), btn));
    }
    handsBox.appendChild(ul);
  };

  // Audience.
  const audienceH = h("h2", { id: "rm-aud-h" });
  const audienceList = h("ul", { class: "rm-people rm-audience" });
  const drawAudience = () => {
    audienceH.textContent = `Audience (${st().counts.listeners ?? st().listeners.length})`;
    clear(audienceList);
    for (const u of st().listeners.slice(0, 200)) {
      const hand = st().hands.includes(u);
      audienceList.appendChild(h("li", { class: "rm-person", dataset: { user: u } },
        avatarEl(conn, u), nameEl(conn, u), hand ? h("span", { role: "img", "aria-label": "hand raised" }, "✋") : null,
        u === me ? h("span", { class: "rm-role" }, "(you)") : null,
        personMenu(u, "listener", false, false)));
    }
  };
  const drawCounts = () => {
    const c = st().counts;
    counts.textContent = `👥 ${c.total} in the room · 🎧 ${c.listeners} listening · ✋ ${c.hands}`;
  };

  // Comments.
  const pinnedBox = h("div", { class: "rm-pinned", "aria-label": "Pinned comment" });
  const commentList = h("ol", { class: "rm-comments", "aria-label": "Comments", "aria-live": "polite" });
  const commentEls = new Map<number, HTMLLIElement>();
  const drawPinned = () => {
    clear(pinnedBox);
    const p = st().pinned;
    pinnedBox.hidden = !p;
    if (!p) return;
    append(pinnedBox, [h("span", { class: "rm-pin-label" }, "📌 Pinned"), h("strong", null, nameEl(conn, p.author)), h("span", { class: "rm-pin-text" }, p.text),
      isMod() ? h("button", { type: "button", class: "rm-small", onclick: () => act(rooms.unpin(room), "Unpin") }, "Unpin") : null]);
  };
  const commentEl = (c: RoomComment): HTMLLIElement => {
    const li = h("li", { class: "rm-comment", dataset: { n: String(c.n) } },
      h("strong", null, nameEl(conn, c.user)), " ", h("span", { class: "rm-comment-text" }, c.text));
    if (isMod()) li.appendChild(h("button", { type: "button", class: "rm-small rm-pin", "aria-label": `Pin comment ${c.n}`, onclick: () => act(rooms.pin(room, c.n), "Pin") }, "📌 Pin"));
    return li;
  };
  const addComment = (c: RoomComment) => {
    if (commentEls.has(c.n)) return;
    const li = commentEl(c);
    commentEls.set(c.n, li);
    const near = commentList.scrollHeight - commentList.scrollTop - commentList.clientHeight < 60;
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
  };
  const commentInput = h("input", { type: "text", name: "comment", maxlength: "500", autocomplete: "off", "aria-label": "Write a comment", placeholder: "Say something…" });
  const commentForm = h("form", { class: "rm-comment-form" }, commentInput, h("button", { type: "submit" }, "Send"));
  commentForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = commentInput.value.trim();
    if (!text) return;
    commentInput.value = "";
    try {
      await rooms.comment(room, text);
    } catch (e: any) {
      commentInput.value = text;
      app.toast(e?.code === "rate_limited" ? "Slow down: too many comments" : `Comment: ${e?.message ?? e}`, "error");
    }
  });

  // Polls.
  const pollList = h("div", { class: "rm-polls" });
  const pollEls = new Map<number, { el: HTMLElement; paint: () => void }>();
  const pollForm = h("div", { class: "rm-poll-new" });
  const drawPollForm = () => {
    clear(pollForm);
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
      el.appendChild(h("h3", null, cur.question, " ", h("span", { class: "rm-poll-status" }, cur.open ? "open" : "closed")));
      const total = cur.totals.reduce((a, b) => a + b, 0);
      const ul = h("ul", { class: "rm-poll-options" });
      cur.options.forEach((o, i) => {
        const n = cur.totals[i] ?? 0;
        const pct = total ? Math.round((n * 100) / total) : 0;
        const bar = h("span", { class: "rm-bar" });
        bar.style.width = `${pct}%`;
        const label = h("span", { class: "rm-poll-label" }, o, h("span", { class: "rm-poll-n" }, ` ${n} (${pct}%)`));
        ul.appendChild(h("li", null,
          canVote
            ? h("button", { type: "button", class: "rm-vote", "aria-label": `Vote ${o}`, onclick: () => vote(cur.poll, i) }, bar, label)
            : h("div", { class: "rm-vote rm-result" }, bar, label)));
      });
      el.appendChild(ul);
      el.appendChild(h("p", { class: "rm-poll-foot" }, `${total} vote${total === 1 ? "" : "s"}`, voted ? " · you voted" : ""));
      if (cur.open && isMod()) el.appendChild(h("button", { type: "button", class: "rm-small", onclick: () => act(rooms.closePoll(room, cur.poll), "Close poll") }, "Close poll"));
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
  };

  // Layout.
  clear(root);
  root.append(
    header, banner,
    h("div", { class: "rm-body" },
      h("div", { class: "rm-col" },
        h("section", { class: "rm-stage-box", "aria-labelledby": "rm-stage-h" }, h("h2", { id: "rm-stage-h" }, "Stage"), stageGrid, flyLayer),
        controls,
        h("div", { class: "rm-react-row" }, reactBar, reactTotals),
        handsBox,
        h("section", { class: "rm-polls-box", "aria-labelledby": "rm-polls-h" }, h("h2", { id: "rm-polls-h" }, "Polls"), pollForm, pollList),
        h("section", { "aria-labelledby": "rm-aud-h" }, audienceH, audienceList)),
      h("aside", { class: "rm-side", "aria-labelledby": "rm-com-h" },
        h("h2", { id: "rm-com-h" }, "Comments"), pinnedBox, commentList, commentForm)),
  );
  const drawRoleParts = () => {
    drawStage();
    drawControls();
    drawHands();
    drawAudience();
    drawPinned();
    drawPollForm();
    drawEnd();
    for (const c of pollEls.values()) c.paint();
  };
  drawCounts();
  drawBanner();
  drawComments();
  drawReactTotals();
  drawPolls();
  drawRoleParts();

  let myRole = st().you.role;
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
        return;
      case "room.updated":
        title.textContent = st().title;
        return;
      case "room.ended":
        hooks.ended(st().summary ?? null);
        return;
      case "room.removed":
      case "room.kicked":
      case "room.blocked":
        if (st().removed) {
          const a = hooks.getAudio();
          hooks.setAudio(null);
          void a?.leave();
          clear(root);
          root.appendChild(h("div", { class: "rm-gone" }, h("h1", null, "You were removed from this room"), h("a", { href: "#/rooms" }, "Back to rooms")));
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
      h("ul", { class: "rm-people" }, (s.speakers ?? []).map((u) => h("li", { class: "rm-person" }, avatarEl(app.conn, u), nameEl(app.conn, u)))),
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
