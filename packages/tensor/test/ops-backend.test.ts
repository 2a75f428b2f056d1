// Dispatch: the hot kernels go through the current backend, and tensor storage comes from its
// allocator. A recording backend (the js reference plus a call log and an arena allocator,
// like wasm linear memory) shows which calls an op makes and where its memory lives.
import { afterEach, describe, expect, it } from "vitest";
import {
  add, attention, gelu, getBackend, jsBackend, layerNorm, linear, matmul, mul, ones, randn, rmsNorm, rope, setBackend,
  silu, softmax, swiglu, tensor, Rng,
} from "../src/index";
import type { Backend } from "../src/index";

interface Recording {
  backend: Backend;
  calls: string[];
  arena: ArrayBuffer;
  matmulOpts: Array<Record<string, unknown> | undefined>;
}

function recordingBackend(): Recording {
  const calls: string[] = [];
  const matmulOpts: Array<Record<string, unknown> | undefined> = [];
  const arena = new ArrayBuffer(1 << 20);
  let next = 0;
  const backend: Backend = {
    ...jsBackend,
    allocF32(length) {
      const view = new Float32Array(arena, next, length);
      next += length * 4;
      return view;
    },
    matmul(out, a, b, m, k, n, opts) {
      calls.push("matmul");
      matmulOpts.push(opts);
      jsBackend.matmul(out, a, b, m, k, n, opts);
    },
  };
  for (const name of ["softmax", "rmsnorm", "layernorm", "rope", "attention", "add", "mul", "silu", "gelu", "swiglu"] as const) {
    const kernel = jsBackend[name] as (...args: unknown[]) => void;
    (backend as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      calls.push(name);
      kernel(...args);
    };
  }
  return { backend, calls, arena, matmulOpts };
}

afterEach(() => setBackend(jsBackend));

describe("backend dispatch", () => {
  it("defaults to the js reference", () => {
    expect(getBackend().name).toBe("js");
  });

  it("allocates tensor storage from the current backend", () => {
    const rec = recordingBackend();
    setBackend(rec.backend);
    const t = tensor([1, 2, 3]);
    const y = t.add(1);
    expect(t.storage.buffer).toBe(rec.arena);
    expect(y.storage.buffer).toBe(rec.arena);
  });

  it("sends each hot kernel to the backend", () => {
    const g = new Rng(5);
    const x = randn([3, 8], g), w = ones([8]);
    const q = randn([4, 4, 8], g), k = randn([4, 2, 8], g);
    const rec = recordingBackend();
    setBackend(rec.backend);
    const expected: Array<[string, () => unknown]> = [
      ["matmul", () => matmul(x, x.T)],
      ["softmax", () => softmax(x)],
      ["rmsnorm", () => rmsNorm(x, w)],
      ["layernorm", () => layerNorm(x, w)],
      ["rope", () => rope(q, "half")],
      ["attention", () => attention(q, k, k)],
      ["add", () => add(x, x)],
      ["mul", () => mul(x, x)],
      ["silu", () => silu(x)],
      ["gelu", () => gelu(x)],
      ["swiglu", () => swiglu(x, x)],
    ];
    for (const [kernel, run] of expected) {
      rec.calls.length = 0;
      run();
      expect(rec.calls, kernel).toEqual([kernel]);
    }
  });

  it("broadcasting add stays in TS (the backend add takes equal-length arrays only)", () => {
    const rec = recordingBackend();
    setBackend(rec.backend);
    add(ones([3, 4]), ones([4]));
    add(ones([4, 3]).T, ones([3, 4])); // same shape but one side is strided
    expect(rec.calls).toEqual([]);
  });

  it("linear reads an nn.Linear weight [out, in] in place with transB, one call for all batches", () => {
    const g = new Rng(6);
    const x = randn([2, 5, 8], g), w = randn([3, 8], g);
    const rec = recordingBackend();
    setBackend(rec.backend);
    const y = linear(x, w);
    expect(y.shape).toEqual([2, 5, 3]);
    expect(rec.calls).toEqual(["matmul"]);
    expect(rec.matmulOpts[0]).toMatchObject({ transB: true, batch: 2, bBatchStride: 0 });
    // same numbers as the explicit contiguous transpose
    setBackend(jsBackend);
    const ref = matmul(x, w.T.contiguous());
    expect(Array.from(y.data)).toEqual(Array.from(ref.data));
  });
});
