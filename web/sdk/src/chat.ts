// Team messaging: typed methods over the chat protocol (docs/protocol.md,
// "Team messaging") and helpers that turn channel stream events, pushes and
// presence into typed updates. Depends only on the Conn interface.
import { ParleyError, type Conn, type Push, type RequestOptions, type StreamEvent, type SubscribeOptions, type Subscription } from "./types.js";

// ---- objects ----

export type Role = "owner" | "admin" | "member" | "guest";
export type ChannelKind = "public" | "private" | "dm" | "group";

export interface Profile {
  handle: string;
  display_name: string;
  avatar_url?: string;
}

export interface Counts {
  unread: number;
  mentions: number;
  read_seq: number;
  last_seq: number;
}

export interface BootWorkspace {
  id: string;
  name: string;
  role: Role;
  unread_channels: number;
  mentions: number;
}

export interface BootChannel extends Counts {
  id: string;
  kind: ChannelKind;
  name?: string;
  topic?: string;
  archived?: boolean;
  member_count: number;
  /** A DM's other participants. */
  people?: string[];
  last_activity: string;
}

export interface Boot {
  user: string;
  profile: Profile;
  role: Role;
  /** The selected workspace ("" when the user has none). */
  workspace: string;
  workspaces: BootWorkspace[] | null;
  channels: BootChannel[] | null;
  dms: BootChannel[] | null;
  profiles: Record<string, Profile> | null;
  cursor: string;
}

export interface SyncChannel extends Counts {
  id: string;
  workspace: string;
  new_messages: number;
  new_mentions: number;
  last_activity: string;
}

export interface SyncResult {
  cursor: string;
  channels?: SyncChannel[];
  joined?: BootChannel[];
  left?: string[];
  workspaces_joined?: string[];
  workspaces_left?: string[];
  workspaces_changed?: string[];
  mentions?: { channel: string; id: string; seq: number }[];
  more_mentions?: boolean;
}

export interface Channel {
  id: string;
  workspace: string;
  kind: ChannelKind;
  name?: string;
  topic?: string;
  purpose?: string;
  archived?: boolean;
  member_count: number;
  created_by?: string;
  created_at: string;
  last_seq: number;
  top_level_messages: number;
  member?: boolean;
  counts?: Counts;
}

export interface Attachment {
  id: string;
  name: string;
  size: number;
  content_type: string;
}

export interface ReactionCount {
  emoji: string;
  count: number;
  users: string[];
}

export interface Message {
  channel: string;
  id: string;
  seq: number;
  top?: number;
  thread?: string;
  author: string;
  text: string;
  mentions?: string[];
  attachments?: Attachment[];
  created_at: string;
  edited_at?: string;
  deleted?: boolean;
  pinned?: boolean;
  reply_count?: number;
  last_reply_at?: string;
  reactions?: ReactionCount[];
}

export interface History {
  messages: Message[] | null;
  more_before: boolean;
  more_after: boolean;
}

export interface PostResult {
  channel: string;
  id: string;
  seq: number;
  duplicate: boolean;
}

export interface Changed {
  changed: boolean;
  seq?: number;
}

export interface Invite {
  invite: string;
  code: string;
  link: string;
  expires_at: string;
}

export interface Member {
  user: string;
  role?: Role;
  profile: Profile;
  bot?: boolean;
  guest?: boolean;
  joined_at?: string;
}

export interface SearchHit {
  message: Message;
  /** The matched text; matches are wrapped in U+0002 ... U+0003. */
  snippet: string;
}

export interface SearchResult {
  hits: SearchHit[] | null;
  has_more: boolean;
}

export interface AutocompleteUser {
  user: string;
  profile: Profile;
  bot?: boolean;
  in_channel?: boolean;
}

export interface MentionItem {
  workspace: string;
  channel: string;
  id: string;
  seq: number;
  thread?: string;
  by: string;
  kind: "user" | "channel" | "here";
  at: string;
  text: string;
}

