/**
 * A seedable pseudo-random generator: xoshiro128** (Blackman & Vigna), 128 bits of state,
 * period 2^128 − 1, seeded through splitmix32 so that nearby seeds give unrelated streams.
 * It does not reproduce torch.manual_seed streams (PyTorch uses mt19937 / Philox); tests
 * that compare with PyTorch store their inputs instead.
 */
export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** The second Box–Muller output, kept for the next normal() call. */
  private spareNormal: number | null = null;

  constructor(seed = 0x2545f491) {
    this.seed(seed);
  }

  /** Reset the stream; the same seed always yields the same numbers. */
  seed(seed: number): void {
    let x = seed >>> 0;
    // splitmix32 spreads one 32-bit seed over the four state words (never all zero)
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    this.spareNormal = null;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (two draws), so every double in the grid is reachable. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Uniform in [0, 1) on a grid of 2^-24: every value is exact in float32, so storing it in a
   * Float32Array can never round up to 1 (as a 53-bit uniform just below 1 would).
   */
  uniformFloat32(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** Standard normal N(0, 1) by the Box–Muller transform (both outputs are used). */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    // 1 − u lies in (0, 1], so the log is finite
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

let defaultGenerator = new Generator();

/** The generator that rand/randn use when none is passed. */
export function getDefaultGenerator(): Generator {
  return defaultGenerator;
}

/** Reseed the default generator (like torch.manual_seed). */
export function manualSeed(seed: number): void {
  defaultGenerator = new Generator(seed);
}
