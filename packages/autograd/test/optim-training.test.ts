// Optimizer mechanics: exact state save/restore, gradient accumulation, frozen parameters,
// learning-rate schedules, argument checks.
import { describe, expect, it } from "vitest";
import { Rng, Tensor } from "@zero-llm/tensor";
import { AutogradError, F, Var, nn, optim, param } from "../src/index";

function data(g: Rng, n: number): { x: Var; y: Int32Array } {
  const x = new Float32Array(n * 4);
  for (let i = 0; i < x.length; i++) x[i] = g.normal();
  const y = Int32Array.from({ length: n }, (_, i) => (x[i * 4] + x[i * 4 + 1] > 0 ? 1 : 0));
  return { x: new Var(new Tensor(x, [n, 4])), y };
}

class Net extends nn.Module {
  readonly fc1 = this.child("fc1", new nn.Linear(4, 8, { generator: new Rng(1) }));
  readonly fc2 = this.child("fc2", new nn.Linear(8, 2, { generator: new Rng(2) }));
  forward(x: Var): Var {
    return this.fc2.forward(F.relu(this.fc1.forward(x)));
  }
}

function step(net: Net, opt: optim.Optimizer, batch: { x: Var; y: Int32Array }): number {
  opt.zeroGrad();
  const loss = F.crossEntropy(net.forward(batch.x), batch.y);
  loss.backward();
  opt.step();
  return loss.item();
}

describe("optimizer state", () => {
  it("save after 3 steps, restore into a fresh model and optimizer: the next 3 steps match bit for bit", () => {
    const batch = data(new Rng(9), 16);
    const a = new Net();
    const optA = new optim.AdamW(a.parameters(), { lr: 1e-2, weightDecay: 0.1 });
    for (let s = 0; s < 3; s++) step(a, optA, batch);
    const saved = { model: a.stateDict(), opt: optA.stateDict() };
    const lossesA = [0, 1, 2].map(() => step(a, optA, batch));

    const b = new Net();
    const optB = new optim.AdamW(b.parameters(), { lr: 0.5, weightDecay: 0.1 });
    b.loadStateDict(saved.model);
    optB.loadStateDict(saved.opt);
    expect(optB.lr).toBe(1e-2);
    const lossesB = [0, 1, 2].map(() => step(b, optB, batch));
    expect(lossesB).toEqual(lossesA);
    for (const [name, p] of b.namedParameters()) expect(Array.from(p.data), name).toEqual(Array.from(a.stateDict().get(name)!.data));
  });

  it("stateDict is a copy: later steps do not change it", () => {
    const net = new Net();
    const opt = new optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
    const batch = data(new Rng(3), 8);
    step(net, opt, batch);
    const saved = opt.stateDict();
    const before = saved.buffers.momentum[0]!.slice();
    step(net, opt, batch);
    expect(Array.from(saved.buffers.momentum[0]!)).toEqual(Array.from(before));
    expect(saved.steps).toEqual([1, 1, 1, 1]);
  });

  it("rejects a state for a different parameter list", () => {
    const opt = new optim.Adam(new Net().parameters(), { lr: 1e-3 });
    const other = new optim.Adam(new Net().parameters().slice(0, 2), { lr: 1e-3 });
    expect(() => opt.loadStateDict(other.stateDict())).toThrow(AutogradError);
  });

  it("rejects a state saved by an optimizer with other settings, or for parameters in another order", () => {
    const params = new Net().parameters();
    const saved = new optim.AdamW(params, { lr: 1e-3, betas: [0.9, 0.95] }).stateDict();
    expect(saved.hyperparameters).toEqual({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01, decoupled: true });
    expect(() => new optim.AdamW(params, { lr: 1e-3 }).loadStateDict(saved)).toThrow(/expected beta2 = 0.999 as this optimizer was built with, found 0.95/);
    expect(() => new optim.Adam(params, { lr: 1e-3, betas: [0.9, 0.95], weightDecay: 0.01 }).loadStateDict(saved)).toThrow(/decoupled/);
    const sgd = new optim.SGD(params, { lr: 0.1, momentum: 0.9 }).stateDict();
    expect(() => new optim.SGD(params, { lr: 0.1, momentum: 0.5 }).loadStateDict(sgd)).toThrow(/momentum = 0.5/);
    expect(() => new optim.SGD([...params].reverse(), { lr: 0.1, momentum: 0.9 }).loadStateDict(sgd)).toThrow(/parameters in another order/);
    // a state without the optional fields (an older checkpoint) is still accepted on its buffers
    const { hyperparameters: _h, sizes: _s, ...bare } = saved;
    expect(() => new optim.AdamW(params, { lr: 1e-3, betas: [0.9, 0.95] }).loadStateDict(bare)).not.toThrow();
  });
});

