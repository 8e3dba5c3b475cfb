// Browser notifications while the tab is hidden: an incoming call
// (call.ring), a mention (chat.mention) and a new direct message (a DM's
// chat.counts going up). Clicking one focuses the tab and opens the call or
// the conversation. Permission is asked only when the user clicks "Enable
// notifications" (a small banner in the sidebar), never on load. Incoming
// calls also ring: a tone made with WebAudio, no audio file.
import type { App } from "../app.js";
import type { Push } from "../../../sdk/src/types.js";
import { Calls, type Ring } from "../../../sdk/src/calls.js";
import { Chat, type CountsPush, type MentionPush, type ChannelKind, type Message } from "../../../sdk/src/chat.js";
import { h } from "../ui/dom.js";
import { labelFor } from "../ui/people.js";
import "./notify.css";

const dismissKey = "parley.notify.dismissed";

const supported = () => typeof window !== "undefined" && "Notification" in window;
const hidden = () => document.visibilityState === "hidden" || document.hidden;

/** startNotifications wires the pushes to notifications and the ring tone;
 * it stops at sign-out. */
export function startNotifications(app: App): void {
  const conn = app.conn;
  const me = conn.user?.id ?? "";
  const calls = new Calls(conn);
  const chat = new Chat(conn);
  const shown = new Map<string, Notification>();
  const offs: (() => void)[] = [];

  // ---- the banner ----
  const section = app.sidebarSection("notify", "Notifications", 90);
  const wrap = section.parentElement as HTMLElement | null;
  const drawBanner = () => {
    const want = supported() && Notification.permission === "default" && localStorage.getItem(dismissKey) !== "1";
    if (wrap) wrap.hidden = !want;
    section.replaceChildren();
    if (!want) return;
    const enable = h("button", { type: "button", class: "notify-enable" }, "🔔 Enable notifications");
    const later = h("button", { type: "button", class: "notify-later", "aria-label": "Not now: hide this" }, "Not now");
    enable.addEventListener("click", async () => {
      try {
        const p = await Notification.requestPermission();
        app.toast(p === "granted" ? "Notifications are on: calls, mentions and direct messages while Parley is in the background"
          : "Notifications are blocked: allow them in the browser's site settings");
      } catch (e: any) {
        app.toast(`Notifications: ${e?.message ?? e}`, "error");
      }
      drawBanner();
    });
    later.addEventListener("click", () => {
      localStorage.setItem(dismissKey, "1");
      drawBanner();
    });
    section.append(h("p", { class: "notify-text" }, "Get told about calls, mentions and direct messages while Parley is in the background."), enable, later);
  };
  drawBanner();

  // ---- showing ----
  const notify = (tag: string, title: string, body: string, hash: string, sticky = false): void => {
    if (!supported() || Notification.permission !== "granted" || !hidden()) return;
    try {
      shown.get(tag)?.close();
      const n = new Notification(title, { body, tag, requireInteraction: sticky });
      shown.set(tag, n);
      n.onclick = () => {
        window.focus();
        app.navigate(hash);
        n.close();
      };
      n.onclose = () => {
        if (shown.get(tag) === n) shown.delete(tag);
      };
    } catch (e) {
      // Some browsers allow notifications only from a service worker.
      console.error(e);
    }
  };
  const close = (tag: string) => {
    shown.get(tag)?.close();
    shown.delete(tag);
  };
  // Back in the tab: what was notified is seen.
  const onVisible = () => {
    if (hidden()) return;
    for (const [tag, n] of shown) if (!tag.startsWith("call:")) n.close();
  };
  document.addEventListener("visibilitychange", onVisible);
  offs.push(() => document.removeEventListener("visibilitychange", onVisible));

  // ---- calls ----
  const tone = ringTone();
  offs.push(() => tone.stop());
  offs.push(calls.onRing(async (r: Ring) => {
    tone.start(r.call);
    const who = r.by ? await labelFor(conn, r.by) : "Someone";
    const more = (r.members?.length ?? 0) > 2 ? ` with ${r.members!.length - 2} more` : "";
    notify(r.call, `${who} is calling you`, `Incoming call${more} · click to answer`, `#/call/${r.call.replace(/^call:/, "")}`, true);
  }));
  offs.push(calls.onRingEnded((r) => {
    tone.stop(r.call);
    close(r.call);
  }));

  // ---- chat ----
  const channels = new Map<string, Promise<{ kind: ChannelKind; name?: string } | null>>();
  const channelOf = (id: string) => {
    let p = channels.get(id);
    if (!p) {
      p = chat.channel(id).then((c) => ({ kind: c.kind, name: c.name }), () => null);
      channels.set(id, p);
    }
    return p;
  };
  const notified = new Set<string>();
  offs.push(conn.onPush("chat.mention", async (p: Push) => {
    const m = p.data as MentionPush;
    if (!hidden() || m.by === me || notified.has(m.id)) return;
    notified.add(m.id);
    const [who, ch, msg] = await Promise.all([labelFor(conn, m.by), channelOf(m.channel), readMessage(chat, m.channel, m.id)]);
    const where = ch?.kind === "dm" || ch?.kind === "group" ? "in a direct message" : ch?.name ? `in #${ch.name}` : "";
    const what = m.kind === "user" ? "mentioned you" : `mentioned @${m.kind}`;
    notify(`chat:${m.channel}`, `${who} ${what}${where ? " " + where : ""}`, msg?.text?.slice(0, 200) ?? "", `#/c/${m.channel}`);
  }));
  // Direct messages: a DM's unread count going up while hidden.
  const unread = new Map<string, number>();
  offs.push(conn.onPush("chat.counts", async (p: Push) => {
    const c = p.data as CountsPush;
    const before = unread.get(c.channel);
    unread.set(c.channel, c.unread);
    if (!hidden() || c.unread <= (before ?? 0)) return;
    const ch = await channelOf(c.channel);
    if (!ch || (ch.kind !== "dm" && ch.kind !== "group")) return;
    let last: Message | undefined;
    for (let i = 0; i < 5; i++) {
      last = await chat.history(c.channel, { limit: 1 }).then((hist) => hist.messages?.[hist.messages.length - 1], () => undefined);
      if (last && last.seq >= c.last_seq) break;
      await new Promise((r) => setTimeout(r, 250 * (i + 1)));
    }
    if (!last || last.author === me || notified.has(last.id)) return;
    notified.add(last.id);
    const who = await labelFor(conn, last.author);
    notify(`chat:${c.channel}`, `${who} sent you a message`, last.text.slice(0, 200), `#/c/${c.channel}`);
  }));

  app.onSignOut(() => {
    for (const off of offs.splice(0)) off();
    for (const n of shown.values()) n.close();
    shown.clear();
  });
}

