// The quantized kernels of @zero-llm/tensor (backend.matmulQuant) against this package's
// ggml-faithful dot products (dotRow…, which reproduce ggml's vec_dot bit for bit), on weights
// made by the ggml reference quantizers. The kernels keep the input's block scale in float32
// where ggml's q8_0 / q8_1 blocks round it to f16, and add the blocks' float terms in another
// order; otherwise they compute the same integers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmBackend, jsBackend, Generator, type Backend, type WasmBackend } from "@zero-llm/tensor";
import {
  dequantizeMatrix, dotRowQ4_0, dotRowQ4_1, dotRowQ4_K, dotRowQ8_0, quantizeMatrix, quantizeRowQ8_0, quantizeRowQ8_1,
  quantizeRowQ8_K, Q8_0_BLOCK_BYTES, Q8_1_BLOCK_BYTES, Q8_K_BLOCK_BYTES, quantizedRowBytes, type QuantType,
} from "../src/index";

function normal(n: number, scale: number, gen: Generator): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * gen.normal();
  return out;
}

// ggml's vec_dot of weight row o with the input quantized by ggml's reference partner quantizer
function ggmlDots(type: Exclude<QuantType, "f16">, w: Uint8Array, x: Float32Array, n: number, k: number): { dots: Float64Array; terms: Float64Array } {
  const rowBytes = quantizedRowBytes(type, k);
  const partner = type === "q4_k" ? { q: quantizeRowQ8_K, bytes: (k / 256) * Q8_K_BLOCK_BYTES }
    : type === "q4_1" ? { q: quantizeRowQ8_1, bytes: (k / 32) * Q8_1_BLOCK_BYTES } : { q: quantizeRowQ8_0, bytes: (k / 32) * Q8_0_BLOCK_BYTES };
  const act = new Uint8Array(partner.bytes);
  partner.q(x, act, k);
  const dot = { q8_0: dotRowQ8_0, q4_0: dotRowQ4_0, q4_1: dotRowQ4_1, q4_k: dotRowQ4_K }[type];
  const dots = new Float64Array(n), terms = new Float64Array(n);
  // Σ |w·x| over the dequantized weights: the scale of rounding differences
  const wf = dequantizeMatrix(w, n, k, type);
  for (let o = 0; o < n; o++) {
    dots[o] = dot(k, w, act, o * rowBytes, 0);
    for (let c = 0; c < k; c++) terms[o] += Math.abs(wf[o * k + c] * x[c]);
  }
  return { dots, terms };
}

describe.each(["js", "wasm 1 thread", "wasm 2 threads"])("matmulQuant on ggml-made weights (%s)", (label) => {
  let backend: Backend;
  let wasm: WasmBackend | undefined;
  beforeAll(async () => {
    wasm = label === "js" ? undefined : await createWasmBackend({ threads: label.includes("2") ? 2 : 1 });
    backend = wasm ?? jsBackend;
  });
  afterAll(async () => { await wasm?.dispose(); });

  for (const type of ["q8_0", "q4_0", "q4_1", "q4_k"] as const) {
    it(`${type}: within the f16-scale difference of ggml's vec_dot (and equal up to summation order for q4_k)`, () => {
      const gen = new Generator(7);
      const [n, k] = [48, 768];
      const w = quantizeMatrix(normal(n * k, 0.05, gen), n, k, type);
      const x = normal(k, 1, gen);
      const out = new Float32Array(n);
      backend.matmulQuant(out, x, w, type, 1, k, n);
      const { dots, terms } = ggmlDots(type, w, x, n, k);
      // an f16 scale is within 2^-11 of the float32 one; q8_k keeps float32 scales in ggml too
      const scaleError = type === "q4_k" ? 0 : 2 ** -11;
      for (let o = 0; o < n; o++) expect(Math.abs(out[o] - dots[o])).toBeLessThanOrEqual((scaleError + 2e-6) * terms[o]);
    });
  }

  it("f16: the float dot product of the f16 values", () => {
    const gen = new Generator(9);
    const [n, k] = [33, 300];
    const w = quantizeMatrix(normal(n * k, 0.1, gen), n, k, "f16");
    const wf = dequantizeMatrix(w, n, k, "f16");
    const x = normal(k, 1, gen);
    const out = new Float32Array(n);
    backend.matmulQuant(out, x, w, "f16", 1, k, n);
    for (let o = 0; o < n; o++) {
      let exact = 0, bound = 0;
      for (let c = 0; c < k; c++) { exact += wf[o * k + c] * x[c]; bound += Math.abs(wf[o * k + c] * x[c]); }
      expect(Math.abs(out[o] - exact)).toBeLessThanOrEqual(4e-6 * bound);
    }
  });
});
