// The rooms lobby (#/rooms): rooms live now, upcoming rooms with an
// "Interested" toggle, and the dialog that creates a room.
import type { App } from "../app.js";
import { Rooms, type RoomListing, type Visibility } from "../../../sdk/src/rooms.js";
import { h, clear } from "../ui/dom.js";
import { avatarEl, nameEl } from "./people.js";

const refreshMs = 5000;

export function renderLobby(app: App, main: HTMLElement): () => void {
  const rooms = new Rooms(app.conn);
  const liveList = h("ul", { class: "rm-cards", "aria-label": "Live rooms" });
  const upList = h("ul", { class: "rm-cards", "aria-label": "Upcoming rooms" });
  const liveEmpty = h("p", { class: "rm-empty" }, "Nobody is live right now. Start a room!");
  const upEmpty = h("p", { class: "rm-empty" }, "Nothing scheduled.");
  const createBtn = h("button", { class: "rm-primary", type: "button", onclick: () => openCreate(app, rooms) }, "Create room");
  clear(main);
  main.appendChild(
    h("div", { class: "rm-lobby" },
      h("header", { class: "rm-lobby-head" }, h("h1", null, "Rooms"), createBtn),
      h("section", { "aria-labelledby": "rm-live-h" }, h("h2", { id: "rm-live-h" }, h("span", { class: "rm-dot", "aria-hidden": "true" }), "Live now"), liveEmpty, liveList),
      h("section", { "aria-labelledby": "rm-up-h" }, h("h2", { id: "rm-up-h" }, "Upcoming"), upEmpty, upList),
    ),
  );

  const liveCards = new Map<string, { li: HTMLLIElement; update: (l: RoomListing) => void }>();
  const upCards = new Map<string, { li: HTMLLIElement; update: (l: RoomListing) => void }>();
  let stopped = false;

  const sync = (list: HTMLUListElement, cards: typeof liveCards, listings: RoomListing[], make: (l: RoomListing) => { li: HTMLLIElement; update: (l: RoomListing) => void }) => {
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

  const load = async () => {
    try {
      const [live, up] = await Promise.all([rooms.list({ status: "live" }), rooms.list({ status: "upcoming" })]);
      if (stopped) return;
      sync(liveList, liveCards, live.rooms, (l) => liveCard(app, rooms, l));
      sync(upList, upCards, up.rooms, (l) => upcomingCard(app, rooms, l));
      liveEmpty.hidden = live.rooms.length > 0;
      upEmpty.hidden = up.rooms.length > 0;
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

function liveCard(app: App, rooms: Rooms, l: RoomListing): { li: HTMLLIElement; update: (l: RoomListing) => void } {
  const title = h("span", { class: "rm-card-title" }, l.title);
  const faces = h("span", { class: "rm-faces", "aria-label": "Speakers" });
  const count = h("span", { class: "rm-count" });
  const link = h("a", { class: "rm-card-link", href: `#/room/${l.room}` }, title);
  const li = h("li", { class: "rm-card rm-live", dataset: { room: l.room } },
    link,
    h("span", { class: "rm-host" }, "Hosted by ", nameEl(app.conn, l.host)),
    h("span", { class: "rm-card-foot" }, faces, count),
  );
  let stageKey = "";
  const update = (x: RoomListing) => {
    title.textContent = x.title;
    // The listing lags the room a little; the snapshot says who is on
    // the stage and how many listen.
    const key = `${x.seq}:${x.participants}`;
    if (key !== stageKey) {
      stageKey = key;
      rooms.get(x.room).then((s) => {
        clear(faces);
        for (const m of s.stage.slice(0, 6)) faces.appendChild(avatarEl(app.conn, m.user, "rm-avatar rm-avatar-sm"));
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
  const title = h("span", { class: "rm-card-title" }, l.title);
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
    h("a", { class: "rm-card-link", href: `#/room/${l.room}` }, title),
    when,
    h("span", { class: "rm-host" }, "Hosted by ", nameEl(app.conn, l.host)),
    h("span", { class: "rm-card-foot" }, btn, count),
  );
  rooms.get(l.room).then((s) => {
    interested = s.you.interested;
    n = s.counts.interested;
    paint();
  }, () => {});
  const update = (x: RoomListing) => {
    title.textContent = x.title;
    if (x.scheduled_at) {
      when.dateTime = x.scheduled_at;
      when.textContent = new Date(x.scheduled_at).toLocaleString(undefined, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    }
    n = x.interested;
    paint();
  };
  update(l);
  return { li, update };
}

/** openCreate shows the create room dialog. */
export function openCreate(app: App, rooms: Rooms): void {
  const title = h("input", { id: "rm-c-title", name: "title", required: true, maxlength: "120", autocomplete: "off" });
  const desc = h("textarea", { id: "rm-c-desc", name: "description", rows: "3", maxlength: "1000" });
  const vis = h("select", { id: "rm-c-vis", name: "visibility" },
    h("option", { value: "public" }, "Public: anyone can find and join"),
    h("option", { value: "invite" }, "Invite only"),
  );
  const now = h("input", { type: "radio", name: "when", value: "now", id: "rm-c-now", checked: true });
  const later = h("input", { type: "radio", name: "when", value: "later", id: "rm-c-later" });
  const at = h("input", { type: "datetime-local", id: "rm-c-at", name: "scheduled_at", "aria-label": "Start time", disabled: true });
  const err = h("p", { class: "rm-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "rm-primary" }, "Start room");
  const toggle = () => {
    at.disabled = !later.checked;
    submit.textContent = later.checked ? "Schedule room" : "Start room";
    if (later.checked && !at.value) {
      const d = new Date(Date.now() + 60 * 60 * 1000);
      d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
      at.value = d.toISOString().slice(0, 16);
    }
  };
  now.addEventListener("change", toggle);
  later.addEventListener("change", toggle);
  const dlg = h("dialog", { class: "rm-dialog", "aria-labelledby": "rm-c-h" });
  const form = h("form", { method: "dialog", class: "rm-form" },
    h("h2", { id: "rm-c-h" }, "Create a room"),
    h("label", { for: "rm-c-title" }, "Title"), title,
    h("label", { for: "rm-c-desc" }, "Description"), desc,
    h("label", { for: "rm-c-vis" }, "Who can join"), vis,
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
    submit.disabled = true;
    try {
      const scheduled = later.checked && at.value ? new Date(at.value) : undefined;
      const r = await rooms.create({
        title: title.value.trim(), description: desc.value.trim() || undefined,
        visibility: vis.value as Visibility, scheduled_at: scheduled,
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