/** readMessage reads a message for its text; the push may come just before
 * the message is readable, so it tries again briefly. */
async function readMessage(chat: Chat, channel: string, id: string): Promise<{ text: string } | null> {
  for (let i = 0; ; i++) {
    try {
      return await chat.message(channel, id);
    } catch {
      if (i >= 4) return null;
      await new Promise((r) => setTimeout(r, 250 * (i + 1)));
    }
  }
}

/** ringTone plays a two-tone ring (0.4 s on, 0.2 s off, twice, then 2 s of
 * silence) with WebAudio, for as long as one call or more ring. */
function ringTone(): { start(call: string): void; stop(call?: string): void } {
  let ctx: AudioContext | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let giveUp: ReturnType<typeof setTimeout> | null = null;
  const calls = new Set<string>();
  const burst = () => {
    if (!ctx) return;
    const t0 = ctx.currentTime + 0.05;
    const gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    for (const f of [440, 480]) {
      const o = ctx.createOscillator();
      o.frequency.value = f;
      o.connect(gain);
      o.start(t0);
      o.stop(t0 + 1.1);
    }
    for (const at of [0, 0.6]) {
      gain.gain.setValueAtTime(0, t0 + at);
      gain.gain.linearRampToValueAtTime(0.12, t0 + at + 0.02);
      gain.gain.setValueAtTime(0.12, t0 + at + 0.38);
      gain.gain.linearRampToValueAtTime(0, t0 + at + 0.4);
    }
  };
  const halt = () => {
    if (timer) clearInterval(timer);
    if (giveUp) clearTimeout(giveUp);
    timer = giveUp = null;
    calls.clear();
    const c = ctx;
    ctx = null;
    void c?.close().catch(() => {});
    delete document.documentElement.dataset.ringTone;
  };
  return {
    start(call) {
      calls.add(call);
      if (timer) return;
      try {
        ctx = new AudioContext();
        // Browsers may keep audio suspended until the page was interacted with.
        void ctx.resume().catch(() => {});
      } catch {
        return;
      }
      burst();
      timer = setInterval(burst, 3000);
      // The server stops ringing after its timeout (45 s); never ring on past a minute.
      giveUp = setTimeout(halt, 60_000);
      document.documentElement.dataset.ringTone = ctx.state;
      ctx.onstatechange = () => {
        if (ctx) document.documentElement.dataset.ringTone = ctx.state;
      };
    },
    stop(call) {
      if (call) calls.delete(call);
      if (!call || calls.size === 0) halt();
    },
  };
}
