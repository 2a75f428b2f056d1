import { Tensor, getBackend } from "@zero-llm/tensor";
import type { Backend } from "@zero-llm/tensor";
import { AutogradError } from "../errors";

/**
 * Where the engine's buffers live.
 *
 * Outside a scratch scope every op output and gradient is a plain GC-owned Float32Array, so a
 * graph's memory is reclaimed as soon as nothing references it (backend kernels accept any
 * Float32Array; the wasm backend copies foreign arrays in and out around each call).
 *
 * Inside `scratchScope(fn)` (a training step: forward, backward, optimizer update) everything
 * short-lived is cut from one block of the backend's own memory (`allocF32`: wasm linear memory
 * for the wasm backend, so kernels read and write it in place, with no copies) by bumping a
 * pointer, and the whole block is handed back in one go when fn returns. Nothing is freed one
 * by one and the garbage collector never sees the activations. What must outlive the step —
 * parameters, their gradients, optimizer moments — is allocated with `persistentF32`.
 */

const ALIGN = 16; // floats: 64 bytes, a cache line, so SIMD rows never straddle two arrays

class Scratch {
  private blocks: Float32Array[] = [];
  private used = 0;
  /** Floats requested in this scope, the size the single block should have next time. */
  private wanted = 0;

  constructor(readonly backend: Backend) {}

  take(length: number, zeroed: boolean): Float32Array {
    const size = Math.ceil(Math.max(length, 1) / ALIGN) * ALIGN;
    this.wanted += size;
    let block = this.blocks[this.blocks.length - 1];
    if (block === undefined || this.used + size > block.length) {
      // a new block for the rest of this scope; reset() merges them into one for the next
      block = this.backend.allocF32(Math.max(size, block === undefined ? 1 << 20 : block.length));
      this.blocks.push(block);
      this.used = 0;
    }
    const out = block.subarray(this.used, this.used + length);
    this.used += size;
    if (zeroed) out.fill(0);
    return out;
  }

  /** Forget every buffer of the scope; size one block for everything the scope asked for. */
  reset(): void {
    if (this.blocks.length > 1) {
      this.release();
      this.blocks = [this.backend.allocF32(Math.ceil((this.wanted * 1.25) / ALIGN) * ALIGN)];
    }
    this.used = 0;
    this.wanted = 0;
  }

  release(): void {
    const free = (this.backend as Backend & { free?: (array: Float32Array) => void }).free;
    if (free) for (const block of this.blocks) free.call(this.backend, block);
    this.blocks = [];
  }

  get bytes(): number {
    return this.blocks.reduce((n, b) => n + b.byteLength, 0);
  }
}

let scratch: Scratch | null = null;
let scratchDepth = 0;

/** True while a scratch scope is open: new buffers are step-local. */
export function inScratchScope(): boolean {
  return scratchDepth > 0;
}

/**
 * Run `fn` with every buffer the engine creates for op outputs, interior gradients and backward
 * temporaries cut from one reusable block of backend memory, all released when fn returns.
 * Vars created inside are invalid afterwards: read what you need (`loss.item()`) inside.
 * Parameters' gradients are not step-local (they go to `persistentF32`), so an optimizer step
 * can run inside or after the scope. Scopes nest; the outermost one releases.
 */
export function scratchScope<T>(fn: () => T): T {
  const backend = getBackend();
  if (scratch === null || scratch.backend !== backend) {
    if (scratchDepth > 0) {
      throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", "scratchScope: expected the same backend for a whole scope, found setBackend() called inside one");
    }
    scratch?.release();
    scratch = new Scratch(backend);
  }
  scratchDepth++;
  try {
    return fn();
  } finally {
    scratchDepth--;
    if (scratchDepth === 0) scratch.reset();
  }
}

/** Bytes of backend memory the scratch scopes currently hold between steps (constant once warm). */
export function scratchBytes(): number {
  return scratch?.bytes ?? 0;
}

/**
 * A buffer of `length` floats: step-local inside a scratch scope, GC-owned outside. Zero-filled
 * unless `zeroed` is false, which the caller may pass only when it writes every element before
 * anything reads one (inside a scope the memory is reused, so it holds an earlier step's values).
 */
export function emptyF32(length: number, zeroed = true): Float32Array {
  return scratchDepth > 0 && scratch !== null ? scratch.take(length, zeroed) : new Float32Array(length);
}

/** A zero-filled buffer that outlives any scope, in the backend's memory (kernels use it in place). */
export function persistentF32(length: number): Float32Array {
  return getBackend().allocF32(length);
}

/** A tensor over `emptyF32` (see there for `zeroed`). */
export function emptyTensor(shape: readonly number[], zeroed = true): Tensor {
  let n = 1;
  for (const d of shape) n *= d;
  return new Tensor(emptyF32(n, zeroed), shape);
}
