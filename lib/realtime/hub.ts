import type { TransitionCause } from "@/lib/ports/memberships";

/** A transition as the hub hands it to subscribers (from the `segment-memberships` topic). */
export interface HubTransition {
  id: string;
  userId: string;
  segmentId: string;
  kind: "enter" | "exit";
  /** Epoch milliseconds. */
  at: number;
  cause: TransitionCause;
  version: number;
}

export type HubListener = (t: HubTransition) => void;

/**
 * Fans transitions out to the subscribers of their segment and of their user. One per web
 * process; no I/O of its own (the feed in `feed.ts` publishes into it). A listener that throws
 * is reported to `onListenerError` and does not stop the others.
 */
export class RealtimeHub {
  private readonly bySegment = new Map<string, Set<HubListener>>();
  private readonly byUser = new Map<string, Set<HubListener>>();
  published = 0;

  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  subscribeSegment(segmentId: string, listener: HubListener): () => void {
    return add(this.bySegment, segmentId, listener);
  }

  subscribeUser(userId: string, listener: HubListener): () => void {
    return add(this.byUser, userId, listener);
  }

  publish(t: HubTransition): void {
    this.published++;
    this.deliver(this.bySegment.get(t.segmentId), t);
    this.deliver(this.byUser.get(t.userId), t);
  }

  /** Segments that have at least one subscriber. */
  watchedSegments(): string[] {
    return [...this.bySegment.keys()];
  }

  subscriberCount(): { segments: number; users: number } {
    let segments = 0;
    let users = 0;
    for (const s of this.bySegment.values()) segments += s.size;
    for (const s of this.byUser.values()) users += s.size;
    return { segments, users };
  }

  private deliver(listeners: Set<HubListener> | undefined, t: HubTransition) {
    if (!listeners) return;
    // A listener may unsubscribe while we walk: iterate over a copy.
    for (const l of [...listeners]) {
      try {
        l(t);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

function add(map: Map<string, Set<HubListener>>, key: string, listener: HubListener): () => void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(listener);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const current = map.get(key);
    if (!current) return;
    current.delete(listener);
    if (current.size === 0) map.delete(key);
  };
}

/**
 * Per-connection rate limit for transition messages: at most `perSecond` in each one-second
 * window; the rest are counted and reported once per window as `skipped`.
 */
export class TransitionThrottle {
  private windowStart = 0;
  private sent = 0;
  private skipped = 0;

  constructor(private readonly perSecond = 50) {}

  /** True when the transition may be sent now; false when it is counted as skipped. */
  admit(nowMs: number): boolean {
    if (nowMs - this.windowStart >= 1000) {
      this.windowStart = nowMs;
      this.sent = 0;
    }
    if (this.sent < this.perSecond) {
      this.sent++;
      return true;
    }
    this.skipped++;
    return false;
  }

  /** The count skipped since the last call, reset to zero. */
  takeSkipped(): number {
    const n = this.skipped;
    this.skipped = 0;
    return n;
  }
}
