// SGD, Adam and AdamW trajectories and clip_grad_norm_ against PyTorch float64
// (tools/fixtures/make_block_fixture.py -> test/fixtures/optim.json).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Tensor } from "@zero-llm/tensor";
import { F, optim, param } from "../src/index";
import type { Var } from "../src/index";

interface OptimFixture {
  p0: number[];
  w: number[];
  u: number[];
  cases: { kind: "sgd" | "adam" | "adamw"; options: Record<string, number | boolean | number[]>; trajectory: number[][] }[];
  clip: { maxNorm: number; norm: number; grad: number[] };
}

const fx = JSON.parse(readFileSync(fileURLToPath(new URL("./fixtures/optim.json", import.meta.url)), "utf8")) as OptimFixture;
const vec = (v: number[]): Tensor => new Tensor(Float32Array.from(v), [v.length]);
const w = vec(fx.w), u = vec(fx.u);

/** L(p) = Σ ½·w·p² + u·tanh(p), the fixture's function. */
function loss(p: Var): Var {
  return F.sum(F.add(F.mul(F.mul(p, p), F.mul(param(w), 0.5)), F.mul(F.tanh(p), param(u))));
}

function make(kind: string, o: Record<string, number | boolean | number[]>, p: Var): optim.Optimizer {
  const lr = o.lr as number;
  const weightDecay = o.weight_decay as number | undefined;
  if (kind === "sgd") {
    return new optim.SGD([p], { lr, momentum: o.momentum as number, dampening: o.dampening as number, nesterov: o.nesterov as boolean, weightDecay });
  }
  const betas = o.betas as [number, number] | undefined;
  const opts = { lr, weightDecay, betas, eps: o.eps as number | undefined };
  return kind === "adam" ? new optim.Adam([p], opts) : new optim.AdamW([p], opts);
}

describe("optimizers follow PyTorch's trajectories for 5 steps (|diff| <= 2e-6)", () => {
  for (const c of fx.cases) {
    it(`${c.kind} ${JSON.stringify(c.options)}`, () => {
      const p = param(vec(fx.p0));
      const opt = make(c.kind, c.options, p);
      for (const expected of c.trajectory) {
        opt.zeroGrad();
        loss(p).backward();
        opt.step();
        expected.forEach((e, i) => expect(Math.abs(p.data[i] - e)).toBeLessThanOrEqual(2e-6));
      }
    });
  }
});

describe("clipGradNorm", () => {
  it("returns the pre-clip norm and scales the gradient to maxNorm, as clip_grad_norm_", () => {
    const p = param(vec(fx.p0));
    loss(p).backward();
    const norm = optim.clipGradNorm([p], fx.clip.maxNorm);
    expect(Math.abs(norm - fx.clip.norm) / fx.clip.norm).toBeLessThan(1e-6);
    fx.clip.grad.forEach((g, i) => expect(Math.abs(p.grad!.data[i] - g)).toBeLessThan(1e-6));
  });
  it("leaves gradients alone when the norm is already below maxNorm", () => {
    const p = param(vec([1, 2]));
    F.sum(p).backward();
    expect(optim.clipGradNorm([p], 10)).toBeCloseTo(Math.SQRT2, 6);
    expect(Array.from(p.grad!.data)).toEqual([1, 1]);
  });
});
