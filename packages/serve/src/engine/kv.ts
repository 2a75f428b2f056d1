import type { Backend } from "@zero-llm/tensor";
import { KV_CHUNK_POSITIONS, type KVCache, type KVStore, type Model } from "@zero-llm/transformer";
import { ServeError } from "../errors";

/**
 * What the engine does to KV caches beyond the model's own use of them: measure a position's
 * bytes, copy a prefix from one sequence's cache to another's (the prefix cache), and hand a
 * cache's memory back at once (a cancelled request).
 */

/** Bytes one position takes in a cache of `model` (K and V of every layer), measured on a small probe cache. */
export function kvBytesPerPosition(model: Model): number {
  const positions = 16;
  const probe = model.newCache({ capacity: Math.min(positions, model.config.seqLen) });
  const bytes = probe.bytes() / probe.capacity;
  releaseCache(probe, model.backend);
  return bytes;
}

/**
 * Copies positions [0, n) of every layer's K and V from `src` into the empty cache `dst` and marks
 * them filled. A store that keeps plain f32 rows is copied in one block; any other store goes
 * through its readRows/write, a chunk of positions at a time.
 */
export function copyPrefix(src: KVCache, dst: KVCache, n: number): void {
  if (dst.length !== 0 || n > src.length || n > dst.capacity) {
    throw new ServeError("internal_error", `copyPrefix: expected an empty destination of ≥ ${n} positions and a source holding ${n}, found ${dst.length} filled of ${dst.capacity}, source ${src.length}`);
  }
  if (n === 0) return;
  let scratch: Float32Array | undefined;
  const copy = (from: KVStore, to: KVStore): void => {
    const rowLen = from.rowLen;
    if (from.f32Rows && to.f32Rows) {
      to.f32Rows.set(from.f32Rows.subarray(0, n * rowLen));
      return;
    }
    if (from.packed && to.packed && from.packed.type === to.packed.type) {
      // a quantized cache: its packed rows as they are (unpacking and packing again could round)
      const rowBytes = from.packed.bytes.length / from.capacity;
      to.packed.bytes.set(from.packed.bytes.subarray(0, n * rowBytes));
      return;
    }
    scratch ??= new Float32Array(KV_CHUNK_POSITIONS * rowLen);
    for (let p = 0; p < n; p += KV_CHUNK_POSITIONS) {
      const rows = Math.min(KV_CHUNK_POSITIONS, n - p);
      from.readRows(p, rows, scratch, 0);
      to.write(p, scratch, 0, rows);
    }
  };
  for (let l = 0; l < src.layers.length; l++) {
    const a = src.layers[l];
    const b = dst.layers[l];
    copy(a.k, b.k);
    copy(a.v, b.v);
  }
  dst.advance(n);
}

interface FreeingBackend {
  free(array: Float32Array | Uint8Array): void;
}

function canFree(backend: Backend): backend is Backend & FreeingBackend {
  return typeof (backend as Partial<FreeingBackend>).free === "function";
}

/**
 * Returns a cache's memory now. The wasm backend's stores are handed back to its allocator
 * (`free`): an f32 store's rows, a packed store's bytes (its own allocation; an f32 store's
 * `packed` is only a view of its rows). Packed stores used to wait for the garbage collector, so
 * a server with a quantized KV cache took each new request's cache from fresh, page-faulting
 * memory until a collection ran. On the js backend the memory goes when the cache is
 * unreachable, so the caller must drop every reference.
 */
export function releaseCache(cache: KVCache, backend: Backend): void {
  if (!canFree(backend)) return;
  for (const { k, v } of cache.layers) {
    freeStore(k, backend);
    freeStore(v, backend);
  }
}

function freeStore(store: KVStore, backend: FreeingBackend): void {
  if (store.f32Rows) backend.free(store.f32Rows);
  else if (store.packed) backend.free(store.packed.bytes);
}
