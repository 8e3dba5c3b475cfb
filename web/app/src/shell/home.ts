// The home screen: what is happening now for the signed-in user. Live rooms
// (their home feed and the public listing), upcoming rooms, and the channels
// with unread messages or mentions, or a first-run guide for a new account.
// One round of requests draws it (chat.boot, GET /v1/home, GET /v1/rooms
// live and upcoming); chat pushes keep the unread list current and the rooms
// are listed again every 30 s while the screen is open and visible.
import type { ParleyClient } from "../../../sdk/src/client.js";
import { Rooms, roomId, type HomeEntry, type RoomListing } from "../../../sdk/src/rooms.js";
import type { User } from "../../../sdk/src/types.js";
import { clear, h } from "../ui/dom.js";
import type { Unread } from "./unread.js";

/** How often the room lists are fetched again while home is shown. */
export const ROOMS_REFRESH_MS = 30_000;
const MAX_ROOMS = 8;

interface RoomRow {
  listing: RoomListing;
  reason?: string;
}

const REASON: Record<string, string> = {
  hosting: "Someone you follow is hosting",
  speaking: "Someone you follow is speaking",
  invited: "You are invited",
  workspace: "In your workspace",
};

// Host names looked up once per page load (GET /v1/users/{id}).
const names = new Map<string, Promise<string>>();

function hostName(client: ParleyClient, me: User, unread: Unread, id: string): Promise<string> | string {
  if (id === me.id) return "you";
  const p = unread.profiles[id];
  if (p) return p.display_name || p.handle;
  let n = names.get(id);
  if (!n) {
    n = client.http<User>("GET", `/v1/users/${encodeURIComponent(id)}`).then(
      (u) => u.display_name || u.handle,
      () => "",
    );
    names.set(id, n);
  }
  return n;
}

