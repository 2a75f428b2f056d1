import type { Sampler} from "@zero-llm/sampling";
import { ModelDrafter, type ConstrainedPosition, type Drafter } from "@zero-llm/sampling";
import { ModelSequence, type Model } from "@zero-llm/transformer";

/**
 * Speculative decoding as the transformer runs it (`generate(model, prompt, { draft })`: one
 * batched verify pass per round over the model's own sequence, the acceptance rule of
 * @zero-llm/sampling), watched from the drafter's side so that the page can colour each round:
 * a round starts when the loop asks the drafter for a proposal, and every token the generation
 * yields until the next proposal belongs to it.
 *
 *   round:  drafts d₁ … d_k        emitted e₁ … e_{a+1}
 *           e_i = d_i for i ≤ a    (accepted: the target agreed)
 *           e_{a+1}                (the target's own token: a correction where d_{a+1} was
 *                                   rejected, or the bonus when every draft was accepted)
 *
 * No draft token that the target rejected is ever emitted (under sampling, the correction is
 * drawn from the residual max(0, p − q), which gives a certain draft's token probability 0), so
 * the accepted count is the common prefix of the drafts and the emitted tokens.
 */
export interface Round {
  drafts: number[];
  emitted: number[];
}

export class RecordingDrafter implements Drafter {
  readonly rounds: Round[] = [];
  readonly vocabSize?: number;

  constructor(private readonly inner: Drafter) {
    if (inner.vocabSize !== undefined) this.vocabSize = inner.vocabSize;
  }

  get tokens(): Int32Array {
    return this.inner.tokens;
  }

  get probs(): Float64Array | null {
    return this.inner.probs;
  }

  propose(sequence: readonly number[], max: number, constrained?: ConstrainedPosition): number {
    const k = Math.min(this.inner.propose(sequence, max, constrained), max);
    this.rounds.push({ drafts: Array.from(this.inner.tokens.subarray(0, k)), emitted: [] });
    return k;
  }

  /**
   * A token the generation yielded: it belongs to the latest round, unless that round is over
   * (it already emitted the target's own token). The loop does not ask the drafter when there is
   * no room for a draft (one token left to generate, or the context full): that pass is a round
   * of its own with no drafts.
   */
  emitted(id: number): void {
    let round = this.rounds.at(-1);
    if (round === undefined || roundOver(round)) {
      round = { drafts: [], emitted: [] };
      this.rounds.push(round);
    }
    round.emitted.push(id);
  }
}

/** A round is over once it emitted a token that is not its next draft (or one past its drafts). */
function roundOver(round: Round): boolean {
  const n = round.emitted.length;
  return n > 0 && (n > round.drafts.length || round.emitted[n - 1] !== round.drafts[n - 1]);
}

/** How many of the round's drafts the target accepted. */
export function acceptedCount(round: Round): number {
  let a = 0;
  while (a < round.drafts.length && a < round.emitted.length && round.drafts[a] === round.emitted[a]) a++;
  return a;
}

/**
 * A draft model as `generate` builds one from a Model (greedy through the target's chain at
 * temperature 0, from its own cache as long as the target's), so that it can be wrapped.
 */
export function modelDrafter(draft: Model, target: Model, sampler: Sampler): ModelDrafter {
  const cache = draft.newCache({ capacity: target.config.seqLen });
  return new ModelDrafter(new ModelSequence(draft, cache), { sampling: { ...sampler.options, temperature: 0 } });
}