export interface Upload {
  id: string;
  workspace: string;
  channel: string;
  user: string;
  name: string;
  size: number;
  content_type: string;
  sha256: string;
  created_at: string;
}

export type PresenceStatus = "online" | "away" | "offline";

export interface Presence {
  user: string;
  status: PresenceStatus;
  last_seen?: string;
}

// ---- pushes ----

export interface CountsPush extends Counts {
  workspace: string;
  channel: string;
}

export interface MentionPush {
  workspace: string;
  channel: string;
  id: string;
  seq: number;
  thread?: string;
  by: string;
  kind: "user" | "channel" | "here";
}

export interface ThreadReplyPush {
  channel: string;
  thread: string;
  id: string;
  seq: number;
  by: string;
}

export interface MembershipPush {
  workspace: string;
  channel?: string;
  by?: string;
}

// ---- channel stream updates ----

/** ChannelUpdate is one channel stream event, typed. */
export type ChannelUpdate =
  | { type: "message"; message: Message; users?: Record<string, Profile>; event: StreamEvent }
  | { type: "edited"; id: string; text: string; mentions?: string[]; users?: Record<string, Profile>; at: string; event: StreamEvent }
  | { type: "deleted"; id: string; thread?: string; event: StreamEvent }
  | { type: "reaction"; id: string; emoji: string; user: string; added: boolean; event: StreamEvent }
  | { type: "pin"; id: string; pinned: boolean; event: StreamEvent }
  | { type: "typing"; user: string; thread?: string; expiresMs: number; event: StreamEvent }
  | { type: "member"; user: string; joined: boolean; event: StreamEvent }
  | { type: "channel"; event: StreamEvent };

/** toChannelUpdate types a channel stream event. */
export function toChannelUpdate(e: StreamEvent): ChannelUpdate {
  const d = e.data ?? {};
  switch (e.event) {
    case "message.posted": {
      const m: Message = {
        channel: e.stream.replace(/^channel:/, ""), id: d.id, seq: e.seq ?? 0, author: e.actor ?? "",
        text: d.text ?? "", created_at: e.time,
      };
      if (d.top) m.top = d.top;
      if (d.thread) m.thread = d.thread;
      if (d.mentions) m.mentions = d.mentions;
      if (d.attachments) m.attachments = d.attachments;
      return { type: "message", message: m, users: d.users, event: e };
    }
    case "message.edited":
      return { type: "edited", id: d.id, text: d.text ?? "", mentions: d.mentions, users: d.users, at: e.time, event: e };
    case "message.deleted":
      return { type: "deleted", id: d.id, thread: d.thread, event: e };
    case "reaction.added":
    case "reaction.removed":
      return { type: "reaction", id: d.id, emoji: d.emoji, user: e.actor ?? "", added: e.event === "reaction.added", event: e };
    case "message.pinned":
    case "message.unpinned":
      return { type: "pin", id: d.id, pinned: e.event === "message.pinned", event: e };
    case "typing":
      return { type: "typing", user: d.user ?? e.actor ?? "", thread: d.thread || undefined, expiresMs: d.expires_ms ?? 5000, event: e };
    case "member.joined":
    case "member.left":
    case "member.removed":
      return { type: "member", user: d.user, joined: e.event === "member.joined", event: e };
    default:
      return { type: "channel", event: e };
  }
}

/** applyReaction adds or removes user's reaction on a message in place. */
export function applyReaction(m: Message, emoji: string, user: string, added: boolean): boolean {
  const rs = (m.reactions ??= []);
  let r = rs.find((x) => x.emoji === emoji);
  if (added) {
    if (r && r.users.includes(user)) return false;
    if (!r) rs.push((r = { emoji, count: 0, users: [] }));
    r.users.push(user);
    r.count++;
    return true;
  }
  if (!r || !r.users.includes(user)) return false;
  r.users = r.users.filter((u) => u !== user);
  r.count--;
  if (r.count <= 0) m.reactions = rs.filter((x) => x !== r);
  return true;
}

