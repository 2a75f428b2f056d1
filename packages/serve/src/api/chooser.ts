import { randomInt } from "node:crypto";
import { Logprobs, Sampler, type Constraint, type ConstraintState, type TokenLogprob } from "@zero-llm/sampling";
import type { TokenChooser } from "../engine/sequence";
import { ServeError } from "../errors";
import type { GenerationParams } from "./sampling";

/**
 * The TokenChooser of one choice of a request: @zero-llm/sampling's Sampler with the request's
 * settings and the choice's own seeded stream, the token mask of a constraint (response_format,
 * tools) applied as the chain's first step, and the chosen token's logprob.
 *
 * Per token:  mask ← constraint (where this choice stands in it)
 *             id   ← sampler.sample(logits, prompt + output, mask)
 *             logprob of id in the model's raw logits (when asked for)
 *             constraint.accept(id); complete when nothing but the end can follow
 */
export class RequestChooser implements TokenChooser {
  readonly seed: number;
  private readonly sampler: Sampler;
  private readonly logprobs: Logprobs | undefined;
  private readonly state: ConstraintState | undefined;
  private readonly mask: Uint32Array | undefined;
  /** The logprob of the last chosen token (when logprobs were asked for). */
  lastLogprob: TokenLogprob | undefined;
  /** The constraint is satisfied and nothing may follow: the output is finished. */
  complete = false;

  constructor(params: GenerationParams, choiceIndex: number, promptLength: number, private readonly constraint?: Constraint) {
    this.seed = params.seed === undefined ? randomInt(2 ** 32 - 1) : (params.seed + choiceIndex) >>> 0;
    try {
      // OpenAI's frequency and presence penalties count the output only: they start after the prompt
      this.sampler = new Sampler({ ...params.sampler, seed: this.seed, frequencyPresenceFrom: promptLength });
    } catch (e) {
      // the fields were range-checked already: a refusal here is a bug, reported as such
      throw new ServeError("internal_error", `sampler: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    this.logprobs = params.logprobs === undefined ? undefined : new Logprobs(params.logprobs);
    if (constraint) {
      this.state = constraint.initialState();
      this.mask = constraint.createMask();
    }
  }

  choose(logits: Float32Array, tokens: readonly number[]): number {
    const { constraint, state, mask } = this;
    if (constraint && state && mask) constraint.mask(state, mask);
    const id = this.sampler.sample(logits, tokens, mask);
    if (this.logprobs) {
      this.logprobs.compute(logits, id);
      this.lastLogprob = this.logprobs.entry();
    }
    if (constraint && state) {
      constraint.accept(state, id);
      this.complete = constraint.isComplete(state);
    }
    return id;
  }
}
