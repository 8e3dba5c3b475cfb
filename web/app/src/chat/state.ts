// ChatState holds what every chat screen shares: the boot payload of the
// current workspace, live counts, and a cache of people's profiles. Screens
// listen for changes and patch only what changed.
import type { App } from "../app.js";
import { Chat, type Boot, type BootChannel, type BootWorkspace, type CountsPush, type Profile, type PresenceStatus } from "../../../sdk/src/chat.js";
import type { Subscription } from "../../../sdk/src/types.js";

const wsKey = "parley.chat.workspace";

export type Change =
  | { kind: "boot" }
  | { kind: "counts"; channel: string }
  | { kind: "profiles" }
  | { kind: "viewing" }
  | { kind: "presence"; user: string; status: PresenceStatus };

export class ChatState {
  readonly chat: Chat;
  boot: Boot | null = null;
  workspace = "";
  /** The user's channels and DMs in the current workspace, by id. */
  readonly channels = new Map<string, BootChannel>();
  readonly profiles = new Map<string, Profile>();
  readonly presence = new Map<string, PresenceStatus>();
  /** The channel on screen, read as messages arrive. */
  viewing = "";
  private listeners = new Set<(c: Change) => void>();
  private loading: Promise<void> | null = null;
  private pendingProfiles = new Set<string>();
  private profileTimer = 0;
  private presenceSubs = new Map<string, Promise<Subscription | null>>();
  private offs: (() => void)[] = [];

  constructor(readonly app: App) {
    this.chat = new Chat(app.conn);
    this.offs.push(this.chat.onCounts((c) => this.onCounts(c)));
    this.offs.push(this.chat.onMembership(() => void this.reload()));
    // After a reconnect, counts may have moved while offline: boot again.
    let wasOpen = false;
    if (app.client) {
      this.offs.push(app.client.onState((s) => {
        if (s === "open" && wasOpen && this.boot) void this.reload().catch(() => {});
        if (s === "open") wasOpen = true;
      }));
      wasOpen = app.client.state === "open";
    }
    app.onSignOut(() => {
      this.offs.forEach((f) => f());
      try { localStorage.removeItem(wsKey); } catch { /* storage may be off */ }
    });
  }

  get me(): string {
    return this.app.user.id;
  }

  get workspaces(): BootWorkspace[] {
    return this.boot?.workspaces ?? [];
  }

  setViewing(channel: string): void {
    this.viewing = channel;
    this.emit({ kind: "viewing" });
  }

