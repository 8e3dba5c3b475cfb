// Presence: the user is away after five minutes without input, or while the
// page is hidden; active again on the next input or when the page shows.
import type { ParleyClient } from "../../../sdk/src/client.js";

export const IDLE_MS = 5 * 60 * 1000;

/** The localStorage key that overrides the idle timeout (milliseconds, at
 * least 1000), read at sign-in: tests set it to see "away" without waiting
 * five minutes. */
export const IDLE_KEY = "parley.idle_ms";

/** idleTimeout returns the idle timeout: IDLE_MS unless overridden. */
export function idleTimeout(): number {
  try {
    const v = Number(localStorage.getItem(IDLE_KEY));
    if (Number.isFinite(v) && v >= 1000) return v;
  } catch {
    // Storage disabled: the default.
  }
  return IDLE_MS;
}

/** watchPresence starts tracking; the returned function stops it. */
export function watchPresence(client: ParleyClient, idleMs = IDLE_MS): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = 0;
  const idle = () => void client.setActive(false);
  const activity = () => {
    const now = Date.now();
    if (document.visibilityState === "hidden") return;
    // Input events come in bursts: re-arm at most once a second.
    if (now - last < 1000 && timer) return;
    last = now;
    void client.setActive(true);
    if (timer) clearTimeout(timer);
    timer = setTimeout(idle, idleMs);
  };
  const visibility = () => {
    if (document.visibilityState === "hidden") {
      if (timer) clearTimeout(timer);
      timer = undefined;
      idle();
    } else {
      activity();
    }
  };
  const events = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "focus"];
  for (const e of events) window.addEventListener(e, activity, { passive: true, capture: true });
  document.addEventListener("visibilitychange", visibility);
  activity();
  return () => {
    if (timer) clearTimeout(timer);
    for (const e of events) window.removeEventListener(e, activity, { capture: true });
    document.removeEventListener("visibilitychange", visibility);
  };
}
