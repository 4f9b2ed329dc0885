import { describe, expect, it } from "vitest";
import { byteLevelChar, byteLevelTokenToBytes } from "./byte-level.ts";

describe("byteLevelChar", () => {
  it("writes the GPT-2 characters for space, newline and tab", () => {
    // GPT-2's bytes_to_unicode: unprintable bytes map to U+0100 onward in byte order,
    // so 0x09 -> U+0109 (ĉ), 0x0A -> U+010A (Ċ), 0x20 -> U+0120 (Ġ).
    expect(byteLevelChar(0x20)).toBe("Ġ");
    expect(byteLevelChar(0x0a)).toBe("Ċ");
    expect(byteLevelChar(0x09)).toBe("ĉ");
  });

  it("keeps printable bytes", () => {
    expect(byteLevelChar(0x61)).toBe("a");
    expect(byteLevelChar(0xe9)).toBe("é");
  });

  it("gives every byte its own character", () => {
    const characters = new Set(Array.from({ length: 256 }, (_, byte) => byteLevelChar(byte)));
    expect(characters.size).toBe(256);
  });
});

describe("byteLevelTokenToBytes", () => {
  it("decodes a token with a space", () => {
    expect(Array.from(byteLevelTokenToBytes("Ġhi")!)).toEqual([0x20, 0x68, 0x69]);
  });

  it("inverts byteLevelChar for every byte", () => {
    const all = Array.from({ length: 256 }, (_, byte) => byteLevelChar(byte)).join("");
    expect(Array.from(byteLevelTokenToBytes(all)!)).toEqual(Array.from({ length: 256 }, (_, byte) => byte));
  });

  it("returns null outside the table", () => {
    expect(byteLevelTokenToBytes("<|im_start|>😀")).toBeNull();
  });
});
