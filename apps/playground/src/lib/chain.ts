import {
  Sampler, logitsToProbs, minP, penalties, temperature, tokenMask, topK, topP, type LogitsProcessor, type SamplerOptions,
} from "@zero-llm/sampling";

/**
 * The sampler chain taken apart: the same processors the Sampler runs, applied one at a time in
 * its order (mask → penalties → top-k → top-p → min-p → temperature → draw), recording after each
 * step which tokens survive and their renormalised probabilities. The last stage must equal what
 * `Sampler.probabilities` computes for the same settings (the page shows the difference).
 */
export interface ChainSettings {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
}

export const DEFAULT_CHAIN: ChainSettings = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 };

export interface Stage {
  name: string;
  /** Tokens left after this step, out of the vocabulary. */
  survivors: number;
  /** Probability of each watched token after this step (0 when removed). */
  probs: number[];
}

export interface ChainView {
  /**
   * The tokens shown: those that survive the whole chain (most probable first, at most half the
   * rows), then the model's most probable others, so a mask or a penalty never hides every survivor.
   */
  watched: number[];
  stages: Stage[];
  /** max |p − Sampler.probabilities| over the vocabulary: the taken-apart chain against the real one. */
  maxDiffFromSampler: number;
}

export function samplerOptions(s: ChainSettings, seed?: number): SamplerOptions {
  return {
    temperature: s.temperature, topK: s.topK, topP: s.topP, minP: s.minP,
    repetitionPenalty: s.repetitionPenalty, presencePenalty: s.presencePenalty, frequencyPenalty: s.frequencyPenalty,
    ...(seed !== undefined ? { seed } : {}),
  };
}

export function chainView(logits: Float32Array, history: readonly number[], s: ChainSettings, watchCount: number, allowed?: Uint32Array): ChainView {
  const V = logits.length;
  const raw = logitsToProbs(new Float64Array(V), logits);
  const byRaw = Array.from(raw.keys()).sort((a, b) => raw[b] - raw[a] || a - b);
  const steps: Array<[string, LogitsProcessor | null]> = [
    ["model", null],
    ...(allowed ? [["JSON Schema mask", tokenMask(allowed)] as [string, LogitsProcessor]] : []),
    [`penalties ×${s.repetitionPenalty} −${s.frequencyPenalty}·n −${s.presencePenalty}`, penalties({ repetition: s.repetitionPenalty, frequency: s.frequencyPenalty, presence: s.presencePenalty })],
    [`top-k ${s.topK}`, s.topK > 0 ? topK(s.topK) : null],
    [`top-p ${s.topP}`, s.topP < 1 ? topP(s.topP) : null],
    [`min-p ${s.minP}`, s.minP > 0 ? minP(s.minP) : null],
    [`temperature ${s.temperature}`, temperature(s.temperature)],
  ];
  const row = Float32Array.from(logits);
  const after: Float64Array[] = [];
  const survivors: number[] = [];
  for (const [, processor] of steps) {
    processor?.(row, history);
    after.push(logitsToProbs(new Float64Array(V), row));
    let n = 0;
    for (let i = 0; i < V; i++) if (row[i] !== -Infinity) n++;
    survivors.push(n);
  }
  const p = after[after.length - 1];
  const kept = byRaw.filter((id) => p[id] > 0).slice(0, Math.ceil(watchCount / 2));
  const watched = [...kept, ...byRaw.filter((id) => !kept.includes(id)).slice(0, watchCount - kept.length)].sort((a, b) => raw[b] - raw[a] || a - b);
  const stages: Stage[] = steps.map(([name, processor], k) => ({
    name: processor || name === "model" ? name : `${name} (off)`, survivors: survivors[k], probs: watched.map((id) => after[k][id]),
  }));
  const sampler = new Sampler(samplerOptions(s));
  const reference = sampler.probabilities(new Float64Array(V), logits, history, allowed);
  let maxDiff = 0;
  for (let i = 0; i < V; i++) maxDiff = Math.max(maxDiff, Math.abs(reference[i] - p[i]));
  return { watched, stages, maxDiffFromSampler: maxDiff };
}