function when(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const now = new Date();
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  const days = Math.round((new Date(d.toDateString()).getTime() - new Date(now.toDateString()).getTime()) / 86_400_000);
  if (days === 0) return `Today ${time}`;
  if (days === 1) return `Tomorrow ${time}`;
  return d.toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric" }) + " " + time;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** renderHome draws the home screen into el; the returned function stops
 * its updates. */
export function renderHome(el: HTMLElement, client: ParleyClient, me: User, unread: Unread): () => void {
  const rooms = new Rooms(client);
  let alive = true;
  let live: RoomRow[] | null = null;
  let upcoming: RoomRow[] | null = null;
  let roomsError: string | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const firstRun = h("section", { class: "home-card first-run", "aria-labelledby": "home-start-h" });
  const unreadSec = h("section", { class: "home-card", "aria-labelledby": "home-unread-h" });
  const liveSec = h("section", { class: "home-card", "aria-labelledby": "home-live-h" });
  const upcomingSec = h("section", { class: "home-card", "aria-labelledby": "home-upcoming-h" });
  firstRun.hidden = true;
  el.appendChild(
    h(
      "div",
      { class: "home" },
      h("h1", null, `Welcome, ${me.display_name}`),
      h(
        "nav",
        { class: "home-nav", "aria-label": "Go to" },
        h("a", { href: "#/chat" }, "Messages"),
        h("a", { href: "#/rooms" }, "Rooms"),
        h("a", { href: "#/calls" }, "Calls"),
      ),
      firstRun,
      h("div", { class: "home-grid" }, liveSec, unreadSec, upcomingSec),
    ),
  );

  const loading = (sec: HTMLElement, id: string, title: string) => {
    clear(sec);
    sec.append(h("h2", { id }, title), h("p", { class: "muted" }, "Loading…"));
    sec.setAttribute("aria-busy", "true");
  };
  loading(liveSec, "home-live-h", "Live now");
  loading(unreadSec, "home-unread-h", "Unread");
  loading(upcomingSec, "home-upcoming-h", "Upcoming rooms");

  // ---- first run ----
  const drawFirstRun = () => {
    const noWorkspace = unread.loaded && unread.workspaces.length === 0;
    firstRun.hidden = !noWorkspace;
    if (!noWorkspace || firstRun.childElementCount) return;
    firstRun.append(
      h("h2", { id: "home-start-h" }, "Get started"),
      h("p", { class: "muted" }, "You are not in a workspace yet. A workspace holds your team's channels and direct messages."),
      h(
        "div",
        { class: "start-actions" },
        h("a", { href: "#/chat/new", class: "btn primary" }, "Create or join a workspace"),
        h("a", { href: "#/rooms", class: "btn" }, "Start a live room"),
        h("a", { href: "#/calls", class: "btn" }, "Start a call"),
      ),
    );
  };

  // ---- unread ----
  const drawUnread = () => {
    if (!unread.loaded && !unread.error) return;
    clear(unreadSec);
    unreadSec.removeAttribute("aria-busy");
    const head = h("h2", { id: "home-unread-h" }, "Unread");
    unreadSec.append(head);
    if (unread.error && !unread.loaded) {
      unreadSec.append(h("p", { class: "muted" }, `Could not load your messages: ${unread.error}`));
      return;
    }
    if (unread.workspaces.length === 0) {
      unreadSec.append(h("p", { class: "muted" }, "Messages appear here once you are in a workspace."));
      return;
    }
    const chans = unread.unreadChannels();
    const others = unread.others();
    if (chans.length === 0 && others.length === 0) {
      unreadSec.append(h("p", { class: "muted caught-up" }, "You're all caught up."));
      return;
    }
    const items = chans.slice(0, 12).map((c) =>
      h(
        "li",
        { class: "home-row" },
        h(
          "a",
          {
            href: `#/c/${c.id}`,
            class: "row-link",
            "aria-label": [unread.name(c), c.unread > 0 ? plural(c.unread, "new message", "new messages") : "", c.mentions > 0 ? plural(c.mentions, "mention", "mentions") : ""].filter(Boolean).join(", "),
          },
          h("span", { class: "row-title" }, unread.name(c)),
          h(
            "span",
            { class: "badges" },
            c.mentions > 0 ? h("span", { class: "home-badge mention", title: plural(c.mentions, "mention", "mentions") }, `@${c.mentions}`) : null,
            c.unread > 0 ? h("span", { class: "home-badge" }, `${c.unread} new`) : null,
          ),
        ),
      ),
    );
    const more = chans.length > 12 ? h("li", { class: "muted home-more" }, `and ${chans.length - 12} more`) : null;
    const ws = others.map((w) =>
      h(
        "li",
        { class: "home-row" },
        h(
          "a",
          {
            href: "#/chat",
            class: "row-link",
            "aria-label": [w.name, w.unread_channels > 0 ? plural(w.unread_channels, "unread channel", "unread channels") : "", w.mentions > 0 ? plural(w.mentions, "mention", "mentions") : ""].filter(Boolean).join(", "),
          },
          h("span", { class: "row-title" }, w.name),
          h(
            "span",
            { class: "badges" },
            w.mentions > 0 ? h("span", { class: "home-badge mention" }, `@${w.mentions}`) : null,
            w.unread_channels > 0 ? h("span", { class: "home-badge" }, plural(w.unread_channels, "channel", "channels")) : null,
          ),
        ),
      ),
    );
    unreadSec.append(h("ul", { class: "home-list", "aria-labelledby": "home-unread-h" }, items, more, ws));
  };

  // ---- rooms ----
  const roomRow = (r: RoomRow, kind: "live" | "upcoming") => {
    const l = r.listing;
    const id = roomId(l.room);
    const host = h("span", { class: "muted" });
    const name = hostName(client, me, unread, l.host);
    const setHost = (n: string) => {
      host.textContent = n ? `Hosted by ${n}` : "";
    };
    if (typeof name === "string") setHost(name);
    else void name.then((n) => alive && setHost(n));
    const meta =
      kind === "live"
        ? plural(l.participants, "listener", "listeners") + (l.speakers ? ` · ${plural(l.speakers, "speaker", "speakers")}` : "")
        : when(l.scheduled_at) + (l.interested ? ` · ${l.interested} interested` : "");
    return h(
      "li",
      { class: "home-row room-row", dataset: { room: id } },
      h(
        "div",
        { class: "row-main" },
        h("span", { class: "row-title" }, kind === "live" ? h("span", { class: "live-dot", "aria-hidden": "true" }) : null, l.title),
        h("span", { class: "row-meta" }, host, h("span", { class: "muted" }, meta), r.reason && REASON[r.reason] ? h("span", { class: "home-chip" }, REASON[r.reason]) : null),
      ),
      h(
        "a",
        { href: `#/room/${id}`, class: kind === "live" ? "btn primary small" : "btn small", "aria-label": `${kind === "live" ? "Join" : "Open"} ${l.title}` },
        kind === "live" ? "Join" : "Open",
      ),
    );
  };

  const drawRooms = () => {
    if (live === null && !roomsError) return;
    for (const [sec, id, title, rows, kind] of [
      [liveSec, "home-live-h", "Live now", live, "live"],
      [upcomingSec, "home-upcoming-h", "Upcoming rooms", upcoming, "upcoming"],
    ] as const) {
      clear(sec);
      sec.removeAttribute("aria-busy");
      sec.append(h("h2", { id }, title));
      if (rows === null) {
        sec.append(h("p", { class: "muted" }, `Could not load rooms: ${roomsError}`));
        continue;
      }
      if (rows.length === 0) {
        sec.append(
          h(
            "p",
            { class: "muted" },
            kind === "live" ? "No live rooms right now. " : "Nothing scheduled. ",
            h("a", { href: "#/rooms" }, kind === "live" ? "Start a room" : "Schedule a room"),
          ),
        );
        continue;
      }
      sec.append(h("ul", { class: "home-list", "aria-labelledby": id }, rows.map((r) => roomRow(r, kind))));
    }
  };

  const loadRooms = async () => {
    const [home, pubLive, pubUpcoming] = await Promise.allSettled([
      rooms.home(),
      rooms.list({ status: "live", limit: MAX_ROOMS }),
      rooms.list({ status: "upcoming", limit: MAX_ROOMS }),
    ]);
    if (!alive) return;
    if (home.status === "rejected" && pubLive.status === "rejected") {
      roomsError = home.reason?.message ?? String(home.reason);
      live = upcoming = null;
      drawRooms();
      return;
    }
    roomsError = null;
    const entries: HomeEntry[] = home.status === "fulfilled" ? home.value.rooms ?? [] : [];
    const merge = (status: "live" | "scheduled", pub: RoomListing[]): RoomRow[] => {
      const seen = new Set<string>();
      const out: RoomRow[] = [];
      for (const e of entries) {
        if (e.listing.status !== status || seen.has(e.listing.room)) continue;
        seen.add(e.listing.room);
        out.push({ listing: e.listing, reason: e.reason });
      }
      for (const l of pub) {
        if (l.status !== status || seen.has(l.room)) continue;
        seen.add(l.room);
        out.push({ listing: l });
      }
      return out.slice(0, MAX_ROOMS);
    };
    live = merge("live", pubLive.status === "fulfilled" ? pubLive.value.rooms ?? [] : []);
    upcoming = merge("scheduled", pubUpcoming.status === "fulfilled" ? pubUpcoming.value.rooms ?? [] : []);
    upcoming.sort((a, b) => (a.listing.scheduled_at ?? "").localeCompare(b.listing.scheduled_at ?? ""));
    drawRooms();
  };

  const tick = () => {
    timer = setTimeout(async () => {
      if (!alive) return;
      if (document.visibilityState === "visible" && client.state === "open") await loadRooms().catch(() => {});
      if (alive) tick();
    }, ROOMS_REFRESH_MS);
  };

  const redraw = () => {
    drawFirstRun();
    drawUnread();
  };
  const off = unread.onChange(redraw);
  // The tracker may have answered already (it loads at sign-in); else this
  // is its first load, shared with the title.
  if (unread.loaded) redraw();
  else void unread.load();
  void loadRooms().catch((e) => {
    roomsError = e?.message ?? String(e);
    drawRooms();
  });
  tick();

  return () => {
    alive = false;
    off();
    if (timer) clearTimeout(timer);
  };
}
