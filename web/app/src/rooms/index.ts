// Live rooms: the lobby (#/rooms), a room (#/room/<id>), and the
// "invited to speak" push wherever the user is.
import type { App } from "../app.js";
import { Rooms } from "../../../sdk/src/rooms.js";
import { h } from "../ui/dom.js";
import { renderLobby, openCreate } from "./lobby.js";
import { renderRoom } from "./room.js";
import "./rooms.css";

/** install adds the rooms screens to the app. */
export function install(app: App): void {
  app.route(/^#\/rooms\/?$/, (main) => renderLobby(app, main));
  app.route(/^#\/room\/([A-Za-z0-9_-]+)$/, (main, m) => renderRoom(app, main, m[1]));
  const side = app.sidebarSection("rooms", "Rooms", 20);
  side.append(
    h("a", { href: "#/rooms", class: "rm-side-link" }, "🎙 Live rooms"),
    h("button", { type: "button", class: "rm-side-link", onclick: () => openCreate(app, new Rooms(app.conn)) }, "＋ New room"),
  );
  const off = app.conn.onPush("room.invited_to_speak", (p) => {
    const room = String(p.data?.room ?? "").replace(/^room:/, "");
    if (location.hash !== `#/room/${room}`) app.toast("You're invited to speak in a room: open it from Rooms.");
  });
  app.onSignOut(off);
}
