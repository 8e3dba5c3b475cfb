// The moderation inbox of a live room, for its host and moderators: the
// reports of the roommod:<id> stream, listed live (reporters are named here
// only), and what can be done about each: delete the comment, remove or
// block the person, or mark the report resolved. The server keeps reports
// append-only and has no "resolved" state, so resolving is remembered in
// this browser (localStorage) per room.
import type { App } from "../app.js";
import type { Subscription } from "../../../sdk/src/types.js";
import type { Rooms, RoomState, ModReport } from "../../../sdk/src/rooms.js";
import { h, clear, append } from "../ui/dom.js";
import { avatarEl, nameEl, labelFor } from "./people.js";

export interface ModInbox {
  el: HTMLElement;
  /** sync opens the inbox when the caller is a host or moderator, and closes it otherwise. */
  sync(): void;
  /** commentGone marks reports of a deleted comment. */
  commentGone(n: number): void;
  close(): void;
}

const storeKey = (room: string) => `parley.roommod.${room}`;

function loadResolved(room: string): Set<number> {
  try {
    const v = JSON.parse(localStorage.getItem(storeKey(room)) ?? "[]");
    return new Set(Array.isArray(v) ? v.filter((x) => typeof x === "number") : []);
  } catch {
    return new Set();
  }
}

