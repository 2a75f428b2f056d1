// Every shape error is a TensorError with a stable code, naming the op and both shapes.
import { describe, expect, it } from "vitest";
import {
  TensorError, add, attention, concat, embedding, layerNorm, matmul, rmsNorm, rope, split, stack, tensor, zeros,
} from "../src/index";
import type { TensorErrorCode } from "../src/index";

function thrown(fn: () => unknown): TensorError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TensorError);
    return e as TensorError;
  }
  throw new Error("expected a TensorError, nothing was thrown");
}

function expectError(fn: () => unknown, code: TensorErrorCode, ...fragments: string[]): void {
  const e = thrown(fn);
  expect(e.code).toBe(code);
  for (const f of fragments) expect(e.message).toContain(f);
}

describe("shape errors", () => {
  it("matmul names both shapes and the inner dimensions, exactly", () => {
    const e = thrown(() => matmul(zeros([2, 3]), zeros([4, 5])));
    expect(e.code).toBe("SHAPE_MISMATCH");
    expect(e.message).toBe("matmul: [2,3] x [4,5]: inner dimensions 3 and 4 differ");
  });

  it("matmul batch dimensions that cannot broadcast", () => {
    expectError(() => matmul(zeros([2, 3, 4]), zeros([3, 4, 5])), "SHAPE_MISMATCH", "matmul: [2,3,4] x [3,4,5]", "[2]", "[3]");
    expectError(() => matmul(zeros([]), zeros([3])), "SHAPE_MISMATCH", "matmul: [] x [3]");
  });

  it("broadcasting elementwise ops", () => {
    expectError(() => add(zeros([2, 3]), zeros([4, 3])), "SHAPE_MISMATCH", "add: [2,3] and [4,3]", "2 and 4");
    expectError(() => zeros([3]).mul(zeros([2])), "SHAPE_MISMATCH", "mul: [3] and [2]");
    expectError(() => zeros([2, 3]).maskedFill(zeros([4, 3]), 0), "SHAPE_MISMATCH", "[2,3]", "[4,3]");
    expectError(() => zeros([3]).maskedFill(zeros([2, 3]), 0), "SHAPE_MISMATCH", "maskedFill: [3] and mask [2,3]");
  });

  it("reshape / view / expand", () => {
    expectError(() => zeros([2, 3]).reshape([4, 2]), "SHAPE_MISMATCH", "reshape: [2,3] -> [4,2]", "6", "8");
    expectError(() => zeros([2, 3]).reshape([4, -1]), "SHAPE_MISMATCH", "[2,3] -> [4,-1]");
    expectError(() => zeros([2, 3]).expand([4, 3]), "SHAPE_MISMATCH", "expand: [2,3] to [4,3]");
    expectError(() => zeros([2, 3]).expand([3]), "SHAPE_MISMATCH", "expand: [2,3] to [3]");
    expectError(() => zeros([2, 3]).T.view([6]), "NOT_VIEWABLE", "[3,2]", "[6]");
  });

  it("concat, stack and split", () => {
    expectError(() => concat([zeros([2, 3]), zeros([2, 4])], 0), "SHAPE_MISMATCH", "concat: [2,3] and [2,4]");
    expectError(() => stack([zeros([2, 3]), zeros([3, 2])]), "SHAPE_MISMATCH", "stack: [2,3] and [3,2]");
    expectError(() => split(zeros([5, 2]), [2, 2]), "SHAPE_MISMATCH", "split: [5,2] into [2,2]", "4", "5");
  });

  it("nn ops", () => {
    expectError(() => layerNorm(zeros([2, 8]), zeros([4])), "SHAPE_MISMATCH", "layerNorm: [2,8] and weight [4]");
    expectError(() => layerNorm(zeros([2, 8]), zeros([8]), zeros([3])), "SHAPE_MISMATCH", "bias [3]");
    expectError(() => rmsNorm(zeros([2, 8]), zeros([2, 8])), "SHAPE_MISMATCH", "rmsNorm: [2,8] and weight [2,8]");
    expectError(() => rope(zeros([4, 2, 5]), "half"), "SHAPE_MISMATCH", "rope: [4,2,5]");
    expectError(() => rope(zeros([4, 8]), "interleaved"), "SHAPE_MISMATCH", "rope: [4,8]");
    expectError(
      () => attention(zeros([4, 3, 8]), zeros([4, 2, 8]), zeros([4, 2, 8])),
      "SHAPE_MISMATCH", "attention: q, k, v = [4,3,8], [4,2,8], [4,2,8]", "nHeads 3", "nKvHeads 2",
    );
    expectError(() => attention(zeros([4, 2, 8]), zeros([3, 2, 8]), zeros([3, 2, 8])), "SHAPE_MISMATCH", "seqKv 3", "seqQ 4");
    expectError(() => attention(zeros([4, 2, 8]), zeros([4, 2, 4]), zeros([4, 2, 4])), "SHAPE_MISMATCH", "8 and 4");
    expectError(() => attention(zeros([4, 2, 8]), zeros([4, 2, 8]), zeros([5, 2, 8])), "SHAPE_MISMATCH", "k and v");
  });
});

describe("other boundary errors", () => {
  it("axes out of range", () => {
    expectError(() => zeros([2, 3]).sum(2), "INVALID_AXIS", "sum: axis 2", "2-d");
    expectError(() => zeros([2, 3]).transpose(0, -3), "INVALID_AXIS", "transpose");
    expectError(() => zeros([2, 3]).permute([0, 0]), "INVALID_AXIS", "permute");
    expectError(() => zeros([2, 3]).sum([1, -1]), "INVALID_AXIS", "repeats");
  });

  it("indices and ids out of range", () => {
    expectError(() => zeros([2, 3]).get(2, 0), "INDEX_OUT_OF_RANGE", "get: index 2 on axis 0", "[2,3]");
    expectError(() => zeros([2, 3]).select(1, 3), "INDEX_OUT_OF_RANGE", "select");
    expectError(() => embedding(zeros([4, 2]), [1, 4]), "INDEX_OUT_OF_RANGE", "id 4", "[4,2]");
  });

  it("bad data", () => {
    expectError(() => tensor([[1, 2], [3]]), "BAD_DATA", "ragged");
    expectError(() => tensor([1, 2, 3], [2, 2]), "BAD_DATA", "[2,2]", "4", "3");
    expectError(() => zeros([2, -1]), "INVALID_ARGUMENT", "[2,-1]");
    expectError(() => zeros([2, 3]).item(), "SHAPE_MISMATCH", "[2,3]");
  });
});
