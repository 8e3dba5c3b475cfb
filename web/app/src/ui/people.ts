// people: display names and initials of user ids, fetched once per user
// from GET /v1/users/{id} (one cache for the whole app) and filled into the
// elements that show them.
import type { Conn } from "../../../sdk/src/types.js";
import { h } from "./dom.js";

interface Person {
  id: string;
  handle: string;
  display_name: string;
}

const cache = new Map<string, Promise<Person>>();

export function person(conn: Conn, id: string): Promise<Person> {
  let p = cache.get(id);
  if (!p) {
    if (conn.user && conn.user.id === id) p = Promise.resolve(conn.user);
    else p = conn.http<Person>("GET", `/v1/users/${encodeURIComponent(id)}`).catch(() => ({ id, handle: id, display_name: id }));
    cache.set(id, p);
  }
  return p;
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] ?? "?").slice(0, 2);
  return s.toUpperCase();
}

/** nameEl is a span showing the user's display name once known. */
export function nameEl(conn: Conn, id: string, cls: string): HTMLSpanElement {
  const el = h("span", { class: cls, dataset: { user: id } }, "…");
  void person(conn, id).then((p) => {
    el.textContent = p.display_name || p.handle;
    el.title = "@" + p.handle;
  });
  return el;
}

/** hue is a stable color of a user id, so that faces are told apart. */
export function hue(id: string): number {
  let x = 0;
  for (let i = 0; i < id.length; i++) x = (x * 31 + id.charCodeAt(i)) >>> 0;
  return x % 360;
}

/** avatarEl is a round badge with the user's initials, in the user's color. */
export function avatarEl(conn: Conn, id: string, cls: string): HTMLSpanElement {
  const el = h("span", { class: cls, "aria-hidden": "true" }, "");
  el.style.background = `hsl(${hue(id)} 55% 30%)`;
  void person(conn, id).then((p) => {
    el.textContent = initials(p.display_name || p.handle);
  });
  return el;
}

/** labelFor resolves the display name (for aria-labels). */
export async function labelFor(conn: Conn, id: string): Promise<string> {
  const p = await person(conn, id);
  return p.display_name || p.handle;
}