export function modInbox(app: App, rooms: Rooms, room: string, st: () => RoomState): ModInbox {
  const conn = app.conn;
  const me = conn.user?.id ?? "";
  const resolved = loadResolved(room);
  const saveResolved = () => {
    try {
      localStorage.setItem(storeKey(room), JSON.stringify([...resolved].slice(-500)));
    } catch {
      // Private mode: resolved for this visit only.
    }
  };
  const count = h("span", { class: "rm-panel-count" });
  const showResolved = h("input", { type: "checkbox", class: "rm-mod-show" });
  const list = h("ol", { class: "rm-mod-list", "aria-label": "Reports", "aria-live": "polite" });
  const empty = h("p", { class: "rm-empty" }, "No reports. Reports of comments and people show up here as they come in.");
  const el = h("section", { class: "rm-panel rm-mod", "aria-labelledby": "rm-mod-h", hidden: true },
    h("div", { class: "rm-mod-head" },
      h("h2", { id: "rm-mod-h" }, "🚩 Reports ", count),
      h("label", { class: "rm-check rm-small-text" }, showResolved, "Show resolved")),
    h("p", { class: "rm-hint" }, "Only hosts and moderators see this, and who reported what."),
    empty, list);

  const items = new Map<number, { r: ModReport; li: HTMLLIElement; gone: boolean }>();
  let sub: Subscription | null = null;
  let opening = false;
  let openedAt = 0;

  const drawCount = () => {
    let open = 0;
    for (const it of items.values()) if (!resolved.has(it.r.report)) open++;
    count.textContent = `(${open} open)`;
    el.dataset.open = String(open);
    empty.hidden = items.size > 0;
    for (const it of items.values()) it.li.hidden = resolved.has(it.r.report) && !showResolved.checked;
  };
  showResolved.addEventListener("change", drawCount);

  const resolve = (n: number, yes = true) => {
    if (yes) resolved.add(n);
    else resolved.delete(n);
    saveResolved();
    const it = items.get(n);
    if (it) paint(it);
    drawCount();
  };

  const act = async (btn: HTMLButtonElement, what: string, p: () => Promise<unknown>, n: number) => {
    btn.disabled = true;
    try {
      await p();
      app.toast(what);
      resolve(n);
    } catch (e: any) {
      app.toast(`${what}: ${e?.message ?? e}`, "error");
      btn.disabled = false;
    }
  };

  const paint = (it: { r: ModReport; li: HTMLLIElement; gone: boolean }) => {
    const { r, li } = it;
    const done = resolved.has(r.report);
    li.dataset.resolved = String(done);
    clear(li);
    const who = r.user ?? "";
    const target = h("strong", null, who ? nameEl(conn, who) : "someone");
    append(li, [
      h("div", { class: "rm-mod-line" },
        avatarEl(conn, r.by || who, "rm-avatar rm-avatar-sm"),
        h("span", null, h("strong", null, r.by ? nameEl(conn, r.by) : "Someone"),
          r.comment ? [" reported a comment by ", target] : [" reported ", target]),
        h("time", { class: "rm-mod-time", dateTime: r.time }, new Date(r.time).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })),
        done ? h("span", { class: "rm-badge rm-mod-done" }, "Resolved") : null),
      r.text ? h("blockquote", { class: "rm-mod-quote" }, r.text, it.gone ? h("span", { class: "rm-mod-gone" }, " (deleted)") : null) : null,
      h("p", { class: "rm-mod-reason" }, r.reason ? `Reason: ${r.reason}` : "No reason given.")]);
    const actions = h("div", { class: "rm-actions rm-mod-actions" });
    if (!done) {
      const label = (btn: HTMLButtonElement, verb: string) => {
        if (who) void labelFor(conn, who).then((n) => btn.setAttribute("aria-label", `${verb} ${n} (report ${r.report})`));
      };
      if (r.comment && !it.gone) {
        const b = h("button", { type: "button", class: "rm-small rm-danger" }, "Delete comment");
        b.setAttribute("aria-label", `Delete the reported comment (report ${r.report})`);
        b.addEventListener("click", () => act(b, "Comment deleted", () => rooms.deleteComment(room, r.comment!), r.report));
        actions.appendChild(b);
      }
      if (who && who !== me && who !== st().host) {
        const kick = h("button", { type: "button", class: "rm-small" }, "Remove from room");
        label(kick, "Remove");
        kick.addEventListener("click", () => act(kick, "Removed from the room", () => rooms.kick(room, who), r.report));
        const block = h("button", { type: "button", class: "rm-small rm-danger" }, "Block");
        label(block, "Block");
        block.addEventListener("click", () => act(block, "Blocked from the host's rooms", () => rooms.block(room, who), r.report));
        actions.append(kick, block);
      }
      const ok = h("button", { type: "button", class: "rm-small rm-primary", "aria-label": `Resolve report ${r.report}` }, "Resolve");
      ok.addEventListener("click", () => resolve(r.report));
      actions.appendChild(ok);
    } else {
      actions.appendChild(h("button", { type: "button", class: "rm-small rm-ghost", "aria-label": `Reopen report ${r.report}`, onclick: () => resolve(r.report, false) }, "Reopen"));
    }
    li.appendChild(actions);
  };

  const add = (r: ModReport) => {
    if (items.has(r.report)) return;
    const gone = !!r.comment && !st().comments.some((c) => c.n === r.comment) && Date.parse(r.time) < openedAt;
    const it = { r, li: h("li", { class: "rm-mod-item", dataset: { report: String(r.report) } }), gone };
    items.set(r.report, it);
    paint(it);
    list.prepend(it.li);
    drawCount();
    // A report made after the inbox opened (not its history).
    if (Date.parse(r.time) >= openedAt - 2000) app.toast("🚩 New report in this room");
  };

  const open = async () => {
    if (sub || opening) return;
    opening = true;
    openedAt = Date.now();
    try {
      const s = await rooms.moderation(room, add, {
        onEnd: () => {
          sub = null;
          el.hidden = true;
        },
      });
      if (!isMod()) {
        void s.unsubscribe();
        return;
      }
      sub = s;
      el.hidden = false;
      drawCount();
    } catch (e: any) {
      if (isMod()) app.toast(`Reports: ${e?.message ?? e}`, "error");
    } finally {
      opening = false;
    }
  };
  const isMod = () => st().you.role === "host" || st().you.role === "moderator";
  const shut = () => {
    const s = sub;
    sub = null;
    el.hidden = true;
    clear(list);
    items.clear();
    if (s) void s.unsubscribe().catch(() => {});
  };

  return {
    el,
    sync() {
      if (isMod()) void open();
      else shut();
    },
    commentGone(n: number) {
      for (const it of items.values()) {
        if (it.r.comment === n && !it.gone) {
          it.gone = true;
          paint(it);
        }
      }
    },
    close: shut,
  };
}
