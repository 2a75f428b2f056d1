import type { ChainSettings, ChainView } from "../lib/chain";
import type { QueryWalk } from "../lib/attention-walk";
import type { Method } from "../lib/rpc";

export interface ModelInfo {
  backend: string;
  ms: number;
  parameters: number;
  config: { dim: number; nLayers: number; nHeads: number; nKvHeads: number; headDim: number; vocabSize: number; seqLen: number };
}

export interface AttentionResult {
  ids: number[];
  pieces: string[];
  /** layers[l]: [nHeads, n, n] softmax weights (row i: query i over keys 0…i). */
  layers: Float32Array[];
  ms: number;
}

export interface Token { id: number; piece: string }

/** Who drafts: prompt lookup (n-gram copies from the text), or the model itself with its projections in Q4_0 (a draft model). */
export type SpeculativeDrafter = "lookup" | "q4_0";

export type ModelProtocol = {
  load: Method<null, ModelInfo>;
  attention: Method<{ prompt: string }, AttentionResult>;
  walk: Method<{ prompt: string; layer: number; head: number; query: number }, QueryWalk & { modelProbs: number[]; maxDiff: number }>;
  cost: Method<{ attentionLengths: number[]; prefillLengths: number[] }, null, { kind: "attention" | "prefill"; n: number; ms: number }>;
  distribution: Method<{ prompt: string; settings: ChainSettings; schema: string | null; watch: number }, ChainView & { pieces: string[]; allowedCount: number | null; vocabSize: number; compileMs: number | null }>;
  generate: Method<
    { prompt: string; settings: ChainSettings; seed: number; maxTokens: number; schema: string | null },
    { ids: number[]; text: string; stopReason: string; tokensPerSecond: number },
    Token
  >;
  speculative: Method<
    { prompt: string; maxTokens: number; drafter: SpeculativeDrafter; draftMax: number; ngram: number; temperature: number; seed: number },
    { rounds: Array<{ drafts: Token[]; accepted: number; next: Token | null }>; ids: number[]; text: string; sameAsPlain: boolean; drafted: number; acceptedTotal: number; passes: number; ms: number; plainMs: number }
  >;
};
