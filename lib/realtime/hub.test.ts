import { afterEach, describe, expect, it, vi } from "vitest";
import { RealtimeHub, TransitionThrottle, type HubTransition } from "./hub";
import { RealtimeChannels, type ChannelDeps, type SegmentFigures } from "./channels";

const t = (over: Partial<HubTransition> = {}): HubTransition => ({
  id: "x",
  userId: "u1",
  segmentId: "s1",
  kind: "enter",
  at: 1_800_000_000_000,
  cause: "event",
  version: 1,
  ...over,
});

describe("RealtimeHub", () => {
  it("delivers a transition to its segment's and its user's subscribers only", () => {
    const hub = new RealtimeHub();
    const seg: HubTransition[] = [];
    const other: HubTransition[] = [];
    const user: HubTransition[] = [];
    hub.subscribeSegment("s1", (x) => seg.push(x));
    hub.subscribeSegment("s2", (x) => other.push(x));
    hub.subscribeUser("u1", (x) => user.push(x));
    hub.publish(t());
    hub.publish(t({ userId: "u2", id: "y" }));
    expect(seg.map((x) => x.id)).toEqual(["x", "y"]);
    expect(other).toEqual([]);
    expect(user.map((x) => x.id)).toEqual(["x"]);
  });

  it("forgets a segment once its last subscriber leaves, and unsubscribing twice is harmless", () => {
    const hub = new RealtimeHub();
    const a = hub.subscribeSegment("s1", () => {});
    const b = hub.subscribeSegment("s1", () => {});
    expect(hub.watchedSegments()).toEqual(["s1"]);
    a();
    a();
    expect(hub.subscriberCount().segments).toBe(1);
    b();
    expect(hub.watchedSegments()).toEqual([]);
  });

  it("a throwing listener is reported and the others still receive", () => {
    const errors: unknown[] = [];
    const hub = new RealtimeHub((e) => errors.push(e));
    const got: string[] = [];
    hub.subscribeSegment("s1", () => {
      throw new Error("boom");
    });
    hub.subscribeSegment("s1", (x) => got.push(x.id));
    hub.publish(t());
    expect(got).toEqual(["x"]);
    expect(errors).toHaveLength(1);
  });
});

describe("TransitionThrottle", () => {
  it("admits N per second and counts the rest", () => {
    const th = new TransitionThrottle(3);
    const admitted = [0, 10, 20, 30, 40].map((ms) => th.admit(1000 + ms));
    expect(admitted).toEqual([true, true, true, false, false]);
    expect(th.takeSkipped()).toBe(2);
    expect(th.takeSkipped()).toBe(0);
    expect(th.admit(2001)).toBe(true);
  });
});

describe("RealtimeChannels (segment)", () => {
  afterEach(() => vi.useRealTimers());

  function setup(figures: () => SegmentFigures | null) {
    const hub = new RealtimeHub();
    let reads = 0;
    const deps: ChannelDeps = {
      hub,
      now: () => Date.now(),
      log: { warn: () => {} },
      segmentFigures: async () => {
        reads++;
        return figures();
      },
      userSegments: async () => [],
      segmentNames: async () => new Map(),
    };
    const channels = new RealtimeChannels(deps, { segmentPollMs: 60_000, segmentMinRefreshMs: 200, transitionsPerSecond: 2 });
    return { hub, channels, reads: () => reads };
  }
  const fig = (members: number): SegmentFigures => ({
    segment: { name: "S", type: "INDEPENDENT", active: true, version: 1 },
    stats: { currentMembers: members, entriesLast24h: members, exitsLast24h: 0, evaluation: null },
  });
  const sink = () => {
    const out: { type: string; [k: string]: unknown }[] = [];
    const closed: number[] = [];
    return { out, closed, send: (m: object) => out.push(m as never), close: (code: number) => closed.push(code) };
  };

  it("sends a snapshot on connect, forwards transitions, then a snapshot only when the figures changed", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setInterval", "clearTimeout", "clearInterval", "Date"] });
    let members = 0;
    const { hub, channels, reads } = setup(() => fig(members));
    const a = sink();
    const b = sink();
    const closeA = await channels.openSegment("s1", a);
    await channels.openSegment("s1", b);
    expect(a.out.map((m) => m.type)).toEqual(["snapshot"]);
    expect(b.out.map((m) => m.type)).toEqual(["snapshot"]);
    expect(reads()).toBe(1); // the second connection got the fresh shared snapshot

    members = 1;
    hub.publish(t());
    expect(a.out.at(-1)).toMatchObject({ type: "transition", userId: "u1", kind: "enter", cause: "event" });
    await vi.advanceTimersByTimeAsync(300);
    expect(a.out.at(-1)).toMatchObject({ type: "snapshot", stats: { currentMembers: 1 } });
    const before = a.out.length;
    hub.publish(t({ id: "again" })); // figures unchanged: transition only
    await vi.advanceTimersByTimeAsync(1500);
    expect(a.out.slice(before).map((m) => m.type)).toEqual(["transition"]);

    // Rate limit: 2 per second, the rest reported as skipped.
    for (let i = 0; i < 5; i++) hub.publish(t({ id: `burst-${i}` }));
    await vi.advanceTimersByTimeAsync(1100);
    const tail = b.out.slice(-4).map((m) => m.type);
    expect(tail).toContain("skipped");
    expect(b.out.find((m) => m.type === "skipped")).toMatchObject({ count: 3 });

    closeA();
    expect(hub.subscriberCount().segments).toBe(1);
  });

  it("tells subscribers a deleted segment is gone and closes with 4404", async () => {
    let exists = true;
    const { hub, channels } = setup(() => (exists ? fig(0) : null));
    const a = sink();
    await channels.openSegment("s1", a);
    exists = false;
    hub.publish(t());
    await new Promise((r) => setTimeout(r, 400));
    expect(a.out.map((m) => m.type)).toEqual(["snapshot", "transition", "deleted"]);
    expect(a.closed).toEqual([4404]);
    expect(hub.watchedSegments()).toEqual([]);
  });
});
