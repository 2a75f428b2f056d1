import type { ComparisonSummary, QuantType } from "@zero-llm/quant";
import type { TensorError } from "../lib/quality";
import type { Method } from "../lib/rpc";

export interface TypeQuality {
  type: QuantType;
  /** The types the projections were really stored in (a fallback where a block does not divide a row). */
  used: QuantType[];
  projectionBytes: number;
  summary: ComparisonSummary;
}

export type QuantProtocol = {
  errors: Method<{ types: QuantType[] }, { tensors: TensorError[]; ms: number }>;
  quality: Method<{ types: QuantType[]; maxTokens: number }, { f32ProjectionBytes: number; tokens: number; ms: number; backend: string }, TypeQuality>;
};
