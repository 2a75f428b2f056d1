import type { KVCache, Model } from "@zero-llm/transformer";
import { ServeError } from "../errors";
import { copyPrefix, releaseCache } from "./kv";
import { PrefixCache, commonPrefix, type PrefixSource } from "./prefix-cache";

/**
 * The engine's KV memory: a byte budget shared by the caches of running sequences and the prefix
 * cache. A sequence gets a cache of exactly the positions it can use, allocated when it is
 * admitted and released (or kept as a prefix) the moment it ends; the budget is what admission
 * checks, so memory never exceeds it.
 */
export class KvPool {
  private readonly prefixes: PrefixCache;
  private runningBytes = 0;

  constructor(
    private readonly model: Model,
    /** Bytes of one position (kvBytesPerPosition). */
    readonly bytesPerPosition: number,
    /** The budget in bytes. */
    readonly capacityBytes: number,
    /** Keep finished caches for reuse as prefixes. */
    readonly prefixCache: boolean,
    private readonly onError: (error: unknown) => void,
    /** A draft model (speculative decoding): each sequence also holds a cache of it, counted in the budget. */
    private readonly draft?: { readonly model: Model; readonly bytesPerPosition: number },
  ) {
    this.prefixes = new PrefixCache((cache) => releaseCache(cache, model.backend));
  }

  /** Bytes held: running sequences plus the prefix cache. */
  get heldBytes(): number {
    return this.runningBytes + this.prefixes.bytes();
  }

  get prefixBytes(): number {
    return this.prefixes.bytes();
  }

  /**
   * A cache of `positions` positions if its bytes fit the budget, evicting prefix entries least
   * recently used first (the entry `prompt` would reuse is marked used first, so it goes last);
   * null when it does not fit even then. Throws the backend's error when the allocation fails.
   */
  allocate(positions: number, prompt?: readonly number[], variant = ""): KVCache | null {
    const need = positions * (this.bytesPerPosition + (this.draft?.bytesPerPosition ?? 0));
    if (prompt && this.prefixCache) this.prefixes.longest(prompt, variant);
    while (this.heldBytes + need > this.capacityBytes) {
      if (!this.prefixes.evictOne()) return null;
    }
    const cache = this.model.newCache({ capacity: positions });
    this.runningBytes += cache.bytes();
    return cache;
  }

  /** The draft model's cache of a sequence just given `positions` by allocate() (which counted its bytes in). */
  allocateDraft(positions: number): KVCache | null {
    if (!this.draft) return null;
    const cache = this.draft.model.newCache({ capacity: positions });
    this.runningBytes += cache.bytes();
    return cache;
  }

  /** Gives a draft cache back to the allocator at once (drafts are never kept as prefixes). */
  releaseDraft(cache: KVCache): void {
    if (!this.draft) return;
    this.runningBytes -= cache.bytes();
    releaseCache(cache, this.draft.model.backend);
  }

  /**
   * Copies into the empty `cache` the longest prefix of `prompt` computed by the same weights
   * (`variant`) held by the prefix cache or by a running sequence (requests that arrive together with a shared system prompt), leaving at
   * least the last prompt token to compute (its logits choose the first new token). Returns the
   * positions copied.
   */
  reusePrefix(cache: KVCache, prompt: readonly number[], running: readonly PrefixSource[], variant = ""): number {
    if (!this.prefixCache) return 0;
    let best: { source: PrefixSource; length: number } | undefined = this.prefixes.longest(prompt, variant);
    for (const source of running) {
      if (source.cache === cache) continue;
      const length = commonPrefix(source, prompt, variant);
      if (length > (best?.length ?? 0)) best = { source, length };
    }
    const reuse = Math.min(best?.length ?? 0, prompt.length - 1);
    if (!best || reuse <= 0) return 0;
    copyPrefix(best.source.cache, cache, reuse);
    return reuse;
  }

  /**
   * Gives a running sequence's cache back: kept in the prefix cache under `tokens` (trimmed to
   * the positions it filled when that saves room), or released to the allocator at once.
   */
  release(cache: KVCache, keepAs?: readonly number[], variant = ""): void {
    this.runningBytes -= cache.bytes();
    if (!keepAs || !this.prefixCache || cache.length === 0) {
      releaseCache(cache, this.model.backend);
      return;
    }
    let kept = cache;
    if (cache.capacity > 2 * cache.length) {
      try {
        kept = this.model.newCache({ capacity: cache.length });
      } catch (e) {
        // no room for the trimmed copy: keep nothing rather than fail the sequence that just ended
        releaseCache(cache, this.model.backend);
        this.onError(e);
        return;
      }
      copyPrefix(cache, kept, cache.length);
      releaseCache(cache, this.model.backend);
    }
    this.prefixes.add(keepAs, kept, variant);
  }

  /** Empties the prefix cache. */
  clear(): void {
    this.prefixes.clear();
  }

  /** Checks the budget can hold one sequence of `positions`. */
  checkHolds(positions: number, what: string): void {
    const perPosition = this.bytesPerPosition + (this.draft?.bytesPerPosition ?? 0);
    const bytes = positions * perPosition;
    if (!(this.capacityBytes >= bytes)) {
      throw new ServeError(
        "invalid_option",
        `kvCapacityBytes: expected at least ${what} (${positions} positions × ${perPosition} bytes${this.draft ? ", the draft model's included" : ""} = ${bytes}), found ${this.capacityBytes}`,
      );
    }
  }
}
