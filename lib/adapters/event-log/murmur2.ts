/**
 * Kafka's key partitioning (the Java client's `Utils.murmur2`, which kafkajs' DefaultPartitioner
 * reproduces with 64-bit Long arithmetic), in 32-bit integer math: the same partition for every
 * key, without allocating a few Long objects per byte quadruple of every message produced.
 * `murmur2.test.ts` compares it with kafkajs' implementation.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;

export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  const tail = length & ~3;
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of a key, as kafkajs' DefaultPartitioner (and Java's) computes it. */
export function partitionOfKey(key: string | Buffer, partitions: number): number {
  const data = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  return (murmur2(data) & 0x7fffffff) % partitions;
}
