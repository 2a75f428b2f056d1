import { jsBackend, type Backend } from "@zero-llm/tensor";
import { TransformerError } from "../errors";
import { validateConfig, type Config } from "./config";
import { allocateWeights, type Weights } from "./weights";

/**
 * Model shapes for speed measurements, as llama2.c's TinyStories checkpoints (random weights
 * decode exactly as fast as trained ones): the figures in DESIGN.md are for these shapes.
 */
export const BENCH_SHAPES: Readonly<Record<"260K" | "15M" | "42M" | "110M", Config>> = {
  "260K": { arch: "llama", dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true },
  "15M": { arch: "llama", dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, seqLen: 256, normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true },
  "42M": { arch: "llama", dim: 512, hiddenDim: 1376, nLayers: 8, nHeads: 8, nKvHeads: 8, vocabSize: 32000, seqLen: 1024, normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true },
  "110M": { arch: "llama", dim: 768, hiddenDim: 2048, nLayers: 12, nHeads: 12, nKvHeads: 12, vocabSize: 32000, seqLen: 1024, normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true },
};

export type BenchShape = keyof typeof BENCH_SHAPES;

export function isBenchShape(name: string): name is BenchShape {
  return Object.prototype.hasOwnProperty.call(BENCH_SHAPES, name);
}

/**
 * Weights drawn uniformly from ±1/√fan_in (norm weights 1, biases 0) with a 32-bit LCG, so a
 * seed gives the same model in every run and every language that repeats the recurrence
 * seed' = 1664525 · seed + 1013904223 (mod 2³²), value = (seed' / 2³²) · 2 − 1.
 */
export function randomWeights(config: Config, options: { seed?: number; backend?: Backend } = {}): Weights {
  validateConfig(config);
  const seed0 = options.seed ?? 1;
  if (!Number.isInteger(seed0) || seed0 < 0 || seed0 > 0xffffffff) {
    throw new TransformerError("BAD_CONFIG", `randomWeights seed: expected an integer in [0, 2^32), found ${seed0}`);
  }
  const weights = allocateWeights(config, options.backend ?? jsBackend);
  let seed = seed0 >>> 0;
  const done = new Set<Float32Array>();
  for (const name of weights.names()) {
    const { data, shape } = weights.get(name);
    if (done.has(data)) continue; // tied lm_head
    done.add(data);
    if (name.endsWith("norm.weight")) data.fill(1);
    else if (name.endsWith(".bias")) data.fill(0);
    else {
      const scale = 1 / Math.sqrt(shape[shape.length - 1]);
      for (let i = 0; i < data.length; i++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        data[i] = ((seed / 4294967296) * 2 - 1) * scale;
      }
    }
  }
  return weights;
}
