// The wasm backend under the Tensor ops: non-contiguous inputs (transposed and sliced views)
// reach the kernels through the ops' own contiguous copies, and every result must match the
// same op on the js reference backend.
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  Generator, attention, getBackend, matmul, randn, rmsNorm, ones, rope, setBackend, softmax, transpose,
} from "../src/index";
import type { Backend, Tensor } from "../src/index";
import { createWasmBackend } from "../src/backend/index";
import type { WasmBackend } from "../src/backend/index";
import { expectClose } from "./backend-helpers";

function onBoth(js: Backend, wasm: Backend, op: () => Tensor): [Float32Array, Float32Array] {
  setBackend(js);
  const expected = op().data.slice();
  setBackend(wasm);
  const actual = op().data.slice();
  setBackend(js);
  return [actual, expected];
}

describe.each([1, 2])("Tensor ops on the wasm backend, %i thread(s)", (threads) => {
  let wasm: WasmBackend;
  let js: Backend;
  beforeAll(async () => {
    js = getBackend();
    wasm = await createWasmBackend({ threads });
  });
  afterAll(async () => {
    setBackend(js);
    await wasm.dispose();
  });

  it("matmul of transposed views", () => {
    const g = new Generator(5);
    const a = randn([70, 33], g), b = randn([45, 70], g);
    // aᵀ [33,70] · bᵀ [70,45]: both operands are strided views
    const [actual, expected] = onBoth(js, wasm, () => matmul(transpose(a, 0, 1), transpose(b, 0, 1)));
    expectClose(actual, expected, 1e-4, 1e-5);
  });

  it("softmax over a non-last axis, rmsnorm, rope and attention on views", () => {
    const g = new Generator(6);
    const x = randn([9, 31], g);
    let [actual, expected] = onBoth(js, wasm, () => softmax(transpose(x, 0, 1), -1));
    expectClose(actual, expected, 1e-8, 2e-6);
    [actual, expected] = onBoth(js, wasm, () => rmsNorm(transpose(x, 0, 1), ones([9]), 1e-5));
    expectClose(actual, expected, 1e-6, 2e-6);
    const q = randn([6, 4, 16], g), k = randn([6, 2, 16], g), v = randn([6, 2, 16], g);
    [actual, expected] = onBoth(js, wasm, () =>
      attention(rope(q, "half", { pos0: 3 }), rope(k, "half", { pos0: 3 }), transpose(transpose(v, 0, 1), 0, 1)));
    expectClose(actual, expected, 1e-6, 2e-6);
  });
});
