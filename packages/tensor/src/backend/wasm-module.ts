/**
 * The kernel module's exports (assembly/index.ts). Pointers are byte addresses into the
 * backend's linear memory; sizes are element counts; booleans travel as 0/1.
 */
export interface KernelExports {
  softmax(out: number, x: number, rows: number, cols: number): void;
  rmsnorm(out: number, x: number, weight: number, rows: number, cols: number, eps: number): void;
  layernorm(out: number, x: number, weight: number, bias: number, rows: number, cols: number, eps: number): void;
  add(out: number, a: number, b: number, len: number): void;
  mul(out: number, a: number, b: number, len: number): void;
  silu(out: number, x: number, len: number): void;
  gelu(out: number, x: number, len: number): void;
  swiglu(out: number, gate: number, up: number, len: number): void;
  rope(x: number, seq: number, nHeads: number, headDim: number, pos0: number, table: number, interleaved: number): void;
  ropeBatch(x: number, rows: number, nHeads: number, headDim: number, positions: number, table: number, interleaved: number): void;
  attentionBatch(
    out: number, q: number, table: number, nHeads: number, nKvHeads: number, headDim: number, kvStride: number,
    r0: number, r1: number, scratch: number,
  ): void;
  matmul(
    c: number, a: number, b: number, m: number, k: number, n: number, flags: number, batch: number, bStride: number,
    t: number, nT: number, scratch: number,
  ): void;
  matvec(out: number, w: number, x: number, rows: number, cols: number, t: number, nT: number): void;
  linear(out: number, x: number, w: number, rows: number, k: number, n: number, t: number, nT: number, scratch: number): void;
  /** linear() of `count` weights over the same x: table holds count × [out, w, n] i32 (assembly/jobs.ts). */
  linearGroup(x: number, rows: number, k: number, table: number, count: number, t: number, nT: number, scratch: number): void;
  /** gate ← swiglu(Wg·x, Wu·x), up ← Wu·x over rows of x (assembly/jobs.ts). */
  linearSwiglu(
    x: number, rows: number, k: number, wGate: number, wUp: number, gate: number, up: number, n: number, t: number, nT: number, scratch: number,
  ): void;
  attention(
    out: number, q: number, k: number, v: number, probs: number,
    seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number, kvStride: number,
    t: number, nT: number, scratch: number,
  ): void;
  /** ggml type id `type` (1 f16, 2 q4_0, 3 q4_1, 8 q8_0, 12 q4_k); `a` is the input (f16) or its quantized rows. */
  matmulQuant(type: number, out: number, a: number, w: number, rows: number, k: number, n: number, t: number, nT: number, scratch: number): void;
  /** Quantizes `rows` rows of k floats at x into rows of activationRowBytes(type, k) at act; k bytes of scratch at tmp. */
  quantizeActivations(type: number, x: number, rows: number, k: number, act: number, tmp: number): void;
  activationRowBytes(type: number, k: number): number;
  attentionPacked(
    out: number, q: number, k: number, v: number, probs: number, kType: number, vType: number, kRowBytes: number, vRowBytes: number,
    seqQ: number, seqKv: number, nHeads: number, nKvHeads: number, headDim: number, t: number, nT: number, scratch: number,
  ): void;
  /** `rows` rows of rowLen floats at src into KV rows of ggml type `type` (0 f32, 1 f16, 8 q8_0, 2 q4_0, 3 q4_1), rowBytes apart at dst. */
  packKvRows(type: number, src: number, rows: number, rowLen: number, dst: number, rowBytes: number): void;
  /** Part `part` of a decode step's layers, rows cut by the descriptor at desc (assembly/decode-rows.ts). */
  decodeLayersPart(desc: number, part: number, scratch: number): void;
  runJob(ctrl: number, t: number, gen: number): void;
  /** Claims and runs one part of the job: its index, or −1 when none is left (assembly/jobs.ts). */
  runJobPart(ctrl: number, t: number, gen: number): number;
  // training kernels (assembly/train.ts); 0 is the "no array" pointer
  transpose(out: number, x: number, batch: number, rows: number, cols: number): void;
  gatherHeads(out: number, x: number, batch: number, seq: number, nSrc: number, nHeads: number, d: number): void;
  scatterHeadsAdd(g: number, x: number, batch: number, seq: number, nDst: number, group: number, d: number): void;
  axpy(out: number, x: number, alpha: number, len: number): void;
  mulAdd(out: number, a: number, b: number, len: number): void;
  scale(x: number, s: number, len: number): void;
  sumSquares(x: number, len: number): number;
  geluBackward(gx: number, x: number, dy: number, len: number): void;
  siluBackward(gx: number, x: number, dy: number, len: number): void;
  softmaxBackward(gx: number, y: number, dy: number, rows: number, cols: number, scale: number): void;
  layernormBackward(gx: number, gw: number, gb: number, x: number, w: number, dy: number, rows: number, cols: number, eps: number): void;
  rmsnormBackward(gx: number, gw: number, x: number, w: number, dy: number, rows: number, cols: number, eps: number): void;
  crossEntropyBackward(gz: number, z: number, lse: number, target: number, rows: number, cols: number, scale: number, smoothing: number): void;
  expSumRows(sum: number, max: number, z: number, rows: number, cols: number): void;
  adam(
    p: number, grad: number, m: number, v: number, len: number,
    beta1: number, beta2: number, eps: number, stepSize: number, c2: number, shrink: number, l2: number,
  ): void;
  readonly MATMUL_SCRATCH: WebAssembly.Global;
  readonly CTRL_BYTES: WebAssembly.Global;
  readonly MAX_THREADS: WebAssembly.Global;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  if (typeof atob === "function") {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }
  return Uint8Array.from(Buffer.from(text, "base64"));
}

