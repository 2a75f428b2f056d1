// linearBlocks (a frozen weight decoded a block of rows at a time, QLoRA's base layer) against
// linear over the same f32 matrix: the same values and input gradients, on every backend, for
// shapes below, at and past a block (ROW_BLOCK rows), and a finite-difference check.
import { expect, it } from "vitest";
import type { Tensor } from "@zero-llm/tensor";
import { Rng } from "@zero-llm/tensor";
import { F, ROW_BLOCK, Var, noGrad, type RowBlocks } from "../src/index";
import { describeOnBackends } from "./backends";
import { gradcheck, randomTensor } from "./tensor-gradcheck-util";

/** An f32 matrix behind the RowBlocks interface, counting the rows it hands out. */
function rowsOf(w: Tensor): RowBlocks & { rowsRead: number; largestRead: number } {
  const [outFeatures, inFeatures] = w.shape;
  return {
    outFeatures, inFeatures, rowsRead: 0, largestRead: 0,
    readRows(out, firstRow, rows) {
      expect(out.length).toBe(rows * inFeatures);
      out.set(w.data.subarray(firstRow * inFeatures, (firstRow + rows) * inFeatures));
      this.rowsRead += rows;
      this.largestRead = Math.max(this.largestRead, rows);
    },
  };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describeOnBackends("linearBlocks", () => {
  const g = new Rng(7);
  it.each([
    [[3, 5], 4],
    [[2, 3, 16], ROW_BLOCK],
    [[4, 24], ROW_BLOCK * 2 + 5],
  ])("x %j, %i output rows: linear's values and input gradient, W read once per pass, a block at a time", (xShape, outF) => {
    const inF = xShape[xShape.length - 1];
    const w = randomTensor([outF, inF], g);
    const bias = randomTensor([outF], g);
    const xa = new Var(randomTensor(xShape, g), { requiresGrad: true });
    const xb = new Var(xa.value.clone(), { requiresGrad: true });
    const blocks = rowsOf(w);
    const ours = F.linearBlocks(xa, blocks, new Var(bias));
    const theirs = F.linear(xb, new Var(w), new Var(bias));
    expect(ours.shape).toEqual(theirs.shape);
    expect(maxAbsDiff(ours.data, theirs.data)).toBeLessThan(1e-5);
    expect(blocks.rowsRead).toBe(outF);
    const cotangent = randomTensor(ours.shape, g);
    ours.backward(cotangent);
    theirs.backward(cotangent);
    expect(maxAbsDiff(xa.grad!.data, xb.grad!.data)).toBeLessThan(1e-5);
    expect(blocks.rowsRead).toBe(2 * outF);
    expect(blocks.largestRead).toBeLessThanOrEqual(ROW_BLOCK);
  });

  it("finite differences: x and the bias", () => {
    const w = randomTensor([70, 6], g);
    gradcheck(([x, b]) => F.linearBlocks(x, rowsOf(w), b), [randomTensor([2, 3, 6], g), randomTensor([70], g)]);
  });

  it("records no graph under noGrad and refuses a shape mismatch", () => {
    const w = rowsOf(randomTensor([4, 5], g));
    const y = noGrad(() => F.linearBlocks(new Var(randomTensor([2, 5], g), { requiresGrad: true }), w));
    expect(y.requiresGrad).toBe(false);
    expect(() => F.linearBlocks(new Var(randomTensor([2, 6], g)), w)).toThrow(/linearBlocks: expected x \[\.\.\., in\]/);
  });
});
