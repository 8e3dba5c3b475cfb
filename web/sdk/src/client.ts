// ParleyClient: a signed-in user's connection to a Parley server. It signs
// in over HTTP, keeps the access token fresh, holds one WebSocket (auth,
// hello, heartbeats, requests, subscriptions, pushes), reconnects with
// full-jitter backoff and resumes every subscription by sequence, and keeps
// requests made with {queue: true} until they can be sent.
import { Backoff, type BackoffOptions } from "./backoff.js";
import {
  defaultStorage,
  errorFromResponse,
  loadSession,
  msUntilExpiry,
  postJSON,
  refreshDelay,
  saveSession,
  SESSION_KEY,
  TERMINAL_AUTH_CODES,
  toSession,
  type KeyValueStorage,
  type SignInParams,
  type SignUpParams,
} from "./auth.js";
import { OutgoingQueue, type QueuedRequest } from "./queue.js";
import {
  ParleyError,
  type Conn,
  type ConnState,
  type Push,
  type RequestOptions,
  type Session,
  type StreamEvent,
  type SubscribeOptions,
  type Subscription,
  type User,
} from "./types.js";

/** The subset of the WebSocket API the client uses (browsers' WebSocket and
 * the `ws` package both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** The server's base URL, e.g. "https://chat.example.com" (no trailing /v1). */
  baseUrl: string;
  /** WebSocket constructor; the platform's by default (Node 20: pass the `ws` package's). */
  WebSocket?: WebSocketCtor;
  /** fetch; the platform's by default. */
  fetch?: typeof fetch;
  /** Where the session is persisted (default localStorage when present, else memory). */
  storage?: KeyValueStorage;
  /** The storage key of the session (default "parley.session"). */
  storageKey?: string;
  /** Reconnect delays (full jitter; default base 500 ms, cap 30 s). */
  backoff?: BackoffOptions;
  /** Default request timeout in milliseconds (15000). */
  requestTimeoutMs?: number;
}

interface InFlight {
  method: string;
  resolve(v: any): void;
  reject(e: ParleyError): void;
  timer?: ReturnType<typeof setTimeout>;
  /** Set for queued requests: put back in the queue if the connection drops. */
  queued?: QueuedRequest;
}

interface SubState {
  stream: string;
  /** The position: the last sequence processed (or the server's position
   * at subscribe time). null until the server confirmed a position. */
  pos: number | null;
  after?: number;
  handler: (e: StreamEvent) => void;
  opts: SubscribeOptions;
  /** Waiters of subscribe() until the first confirmation. */
  ready?: { resolve(s: Subscription): void; reject(e: ParleyError): void };
  handle: Subscription;
  /** The subscribe request is in flight on the current socket. */
  sending: boolean;
}

const DEFAULT_TIMEOUT = 15000;

/** Codes the server closes with after which reconnecting does not help. */
const TERMINAL_CLOSE = new Set(["revoked", "session_replaced", "origin_forbidden"]);

export class ParleyClient implements Conn {
  readonly baseUrl: string;
  private readonly WS?: WebSocketCtor;
  private readonly fetchFn: typeof fetch;
  private readonly storage: KeyValueStorage;
  private readonly storageKey: string;
  private readonly timeoutMs: number;
  private readonly backoff: Backoff;

