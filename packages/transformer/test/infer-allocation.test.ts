import { createWasmBackend, jsBackend, type Backend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { Model, randomWeights, type Config, type KVDType, type KVStore } from "../src/index";
import { allocatedPerStep } from "../../../tools/test-helpers/alloc-probe";

// Does a decode step allocate on the JavaScript heap? Measured as described in tools/test-helpers/alloc-probe.ts:
// after a warm-up, the young generation must not grow over thousands of steps (< 1 byte per
// step on average: any real per-step allocation is ≥ 16 bytes). The kernels are jsBackend's,
// except attention: jsBackend.attention (in @zero-llm/tensor, not this package) allocates its
// score row per call, so the test swaps in the same math over one reused row. What is measured
// is therefore our own code: model.decode, decodeStep, the KV cache, the run state.

let scores = new Float64Array(0);
const attentionReusingScores: Backend["attention"] = (out, q, k, v, seqQ, seqKv, nHeads, nKvHeads, headDim, opts) => {
  const kvStride = opts?.kvStride ?? nKvHeads * headDim;
  const group = nHeads / nKvHeads, scale = 1 / Math.sqrt(headDim);
  if (scores.length < seqKv) scores = new Float64Array(2 * seqKv);
  for (let h = 0; h < nHeads; h++) {
    const kvOff = Math.floor(h / group) * headDim;
    for (let i = 0; i < seqQ; i++) {
      const qOff = (i * nHeads + h) * headDim, last = seqKv - seqQ + i;
      let max = -Infinity;
      for (let t = 0; t <= last; t++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[qOff + d] * k[t * kvStride + kvOff + d];
        scores[t] = dot * scale;
        if (scores[t] > max) max = scores[t];
      }
      let sum = 0;
      for (let t = 0; t <= last; t++) sum += scores[t] = Math.exp(scores[t] - max);
      for (let d = 0; d < headDim; d++) out[qOff + d] = 0;
      for (let t = 0; t <= last; t++) {
        const p = scores[t] / sum;
        for (let d = 0; d < headDim; d++) out[qOff + d] += p * v[t * kvStride + kvOff + d];
      }
    }
  }
};
const js: Backend = { ...jsBackend, attention: attentionReusingScores };

/** A store read only through readRows, to send attention down the chunked path. */
class PackedF32 implements KVStore {
  readonly dtype = "packed-f32";
  readonly f32Rows = null;
  private readonly data: Float32Array;
  constructor(readonly capacity: number, readonly rowLen: number) {
    this.data = new Float32Array(capacity * rowLen);
  }
  write(row: number, src: Float32Array, srcOffset: number, nRows: number): void {
    const { data, rowLen } = this;
    for (let i = 0; i < nRows * rowLen; i++) data[row * rowLen + i] = src[srcOffset + i];
  }
  readRows(start: number, nRows: number, dst: Float32Array, dstOffset: number): void {
    const { data, rowLen } = this;
    for (let i = 0; i < nRows * rowLen; i++) dst[dstOffset + i] = data[start * rowLen + i];
  }
  bytes(): number {
    return this.data.byteLength;
  }
}
const packedF32: KVDType = { name: "packed-f32", create: (capacity, rowLen) => new PackedF32(capacity, rowLen) };

const LLAMA: Config = {
  arch: "llama", dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 64, seqLen: 160,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: false,
};
const GPT2: Config = { ...LLAMA, arch: "gpt2", nKvHeads: 4, tiedEmbeddings: true };
const WARM = 1500, STEPS = 2000;

/** A decode step over a cache that rewinds to position 32 when full (attention stays short, fast). */
function decodeLoop(model: Model, cache = model.newCache({ capacity: 160 })): (i: number) => void {
  const step = (i: number): void => {
    if (cache.length === cache.capacity) cache.truncate(32);
    model.decode((i * 7) % 64, cache);
  };
  for (let i = 0; i < WARM; i++) step(i);
  return step;
}

describe("a decode step allocates nothing in this package's code (js kernels)", () => {
  it("the swapped-in attention is jsBackend's math: same logits", () => {
    const a = new Model(LLAMA, randomWeights(LLAMA, { seed: 3 })), b = new Model(LLAMA, randomWeights(LLAMA, { seed: 3 }), { backend: js });
    const ca = a.newCache(), cb = b.newCache();
    for (let i = 0; i < 40; i++) {
      const x = a.decode(i, ca), y = b.decode(i, cb);
      for (let j = 0; j < x.length; j++) expect(Math.abs(x[j] - y[j])).toBeLessThan(1e-5);
    }
  });

  it("the probe sees a small per-step allocation (it can fail)", () => {
    const sink: unknown[] = [];
    expect(allocatedPerStep((i) => { sink[0] = [i]; }, STEPS)).toBeGreaterThanOrEqual(16);
    expect(allocatedPerStep((i) => { if (i % 16 === 0) sink[0] = i + 0.5; }, STEPS)).toBeGreaterThanOrEqual(0.9);
  });

  it.each([["llama (GQA 4/2, untied)", LLAMA], ["gpt2 (LayerNorm, biases, GELU)", GPT2]] as const)("model.decode, %s", (_, config) => {
    const model = new Model(config, randomWeights(config, { seed: 1, backend: js }), { backend: js });
    const perStep = allocatedPerStep(decodeLoop(model), STEPS);
    console.log(`${config.arch} decode: ${perStep.toFixed(3)} bytes allocated per step`);
    expect(perStep).toBeLessThan(1);
  });

  it("model.decode over a packed KV store (chunked attention)", () => {
    const model = new Model(LLAMA, randomWeights(LLAMA, { seed: 1, backend: js }), { backend: js });
    const perStep = allocatedPerStep(decodeLoop(model, model.newCache({ capacity: 160, kType: packedF32, vType: packedF32 })), STEPS);
    expect(perStep).toBeLessThan(1);
  });

  it("model.decodeBatch of 4 sequences", () => {
    const model = new Model(LLAMA, randomWeights(LLAMA, { seed: 1, backend: js }), { backend: js, maxBatchRows: 4 });
    const caches = Array.from({ length: 4 }, () => model.newCache({ capacity: 160 }));
    const tokens = new Int32Array(4);
    const step = (i: number): void => {
      if (caches[0].length === caches[0].capacity) for (const c of caches) c.truncate(32);
      for (let r = 0; r < 4; r++) tokens[r] = (i + r) % 64;
      model.decodeBatch(tokens, caches);
    };
    for (let i = 0; i < WARM / 4; i++) step(i);
    expect(allocatedPerStep(step, STEPS / 4)).toBeLessThan(1);
  });

  it("what the unmodified backends' kernels allocate per step (reported, owned by @zero-llm/tensor)", async () => {
    const wasm = await createWasmBackend({ threads: 1 });
    for (const backend of [jsBackend, wasm]) {
      const model = new Model(LLAMA, randomWeights(LLAMA, { seed: 1, backend }), { backend });
      const perStep = allocatedPerStep(decodeLoop(model), 1000);
      console.log(`${backend.name} backend, ${LLAMA.nLayers} layers: ${Number.isFinite(perStep) ? perStep.toFixed(1) : "≥ a scavenge"} bytes per decode step`);
    }
    await wasm.dispose();
  });
});
