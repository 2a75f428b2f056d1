import { AutogradError } from "../errors";

/**
 * A seedable pseudo-random generator so that every run (weight init, datasets, the demo) can be
 * reproduced exactly, and its state saved and restored mid-run.
 *
 * Generator: xoshiro128** (Blackman & Vigna, 2018), 128 bits of state as four uint32 words,
 * period 2¹²⁸ − 1. The state is filled from a 32-bit seed by splitmix32 (Weyl sequence with
 * increment 0x9e3779b9, finalized by MurmurHash3's fmix32), which never yields the all-zero state
 * for four consecutive outputs in practice and is checked anyway.
 *
 * All uint32 arithmetic is done with `Math.imul` and `>>> 0`, because JS numbers are doubles.
 */

/** Everything needed to resume a generator: its four words and a pending Box–Muller normal. */
export interface RngState {
  s: [number, number, number, number];
  spareNormal: number | null;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** splitmix32: one step of the seeding sequence. Returns [output, next seed state]. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [(z ^ (z >>> 16)) >>> 0, next];
}

function isUint32(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x < TWO_POW_32;
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;

  /** `seed` is an integer in [0, 2³²). */
  constructor(seed: number) {
    if (!isUint32(seed)) {
      throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `Rng: expected an integer seed in [0, 4294967295], found ${seed}`);
    }
    let sm = seed;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [out, next] = splitmix32(sm);
      words.push(out);
      sm = next;
    }
    this.setState({ s: [words[0]!, words[1]!, words[2]!, words[3]!], spareNormal: null });
  }

  /** A generator resumed from a saved state. */
  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  getState(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3], spareNormal: this.spareNormal };
  }

  setState(state: RngState): void {
    const s = state?.s;
    if (!Array.isArray(s) || s.length !== 4 || !s.every(isUint32)) {
      throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `Rng.setState: expected s to be four uint32 words, found ${JSON.stringify(s)}`);
    }
    if (s[0] === 0 && s[1] === 0 && s[2] === 0 && s[3] === 0) {
      throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", "Rng.setState: expected a nonzero state (xoshiro's all-zero state is a fixed point), found [0,0,0,0]");
    }
    const spare = state.spareNormal;
    if (spare !== null && !(typeof spare === "number" && Number.isFinite(spare))) {
      throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `Rng.setState: expected spareNormal to be null or a finite number, found ${String(spare)}`);
    }
    [this.s0, this.s1, this.s2, this.s3] = s;
    this.spareNormal = spare;
  }

  /** The next raw xoshiro128** output, an integer in [0, 2³²). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits: (27 high bits of one draw · 2²⁶ + 26 of the next) / 2⁵³. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /** Uniform in [lo, hi). */
  uniformRange(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /**
   * A normal sample by the Box–Muller transform: from u₁ ∈ (0, 1], u₂ ∈ [0, 1),
   * r = √(−2 ln u₁), z₀ = r·cos(2πu₂), z₁ = r·sin(2πu₂). z₁ is kept for the next call.
   */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z1 = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z1;
    }
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return mean + std * r * Math.cos(2 * Math.PI * u2);
  }

  /** An integer in [0, n), n ≤ 2³², by rejection so every value is equally likely. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `Rng.int: expected an integer n in [1, 4294967296], found ${n}`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }
}
