// Blocked people (#/rooms/blocked): the user's block list as a host. The
// blocked can't see or join any room the user hosts; a moderator's block in
// the user's room adds to this list too.
import type { App } from "../app.js";
import type { Rooms } from "../../../sdk/src/rooms.js";
import { h, clear } from "../ui/dom.js";
import { avatarEl, nameEl, labelFor } from "./people.js";

export function renderBlocks(app: App, rooms: Rooms, main: HTMLElement): () => void {
  let stopped = false;
  const list = h("ul", { class: "rm-people rm-blocks", "aria-label": "Blocked people" });
  const status = h("p", { class: "rm-empty", role: "status" }, "Loading…");
  const more = h("button", { type: "button", hidden: true }, "Show more");
  let next: string | undefined;
  clear(main);
  main.appendChild(h("div", { class: "rm-room rm-blocks-page" },
    h("header", { class: "rm-room-head" }, h("div", { class: "rm-head-text" },
      h("h1", { class: "rm-title" }, "Blocked people"),
      h("p", { class: "rm-desc" }, "People you block can't see or join any room you host. Unblocking them lets them in again, including the rooms you are hosting now. " +
        "Block someone from a person's ⋯ menu in a room; moderators' blocks in your rooms are listed here too."))),
    h("section", { class: "rm-panel" }, status, list, more),
    h("a", { class: "rm-button", href: "#/rooms" }, "Back to rooms")));

  const row = (u: string) => {
    const btn = h("button", { type: "button", class: "rm-small" }, "Unblock");
    void labelFor(app.conn, u).then((n) => btn.setAttribute("aria-label", `Unblock ${n}`));
    const li = h("li", { class: "rm-person", dataset: { user: u } }, avatarEl(app.conn, u, "rm-avatar rm-avatar-sm"), nameEl(app.conn, u), btn);
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        await rooms.unblockUser(u);
        // A block made inside a room stays on that room too: lift it in
        // the rooms the user hosts now, so that "unblocked" means it.
        const me = app.conn.user?.id;
        const mine = (await Promise.all((["live", "upcoming"] as const).map((status) =>
          rooms.list({ status, limit: 200 }).then((r) => r.rooms ?? [], () => [])))).flat().filter((l) => l.host === me);
        await Promise.all(mine.map((l) => rooms.unblock(l.room, u).catch(() => {})));
        li.remove();
        app.toast(`${await labelFor(app.conn, u)} is unblocked: they can join your rooms again`);
        if (!list.childElementCount) status.textContent = "You haven't blocked anyone.";
      } catch (e: any) {
        btn.disabled = false;
        app.toast(`Unblock: ${e?.message ?? e}`, "error");
      }
    });
    return li;
  };
  const load = async () => {
    try {
      const page = await rooms.blocks({ after: next, limit: 100 });
      if (stopped) return;
      for (const u of page.users) list.appendChild(row(u));
      next = page.next || undefined;
      more.hidden = !next;
      status.textContent = list.childElementCount ? "" : "You haven't blocked anyone.";
    } catch (e: any) {
      status.textContent = `Could not load the list: ${e?.message ?? e}`;
    }
  };
  more.addEventListener("click", () => void load());
  void load();
  return () => {
    stopped = true;
  };
}
