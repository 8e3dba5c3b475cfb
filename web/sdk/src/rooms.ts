// Live rooms: typed methods of the room.* protocol (docs/protocol.md, "Live
// rooms"), the HTTP listings (docs/http-api.md, "Rooms"), and RoomWatch,
// which keeps a RoomState up to date from the room's stream.
import type { Conn, StreamEvent, Subscription } from "./types.js";

export type RoomStatus = "scheduled" | "live" | "ended";
export type RoomRole = "host" | "moderator" | "speaker" | "listener" | "visitor";
export type Visibility = "public" | "workspace" | "invite";

export interface StageMember {
  user: string;
  role: RoomRole;
  muted: boolean;
  locked?: boolean;
}

export interface RoomCounts {
  total: number;
  hosts: number;
  moderators: number;
  speakers: number;
  listeners: number;
  hands: number;
  interested: number;
}

export interface RoomSettings {
  slow_mode: number;
  comments_off: boolean;
  open_stage: boolean;
}

export interface You {
  role: RoomRole;
  muted: boolean;
  locked: boolean;
  hand: boolean;
  invited: boolean;
  interested: boolean;
  voted: number[];
}

export interface RoomComment {
  n: number;
  user: string;
  text: string;
  meta?: unknown;
}

export interface PinnedComment {
  n: number;
  text: string;
  author: string;
}

export interface Poll {
  poll: number;
  question: string;
  options: string[];
  totals: number[];
  votes: number;
  open: boolean;
  closes_at?: string;
  closed_at?: string;
}

export interface RoomSummary {
  room: string;
  title: string;
  host: string;
  visibility: Visibility;
  workspace?: string;
  created_at: string;
  started_at?: string;
  ended_at: string;
  end_reason: string;
  duration_seconds: number;
  unique_listeners: number;
  peak_concurrent: number;
  speakers: string[];
  comments: number;
  comments_deleted: number;
  reactions: Record<string, number>;
  reactions_total: number;
  polls: Poll[];
  interested: number;
  events: number;
}

/** RoomSnapshot is a room as room.get / room.join answer it. */
export interface RoomSnapshot {
  room: string;
  stream: string;
  seq: number;
  status: RoomStatus;
  title: string;
  description?: string;
  topics?: string[];
  visibility: Visibility;
  workspace?: string;
  host: string;
  created_at: string;
  scheduled_at?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  expires_at: string;
  end_reason?: string;
  settings: RoomSettings;
  you: You;
  stage: StageMember[];
  counts: RoomCounts;
  pinned?: PinnedComment | null;
  comments: RoomComment[];
  reactions: Record<string, number>;
  polls: Poll[];
  summary?: RoomSummary | null;
}

/** Listing is a room as the HTTP listings show it. */
export interface RoomListing {
  room: string;
  host: string;
  title: string;
  description?: string;
  topics?: string[];
  visibility: Visibility;
  workspace?: string;
  status: RoomStatus;
  created_at: string;
  scheduled_at?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  end_reason?: string;
  expires_at: string;
  participants: number;
  speakers: number;
  interested: number;
  summary?: RoomSummary | null;
  seq: number;
  updated_at: string;
}

export interface HomeEntry {
  room: string;
  via?: string;
  reason: "hosting" | "speaking" | "invited" | "workspace" | string;
  at: string;
  listing: RoomListing;
}

export interface CreateRoomParams {
  title: string;
  description?: string;
  topics?: string[];
  visibility?: Visibility;
  workspace?: string;
  /** A Date or RFC 3339 time in the future schedules the room; absent: live at once. */
  scheduled_at?: string | Date;
  open_stage?: boolean;
  key?: string;
}

export interface CreatedRoom {
  room: string;
  stream: string;
  status: RoomStatus;
  seq: number;
}

export interface Page {
  users: string[];
  next?: string;
  total: number;
}

/** ModReport is one report in a room's moderation inbox (roommod:<id>,
 * event room.reported): who reported (the event's actor) what. */
