// The wasm kernels' arithmetic emulated in JS, one f32 rounding per wasm operation (Math.fround
// after each), in the kernels' own order: assembly/simd.ts' exp4, elementwise.ts' SwiGLU, rope.ts'
// rotation (with the host's f32 table of cosines and sines, src/backend/wasm-rope.ts) and
// attention.ts' one-query attention (dot products summed as matmul.ts' dot, softmax with the max
// subtracted, each output element's terms in key order). The kernels may be restructured
// (unrolled, vectorized, fused) but never change these bits; a test that compares them with this
// file fails on any slip of an offset, a lane, a tail or a sum's order.
// Finite inputs only: NaN payloads are not modelled.

const f = Math.fround;
const view = new DataView(new ArrayBuffer(4));
const bitsOf = (x: number): number => (view.setFloat32(0, x), view.getInt32(0));
const floatOf = (bits: number): number => (view.setInt32(0, bits | 0), view.getFloat32(0));

// simd.ts spells log2(e) 1.44269504088896341, which parses to the same double as Math.LOG2E
const LOG2E = f(Math.LOG2E), LN2_HI = f(0.693359375), LN2_LO = f(-2.12194440e-4);
const P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1].map(f);
const EXP_LO = -110, EXP_HI = 90, SWIGLU_EXP_LO = -200;

/** f32x4.pmax(a, b) and pmin(a, b) lanewise: b < a ? … as the wasm spec defines them. */
const pmax = (a: number, b: number): number => (a < b ? b : a);
const pmin = (a: number, b: number): number => (b < a ? b : a);
/** n = round(x·log2 e) as expRound4 forms it: floor(0.5 + x·log2e), each step rounded. */
const expRound = (x: number): number => Math.floor(f(0.5 + f(x * LOG2E)));
/** 2^k built in the exponent field (pow2i4). */
const pow2 = (k: number): number => floatOf((k + 127) << 23);

/** expHigh4: exp(r)·2^(n >> shift), r = x − n·ln2, with the polynomial's roundings. */
function expHigh(x: number, n: number, shift: number): number {
  let r = f(x - f(n * LN2_HI));
  r = f(r - f(n * LN2_LO));
  const r2 = f(r * r);
  let p = f(P[1] + f(P[0] * r));
  for (let i = 2; i < P.length; i++) p = f(P[i] + f(p * r));
  p = f(f(r + f(p * r2)) + 1);
  return floatOf(bitsOf(p) + ((n >> shift) << 23));
}

/** exp4 of one lane. */
export function exp4Lane(x: number): number {
  const c = pmin(pmax(x, EXP_LO), EXP_HI);
  const n = expRound(c);
  return f(expHigh(c, n, 1) * pow2(n - (n >> 1)));
}

/** swiglu of one lane: silu(gate)·up as elementwise.ts' mulSigmoidBy4 forms it. */
export function swigluLane(x: number, y: number): number {
  const a = -Math.abs(x);
  const n = expRound(pmax(a, SWIGLU_EXP_LO));
  const m = n - (n >> 2);
  const q = a < SWIGLU_EXP_LO ? 0 : expHigh(pmax(a, SWIGLU_EXP_LO), n, 2);
  const s1 = pow2(m >> 1), s2 = pow2(m - (m >> 1));
  const w = f(y / f(1 + f(f(q * s1) * s2)));
  return x < 0 ? f(f(f(f(x * q) * w) * s1) * s2) : f(x * w);
}

/** matmul.ts' dot: two four-lane sums over 8-float steps, their sum's lanes (0 + 2) + (1 + 3), then the tail. */
function dot(x: Float32Array, xo: number, y: Float32Array, yo: number, len: number): number {
  const s0 = [0, 0, 0, 0], s1 = [0, 0, 0, 0];
  let d = 0;
  for (; d + 8 <= len; d += 8) {
    for (let j = 0; j < 4; j++) {
      s0[j] = f(s0[j] + f(x[xo + d + j] * y[yo + d + j]));
      s1[j] = f(s1[j] + f(x[xo + d + 4 + j] * y[yo + d + 4 + j]));
    }
  }
  const s = s0.map((v, j) => f(v + s1[j]));
  let sum = f(f(s[0] + s[2]) + f(s[1] + s[3]));
  for (; d < len; d++) sum = f(sum + f(x[xo + d] * y[yo + d]));
  return sum;
}

