/**
 * The two realtime channels, independent of the socket library: a connection is a `Sink`.
 * Message shapes: docs/realtime.md (types in ./messages).
 */
import { CLOSE_SEGMENT_DELETED, type SegmentSnapshotMessage, type UserSnapshotMessage } from "./messages";
import { TransitionThrottle, type HubTransition, type RealtimeHub } from "./hub";

/** One open connection, as the channels see it. */
export interface Sink {
  send(message: object): void;
  close(code: number, reason: string): void;
}

export type SegmentFigures = Pick<SegmentSnapshotMessage, "segment" | "stats">;

export interface ChannelDeps {
  hub: RealtimeHub;
  /** The segment's figures now, or null when it does not exist (any more). */
  segmentFigures(segmentId: string): Promise<SegmentFigures | null>;
  /** The user's current segments (as GET /api/v1/users/{id}/segments). */
  userSegments(userId: string): Promise<UserSnapshotMessage["segments"]>;
  /** Segment names by id (unknown ids are left out). */
  segmentNames(ids: string[]): Promise<Map<string, string>>;
  now(): number;
  log: { warn(obj: object, msg: string): void };
}

export interface ChannelTimings {
  /** Segment figures are re-read this often even without transitions (backfill progress). */
  segmentPollMs: number;
  /** …and at most this often while transitions keep arriving. */
  segmentMinRefreshMs: number;
  /** A user's snapshot follows a burst of transitions once it has been quiet this long. */
  userSnapshotDebounceMs: number;
  /** Transition messages per connection per second; the rest are reported as `skipped`. */
  transitionsPerSecond: number;
}

const DEFAULT_TIMINGS: ChannelTimings = {
  segmentPollMs: 5_000,
  segmentMinRefreshMs: 1_000,
  userSnapshotDebounceMs: 500,
  transitionsPerSecond: 50,
};

const iso = (ms: number) => new Date(ms).toISOString();

/** A connection with its own rate limit for transitions. */
class Connection {
  private readonly throttle: TransitionThrottle;
  private skipTimer: NodeJS.Timeout | null = null;
  closed = false;

  constructor(
    readonly sink: Sink,
    private readonly now: () => number,
    perSecond: number,
  ) {
    this.throttle = new TransitionThrottle(perSecond);
  }

  /** Whether this connection has had a snapshot yet. */
  hasSnapshot = false;

  send(message: object) {
    if (!this.closed) this.sink.send(message);
  }

  sendSnapshot(message: object) {
    this.hasSnapshot = true;
    this.send(message);
  }

  /** Sends a transition unless the connection is over its rate; skipped ones are reported once a second. */
  sendTransition(message: object) {
    if (this.closed) return;
    if (this.throttle.admit(this.now())) {
      this.sink.send(message);
      return;
    }
    this.skipTimer ??= setTimeout(() => {
      this.skipTimer = null;
      const count = this.throttle.takeSkipped();
      if (count > 0) this.send({ type: "skipped", count, at: iso(this.now()) });
    }, 1_000);
  }

  close(code: number, reason: string) {
    if (this.closed) return;
    this.dispose();
    this.sink.close(code, reason);
  }

  dispose() {
    this.closed = true;
    if (this.skipTimer) clearTimeout(this.skipTimer);
    this.skipTimer = null;
  }
}

/**
 * One per watched segment, shared by its connections: reads the figures once for all of them,
 * sends a snapshot only when something changed, forwards transitions.
 */
class SegmentWatcher {
  readonly connections = new Set<Connection>();
  private last: { key: string; message: SegmentSnapshotMessage; readAt: number } | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private readonly poll: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  stopped = false;

  constructor(
    readonly segmentId: string,
    private readonly deps: ChannelDeps,
    private readonly timings: ChannelTimings,
    private readonly onEmpty: () => void,
  ) {
    this.unsubscribe = deps.hub.subscribeSegment(segmentId, (t) => this.onTransition(t));
    this.poll = setInterval(() => void this.refresh(), timings.segmentPollMs);
    this.poll.unref?.();
  }

  /** Adds a connection and sends it the current snapshot (fresh, or read for it). */
  async join(conn: Connection): Promise<void> {
    this.connections.add(conn);
    if (this.last && this.deps.now() - this.last.readAt < this.timings.segmentMinRefreshMs) {
      conn.sendSnapshot(this.last.message);
      return;
    }
    await this.refresh();
    // refresh() sent it if the figures changed; a connection that joined an unchanged segment
    // still needs its first snapshot.
    if (this.last && !conn.hasSnapshot) conn.sendSnapshot(this.last.message);
  }