export interface ModReport {
  /** The report's number in the room. */
  report: number;
  /** The reporter. */
  by: string;
  /** The reported person (for a comment, its author). */
  user?: string;
  /** The reported comment's n, and its text when it was reported. */
  comment?: number;
  text?: string;
  reason: string;
  time: string;
  seq?: number;
}

/** BlockList is a page of the caller's block list (GET /v1/me/blocks). */
export interface BlockList {
  users: string[];
  next?: string;
}

/** The reactions a room accepts by default (rooms.reactions). */
export const DEFAULT_REACTIONS = ["👏", "❤️", "😂", "🔥", "💯", "🙌", "😮", "👍"];

/** streamOf returns the stream of a room id ("room:<id>"). */
export function roomStream(room: string): string {
  return room.startsWith("room:") ? room : `room:${room}`;
}

/** modStream returns the moderation inbox stream of a room ("roommod:<id>"). */
export function modStream(room: string): string {
  return `roommod:${roomId(room)}`;
}

/** toReport reads a room.reported event of a moderation inbox. */
export function toReport(e: StreamEvent): ModReport | null {
  if (e.event !== "room.reported") return null;
  const d: any = e.data ?? {};
  return {
    report: d.report, by: e.actor ?? "", user: d.user || undefined, comment: d.comment || undefined,
    text: d.text || undefined, reason: d.reason ?? "", time: e.time, seq: e.seq,
  };
}

/** roomId strips the "room:" prefix. */
export function roomId(room: string): string {
  return room.startsWith("room:") ? room.slice(5) : room;
}

/** Rooms is the live rooms API of one connection. */
export class Rooms {
  readonly conn: Conn;
  constructor(conn: Conn) {
    this.conn = conn;
  }

  private cmd<T = any>(method: string, room: string, params: Record<string, unknown> = {}): Promise<T> {
    return this.conn.request<T>("room." + method, { room: roomId(room), ...params });
  }

  // Listings (HTTP).

  /** list lists live (default) or upcoming rooms. */
  list(opts: { status?: "live" | "upcoming"; workspace?: string; limit?: number; cursor?: string } = {}): Promise<{ rooms: RoomListing[]; next?: string }> {
    const q = new URLSearchParams();
    if (opts.status) q.set("status", opts.status);
    if (opts.workspace) q.set("workspace", opts.workspace);
    if (opts.limit) q.set("limit", String(opts.limit));
    if (opts.cursor) q.set("cursor", opts.cursor);
    const s = q.toString();
    return this.conn.http("GET", "/v1/rooms" + (s ? "?" + s : ""));
  }

  /** home is the caller's home: rooms of followed people, guests, workspaces. */
  home(): Promise<{ rooms: HomeEntry[] }> {
    return this.conn.http("GET", "/v1/home");
  }

  /** listing returns one room's listing. */
  listing(room: string): Promise<RoomListing> {
    return this.conn.http("GET", `/v1/rooms/${encodeURIComponent(roomId(room))}`);
  }

  /** summary returns an ended room's summary. */
  summary(room: string): Promise<RoomSummary> {
    return this.conn.http("GET", `/v1/rooms/${encodeURIComponent(roomId(room))}/summary`);
  }

  // Lifecycle.

  create(p: CreateRoomParams): Promise<CreatedRoom> {
    const params: Record<string, unknown> = { ...p, key: p.key ?? this.conn.newKey() };
    if (p.scheduled_at instanceof Date) params.scheduled_at = p.scheduled_at.toISOString();
    return this.conn.request("room.create", params);
  }
  update(room: string, p: { title?: string; description?: string; topics?: string[]; scheduled_at?: string }): Promise<{ seq: number }> {
    return this.cmd("update", room, p);
  }
  start(room: string): Promise<{ seq: number }> {
    return this.cmd("start", room);
  }
  end(room: string): Promise<{ status: "ended"; summary: RoomSummary; seq?: number }> {
    return this.cmd("end", room);
  }
  get(room: string): Promise<RoomSnapshot> {
    return this.cmd("get", room);
  }
  join(room: string): Promise<RoomSnapshot> {
    return this.cmd("join", room);
  }
  leave(room: string): Promise<{}> {
    return this.cmd("leave", room);
  }
  guests(room: string, users: string[]): Promise<{ added: number }> {
    return this.cmd("guests", room, { users });
  }
  interest(room: string, interested = true): Promise<{ interested: boolean; count: number }> {
    return this.cmd("interest", room, { interested });
  }

