// Core types of the Parley SDK, shared by the connection (client.ts) and the
// domain modules (chat.ts, rooms.ts, calls.ts, audio.ts). The domain modules
// depend only on the Conn interface below, never on the connection's code.

/** StreamEvent is one event of a stream as the server delivers it. Logged
 * events carry seq (per stream, from 1, no holes); ephemeral ones (typing,
 * presence, reaction ticks, speakers) have none. */
export interface StreamEvent<D = any> {
  stream: string;
  seq?: number;
  event: string;
  time: string;
  actor?: string;
  data: D;
}

/** Push is an event addressed to the user (a ring, a mention). */
export interface Push<D = any> {
  event: string;
  time: string;
  data: D;
}

/** ParleyError is every failure the SDK reports: code is the server's stable
 * error code (docs/protocol.md, "Error codes"), or one of the SDK's own:
 * "disconnected", "timeout", "network". */
export class ParleyError extends Error {
  readonly code: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  constructor(code: string, message: string, opts: { status?: number; retryAfterMs?: number } = {}) {
    super(message);
    this.name = "ParleyError";
    this.code = code;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** ConnState is where the connection is: "connecting" before the first
 * hello, "open", "reconnecting" after a drop (with backoff), "closed" after
 * close() or a terminal error (revoked, signed out). */
export type ConnState = "connecting" | "open" | "reconnecting" | "closed";

/** Session is a signed-in user's tokens, as returned by /v1/auth/*. */
export interface Session {
  user: User;
  access_token: string;
  refresh_token: string;
  /** When the access token expires (RFC 3339). */
  expires_at: string;
}

export interface User {
  id: string;
  handle: string;
  display_name: string;
  email?: string;
  avatar_url?: string;
}

/** Subscription is a live subscription to one stream. It resumes by
 * sequence after every reconnect; onReset is told when the server could not
 * replay the gap (the caller reloads the stream's state). */
export interface Subscription {
  readonly stream: string;
  /** The last sequence delivered to the handler (0 before any). */
  readonly seq: number;
  unsubscribe(): Promise<void>;
}

export interface SubscribeOptions {
  /** Deliver every event after this sequence first (history catch-up). */
  after?: number;
  /** Called when the server sends a reset for the stream. */
  onReset?: (seq: number, reason: string) => void;
  /** Called when the server ends the subscription (permission lost). */
  onEnd?: (err: ParleyError) => void;
}

export interface RequestOptions {
  /** Give up after this many milliseconds (default 15000). */
  timeoutMs?: number;
  /** Queue the request while offline and send it on reconnect, instead of
   * failing with "disconnected". Queued requests keep their order. */
  queue?: boolean;
}

/** Conn is what the domain modules need from a connection. ParleyClient
 * implements it. */
export interface Conn {
  /** The signed-in user (set once signed in). */
  readonly user: User | null;
  /** Sends a request and resolves with its result, or rejects with a
   * ParleyError. Requests of one connection are handled in order. */
  request<T = any>(method: string, params?: unknown, opts?: RequestOptions): Promise<T>;
  /** Subscribes to a stream; handler gets its events in sequence order,
   * each once, across reconnects. */
  subscribe(stream: string, handler: (e: StreamEvent) => void, opts?: SubscribeOptions): Promise<Subscription>;
  /** Calls handler for every push of the given type ("*" for all); returns
   * a function that stops it. */
  onPush(event: string, handler: (p: Push) => void): () => void;
  /** Calls the HTTP API with the session's access token (path starts with
   * /v1/). Bodies are JSON unless body is a Blob/FormData. */
  http<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** The server's base URL (http(s)://host[:port]). */
  readonly baseUrl: string;
  /** newKey returns a fresh idempotency key. */
  newKey(): string;
}
