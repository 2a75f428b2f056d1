import type { KVCache } from "@zero-llm/transformer";

/**
 * The prefix cache: KV caches of finished sequences kept for reuse. A new prompt that starts with
 * the same tokens (the next turn of a chat, a shared system prompt) copies those positions' keys
 * and values instead of recomputing them. Positions depend only on the tokens before them (causal
 * attention), so a shared prefix has exactly the same K and V whichever sequence computed it.
 *
 * Entries are found by a linear scan comparing token ids: with tens of entries of a few thousand
 * tokens that is microseconds next to a forward pass (a radix tree, as SGLang keeps, pays off
 * with thousands). They count against the engine's KV budget and are evicted least recently used
 * first when a new sequence needs the room.
 */
export interface PrefixSource {
  /** Token ids; the first `cache.length` of them have their K and V in `cache`. */
  readonly tokens: readonly number[];
  readonly cache: KVCache;
  /**
   * Which weights computed the entries: "" for the model's own, an adapter's name for
   * "model+adapter" (the same tokens give other keys and values under an adapter, so entries are
   * shared only within one variant). Default "".
   */
  readonly variant?: string;
}

interface Entry extends PrefixSource {
  lastUsed: number;
  /** The cache's bytes, taken once when kept (a cache's allocation never changes size). */
  readonly bytes: number;
}

/** How many leading positions of `source`'s cache hold exactly `prompt`'s first tokens, computed by the weights `variant`. */
export function commonPrefix(source: PrefixSource, prompt: readonly number[], variant = ""): number {
  if ((source.variant ?? "") !== variant) return 0;
  const limit = Math.min(source.cache.length, source.tokens.length, prompt.length);
  let n = 0;
  while (n < limit && source.tokens[n] === prompt[n]) n++;
  return n;
}

export class PrefixCache {
  private readonly entries: Entry[] = [];
  private clock = 0;
  // The entries' bytes, kept as they come and go: admission reads it once per eviction, and summing
  // a few hundred caches' stores each time cost ~2 µs per generated token at 32 streams (serve20).
  private heldBytes = 0;

  constructor(private readonly release: (cache: KVCache) => void) {}

  get size(): number {
    return this.entries.length;
  }

  bytes(): number {
    return this.heldBytes;
  }

  /** The entry sharing the longest prefix with `prompt` (touched as recently used), or undefined. */
  longest(prompt: readonly number[], variant = ""): { source: PrefixSource; length: number } | undefined {
    let best: { source: Entry; length: number } | undefined;
    for (const entry of this.entries) {
      const length = commonPrefix(entry, prompt, variant);
      if (length > 0 && (!best || length > best.length)) best = { source: entry, length };
    }
    if (best) best.source.lastUsed = ++this.clock;
    return best;
  }

  /**
   * Keeps a finished sequence's cache. An entry whose tokens are a prefix of the new one's is
   * dropped (the new entry serves every prompt it served); a new entry that an existing one
   * already covers is released instead of kept.
   */
  add(tokens: readonly number[], cache: KVCache, variant = ""): void {
    const filled = tokens.slice(0, cache.length);
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      if ((entry.variant ?? "") !== variant) continue;
      const shared = commonPrefix(entry, filled, variant);
      if (shared === filled.length && entry.cache.length >= filled.length) {
        entry.lastUsed = ++this.clock;
        this.release(cache);
        return;
      }
      if (shared === entry.cache.length) this.remove(i);
    }
    const bytes = cache.bytes();
    this.entries.push({ tokens: filled, cache, variant, lastUsed: ++this.clock, bytes });
    this.heldBytes += bytes;
  }

  /** Releases the least recently used entry; false when there is none. */
  evictOne(): boolean {
    if (this.entries.length === 0) return false;
    let oldest = 0;
    for (let i = 1; i < this.entries.length; i++) if (this.entries[i].lastUsed < this.entries[oldest].lastUsed) oldest = i;
    this.remove(oldest);
    return true;
  }

  private remove(i: number): void {
    const [entry] = this.entries.splice(i, 1);
    this.heldBytes -= entry.bytes;
    this.release(entry.cache);
  }

  clear(): void {
    while (this.evictOne());
  }
}
