import { SamplingError } from "./errors";
import { Logprobs } from "./logprobs";

/**
 * What beam search needs from a model: advance a sequence state by one token and get the
 * logits of the next one, and copy a state (a KV cache) when a beam splits. @zero-llm/transformer
 * implements it with a KV cache per beam; tests use small Markov tables.
 */
export interface BeamSearchModel<State> {
  /** Appends `token` to `state` (in place) and returns the next token's logits (a view, valid until the next call). */
  step(state: State, token: number): Float32Array;
  /** An independent copy of `state`. */
  fork(state: State): State;
  /** Called for a state no beam uses any more (optional: free its memory). */
  release?(state: State): void;
}

export interface BeamSearchOptions {
  /** Beams kept at each step. */
  width: number;
  /** The most new tokens per hypothesis. */
  maxTokens: number;
  /** α in score = Σ ln p / length^α. 0 ranks by total log-probability (favours short outputs), 1 by the mean per token. Default 1 (Hugging Face). */
  lengthPenalty?: number;
  /** Token ids that finish a hypothesis (their log-probability counts, the id is not part of `tokens`). */
  eos?: readonly number[];
  /**
   * true: stop as soon as `width` hypotheses have finished. false (default, Hugging Face's
   * default): stop when no live beam, scored as if it ended now, beats the worst finished one.
   */
  earlyStopping?: boolean;
}

export interface BeamHypothesis {
  /** Generated ids (without the EOS that finished it). */
  readonly tokens: readonly number[];
  /** Σ ln p of the generated tokens, EOS included. */
  readonly logprob: number;
  /** logprob / length^α, length counting the EOS: what hypotheses are ranked by. */
  readonly score: number;
  /** Ended by EOS (false: cut by maxTokens). */
  readonly finished: boolean;
}

interface Beam<State> {
  tokens: number[];
  logprob: number;
  state: State;
  /** This beam's next-token logits (its own copy). */
  logits: Float32Array;
}

/**
 * Beam search (as Hugging Face's `num_beams` generation): keep the `width` most probable partial
 * sequences; at each step extend each by its 2·width most likely tokens, rank all extensions by
 * total log-probability, keep the best `width` that do not end, and set aside those that end in
 * EOS (ranked by the length-normalised score). Returns up to `width` hypotheses, best first.
 *
 * `start` is the state after the prompt and the logits it gave (a prefill). Deterministic: ties
 * go to the earlier beam, then the lower token id.
 */
export function beamSearch<State>(
  model: BeamSearchModel<State>, start: { state: State; logits: Float32Array }, options: BeamSearchOptions,
): BeamHypothesis[] {
  const { width, maxTokens } = options;
  const alpha = options.lengthPenalty ?? 1;
  const eos = new Set(options.eos ?? []);
  if (!Number.isInteger(width) || width < 1) throw new SamplingError("SAMPLING_BAD_OPTION", `width: expected an integer ≥ 1, found ${width}`);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new SamplingError("SAMPLING_BAD_OPTION", `maxTokens: expected an integer ≥ 1, found ${maxTokens}`);
  if (!Number.isFinite(alpha)) throw new SamplingError("SAMPLING_BAD_OPTION", `lengthPenalty: expected a finite number, found ${alpha}`);
  const score = (logprob: number, length: number): number => logprob / Math.pow(length, alpha);

  const candidatesPerBeam = new Logprobs(2 * width);
  let beams: Beam<State>[] = [{ tokens: [], logprob: 0, state: start.state, logits: Float32Array.from(start.logits) }];
  const finished: BeamHypothesis[] = [];
  const addFinished = (h: BeamHypothesis): void => {
    finished.push(h);
    finished.sort((a, b) => b.score - a.score);
    if (finished.length > width) finished.length = width;
  };

  for (let length = 1; length <= maxTokens && beams.length > 0; length++) {
    // every beam's best 2·width continuations, ranked together by total log-probability
    const extensions: { parent: number; token: number; logprob: number }[] = [];
    beams.forEach((beam, parent) => {
      candidatesPerBeam.compute(beam.logits, 0);
      for (let j = 0; j < candidatesPerBeam.count; j++) {
        extensions.push({ parent, token: candidatesPerBeam.topIds[j], logprob: beam.logprob + candidatesPerBeam.topLogprobs[j] });
      }
    });
    extensions.sort((a, b) => b.logprob - a.logprob || a.parent - b.parent || a.token - b.token);

    const chosen: typeof extensions = [];
    for (let rank = 0; rank < extensions.length && chosen.length < width; rank++) {
      const e = extensions[rank];
      if (eos.has(e.token)) {
        // as Hugging Face: an EOS counts only among the top `width` extensions
        if (rank < width) addFinished({ tokens: beams[e.parent].tokens, logprob: e.logprob, score: score(e.logprob, length), finished: true });
      } else {
        chosen.push(e);
      }
    }
    if (length === maxTokens) {
      for (const e of chosen) {
        addFinished({ tokens: [...beams[e.parent].tokens, e.token], logprob: e.logprob, score: score(e.logprob, length), finished: false });
      }
      break;
    }
    beams = advance(model, beams, chosen);
    if (isDone(beams, finished, width, length, options.earlyStopping ?? false, score)) break;
  }
  for (const beam of beams) model.release?.(beam.state);
  return finished;
}

/**
 * The next beams, in ranking order: each parent's state goes to its best child and the other
 * children get forks, all made before any state is stepped (a fork copies the parent as it is
 * now); parents without children are released.
 */
function advance<State>(
  model: BeamSearchModel<State>, beams: Beam<State>[], chosen: { parent: number; token: number; logprob: number }[],
): Beam<State>[] {
  const taken = new Set<number>();
  const states = chosen.map((e) => {
    if (taken.has(e.parent)) return model.fork(beams[e.parent].state);
    taken.add(e.parent);
    return beams[e.parent].state;
  });
  beams.forEach((beam, parent) => {
    if (!taken.has(parent)) model.release?.(beam.state);
  });
  return chosen.map((e, i) => ({
    tokens: [...beams[e.parent].tokens, e.token],
    logprob: e.logprob,
    state: states[i],
    logits: Float32Array.from(model.step(states[i], e.token)),
  }));
}

function isDone<State>(
  beams: Beam<State>[], finished: BeamHypothesis[], width: number, length: number, earlyStopping: boolean,
  score: (logprob: number, length: number) => number,
): boolean {
  if (beams.length === 0) return true;
  if (finished.length < width) return false;
  if (earlyStopping) return true;
  // Hugging Face's heuristic: the best live beam, scored as if it ended now, cannot beat the worst kept hypothesis
  const bestLive = Math.max(...beams.map((b) => b.logprob));
  return score(bestLive, length) <= finished[finished.length - 1].score;
}
