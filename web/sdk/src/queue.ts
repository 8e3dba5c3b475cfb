// The outgoing queue: requests the caller asked to keep while offline
// ({queue: true}). They are sent in order once the connection is open again;
// each carries an idempotency key, so a request that was sent but whose
// answer was lost is applied once when it is sent again.
import type { ParleyError } from "./types.js";

export interface QueuedRequest {
  /** Order of creation; a request re-queued after a drop keeps its place. */
  readonly order: number;
  readonly method: string;
  readonly params: unknown;
  readonly timeoutMs: number;
  resolve(v: any): void;
  reject(e: ParleyError): void;
}

/** OutgoingQueue holds queued requests in order of creation. */
export class OutgoingQueue {
  private items: QueuedRequest[] = [];

  get length(): number {
    return this.items.length;
  }

  /** push adds a request, keeping the order of creation (a request put back
   * after a drop goes before the ones made later). */
  push(r: QueuedRequest): void {
    let i = this.items.length;
    while (i > 0 && this.items[i - 1].order > r.order) i--;
    this.items.splice(i, 0, r);
  }

  /** drain removes and returns every request, oldest first. */
  drain(): QueuedRequest[] {
    const out = this.items;
    this.items = [];
    return out;
  }
}
