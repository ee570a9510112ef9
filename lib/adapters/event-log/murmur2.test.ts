import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { murmur2, partitionOfKey } from "./murmur2";

const require = createRequire(import.meta.url);
const reference = require("kafkajs/src/producer/partitioners/default/murmur2") as (key: Buffer | string) => number;

describe("murmur2", () => {
  it("equals kafkajs' DefaultPartitioner hash on every key length and on random bytes", () => {
    const keys: Buffer[] = [Buffer.alloc(0)];
    for (let len = 1; len <= 40; len++) for (let n = 0; n < 25; n++) keys.push(randomBytes(len));
    for (const text of ["user-1", "b1x2y-99999", "ü🙂 Straße", "kill-rebalance-d1006451-78"]) keys.push(Buffer.from(text));
    for (const key of keys) expect([key.toString("hex"), murmur2(key)]).toEqual([key.toString("hex"), reference(key)]);
  });

  it("matches Kafka's published vectors for the Java client", () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    expect(murmur2(Buffer.from("21"))).toBe(-973932308);
    expect(murmur2(Buffer.from("foobar"))).toBe(-790332482);
    expect(murmur2(Buffer.from("a-little-bit-long-string"))).toBe(-985981536);
    expect(murmur2(Buffer.from("a-little-bit-longer-string"))).toBe(-1486304829);
    expect(murmur2(Buffer.from("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"))).toBe(-58897971);
  });

  it("maps a key to a partition like the DefaultPartitioner", () => {
    for (let i = 0; i < 500; i++) {
      const key = `user-${i}`;
      expect(partitionOfKey(key, 12)).toBe((reference(key) & 0x7fffffff) % 12);
    }
  });
});