/**
 * The base64 of each build of the kernel module (scripts/build-wasm.mjs), one generated module per
 * build, imported only when that build is asked for: the package's main bundle carries none of
 * the four (~160 KB each). Why it matters beyond the bytes: Node reads a module's file into a
 * buffer it frees after parsing, and glibc then raises its malloc trim threshold to twice the
 * largest buffer freed so far, for the whole process; the four in the main bundle (785 KB) made
 * every thread's malloc arena keep up to 1.5 MB of freed memory (V8's compiler threads' above
 * all), ~1.5 MB of a 15M quantized decode's peak (quant MEASUREMENTS.md, "Peak resident memory").
 */
const KERNEL_BUILDS: Record<string, () => Promise<{ KERNELS_WASM_BASE64_PARTS: string[] }>> = {
  "true/false": () => import("./generated/kernels-wasm-shared"),
  "false/false": () => import("./generated/kernels-wasm-unshared"),
  "true/true": () => import("./generated/kernels-wasm-shared-relaxed"),
  "false/true": () => import("./generated/kernels-wasm-unshared-relaxed"),
};

/** The bytes of the kernel module for a shared or a plain memory, with or without relaxed SIMD. */
export async function kernelModuleBytes(shared: boolean, relaxed: boolean): Promise<Uint8Array<ArrayBuffer>> {
  const { KERNELS_WASM_BASE64_PARTS } = await KERNEL_BUILDS[`${shared}/${relaxed}`]();
  return decodeBase64(KERNELS_WASM_BASE64_PARTS.join(""));
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/**
 * The compiled kernel module for a shared or a plain memory, built with or without relaxed SIMD
 * (compiled once per process).
 */
export function kernelModule(shared: boolean, relaxed: boolean): Promise<WebAssembly.Module> {
  const key = `${shared}/${relaxed}`;
  let module = compiled.get(key);
  if (!module) {
    module = kernelModuleBytes(shared, relaxed).then((bytes) => WebAssembly.compile(bytes));
    compiled.set(key, module);
  }
  return module;
}

// The smallest module that uses the relaxed-SIMD dot product: () -> v128, three v128.const 0
// and i32x4.relaxed_dot_i8x16_i7x16_add_s (opcode 0xfd 0x113).
const RELAXED_BODY = [0x00, ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array<number>(16).fill(0)]), 0xfd, 0x93, 0x02, 0x0b];
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, RELAXED_BODY.length + 2, 0x01, RELAXED_BODY.length, ...RELAXED_BODY, // its code
]);

let relaxedSupport: boolean | undefined;

/**
 * Whether this engine accepts relaxed SIMD. Browsers with it ship it on (Chrome 114+, Firefox
 * 120+); Node 20's V8 has it behind --experimental-wasm-relaxed-simd, which is switched on here
 * when the module is otherwise refused (V8 flags are process-wide, so worker threads see it too).
 */
export function relaxedSimdSupported(): boolean {
  if (relaxedSupport !== undefined) return relaxedSupport;
  relaxedSupport = WebAssembly.validate(RELAXED_PROBE);
  if (!relaxedSupport) {
    const node = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const v8 = node?.getBuiltinModule?.("node:v8") as { setFlagsFromString?: (flags: string) => void } | undefined;
    try {
      v8?.setFlagsFromString?.("--experimental-wasm-relaxed-simd");
      relaxedSupport = WebAssembly.validate(RELAXED_PROBE);
    } catch {
      relaxedSupport = false;
    }
  }
  return relaxedSupport;
}

/**
 * Imports: the memory, and the host Math functions the module names ("Math.sqrt" today, for
 * attention's 1/√headDim; exp is a polynomial in the kernels, rope's angles a host-built table).
 * Built from the module's own import list, as the workers do, so the two cannot drift apart.
 */
export function kernelImports(module: WebAssembly.Module, memory: WebAssembly.Memory): WebAssembly.Imports {
  const env: Record<string, WebAssembly.ImportValue> = { memory };
  const host = Math as unknown as Record<string, (...args: number[]) => number>;
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (from === "env" && kind === "function" && name.startsWith("Math.")) env[name] = host[name.slice(5)];
  }
  return { env };
}

/** Whether this environment can create shared WebAssembly memory (needs cross-origin isolation in browsers). */
export function sharedMemorySupported(): boolean {
  if (typeof SharedArrayBuffer === "undefined") return false;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}