  // Stage.

  hand(room: string, raised = true): Promise<{ raised: boolean }> {
    return this.cmd("hand", room, { raised });
  }
  hands(room: string, opts: { after?: string; limit?: number } = {}): Promise<Page> {
    return this.cmd("hands", room, opts);
  }
  audience(room: string, opts: { after?: string; limit?: number } = {}): Promise<Page> {
    return this.cmd("audience", room, opts);
  }
  invite(room: string, user: string): Promise<{}> {
    return this.cmd("invite", room, { user });
  }
  cancelInvite(room: string, user: string): Promise<{}> {
    return this.cmd("invite.cancel", room, { user });
  }
  answerInvite(room: string, accept: boolean): Promise<{}> {
    return this.cmd("invite.answer", room, { accept });
  }
  joinStage(room: string): Promise<{}> {
    return this.cmd("stage.join", room);
  }
  leaveStage(room: string): Promise<{}> {
    return this.cmd("stage.leave", room);
  }
  /** removeFromStage moves a speaker back to the audience. */
  removeFromStage(room: string, user: string): Promise<{}> {
    return this.cmd("stage.remove", room, { user });
  }
  setRole(room: string, user: string, role: "moderator" | "speaker" | "listener"): Promise<{}> {
    return this.cmd("role", room, { user, role });
  }
  /** mute mutes or unmutes oneself. */
  mute(room: string, muted: boolean): Promise<{ muted: boolean; locked: boolean }> {
    return this.cmd("mute", room, { muted });
  }
  /** muteUser mutes someone on the stage (moderators); locked keeps them
   * from unmuting themselves (false unlocks). */
  muteUser(room: string, user: string, opts: { locked?: boolean } = {}): Promise<{ muted: boolean; locked: boolean }> {
    return this.cmd("mute", room, { user, muted: true, ...opts });
  }
  kick(room: string, user: string): Promise<{}> {
    return this.cmd("kick", room, { user });
  }
  block(room: string, user: string): Promise<{}> {
    return this.cmd("block", room, { user });
  }
  unblock(room: string, user: string): Promise<{}> {
    return this.cmd("unblock", room, { user });
  }
  report(room: string, target: { comment?: number; user?: string }, reason?: string): Promise<{ report: number }> {
    return this.cmd("report", room, { ...target, reason });
  }

  /** moderation follows a room's moderation inbox (hosts and moderators
   * only: others get forbidden): every report so far (after: 0, the
   * default) then each new one, in order. onEnd is called when the server
   * ends the subscription (the caller is no longer a moderator). */
  moderation(room: string, onReport: (r: ModReport) => void, opts: { after?: number; onEnd?: (err: unknown) => void } = {}): Promise<Subscription> {
    return this.conn.subscribe(modStream(room), (e) => {
      const r = toReport(e);
      if (r) onReport(r);
    }, { after: opts.after ?? 0, onEnd: opts.onEnd });
  }

  // The caller's block list as a host (HTTP): the blocked cannot see or
  // join any of the caller's rooms.

  blocks(opts: { after?: string; limit?: number } = {}): Promise<BlockList> {
    const q = new URLSearchParams();
    if (opts.after) q.set("after", opts.after);
    if (opts.limit) q.set("limit", String(opts.limit));
    const s = q.toString();
    return this.conn.http<BlockList>("GET", "/v1/me/blocks" + (s ? "?" + s : "")).then((r) => ({ ...r, users: r?.users ?? [] }));
  }
  blockUser(user: string): Promise<void> {
    return this.conn.http("PUT", `/v1/me/blocks/${encodeURIComponent(user)}`);
  }
  unblockUser(user: string): Promise<void> {
    return this.conn.http("DELETE", `/v1/me/blocks/${encodeURIComponent(user)}`);
  }

