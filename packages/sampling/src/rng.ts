import { SamplingError } from "./errors";

/** The generator's whole state: four 32-bit words. Save it, restore it, get the same stream. */
export type RngState = readonly [number, number, number, number];

/**
 * xoshiro128** (Blackman & Vigna): 128 bits of state, period 2^128 − 1, all arithmetic in 32-bit
 * integers so it is exact in JavaScript without BigInt. Seeded through splitmix32 so that nearby
 * seeds (0, 1, 2, …) give unrelated streams and the state is never all zeros.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed = 0) {
    if (!Number.isInteger(seed)) {
      throw new SamplingError("SAMPLING_BAD_OPTION", `seed: expected an integer, found ${seed}`);
    }
    // splitmix32: a 32-bit counter passed through an avalanche mix, one word per step
    let x = seed >>> 0;
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
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  getState(): RngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  setState(state: RngState): void {
    const ok = state.length === 4 && state.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff);
    if (!ok || state.every((w) => w === 0)) {
      throw new SamplingError(
        "SAMPLING_BAD_STATE",
        `rng state: expected 4 unsigned 32-bit words, not all zero; found [${state.join(", ")}]`,
      );
    }
    [this.s0, this.s1, this.s2, this.s3] = state;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextU32(): number {
    return this.bits(0);
  }

  /**
   * The next output shifted right by `shift` bits. next() takes its 27 + 26 bits through here so
   * that every value crossing a call stays below 2^30, a small integer on every engine: a
   * uint32 above 2^31 (or a double) returned from a call that is not inlined is boxed on the heap.
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

  /** A uniform double in [0, 1) with 53 random bits (27 high + 26 low, as in Math.random's spec). */
  next(): number {
    const hi = this.bits(5); // 27 bits
    const lo = this.bits(6); // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * next() written to out[index] instead of returned: a double returned from a call that is not
   * inlined is boxed (16 bytes), and the sampler draws once per token.
   */
  nextInto(out: Float64Array, index: number): void {
    const hi = this.bits(5);
    const lo = this.bits(6);
    out[index] = (hi * 67108864 + lo) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
