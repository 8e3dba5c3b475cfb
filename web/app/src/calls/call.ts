// The call screens and the current call. A call's stream is followed once
// per connection (shared by the screen and the current call); its audio is
// the current call, kept across screens until "Leave".
import type { App } from "../app.js";
import { Calls, CallWatch, type CallState } from "../../../sdk/src/calls.js";
import { keepAudio, type KeptAudio } from "../../../sdk/src/audio.js";
import { icon } from "./icons.js";
import { h, clear } from "../ui/dom.js";
import { avatarEl, nameEl } from "./people.js";

interface Current {
  call: string;
  audio: KeptAudio;
  watch: CallWatch;
}

let cur: Current | null = null;
const changeFns = new Set<() => void>();
const changed = () => changeFns.forEach((f) => f());

export function current(): Current | null {
  return cur;
}

export function onCurrentChange(fn: () => void): () => void {
  changeFns.add(fn);
  fn();
  return () => changeFns.delete(fn);
}

// Shared watches of call streams, counted by their holders.
const watches = new Map<string, { p: Promise<CallWatch>; refs: number }>();

function acquire(calls: Calls, call: string): Promise<CallWatch> {
  let w = watches.get(call);
  if (!w) {
    const p = calls.watch(call);
    w = { p, refs: 0 };
    watches.set(call, w);
    p.catch(() => watches.delete(call));
  }
  w.refs++;
  return w.p;
}

function release(call: string): void {
  const w = watches.get(call);
  if (!w || --w.refs > 0) return;
  watches.delete(call);
  void w.p.then((x) => x.close(), () => {});
}

let joining: string | null = null;

/** joinCall joins the call's audio (which joins the call), leaving any
 * other call first. */
export async function joinCall(app: App, calls: Calls, call: string): Promise<void> {
  if (cur?.call === call || joining === call) return;
  joining = call;
  try {
    if (cur) await leaveCall();
    const watch = await acquire(calls, call);
    let audio: KeptAudio;
    try {
      audio = await keepAudio(app.client, call, { microphone: true, events: watch });
    } catch (e) {
      release(call);
      throw e;
    }
    cur = { call, audio, watch };
    audio.onClosed((reason) => {
      if (cur?.audio !== audio) return;
      cur = null;
      release(call);
      if (reason !== "session_ended") app.toast(`The call's audio stopped (${reason.replace(/_/g, " ")})`, "error");
      changed();
    });
    audio.onChange(() => changed());
    changed();
  } catch (e: any) {
    app.toast(`Could not join the call: ${e?.message ?? e}`, "error");
  } finally {
    joining = null;
  }
}

export async function leaveCall(): Promise<void> {
  const c = cur;
  if (!c) return;
  cur = null;
  await c.audio.leave();
  release(c.call);
  changed();
}

/** renderStart is the "start a call" screen; with a conversation
 * ("channel:<id>") it starts a call in it. */
export function renderStart(app: App, calls: Calls, main: HTMLElement, conversation?: string): void {
  clear(main);
  const err = h("p", { class: "cl-error", role: "alert" });
  const start = async (to: { members: string[] } | { conversation: string }, btn: HTMLButtonElement) => {
    err.textContent = "";
    btn.disabled = true;
    try {
      const r = await calls.start(to);
      app.navigate(`#/call/${r.call.slice(5)}`);
      await joinCall(app, calls, r.call);
    } catch (e: any) {
      err.textContent = e?.message ?? String(e);
    } finally {
      btn.disabled = false;
    }
  };
  if (conversation) {
    const btn: HTMLButtonElement = h("button", { type: "button", class: "cl-primary", onclick: () => start({ conversation }, btn) }, "📞 Start the call");
    main.appendChild(h("div", { class: "cl-page" }, h("h1", null, "Call this conversation"),
      h("p", null, "Everyone in ", h("code", null, conversation), " will be rung."), btn, err));
    btn.focus();
    return;
  }
  const input = h("input", { id: "cl-to", name: "to", autocomplete: "off", required: true, placeholder: "u_… or @handle, comma separated" });
  const submit = h("button", { type: "submit", class: "cl-primary" }, "📞 Call");
  const form = h("form", { class: "cl-form" },
    h("label", { for: "cl-to" }, "People to call"),
    h("div", { class: "cl-row" }, input, submit), err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    const want = input.value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
    try {
      const members = await Promise.all(want.map((x) => resolvePerson(app, x)));
      await start({ members }, submit);
    } catch (e: any) {
      err.textContent = e?.message ?? String(e);
    }
  });
  const myId = app.user.id;
  const copy = h("button", { type: "button", class: "cl-small", onclick: () => navigator.clipboard?.writeText(myId).then(() => app.toast("Copied"), () => {}) }, "Copy");
  main.appendChild(h("div", { class: "cl-page" },
    h("h1", null, "Start a call"), form,
    h("p", { class: "cl-hint" }, "Your user id, for people who want to call you: ", h("code", { class: "cl-my-id" }, myId), " ", copy)));
  input.focus();
}

/** resolvePerson turns a user id or a @handle (searched in the user's
 * workspaces) into a user id. */
async function resolvePerson(app: App, x: string): Promise<string> {
  if (/^u_[A-Za-z0-9_-]+$/.test(x)) return x;
  const handle = x.replace(/^@/, "").toLowerCase();
  try {
    const boot = await app.conn.http<any>("GET", "/v1/chat/boot");
    for (const w of boot?.workspaces ?? []) {
      const ws = w.id ?? w.workspace;
      if (!ws) continue;
      const r = await app.conn.http<any>("GET", `/v1/chat/workspaces/${encodeURIComponent(ws)}/autocomplete?q=${encodeURIComponent(handle)}&limit=10`);
      const hit = (r?.users ?? []).find((u: any) => (u.profile?.handle ?? "").toLowerCase() === handle);
      if (hit) return hit.user;
    }
  } catch {
    // No workspaces, or chat unavailable: fall through.
  }
  throw new Error(`Nobody found for "${x}": use their user id (u_…)`);
}

