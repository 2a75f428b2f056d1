import { TensorError } from "./errors";

/**
 * The one seeded random generator of the workspace: weight init and dropout (tensor, autograd),
 * training batches (transformer), the scalar engine's datasets (autograd) and every token draw
 * (sampling) use this class, so one seed means the same numbers everywhere.
 *
 * xoshiro128** (Blackman & Vigna, 2018): 128 bits of state as four uint32 words, period
 * 2^128 − 1. All arithmetic is 32-bit integer arithmetic (`Math.imul`, shifts, `>>> 0`), which
 * JavaScript computes exactly, so a seed gives the same stream on every engine and platform, in
 * Node and in the browser (no BigInt, no floating-point step before the final scaling).
 *
 * Seeding: splitmix32 (a Weyl sequence with increment 0x9e3779b9, finished by MurmurHash3's
 * fmix32) spreads one 32-bit seed over the four words, so nearby seeds (0, 1, 2, …) give
 * unrelated streams and the state is never all zero.
 *
 * It does not reproduce torch.manual_seed streams (PyTorch uses mt19937 / Philox); tests that
 * compare with PyTorch store their inputs instead.
 *
 * Checked against three independent references: the C program tools/fixtures/xoshiro128ss.c, a
 * Python implementation (packages/autograd/test/fixtures/rng.json) and the published output for
 * the state {1, 2, 3, 4} (test/tensor-random.test.ts).
 */

/** Everything needed to resume a generator exactly: its four words and a pending Box–Muller normal. */
export interface RngState {
  readonly s: readonly [number, number, number, number];
  readonly spareNormal: number | null;
}

const TWO_POW_26 = 67108864;
const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;
const DEFAULT_SEED = 0x2545f491;

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** The second output of the last Box–Muller pair, returned by the next normal() call. */
  private spareNormal: number | null = null;

  /** `seed` is an integer in [0, 2^32). */
  constructor(seed: number = DEFAULT_SEED) {
    this.seed(seed);
  }

  /** A generator resumed from a saved state. */
  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  /** Restart the stream from `seed` (an integer in [0, 2^32)); the same seed always gives the same numbers. */
  seed(seed: number): void {
    if (!isUint32(seed)) {
      throw new TensorError("INVALID_ARGUMENT", `Rng seed: expected an integer in [0, 4294967295], found ${seed}`);
    }
    let x = seed;
    // splitmix32: one avalanche-mixed step of a Weyl sequence per state word
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    this.spareNormal = null;
  }

  getState(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3], spareNormal: this.spareNormal };
  }

  setState(state: RngState): void {
    const s: unknown = state?.s;
    if (!Array.isArray(s) || s.length !== 4 || !s.every(isUint32)) {
      throw new TensorError("INVALID_ARGUMENT", `Rng state: expected s to be four uint32 words, found ${JSON.stringify(s)}`);
    }
    const words = s as [number, number, number, number];
    if (words.every((w) => w === 0)) {
      throw new TensorError("INVALID_ARGUMENT", "Rng state: expected a nonzero state (xoshiro's all-zero state is a fixed point), found [0,0,0,0]");
    }
    const spare: unknown = state.spareNormal;
    if (spare !== null && !(typeof spare === "number" && Number.isFinite(spare))) {
      throw new TensorError("INVALID_ARGUMENT", `Rng state: expected spareNormal to be null or a finite number, found ${String(spare)}`);
    }
    [this.s0, this.s1, this.s2, this.s3] = words;
    this.spareNormal = spare;
  }

  /** The next raw xoshiro128** output, an integer in [0, 2^32). */
  nextUint32(): number {
    return this.bits(0);
  }

  /**
   * One xoshiro128** step; the output shifted right by `shift`. uniform() takes its 27 + 26 bits
   * through here so that no value crossing a call exceeds 2^30, a small integer on every engine:
   * a uint32 above 2^31 (or a double) returned from a call that is not inlined is boxed on the
   * heap, and the sampler draws once per token without allocating.
   */
  private bits(shift: number): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> shift;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits: (27 high bits of one output · 2^26 + 26 of the next) / 2^53. */
  uniform(): number {
    const hi = this.bits(5);
    const lo = this.bits(6);
    return (hi * TWO_POW_26 + lo) / TWO_POW_53;
  }

  /**
   * uniform() written to out[index] instead of returned: a double returned from a call that is
   * not inlined is boxed (16 bytes), and a sampler drawing once per token must not allocate.
   */
  uniformInto(out: Float64Array, index: number): void {
    const hi = this.bits(5);
    const lo = this.bits(6);
    out[index] = (hi * TWO_POW_26 + lo) / TWO_POW_53;
  }

  /**
   * Uniform in [0, 1) on a grid of 2^-24: every value is exact in float32, so storing it in a
   * Float32Array can never round up to 1 (as a 53-bit uniform just below 1 would).
   */
  uniformFloat32(): number {
    return this.bits(8) / 16777216;
  }

  /** Uniform in [lo, hi). */
  uniformRange(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /**
   * A normal sample by the Box–Muller transform: from u₁ ∈ (0, 1], u₂ ∈ [0, 1),
   * r = √(−2 ln u₁), z₀ = r·cos(2πu₂), z₁ = r·sin(2πu₂). z₁ is kept for the next call (and is
   * part of the saved state).
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

  /**
   * An integer in [0, n): floor(uniform() · n). With 53 random bits the bias is at most n / 2^53
   * (below 1e-9 for any vocabulary or dataset size), and one draw per call keeps streams short.
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new TensorError("INVALID_ARGUMENT", `Rng.int: expected an integer n in [1, 4294967296], found ${n}`);
    }
    return Math.floor(this.uniform() * n);
  }
}

/**
 * @deprecated The old name of {@link Rng} (it also shadowed the built-in `Generator` type of
 * generator functions); kept so code written against it still compiles. Use `Rng`.
 */
export const Generator = Rng;
/** @deprecated Use {@link Rng}. */
export type Generator = Rng;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function isUint32(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x < TWO_POW_32;
}

let defaultRng = new Rng();

/** The generator that rand/randn use when none is passed. */
export function getDefaultGenerator(): Rng {
  return defaultRng;
}

/** Reseed the default generator (like torch.manual_seed). */
export function manualSeed(seed: number): void {
  defaultRng = new Rng(seed);
}
