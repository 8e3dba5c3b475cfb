// Live rooms: the lobby (#/rooms), a room (#/room/<id>), and the
// "invited to speak" push wherever the user is.
import type { App } from "../app.js";
import { Rooms } from "../../../sdk/src/rooms.js";
import { h } from "../ui/dom.js";
import { renderLobby, openCreate } from "./lobby.js";
import { renderRoom } from "./room.js";
import { renderBlocks } from "./blocks.js";
import { icon } from "./icons.js";
import "./rooms.css";

/** install adds the rooms screens to the app. */
export function install(app: App): void {
  app.route(/^#\/rooms\/?$/, (main) => renderLobby(app, main));
  app.route(/^#\/room\/([A-Za-z0-9_-]+)$/, (main, m) => renderRoom(app, main, m[1]));
  app.route(/^#\/rooms\/blocked$/, (main) => renderBlocks(app, new Rooms(app.conn), main));
  const side = app.sidebarSection("rooms", "Rooms", 20);
  side.append(
    h("a", { href: "#/rooms", class: "rm-side-link" }, icon("radio", 16), "Live rooms"),
    h("button", { type: "button", class: "rm-side-link", onclick: () => openCreate(app, new Rooms(app.conn)) }, icon("plus", 16), "New room"),
    h("a", { href: "#/rooms/blocked", class: "rm-side-link" }, "⊘ Blocked people"),
  );
  const off = app.conn.onPush("room.invited_to_speak", (p) => {
    const room = String(p.data?.room ?? "").replace(/^room:/, "");
    if (location.hash !== `#/room/${room}`) app.toast("You're invited to speak in a room: open it from Rooms.");
  });
  const offInv = app.conn.onPush("room.invitation", (p) => {
    const d: any = p.data ?? {};
    const room = String(d.room ?? "").replace(/^room:/, "");
    const when = d.status === "scheduled" && d.scheduled_at ? ` (starts ${new Date(d.scheduled_at).toLocaleString()})` : "";
    if (location.hash !== `#/room/${room}`) app.toast(`You're invited to the room “${d.title ?? ""}”${when}: find it in Rooms.`);
  });
  app.onSignOut(() => {
    off();
    offInv();
  });
}
