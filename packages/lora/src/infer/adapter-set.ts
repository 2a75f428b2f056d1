import type { Backend } from "@zero-llm/tensor";
import type { Config } from "@zero-llm/transformer";
import type { LoraAdapter } from "../adapter";
import { weightDeltas } from "../deltas";
import { LoraError } from "../errors";

/** One adapter applied at a scale (llama.cpp's `--lora-scaled FILE SCALE`; default 1). */
export interface AdapterUse {
  readonly adapter: LoraAdapter;
  readonly scale?: number;
}

/**
 * One low-rank term of a weight, ready for the kernels: y[r] += scale · B·(A·x[r]).
 * A and B live in the backend's memory (copied once when the set is made), so the wasm
 * kernels read them in place.
 */
export interface LoraTerm {
  readonly rank: number;
  /** [rank, inFeatures] */
  readonly a: Float32Array;
  /** [outFeatures, rank] */
  readonly b: Float32Array;
  /** The use's scale times the adapter's scaling of the module. */
  readonly scale: number;
}

/**
 * Adapters resolved for one model: for each of our weights, the terms to add to its projection,
 * in the order the uses were given. Made once (checked against the model: BASE_MISMATCH names a
 * module that does not fit) and then switched per sequence for free.
 */
export class AdapterSet {
  /** The largest rank of any term (the router's scratch width). */
  readonly maxRank: number;

  constructor(
    readonly uses: readonly Required<AdapterUse>[],
    readonly terms: ReadonlyMap<string, readonly LoraTerm[]>,
    /** The model this set was made for. */
    readonly owner: object,
  ) {
    let maxRank = 0;
    for (const list of terms.values()) for (const t of list) maxRank = Math.max(maxRank, t.rank);
    this.maxRank = maxRank;
  }

  /** True when no adapter is in it: the base model. */
  get isEmpty(): boolean {
    return this.terms.size === 0;
  }

  /** Bytes of adapter matrices the set holds in backend memory. */
  get bytes(): number {
    let n = 0;
    const seen = new Set<Float32Array>();
    for (const list of this.terms.values()) {
      for (const t of list) {
        for (const x of [t.a, t.b]) {
          if (!seen.has(x)) n += x.byteLength;
          seen.add(x);
        }
      }
    }
    return n;
  }
}

/** Resolves `uses` for a model of `config` on `backend` (see AdapterSet). */
export function resolveAdapters(config: Config, backend: Backend, uses: readonly AdapterUse[], owner: object): AdapterSet {
  const byWeight = new Map<string, LoraTerm[]>();
  const resolved = uses.map((use, i): Required<AdapterUse> => {
    const scale = use.scale ?? 1;
    if (!Number.isFinite(scale)) throw new LoraError("BAD_CONFIG", `adapter ${i}: expected a finite scale, found ${scale}`);
    return { adapter: use.adapter, scale };
  });
  for (const { adapter, scale } of resolved) {
    // copies into backend memory; a fused module's A is copied once for its parts
    const copies = new Map<Float32Array, Float32Array>();
    const copy = (x: Float32Array): Float32Array => {
      const known = copies.get(x);
      if (known !== undefined) return known;
      const y = backend.allocF32(x.length);
      y.set(x);
      copies.set(x, y);
      return y;
    };
    for (const d of weightDeltas(config, adapter)) {
      const list = byWeight.get(d.weight) ?? [];
      list.push({ rank: d.rank, a: copy(d.a), b: copy(d.b), scale: scale * d.scaling });
      byWeight.set(d.weight, list);
    }
  }
  return new AdapterSet(resolved, byWeight, owner);
}
