import { speculativeGenerate, type SpeculativeGeneration, type SpeculativeModel, type SpeculativeOptions, type Drafter, type ConstraintState } from "@zero-llm/sampling";
import type { GenerateStats } from "./generate";
import type { ModelSequence } from "./sequence";

/**
 * `generate` with a draft: @zero-llm/sampling's speculative loop (draft → one batched verify →
 * acceptance rule → rewind) over the model's sequence, with generate's clock and stats. The
 * loop itself lives in sampling, beside the acceptance rule it implements; this is the thin
 * adapter that times it.
 */
export class SpeculativeRun {
  private readonly run: SpeculativeGeneration;
  private readonly timed: TimedPrefill;

  constructor(target: ModelSequence, drafter: Drafter, prompt: readonly number[], options: SpeculativeOptions) {
    this.timed = new TimedPrefill(target);
    this.run = speculativeGenerate(this.timed, drafter, prompt, options);
  }

  get constraintState(): ConstraintState | undefined {
    return this.run.constraintState;
  }

  /** Yields the run's tokens, appending them to `history` and filling `stats` as they come. */
  *tokens(stats: GenerateStats, history: number[], now: () => number): Generator<number> {
    const { run, timed } = this;
    timed.now = now;
    const t0 = now();
    const tokens = run[Symbol.iterator]();
    for (;;) {
      const ts = now();
      const promptMsBefore = timed.ms;
      const step = tokens.next();
      // the first call prefills the prompt (all but its last token, which goes with the first drafts)
      const spent = now() - ts - (timed.ms - promptMsBefore);
      stats.promptTokens = run.stats.promptTokens;
      stats.promptMs = timed.ms;
      stats.promptTokensPerSecond = perSecond(timed.tokens, timed.ms);
      stats.generateMs += spent;
      stats.generatedTokens = run.stats.generatedTokens;
      stats.targetPasses = run.stats.targetPasses;
      stats.draftTokens = run.stats.draftTokens;
      stats.acceptedDraftTokens = run.stats.acceptedDraftTokens;
      stats.generateTokensPerSecond = perSecond(stats.generatedTokens, stats.generateMs);
      if (step.done === true) {
        stats.stopReason = run.stats.stopReason;
        return;
      }
      if (stats.generatedTokens === 1) stats.timeToFirstTokenMs = now() - t0;
      history.push(step.value);
      yield step.value;
    }
  }
}

/** The target's sequence with its prefill timed (the prompt's share of the work). */
class TimedPrefill implements SpeculativeModel {
  now: () => number = () => performance.now();
  /** Prefill wall time and tokens so far. */
  ms = 0;
  tokens = 0;

  constructor(private readonly sequence: ModelSequence) {}

  get vocabSize(): number {
    return this.sequence.vocabSize;
  }

  get length(): number {
    return this.sequence.length;
  }

  get capacity(): number {
    return this.sequence.capacity;
  }

  prefill(tokens: ArrayLike<number>): void {
    const t = this.now();
    this.sequence.prefill(tokens);
    this.ms += this.now() - t;
    this.tokens += tokens.length;
  }

  verify(tokens: ArrayLike<number>): Float32Array {
    return this.sequence.verify(tokens);
  }

  rewind(length: number): void {
    this.sequence.rewind(length);
  }
}

function perSecond(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}
