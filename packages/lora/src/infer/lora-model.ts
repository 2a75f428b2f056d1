import { F32Linear } from "@zero-llm/tensor";
import { Model, Weights, type BatchRowsListener, type KVCache, type KVCacheOptions, type PrefillOptions, type PrefillResult } from "@zero-llm/transformer";
import { LoraError } from "../errors";
import { linearModules } from "../modules";
import { AdaptedLinear, AdapterRouter } from "./adapted-linear";
import { AdapterSet, resolveAdapters, type AdapterUse } from "./adapter-set";

/**
 * A base model that runs LoRA adapters, each sequence with its own set, without touching the
 * base weights. It is a Model (generate, perplexity windows, the server's batching and `zllm
 * bench` take it as they are) over the base's weight arrays, shared, not copied: every
 * adaptable matrix is wrapped in an AdaptedLinear, whose projection adds the adapters routed to
 * each row.
 *
 *   const model = new LoraModel(base, [{ adapter: math, scale: 1 }]);   // default set for every cache
 *   model.useAdapters(cacheB, [{ adapter: poems, scale: 0.5 }]);         // this sequence: another set
 *   model.useAdapters(cacheC, []);                                       // this one: the base model
 *   model.decodeBatch([t0, t1, t2], [cacheA, cacheB, cacheC]);          // one pass, three adapter sets
 *
 * A cache's adapters are its sequence's: they stay with the cache until changed (a prefix
 * computed under one set must not be continued under another). With no adapter routed, a row's
 * logits are the base model's, bit for bit.
 */
export class LoraModel extends Model {
  /** The model whose weights this one reads. */
  readonly base: Model;
  private readonly router: AdapterRouter;
  private readonly perCache = new WeakMap<KVCache, AdapterSet>();
  /** The set of a cache that was given none. */
  defaultSet: AdapterSet;

  constructor(base: Model, adapters: readonly AdapterUse[] = []) {
    const { config, backend, maxBatchRows } = base;
    const widest = Math.max(config.dim, config.hiddenDim);
    const empty = new AdapterSet([], new Map(), base);
    const router = new AdapterRouter(backend, maxBatchRows, widest, empty);
    super(config, routedWeights(base, router), { backend, maxBatchRows });
    this.base = base;
    this.router = router;
    this.defaultSet = this.adapterSet(adapters);
  }

  /**
   * Adapters resolved for this model: checked against it (BASE_MISMATCH names a module that does
   * not fit) and copied into the backend's memory once. Reuse a set for every sequence that
   * runs the same adapters.
   */
  adapterSet(uses: readonly AdapterUse[]): AdapterSet {
    if (uses.length === 0) return this.router.empty;
    const set = resolveAdapters(this.config, this.backend, uses, this);
    this.router.reserveRank(set.maxRank);
    return set;
  }

  /** The adapters `cache`'s sequence runs with from now on ([] = the base model). */
  useAdapters(cache: KVCache, adapters: readonly AdapterUse[] | AdapterSet): void {
    const set = adapters instanceof AdapterSet ? adapters : this.adapterSet(adapters);
    if (set.owner !== this && !set.isEmpty) {
      throw new LoraError("BAD_CONFIG", "useAdapters: expected an AdapterSet made by this model's adapterSet(), found one made for another model");
    }
    this.perCache.set(cache, set);
  }

  /** A cache of the base model's kind: its element types (ModelOptions.cacheTypes) unless `options` says otherwise. */
  override newCache(options: KVCacheOptions = {}): KVCache {
    return this.base.newCache(options);
  }

  /** The set `cache` runs with: its own, or the default. */
  adaptersOf(cache: KVCache): AdapterSet {
    return this.perCache.get(cache) ?? this.defaultSet;
  }

  override decode(token: number, cache: KVCache): Float32Array {
    this.router.route(this.adaptersOf(cache));
    return super.decode(token, cache);
  }

  override prefill(tokens: ArrayLike<number>, cache: KVCache, options: PrefillOptions = {}): PrefillResult {
    this.router.route(this.adaptersOf(cache));
    return super.prefill(tokens, cache, options);
  }

  // (logitRows selects rows for the lm_head only, which no adapter targets: the routing stays per batch row)
  override decodeBatch(tokens: ArrayLike<number>, caches: readonly KVCache[], onRows?: BatchRowsListener, logitRows?: ArrayLike<number>): Float32Array {
    if (caches.length <= this.maxBatchRows) this.router.routeRows(caches.map((c) => this.adaptersOf(c)));
    return super.decodeBatch(tokens, caches, onRows, logitRows);
  }
}

/** `base`'s weights under the same names, every adaptable matrix wrapped; arrays shared, not copied. */
function routedWeights(base: Model, router: AdapterRouter): Weights {
  const { weights, config, backend } = base;
  const adaptable = new Set(linearModules(config).flatMap((m) => m.parts.map((p) => p.weight)));
  const out = new Weights();
  for (const name of weights.names()) {
    const stored = weights.linear(name);
    if (adaptable.has(name)) {
      const [outFeatures, inFeatures] = weights.shapeOf(name);
      const linear = stored ?? new F32Linear(weights.get(name).data, outFeatures ?? 0, inFeatures ?? 0, backend);
      out.setLinear(name, new AdaptedLinear(linear, name, router));
    } else if (stored) {
      out.setLinear(name, stored);
    } else {
      const { shape, data } = weights.get(name);
      out.set(name, shape, data);
    }
  }
  return out;
}

/** `base` running `adapters` for every sequence (a LoraModel with them as its default set). */
export function withAdapters(base: Model, adapters: readonly AdapterUse[]): LoraModel {
  return new LoraModel(base, adapters);
}
