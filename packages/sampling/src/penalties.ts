import { SamplingError } from "./errors";

/**
 * The steps before truncation that rewrite logits: the token mask (constrained decoding), the
 * logit bias, and the repetition / frequency / presence penalties. Each touches only the tokens
 * it names (the mask's disallowed ones, the biased ids, the ids in the history window), so its
 * cost does not grow with the vocabulary.
 */

/**
 * A token mask from a constraint (`packages/sampling/src/constrain/`): a bitset over the
 * vocabulary, bit (i & 31) of word i >> 5 set when token i is allowed. Disallowed tokens get
 * −Infinity. Applied first, so every later step (and the truncations' probabilities) sees only
 * tokens the constraint allows: the output follows the model's distribution restricted to them.
 */
export function applyTokenMask(row: Float32Array, allowed: Uint32Array): void {
  const words = (row.length + 31) >>> 5;
  if (allowed.length < words) {
    throw new SamplingError(
      "SAMPLING_BAD_TOKEN",
      `token mask: expected at least ${words} words (one bit per token of a ${row.length}-token vocabulary), found ${allowed.length}`,
    );
  }
  for (let w = 0; w < words; w++) {
    const bits = allowed[w];
    if (bits === 0xffffffff) continue;
    const base = w << 5;
    const end = Math.min(32, row.length - base);
    for (let b = 0; b < end; b++) if (((bits >>> b) & 1) === 0) row[base + b] = -Infinity;
  }
}

/** Token id → bias added to its logit: a Map, or an object keyed by id (as OpenAI's `logit_bias`). */
export type LogitBiasInput = ReadonlyMap<number, number> | Readonly<Record<number, number>>;

/**
 * llama.cpp `logit_bias` / OpenAI `logit_bias`: a fixed number added to chosen tokens' logits;
 * −Infinity bans a token. Checked once: ids are integers ≥ 0, biases finite or −Infinity.
 */
export class LogitBias {
  readonly ids: Int32Array;
  readonly biases: Float64Array;

  constructor(bias: LogitBiasInput) {
    const entries: [number, number][] = bias instanceof Map
      ? [...(bias as ReadonlyMap<number, number>).entries()]
      : Object.entries(bias).map(([k, v]) => [Number(k), v as number]);
    this.ids = new Int32Array(entries.length);
    this.biases = new Float64Array(entries.length);
    entries.forEach(([id, value], i) => {
      if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
        throw new SamplingError("SAMPLING_BAD_OPTION", `logitBias: expected token ids that are integers ≥ 0, found ${id}`);
      }
      if (typeof value !== "number" || !(Number.isFinite(value) || value === -Infinity)) {
        throw new SamplingError("SAMPLING_BAD_OPTION", `logitBias[${id}]: expected a finite number or -Infinity (ban), found ${String(value)}`);
      }
      this.ids[i] = id;
      this.biases[i] = value;
    });
  }

  apply(row: Float32Array): void {
    const { ids, biases } = this;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] >= row.length) badId("logitBias", ids[i], row.length);
      row[ids[i]] += biases[i];
    }
  }
}

/**
 * llama.cpp `penalties`, over the last `window` tokens of the history (prompt included, as
 * llama.cpp feeds the prompt to its sampler), for each distinct id there with count c:
 *
 *   repetition (CTRL, Keskar et al. 2019): logit > 0 → logit / θ, else logit · θ — always less likely
 *   frequency and presence (OpenAI):       logit −= c · α_frequency + (c > 0) · α_presence
 *
 * The counts live in a vocabulary-sized array that is cleared again after each call, so a call
 * costs O(window), not O(vocabulary).
 */
export class Penalties {
  private counts = new Int32Array(0);

  constructor(
    readonly repetition: number,
    readonly frequency: number,
    readonly presence: number,
    readonly window: number,
  ) {}

  get active(): boolean {
    return this.window > 0 && (this.repetition !== 1 || this.frequency !== 0 || this.presence !== 0);
  }

  apply(row: Float32Array, history: ArrayLike<number>): void {
    if (this.counts.length !== row.length) this.counts = new Int32Array(row.length);
    const counts = this.counts;
    // an integer start even when window is Infinity (a double index would make history[i] a
    // generic, allocating lookup)
    const start = this.window >= history.length ? 0 : history.length - this.window;
    for (let i = start; i < history.length; i++) {
      const id = history[i];
      if (!(id >= 0 && id < row.length && (id | 0) === id)) badId("history", id, row.length, i);
      counts[id]++;
    }
    for (let i = start; i < history.length; i++) {
      const id = history[i];
      const c = counts[id];
      if (c === 0) continue; // already penalised (an id is penalised once, with its full count)
      counts[id] = 0;
      let logit = row[id];
      logit = logit <= 0 ? logit * this.repetition : logit / this.repetition;
      row[id] = logit - (c * this.frequency + this.presence);
    }
  }
}

export function badId(what: string, id: number, vocab: number, index?: number): never {
  const where = index === undefined ? "" : ` at index ${index}`;
  throw new SamplingError("SAMPLING_BAD_TOKEN", `${what}: expected token ids in [0, ${vocab}), found ${id}${where}`);
}