/** renderCall is the call's screen. */
export function renderCall(app: App, calls: Calls, main: HTMLElement, call: string): () => void {
  clear(main);
  const me = app.user.id;
  const status = h("p", { class: "cl-status", "aria-live": "polite" }, "Loading the call…");
  const timer = h("span", { class: "cl-timer", role: "timer", "aria-label": "Call duration" }, "");
  const list = h("ul", { class: "cl-people", "aria-label": "Participants" });
  const controls = h("div", { class: "cl-controls", role: "group", "aria-label": "Call controls" });
  main.appendChild(h("div", { class: "cl-call" },
    h("header", { class: "cl-call-head" }, h("h1", null, "Call"), timer, status),
    h("div", { class: "cl-stage" }, list),
    h("div", { class: "cl-bar" }, controls)));
  let watch: CallWatch | null = null;
  let off: (() => void) | null = null;
  let stopped = false;
  const items = new Map<string, HTMLLIElement>();

  const memberStatus = (s: CallState, u: string) =>
    s.in.has(u) ? "in the call" : s.ringing.has(u) ? "ringing…" : s.declined.has(u) ? "declined" : s.missed.has(u) ? "missed" : "not in the call";

  const drawPeople = (s: CallState) => {
    clear(list);
    items.clear();
    list.dataset.count = String(Math.min(s.members.length, 9));
    for (const u of s.members) {
      const li = h("li", { class: "cl-person", dataset: { user: u, in: String(s.in.has(u)), ringing: String(s.ringing.has(u)) } },
        h("span", { class: "cl-ring-wrap" }, avatarEl(app.conn, u, "cl-avatar cl-avatar-lg")),
        h("span", { class: "cl-who" }, nameEl(app.conn, u), u === me ? " (you)" : ""),
        h("span", { class: "cl-member-status" }, memberStatus(s, u)));
      items.set(u, li);
      list.appendChild(li);
    }
    drawSpeaking(s);
  };
  const drawSpeaking = (s: CallState) => {
    for (const [u, li] of items) li.classList.toggle("cl-speaking", s.speaking.has(u));
  };
  const fmt = (ms: number) => {
    const t = Math.max(0, Math.floor(ms / 1000));
    const hh = Math.floor(t / 3600);
    const mm = Math.floor((t % 3600) / 60);
    const ss = String(t % 60).padStart(2, "0");
    return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
  };
  const tick = () => {
    const s = watch?.state;
    if (!s || !s.startedAt) {
      timer.textContent = "";
      return;
    }
    if (s.status === "ended") timer.textContent = fmt(s.durationMs ?? (Date.parse(s.endedAt ?? "") - Date.parse(s.startedAt)));
    else timer.textContent = fmt(Date.now() - Date.parse(s.startedAt));
  };
  const clock = setInterval(tick, 1000);
  const drawStatus = (s: CallState) => {
    tick();
    if (s.status === "ended") {
      const secs = Math.round((s.durationMs ?? 0) / 1000);
      status.textContent = `Call ended${s.endReason ? ` (${s.endReason.replace(/_/g, " ")})` : ""} · ${Math.floor(secs / 60)} min ${secs % 60} s`;
    } else if (cur?.call === call && cur.audio.state === "reconnecting") status.textContent = "Reconnecting audio…";
    else if (cur?.call === call) status.textContent = `Connected · ${s.in.size} in the call`;
    else status.textContent = `${s.in.size} in the call · ${s.ringing.size} ringing`;
  };
  const drawControls = () => {
    clear(controls);
    const s = watch?.state;
    if (!s) return;
    if (cur?.call === call) {
      const a = cur.audio;
      const mute = h("button", {
        type: "button", class: "cl-round cl-mute", "aria-pressed": String(a.muted),
        onclick: async () => {
          await a.mute(!a.muted);
          drawControls();
        },
      }, icon(a.muted ? "micOff" : "mic", 20), a.muted ? "Unmute" : "Mute");
      controls.append(mute, h("button", { type: "button", class: "cl-round cl-decline cl-hangup", onclick: () => void leaveCall() }, icon("phoneOff", 20), "Leave call"));
    } else if (s.status === "active") {
      controls.appendChild(h("button", { type: "button", class: "cl-round cl-accept", onclick: () => void joinCall(app, calls, call) }, "📞 Join call"));
      if (s.ringing.has(me)) {
        controls.appendChild(h("button", { type: "button", class: "cl-round cl-decline", onclick: () => calls.decline(call).catch((e) => app.toast(e.message, "error")) }, "Decline"));
      }
    } else {
      controls.appendChild(h("a", { href: "#/calls", class: "cl-button" }, "Start another call"));
    }
  };
  const drawAll = () => {
    if (!watch) return;
    drawPeople(watch.state);
    drawStatus(watch.state);
    drawControls();
  };

  acquire(calls, call).then((w) => {
    if (stopped) {
      release(call);
      return;
    }
    watch = w;
    off = w.on((e, s) => {
      if (e.event === "media.speakers") drawSpeaking(s);
      else drawAll();
    });
    drawAll();
  }, (e: any) => {
    status.textContent = e?.code === "not_found" || e?.code === "forbidden" ? "This call does not exist or you are not in it." : `Could not open the call: ${e?.message ?? e}`;
  });
  const offCur = onCurrentChange(drawAll);
  return () => {
    stopped = true;
    clearInterval(clock);
    off?.();
    offCur();
    if (watch) release(call);
  };
}