/** softmaxRow: max, exp of (s − max), four-lane sums in t order then (0 + 2) + (1 + 3), the tail one by one, × 1/sum. */
export function softmaxEmulated(scores: number[]): number[] {
  const n = scores.length, n4 = n & ~3;
  const mx = scores.reduce((m, s) => Math.max(m, s), -Infinity);
  const e = scores.map((s) => exp4Lane(f(s - mx)));
  const lanes = [0, 0, 0, 0];
  for (let t = 0; t < n4; t++) lanes[t & 3] = f(lanes[t & 3] + e[t]);
  let sum = f(f(lanes[0] + lanes[2]) + f(lanes[1] + lanes[3]));
  for (let t = n4; t < n; t++) sum = f(sum + e[t]);
  const inv = f(1 / sum);
  return e.map((v) => f(v * inv));
}

/**
 * attention() on the wasm backend, emulated: q [seqQ, nHeads, headDim], k and v [seqKv, kvStride]
 * with kv head g at g·headDim, causal; returns out [seqQ, nHeads, headDim] and probs [nHeads, seqQ, seqKv].
 */
export function attentionEmulated(
  q: Float32Array, k: Float32Array, v: Float32Array,
  seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number, kvStride = nKvHeads * headDim,
): { out: Float32Array; probs: Float32Array } {
  const scale = f(1 / Math.sqrt(headDim)), group = nHeads / nKvHeads;
  const out = new Float32Array(seqQ * nHeads * headDim), probs = new Float32Array(nHeads * seqQ * seqKv);
  for (let i = 0; i < seqQ; i++) {
    const n = seqKv - seqQ + i + 1;
    for (let h = 0; h < nHeads; h++) {
      const qo = (i * nHeads + h) * headDim, kvo = Math.floor(h / group) * headDim;
      const scores = Array.from({ length: n }, (_, t) => f(dot(q, qo, k, t * kvStride + kvo, headDim) * scale));
      const p = softmaxEmulated(scores);
      probs.set(p, (h * seqQ + i) * seqKv);
      for (let d = 0; d < headDim; d++) {
        let y = 0;
        for (let t = 0; t < n; t++) y = f(y + f(p[t] * v[t * kvStride + kvo + d]));
        out[qo + d] = y;
      }
    }
  }
  return { out, probs };
}

/**
 * rope() on the wasm backend, emulated: cos and sin of pos·theta^(−2i/headDim) from f64 rounded to
 * f32 (the host's table, src/backend/wasm-rope.ts), then x0·cos − x1·sin and x0·sin + x1·cos.
 */
export function ropeEmulated(
  x: Float32Array, seq: number, nHeads: number, headDim: number, pos0: number, theta: number, style: "interleaved" | "half",
): Float32Array {
  const out = x.slice(), half = headDim >> 1;
  for (let s = 0; s < seq; s++) {
    for (let i = 0; i < half; i++) {
      const angle = (pos0 + s) * Math.pow(theta, (-2 * i) / headDim);
      const cos = f(Math.cos(angle)), sin = f(Math.sin(angle));
      for (let h = 0; h < nHeads; h++) {
        const head = (s * nHeads + h) * headDim;
        const i0 = style === "interleaved" ? head + 2 * i : head + i, i1 = style === "interleaved" ? i0 + 1 : i0 + half;
        const x0 = out[i0], x1 = out[i1];
        out[i0] = f(f(x0 * cos) - f(x1 * sin));
        out[i1] = f(f(x0 * sin) + f(x1 * cos));
      }
    }
  }
  return out;
}