  // Talk.

  comment(room: string, text: string, meta?: Record<string, unknown>): Promise<{ comment: number; seq: number }> {
    return this.cmd("comment", room, { text, meta, key: this.conn.newKey() });
  }
  deleteComment(room: string, comment: number): Promise<{}> {
    return this.cmd("comment.delete", room, { comment });
  }
  pin(room: string, comment: number): Promise<{}> {
    return this.cmd("comment.pin", room, { comment });
  }
  unpin(room: string): Promise<{}> {
    return this.cmd("comment.unpin", room);
  }
  settings(room: string, s: Partial<RoomSettings>): Promise<RoomSettings> {
    return this.cmd("settings", room, s);
  }
  react(room: string, emoji: string, count = 1): Promise<{}> {
    return this.cmd("react", room, { emoji, count });
  }
  openPoll(room: string, question: string, options: string[], durationSeconds?: number): Promise<{ poll: number; seq: number }> {
    return this.cmd("poll.open", room, { question, options, duration: durationSeconds });
  }
  vote(room: string, poll: number, option: number): Promise<{ poll: number; option: number }> {
    return this.cmd("poll.vote", room, { poll, option });
  }
  closePoll(room: string, poll: number): Promise<{ poll: number; totals: number[] }> {
    return this.cmd("poll.close", room, { poll });
  }

  /** watch follows a room: it joins it (join: true, the default, for a
   * live room) or only reads it, subscribes to its stream from the
   * snapshot's position and keeps watch.state up to date. */
  async watch(room: string, opts: { join?: boolean; audience?: boolean } = {}): Promise<RoomWatch> {
    const w = new RoomWatch(this, roomId(room), this.conn.user?.id ?? "");
    await w.open(opts.join ?? true, opts.audience ?? true);
    return w;
  }
}

/** RoomState is a snapshot kept current by the room's events, plus what
 * the events tell beyond the snapshot. */
export interface RoomState extends RoomSnapshot {
  /** Users with a raised hand, in queue order, as far as known (hosts and
   * moderators load the queue; everyone sees raises after joining). */
  hands: string[];
  /** Listeners present, as far as known (the first audience page, then the
   * joins and leaves). */
  listeners: string[];
  /** Users invited to speak who have not answered. */
  invited: string[];
  /** Active speakers (media.speakers): user -> level 0-127. */
  speaking: Map<string, number>;
  /** True once the caller was removed from the room. */
  removed: boolean;
}

export type RoomListener = (e: StreamEvent, state: RoomState) => void;

/** RoomWatch is one followed room. */
export class RoomWatch {
  readonly rooms: Rooms;
  readonly room: string;
  readonly me: string;
  state!: RoomState;
  private sub: Subscription | null = null;
  private listeners = new Set<RoomListener>();
  private joined = false;

  constructor(rooms: Rooms, room: string, me: string) {
    this.rooms = rooms;
    this.room = room;
    this.me = me;
  }