describe("gradient accumulation", () => {
  it("scaleGrads multiplies every gradient and skips parameters without one", () => {
    const a = param(new Tensor(Float32Array.of(1, -2), [2]));
    const b = param(new Tensor(Float32Array.of(3), [1]));
    F.sum(F.mul(a, 3)).backward();
    optim.scaleGrads([a, b], 0.5);
    expect(Array.from(a.grad!.data)).toEqual([1.5, 1.5]);
    expect(b.grad).toBeNull();
  });

  it("two half batches with loss/2 each give the full batch's gradient", () => {
    const batch = data(new Rng(4), 12);
    const half = (lo: number, hi: number): { x: Var; y: Int32Array } => ({ x: F.slice(batch.x, 0, lo, hi), y: batch.y.slice(lo, hi) });
    const full = new Net();
    F.crossEntropy(full.forward(batch.x), batch.y).backward();
    const acc = new Net();
    for (const part of [half(0, 6), half(6, 12)]) F.mul(F.crossEntropy(acc.forward(part.x), part.y), 0.5).backward();
    const fullGrads = full.parameters().map((p) => p.grad!.data);
    acc.parameters().forEach((p, i) => p.grad!.data.forEach((g, j) => expect(Math.abs(g - fullGrads[i][j])).toBeLessThan(1e-6)));
  });
});

describe("frozen parameters", () => {
  it("a frozen layer keeps its values through optimizer steps; the rest trains", () => {
    const net = new Net();
    net.fc1.freeze();
    const before = net.fc1.weight.data.slice();
    const fc2Before = net.fc2.weight.data.slice();
    const opt = new optim.AdamW(net.parameters(), { lr: 1e-2 });
    step(net, opt, data(new Rng(5), 8));
    expect(Array.from(net.fc1.weight.data)).toEqual(Array.from(before));
    expect(Array.from(net.fc2.weight.data)).not.toEqual(Array.from(fc2Before));
    expect(net.numParameters({ trainableOnly: true })).toBe(8 * 2 + 2);
  });
});

describe("learning-rate schedules", () => {
  it("linear warmup then cosine decay to the floor", () => {
    const lr = optim.warmupCosineLr({ maxLr: 1e-3, minLr: 1e-4, warmupSteps: 10, totalSteps: 110 });
    expect(lr(0)).toBeCloseTo(1e-4, 12);
    expect(lr(9)).toBeCloseTo(1e-3, 12);
    expect(lr(10)).toBeCloseTo(1e-3, 12);
    expect(lr(60)).toBeCloseTo(1e-4 + 0.5 * 9e-4, 12); // halfway: cos(π/2) = 0
    expect(lr(110)).toBeCloseTo(1e-4, 12);
    expect(lr(500)).toBe(1e-4);
    expect(optim.constantLr(3e-4)(1234)).toBe(3e-4);
  });
  it("training with a schedule: set opt.lr before each step", () => {
    const net = new Net();
    const opt = new optim.AdamW(net.parameters(), { lr: 0 });
    const schedule = optim.warmupCosineLr({ maxLr: 2e-2, warmupSteps: 5, totalSteps: 60 });
    const batch = data(new Rng(6), 32);
    const losses: number[] = [];
    for (let s = 0; s < 60; s++) {
      opt.lr = schedule(s);
      losses.push(step(net, opt, batch));
    }
    expect(losses[59]).toBeLessThan(0.5 * losses[0]);
  });
  it("rejects warmup longer than the run", () => {
    expect(() => optim.warmupCosineLr({ maxLr: 1, warmupSteps: 10, totalSteps: 5 })).toThrow(AutogradError);
  });
});
