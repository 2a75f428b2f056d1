// Factories, joins, indexing and masks, checked against values worked out by hand
// (each is a few lines of torch semantics; the comments give the torch call).
import { describe, expect, it } from "vitest";
import {
  arange, argmax, chunk, concat, embedding, f32ToF16, fromBf16, fromF16, full, indexTensor, ones, split, stack,
  tensor, where, zeros,
} from "../src/index";

describe("factories", () => {
  it("arange follows torch.arange: ceil((end - start) / step) values", () => {
    expect(Array.from(arange(5).data)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(arange(2, 8, 3).data)).toEqual([2, 5]);
    expect(Array.from(arange(1, 0, -0.25).data)).toEqual([1, 0.75, 0.5, 0.25]);
    expect(arange(3, 3).shape).toEqual([0]);
  });

  it("zeros, ones, full and nested tensors", () => {
    expect(zeros([2, 2]).toArray()).toEqual([[0, 0], [0, 0]]);
    expect(ones([3]).toArray()).toEqual([1, 1, 1]);
    expect(full([1, 2], -2.5).toArray()).toEqual([[-2.5, -2.5]]);
    expect(tensor([[[1], [2]], [[3], [4]]]).shape).toEqual([2, 2, 1]);
    expect(tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(zeros([0, 3]).size).toBe(0);
  });

  it("f16 / bf16 decode and encode through the dtype helpers", () => {
    const values = [0, 1, -2, 0.5, 65504, 1 / 3];
    const bits = Uint16Array.from(values.map((v) => f32ToF16(v)));
    const t = fromF16(bits, [2, 3]);
    expect(t.get(1, 1)).toBe(65504);
    expect(t.get(1, 2)).toBeCloseTo(1 / 3, 3);
    expect(Array.from(t.toF16())).toEqual(Array.from(bits));
    const b = tensor([1, -3.5, 256]);
    expect(Array.from(fromBf16(b.toBf16(), [3]).data)).toEqual([1, -3.5, 256]);
  });
});

describe("concat, stack, split, chunk", () => {
  it("concat along the last and the first axis", () => {
    const a = tensor([[1, 2], [3, 4]]);
    const b = tensor([[5], [6]]);
    expect(concat([a, b], 1).toArray()).toEqual([[1, 2, 5], [3, 4, 6]]);
    expect(concat([a, tensor([[7, 8]])], 0).toArray()).toEqual([[1, 2], [3, 4], [7, 8]]);
    // a non-contiguous input is read through its strides: torch.cat([a.T, a], 0)
    expect(concat([a.T, a], -2).toArray()).toEqual([[1, 3], [2, 4], [1, 2], [3, 4]]);
  });

  it("stack adds an axis", () => {
    const a = tensor([1, 2, 3]), b = tensor([4, 5, 6]);
    expect(stack([a, b]).toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(stack([a, b], 1).toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(stack([a, b], -1).shape).toEqual([3, 2]);
  });

  it("split by size and by sizes returns views; chunk splits into n", () => {
    const x = arange(10).reshape([5, 2]);
    const parts = split(x, 2);
    expect(parts.map((p) => p.shape[0])).toEqual([2, 2, 1]);
    expect(parts[2].toArray()).toEqual([[8, 9]]);
    expect(parts[1].storage).toBe(x.storage);
    const [left, right] = split(x, [1, 1], 1);
    expect(left.toArray()).toEqual([[0], [2], [4], [6], [8]]);
    expect(right.toArray()).toEqual([[1], [3], [5], [7], [9]]);
    expect(chunk(arange(7), 3).map((c) => Array.from(c.data))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });
});

describe("indexing and masks", () => {
  it("embedding gathers rows, shaped like the ids", () => {
    const table = arange(12).reshape([4, 3]);
    expect(embedding(table, [3, 0, 3]).toArray()).toEqual([[9, 10, 11], [0, 1, 2], [9, 10, 11]]);
    expect(embedding(table, new Int32Array([1])).shape).toEqual([1, 3]);
    const ids = indexTensor([0, 1, 2, 3], [2, 2]);
    expect(embedding(table, ids).shape).toEqual([2, 2, 3]);
    expect(embedding(table, ids).get(1, 0, 2)).toBe(8);
  });

  it("indexSelect on a middle axis", () => {
    const x = arange(24).reshape([2, 3, 4]);
    // torch.index_select(x, 1, [2, 0])
    expect(x.indexSelect(1, [2, 0]).toArray()).toEqual([
      [[8, 9, 10, 11], [0, 1, 2, 3]],
      [[20, 21, 22, 23], [12, 13, 14, 15]],
    ]);
  });

  it("argmax returns Int32 indices; ties go to the first, like torch", () => {
    const x = tensor([[1, 5, 5], [7, 0, 7]]);
    const r = argmax(x, 1);
    expect(r.shape).toEqual([2]);
    expect(r.data).toBeInstanceOf(Int32Array);
    expect(Array.from(r.data)).toEqual([1, 0]);
    expect(Array.from(argmax(x).data)).toEqual([3]);
    expect(argmax(x, 0, true).shape).toEqual([1, 3]);
  });

  it("where and maskedFill broadcast the mask; a causal mask built from comparisons", () => {
    const x = tensor([[1, -2], [-3, 4]]);
    expect(where(x.gt(0), x, 0).toArray()).toEqual([[1, 0], [0, 4]]);
    expect(where(tensor([1, 0]), 7, x).toArray()).toEqual([[7, -2], [7, 4]]);
    // torch.triu(ones(3, 3), 1) via arange(3)[None, :] > arange(3)[:, None]
    const future = arange(3).unsqueeze(0).gt(arange(3).unsqueeze(1));
    expect(zeros([3, 3]).maskedFill(future, -Infinity).toArray()).toEqual([
      [0, -Infinity, -Infinity], [0, 0, -Infinity], [0, 0, 0],
    ]);
  });
});
