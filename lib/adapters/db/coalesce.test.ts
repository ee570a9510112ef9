import { describe, expect, it } from "vitest";
import { coalesce } from "./coalesce";

/** A statement double: records each group it is given; resolves when `release` is called. */
function statement(answer: (items: number[]) => number[] | Error = (items) => items.map((i) => i * 10)) {
  const groups: number[][] = [];
  const waiting: (() => void)[] = [];
  const run = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      groups.push(items);
      waiting.push(() => {
        const out = answer(items);
        if (out instanceof Error) reject(out);
        else resolve(out);
      });
    });
  const release = async () => {
    await new Promise((r) => setImmediate(r));
    waiting.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { run, groups, release };
}

const sqlError = (code: string) => Object.assign(new Error(`failed (${code})`), { code });

describe("coalesce", () => {
  it("runs an idle call at once, and the calls made meanwhile together, each getting its own answer", async () => {
    const s = statement();
    const call = coalesce(s.run);
    const first = call(1);
    const rest = [call(2), call(3), call(4)];
    expect(s.groups).toEqual([[1]]);
    await s.release();
    expect(await first).toBe(10);
    expect(s.groups).toEqual([[1], [2, 3, 4]]);
    await s.release();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it("keeps groups within maxBatch", async () => {
    const s = statement();
    const call = coalesce(s.run, { maxBatch: 2 });
    const all = [1, 2, 3, 4, 5].map((i) => call(i));
    for (let i = 0; i < 4; i++) await s.release();
    expect(s.groups).toEqual([[1], [2, 3], [4, 5]]);
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
  });

  it("a row the database refuses (class 22/23) fails only its caller: the group is retried row by row", async () => {
    const s = statement((items) => (items.includes(3) ? sqlError("22021") : items.map((i) => i * 10)));
    const call = coalesce(s.run);
    const first = call(1);
    const group = [call(2), call(3), call(4)].map((p) => p.then((v) => ({ v }), (e: unknown) => ({ e })));
    for (let i = 0; i < 5; i++) await s.release();
    await first;
    expect(s.groups).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
    const out = await Promise.all(group);
    expect(out[0]).toEqual({ v: 20 });
    expect((out[1] as { e: Error }).e.message).toContain("22021");
    expect(out[2]).toEqual({ v: 40 });
  });

  it("any other failure (connection lost) fails the whole group, and the next calls go on", async () => {
    let down = true;
    const s = statement((items) => (down ? sqlError("08006") : items.map((i) => i * 10)));
    const call = coalesce(s.run);
    const a = call(1).catch((e: Error) => e.message);
    await s.release();
    expect(await a).toContain("08006");
    down = false;
    const b = call(2);
    await s.release();
    expect(await b).toBe(20);
    expect(s.groups).toEqual([[1], [2]]);
  });
});
