import { describe, expect, it } from "vitest";
import { Rng, Value, hingeLoss, l2Penalty, makeMoons, mseLoss, signAccuracy } from "../src/index";

describe("makeMoons", () => {
  it("without noise, points lie exactly on the two arcs with labels −1 / +1", () => {
    const { inputs, labels } = makeMoons(7, { noise: 0 });
    expect(inputs.length).toBe(7);
    expect(labels).toEqual([-1, -1, -1, 1, 1, 1, 1]);
    for (let i = 0; i < 3; i++) expect(Math.hypot(inputs[i][0], inputs[i][1])).toBeCloseTo(1, 14);
    for (let i = 3; i < 7; i++) expect(Math.hypot(inputs[i][0] - 1, inputs[i][1] - 0.5)).toBeCloseTo(1, 14);
    expect(inputs[0]).toEqual([1, 0]);
    expect(inputs[3][0]).toBeCloseTo(0, 15);
    expect(inputs[3][1]).toBeCloseTo(0.5, 15);
  });

  it("is reproducible by seed and rejects bad arguments", () => {
    expect(makeMoons(20, { rng: new Rng(4) })).toEqual(makeMoons(20, { rng: new Rng(4) }));
    expect(makeMoons(20, { rng: new Rng(4) })).not.toEqual(makeMoons(20, { rng: new Rng(5) }));
    expect(() => makeMoons(1)).toThrow(expect.objectContaining({ code: "AUTOGRAD_BAD_ARGUMENT" }));
    expect(() => makeMoons(10, { noise: -1 })).toThrow(/expected noise ≥ 0, found -1/);
  });
});

describe("losses", () => {
  it("hinge: mean relu(1 − y·s), with its gradient −y/n on active margins", () => {
    const s = [new Value(2), new Value(0.5), new Value(-0.25)];
    const loss = hingeLoss(s, [1, 1, 1]);
    expect(loss.data).toBeCloseTo((0 + 0.5 + 1.25) / 3, 15);
    loss.backward();
    expect(s.map((v) => v.grad)).toEqual([0, -1 / 3, -1 / 3]);
    expect(signAccuracy(s, [1, 1, 1])).toBeCloseTo(2 / 3, 15);
  });

  it("mse and l2, and mismatched lengths throw AUTOGRAD_INPUT_SIZE", () => {
    const p = [new Value(1), new Value(-2)];
    expect(mseLoss(p, [0, 0]).data).toBe(2.5);
    expect(l2Penalty(p, 0.5).data).toBe(2.5);
    expect(() => mseLoss(p, [0])).toThrow(expect.objectContaining({ code: "AUTOGRAD_INPUT_SIZE" }));
    expect(() => hingeLoss([], [])).toThrow(/at least one/);
  });
});
