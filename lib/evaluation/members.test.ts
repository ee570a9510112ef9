import { describe, expect, it } from "vitest";
import { MAX_PACKED_SLOT, NO_MEMBERS, hasMember, memberAt, membersBytes, membersToArray, toMembers, withoutMember } from "./members";

const list = (slots: number[]) => toMembers(slots, slots.length);

describe("membership lists", () => {
  it.each([
    ["empty", []],
    ["short", [0, 1, 7, 255]],
    ["long, one-byte", Array.from({ length: 200 }, (_, i) => i)],
    ["around the surrogate block", [0xd7fe, 0xd7ff, 0xd800, 0xd801, 0xdfff, 0xe000, MAX_PACKED_SLOT - 1, MAX_PACKED_SLOT]],
    ["long, two-byte", Array.from({ length: 500 }, (_, i) => i * 120)],
    ["a slot past the packed range", [3, 40_000, MAX_PACKED_SLOT + 1, 1_000_000]],
  ])("keeps every slot, in order: %s", (_, slots) => {
    const m = list(slots);
    expect(m.length).toBe(slots.length);
    expect(membersToArray(m)).toEqual(slots);
    slots.forEach((slot, i) => expect(memberAt(m, i)).toBe(slot));
    for (const slot of slots) expect(hasMember(m, slot)).toBe(true);
    for (const slot of [...slots.map((s) => s + 1), 0xd800 - 1, 12_345].filter((s) => !slots.includes(s))) {
      expect(hasMember(m, slot)).toBe(false);
    }
  });

  it("packs slots into a string while they fit, and falls back to numbers", () => {
    expect(typeof list([1, 2, 3])).toBe("string");
    expect(typeof list([1, MAX_PACKED_SLOT])).toBe("string");
    expect(Array.isArray(list([1, MAX_PACKED_SLOT + 1]))).toBe(true);
    expect(list([])).toBe(NO_MEMBERS);
  });

  it("removes one slot and leaves the list alone when it is absent", () => {
    const m = list([2, 5, 0xe123]);
    expect(membersToArray(withoutMember(m, 5))).toEqual([2, 0xe123]);
    expect(withoutMember(m, 6)).toBe(m);
    expect(withoutMember(list([9]), 9)).toBe(NO_MEMBERS);
  });

  it("costs 1 byte per slot below 256, 2 above, 8 as numbers", () => {
    expect(membersBytes(list(Array.from({ length: 64 }, (_, i) => i)))).toBe(16 + 64);
    expect(membersBytes(list(Array.from({ length: 64 }, (_, i) => 256 + i)))).toBe(16 + 128);
    expect(membersBytes(list([1, MAX_PACKED_SLOT + 1]))).toBe(48 + 16);
    expect(membersBytes(NO_MEMBERS)).toBe(0);
  });
});