  /** on calls fn after each event was applied; returns a function that stops it. */
  on(fn: RoomListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async open(join: boolean, audience: boolean): Promise<void> {
    let snap: RoomSnapshot;
    if (join) {
      snap = await this.rooms.get(this.room);
      if (snap.status === "live") {
        snap = await this.rooms.join(this.room);
        this.joined = true;
      }
    } else {
      snap = await this.rooms.get(this.room);
    }
    this.state = fromSnapshot(snap);
    await this.loadLists(audience);
    this.sub = await this.rooms.conn.subscribe(roomStream(this.room), (e) => this.apply(e), {
      after: snap.seq,
      onReset: () => void this.reload(),
      onEnd: () => {
        this.state.removed = true;
        this.emit({ stream: roomStream(this.room), event: "room.removed", time: new Date().toISOString(), data: {} });
      },
    });
  }

  private async loadLists(audience: boolean): Promise<void> {
    const s = this.state;
    if (s.status !== "live") return;
    const mod = s.you.role === "host" || s.you.role === "moderator";
    if (mod) {
      try {
        s.hands = (await this.rooms.hands(this.room, { limit: 200 })).users;
      } catch {}
    }
    if (audience && s.you.role !== "visitor") {
      try {
        s.listeners = (await this.rooms.audience(this.room, { limit: 200 })).users;
      } catch {}
    }
  }

  /** reload replaces the state by a fresh snapshot (after a reset). */
  async reload(): Promise<void> {
    const snap = await this.rooms.get(this.room);
    const speaking = this.state?.speaking;
    this.state = fromSnapshot(snap);
    if (speaking) this.state.speaking = speaking;
    await this.loadLists(true);
    this.emit({ stream: roomStream(this.room), event: "room.reloaded", time: new Date().toISOString(), data: {} });
  }

  /** close unsubscribes, and leaves the room if it joined (leave: false keeps it). */
  async close(opts: { leave?: boolean } = {}): Promise<void> {
    const sub = this.sub;
    this.sub = null;
    this.listeners.clear();
    if (sub) await sub.unsubscribe().catch(() => {});
    if (this.joined && (opts.leave ?? true) && this.state.status === "live") await this.rooms.leave(this.room).catch(() => {});
  }

  /** apply applies one event of the room's stream (logged events only once,
   * in order, after the snapshot). */
  apply(e: StreamEvent): void {
    if (e.seq !== undefined) {
      if (e.seq <= this.state.seq) return;
      this.state.seq = e.seq;
    }
    applyEvent(this.state, e, this.me);
    this.emit(e);
  }

  private emit(e: StreamEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(e, this.state);
      } catch (err) {
        console.error(err);
      }
    }
  }
}

/** fromSnapshot makes a RoomState of a snapshot. */
export function fromSnapshot(snap: RoomSnapshot): RoomState {
  return {
    ...snap,
    stage: snap.stage ?? [],
    comments: snap.comments ?? [],
    reactions: snap.reactions ?? {},
    polls: snap.polls ?? [],
    you: { ...snap.you, voted: snap.you?.voted ?? [] },
    hands: [],
    listeners: [],
    invited: [],
    speaking: new Map(),
    removed: false,
  };
}

const maxComments = 200;

function remove(list: string[], u: string): void {
  const i = list.indexOf(u);
  if (i >= 0) list.splice(i, 1);
}

function setStage(s: RoomState, stage: StageMember[] | undefined, me: string): void {
  if (!stage) return;
  s.stage = stage;
  for (const m of stage) remove(s.listeners, m.user);
  const mine = stage.find((m) => m.user === me);
  if (mine) {
    s.you.role = mine.role;
    s.you.muted = mine.muted;
    s.you.locked = !!mine.locked;
  } else if (s.you.role !== "visitor" && s.you.role !== "listener") {
    s.you.role = "listener";
  }
}

/** applyEvent changes s by one event of the room's stream; me is the
 * caller's user id (for s.you). */