  leave(conn: Connection) {
    this.connections.delete(conn);
    if (this.connections.size === 0) this.stop();
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.poll);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.unsubscribe();
    this.onEmpty();
  }

  private onTransition(t: HubTransition) {
    const message = {
      type: "transition" as const,
      id: t.id,
      segmentId: t.segmentId,
      userId: t.userId,
      kind: t.kind,
      at: iso(t.at),
      cause: t.cause,
      version: t.version,
    };
    for (const c of this.connections) c.sendTransition(message);
    this.scheduleRefresh();
  }

  private scheduleRefresh() {
    if (this.refreshTimer || this.stopped) return;
    const sinceLast = this.last ? this.deps.now() - this.last.readAt : Infinity;
    // Soon after the first transition (let a batch land), then at most once per interval.
    const delay = Math.max(100, this.timings.segmentMinRefreshMs - sinceLast);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, delay);
  }

  /** Reads the figures (one read at a time) and broadcasts them when they changed. */
  refresh(): Promise<void> {
    this.refreshing ??= this.read().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async read(): Promise<void> {
    if (this.stopped) return;
    let figures: SegmentFigures | null;
    try {
      figures = await this.deps.segmentFigures(this.segmentId);
    } catch (error) {
      // Keep the connections: the next poll tries again.
      this.deps.log.warn({ err: error, segmentId: this.segmentId }, "realtime: could not read segment figures");
      return;
    }
    if (this.stopped) return;
    const now = this.deps.now();
    if (!figures) {
      const gone = { type: "deleted", segmentId: this.segmentId, at: iso(now) };
      for (const c of [...this.connections]) {
        c.send(gone);
        c.close(CLOSE_SEGMENT_DELETED, "segment deleted");
      }
      this.connections.clear();
      this.stop();
      return;
    }
    const key = JSON.stringify(figures);
    const message: SegmentSnapshotMessage = { type: "snapshot", segmentId: this.segmentId, at: iso(now), ...figures };
    const changed = this.last?.key !== key;
    this.last = { key, message, readAt: now };
    for (const c of this.connections) if (changed || !c.hasSnapshot) c.sendSnapshot(message);
  }
}

/**
 * The process's realtime channels: opens connections on a segment or a user and keeps the
 * shared per-segment watchers.
 */
export class RealtimeChannels {
  private readonly watchers = new Map<string, SegmentWatcher>();
  private readonly connections = new Set<Connection>();
  private readonly timings: ChannelTimings;
  private readonly nameCache = new Map<string, { name: string; until: number }>();

  constructor(
    private readonly deps: ChannelDeps,
    timings: Partial<ChannelTimings> = {},
  ) {
    this.timings = { ...DEFAULT_TIMINGS, ...timings };
  }

  /** Opens `/ws/segments/{id}/realtime` on a sink; returns the function that closes it. */
  async openSegment(segmentId: string, sink: Sink): Promise<() => void> {
    const conn = new Connection(sink, this.deps.now, this.timings.transitionsPerSecond);
    this.connections.add(conn);
    let watcher = this.watchers.get(segmentId);
    if (!watcher || watcher.stopped) {
      watcher = new SegmentWatcher(segmentId, this.deps, this.timings, () => {
        if (this.watchers.get(segmentId) === watcher) this.watchers.delete(segmentId);
      });
      this.watchers.set(segmentId, watcher);
    }
    const w = watcher;
    const close = () => {
      conn.dispose();
      this.connections.delete(conn);
      w.leave(conn);
    };
    await w.join(conn);
    return close;
  }

  /** Opens `/ws/users/{id}/segments` on a sink; returns the function that closes it. */
  async openUser(userId: string, sink: Sink): Promise<() => void> {
    const conn = new Connection(sink, this.deps.now, this.timings.transitionsPerSecond);
    this.connections.add(conn);
    let chain = Promise.resolve();
    let debounce: NodeJS.Timeout | null = null;

    const snapshot = async () => {
      try {
        const segments = await this.deps.userSegments(userId);
        conn.send({ type: "snapshot", userId, at: iso(this.deps.now()), segments } satisfies UserSnapshotMessage);
      } catch (error) {
        this.deps.log.warn({ err: error, userId }, "realtime: could not read the user's segments");
      }
    };
    // Transitions go out in arrival order even though naming them is asynchronous.
    const unsubscribe = this.deps.hub.subscribeUser(userId, (t) => {
      chain = chain.then(async () => {
        const segmentName = await this.nameOf(t.segmentId).catch(() => null);
        conn.sendTransition({
          type: "transition",
          id: t.id,
          userId: t.userId,
          segmentId: t.segmentId,
          segmentName,
          kind: t.kind,
          at: iso(t.at),
          cause: t.cause,
          version: t.version,
        });
      });
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = null;
        chain = chain.then(snapshot);
      }, this.timings.userSnapshotDebounceMs);
    });
    const close = () => {
      conn.dispose();
      this.connections.delete(conn);
      unsubscribe();
      if (debounce) clearTimeout(debounce);
    };
    // Subscribed before the first read: a transition racing the snapshot is followed by another.
    chain = chain.then(snapshot);
    await chain;
    return close;
  }

  /** Closes every connection with `code` (1001 at shutdown). */
  closeAll(code: number, reason: string) {
    for (const c of [...this.connections]) c.close(code, reason);
    this.connections.clear();
    for (const w of [...this.watchers.values()]) w.stop();
    this.watchers.clear();
  }

  watchedSegments(): number {
    return this.watchers.size;
  }

  private async nameOf(segmentId: string): Promise<string | null> {
    const now = this.deps.now();
    const hit = this.nameCache.get(segmentId);
    if (hit && hit.until > now) return hit.name;
    const names = await this.deps.segmentNames([segmentId]);
    const name = names.get(segmentId);
    if (name === undefined) return null;
    this.nameCache.set(segmentId, { name, until: now + 5_000 });
    return name;
  }
}
