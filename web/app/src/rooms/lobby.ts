// The rooms lobby (#/rooms): rooms live now, upcoming rooms with an
// "Interested" toggle, and the dialog that creates a room.
import type { App } from "../app.js";
import { Rooms, type RoomListing, type Visibility, type HomeEntry } from "../../../sdk/src/rooms.js";
import { Chat } from "../../../sdk/src/chat.js";
import { icon } from "./icons.js";
import { h, clear } from "../ui/dom.js";
import { avatarEl, nameEl } from "./people.js";

const refreshMs = 5000;

export function renderLobby(app: App, main: HTMLElement): () => void {
  const rooms = new Rooms(app.conn);
  const liveList = h("ul", { class: "rm-cards", "aria-label": "Live rooms" });
  const upList = h("ul", { class: "rm-cards", "aria-label": "Upcoming rooms" });
  const liveEmpty = h("div", { class: "rm-empty-state", hidden: true },
    h("div", { class: "rm-empty-art", "aria-hidden": "true" }, "🎙️"),
    h("h3", null, "Nobody is live right now"),
    h("p", null, "Start a room and talk with people live. Invite speakers up to the stage, take questions, run a poll."),
    h("button", { type: "button", class: "rm-primary", onclick: () => openCreate(app, rooms) }, "Start a room"));
  const upEmpty = h("p", { class: "rm-empty", hidden: true }, "Nothing scheduled. Schedule a room to let people know when you'll be live.");
  const createBtn = h("button", { class: "rm-primary", type: "button", onclick: () => openCreate(app, rooms) }, icon("plus", 16), "Create room");
  clear(main);
  main.appendChild(
    h("div", { class: "rm-lobby" },
      h("header", { class: "rm-lobby-head" },
        h("div", null, h("h1", null, "Rooms"), h("p", { class: "rm-lobby-sub" }, "Live audio conversations. Drop in, listen, raise your hand.")),
        createBtn),
      h("section", { class: "rm-section", "aria-labelledby": "rm-live-h" }, h("h2", { id: "rm-live-h" }, h("span", { class: "rm-dot", "aria-hidden": "true" }), "Live now"), liveEmpty, liveList),
      h("section", { class: "rm-section", "aria-labelledby": "rm-up-h" }, h("h2", { id: "rm-up-h" }, "Upcoming"), upEmpty, upList),
    ),
  );

  type Card = { li: HTMLLIElement; update: (l: RoomListing) => void };
  const liveCards = new Map<string, Card>();
  const upCards = new Map<string, Card>();
  let stopped = false;

  const sync = (list: HTMLUListElement, cards: Map<string, Card>, listings: RoomListing[], make: (l: RoomListing) => Card) => {
    const seen = new Set<string>();
    let prev: Element | null = null;
    for (const l of listings) {
      seen.add(l.room);
      let c = cards.get(l.room);
      if (!c) {
        c = make(l);
        cards.set(l.room, c);
      } else c.update(l);
      const want: Element | null = prev ? prev.nextElementSibling : list.firstElementChild;
      if (want !== c.li) list.insertBefore(c.li, want);
      prev = c.li;
    }
    for (const [id, c] of cards) {
      if (!seen.has(id)) {
        c.li.remove();
        cards.delete(id);
      }
    }
  };

  // The public listings, plus the rooms of the user's home (workspace
  // rooms, invitations), without duplicates.
  const merge = (a: RoomListing[], b: RoomListing[], upcoming: boolean): RoomListing[] => {
    const byId = new Map<string, RoomListing>();
    for (const l of [...a, ...b]) if (!byId.has(l.room)) byId.set(l.room, l);
    const out = [...byId.values()];
    if (upcoming) out.sort((x, y) => String(x.scheduled_at ?? "").localeCompare(String(y.scheduled_at ?? "")));
    else out.sort((x, y) => String(y.started_at ?? y.created_at).localeCompare(String(x.started_at ?? x.created_at)));
    return out;
  };

  const load = async () => {
    try {
      const [live, up, home] = await Promise.all([
        rooms.list({ status: "live" }), rooms.list({ status: "upcoming" }),
        rooms.home().catch(() => ({ rooms: [] as HomeEntry[] })),
      ]);
      if (stopped) return;
      const mine = (home.rooms ?? []).map((e) => e.listing).filter(Boolean);
      const liveAll = merge(live.rooms, mine.filter((l) => l.status === "live"), false);
      const upAll = merge(up.rooms, mine.filter((l) => l.status === "scheduled"), true);
      sync(liveList, liveCards, liveAll, (l) => liveCard(app, rooms, l));
      sync(upList, upCards, upAll, (l) => upcomingCard(app, rooms, l));
      liveEmpty.hidden = liveAll.length > 0;
      upEmpty.hidden = upAll.length > 0;
    } catch (e: any) {
      if (!stopped) app.toast(`Could not load rooms: ${e?.message ?? e}`, "error");
    }
  };
  void load();
  const timer = setInterval(load, refreshMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

const visBadge = (v: string) => v === "invite" ? h("span", { class: "rm-badge" }, "🔒 Invite only") : v === "workspace" ? h("span", { class: "rm-badge" }, "🏢 Workspace") : null;

function liveCard(app: App, rooms: Rooms, l: RoomListing): { li: HTMLLIElement; update: (l: RoomListing) => void } {
  const title = h("span", null, l.title);
  const desc = h("p", { class: "rm-card-desc" });
  const speakers = h("ul", { class: "rm-card-speakers rm-people", "aria-label": "On stage" });
  const count = h("span", { class: "rm-count" });
  const link = h("a", { class: "rm-card-link", href: `#/room/${l.room}` }, title);
  const li = h("li", { class: "rm-card rm-live", dataset: { room: l.room } },
    h("div", { class: "rm-card-top" }, h("span", { class: "rm-live-chip" }, "LIVE"), visBadge(l.visibility), h("span", { class: "rm-host" }, "Hosted by ", nameEl(app.conn, l.host))),
    link, desc, speakers,
    h("div", { class: "rm-card-foot" }, count,
      h("a", { class: "rm-button rm-primary rm-join", href: `#/room/${l.room}`, "aria-label": `Join ${l.title}` }, "Join")),
  );
  let stageKey = "";
  const update = (x: RoomListing) => {
    title.textContent = x.title;
    desc.textContent = x.description ?? "";
    desc.hidden = !x.description;
    // The listing lags the room a little; the snapshot says who is on
    // the stage and how many listen.
    const key = `${x.seq}:${x.participants}`;
    if (key !== stageKey) {
      stageKey = key;
      rooms.get(x.room).then((s) => {
        clear(speakers);
        for (const m of s.stage.slice(0, 3)) {
          speakers.appendChild(h("li", { class: "rm-card-speaker" }, avatarEl(app.conn, m.user, "rm-avatar rm-avatar-sm"), nameEl(app.conn, m.user),
            h("span", { class: "rm-mic-dot", "aria-hidden": "true" }, m.muted ? "" : "🎙️")));
        }
        if (s.stage.length > 3) speakers.appendChild(h("li", { class: "rm-count" }, `+${s.stage.length - 3} more on stage`));
        count.textContent = `🎧 ${s.counts.listeners} listening · ${s.stage.length} on stage`;
      }, () => {
        count.textContent = `🎧 ${Math.max(0, x.participants - x.speakers)} listening`;
      });
    }
  };
  update(l);
  return { li, update };
}

function upcomingCard(app: App, rooms: Rooms, l: RoomListing): { li: HTMLLIElement; update: (l: RoomListing) => void } {
  const when = h("time", { class: "rm-when" });
  const title = h("span", null, l.title);
  const desc = h("p", { class: "rm-card-desc" });
  const btn = h("button", { type: "button", class: "rm-interest", "aria-pressed": "false" }, "Interested");
  const count = h("span", { class: "rm-count" });
  let interested = false;
  let n = l.interested;
  const paint = () => {
    btn.setAttribute("aria-pressed", String(interested));
    btn.textContent = interested ? "★ Interested" : "☆ Interested";
    count.textContent = `${n} interested`;
  };
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    try {
      const r = await rooms.interest(l.room, !interested);
      interested = r.interested;
      n = r.count;
      paint();
    } catch (e: any) {
      app.toast(`Could not update interest: ${e?.message ?? e}`, "error");
    } finally {
      btn.disabled = false;
    }
  });
  const li = h("li", { class: "rm-card rm-upcoming", dataset: { room: l.room } },
    h("div", { class: "rm-card-top" }, when, visBadge(l.visibility)),
    h("a", { class: "rm-card-link", href: `#/room/${l.room}` }, title),
    desc,
    h("span", { class: "rm-host" }, "Hosted by ", nameEl(app.conn, l.host)),
    h("div", { class: "rm-card-foot" }, btn, count),
  );
  rooms.get(l.room).then((s) => {
    interested = s.you.interested;
    n = s.counts.interested;
    paint();
  }, () => {});
  const update = (x: RoomListing) => {
    title.textContent = x.title;
    desc.textContent = x.description ?? "";
    desc.hidden = !x.description;
    if (x.scheduled_at) {
      when.dateTime = x.scheduled_at;
      when.textContent = "🗓 " + new Date(x.scheduled_at).toLocaleString(undefined, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    }
    n = x.interested;
    paint();
  };
  update(l);
  return { li, update };
}

/** openCreate shows the create room dialog. */
export function openCreate(app: App, rooms: Rooms): void {
  const title = h("input", { id: "rm-c-title", name: "title", required: true, maxlength: "120", autocomplete: "off", placeholder: "What do you want to talk about?" });
  const desc = h("textarea", { id: "rm-c-desc", name: "description", rows: "3", maxlength: "1000" });
  const wsOption = h("option", { value: "workspace" }, "A workspace: its members");
  const vis = h("select", { id: "rm-c-vis", name: "visibility" },
    h("option", { value: "public" }, "Public: anyone can find and join"),
    wsOption,
    h("option", { value: "invite" }, "Invite only: the people you invite"),
  );
  const ws = h("select", { id: "rm-c-ws", name: "workspace" });
  const wsHint = h("p", { class: "rm-hint" });
  const wsBox = h("div", { class: "rm-form", hidden: true }, h("label", { for: "rm-c-ws" }, "Workspace"), ws, wsHint);
  const now = h("input", { type: "radio", name: "when", value: "now", id: "rm-c-now", checked: true });
  const later = h("input", { type: "radio", name: "when", value: "later", id: "rm-c-later" });
  const at = h("input", { type: "datetime-local", id: "rm-c-at", name: "scheduled_at", "aria-label": "Start time", disabled: true });
  const err = h("p", { class: "rm-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "rm-primary" }, "Start room");
  let workspaces: { id: string; name: string }[] | null = null;
  const toggle = () => {
    at.disabled = !later.checked;
    submit.textContent = later.checked ? "Schedule room" : "Start room";
    if (later.checked && !at.value) {
      const d = new Date(Date.now() + 60 * 60 * 1000);
      d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
      at.value = d.toISOString().slice(0, 16);
    }
    wsBox.hidden = vis.value !== "workspace";
    if (vis.value === "workspace" && workspaces && !workspaces.length) {
      wsHint.textContent = "You're in no workspace yet: create or join one in Messages first.";
    }
  };
  now.addEventListener("change", toggle);
  later.addEventListener("change", toggle);
  vis.addEventListener("change", toggle);
  // The user's workspaces, for workspace rooms.
  new Chat(app.conn).boot().then((b) => {
    workspaces = (b.workspaces ?? []).map((w) => ({ id: w.id, name: w.name }));
    clear(ws);
    for (const w of workspaces) ws.appendChild(h("option", { value: w.id }, w.name));
    wsHint.textContent = workspaces.length ? "Only its members can find and join the room." : "";
    toggle();
  }, () => {
    workspaces = [];
    toggle();
  });
  const dlg = h("dialog", { class: "rm-dialog", "aria-labelledby": "rm-c-h" });
  const form = h("form", { method: "dialog", class: "rm-form" },
    h("h2", { id: "rm-c-h" }, "Create a room"),
    h("label", { for: "rm-c-title" }, "Title"), title,
    h("label", { for: "rm-c-desc" }, "Description"), desc,
    h("label", { for: "rm-c-vis" }, "Who can join"), vis, wsBox,
    h("fieldset", null, h("legend", null, "When"),
      h("label", { class: "rm-radio" }, now, " Now"),
      h("label", { class: "rm-radio" }, later, " Schedule for later"), at),
    err,
    h("div", { class: "rm-actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), submit),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    const visibility = vis.value as Visibility;
    if (visibility === "workspace" && !ws.value) {
      err.textContent = "Pick a workspace (you need to be in one).";
      return;
    }
    submit.disabled = true;
    try {
      const scheduled = later.checked && at.value ? new Date(at.value) : undefined;
      const r = await rooms.create({
        title: title.value.trim(), description: desc.value.trim() || undefined,
        visibility, workspace: visibility === "workspace" ? ws.value : undefined, scheduled_at: scheduled,
      });
      dlg.close();
      app.navigate(`#/room/${r.room}`);
    } catch (e: any) {
      err.textContent = e?.message ?? String(e);
    } finally {
      submit.disabled = false;
    }
  });
  dlg.appendChild(form);
  dlg.addEventListener("close", () => dlg.remove());
  document.body.appendChild(dlg);
  dlg.showModal();
  title.focus();
}
