// Sessions: where they are kept between page loads, and the HTTP calls of
// /v1/auth/* that make, refresh and end them.
import { ParleyError, type Session } from "./types.js";

/** KeyValueStorage is where the session is persisted; window.localStorage
 * fits, and memoryStorage() keeps it in memory only. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** memoryStorage is a KeyValueStorage that forgets everything on exit. */
export function memoryStorage(): KeyValueStorage {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
  };
}

/** defaultStorage is localStorage when the platform has a usable one. */
export function defaultStorage(): KeyValueStorage {
  try {
    const ls = (globalThis as any).localStorage as KeyValueStorage | undefined;
    if (ls) {
      ls.getItem("parley.probe");
      return ls;
    }
  } catch {
    // Storage disabled (private mode, sandboxed frame): fall through.
  }
  return memoryStorage();
}

export const SESSION_KEY = "parley.session";

export function loadSession(storage: KeyValueStorage, key = SESSION_KEY): Session | null {
  try {
    const raw = storage.getItem(key);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (!s || typeof s.access_token !== "string" || typeof s.refresh_token !== "string" || !s.user) return null;
    return s;
  } catch {
    return null;
  }
}

export function saveSession(storage: KeyValueStorage, s: Session | null, key = SESSION_KEY): void {
  try {
    if (s) storage.setItem(key, JSON.stringify(s));
    else storage.removeItem(key);
  } catch {
    // A full or disabled storage only costs the session across reloads.
  }
}

export interface SignUpParams {
  email: string;
  password: string;
  handle: string;
  display_name: string;
  phone?: string;
  avatar_url?: string;
}

export interface SignInParams {
  email: string;
  password: string;
}

/** Codes that mean the sign-in session is over: sign in again. */
export const TERMINAL_AUTH_CODES = new Set(["revoked", "token_reused", "token_invalid", "token_expired", "not_found"]);

/** errorFromResponse turns an HTTP error answer into a ParleyError. */
export async function errorFromResponse(res: Response): Promise<ParleyError> {
  let code = "internal";
  let message = `HTTP ${res.status}`;
  let retryAfterMs: number | undefined;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = String(body.error.code ?? code);
      message = String(body.error.message ?? message);
      if (typeof body.error.retry_after_ms === "number") retryAfterMs = body.error.retry_after_ms;
    }
  } catch {
    // Not JSON (a proxy's error page): keep the status.
    if (res.status === 404) code = "not_found";
    else if (res.status === 503 || res.status === 502) code = "unavailable";
  }
  return new ParleyError(code, message, { status: res.status, retryAfterMs });
}

/** postJSON POSTs body to an auth endpoint and returns the parsed answer. */
export async function postJSON<T>(
  fetchFn: typeof fetch,
  baseUrl: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetchFn(baseUrl + path, {
      method: "POST",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ParleyError("network", `cannot reach the server: ${(e as Error)?.message ?? e}`);
  }
  if (!res.ok) throw await errorFromResponse(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** toSession keeps the fields of a token response that make a Session. */
export function toSession(r: any): Session {
  return { user: r.user, access_token: r.access_token, refresh_token: r.refresh_token, expires_at: r.expires_at };
}

/** msUntilExpiry is how long the session's access token still lives. */
export function msUntilExpiry(s: Session, now = Date.now()): number {
  const t = Date.parse(s.expires_at);
  return Number.isFinite(t) ? t - now : 0;
}

/** refreshDelay is when to refresh: a fifth of the lifetime (at most a
 * minute) before the access token expires. */
export function refreshDelay(s: Session, now = Date.now()): number {
  const left = msUntilExpiry(s, now);
  return Math.max(0, left - Math.min(60000, Math.floor(left / 5)));
}