  on(fn: (c: Change) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(c: Change): void {
    for (const fn of [...this.listeners]) fn(c);
  }

  /** ready loads the boot payload once (reload forces it). */
  ready(): Promise<void> {
    return (this.loading ??= this.load(this.savedWorkspace()));
  }

  reload(workspace = this.workspace): Promise<void> {
    return (this.loading = this.load(workspace));
  }

  /** waitOpen resolves once the connection is open (requests made before
   * the first hello would fail). */
  private waitOpen(): Promise<void> {
    const c = this.app.client;
    if (!c || c.state === "open") return Promise.resolve();
    return new Promise((res) => {
      const off = c.onState((s) => {
        if (s === "open") {
          off();
          res();
        }
      });
    });
  }

  private savedWorkspace(): string {
    try { return localStorage.getItem(wsKey) ?? ""; } catch { return ""; }
  }

  private async load(workspace: string): Promise<void> {
    try {
      await this.loadBoot(workspace);
    } catch (e) {
      this.loading = null; // the next screen tries again
      throw e;
    }
  }

  private async loadBoot(workspace: string): Promise<void> {
    await this.waitOpen();
    let b: Boot;
    try {
      b = await this.chat.boot(workspace || undefined);
    } catch (e: any) {
      if (workspace && e?.code === "not_found") b = await this.chat.boot();
      else throw e;
    }
    this.boot = b;
    this.workspace = b.workspace || "";
    try { localStorage.setItem(wsKey, this.workspace); } catch { /* ignore */ }
    this.channels.clear();
    for (const c of [...(b.channels ?? []), ...(b.dms ?? [])]) this.channels.set(c.id, c);
    this.profiles.set(b.user, b.profile);
    for (const [id, p] of Object.entries(b.profiles ?? {})) this.profiles.set(id, p);
    this.emit({ kind: "boot" });
  }

  private onCounts(c: CountsPush): void {
    const ch = this.channels.get(c.channel);
    if (!ch) {
      if (c.workspace === this.workspace) void this.reload();
      return;
    }
    ch.unread = c.unread;
    ch.mentions = c.mentions;
    ch.read_seq = c.read_seq;
    ch.last_seq = c.last_seq;
    this.emit({ kind: "counts", channel: c.channel });
  }

  /** setCounts applies counts answered by mark_read. */
  setCounts(channel: string, c: { unread: number; mentions: number; read_seq: number; last_seq: number }): void {
    const ch = this.channels.get(channel);
    if (!ch) return;
    Object.assign(ch, { unread: c.unread, mentions: c.mentions, read_seq: c.read_seq, last_seq: c.last_seq });
    this.emit({ kind: "counts", channel });
  }

  /** name is how a channel is shown: "#general", or a DM's people. */
  channelName(ch: { id: string; kind: string; name?: string; people?: string[] }): string {
    if (ch.kind === "public" || ch.kind === "private") return `#${ch.name ?? ch.id}`;
    const people = (ch.people ?? []).filter((u) => u !== this.me);
    if (people.length === 0) return `${this.displayName(this.me)} (you)`;
    return people.map((u) => this.displayName(u)).join(", ");
  }

  displayName(user: string): string {
    const p = this.profiles.get(user);
    if (!p) {
      this.wantProfile(user);
      return "…";
    }
    return p.display_name || p.handle;
  }

  addProfiles(ps: Record<string, Profile> | undefined): void {
    if (!ps) return;
    let changed = false;
    for (const [id, p] of Object.entries(ps)) {
      if (!this.profiles.has(id)) changed = true;
      this.profiles.set(id, p);
    }
    if (changed) this.emit({ kind: "profiles" });
  }

  /** wantProfile loads unknown profiles in one batched request. */
  wantProfile(user: string): void {
    if (!user || this.profiles.has(user) || !this.workspace) return;
    this.pendingProfiles.add(user);
    if (this.profileTimer) return;
    this.profileTimer = window.setTimeout(async () => {
      this.profileTimer = 0;
      const ids = [...this.pendingProfiles].slice(0, 500);
      ids.forEach((id) => this.pendingProfiles.delete(id));
      try {
        const r = await this.chat.profiles(this.workspace, ids);
        const ps: Record<string, Profile> = {};
        for (const [id, v] of Object.entries(r)) ps[id] = v.profile;
        this.addProfiles(ps);
      } catch { /* shown as … until a message names them */ }
    }, 20);
  }

  /** watchPresence follows a person's presence while anything shows it. */
  watchPresence(user: string): void {
    if (user === this.me) {
      this.presence.set(user, "online");
      return;
    }
    if (this.presenceSubs.has(user)) return;
    this.presenceSubs.set(user, this.chat.subscribePresence(user, (p) => {
      this.presence.set(user, p.status);
      this.emit({ kind: "presence", user, status: p.status });
    }).catch(() => null));
  }

  /** totals of the current workspace, for the switcher. */
  unreadTotal(): number {
    let n = 0;
    for (const c of this.channels.values()) n += c.unread > 0 ? 1 : 0;
    return n;
  }
}

/** initials of a name, for avatars. */
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return "?";
  const s = parts.length === 1 ? parts[0].slice(0, 2) : parts[0][0] + parts[parts.length - 1][0];
  return s.toUpperCase();
}

/** hue is a stable colour for a user id. */
export function hue(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) % 360;
  return h;
}
