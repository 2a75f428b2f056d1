// Non-contiguous inputs: every op must give exactly what it gives on a contiguous copy of the
// same values (the arithmetic is the same, only the addressing differs), and sumToShape must
// undo a broadcast the way autograd needs.
import { describe, expect, it } from "vitest";
import {
  Rng, add, argmax, attention, broadcastShapes, layerNorm, logSoftmax, matmul, max, mean, ones, randn,
  rmsNorm, rope, softmax, sub, sum, sumToShape, tensor, variance,
} from "../src/index";
import type { Tensor } from "../src/index";

const g = new Rng(11);
// a [3,4,5] tensor seen through a permute and a stepped slice: strides [1, 40, 8], offset 2
const base = randn([5, 4, 6, 2], g);
const strided = base.select(3, 0).slice(2, 1, 6).permute([2, 1, 0]).slice(1, 0, 4);
const copy = strided.contiguous();

function same(a: Tensor, b: Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.data)).toEqual(Array.from(b.data));
}

describe("ops on strided views equal the ops on contiguous copies", () => {
  it("the view really is strided", () => {
    expect(strided.isContiguous()).toBe(false);
    expect(strided.shape).toEqual([5, 4, 5]);
    expect(copy.storage).not.toBe(strided.storage);
  });

  it("elementwise and broadcasting", () => {
    same(add(strided, strided.select(0, 1)), add(copy, copy.select(0, 1)));
    same(sub(strided.slice(2, 0, 1), strided), sub(copy.slice(2, 0, 1), copy));
    same(strided.exp(), copy.exp());
    same(strided.gelu(), copy.gelu());
  });

  it("reductions along every axis", () => {
    for (const axis of [0, 1, 2, [0, 2], undefined]) {
      same(sum(strided, axis, true), sum(copy, axis, true));
      same(mean(strided, axis), mean(copy, axis));
      same(max(strided, axis), max(copy, axis));
      same(variance(strided, axis), variance(copy, axis));
    }
    expect(Array.from(argmax(strided, 1).data)).toEqual(Array.from(argmax(copy, 1).data));
  });

  it("softmax, norms, matmul, rope, attention", () => {
    for (const axis of [0, 1, -1]) {
      same(softmax(strided, axis), softmax(copy, axis));
      same(logSoftmax(strided, axis), logSoftmax(copy, axis));
    }
    const w = randn([5], g);
    same(layerNorm(strided, w, w), layerNorm(copy, w, w));
    same(rmsNorm(strided, w), rmsNorm(copy, w));
    same(matmul(strided, strided.transpose(1, 2)), matmul(copy, copy.transpose(1, 2).contiguous()));
    const x = strided.slice(2, 0, 4); // [seq 5, heads 4, headDim 4], strided
    same(rope(x, "half", { pos0: 2 }), rope(x.contiguous(), "half", { pos0: 2 }));
    same(attention(x, x.slice(1, 0, 2), x.slice(1, 2, 4)), attention(x.contiguous(), x.slice(1, 0, 2).contiguous(), x.slice(1, 2, 4).contiguous()));
  });
});

describe("sumToShape", () => {
  it("reduces a broadcast result back to each operand's shape", () => {
    for (const [sa, sb] of [[[2, 1, 3], [4, 1]], [[3], [2, 3]], [[1, 1], [5, 1]]]) {
      const out = broadcastShapes("test", sa, sb);
      const grad = ones(out);
      // d(a+b)/da summed over broadcast positions = number of copies of each element of a
      const copies = out.reduce((n, d) => n * d, 1) / sa.reduce((n, d) => n * d, 1);
      const ga = sumToShape(grad, sa);
      expect(ga.shape).toEqual(sa);
      expect(Array.from(ga.data).every((v) => v === copies)).toBe(true);
    }
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(sumToShape(x, [3]).toArray()).toEqual([5, 7, 9]);
    expect(sumToShape(x, [2, 1]).toArray()).toEqual([[6], [15]]);
    expect(sumToShape(x, [2, 3])).toBe(x);
    expect(() => sumToShape(x, [4])).toThrowError(/sumToShape: \[2,3\] to \[4\]/);
  });
});
