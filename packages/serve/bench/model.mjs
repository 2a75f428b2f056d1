// The model the load benchmarks serve: a checkpoint (--model PATH, default the embedded model) or
// random weights in a named shape (--shape NAME) with the embedded model's tokenizer, written once
// to a temporary GGUF file so that the server child and the in-process peer load the same bytes.
// Random weights decode exactly as fast as trained ones; the shapes show where batching pays:
//   default  the embedded model: dim 128, 4 layers, 1.05M parameters (4.2 MB of f32 weights: they
//            stay in the L2/L3 caches, so one sequence's decode step is not memory-bound)
//   medium   models/medium's shape: dim 256, 6 layers, 8 heads, 4 KV heads, 5.2M parameters
//            (21 MB: read from memory on every step of a single sequence)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jsBackend } from "@zero-llm/tensor";
import { fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { randomWeights } from "@zero-llm/transformer";
import { loadModel, writeGgufModel } from "@zero-llm/transformer/node";

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_MODEL = path.resolve(here, "../../../models/default");

const SHAPES = {
  default: { dim: 128, hiddenDim: 384, nLayers: 4, nHeads: 4, nKvHeads: 2 },
  medium: { dim: 256, hiddenDim: 768, nLayers: 6, nHeads: 8, nKvHeads: 4 },
};

/** The checkpoint path to serve and a cleanup function; `shape` wins over `model`. */
export async function benchModel({ model, shape }) {
  if (!shape) return { file: model ?? DEFAULT_MODEL, label: model ? path.basename(model) : "the embedded default model", cleanup: () => {} };
  const dims = SHAPES[shape];
  if (!dims) throw new Error(`--shape: expected one of ${Object.keys(SHAPES).join(", ")}, found ${shape}`);
  const { config: base } = await loadModel(DEFAULT_MODEL);
  const config = { ...base, ...dims };
  const tokenizer = fromTokenizerJson(readFileSync(path.join(DEFAULT_MODEL, "tokenizer.json"), "utf8"));
  const dir = mkdtempSync(path.join(tmpdir(), "zllm-bench-"));
  const file = path.join(dir, `${shape}.gguf`);
  await writeGgufModel(file, { config, weights: randomWeights(config, { seed: 1, backend: jsBackend }) }, {
    tokenizer,
    tokenizerOptions: { bosTokenId: 2047, eosTokenId: 2047, addBosToken: true },
  });
  return { file, label: `random weights in the ${shape} shape (dim ${config.dim}, ${config.nLayers} layers)`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