/** snippetParts splits a search snippet into plain and matched parts. */
export function snippetParts(snippet: string): { text: string; match: boolean }[] {
  const out: { text: string; match: boolean }[] = [];
  const re = /\u0002([^\u0003]*)\u0003/g;
  let last = 0;
  for (let m = re.exec(snippet); m; m = re.exec(snippet)) {
    if (m.index > last) out.push({ text: snippet.slice(last, m.index), match: false });
    out.push({ text: m[1], match: true });
    last = m.index + m[0].length;
  }
  if (last < snippet.length) out.push({ text: snippet.slice(last), match: false });
  return out;
}

export interface PostOptions {
  /** Reply in the thread of this root message. */
  thread?: string;
  /** Upload ids to attach. */
  attachments?: string[];
  /** Idempotency key; one is made when absent. Keep it to retry. */
  key?: string;
  /** Queue the post while offline (default true): sent once on reconnect. */
  queue?: boolean;
}

export interface HistoryOptions {
  before?: number;
  after?: number;
  around?: string;
  limit?: number;
  min_seq?: number;
}

export interface UploadOptions {
  /** Called as bytes are sent: loaded of total. The last call has
   * loaded === total. */
  onProgress?: (loaded: number, total: number) => void;
  /** Abort the upload (it rejects with code "aborted"). */
  signal?: AbortSignal;
}

/** TokenSource is what a connection offers to make authorized requests
 * itself (ParleyClient has both); uploads use it to report progress. */
interface TokenSource {
  readonly session: { access_token: string; expires_at: string } | null;
  refresh(): Promise<{ access_token: string } | null>;
}

function tokenSource(c: Conn): TokenSource | null {
  const t = c as unknown as Partial<TokenSource>;
  return "session" in (c as object) && typeof t.refresh === "function" ? (t as TokenSource) : null;
}

/** xhrUpload POSTs file with upload progress, refreshing an expired
 * access token once, like Conn.http. */
async function xhrUpload(url: string, file: Blob, tokens: TokenSource, opts: UploadOptions): Promise<Upload> {
  let token = tokens.session?.access_token;
  if (!token || Date.parse(tokens.session!.expires_at) - Date.now() < 5000) token = (await tokens.refresh())?.access_token;
  if (!token) throw new ParleyError("unauthenticated", "not signed in");
  for (let attempt = 0; ; attempt++) {
    const r = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      xhr.responseType = "text";
      xhr.upload.onprogress = (e) => opts.onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = () => {
        let body: any = null;
        try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        resolve({ status: xhr.status, body });
      };
      xhr.onerror = () => reject(new ParleyError("network", "cannot reach the server"));
      xhr.onabort = () => reject(new ParleyError("aborted", "the upload was cancelled"));
      if (opts.signal) {
        if (opts.signal.aborted) return xhr.abort();
        opts.signal.addEventListener("abort", () => xhr.abort(), { once: true });
      }
      xhr.send(file);
    });
    if (r.status >= 200 && r.status < 300) {
      opts.onProgress?.(file.size, file.size);
      return r.body as Upload;
    }
    const e = r.body?.error;
    const code = String(e?.code ?? (r.status === 404 ? "not_found" : r.status >= 500 ? "unavailable" : "internal"));
    if (code === "token_expired" && attempt === 0) {
      token = (await tokens.refresh())?.access_token;
      if (token) continue;
    }
    throw new ParleyError(code, String(e?.message ?? `HTTP ${r.status}`), {
      status: r.status, retryAfterMs: typeof e?.retry_after_ms === "number" ? e.retry_after_ms : undefined });
  }
}

/** Chat is the messaging API of one connection. */
export class Chat {
  constructor(readonly conn: Conn) {}

  private req<T>(method: string, params: Record<string, unknown>, opts?: RequestOptions): Promise<T> {
    return this.conn.request<T>(method, params, opts);
  }

  // ---- boot and sync ----

  /** boot answers the first screen: workspaces, channels, DMs, counts. */
  boot(workspace?: string): Promise<Boot> {
    return this.req("chat.boot", workspace ? { workspace } : {});
  }

