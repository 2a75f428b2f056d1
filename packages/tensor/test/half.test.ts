import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  bf16ArrayToF32, bf16ToF32, bitsToF32, f16ArrayToF32, f16ToF32, f32ArrayToBf16, f32ArrayToF16, f32ToBf16, f32ToBits, f32ToF16,
} from "../src/dtype/half";

interface HalfFixture {
  f32Bits: number[];
  f16Bits: number[];
  bf16Bits: number[];
  f16Decode: [number, number][];
  nanF32Bits: number[];
}
// Made by tools/fixtures/make_half_fixture.py with PyTorch 1.13 (numpy agreed on every f16 case).
const fixture = JSON.parse(readFileSync(new URL("./fixtures/half.json", import.meta.url), "utf8")) as HalfFixture;

const hex = (n: number) => `0x${n.toString(16).padStart(4, "0")}`;

/** f16 value from the definition, independent of the bit tricks under test. */
function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

describe("f32 -> f16 (round to nearest even)", () => {
  it("matches PyTorch on every fixture input (specials, midpoints ± 1 ulp, subnormals, overflow)", () => {
    const mismatches: string[] = [];
    fixture.f32Bits.forEach((bits, i) => {
      const got = f32ToF16(bitsToF32(bits));
      if (got !== fixture.f16Bits[i]) mismatches.push(`${bits.toString(16)}: ${hex(got)} != ${hex(fixture.f16Bits[i])}`);
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(fixture.f32Bits.length).toBeGreaterThan(3000);
  });

  it("array version agrees with the scalar one", () => {
    const input = new Float32Array(new Uint32Array(fixture.f32Bits).buffer);
    expect(Array.from(f32ArrayToF16(input))).toEqual(fixture.f16Bits);
  });

  it("rounds every midpoint between neighbouring f16 values to the even one, and ±1 f32 ulp to the nearer", () => {
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (f16Value(h) + f16Value(h + 1)) / 2; // exact in f32: 12 significant bits
      const midBits = f32ToBits(mid);
      expect(bitsToF32(midBits)).toBe(mid);
      const even = h % 2 === 0 ? h : h + 1;
      if (f32ToF16(mid) !== even) throw new Error(`tie at ${hex(h)}: got ${hex(f32ToF16(mid))}, expected ${hex(even)}`);
      if (f32ToF16(bitsToF32(midBits - 1)) !== h) throw new Error(`below the midpoint after ${hex(h)}`);
      if (f32ToF16(bitsToF32(midBits + 1)) !== h + 1) throw new Error(`above the midpoint after ${hex(h)}`);
      if (f32ToF16(-mid) !== (even | 0x8000)) throw new Error(`negative tie at ${hex(h)}`);
    }
  });

  it("overflows to inf from 65520 up and keeps 65519.996 at 65504", () => {
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(-1e30)).toBe(0xfc00);
    expect(f32ToF16(Math.fround(65519.996))).toBe(0x7bff);
    expect(f32ToF16(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal: even is 0
    expect(f32ToF16(-(2 ** -25))).toBe(0x8000);
    expect(f32ToF16(3 * 2 ** -26)).toBe(0x0001); // 0.75 ulp -> 1
    expect(f32ToF16(3 * 2 ** -25)).toBe(0x0002); // 1.5 ulps: tie, even is 2
    expect(f32ToF16(5 * 2 ** -25)).toBe(0x0002); // 2.5 ulps: tie, even is 2
  });

  it("keeps NaN a NaN with its sign", () => {
    for (const bits of fixture.nanF32Bits) {
      const h = f32ToF16(bitsToF32(bits));
      expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0, `NaN ${bits.toString(16)} -> ${hex(h)}`).toBe(true);
      expect(h & 0x8000).toBe(bits >>> 31 ? 0x8000 : 0);
    }
  });
});

describe("f16 -> f32 (exact)", () => {
  it("matches numpy on the fixture sample", () => {
    for (const [h, bits] of fixture.f16Decode) expect(f32ToBits(f16ToF32(h)), hex(h)).toBe(bits);
  });

  it("decodes all 65536 patterns to the value of the definition and round-trips them", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = f16ArrayToF32(all);
    for (let h = 0; h < 65536; h++) {
      const expected = f16Value(h);
      if (Number.isNaN(expected)) {
        if (!Number.isNaN(decoded[h])) throw new Error(`${hex(h)} should be NaN`);
        continue;
      }
      if (!Object.is(decoded[h], expected) || !Object.is(f16ToF32(h), expected)) throw new Error(`${hex(h)}: ${decoded[h]} != ${expected}`);
      if (f32ToF16(expected) !== h) throw new Error(`round trip of ${hex(h)} gave ${hex(f32ToF16(expected))}`);
    }
  });
});

describe("bf16", () => {
  it("f32 -> bf16 matches PyTorch (round to nearest even)", () => {
    const input = new Float32Array(new Uint32Array(fixture.f32Bits).buffer);
    expect(Array.from(f32ArrayToBf16(input))).toEqual(fixture.bf16Bits);
    fixture.f32Bits.forEach((bits, i) => {
      if (f32ToBf16(bitsToF32(bits)) !== fixture.bf16Bits[i]) throw new Error(`bf16 of ${bits.toString(16)}`);
    });
  });

  it("bf16 -> f32 is the top half of the f32 bits, for all 65536 patterns", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = new Uint32Array(bf16ArrayToF32(all).buffer);
    for (let b = 0; b < 65536; b++) {
      if (decoded[b] !== ((b << 16) >>> 0)) throw new Error(`bf16 ${hex(b)}`);
      if (b < 0x7f80 && f32ToBf16(bf16ToF32(b)) !== b) throw new Error(`bf16 round trip ${hex(b)}`);
    }
  });

  it("keeps NaN a NaN with its sign (never rounds it to inf)", () => {
    for (const bits of fixture.nanF32Bits) {
      const b = f32ToBf16(bitsToF32(bits));
      expect(Number.isNaN(bf16ToF32(b)), `NaN ${bits.toString(16)} -> ${hex(b)}`).toBe(true);
      expect(b >>> 15).toBe(bits >>> 31);
    }
    // 0x7f80_0001 would truncate to 0x7f80 (inf); rounding must not carry NaN into inf either
    expect(Number.isNaN(bf16ToF32(f32ToBf16(bitsToF32(0x7f800001))))).toBe(true);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(bitsToF32(0x7fffffff))))).toBe(true);
  });
});
