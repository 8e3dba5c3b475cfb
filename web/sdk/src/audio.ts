// The audio helper: joins a media session ("room:<id>" or "call:<id>") over
// WebRTC with the protocol of docs/protocol.md, "Audio": media.join, the
// server's offers (the first in the join's result, later ones as
// media.offer pushes), media.answer with the offer's rev, media.candidate
// both ways, media.policy pushes, media.leave. The server always offers;
// the client only answers.
//
// The microphone goes on the section the server offers for the
// participant's own audio (publish_mid). That section is answered
// "sendonly" from the start whenever a microphone may be used, so that a
// listener promoted to the stage starts sending without a renegotiation
// (the server renegotiates only with the others): the track is attached
// while the policy allows sending and nobody muted it, and detached
// otherwise (a cooperating client stops capturing when told so).
import type { Conn, ConnState, Push, StreamEvent, Subscription } from "./types.js";
import { ParleyError } from "./types.js";

export interface MediaPolicy {
  can_send: boolean;
  muted: boolean;
  version?: number;
}

export interface Speaker {
  participant: string;
  level: number;
}

export interface AudioStats {
  session: string;
  participant: string;
  connection: string;
  policy: MediaPolicy;
  muted: boolean;
  sending: boolean;
  inbound: { track: string; mid: string | null; packetsReceived: number; bytesReceived: number; packetsLost: number; jitter: number; totalAudioEnergy: number }[];
  outbound: { mid: string | null; packetsSent: number; bytesSent: number }[];
  errors: string[];
}

/** EventSource gives the session stream's events to the helper when the
 * caller already follows that stream (RoomWatch, CallWatch): a connection
 * subscribes to a stream once. */
export interface EventSource {
  on(fn: (e: StreamEvent) => void): () => void;
}

export interface JoinAudioOptions {
  /** true: ask for the microphone (getUserMedia) when the policy first
   * allows sending; a MediaStream: use its first audio track; false or
   * absent: only listen. */
  microphone?: boolean | MediaStream;
  /** The RTCPeerConnection constructor (defaults to the global one). */
  RTCPeerConnection?: typeof RTCPeerConnection;
  /** Where media.speakers events come from; without it, onSpeakers
   * subscribes to the session's stream itself. */
  events?: EventSource;
  /** Play remote audio through <audio> elements (default: when a document
   * exists). */
  play?: boolean;
  /** getUserMedia replacement (tests, device pickers). */
  getUserMedia?: (c: MediaStreamConstraints) => Promise<MediaStream>;
}

export interface AudioSession {
  readonly session: string;
  readonly participant: string;
  /** The policy the server applies (can_send, muted by a moderator or by
   * one's own room.mute). */
  readonly policy: MediaPolicy;
  /** Muted here (the microphone is detached). */
  readonly muted: boolean;
  /** True while the microphone is attached and sending. */
  readonly sending: boolean;
  /** mute detaches (true) or attaches (false) the microphone locally. In a
   * room, also call Rooms.mute so that the stage shows it. */
  mute(muted: boolean): Promise<void>;
  /** leave leaves the session (media.leave) and releases everything. */
  leave(): Promise<void>;
  /** close releases everything here without telling the server: for a
   * session whose participant the server already dropped (the connection
   * closed). */
  close(): void;
  /** onSpeakers calls fn with the active speakers (loudest first) when they
   * change; returns a function that stops it. */
  onSpeakers(fn: (speakers: Speaker[]) => void): () => void;
  onPolicy(fn: (p: MediaPolicy) => void): () => void;
  /** onClosed is told when the server removed the participant
   * (media.closed: replaced, connect_failed, session_ended...) or the
   * connection failed. */
  onClosed(fn: (reason: string) => void): () => void;
  /** stats summarises the RTP statistics of the peer connection. */
  stats(): Promise<AudioStats>;
  readonly pc: RTCPeerConnection;
}

interface JoinResult {
  session: string;
  participant: string;
  offer: { rev: number; sdp: string };
  policy: MediaPolicy;
  publish_mid: string;
  ice_servers: RTCIceServer[];
}

const active = new Set<AudioSession>();

/** activeAudio lists the audio sessions joined in this page. */
export function activeAudio(): AudioSession[] {
  return [...active];
}

if (typeof window !== "undefined") {
  // For end-to-end tests and debugging: the statistics of every session.
  (window as any).parleyAudioStats = () => Promise.all([...active].map((a) => a.stats()));
}

