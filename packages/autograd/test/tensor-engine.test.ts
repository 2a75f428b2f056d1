// Semantics of the tensor engine: accumulation, graph freeing, grad mode, detach, freezing,
// errors, deep graphs.
import { describe, expect, it } from "vitest";
import { Tensor } from "@zero-llm/tensor";
import { AutogradError, F, Var, isGradEnabled, noGrad, param } from "../src/index";

const t = (values: number[], shape = [values.length]): Tensor => new Tensor(Float32Array.from(values), shape);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof AutogradError) return e.code;
    throw e;
  }
  return "no error";
}

describe("gradients", () => {
  it("leaf gradients accumulate across backward calls until zeroGrad", () => {
    const x = param(t([1, 2, 3]));
    F.sum(F.mul(x, x)).backward();
    expect(Array.from(x.grad!.data)).toEqual([2, 4, 6]); // d Σx²/dx = 2x
    F.sum(F.mul(x, x)).backward();
    expect(Array.from(x.grad!.data)).toEqual([4, 8, 12]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  it("backward frees interior nodes: no gradient, no parents, no saved closure", () => {
    const x = param(t([1, 2]));
    const y = F.exp(x);
    const loss = F.sum(y);
    loss.backward();
    expect(y.grad).toBeNull();
    expect(y.inputs.length).toBe(0);
    expect(loss.inputs.length).toBe(0);
    expect(codeOf(() => loss.backward())).toBe("AUTOGRAD_BACKWARD");
  });

  it("retainGraph keeps the graph for a second pass", () => {
    const x = param(t([0.5]));
    const loss = F.sum(F.tanh(x));
    loss.backward(undefined, { retainGraph: true });
    loss.backward();
    expect(x.grad!.data[0]).toBeCloseTo(2 * (1 - Math.tanh(0.5) ** 2), 6);
  });

  it("a seed gradient drives backward from a non-scalar output", () => {
    const x = param(t([1, 2, 3]));
    F.mul(x, 3).backward(t([1, 0, -1]));
    expect(Array.from(x.grad!.data)).toEqual([3, 0, -3]);
  });

  it("rejects backward from a constant, from a non-scalar without a seed, and a misshapen seed", () => {
    expect(codeOf(() => new Var(t([1])).backward())).toBe("AUTOGRAD_BACKWARD");
    expect(codeOf(() => F.mul(param(t([1, 2])), 2).backward())).toBe("AUTOGRAD_BACKWARD");
    expect(codeOf(() => F.mul(param(t([1, 2])), 2).backward(t([1, 2, 3])))).toBe("AUTOGRAD_SHAPE_MISMATCH");
  });

  it("a graph 20,000 ops deep runs backward without overflowing the stack", () => {
    const x = param(t([0]));
    let y: Var = x;
    for (let i = 0; i < 20000; i++) y = F.add(y, 1);
    F.sum(y).backward();
    expect(x.grad!.data[0]).toBe(1);
  });
});

describe("grad mode, detach, freezing", () => {
  it("noGrad records nothing and restores the previous mode, even on throw", () => {
    const x = param(t([1, 2]));
    const y = noGrad(() => F.mul(x, x));
    expect(y.requiresGrad).toBe(false);
    expect(y.inputs.length).toBe(0);
    expect(isGradEnabled()).toBe(true);
    expect(() => noGrad(() => { throw new Error("boom"); })).toThrow("boom");
    expect(isGradEnabled()).toBe(true);
  });

  it("detach cuts the graph: gradient flows only through the attached path", () => {
    const x = param(t([3]));
    F.sum(F.mul(x, x.detach())).backward(); // d(x·c)/dx = c = 3
    expect(x.grad!.data[0]).toBe(3);
  });

  it("a frozen parameter (requiresGrad false) receives no gradient; the others do", () => {
    const w = param(t([1, 2], [1, 2]));
    const b = param(t([0.5]));
    w.requiresGrad = false;
    F.sum(F.linear(new Var(t([1, 1, 1, 1], [2, 2])), w, b)).backward();
    expect(w.grad).toBeNull();
    expect(Array.from(b.grad!.data)).toEqual([2]);
  });
});

describe("forward values match the tensor package", () => {
  it("matmul, softmax, layerNorm, gelu on the same inputs", () => {
    const a = t([1, 2, 3, 4, 5, 6], [2, 3]), b = t([1, -1, 0.5, 2, 0, 1], [3, 2]);
    expect(Array.from(F.matmul(new Var(a), new Var(b)).data)).toEqual(Array.from(a.matmul(b).data));
    expect(Array.from(F.softmax(new Var(a)).data)).toEqual(Array.from(a.softmax(-1).data));
    const w = t([1, 2, 3]), bias = t([0, 1, 0]);
    expect(Array.from(F.layerNorm(new Var(a), new Var(w), new Var(bias)).data)).toEqual(Array.from(a.layerNorm(w, bias).data));
    expect(Array.from(F.gelu(new Var(a)).data)).toEqual(Array.from(a.gelu().data));
  });
});
