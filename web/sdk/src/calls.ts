// Team calls: call.start / call.decline, the ring pushes, and CallWatch,
// which follows a call's stream (call:<id>) into a CallState. Joining a
// call is joining its audio: joinAudio(conn, call) from audio.ts.
import type { Conn, Push, StreamEvent, Subscription } from "./types.js";

export interface Ring {
  call: string;
  by?: string;
  conversation?: string;
  members?: string[];
}

export interface RingEnded {
  call: string;
  reason: "answered" | "declined" | "missed" | "ended" | string;
}

export type CallStatus = "" | "active" | "ended";

export interface CallState {
  call: string;
  status: CallStatus;
  conversation?: string;
  startedBy?: string;
  startedAt?: string;
  endedAt?: string;
  endReason?: string;
  durationMs?: number;
  members: string[];
  /** Members in the call now. */
  in: Set<string>;
  ringing: Set<string>;
  declined: Set<string>;
  missed: Set<string>;
  /** Active speakers (media.speakers): user -> level 0-127. */
  speaking: Map<string, number>;
}

export type CallListener = (e: StreamEvent, state: CallState) => void;

/** callStream returns "call:<id>" for a call id with or without the prefix. */
export function callStream(call: string): string {
  return call.startsWith("call:") ? call : `call:${call}`;
}

/** Calls is the team calls API of one connection. */
export class Calls {
  readonly conn: Conn;
  constructor(conn: Conn) {
    this.conn = conn;
  }

  /** start starts a call with members (user ids; the caller is added) or in
   * a conversation ("channel:<id>"), ringing the others. */
  start(to: { members: string[] } | { conversation: string }): Promise<{ call: string; members: string[] }> {
    return this.conn.request("call.start", to);
  }

  /** decline declines a ringing call (on every device). */
  decline(call: string): Promise<{}> {
    return this.conn.request("call.decline", { call: callStream(call) });
  }

  /** onRing calls fn when a call rings this user. */
  onRing(fn: (r: Ring, p: Push) => void): () => void {
    return this.conn.onPush("call.ring", (p) => fn(p.data as Ring, p));
  }

  /** onRingEnded calls fn when a ring stops (answered or declined
   * elsewhere, missed, ended). */
  onRingEnded(fn: (r: RingEnded, p: Push) => void): () => void {
    return this.conn.onPush("call.ring_ended", (p) => fn(p.data as RingEnded, p));
  }

  /** watch follows the call's stream from its start. */
  async watch(call: string): Promise<CallWatch> {
    const w = new CallWatch(this.conn, callStream(call));
    await w.open();
    return w;
  }
}

/** CallWatch is one followed call. */
export class CallWatch {
  readonly conn: Conn;
  readonly call: string;
  state: CallState;
  private sub: Subscription | null = null;
  private listeners = new Set<CallListener>();

  constructor(conn: Conn, call: string) {
    this.conn = conn;
    this.call = call;
    this.state = emptyCall(call);
  }

  on(fn: CallListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async open(): Promise<void> {
    this.sub = await this.conn.subscribe(this.call, (e) => this.apply(e), {
      after: 0,
      onReset: () => {
        // The log was cut: start over from what remains.
        this.state = emptyCall(this.call);
      },
    });
  }

  apply(e: StreamEvent): void {
    applyCallEvent(this.state, e);
    for (const fn of this.listeners) {
      try {
        fn(e, this.state);
      } catch (err) {
        console.error(err);
      }
    }
  }

  async close(): Promise<void> {
    const sub = this.sub;
    this.sub = null;
    this.listeners.clear();
    if (sub) await sub.unsubscribe().catch(() => {});
  }
}

function emptyCall(call: string): CallState {
  return {
    call, status: "", members: [], in: new Set(), ringing: new Set(), declined: new Set(),
    missed: new Set(), speaking: new Map(),
  };
}

/** applyCallEvent folds one event of call:<id> into s (as the server's
 * call actor does). */
export function applyCallEvent(s: CallState, e: StreamEvent): void {
  const d: any = e.data ?? {};
  switch (e.event) {
    case "call.started":
      s.status = "active";
      s.conversation = d.conversation;
      s.startedBy = e.actor;
      s.startedAt = e.time;
      s.members = d.members ?? [];
      for (const u of s.members) if (u !== e.actor) s.ringing.add(u);
      break;
    case "call.joined":
      s.in.add(d.user);
      s.ringing.delete(d.user);
      s.declined.delete(d.user);
      s.missed.delete(d.user);
      break;
    case "call.declined":
      s.declined.add(d.user);
      s.ringing.delete(d.user);
      break;
    case "call.missed":
      for (const u of d.users ?? []) {
        s.missed.add(u);
        s.ringing.delete(u);
      }
      break;
    case "call.left":
      s.in.delete(d.user);
      s.speaking.delete(d.user);
      break;
    case "call.ended":
      s.status = "ended";
      s.endedAt = e.time;
      s.endReason = d.reason;
      s.durationMs = d.duration_ms;
      s.in.clear();
      s.ringing.clear();
      s.speaking.clear();
      break;
    case "media.speakers":
      s.speaking = new Map((d.speakers ?? []).map((x: { participant: string; level: number }) => [x.participant, x.level]));
      break;
  }
}