  private sess: Session | null;
  private st: ConnState = "closed";
  private ws: WebSocketLike | null = null;
  private wanted = false;
  private serverSession: string | null = null;
  private heartbeatMs = 25000;
  private lastRx = 0;
  private watchdog?: ReturnType<typeof setInterval>;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private refreshing: Promise<Session | null> | null = null;
  private nextId = 1;
  private order = 0;
  private inflight = new Map<number, InFlight>();
  private queue = new OutgoingQueue();
  private subs = new Map<string, SubState>();
  private pushHandlers = new Map<string, Set<(p: Push) => void>>();
  private stateHandlers = new Set<(s: ConnState) => void>();
  private sessionHandlers = new Set<(s: Session | null) => void>();
  private queueHandlers = new Set<(n: number) => void>();
  private openWaiters: { resolve(): void; reject(e: ParleyError): void }[] = [];
  private active = true;
  private lastError: ParleyError | null = null;
  private onlineListener?: () => void;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.WS = opts.WebSocket ?? ((globalThis as any).WebSocket as WebSocketCtor | undefined);
    const f = opts.fetch ?? (globalThis as any).fetch;
    this.fetchFn = f ? (f as typeof fetch).bind(globalThis) : (undefined as any);
    this.storage = opts.storage ?? defaultStorage();
    this.storageKey = opts.storageKey ?? SESSION_KEY;
    this.timeoutMs = opts.requestTimeoutMs ?? DEFAULT_TIMEOUT;
    this.backoff = new Backoff(opts.backoff);
    this.sess = loadSession(this.storage, this.storageKey);
    if (this.sess) this.scheduleRefresh();
  }

  // ---- session ----

  /** The current session, or null when signed out. */
  get session(): Session | null {
    return this.sess;
  }

  get user(): User | null {
    return this.sess?.user ?? null;
  }

  /** The connection's state. */
  get state(): ConnState {
    return this.st;
  }

  /** How many queued requests are not answered yet (queued or in flight). */
  get pending(): number {
    let n = this.queue.length;
    for (const f of this.inflight.values()) if (f.queued) n++;
    return n;
  }

  /** onSession calls cb whenever the session changes (null: signed out or revoked). */
  onSession(cb: (s: Session | null) => void): () => void {
    this.sessionHandlers.add(cb);
    return () => this.sessionHandlers.delete(cb);
  }

  /** onState calls cb whenever the connection's state changes. */
  onState(cb: (s: ConnState) => void): () => void {
    this.stateHandlers.add(cb);
    return () => this.stateHandlers.delete(cb);
  }

  /** onQueue calls cb with the pending count whenever it changes. */
  onQueue(cb: (pending: number) => void): () => void {
    this.queueHandlers.add(cb);
    return () => this.queueHandlers.delete(cb);
  }

  async signUp(p: SignUpParams): Promise<Session> {
    const r = await postJSON<any>(this.fetchFn, this.baseUrl, "/v1/auth/signup", p);
    this.setSession(toSession(r));
    return this.sess!;
  }

  async signIn(p: SignInParams): Promise<Session> {
    const r = await postJSON<any>(this.fetchFn, this.baseUrl, "/v1/auth/signin", p);
    this.setSession(toSession(r));
    return this.sess!;
  }

  /** signOut revokes the sign-in session on the server, closes the
   * connection and forgets the session (even when the server cannot be
   * reached: the tokens are dropped locally either way). */
  async signOut(): Promise<void> {
    const s = this.sess;
    this.close();
    this.setSession(null);
    if (!s) return;
    try {
      if (msUntilExpiry(s) > 5000) {
        await postJSON(this.fetchFn, this.baseUrl, "/v1/auth/logout", undefined, s.access_token);
      } else {
        await postJSON(this.fetchFn, this.baseUrl, "/v1/auth/logout", { refresh_token: s.refresh_token });
      }
    } catch (e) {
      const err = e as ParleyError;
      // Already revoked or expired: the session is over anyway.
      if (!TERMINAL_AUTH_CODES.has(err.code) && err.code !== "unauthenticated") throw err;
    }
  }

  /** refresh gets a new access token now (one refresh at a time; other tabs
   * sharing the storage are coordinated through Web Locks when present). It
   * resolves with the new session, or null when the session ended. */
  refresh(): Promise<Session | null> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<Session | null> {
    const locks = (globalThis as any).navigator?.locks;
    const run = async (): Promise<Session | null> => {
      const before = this.sess;
      if (!before) return null;
      // Another tab may have refreshed already: take its session.
      const stored = loadSession(this.storage, this.storageKey);
      if (
        stored &&
        stored.user?.id === before.user.id &&
        stored.refresh_token !== before.refresh_token &&
        msUntilExpiry(stored) > msUntilExpiry(before)
      ) {
        this.setSession(stored);
        await this.sendRefreshFrame();
        return stored;
      }
      try {
        const r = await postJSON<any>(this.fetchFn, this.baseUrl, "/v1/auth/refresh", {
          refresh_token: before.refresh_token,
        });
        if (this.sess !== before) return this.sess; // signed out meanwhile
        this.setSession(toSession(r));
        await this.sendRefreshFrame();
        return this.sess;
      } catch (e) {
        const err = e as ParleyError;
        if (TERMINAL_AUTH_CODES.has(err.code)) {
          this.endSession(err);
          return null;
        }
        // Offline or the server is down: try again soon.
        this.scheduleRefresh(5000);
        throw err;
      }
    };
    if (locks?.request) return locks.request("parley.refresh." + this.storageKey, run);
    return run();
  }

  private async sendRefreshFrame(): Promise<void> {
    if (this.st !== "open" || !this.ws || !this.sess) return;
    const id = this.nextId++;
    const p = new Promise<any>((resolve, reject) => {
      this.inflight.set(id, { method: "refresh", resolve, reject });
    });
    this.sendFrame({ type: "refresh", id, token: this.sess.access_token });
    try {
      await p;
    } catch {
      // The connection dropped: the next auth frame carries the new token.
    }
  }

  private setSession(s: Session | null): void {
    this.sess = s;
    saveSession(this.storage, s, this.storageKey);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    if (s) this.scheduleRefresh();
    for (const cb of [...this.sessionHandlers]) cb(s);
  }

  private scheduleRefresh(delay?: number): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (!this.sess) return;
    const ms = delay ?? refreshDelay(this.sess);
    // Timers above 2^31-1 ms fire at once; long sessions re-arm instead.
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      if (!this.sess) return;
      if (ms >= 2 ** 31 - 1 && refreshDelay(this.sess) > 0) return this.scheduleRefresh();
      this.refresh().catch(() => {});
    }, Math.min(ms, 2 ** 31 - 1));
    unrefTimer(this.refreshTimer);
  }

  /** endSession is the end of the sign-in session (revoked, expired). */
  private endSession(err: ParleyError): void {
    this.lastError = err;
    this.close(err);
    this.setSession(null);
  }

  /** accessToken returns a token that lives at least a few more seconds. */
  private async accessToken(): Promise<string> {
    let s = this.sess;
    if (!s) throw new ParleyError("unauthenticated", "not signed in");
    if (msUntilExpiry(s) < 5000) s = await this.refresh();
    if (!s) throw this.lastError ?? new ParleyError("revoked", "the session ended; sign in again");
    return s.access_token;
  }

  // ---- HTTP ----

  async http<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    let retried = false;
    for (;;) {
      const token = await this.accessToken();
      const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
      let payload: any = undefined;
      const isBinary =
        body !== undefined &&
        body !== null &&
        ((typeof Blob !== "undefined" && body instanceof Blob) ||
          (typeof FormData !== "undefined" && body instanceof FormData) ||
          body instanceof ArrayBuffer ||
          ArrayBuffer.isView(body));
      if (isBinary) {
        payload = body;
      } else if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(body);
      }
      let res: Response;
      try {
        res = await this.fetchFn(this.baseUrl + path, { method, headers, body: payload });
      } catch (e) {
        throw new ParleyError("network", `cannot reach the server: ${(e as Error)?.message ?? e}`);
      }
      if (res.ok) {
        if (res.status === 204) return undefined as T;
        const ct = res.headers.get("Content-Type") ?? "";
        if (ct.includes("json")) return (await res.json()) as T;
        return (await res.blob()) as unknown as T;
      }
      const err = await errorFromResponse(res);
      if (err.code === "token_expired" && !retried) {
        retried = true;
        await this.refresh();
        continue;
      }
      if (err.code === "revoked" || err.code === "token_reused") this.endSession(err);
      throw err;
    }
  }

  // ---- connection ----

  /** connect opens the live connection and resolves at the first hello. The
   * connection then stays up by itself (reconnecting after drops) until
   * close() or signOut(). It rejects when the session is refused. */
  connect(): Promise<void> {
    if (!this.sess) return Promise.reject(new ParleyError("unauthenticated", "not signed in"));
    if (!this.WS) return Promise.reject(new ParleyError("network", "no WebSocket on this platform: pass one in the options"));
    const p = new Promise<void>((resolve, reject) => {
      if (this.st === "open") return resolve();
      this.openWaiters.push({ resolve, reject });
    });
    if (!this.wanted) {
      this.wanted = true;
      this.setState("connecting");
      this.watchOnline();
      void this.open();
    }
    return p;
  }

  /** close ends the connection for good (no reconnect). Queued and in-flight
   * requests fail with "disconnected". */
  close(err?: ParleyError): void {
    this.wanted = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopWatchdog();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      try {
        ws.close(1000, "bye");
      } catch {
        // Already closing.
      }
    }
    const e = err ?? new ParleyError("disconnected", "the connection was closed");
    this.failInflight(e, false);
    for (const q of this.queue.drain()) q.reject(e);
    for (const s of this.subs.values()) if (s.ready) s.ready.reject(e);
    this.subs.clear();
    for (const w of this.openWaiters.splice(0)) w.reject(e);
    this.unwatchOnline();
    this.serverSession = null;
    this.emitQueue();
    this.setState("closed");
  }

  /** setActive tells the server whether the user is at this device (false
   * after a while without input or when the page is hidden). It is sent
   * again after every reconnect. */
  async setActive(active: boolean): Promise<void> {
    if (this.active === active) return;
    this.active = active;
    if (this.st !== "open") return; // sent at the next hello when away
    try {
      await this.request("presence.set", { status: active ? "active" : "away" });
    } catch {
      // Offline: the next hello sends it.
    }
  }

  newKey(): string {
    const c = (globalThis as any).crypto;
    if (c?.randomUUID) return c.randomUUID();
    let s = "";
    for (let i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16);
    return s;
  }

  private setState(s: ConnState): void {
    if (this.st === s) return;
    this.st = s;
    for (const cb of [...this.stateHandlers]) cb(s);
  }

  private async open(): Promise<void> {
    if (!this.wanted) return;
    let token: string;
    try {
      token = await this.accessToken();
    } catch (e) {
      const err = e as ParleyError;
      if (!this.sess) return this.close(err); // the session ended
      return this.scheduleReconnect(); // could not refresh (offline): retry
    }
    if (!this.wanted) return;
    const url = this.baseUrl.replace(/^http/, "ws") + "/v1/ws";
    let ws: WebSocketLike;
    try {
      ws = new this.WS!(url);
    } catch {
      return this.scheduleReconnect();
    }
    this.ws = ws;
    let closeCode: string | null = null;
    let reconnectIn: number | null = null;
    ws.onopen = () => {
      const resume: Record<string, number> = {};
      for (const s of this.subs.values()) if (s.pos !== null) resume[s.stream] = s.pos;
      const auth: any = { type: "auth", token };
      if (this.serverSession) auth.session = this.serverSession;
      if (Object.keys(resume).length) auth.resume = resume;
      ws.send(JSON.stringify(auth));
      this.lastRx = Date.now();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastRx = Date.now();
      let f: any;
      try {
        f = JSON.parse(typeof ev.data === "string" ? ev.data : String(ev.data));
      } catch {
        return;
      }
      if (f.type === "error") closeCode = f.code;
      else if (f.type === "reconnect") reconnectIn = typeof f.retry_ms === "number" ? f.retry_ms : 0;
      this.onFrame(f);
    };
    ws.onerror = () => {
      // onclose follows.
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopWatchdog();
      const code = closeCode ?? closeCodeName(ev.code);
      this.dropped(code, reconnectIn);
    };
  }

  private dropped(code: string | null, reconnectIn: number | null): void {
    this.failInflight(new ParleyError("disconnected", "the connection dropped"), true);
    for (const s of this.subs.values()) s.sending = false;
    if (!this.wanted) return;
    if (code && TERMINAL_CLOSE.has(code)) {
      const err = new ParleyError(code, `the server closed the connection: ${code}`);
      if (code === "revoked") return this.endSession(err);
      this.lastError = err;
      return this.close(err);
    }
    if (code === "token_expired" || code === "token_invalid" || code === "unauthenticated") {
      // The token is refreshed (or the session ends) before the next try.
      this.setState("reconnecting");
      this.refresh()
        .then((s) => {
          if (s) this.scheduleReconnect();
        })
        .catch(() => this.scheduleReconnect());
      return;
    }
    this.scheduleReconnect(reconnectIn ?? undefined);
  }

  private scheduleReconnect(delay?: number): void {
    if (!this.wanted) return;
    this.setState("reconnecting");
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const ms = delay ?? this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.open();
    }, ms);
  }

  /** reconnectNow skips the backoff wait (the network came back). */
  reconnectNow(): void {
    if (!this.wanted || this.ws || !this.reconnectTimer) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    void this.open();
  }

  private watchOnline(): void {
    const g = globalThis as any;
    if (typeof g.addEventListener !== "function" || this.onlineListener) return;
    this.onlineListener = () => this.reconnectNow();
    g.addEventListener("online", this.onlineListener);
  }

  private unwatchOnline(): void {
    const g = globalThis as any;
    if (this.onlineListener && typeof g.removeEventListener === "function") g.removeEventListener("online", this.onlineListener);
    this.onlineListener = undefined;
  }

  private failInflight(err: ParleyError, requeue: boolean): void {
    const all = [...this.inflight.entries()];
    this.inflight.clear();
    for (const [, f] of all) {
      if (f.timer) clearTimeout(f.timer);
      if (requeue && f.queued) this.queue.push(f.queued);
      else f.reject(err);
    }
    this.emitQueue();
  }

  private sendFrame(f: unknown): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(f));
      return true;
    } catch {
      return false;
    }
  }

  private onFrame(f: any): void {
    switch (f.type) {
      case "hello":
        return this.onHello(f);
      case "res": {
        const r = this.inflight.get(f.id);
        if (!r) return;
        this.inflight.delete(f.id);
        if (r.timer) clearTimeout(r.timer);
        if (f.error) {
          r.reject(
            new ParleyError(String(f.error.code ?? "internal"), String(f.error.message ?? ""), {
              retryAfterMs: f.error.retry_after_ms,
            }),
          );
        } else {
          r.resolve(f.result ?? {});
        }
        if (r.queued) this.emitQueue();
        return;
      }
      case "event":
        return this.onEvent(f as StreamEvent);
      case "reset": {
        const s = this.subs.get(f.stream);
        if (!s) return;
        s.pos = typeof f.seq === "number" ? f.seq : s.pos;
        s.opts.onReset?.(f.seq, String(f.reason ?? ""));
        return;
      }
      case "unsubscribed": {
        const s = this.subs.get(f.stream);
        if (!s) return;
        this.subs.delete(f.stream);
        const err = new ParleyError(String(f.error?.code ?? "forbidden"), String(f.error?.message ?? "unsubscribed"));
        if (s.ready) s.ready.reject(err);
        else s.opts.onEnd?.(err);
        return;
      }
      case "push": {
        const p: Push = { event: f.event, time: f.time, data: f.data };
        for (const key of [f.event, "*"]) {
          const hs = this.pushHandlers.get(key);
          if (hs) for (const h of [...hs]) safeCall(() => h(p));
        }
        return;
      }
      case "ping":
        this.sendFrame({ type: "pong" });
        return;
    }
  }

  private onHello(f: any): void {
    this.serverSession = f.session ?? null;
    if (typeof f.heartbeat_ms === "number" && f.heartbeat_ms > 0) this.heartbeatMs = f.heartbeat_ms;
    this.backoff.reset();
    this.startWatchdog();
    this.setState("open");
    // Subscriptions without a position yet (made while offline, or whose
    // subscribe was lost in a drop) subscribe now; the rest were resumed by
    // the auth frame.
    for (const s of this.subs.values()) if (s.pos === null && !s.sending) this.sendSubscribe(s);
    if (!this.active) this.request("presence.set", { status: "away" }).catch(() => {});
    for (const q of this.queue.drain()) this.sendQueued(q);
    this.emitQueue();
    for (const w of this.openWaiters.splice(0)) w.resolve();
  }

  private startWatchdog(): void {
    this.stopWatchdog();
    const every = Math.max(250, Math.floor(this.heartbeatMs / 4));
    this.watchdog = setInterval(() => {
      // A server silent for two heartbeat intervals is gone.
      if (Date.now() - this.lastRx > 2 * this.heartbeatMs && this.ws) {
        const ws = this.ws;
        this.ws = null;
        detach(ws);
        try {
          ws.close(4000, "heartbeat");
        } catch {
          // Ignore.
        }
        this.stopWatchdog();
        this.dropped(null, null);
      }
    }, every);
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private onEvent(e: StreamEvent): void {
    const s = this.subs.get(e.stream);
    if (!s) return;
    if (typeof e.seq === "number") {
      if (s.pos !== null && e.seq <= s.pos) return; // already delivered
      s.pos = e.seq;
    }
    const ev: StreamEvent = { stream: e.stream, event: e.event, time: e.time, data: e.data };
    if (typeof e.seq === "number") ev.seq = e.seq;
    if (e.actor !== undefined) ev.actor = e.actor;
    safeCall(() => s.handler(ev));
  }

  // ---- requests ----

  request<T = any>(method: string, params?: unknown, opts: RequestOptions = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    if (opts.queue) {
      let p: any = params ?? {};
      if (typeof p === "object" && !Array.isArray(p) && p.key === undefined) p = { ...p, key: this.newKey() };
      return new Promise<T>((resolve, reject) => {
        const q: QueuedRequest = { order: this.order++, method, params: p, timeoutMs, resolve, reject };
        if (this.st === "open" && this.queue.length === 0) this.sendQueued(q);
        else this.queue.push(q);
        this.emitQueue();
      });
    }
    if (this.st === "open") return this.send<T>(method, params, timeoutMs);
    if (this.st === "connecting") {
      // The first connection is on its way: wait for it (within the timeout).
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new ParleyError("timeout", `${method}: no connection`)), timeoutMs);
        this.openWaiters.push({
          resolve: () => {
            clearTimeout(timer);
            this.send<T>(method, params, timeoutMs).then(resolve, reject);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
      });
    }
    return Promise.reject(new ParleyError("disconnected", `${method}: not connected`));
  }

  private send<T>(method: string, params: unknown, timeoutMs: number, queued?: QueuedRequest): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const f: InFlight = { method, resolve, reject, queued };
      if (timeoutMs > 0) {
        f.timer = setTimeout(() => {
          if (this.inflight.get(id) !== f) return;
          this.inflight.delete(id);
          reject(new ParleyError("timeout", `${method}: no answer within ${timeoutMs} ms`));
          if (queued) this.emitQueue();
        }, timeoutMs);
      }
      this.inflight.set(id, f);
      const frame: any = { type: "req", id, method };
      if (params !== undefined) frame.params = params;
      if (!this.sendFrame(frame)) {
        // The socket is going away; onclose fails or re-queues it.
        return;
      }
    });
  }

  private sendQueued(q: QueuedRequest): void {
    this.send(q.method, q.params, q.timeoutMs, q).then(q.resolve, q.reject);
  }

  private emitQueue(): void {
    const n = this.pending;
    for (const cb of [...this.queueHandlers]) safeCall(() => cb(n));
  }

  // ---- subscriptions and pushes ----

  subscribe(stream: string, handler: (e: StreamEvent) => void, opts: SubscribeOptions = {}): Promise<Subscription> {
    if (!this.wanted) return Promise.reject(new ParleyError("disconnected", "connect() first"));
    if (this.subs.has(stream)) return Promise.reject(new ParleyError("already_exists", `already subscribed to ${stream}`));
    return new Promise<Subscription>((resolve, reject) => {
      const self = this;
      const s: SubState = {
        stream,
        pos: null,
        after: opts.after,
        handler,
        opts,
        sending: false,
        ready: { resolve, reject },
        handle: {
          stream,
          get seq() {
            return s.pos ?? 0;
          },
          unsubscribe: () => self.unsubscribe(s),
        },
      };
      this.subs.set(stream, s);
      if (this.st === "open") this.sendSubscribe(s);
    });
  }

  private sendSubscribe(s: SubState): void {
    s.sending = true;
    const params: any = { stream: s.stream };
    const after = s.pos ?? s.after;
    if (after !== undefined) params.after = after;
    this.send<any>("subscribe", params, this.timeoutMs).then(
      (r) => {
        s.sending = false;
        if (this.subs.get(s.stream) !== s) return;
        const seq = typeof r?.seq === "number" ? r.seq : 0;
        s.pos = s.pos === null ? seq : Math.max(s.pos, seq);
        const ready = s.ready;
        s.ready = undefined;
        ready?.resolve(s.handle);
      },
      (e: ParleyError) => {
        s.sending = false;
        if (this.subs.get(s.stream) !== s) return;
        if (e.code === "disconnected" || e.code === "timeout") return; // retried after the next hello
        this.subs.delete(s.stream);
        const ready = s.ready;
        s.ready = undefined;
        if (ready) ready.reject(e);
        else s.opts.onEnd?.(e);
      },
    );
  }

  private async unsubscribe(s: SubState): Promise<void> {
    if (this.subs.get(s.stream) !== s) return;
    this.subs.delete(s.stream);
    if (this.st !== "open") return; // the next auth frame will not resume it
    try {
      await this.request("unsubscribe", { stream: s.stream });
    } catch (e) {
      if ((e as ParleyError).code !== "disconnected") throw e;
    }
  }

  onPush(event: string, handler: (p: Push) => void): () => void {
    let hs = this.pushHandlers.get(event);
    if (!hs) this.pushHandlers.set(event, (hs = new Set()));
    hs.add(handler);
    return () => {
      hs!.delete(handler);
    };
  }
}

function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onerror = null;
  ws.onclose = null;
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    // A handler's bug must not break the connection; report it like an
    // uncaught error.
    setTimeout(() => {
      throw e;
    }, 0);
  }
}

function unrefTimer(t: any): void {
  if (t && typeof t.unref === "function") t.unref();
}

/** closeCodeName maps WebSocket close codes of the protocol onto error codes. */
function closeCodeName(code: number): string | null {
  switch (code) {
    case 4401:
      return "token_invalid";
    case 4402:
      return "token_expired";
    case 4403:
      return "origin_forbidden";
    case 4409:
      return "session_replaced";
    case 4433:
      return "revoked";
    default:
      return null;
  }
}
