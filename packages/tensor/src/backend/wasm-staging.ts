import { TensorError } from "../errors";
import type { WasmHeap } from "./wasm-heap";

/** The length check every wasm kernel call makes on its arrays before anything is staged. */
export function need(name: string, array: Float32Array, length: number): void {
  if (array.length < length) {
    throw new TensorError("SHAPE_MISMATCH", `wasm ${name}: expected at least ${length} elements, found ${array.length}`);
  }
}

// Per-call staging for arrays outside wasm memory: each distinct array gets one scratch copy
// (so `out` aliasing an input stays aliased), outputs are copied back after the kernel.
// One instance serves every call (kernel calls never nest), and arrays already in wasm memory,
// the decode loop's only kind, touch neither the map nor the arena.
//
// The copies live in one arena that is bump-allocated per call and reset after it: no free
// list, no zero-fill (each copy is fully written before a kernel reads it; outputs not marked
// `readsToo` are fully written by the kernel). A call that does not fit takes one-off heap
// blocks and the arena grows to the high-water mark before the next call.
export class Staging {
  private readonly temps = new Map<Float32Array | Uint8Array, number>();
  private readonly outputs: Float32Array[] = [];
  private readonly byteOutputs: Uint8Array[] = [];
  private arena = 0;
  private arenaBytes = 0;
  private used = 0;
  private wanted = 0;
  private readonly overflow: number[] = [];

  constructor(private readonly heap: WasmHeap) {}

  in(array: Float32Array): number {
    if (this.heap.owns(array)) return array.byteOffset;
    let ptr = this.temps.get(array);
    if (ptr === undefined) {
      ptr = this.take(array.length * 4);
      this.heap.f32(ptr, array.length).set(array);
      this.temps.set(array, ptr);
    }
    return ptr;
  }

  /** A byte array the kernel only reads (quantized weights): in place when it lives in wasm memory, else copied in. */
  inBytes(array: Uint8Array): number {
    if (this.heap.owns(array)) return array.byteOffset;
    let ptr = this.temps.get(array);
    if (ptr === undefined) {
      ptr = this.take(array.length);
      new Uint8Array(this.heap.memory.buffer, ptr, array.length).set(array);
      this.temps.set(array, ptr);
    }
    return ptr;
  }

  /** A byte array the kernel writes in part (a KV cache's new rows): copied in and back when it lives outside wasm memory. */
  outBytes(array: Uint8Array): number {
    if (this.heap.owns(array)) return array.byteOffset;
    const ptr = this.inBytes(array);
    this.byteOutputs.push(array);
    return ptr;
  }

  /** An array the kernel writes; `readsToo` when its old contents matter (accumulate, in place). */
  out(array: Float32Array, readsToo: boolean): number {
    if (this.heap.owns(array)) return array.byteOffset;
    const known = this.temps.has(array);
    let ptr: number;
    if (readsToo || known) ptr = this.in(array);
    else {
      ptr = this.take(array.length * 4);
      this.temps.set(array, ptr);
    }
    this.outputs.push(array);
    return ptr;
  }

  /** Copies outputs back and resets the arena, leaving the staging empty for the next call. */
  done(): void {
    if (this.temps.size === 0) return;
    for (const array of this.outputs) array.set(this.heap.f32(this.temps.get(array) as number, array.length));
    for (const array of this.byteOutputs) array.set(new Uint8Array(this.heap.memory.buffer, this.temps.get(array), array.length));
    this.clear();
  }

  /** Forgets the copies of a call (also after one that threw before done()). */
  clear(): void {
    if (this.temps.size === 0 && this.overflow.length === 0) return;
    this.temps.clear();
    this.outputs.length = 0;
    this.byteOutputs.length = 0;
    for (const ptr of this.overflow) this.heap.release(ptr);
    this.overflow.length = 0;
    if (this.wanted > this.arenaBytes) {
      // grow to the largest call seen, with headroom, once
      if (this.arena) this.heap.release(this.arena);
      this.arenaBytes = Math.ceil((this.wanted * 1.25) / 65536) * 65536;
      this.arena = this.heap.alloc(this.arenaBytes);
    }
    this.used = 0;
    this.wanted = 0;
  }

  // 64-byte aligned, as every heap block, so SIMD rows and cache lines line up
  private take(bytes: number): number {
    const size = Math.ceil(Math.max(bytes, 1) / 64) * 64;
    this.wanted += size;
    if (this.used + size <= this.arenaBytes) {
      const ptr = this.arena + this.used;
      this.used += size;
      return ptr;
    }
    const ptr = this.heap.alloc(size);
    this.overflow.push(ptr);
    return ptr;
  }
}
