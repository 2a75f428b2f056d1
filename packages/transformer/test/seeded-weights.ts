import type { Backend } from "@zero-llm/tensor";
import { Weights, optionalWeightShapes, weightShapes, type Config } from "../src/index";

/**
 * Every tensor of `c` filled from a seeded LCG, on `backend`: norm gains 1 ± 0.1, biases ± 0.1,
 * matrices ± 1/√(fan-in); the optional biases that `biases(name)` accepts are filled too, so a
 * bias a path skips shows in its output. Tied embeddings share the embedding table.
 */
export function seededWeights(c: Config, backend: Backend, seed: number, biases: (name: string) => boolean = () => false): Weights {
  const w = new Weights();
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const fill = (name: string, shape: readonly number[]): void => {
    const data = backend.allocF32(shape.reduce((a, b) => a * b, 1));
    const norm = name.endsWith("norm.weight");
    const scale = norm || name.endsWith(".bias") ? 0.2 : 2 / Math.sqrt(shape[shape.length - 1]);
    for (let i = 0; i < data.length; i++) data[i] = (norm ? 1 : 0) + scale * next();
    w.set(name, shape, data);
  };
  for (const [name, shape] of weightShapes(c)) if (name !== "lm_head.weight" || !c.tiedEmbeddings) fill(name, shape);
  if (c.tiedEmbeddings) w.set("lm_head.weight", [c.vocabSize, c.dim], w.get("model.embed_tokens.weight").data);
  for (const [name, shape] of optionalWeightShapes(c)) if (biases(name)) fill(name, shape);
  return w;
}
