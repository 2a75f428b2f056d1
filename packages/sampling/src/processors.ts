import type { Rng } from "@zero-llm/tensor";
import { Candidates } from "./candidates";
import { Dry } from "./dry";
import { LogitBias, Penalties, applyTokenMask, type LogitBiasInput } from "./penalties";
import { expInPlace } from "./portable-math";
import { MinP, TopK, TopP, TypicalP, Xtc } from "./truncation";

/**
 * The chain's steps one by one, on a plain row of logits, for composing your own sampler or
 * checking a step in isolation. A processor rewrites the row in place; a removed token gets
 * −Infinity (so after softmax its probability is exactly 0 and any later processor still sees a
 * valid row). They are the same step objects the Sampler runs (same code, same results); each
 * keeps its scratch arrays between calls.
 */
export type LogitsProcessor = (logits: Float32Array, history: ArrayLike<number>) => void;

/** The id of the largest logit (the most likely token); the lowest id wins a tie. */
export function mostLikelyToken(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/**
 * out = softmax(logits): the probabilities the logits stand for. The max is subtracted first so
 * exp never overflows; exp is the portable one (same bits on every engine). `out` may be `logits`.
 */
export function logitsToProbs<T extends Float32Array | Float64Array>(out: T, logits: ArrayLike<number>): T {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const e = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) e[i] = logits[i] - max;
  expInPlace(e, e.length);
  let sum = 0;
  for (let i = 0; i < e.length; i++) sum += e[i];
  for (let i = 0; i < e.length; i++) out[i] = e[i] / sum;
  return out;
}

/** logits / t: t < 1 sharpens, t > 1 flattens; t = 0 keeps only the most likely token (llama.cpp's greedy temperature). */
export function temperature(t: number): LogitsProcessor {
  if (t === 0) {
    return (logits) => {
      const best = mostLikelyToken(logits);
      for (let i = 0; i < logits.length; i++) if (i !== best) logits[i] = -Infinity;
    };
  }
  const inv = 1 / t;
  return (logits) => {
    for (let i = 0; i < logits.length; i++) logits[i] *= inv;
  };
}

/** Exactly the k largest logits stay (ties at the k-th: lower ids first); 0 keeps all. */
export function topK(k: number): LogitsProcessor {
  return truncating(new TopK(k));
}

/** Locally typical sampling: the most typical tokens until their mass exceeds p. */
export function typicalP(p: number, minKeep = 1): LogitsProcessor {
  return truncating(new TypicalP(p, minKeep));
}

/** Nucleus: the most probable tokens until their mass reaches p (the crossing token stays). */
export function topP(p: number, minKeep = 1): LogitsProcessor {
  return truncating(new TopP(p, minKeep));
}

/** Tokens with probability ≥ p × the top probability stay. */
export function minP(p: number, minKeep = 1): LogitsProcessor {
  return truncating(new MinP(p, minKeep));
}

/** XTC: with `probability` (a coin from `rng`), remove every token ≥ threshold but the least probable of them. */
export function xtc(probability: number, threshold: number, rng: Rng, minKeep = 1): LogitsProcessor {
  const step = new Xtc(probability, threshold, minKeep);
  const c = new Candidates();
  return (logits) => {
    c.fromRow(logits);
    step.apply(logits, c, rng);
    removeNonCandidates(logits, c);
  };
}

/** The CTRL repetition penalty over the last `window` tokens of history (positive logits / θ, others × θ). */
export function repetitionPenalty(penalty: number, window = Infinity): LogitsProcessor {
  return penalties({ repetition: penalty, window });
}

/** Repetition, frequency and presence penalties together, as llama.cpp's `penalties` step. */
export function penalties(options: { repetition?: number; frequency?: number; presence?: number; window?: number }): LogitsProcessor {
  const step = new Penalties(options.repetition ?? 1, options.frequency ?? 0, options.presence ?? 0, options.window ?? Infinity);
  return (logits, history) => {
    if (step.active) step.apply(logits, history);
  };
}

/** DRY: lowers the logit of each token that would extend a verbatim repetition (see dry.ts). */
export function dry(options: {
  multiplier: number; base?: number; allowedLength?: number; window?: number; breakers?: readonly (readonly number[])[];
}): LogitsProcessor {
  const step = new Dry(options.multiplier, options.base ?? 1.75, options.allowedLength ?? 2, options.window ?? Infinity, options.breakers ?? []);
  let checked = -1;
  return (logits, history) => {
    if (checked !== logits.length) {
      step.checkVocabulary(logits.length);
      checked = logits.length;
    }
    if (step.active) step.apply(logits, history);
  };
}

/** Adds a fixed bias to chosen tokens' logits (−Infinity bans them). */
export function logitBias(bias: LogitBiasInput): LogitsProcessor {
  const step = new LogitBias(bias);
  return (logits) => step.apply(logits);
}

/** Sets disallowed tokens (bit i of the bitset clear) to −Infinity. */
export function tokenMask(allowed: Uint32Array): LogitsProcessor {
  return (logits) => applyTokenMask(logits, allowed);
}

function truncating(step: { apply(row: Float32Array, c: Candidates): void }): LogitsProcessor {
  const c = new Candidates();
  return (logits) => {
    c.fromRow(logits);
    step.apply(logits, c);
    removeNonCandidates(logits, c);
  };
}

/** −Infinity for every token that is not a candidate (candidate ids are ascending). */
function removeNonCandidates(logits: Float32Array, c: Candidates): void {
  let next = 0;
  for (let j = 0; j < c.count; j++) {
    const id = c.ids[j];
    for (; next < id; next++) logits[next] = -Infinity;
    next = id + 1;
  }
  for (; next < logits.length; next++) logits[next] = -Infinity;
}
