// The user's unread counts across workspaces, for the home screen and the
// document title. One chat.boot loads them (the server answers it from
// memory); chat.counts pushes keep the selected workspace's channels exact.
// Other workspaces only have totals in the boot payload, so a push from one
// of them, a membership change or a reconnect reloads the boot, at most once
// every few seconds.
import type { ParleyClient } from "../../../sdk/src/client.js";
import { Chat, type Boot, type BootChannel, type BootWorkspace, type Profile } from "../../../sdk/src/chat.js";

/** How long pushes from other workspaces wait before the boot is reloaded. */
const RELOAD_MS = 3000;

export interface UnreadChannel extends BootChannel {
  workspace: string;
}

export class Unread {
  readonly chat: Chat;
  /** The selected workspace ("" when the user has none). */
  workspace = "";
  workspaces: BootWorkspace[] = [];
  profiles: Record<string, Profile> = {};
  /** The selected workspace's channels and DMs. */
  readonly channels = new Map<string, UnreadChannel>();
  /** Whether the first boot answered. */
  loaded = false;
  error: string | null = null;

  private listeners = new Set<() => void>();
  private offs: (() => void)[] = [];
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private loading: Promise<void> | null = null;
  private wasOpen = false;
  private stopped = false;

  constructor(private client: ParleyClient) {
    this.chat = new Chat(client);
    this.offs.push(
      this.chat.onCounts((c) => {
        const ch = this.channels.get(c.channel);
        if (ch) {
          ch.unread = c.unread;
          ch.mentions = c.mentions;
          ch.read_seq = c.read_seq;
          ch.last_seq = c.last_seq;
          ch.last_activity = new Date().toISOString();
          this.emit();
        } else {
          // A channel the boot did not show (another workspace, or one
          // just joined): its name and the workspace totals come with a reload.
          this.scheduleReload();
        }
      }),
      this.chat.onMembership(() => this.scheduleReload()),
      client.onState((s) => {
        if (s === "open") {
          if (this.wasOpen) this.scheduleReload(0); // back after a drop: counts may have moved
          this.wasOpen = true;
        }
      }),
    );
  }

  /** load runs chat.boot (shared by concurrent callers). */
  load(): Promise<void> {
    if (this.loading) return this.loading;
    this.loading = this.waitOpen()
      .then(() => this.chat.boot())
      .then((b) => this.apply(b))
      .catch((e) => {
        this.error = e?.message ?? String(e);
        this.emit();
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  /** waitOpen resolves once the connection is open (requests made while
   * it is down fail at once). */
  private waitOpen(): Promise<void> {
    if (this.client.state === "open") return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.client.onState((s) => {
        if (s !== "open") return;
        off();
        resolve();
      });
      this.offs.push(off);
    });
  }

  private apply(b: Boot): void {
    if (this.stopped) return;
    this.error = null;
    this.loaded = true;
    this.workspace = b.workspace;
    this.workspaces = b.workspaces ?? [];
    this.profiles = b.profiles ?? {};
    this.channels.clear();
    for (const c of [...(b.channels ?? []), ...(b.dms ?? [])]) this.channels.set(c.id, { ...c, workspace: b.workspace });
    this.emit();
  }

  private scheduleReload(ms = RELOAD_MS): void {
    if (this.stopped || this.reloadTimer) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      void this.load();
    }, ms);
  }

  /** unreadChannels lists the selected workspace's channels with unread
   * messages or mentions: mentions first, then the most recent. */
  unreadChannels(): UnreadChannel[] {
    return [...this.channels.values()]
      .filter((c) => !c.archived && (c.unread > 0 || c.mentions > 0))
      .sort((a, b) => b.mentions - a.mentions || (b.last_activity ?? "").localeCompare(a.last_activity ?? ""));
  }

  /** others lists the other workspaces with something unread. */
  others(): BootWorkspace[] {
    return this.workspaces.filter((w) => w.id !== this.workspace && (w.unread_channels > 0 || w.mentions > 0));
  }

  /** total is the number of conversations (channels and DMs) with unread
   * messages, across all workspaces: the number in the page title. */
  total(): number {
    let n = 0;
    for (const c of this.channels.values()) if (!c.archived && c.unread > 0) n++;
    for (const w of this.workspaces) if (w.id !== this.workspace) n += w.unread_channels;
    return n;
  }

  /** mentions is the number of unread mentions across all workspaces. */
  mentions(): number {
    let n = 0;
    for (const c of this.channels.values()) if (!c.archived) n += c.mentions;
    for (const w of this.workspaces) if (w.id !== this.workspace) n += w.mentions;
    return n;
  }

  /** name is how a channel is shown: "#general", or a DM's people. */
  name(c: BootChannel): string {
    if (c.kind === "dm" || c.kind === "group") {
      const names = (c.people ?? []).map((p) => this.profiles[p]?.display_name || this.profiles[p]?.handle || "someone");
      return names.length ? names.join(", ") : "Direct message";
    }
    return "#" + (c.name ?? c.id);
  }

  /** onChange calls cb after every change; returns a function that stops it. */
  onChange(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private emit(): void {
    for (const cb of [...this.listeners]) {
      try {
        cb();
      } catch (e) {
        console.error(e);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    for (const off of this.offs) off();
    this.listeners.clear();
  }
}
