import type { Method } from "../lib/rpc";

/** A PEFT adapter directory's two files (adapter_config.json, adapter_model.safetensors). */
export interface AdapterFiles { configText: string; safetensors: Uint8Array; source: string }

export interface AdapterInfo {
  /** The shipped directory, or the dropped files' names. */
  source: string;
  backend: string;
  ms: number;
  r: number;
  alpha: number;
  /** The adapter's targets as its adapter_config.json names them. */
  targets: string;
  /** alpha / r (or alpha / √r with rsLoRA). */
  scaling: number;
  rsLora: boolean;
  parameters: number;
  baseParameters: number;
  baseModel: string;
  /** Our weights the adapter updates, in the model's order. */
  weights: Array<{ weight: string; rows: number; cols: number; rank: number }>;
}

export interface LayerView {
  weight: string;
  rows: number;
  cols: number;
  rank: number;
  scaling: number;
  /** W [rows, cols], A [rank, cols], B [rows, rank], ΔW = scaling·B·A [rows, cols]. */
  w: Float32Array;
  a: Float32Array;
  b: Float32Array;
  delta: Float32Array;
  normW: number;
  normDelta: number;
  /** max |(merged weight − W) − ΔW|: the page's product against @zero-llm/lora's merge. */
  mergeDiff: number;
}

export interface TokenMove { id: number; piece: string; base: number; adapted: number }

export interface DistributionView {
  /** The most likely tokens under either model, by the adapted probability. */
  tokens: TokenMove[];
  kl: number;
  answerBase: string;
  answerAdapted: string;
  /** The right continuation when the prompt is the adapter's template, else null. */
  expected: string | null;
}

/** At one adapter scale: exact-match accuracy, and the mean probability of the whole right answer (teacher-forced). */
export interface ScalePoint { scale: number; accuracy: number; correctProbability: number }

export type LoraProtocol = {
  /** The embedded model with an adapter: the shipped one (files null) or dropped files; replaces the previous adapter. */
  load: Method<{ files: AdapterFiles | null }, AdapterInfo>;
  layer: Method<{ weight: string }, LayerView>;
  distribution: Method<{ prompt: string; scale: number }, DistributionView>;
  /** Exact-match accuracy on held-out pairs and the mean probability of the right answer, per scale. */
  sweep: Method<{ scales: number[]; pairs: number }, { points: ScalePoint[]; ms: number }, ScalePoint>;
};