/** joinAudio joins the audio of session ("room:<id>", "call:<id>"). */
export async function joinAudio(conn: Conn, session: string, opts: JoinAudioOptions = {}): Promise<AudioSession> {
  const PC = opts.RTCPeerConnection ?? (globalThis as any).RTCPeerConnection;
  if (!PC) throw new ParleyError("unavailable", "this environment has no WebRTC (RTCPeerConnection)");
  const play = opts.play ?? typeof document !== "undefined";
  const wantsMic = !!opts.microphone;
  const errors: string[] = [];

  // Pushes may arrive before media.join answers: hold them until then.
  const early: Push[] = [];
  let ready = false;
  let onPushReady: (p: Push) => void = () => {};
  const offPush = conn.onPush("*", (p) => {
    if (!p.event.startsWith("media.") || (p.data as any)?.session !== session) return;
    if (ready) onPushReady(p);
    else early.push(p);
  });

  let res: JoinResult;
  try {
    res = await conn.request<JoinResult>("media.join", { session });
  } catch (e) {
    offPush();
    throw e;
  }

  const pc: RTCPeerConnection = new PC({ iceServers: res.ice_servers ?? [], bundlePolicy: "max-bundle" });
  let policy: MediaPolicy = { ...res.policy };
  let localMuted = false;
  let closed = false;
  let mic: MediaStreamTrack | null = null;
  let micRequest: Promise<MediaStreamTrack | null> | null = null;
  let attached: MediaStreamTrack | null = null;
  const players = new Map<string, HTMLAudioElement>();
  const speakerFns = new Set<(s: Speaker[]) => void>();
  const policyFns = new Set<(p: MediaPolicy) => void>();
  const closedFns = new Set<(r: string) => void>();
  let speakersSub: Subscription | (() => void) | null = null;

  const publishTransceiver = () => pc.getTransceivers().find((t) => t.mid === res.publish_mid) ?? null;

  const getMic = (): Promise<MediaStreamTrack | null> => {
    if (mic) return Promise.resolve(mic);
    if (!wantsMic) return Promise.resolve(null);
    if (!micRequest) {
      micRequest = (async () => {
        let stream: MediaStream;
        if (opts.microphone instanceof Object && typeof (opts.microphone as MediaStream).getAudioTracks === "function") {
          stream = opts.microphone as MediaStream;
        } else {
          const gum = opts.getUserMedia ?? ((c: MediaStreamConstraints) => navigator.mediaDevices.getUserMedia(c));
          stream = await gum({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
        }
        mic = stream.getAudioTracks()[0] ?? null;
        return mic;
      })().catch((e) => {
        errors.push("microphone: " + String(e));
        micRequest = null;
        return null;
      });
    }
    return micRequest;
  };

  // syncSending attaches the microphone when it may be heard, and detaches
  // it otherwise.
  const syncSending = async () => {
    if (closed) return;
    const want = wantsMic && policy.can_send && !policy.muted && !localMuted;
    const tr = publishTransceiver();
    if (!tr) return;
    const track = want ? await getMic() : null;
    if (closed) return;
    // The state may have changed while the microphone was asked for.
    const still = wantsMic && policy.can_send && !policy.muted && !localMuted;
    const next = still ? track : null;
    if (next === attached) return;
    attached = next;
    await tr.sender.replaceTrack(next);
  };

  const answer = async (rev: number, sdp: string, first = false) => {
    await pc.setRemoteDescription({ type: "offer", sdp });
    const tr = publishTransceiver();
    if (tr && wantsMic && tr.direction !== "sendonly") tr.direction = "sendonly";
    // The microphone of a speaker goes into the first answer already.
    if (first) await syncSending();
    await pc.setLocalDescription(await pc.createAnswer());
    await conn.request("media.answer", { session, rev, sdp: pc.localDescription!.sdp });
  };

  let answered = false;
  const pendingCandidates: RTCIceCandidateInit[] = [];
  const sendCandidate = (c: RTCIceCandidateInit) =>
    conn.request("media.candidate", { session, candidate: c }).catch((e) => errors.push("candidate: " + String(e)));
  pc.onicecandidate = (e) => {
    const c: RTCIceCandidateInit = e.candidate ? e.candidate.toJSON() : { candidate: "" };
    if (answered) void sendCandidate(c);
    else pendingCandidates.push(c);
  };

  pc.ontrack = (e) => {
    if (!play) return;
    const id = e.streams[0]?.id || e.track.id;
    let a = players.get(id);
    if (!a) {
      a = document.createElement("audio");
      a.autoplay = true;
      a.dataset.participant = id;
      a.hidden = true;
      document.body.appendChild(a);
      players.set(id, a);
    }
    a.srcObject = e.streams[0] ?? new MediaStream([e.track]);
    a.play().catch(() => {});
    e.track.addEventListener("ended", () => {
      const p = players.get(id);
      if (p && p.srcObject === (e.streams[0] ?? null)) {
        p.remove();
        players.delete(id);
      }
    });
  };

  let chain: Promise<void> = Promise.resolve();
  const closeWith = (reason: string) => {
    if (closed) return;
    cleanup();
    for (const fn of closedFns) fn(reason);
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "failed") closeWith("connect_failed");
  };

  onPushReady = (p: Push) => {
    const d: any = p.data;
    switch (p.event) {
      case "media.offer":
        chain = chain.then(() => answer(d.rev, d.sdp)).catch((e) => { errors.push("answer: " + String(e)); });
        break;
      case "media.policy":
        policy = { ...d.policy };
        for (const fn of policyFns) fn(policy);
        chain = chain.then(syncSending).catch((e) => { errors.push("policy: " + String(e)); });
        break;
      case "media.closed":
        closeWith(d.reason ?? "closed");
        break;
    }
  };

  const cleanup = () => {
    closed = true;
    active.delete(api);
    offPush();
    if (typeof speakersSub === "function") speakersSub();
    else if (speakersSub) void speakersSub.unsubscribe().catch(() => {});
    speakersSub = null;
    for (const a of players.values()) {
      a.srcObject = null;
      a.remove();
    }
    players.clear();
    if (mic && !(opts.microphone instanceof Object)) mic.stop();
    try {
      pc.close();
    } catch {}
  };

  const api: AudioSession = {
    session,
    participant: res.participant,
    pc,
    get policy() {
      return policy;
    },
    get muted() {
      return localMuted;
    },
    get sending() {
      return attached !== null;
    },
    async mute(m: boolean) {
      localMuted = m;
      chain = chain.then(syncSending).catch((e) => { errors.push("mute: " + String(e)); });
      await chain;
    },
    async leave() {
      if (closed) return;
      cleanup();
      await conn.request("media.leave", { session }).catch(() => {});
    },
    close() {
      if (!closed) cleanup();
    },
    onSpeakers(fn) {
      speakerFns.add(fn);
      if (!speakersSub && !closed) {
        const handler = (e: StreamEvent) => {
          if (e.event !== "media.speakers") return;
          const list: Speaker[] = e.data?.speakers ?? [];
          for (const f of speakerFns) f(list);
        };
        if (opts.events) speakersSub = opts.events.on(handler);
        else {
          speakersSub = () => {};
          conn.subscribe(session, handler).then(
            (s) => {
              if (closed) void s.unsubscribe();
              else speakersSub = s;
            },
            (e) => errors.push("speakers: " + String(e)),
          );
        }
      }
      return () => speakerFns.delete(fn);
    },
    onPolicy(fn) {
      policyFns.add(fn);
      return () => policyFns.delete(fn);
    },
    onClosed(fn) {
      closedFns.add(fn);
      return () => closedFns.delete(fn);
    },
    async stats() {
      const out: AudioStats = {
        session, participant: res.participant, connection: pc.connectionState, policy, muted: localMuted,
        sending: attached !== null, inbound: [], outbound: [], errors: [...errors],
      };
      if (closed) return out;
      const report = await pc.getStats();
      report.forEach((r: any) => {
        if (r.type === "inbound-rtp" && r.kind === "audio") {
          out.inbound.push({
            track: r.trackIdentifier ?? "", mid: r.mid ?? null, packetsReceived: r.packetsReceived ?? 0,
            bytesReceived: r.bytesReceived ?? 0, packetsLost: r.packetsLost ?? 0, jitter: r.jitter ?? 0,
            totalAudioEnergy: r.totalAudioEnergy ?? 0,
          });
        }
        if (r.type === "outbound-rtp" && r.kind === "audio") {
          out.outbound.push({ mid: r.mid ?? null, packetsSent: r.packetsSent ?? 0, bytesSent: r.bytesSent ?? 0 });
        }
      });
      return out;
    },
  };
  active.add(api);

  try {
    // The first offer, then the pushes that came meanwhile, in order.
    await answer(res.offer.rev, res.offer.sdp, true);
    answered = true;
    for (const c of pendingCandidates.splice(0)) void sendCandidate(c);
    ready = true;
    for (const p of early.splice(0)) onPushReady(p);
    chain = chain.then(syncSending).catch((e) => { errors.push("microphone: " + String(e)); });
  } catch (e) {
    cleanup();
    await conn.request("media.leave", { session }).catch(() => {});
    throw e;
  }
  return api;
}

/** StatefulConn is a connection that tells its state (ParleyClient). */
export interface StatefulConn extends Conn {
  readonly state: ConnState;
  onState(cb: (s: ConnState) => void): () => void;
}

/** KeptAudioState: "connected" while joined; "reconnecting" after the
 * connection dropped (the server removed the participant) until the audio is
 * joined again; "closed" after leave() or when the server ended it. */
export type KeptAudioState = "connected" | "reconnecting" | "closed";

export interface KeptAudio {
  readonly session: string;
  readonly state: KeptAudioState;
  /** The current audio session (null while reconnecting or closed). */
  readonly audio: AudioSession | null;
  /** How many times the audio was joined again. */
  readonly rejoins: number;
  /** Muted here; kept across rejoins. */
  readonly muted: boolean;
  mute(muted: boolean): Promise<void>;
  leave(): Promise<void>;
  /** onChange is told of every state change and of each new audio session
   * (subscribe again to its onPolicy/onSpeakers there). */
  onChange(fn: (state: KeptAudioState, audio: AudioSession | null) => void): () => void;
  /** onClosed is told once, with the reason, when the audio ends for good. */
  onClosed(fn: (reason: string) => void): () => void;
}

/** Errors after which joining again is pointless. */
const finalCodes = new Set(["forbidden", "not_found", "closed", "unauthenticated", "invalid_argument"]);

/** keepAudio joins the audio of session like joinAudio, and joins it again
 * by itself when the connection comes back after a drop: the server drops
 * a media participant whose connection closed. A session the server ends
 * (media.closed: session_ended, replaced, removed...) stays ended. */
export async function keepAudio(conn: StatefulConn, session: string, opts: JoinAudioOptions = {}): Promise<KeptAudio> {
  let audio: AudioSession | null = null;
  let state: KeptAudioState = "connected";
  let muted = false;
  let rejoins = 0;
  let failures = 0;
  let joining = false;
  const changeFns = new Set<(s: KeptAudioState, a: AudioSession | null) => void>();
  const closedFns = new Set<(r: string) => void>();

  const set = (s: KeptAudioState) => {
    state = s;
    for (const fn of changeFns) fn(s, audio);
  };
  const finish = (reason: string) => {
    if (state === "closed") return;
    offState();
    const a = audio;
    audio = null;
    a?.close();
    set("closed");
    for (const fn of closedFns) fn(reason);
  };
  const adopt = (a: AudioSession) => {
    audio = a;
    failures = 0;
    a.onClosed((reason) => {
      if (audio !== a) return;
      audio = null;
      // A failed transport while (or just before) the connection drops is
      // the drop itself: wait for the connection and join again.
      if (reason === "connect_failed") {
        set("reconnecting");
        void rejoin();
      } else finish(reason);
    });
  };
  const isClosed = () => state === "closed";
  const rejoin = async (): Promise<void> => {
    if (joining || state === "closed" || conn.state !== "open") return;
    joining = true;
    try {
      const a = await joinAudio(conn, session, opts);
      joining = false;
      if (isClosed()) {
        await a.leave();
        return;
      }
      if (muted) await a.mute(true);
      rejoins++;
      adopt(a);
      set("connected");
    } catch (e: any) {
      joining = false;
      if (isClosed()) return;
      if (finalCodes.has(e?.code) || ++failures >= 5) {
        finish(e?.code ?? "rejoin_failed");
        return;
      }
      // Try again shortly; a drop meanwhile retries when the connection is back.
      setTimeout(() => void rejoin(), 500 * failures);
    }
  };
  const offState = conn.onState((s) => {
    if (state === "closed") return;
    if (s === "open") {
      if (state === "reconnecting") void rejoin();
      return;
    }
    // The connection dropped: the server removes the participant.
    if (audio) {
      const a = audio;
      audio = null;
      a.close();
    }
    if (state !== "reconnecting") set("reconnecting");
  });

  try {
    adopt(await joinAudio(conn, session, opts));
  } catch (e) {
    offState();
    throw e;
  }

  return {
    session,
    get state() {
      return state;
    },
    get audio() {
      return audio;
    },
    get rejoins() {
      return rejoins;
    },
    get muted() {
      return muted;
    },
    async mute(m: boolean) {
      muted = m;
      if (audio) await audio.mute(m);
    },
    async leave() {
      if (state === "closed") return;
      const a = audio;
      audio = null;
      offState();
      state = "closed";
      for (const fn of changeFns) fn("closed", null);
      if (a) await a.leave();
      else await conn.request("media.leave", { session }).catch(() => {});
    },
    onChange(fn) {
      changeFns.add(fn);
      return () => changeFns.delete(fn);
    },
    onClosed(fn) {
      closedFns.add(fn);
      return () => closedFns.delete(fn);
    },
  };
}
