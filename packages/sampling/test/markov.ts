// Small deterministic test models: fixed tables of next-token logits indexed by the previous
// token (a Markov chain). They are real models of a tiny language, not mocks: beam search and
// speculative decoding are checked against exhaustive enumeration and exact probabilities on them.
import { Rng } from "@zero-llm/tensor";
import type { BeamSearchModel, SpeculativeModel } from "../src/index";

/** A first-order Markov model: logits of the next token given the last one (or `start` for none). */
export class MarkovTable {
  constructor(readonly vocab: number, readonly rows: Float32Array[], readonly start: Float32Array) {}

  /** Random logits with spread `scale` (larger: more peaked). */
  static random(vocab: number, seed: number, scale = 2): MarkovTable {
    const rng = new Rng(seed);
    const row = (): Float32Array => new Float32Array(vocab).map(() => scale * rng.normal());
    return new MarkovTable(vocab, Array.from({ length: vocab }, row), row());
  }

  /** From probabilities (rows[i] = p(next | last = i)); −Infinity logits for zeros. */
  static fromProbs(rows: number[][], start: number[]): MarkovTable {
    const logits = (p: number[]): Float32Array => new Float32Array(p.map(Math.log));
    return new MarkovTable(start.length, rows.map(logits), logits(start));
  }

  logitsAfter(tokens: readonly number[]): Float32Array {
    return tokens.length === 0 ? this.start : this.rows[tokens[tokens.length - 1]];
  }

  /** ln p(next | tokens). */
  logprob(tokens: readonly number[], next: number): number {
    const l = this.logitsAfter(tokens);
    const max = Math.max(...l);
    const z = l.reduce((s, v) => s + Math.exp(v - max), 0);
    return l[next] - max - Math.log(z);
  }
}

/** The table as a beam-search model: a state is the token list. */
export function beamModel(table: MarkovTable): BeamSearchModel<number[]> & { forks: number; steps: number } {
  const m = {
    forks: 0,
    steps: 0,
    step(state: number[], token: number): Float32Array {
      m.steps++;
      state.push(token);
      return table.logitsAfter(state);
    },
    fork(state: number[]): number[] {
      m.forks++;
      return state.slice();
    },
  };
  return m;
}

/** The table as a speculative-decoding model: the "KV cache" is the token list. */
export class MarkovModel implements SpeculativeModel {
  readonly cache: number[] = [];
  passes = 0;
  private out = new Float32Array(0);

  constructor(readonly table: MarkovTable, readonly capacity = 1 << 20) {}

  get vocabSize(): number {
    return this.table.vocab;
  }

  get length(): number {
    return this.cache.length;
  }

  prefill(tokens: ArrayLike<number>): void {
    for (let i = 0; i < tokens.length; i++) this.cache.push(tokens[i]);
    this.check();
  }

  verify(tokens: ArrayLike<number>): Float32Array {
    const V = this.table.vocab;
    if (this.out.length < tokens.length * V) this.out = new Float32Array(tokens.length * V);
    this.passes++;
    for (let i = 0; i < tokens.length; i++) {
      this.cache.push(tokens[i]);
      this.out.set(this.table.logitsAfter(this.cache), i * V);
    }
    this.check();
    return this.out.subarray(0, tokens.length * V);
  }

  rewind(length: number): void {
    if (length > this.cache.length) throw new Error(`rewind to ${length} past ${this.cache.length}`);
    this.cache.length = length;
  }

  private check(): void {
    if (this.cache.length > this.capacity) throw new Error(`cache overflow: ${this.cache.length} > ${this.capacity}`);
  }
}
