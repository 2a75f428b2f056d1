import type { WeightDelta } from "@zero-llm/lora";
import { Rng, Tensor, matmul, mul } from "@zero-llm/tensor";
import type { Tokenizer } from "@zero-llm/tokenizer-bpe";
import { generate, type KVCache, type Model } from "@zero-llm/transformer";

/**
 * The LoRA page's logic, shared by its worker and the tests.
 *
 * The shipped adapter (models/addition-lora, tools/train-addition-lora.mjs) teaches the embedded
 * model two-digit addition in one template, "Q: 23 + 48 = ? A: 71". Its recipe split the 8,100
 * ordered pairs of 10…99 with a seeded shuffle and held the first 810 out of training; the page
 * measures on those held-out pairs, drawn the same way, so every answer it scores is one the
 * adapter never saw.
 */
export const ADAPTER_DIR = "models/addition-lora";
const OPERANDS = [10, 99] as const;
const HELD_OUT = 810;
const SPLIT_SEED = 42;

export const question = (a: number, b: number): string => `Q: ${a} + ${b} = ? A:`;

/** The first `count` held-out pairs of the adapter's recipe (the same shuffle, the same Rng). */
export function heldOutPairs(count: number): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  for (let a = OPERANDS[0]; a <= OPERANDS[1]; a++) for (let b = OPERANDS[0]; b <= OPERANDS[1]; b++) pairs.push([a, b]);
  const g = new Rng(SPLIT_SEED);
  for (let i = pairs.length - 1; i > 0; i--) {
    const j = g.int(i + 1);
    [pairs[i], pairs[j]] = [pairs[j], pairs[i]];
  }
  return pairs.slice(0, Math.min(count, HELD_OUT));
}

/**
 * The continuation that answers a prompt in the adapter's template ("Q: a + b = ? A:" → " 71"),
 * or, when the prompt already ends with the answer's leading space, its digits ("… A: " → "71");
 * null for any other prompt. (The tokenizer splits " 71" into " ", "7", "1": after "A:" the first
 * answer token is always the space, so the first digit is where the adapter's knowledge shows.)
 */
export function expectedAnswer(prompt: string): string | null {
  const m = /^Q: (\d+) \+ (\d+) = \? A:( ?)$/.exec(prompt);
  if (!m) return null;
  const sum = String(Number(m[1]) + Number(m[2]));
  return m[3] === " " ? sum : ` ${sum}`;
}

/**
 * log P(answer | prompt) = Σ log p(answerᵢ | prompt, answer<ᵢ): the answer's tokens read by the
 * model after the prompt (teacher forcing), one prefill with every position's logits kept.
 */
export function answerLogProbability(model: Model, promptIds: readonly number[], answerIds: readonly number[], cache: KVCache = model.newCache()): number {
  const V = model.config.vocabSize;
  const ids = [...promptIds, ...answerIds.slice(0, -1)];
  const rows = new Float32Array(ids.length * V);
  cache.reset();
  model.prefill(ids, cache, { allLogits: rows });
  let logP = 0;
  answerIds.forEach((id, i) => {
    const p = softmax(rows.subarray((promptIds.length - 1 + i) * V, (promptIds.length + i) * V));
    logP += Math.log(p[id]);
  });
  return logP;
}

/**
 * One adapted layer's update, as the math writes it:
 *
 *   ΔW = (α/r) · B · A        B [out, r]   A [r, in]   ΔW [out, in]
 *
 * computed with @zero-llm/tensor's matmul (the merge does the same product in place).
 */
export function deltaWeight(delta: WeightDelta): Tensor {
  const B = new Tensor(delta.b, [delta.outFeatures, delta.rank]);
  const A = new Tensor(delta.a, [delta.rank, delta.inFeatures]);
  return mul(matmul(B, A), delta.scaling);
}

export function frobenius(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}

/**
 * Greedy answer (up to 5 tokens, stopping at eos), as text: the recipe's exact-match rule.
 * `cache` (emptied first) is reused rather than a new one allocated per question: a worker's
 * wasm memory only gets a dropped cache back after a garbage collection.
 */
export function answer(model: Model, tokenizer: Tokenizer, bos: number, eos: number, prompt: string, cache?: KVCache): string {
  cache?.reset();
  const ids = [...generate(model, [bos, ...tokenizer.encode(prompt)], { maxTokens: 5, eos: [eos], ...(cache ? { cache } : {}) })];
  return tokenizer.decode(ids.filter((id) => id !== eos));
}

/** softmax(logits) in float64. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

/** KL(p ‖ q) in nats: how far the adapted distribution q moved from the base's p. */
export function klDivergence(p: Float64Array, q: Float64Array): number {
  let kl = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) kl += p[i] * Math.log(p[i] / q[i]);
  return kl;
}
