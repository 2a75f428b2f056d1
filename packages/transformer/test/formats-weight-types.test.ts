// The plug-in point for stored weight types (what @zero-llm/quant's Q8_0 / Q4_0 / F16 weights use):
// with `weightTypes`, the GGUF loader hands a projection's bytes as stored (read straight into
// backend.allocBytes memory; a row slice of gpt2's fused attn_qkv too) to the type's fromBytes,
// and the block runs them through LinearWeight.project. A plain-JS Q8_0 weight written here
// sums in the js backend's order, so its logits are the very bits of the f32 expansion.
import { jsBackend, serializeGguf, type Backend, type GgufTensorInput, type LinearWeight, type LinearWeightType } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { Model, ggufFromModel, modelFromBytes, randomWeights, readGguf, type Config } from "../src/index";

const Q8_0_BLOCK = 32;
const Q8_0_BYTES = 34; // | d: f16 | qs: 32 × i8 |

function f16ToF32(h: number): number {
  const e = (h >> 10) & 0x1f, m = h & 0x3ff, sign = h & 0x8000 ? -1 : 1;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Q8_0 bytes of a row-major matrix (positive scales only, enough for a test). */
function quantize(values: Float32Array): Uint8Array {
  const out = new Uint8Array((values.length / Q8_0_BLOCK) * Q8_0_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < values.length / Q8_0_BLOCK; b++) {
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(values[b * Q8_0_BLOCK + j]));
    const e = Math.floor(Math.log2(amax / 127)), m = Math.round(((amax / 127) / 2 ** e - 1) * 1024);
    const bits = ((e + 15) << 10) + m;
    const d = f16ToF32(bits);
    view.setUint16(b * Q8_0_BYTES, bits, true);
    for (let j = 0; j < Q8_0_BLOCK; j++) view.setInt8(b * Q8_0_BYTES + 2 + j, Math.max(-127, Math.min(127, Math.round(values[b * Q8_0_BLOCK + j] / d))));
  }
  return out;
}

/** A Q8_0 LinearWeight over its stored bytes: y = Σ_c (d·q)·x in f64, column order (the js backend's). */
class TestQ8_0 implements LinearWeight {
  readonly type = "q8_0";
  projected = 0;
  constructor(readonly bytes: Uint8Array, readonly outFeatures: number, readonly inFeatures: number) {}
  get byteLength(): number {
    return this.bytes.length;
  }
  project(y: Float32Array, x: Float32Array, rows: number): void {
    this.projected += rows;
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const blocksPerRow = this.inFeatures / Q8_0_BLOCK;
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < this.outFeatures; o++) {
        let sum = 0;
        for (let b = 0; b < blocksPerRow; b++) {
          const at = (o * blocksPerRow + b) * Q8_0_BYTES;
          const d = f16ToF32(view.getUint16(at, true));
          for (let j = 0; j < Q8_0_BLOCK; j++) sum += Math.fround(d * view.getInt8(at + 2 + j)) * x[r * this.inFeatures + b * Q8_0_BLOCK + j];
        }
        y[r * this.outFeatures + o] = sum;
      }
    }
  }
}

const made: TestQ8_0[] = [];
const allocated: Uint8Array[] = [];
const q8_0: LinearWeightType = {
  name: "q8_0",
  byteLength: (out, inFeatures) => (out * inFeatures / Q8_0_BLOCK) * Q8_0_BYTES,
  fromBytes(bytes, out, inFeatures) {
    const w = new TestQ8_0(bytes, out, inFeatures);
    made.push(w);
    return w;
  },
};
const countingBackend: Backend = { ...jsBackend, allocBytes: (n) => { const b = jsBackend.allocBytes(n); allocated.push(b); return b; } };

const GPT2: Config = {
  arch: "gpt2", dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 2, nKvHeads: 2, vocabSize: 40, seqLen: 16,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true,
};
const LLAMA: Config = { ...GPT2, arch: "llama", nKvHeads: 1, hiddenDim: 96, tiedEmbeddings: false };

/** The model's GGUF with every projection of layer 0 (and the untied head) stored as Q8_0. */
function quantizedGguf(c: Config): Uint8Array {
  const input = ggufFromModel(c, randomWeights(c, { seed: 5 }));
  const projections = /^blk\.0\.(attn_qkv|attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$|^output\.weight$/;
  const tensors = (input.tensors ?? []).map((t): GgufTensorInput =>
    projections.test(t.name) ? { name: t.name, type: "Q8_0", shape: t.shape, data: quantize(t.data as Float32Array) } : t);
  return serializeGguf({ metadata: input.metadata, tensors });
}

describe.each([["gpt2 (a slice of the fused attn_qkv per projection)", GPT2], ["llama (untied head)", LLAMA]] as const)("weightTypes: %s", (_name, config) => {
  it("raw Q8_0 bytes go to the weight type and give the f32 expansion's logits, bit for bit", async () => {
    made.length = 0;
    allocated.length = 0;
    const bytes = quantizedGguf(config);
    const expanded = await modelFromBytes(bytes); // Q8_0 expanded to f32 by the loader
    const { config: c, weights } = await readGguf(bytes, { backend: countingBackend, weightTypes: { Q8_0: q8_0 } });
    const raw = new Model(c, weights, { backend: countingBackend });
    const projections = config.arch === "gpt2" ? 6 : 8; // q, k, v (attn_qkv rows), o, up, down (+ gate) (+ output)
    expect(made.length).toBe(projections);
    expect(made.every((w, i) => w.bytes === allocated[i])).toBe(true); // read straight into allocBytes memory
    expect(weights.typeOf("model.layers.0.self_attn.q_proj.weight")).toBe("q8_0");
    expect(weights.typeOf("model.layers.1.self_attn.q_proj.weight")).toBe("f32");
    expect(weights.bytes()).toBeLessThan(expanded.weights.bytes());
    const a = raw.newCache(), b = expanded.newCache();
    for (const t of [3, 17, 5, 29, 11]) {
      expect(Array.from(raw.decode(t, a))).toEqual(Array.from(expanded.decode(t, b)));
    }
    expect(made.every((w) => w.projected > 0)).toBe(true);
    // and the block projects several rows through it in a prefill
    const all = new Float32Array(5 * c.vocabSize), want = new Float32Array(5 * c.vocabSize);
    raw.prefill([3, 17, 5, 29, 11], raw.newCache(), { allLogits: all });
    expanded.prefill([3, 17, 5, 29, 11], expanded.newCache(), { allLogits: want });
    expect(Array.from(all)).toEqual(Array.from(want));
  });
});

describe("a weight type's failure is named with the tensor", () => {
  it("fromBytes throwing on a non-finite scale becomes NONFINITE_WEIGHT naming the tensor, with the cause", async () => {
    const bytes = quantizedGguf(LLAMA);
    const failing: LinearWeightType = {
      ...q8_0,
      fromBytes() {
        throw Object.assign(new Error("block 3: scale is NaN"), { code: "NONFINITE_WEIGHT" });
      },
    };
    await expect(readGguf(bytes, { weightTypes: { Q8_0: failing } })).rejects.toMatchObject({
      code: "NONFINITE_WEIGHT",
      message: expect.stringMatching(/^gguf blk\.0\.attn_q\.weight: expected q8_0 weights it can use, found: block 3: scale is NaN/),
      cause: expect.objectContaining({ message: "block 3: scale is NaN" }),
    });
  });
});
