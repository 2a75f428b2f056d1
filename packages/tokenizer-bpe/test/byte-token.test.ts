import { describe, expect, it } from "vitest";
import { byteTokenValue } from "../src/byte-token";
import { encodeUtf8 } from "../src";

/** byteTokenValue over a piece written alone in a buffer, after two bytes of padding (the offsets matter). */
function valueOf(piece: string, upperCaseOnly?: boolean): number {
  const body = encodeUtf8(piece);
  const bytes = new Uint8Array(body.length + 4).fill(0x3e);
  bytes.set(body, 2);
  return byteTokenValue(bytes, 2, 2 + body.length, upperCaseOnly);
}

describe("byte tokens <0xHH>, read from a piece's bytes", () => {
  it("every byte, in upper and in lower case: the same rule as the regular expression", () => {
    for (let b = 0; b < 256; b++) {
      const upper = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, lower = upper.toLowerCase();
      expect(valueOf(upper)).toBe(b);
      expect(valueOf(upper, true)).toBe(b);
      expect(valueOf(lower)).toBe(b);
      expect(valueOf(lower, true), lower).toBe(/[a-f]/.test(lower.slice(3, 5)) ? -1 : b); // llama2.c: upper case only
    }
  });

  it("anything else is -1", () => {
    for (const piece of ["<0x4>", "<0x411>", "<0X41>", "<0x4G>", "<0xg1>", "[0x41>", "<0x41]", "<1x41>", "<0y41>", "0x41", "", "\u2581<0x41>", "<0x:1>", "<0x@1>", "<0x`1>"]) {
      expect(valueOf(piece), piece).toBe(-1);
      expect(valueOf(piece, true), piece).toBe(-1);
    }
  });
});