export function applyEvent(s: RoomState, e: StreamEvent, me: string): void {
  const d: any = e.data ?? {};
  switch (e.event) {
    case "room.updated":
      for (const k of ["title", "description", "topics", "scheduled_at", "expires_at"] as const) {
        if (d[k] !== undefined) (s as any)[k] = d[k];
      }
      break;
    case "room.started":
      s.status = "live";
      s.started_at = e.time;
      if (d.expires_at) s.expires_at = d.expires_at;
      setStage(s, d.stage, me);
      break;
    case "room.ended":
      s.status = "ended";
      s.ended_at = e.time;
      s.end_reason = d.reason;
      s.summary = d.summary ?? null;
      s.stage = [];
      s.speaking.clear();
      for (const p of s.polls) p.open = false;
      break;
    case "room.participants": {
      if (typeof d.count === "number") s.counts.total = d.count;
      const onStage = new Set((d.stage ?? s.stage).map((m: StageMember) => m.user));
      for (const c of d.changes ?? []) {
        if (c.j) {
          if (!onStage.has(c.u) && !s.listeners.includes(c.u)) s.listeners.push(c.u);
        } else {
          remove(s.listeners, c.u);
          remove(s.hands, c.u);
        }
      }
      setStage(s, d.stage, me);
      break;
    }
    case "room.interest":
      if (typeof d.count === "number") s.counts.interested = d.count;
      for (const c of d.changes ?? []) if (c.u === me) s.you.interested = !!c.i;
      break;
    case "room.hand":
      s.counts.hands = d.queue ?? s.counts.hands;
      if (d.raised) {
        if (!s.hands.includes(d.user)) s.hands.push(d.user);
      } else remove(s.hands, d.user);
      if (d.user === me) s.you.hand = !!d.raised;
      break;
    case "room.invited":
      if (!s.invited.includes(d.user)) s.invited.push(d.user);
      if (d.user === me) s.you.invited = true;
      break;
    case "room.invite_cancelled":
    case "room.invite_declined":
      remove(s.invited, d.user);
      if (d.user === me) s.you.invited = false;
      break;
    case "room.speaker_added":
    case "room.speaker_removed":
    case "room.role_changed":
      remove(s.invited, d.user);
      remove(s.hands, d.user);
      if (d.user === me) {
        s.you.invited = false;
        s.you.hand = false;
        s.you.role = d.role;
      }
      setStage(s, d.stage, me);
      if (d.role === "listener" && !s.listeners.includes(d.user)) s.listeners.push(d.user);
      break;
    case "room.mute":
      setStage(s, d.stage, me);
      if (d.user === me) {
        s.you.muted = !!d.muted;
        s.you.locked = !!d.locked;
      }
      break;
    case "room.kicked":
    case "room.blocked":
      remove(s.listeners, d.user);
      remove(s.hands, d.user);
      remove(s.invited, d.user);
      setStage(s, d.stage, me);
      if (d.user === me) {
        s.removed = true;
        s.you.role = "visitor";
      }
      break;
    case "room.comment":
      s.comments.push({ n: d.n, user: e.actor ?? "", text: d.text, meta: d.meta });
      if (s.comments.length > maxComments) s.comments.splice(0, s.comments.length - maxComments);
      break;
    case "room.comment_deleted":
      s.comments = s.comments.filter((c) => c.n !== d.n);
      if (s.pinned && s.pinned.n === d.n) s.pinned = null;
      break;
    case "room.comment_pinned":
      s.pinned = { n: d.n, text: d.text, author: d.author };
      break;
    case "room.comment_unpinned":
      s.pinned = null;
      break;
    case "room.settings":
      s.settings = { slow_mode: d.slow_mode, comments_off: d.comments_off, open_stage: d.open_stage };
      break;
    case "room.reactions":
      if (d.totals) s.reactions = d.totals;
      break;
    case "room.poll_opened":
      s.polls.push({
        poll: d.poll, question: d.question, options: d.options,
        totals: d.options.map(() => 0), votes: 0, open: true, closes_at: d.closes_at,
      });
      break;
    case "room.poll_votes": {
      const p = s.polls.find((x) => x.poll === d.poll);
      if (p) {
        p.totals = d.totals;
        p.votes = (d.totals as number[]).reduce((a, b) => a + b, 0);
      }
      if ((d.voters ?? []).includes(me) && !s.you.voted.includes(d.poll)) s.you.voted.push(d.poll);
      break;
    }
    case "room.poll_closed": {
      const p = s.polls.find((x) => x.poll === d.poll);
      if (p) {
        p.open = false;
        p.totals = d.totals;
        p.votes = (d.totals as number[]).reduce((a, b) => a + b, 0);
        p.closed_at = e.time;
      }
      break;
    }
    case "room.counts":
      s.counts = { ...s.counts, ...d };
      break;
    case "media.speakers":
      s.speaking = new Map((d.speakers ?? []).map((x: { participant: string; level: number }) => [x.participant, x.level]));
      break;
  }
}
