import { jsBackend, type Backend } from "@zero-llm/tensor";
import { Model, randomWeights, type Config, type KVDType, type KVStore, type ModelOptions } from "../src/index";
import { allocatedPerStep } from "../../../tools/test-helpers/alloc-probe";

// Shared by the decode allocation tests (infer-allocation*.test.ts). Each measured case has a
// file of its own, because vitest runs every file in a fresh JavaScript isolate: V8's JIT
// feedback (which closures a call site has seen, which object shapes) lives as long as the
// isolate, so a case run after another one measures code compiled partly for the other model
// (decodeStep's final rt.norm, embed and the cache calls see both architectures). When the cases
// shared one file, the official CI (a machine loaded ~10x) measured 16 bytes per step for the gpt2
// decode run after the llama one, and 15.7 for the llama decode over a packed store run after
// that, while the llama case run first measured 0. One case per isolate is what a process serving
// one model looks like, and its result cannot depend on the order of the cases.

// claimIsolate (the one-case-per-isolate guard) lives with the probe, shared with the sampling tests.
export { claimIsolate } from "../../../tools/test-helpers/alloc-probe";

// jsBackend.attention (in @zero-llm/tensor, not this package) allocates its score row per call,
// so the tests swap in the same math over one reused row (infer-allocation.test.ts checks it gives
// the same logits). What is measured is therefore our own code: model.decode, decodeStep, the KV
// cache, the run state.
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
/** jsBackend with an attention that allocates nothing. */
export const js: Backend = { ...jsBackend, attention: attentionReusingScores };

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
export const packedF32: KVDType = { name: "packed-f32", create: (capacity, rowLen) => new PackedF32(capacity, rowLen) };

export const LLAMA: Config = {
  arch: "llama", dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 64, seqLen: 160,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: false,
};
export const GPT2: Config = { ...LLAMA, arch: "gpt2", nKvHeads: 4, tiedEmbeddings: true };
export const WARM = 1500, STEPS = 2000;

/** A decode step over a cache that rewinds to position 32 when full (attention stays short, fast), warmed up. */
export function decodeLoop(model: Model, cache = model.newCache({ capacity: 160 })): (i: number) => void {
  const step = (i: number): void => {
    if (cache.length === cache.capacity) cache.truncate(32);
    model.decode((i * 7) % 64, cache);
  };
  for (let i = 0; i < WARM; i++) step(i);
  return step;
}

/** A batched decode step of `rows` sequences (token i + r for row r), every cache rewinding to position 32 when full; not warmed up. */
export function decodeBatchStep(model: Model, rows: number): (i: number) => void {
  const caches = Array.from({ length: rows }, () => model.newCache({ capacity: 160 }));
  const tokens = new Int32Array(rows);
  return (i: number): void => {
    if (caches[0].length === caches[0].capacity) for (const c of caches) c.truncate(32);
    for (let r = 0; r < rows; r++) tokens[r] = (i + r) % 64;
    model.decodeBatch(tokens, caches);
  };
}

/** A model of `config` with random weights (seed 1) on the js kernels above. */
export function jsModel(config: Config, options: Omit<ModelOptions, "backend"> = {}): Model {
  return new Model(config, randomWeights(config, { seed: 1, backend: js }), { ...options, backend: js });
}

/** The probe's bytes allocated per call of `step` (tools/test-helpers/alloc-probe.ts), printed under `label`. */
export function bytesPerStep(label: string, step: (i: number) => void, steps = STEPS): number {
  const perStep = allocatedPerStep(step, steps);
  console.log(`${label}: ${perStep.toFixed(3)} bytes allocated per step`);
  return perStep;
}
