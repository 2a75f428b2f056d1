import type { Rng } from "@zero-llm/tensor";
import type { Candidates } from "./candidates";

const LN2 = 0.6931471805599453;

/**
 * Mirostat 2.0 (Basu et al. 2021, "Mirostat: a neural text decoding algorithm that directly
 * controls perplexity"), as llama.cpp's `mirostat_v2`: instead of fixed truncations, keep a
 * running bound μ on surprise (−log₂ p) and steer it so that the surprise of the emitted tokens
 * averages τ:
 *
 *   keep the tokens with −log₂ p ≤ μ (at least the most probable) → renormalise → draw
 *   μ ← μ − η · (−log₂ p'(drawn) − τ)          (p' the renormalised probability; μ starts at 2τ)
 *
 * It replaces top-k … XTC; the penalties, bias, DRY and mask before it still apply (llama.cpp's
 * common chain skips them under mirostat; here they are not truncations, so they stay). The
 * probabilities are those at the sampler's temperature, as llama.cpp applies temperature first
 * in its mirostat chain.
 */
export class MirostatV2 {
  /** [0] = μ, the current surprise bound (in an array so the double is never boxed). */
  readonly mu = new Float64Array(1);
  private readonly u = new Float64Array(1);

  constructor(readonly tau: number, readonly eta: number) {
    this.reset();
  }

  reset(): void {
    this.mu[0] = 2 * this.tau;
  }

  /** Draws a token from the candidates at temperature 1/scale[0] (scale[0] = Infinity: greedy) and updates μ. */
  sample(row: Float32Array, c: Candidates, scale: Float64Array, rng: Rng): number {
    const invT = scale[0];
    if (invT === Infinity) {
      // temperature 0 leaves one token with probability 1: surprise 0
      this.mu[0] -= this.eta * (0 - this.tau);
      return c.argmax(row);
    }
    c.softmax(row, scale);
    const { ids, probs, kept, last } = c;
    const count = c.count;
    // −log₂ p_j ≤ μ  ⇔  ln p_j = (logit_j − max)·invT − ln Z ≥ −μ·ln 2
    const bound = last[1] - this.mu[0] * LN2;
    const max = last[0];
    let best = 0; // the most probable candidate (lowest id among equals)
    let passed = 0;
    for (let j = 0; j < count; j++) {
      if (probs[j] > probs[best]) best = j;
      if ((row[ids[j]] - max) * invT >= bound) {
        kept[j] = 1;
        passed++;
      }
    }
    // the least surprising token passes whenever any does, so keeping it always is "at least one"
    kept[best] = 1;
    c.compact();
    // renormalise over the survivors (nothing to do when μ let every token through, as it does
    // once a peaked distribution has pushed μ above every token's surprise)
    if (passed < count) c.softmax(row, scale);
    rng.uniformInto(this.u, 0);
    const id = c.draw(this.u, 0);
    const lnP = (row[id] - last[0]) * invT - last[1];
    this.mu[0] -= this.eta * (-lnP / LN2 - this.tau);
    return id;
  }
}
