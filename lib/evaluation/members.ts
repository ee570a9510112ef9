/**
 * A user's memberships: the slots of the segments the user is in, ascending, immutable (a
 * change builds a new list, so lists can be shared, e.g. every new user shares the rule set's
 * zero-event list). Pure.
 *
 * Packed as a string of one UTF-16 code unit per slot: 2 bytes per membership (1 byte while every
 * slot is below 256, as V8 then keeps a one-byte string) against 8 for a number array, and one
 * object instead of two. At 10,000 segments a user is in hundreds of them, so this is most of a
 * user's memory. Code units skip the surrogate block (0xD800–0xDFFF) so that a list can be built
 * by a UTF-16 decoder without replacement characters; that leaves slots 0 … MAX_PACKED_SLOT. A
 * list with a larger slot (an installation that has created over 63,000 segments) is a plain
 * number array instead; every function here takes both.
 */
export type Members = string | readonly number[];

export const NO_MEMBERS: Members = "";
export const MAX_PACKED_SLOT = 0xffff - 0x800;

const SURROGATES = 0xd800;
const codeOf = (slot: number) => (slot < SURROGATES ? slot : slot + 0x800);
const slotOfCode = (code: number) => (code < SURROGATES ? code : code - 0x800);

/** The i-th slot (ascending). */
export function memberAt(m: Members, i: number): number {
  return typeof m === "string" ? slotOfCode(m.charCodeAt(i)) : m[i]!;
}

/** Whether `slot` is in the list (binary search). */
export function hasMember(m: Members, slot: number): boolean {
  let lo = 0;
  let hi = m.length;
  if (typeof m === "string") {
    const code = codeOf(slot);
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const v = m.charCodeAt(mid);
      if (v === code) return true;
      if (v < code) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const v = m[mid]!;
    if (v === slot) return true;
    if (v < slot) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

/** The slots as a new number array. */
export function membersToArray(m: Members): number[] {
  const out = new Array<number>(m.length);
  for (let i = 0; i < m.length; i++) out[i] = memberAt(m, i);
  return out;
}

let codes = new Uint16Array(256);
const decoder = new TextDecoder("utf-16le", { ignoreBOM: true });

/** A list of the first `n` slots of `slots`, which must be ascending. */
export function toMembers(slots: ArrayLike<number>, n: number): Members {
  if (n === 0) return NO_MEMBERS;
  if (slots[n - 1]! > MAX_PACKED_SLOT) return Array.from({ length: n }, (_, i) => slots[i]!);
  if (codes.length < n) codes = new Uint16Array(Math.max(n, codes.length * 2));
  for (let i = 0; i < n; i++) codes[i] = codeOf(slots[i]!);
  if (n <= 12) {
    // Short lists: concatenation beats the decoder's fixed cost, and V8 keeps strings this short flat.
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(codes[i]!);
    return s;
  }
  return decoder.decode(codes.subarray(0, n));
}

/** `m` without `slot` (the same list when it is not there). */
export function withoutMember(m: Members, slot: number): Members {
  if (!hasMember(m, slot)) return m;
  const out: number[] = [];
  for (let i = 0; i < m.length; i++) {
    const s = memberAt(m, i);
    if (s !== slot) out.push(s);
  }
  return toMembers(out, out.length);
}

/** Bytes a list holds on V8's heap (64-bit, no pointer compression): for memory figures. */
export function membersBytes(m: Members): number {
  if (m.length === 0) return 0;
  if (typeof m !== "string") return 48 + 8 * m.length;
  let wide = false;
  for (let i = 0; i < m.length && !wide; i++) wide = m.charCodeAt(i) > 0xff;
  return 16 + 8 * Math.ceil(((wide ? 2 : 1) * m.length) / 8);
}