  /** sync answers what changed since a cursor from boot or sync. */
  sync(cursor: string): Promise<SyncResult> {
    return this.req("chat.sync", { cursor });
  }

  // ---- workspaces ----

  createWorkspace(name: string): Promise<{ workspace: { id: string; name: string }; general: string }> {
    return this.req("chat.workspace.create", { name });
  }

  renameWorkspace(workspace: string, name: string): Promise<{}> {
    return this.req("chat.workspace.rename", { workspace, name });
  }

  /** joinWorkspace joins with an invite code (or a /join/<code> link). */
  joinWorkspace(code: string): Promise<{ workspace: { id: string; name: string }; role: Role }> {
    const c = code.trim().replace(/^.*\/join\//, "");
    return this.req("chat.workspace.join", { code: c });
  }

  leaveWorkspace(workspace: string): Promise<{}> {
    return this.req("chat.workspace.leave", { workspace });
  }

  createInvite(workspace: string, opts: { role?: Role; email?: string; max_uses?: number; ttl_seconds?: number; channels?: string[] } = {}): Promise<Invite> {
    return this.req("chat.invite.create", { workspace, ...opts });
  }

  revokeInvite(workspace: string, invite: string): Promise<{}> {
    return this.req("chat.invite.revoke", { workspace, invite });
  }

  /** members lists a workspace's or a channel's members by handle. */
  async members(where: { workspace: string } | { channel: string }, opts: { after?: string; limit?: number } = {}): Promise<Member[]> {
    const r = await this.req<{ members: Member[] | null }>("chat.members", { ...where, ...opts });
    return r.members ?? [];
  }

  // ---- channels ----

  /** directory lists a workspace's public channels by name. */
  async directory(workspace: string, opts: { after?: string; limit?: number } = {}): Promise<Channel[]> {
    const r = await this.req<{ channels: Channel[] | null }>("chat.channels", { workspace, ...opts });
    return r.channels ?? [];
  }

  /** channel answers one channel's details (and the caller's counts). */
  channel(channel: string): Promise<Channel> {
    return this.conn.http("GET", `/v1/chat/channels/${encodeURIComponent(channel)}`);
  }

  createChannel(workspace: string, name: string, opts: { private?: boolean; topic?: string; purpose?: string; users?: string[] } = {}): Promise<Channel> {
    return this.req("chat.channel.create", { workspace, name, ...opts });
  }

  joinChannel(channel: string): Promise<{}> {
    return this.req("chat.channel.join", { channel });
  }

  leaveChannel(channel: string): Promise<{}> {
    return this.req("chat.channel.leave", { channel });
  }

  renameChannel(channel: string, name: string): Promise<{}> {
    return this.req("chat.channel.rename", { channel, name });
  }

  updateChannel(channel: string, opts: { topic?: string; purpose?: string }): Promise<{}> {
    return this.req("chat.channel.update", { channel, ...opts });
  }

  inviteToChannel(channel: string, users: string[]): Promise<{}> {
    return this.req("chat.channel.invite", { channel, users });
  }

  /** openDM opens (or finds) the DM or group DM with these people. */
  openDM(workspace: string, users: string[]): Promise<Channel> {
    return this.req("chat.dm.open", { workspace, users });
  }

  // ---- messages ----

  /** history pages a channel's timeline: the latest messages, or those
   * before a sequence (scrolling up), after one, or around a message. */
  history(channel: string, opts: HistoryOptions = {}): Promise<History> {
    return this.req("chat.history", { channel, ...opts });
  }

  /** thread answers a thread: its root first, then replies oldest first. */
  thread(channel: string, id: string, opts: Omit<HistoryOptions, "around"> = {}): Promise<History> {
    return this.req("chat.history", { channel, thread: id, ...opts });
  }

  /** message answers one message. */
  message(channel: string, id: string): Promise<Message> {
    return this.conn.http("GET", `/v1/chat/channels/${encodeURIComponent(channel)}/messages/${encodeURIComponent(id)}`);
  }

  /** post sends a message. It is queued while offline and sent on
   * reconnect; its idempotency key makes a retried post land once. */
  post(channel: string, text: string, opts: PostOptions = {}): Promise<PostResult> {
    const params: Record<string, unknown> = { channel, text, key: opts.key ?? this.conn.newKey() };
    if (opts.thread) params.thread = opts.thread;
    if (opts.attachments?.length) params.attachments = opts.attachments;
    return this.req("chat.post", params, { queue: opts.queue ?? true });
  }

  edit(channel: string, id: string, text: string, key?: string): Promise<Changed> {
    return this.req("chat.edit", { channel, id, text, key: key ?? this.conn.newKey() }, { queue: true });
  }

  delete(channel: string, id: string): Promise<Changed> {
    return this.req("chat.delete", { channel, id });
  }

  react(channel: string, id: string, emoji: string): Promise<Changed> {
    return this.req("chat.react", { channel, id, emoji });
  }

  unreact(channel: string, id: string, emoji: string): Promise<Changed> {
    return this.req("chat.unreact", { channel, id, emoji });
  }

  pin(channel: string, id: string): Promise<Changed> {
    return this.req("chat.pin", { channel, id });
  }

  unpin(channel: string, id: string): Promise<Changed> {
    return this.req("chat.unpin", { channel, id });
  }

  /** pins lists the channel's pinned messages, most recently pinned first. */
  async pins(channel: string): Promise<Message[]> {
    const r = await this.conn.http<{ pins: Message[] | null }>("GET", `/v1/chat/channels/${encodeURIComponent(channel)}/pins`);
    return r.pins ?? [];
  }

  followThread(channel: string, id: string, follow = true): Promise<Changed> {
    return this.req(follow ? "chat.thread.follow" : "chat.thread.unfollow", { channel, id });
  }

  /** typing tells the channel the user is typing (the server sends at most
   * one per chat.typing_interval). Never queued: stale typing is noise. */
  typing(channel: string, thread?: string): Promise<{ sent: boolean }> {
    return this.req("chat.typing", thread ? { channel, thread } : { channel });
  }

  /** markRead reads the channel up to a message, or everything. */
  markRead(channel: string, id?: string): Promise<Counts> {
    return this.req("chat.mark_read", id ? { channel, id } : { channel });
  }

  /** markUnread makes the channel unread from a message on. */
  markUnread(channel: string, id: string): Promise<Counts> {
    return this.req("chat.mark_unread", { channel, id });
  }

  // ---- queries ----

  mentions(opts: { workspace?: string; before?: string; limit?: number } = {}): Promise<{ mentions: MentionItem[] | null; next?: string }> {
    return this.req("chat.mentions", { ...opts });
  }

  /** search finds messages: words, "phrases", in:#channel, from:@handle,
   * before:/after: dates. */
  search(workspace: string, query: string, opts: { limit?: number; offset?: number } = {}): Promise<SearchResult> {
    return this.req("chat.search", { workspace, query, ...opts });
  }

  /** autocomplete completes an @mention prefix (channel members first). */
  async autocomplete(workspace: string, prefix: string, opts: { channel?: string; limit?: number } = {}): Promise<AutocompleteUser[]> {
    const r = await this.req<{ users: AutocompleteUser[] | null }>("chat.autocomplete", { workspace, prefix, ...opts });
    return r.users ?? [];
  }

  /** profiles answers the profiles of workspace members by id. */
  async profiles(workspace: string, users: string[]): Promise<Record<string, { user: string; profile: Profile; bot?: boolean }>> {
    if (users.length === 0) return {};
    const r = await this.req<{ users: Record<string, { user: string; profile: Profile; bot?: boolean }> | null }>("chat.profiles", { workspace, users });
    return r.users ?? {};
  }

  // ---- files ----

  /** upload stores a file in a channel; attach its id with post.
   * onProgress(loaded, total) follows the bytes sent: in browsers as they
   * go (XMLHttpRequest), elsewhere once the upload is done. */
  async upload(channel: string, file: Blob, name?: string, opts: UploadOptions = {}): Promise<Upload> {
    const n = name ?? (file as File).name ?? "file";
    const path = `/v1/chat/channels/${encodeURIComponent(channel)}/uploads?name=${encodeURIComponent(n)}`;
    const tokens = tokenSource(this.conn);
    if (typeof XMLHttpRequest !== "undefined" && tokens) return xhrUpload(this.conn.baseUrl + path, file, tokens, opts);
    const r = await this.conn.http<Upload>("POST", path, file);
    opts.onProgress?.(file.size, file.size);
    return r;
  }

  /** downloadPath is the API path of an upload (it needs the access token:
   * fetch it with download, or through conn.http). */
  downloadPath(id: string): string {
    return `/v1/chat/uploads/${encodeURIComponent(id)}`;
  }

  /** downloadUrl is the absolute URL of an upload. */
  downloadUrl(id: string): string {
    return this.conn.baseUrl.replace(/\/$/, "") + this.downloadPath(id);
  }

  /** download fetches an upload's bytes with the session's token. */
  async download(id: string): Promise<Blob> {
    const r = await this.conn.http<unknown>("GET", this.downloadPath(id));
    if (r instanceof Blob) return r;
    if (r instanceof ArrayBuffer) return new Blob([r]);
    if (typeof r === "string") return new Blob([r]);
    return new Blob([JSON.stringify(r)], { type: "application/json" });
  }

  // ---- live ----

  /** subscribeChannel follows a channel's stream with typed updates. */
  subscribeChannel(channel: string, handler: (u: ChannelUpdate) => void, opts?: SubscribeOptions): Promise<Subscription> {
    return this.conn.subscribe(`channel:${channel}`, (e) => handler(toChannelUpdate(e)), opts);
  }

  /** subscribeInbox follows the user's read markers (every device). */
  subscribeInbox(user: string, handler: (r: { channel: string; seq: number; top: number }) => void, opts?: SubscribeOptions): Promise<Subscription> {
    return this.conn.subscribe(`inbox:${user}`, (e) => {
      if (e.event === "read.marked") handler(e.data);
    }, opts);
  }

  /** subscribeWorkspace follows a workspace's members, channels, invites. */
  subscribeWorkspace(workspace: string, handler: (e: StreamEvent) => void, opts?: SubscribeOptions): Promise<Subscription> {
    return this.conn.subscribe(`workspace:${workspace}`, handler, opts);
  }

  /** subscribePresence follows one person's presence; the current one
   * comes at once. */
  subscribePresence(user: string, handler: (p: Presence) => void): Promise<Subscription> {
    return this.conn.subscribe(`presence:${user}`, (e) => {
      if (e.event === "presence") handler({ user, ...e.data });
    });
  }

  async presence(users: string[]): Promise<Presence[]> {
    if (users.length === 0) return [];
    const r = await this.req<{ users: Presence[] | null }>("presence.get", { users });
    return r.users ?? [];
  }

  onCounts(handler: (c: CountsPush) => void): () => void {
    return this.conn.onPush("chat.counts", (p: Push) => handler(p.data));
  }

  onMention(handler: (m: MentionPush) => void): () => void {
    return this.conn.onPush("chat.mention", (p: Push) => handler(p.data));
  }

  onThreadReply(handler: (r: ThreadReplyPush) => void): () => void {
    return this.conn.onPush("chat.thread_reply", (p: Push) => handler(p.data));
  }

  /** onMembership tells of channels and workspaces added or removed. */
  onMembership(handler: (kind: "channel_added" | "channel_removed" | "workspace_added" | "workspace_removed", d: MembershipPush) => void): () => void {
    const offs = (["channel_added", "channel_removed", "workspace_added", "workspace_removed"] as const).map((k) =>
      this.conn.onPush(`chat.${k}`, (p: Push) => handler(k, p.data)));
    return () => offs.forEach((f) => f());
  }
}
