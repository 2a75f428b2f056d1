import type { Rng } from "@zero-llm/tensor";
import { SamplingError } from "../errors";
import { Sampler, type SamplerOptions } from "../sampler";
import { drawFrom, type Drafter } from "./model";

/**
 * Speculative sampling's acceptance rule (Leviathan et al. 2023, "Fast inference from
 * transformers via speculative decoding"; Chen et al. 2023), which makes the output follow the
 * target's distribution exactly, whatever the draft:
 *
 *   for each draft token d (drawn from the draft's q), with p the target's distribution there:
 *     accept d with probability min(1, p(d) / q(d))
 *     on the first rejection emit x ~ norm(max(0, p − q)) instead, and stop
 *   if all K are accepted, emit one bonus token x ~ p after the last
 *
 * p and q are the distributions the samplers draw from (after penalties, truncation and
 * temperature), so the exactness covers every setting. With temperature 0, p puts 1 on the
 * target's argmax, and the rule reduces to "accept while the argmax agrees, then emit the
 * argmax": the output equals plain greedy decoding. A certain proposal (prompt lookup, greedy
 * drafting) has q(d) = 1: d is accepted with probability p(d), and the replacement is drawn from
 * p without d.
 */
export class SpeculativeVerifier {
  /** The target's distribution at the current position. */
  private readonly p: Float64Array;
  private readonly residual: Float64Array;
  private readonly row: Float32Array;
  private readonly u = new Float64Array(1);
  /** The token emitted after the accepted drafts (the correction, or the bonus). */
  next = -1;

  constructor(readonly vocabSize: number, private readonly sampler: Sampler, private readonly rng: Rng) {
    this.p = new Float64Array(vocabSize);
    this.residual = new Float64Array(vocabSize);
    this.row = new Float32Array(vocabSize);
  }

  /**
   * rows: the target's logits [k + 1, vocab] for [last, d₁ … d_k]; the drafts and their q from
   * `drafter`; `history`: the committed tokens (extended by the drafts while judging, then
   * restored). Returns how many drafts were accepted; the token after them is in `next`.
   */
  verify(rows: Float32Array, k: number, drafter: Drafter, history: number[]): number {
    const V = this.vocabSize;
    const { p, residual, u } = this;
    const q = drafter.probs;
    const committed = history.length;
    let accepted = 0;
    try {
      for (; accepted < k; accepted++) {
        this.targetDistribution(rows, accepted, history);
        const d = drafter.tokens[accepted];
        const qd = q === null ? 1 : q[accepted * V + d];
        this.rng.uniformInto(u, 0);
        // u < p(d)/q(d), written without the division (q(d) > 0: d was drawn from q)
        if (u[0] * qd < p[d]) {
          history.push(d);
          continue;
        }
        // rejected: the replacement comes from the positive part of p − q
        let total = 0;
        for (let x = 0; x < V; x++) {
          const r = p[x] - (q === null ? (x === d ? 1 : 0) : q[accepted * V + x]);
          residual[x] = r > 0 ? r : 0;
          total += residual[x];
        }
        this.rng.uniformInto(u, 0);
        // total > 0 whenever p(d) < q(d); only rounding could leave nothing, and then p itself is the answer
        this.next = total > 0 ? drawFrom(residual, 0, V, u, total) : drawFrom(p, 0, V, u);
        return accepted;
      }
      // every draft accepted: one more token from the target's last row
      this.targetDistribution(rows, k, history);
      this.rng.uniformInto(u, 0);
      this.next = drawFrom(p, 0, V, u);
      return k;
    } finally {
      history.length = committed;
    }
  }

  /** p = the target sampler's distribution for logits row i, given the history so far. */
  private targetDistribution(rows: Float32Array, i: number, history: readonly number[]): void {
    const V = this.vocabSize;
    // copied, not viewed: a subarray is an allocation per row
    for (let x = 0, o = i * V; x < V; x++) this.row[x] = rows[o + x];
    this.sampler.probabilities(this.p, this.row, history);
  }
}

/**
 * A Sampler whose distribution is a function of the logits (and history) alone: the acceptance
 * rule compares two such distributions. XTC (a coin per token) and Mirostat (μ carried from token
 * to token) are refused here, before generation.
 */
export function fixedDistributionSampler(options: SamplerOptions, name: string): Sampler {
  if ((options.xtcProbability ?? 0) > 0 || (options.mirostat ?? 0) !== 0) {
    throw new SamplingError(
      "SAMPLING_BAD_OPTION",
      `${name}: expected settings whose distribution depends on the logits only (no XTC, no Mirostat) for speculative decoding, found ${
        (options.mirostat ?? 0) !== 0 ? `mirostat ${options.mirostat}` : `xtcProbability ${options.xtcProbability}`}`,
    );
  }
  return new Sampler(options);
}
