import { trainBpeWithReport, type BpeTokenizer } from "@zero-llm/tokenizer-bpe";
import { Model, TokenDataset, Trainer, TransformerLM, generate, modelConfig, resolveSettings } from "@zero-llm/transformer";
import { Sampler } from "@zero-llm/sampling";
import type { Backend } from "@zero-llm/tensor";

/**
 * A tiny Llama trained from scratch on the reader's text, the way `zllm train` trains: a byte-level
 * BPE learned from the same text, the TransformerLM of @zero-llm/transformer (autograd modules),
 * AdamW with warmup + cosine, the last 10 % of the tokens held out for validation.
 */
export interface TrainingSetup {
  text: string;
  vocabSize: number;
  dim: number;
  layers: number;
  heads: number;
  seqLen: number;
  batch: number;
  steps: number;
  lr: number;
  seed: number;
}

export const DEFAULT_SETUP: Omit<TrainingSetup, "text"> = { vocabSize: 384, dim: 64, layers: 2, heads: 4, seqLen: 64, batch: 8, steps: 300, lr: 3e-3, seed: 1337 };

export const EOT = "<|endoftext|>";

export interface TrainingRun {
  tokenizer: BpeTokenizer;
  tokens: number[];
  trainer: Trainer;
}

export function setUpTraining(s: TrainingSetup): TrainingRun {
  const { tokenizer } = trainBpeWithReport(s.text, { vocabSize: s.vocabSize, pattern: "cl100k", specialTokens: [EOT], eosToken: EOT });
  const tokens = tokenizer.encode(s.text);
  const config = modelConfig({ arch: "llama", vocabSize: tokenizer.vocabSize, dim: s.dim, nLayers: s.layers, nHeads: s.heads, nKvHeads: s.heads, seqLen: s.seqLen });
  const settings = resolveSettings({ steps: s.steps, batchSize: s.batch, lr: s.lr, minLr: s.lr / 10, seed: s.seed, evalEvery: 25, evalWindows: 8 });
  const data = new TokenDataset(tokens, config.vocabSize, { seqLen: s.seqLen, valFraction: settings.valFraction });
  const model = new TransformerLM(config, { seed: settings.seed, dropout: settings.dropout });
  return { tokenizer, tokens, trainer: new Trainer(model, data, settings) };
}

/** A sample from the model as it is now: its weights handed to the inference Model (no copy), `n` tokens after `prompt`. */
export function sampleText(run: TrainingRun, backend: Backend, prompt: string, n: number, seed: number): string {
  const model = new Model(run.trainer.model.config, run.trainer.model.toWeights(), { backend });
  const ids = run.tokenizer.encode(prompt);
  const out = [...generate(model, ids, { maxTokens: n, sampler: new Sampler({ temperature: 0.8, topK: 40, seed }), eos: run.tokenizer.eosId })];
  return prompt + run.tokenizer.decode(out);
}
