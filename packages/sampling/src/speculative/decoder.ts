import { Rng } from "@zero-llm/tensor";
import { SamplingError } from "../errors";
import type { Sampler, SamplerOptions } from "../sampler";
import type { Drafter, SpeculativeModel } from "./model";
import { SpeculativeVerifier, fixedDistributionSampler } from "./verify";

export interface SpeculativeOptions {
  /** The target's sampling settings: the output follows exactly this distribution. Default: greedy. */
  sampling?: SamplerOptions;
  /** Most draft tokens verified per target pass (llama.cpp's --draft-max). Default 16. */
  draftMax?: number;
  /** A proposal shorter than this is not used; that round decodes one token plainly (--draft-min). Default 0. */
  draftMin?: number;
  /** Stop after this many new tokens. Default 256. */
  maxTokens?: number;
  /** Token ids that end generation (not yielded). */
  eos?: readonly number[];
}

export interface SpeculativeStats {
  promptTokens: number;
  generatedTokens: number;
  /** Draft tokens proposed and verified. */
  draftTokens: number;
  /** Draft tokens the target accepted. */
  acceptedDraftTokens: number;
  /** Target forward passes (one per round: the drafts and the token after them). */
  targetPasses: number;
  stopReason: "eos" | "maxTokens" | "contextFull" | "running";
}

/**
 * Exact speculative decoding: each round the drafter proposes up to draftMax tokens, the target
 * scores them all in one forward pass, the acceptance rule (verify.ts) keeps a prefix and adds
 * one token of its own, and the target's cache is rewound to what was kept. Every round emits at
 * least one token; the output's distribution is the target's (with greedy sampling: the very
 * tokens plain decoding gives), whatever the drafter proposes. Iterate it once; `stats` fills in
 * as it runs.
 *
 *   const run = speculativeGenerate(target, new PromptLookupDrafter(3), promptIds, { sampling: { temperature: 0 } });
 *   for (const id of run) process.stdout.write(decode([id]));
 *   console.log(run.stats.acceptedDraftTokens / run.stats.draftTokens);
 */
export function speculativeGenerate(
  target: SpeculativeModel, drafter: Drafter, prompt: ArrayLike<number>, options: SpeculativeOptions = {},
): SpeculativeGeneration {
  return new SpeculativeGeneration(target, drafter, prompt, options);
}

export class SpeculativeGeneration implements Iterable<number> {
  readonly stats: SpeculativeStats = {
    promptTokens: 0, generatedTokens: 0, draftTokens: 0, acceptedDraftTokens: 0, targetPasses: 0, stopReason: "running",
  };
  /** Prompt and generated ids so far. */
  readonly tokens: number[];
  private readonly sampler: Sampler;
  private readonly rng: Rng;
  private readonly draftMax: number;
  private readonly draftMin: number;
  private readonly maxTokens: number;
  private readonly eos: ReadonlySet<number>;
  private started = false;

  constructor(
    private readonly target: SpeculativeModel,
    private readonly drafter: Drafter,
    prompt: ArrayLike<number>,
    options: SpeculativeOptions,
  ) {
    const V = target.vocabSize;
    if (drafter.vocabSize !== undefined && drafter.vocabSize !== V) {
      throw new SamplingError(
        "SAMPLING_VOCAB_MISMATCH",
        `draft model: expected the target's vocabulary of ${V} tokens, found ${drafter.vocabSize}`,
      );
    }
    this.draftMax = options.draftMax ?? 16;
    this.draftMin = options.draftMin ?? 0;
    this.maxTokens = options.maxTokens ?? 256;
    for (const [name, value] of [["draftMax", this.draftMax], ["draftMin", this.draftMin], ["maxTokens", this.maxTokens]] as const) {
      if (!Number.isInteger(value) || value < 0) throw new SamplingError("SAMPLING_BAD_OPTION", `${name}: expected an integer ≥ 0, found ${value}`);
    }
    if (prompt.length === 0) throw new SamplingError("SAMPLING_BAD_TOKEN", "prompt: expected at least 1 token, found 0");
    this.tokens = Array.from(prompt);
    this.tokens.forEach((id, i) => {
      if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new SamplingError("SAMPLING_BAD_TOKEN", `prompt: expected token ids in [0, ${V}), found ${id} at index ${i}`);
    });
    if (target.length !== 0) {
      throw new SamplingError("SAMPLING_BAD_STATE", `target: expected an empty cache to start from, found ${target.length} positions`);
    }
    const sampling = { temperature: 0, ...options.sampling };
    this.sampler = fixedDistributionSampler(sampling, "sampling");
    this.rng = new Rng(sampling.seed ?? 0);
    this.eos = new Set(options.eos ?? []);
  }

  *[Symbol.iterator](): Iterator<number> {
    if (this.started) throw new SamplingError("SAMPLING_BAD_STATE", "speculativeGenerate: a generation can be iterated only once");
    this.started = true;
    const { target, drafter, tokens, stats } = this;
    const verifier = new SpeculativeVerifier(target.vocabSize, this.sampler, this.rng);
    const batch = new Int32Array(this.draftMax + 1);
    stats.promptTokens = tokens.length;
    // the cache holds every committed token but the last
    if (tokens.length > target.capacity) {
      stats.stopReason = "contextFull";
      return;
    }
    if (tokens.length > 1) target.prefill(tokens.slice(0, -1));
    if (this.maxTokens === 0) {
      stats.stopReason = "maxTokens";
      return;
    }

    for (;;) {
      const n = tokens.length;
      // the pass appends [last, d₁ … d_k] to the n − 1 cached positions: n + k ≤ capacity
      if (n > target.capacity) {
        stats.stopReason = "contextFull";
        return;
      }
      const room = Math.min(this.draftMax, this.maxTokens - stats.generatedTokens - 1, target.capacity - n);
      let k = room > 0 ? Math.min(drafter.propose(tokens, room), room) : 0;
      if (k < this.draftMin) k = 0;
      batch[0] = tokens[n - 1];
      for (let i = 0; i < k; i++) batch[i + 1] = drafter.tokens[i];
      const rows = target.verify(k === this.draftMax ? batch : batch.subarray(0, k + 1));
      stats.targetPasses++;
      const accepted = verifier.verify(rows, k, drafter, tokens);
      stats.draftTokens += k;
      stats.acceptedDraftTokens += accepted;
      target.rewind(n + accepted);

      for (let i = 0; i <= accepted; i++) {
        const id = i < accepted ? drafter.tokens[i] : verifier.next;
        if (this.eos.has(id)) {
          stats.stopReason = "eos";
          return;
        }
        tokens.push(id);
        stats.generatedTokens++;
        yield id;
        if (stats.generatedTokens >= this.maxTokens) {
          stats.stopReason = "maxTokens";
          return;
        }
      }
    }
  }
}
