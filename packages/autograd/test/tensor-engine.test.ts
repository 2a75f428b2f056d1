// Semantics of the tensor engine: accumulation, graph freeing, grad mode, detach, freezing,
// errors, deep graphs.
import { describe, expect, it } from "vitest";
import { Rng, Tensor, createWasmBackend, getBackend, setBackend } from "@zero-llm/tensor";
import { AutogradError, F, Var, isGradEnabled, nn, noGrad, optim, param, scratchBytes, scratchScope } from "../src/index";

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

  it("a second backward through a node freed by the first throws instead of losing its gradient", () => {
    // h feeds two losses: after l1.backward() frees h, l2's walk would stop at h as if it were
    // a leaf and x would silently miss the 2·e^x term
    const x = param(t([0.5, -1]));
    const h = F.exp(x);
    const l1 = F.sum(h), l2 = F.sum(F.mul(h, 2));
    l1.backward();
    expect(codeOf(() => l2.backward())).toBe("AUTOGRAD_BACKWARD");
    expect(() => l2.backward()).toThrow(/exp node of shape \[2\] freed by an earlier backward/);
    // with the graph retained both passes add up: d(Σh + Σ2h)/dx = 3e^x
    const y = param(t([0.5, -1]));
    const k = F.exp(y);
    F.sum(k).backward(undefined, { retainGraph: true });
    F.sum(F.mul(k, 2)).backward();
    expect(Array.from(y.grad!.data)).toEqual([0.5, -1].map((v) => Math.fround(3 * Math.fround(Math.exp(v)))));
  });

  it("a gradient handed on without a copy (reshape, add) is never shared by two variables", () => {
    // r = reshape(x) passes dL/dr on as x's gradient buffer, and add passes its gradient to
    // one operand; the other operand and later contributions must not write into that buffer
    const x = param(t([1, 2, 3, 4], [2, 2]));
    const w = param(t([1, 1, 1, 1], [4]));
    const r = F.reshape(x, [4]);
    const s = F.add(r, w); // both operands receive dL/ds
    F.sum(F.mul(F.add(s, r), new Var(t([1, 2, 3, 4])))).backward();
    // dL/dx = 2·c, dL/dw = c with c = [1, 2, 3, 4]
    expect(Array.from(x.grad!.data)).toEqual([2, 4, 6, 8]);
    expect(Array.from(w.grad!.data)).toEqual([1, 2, 3, 4]);
    expect(x.grad!.storage).not.toBe(w.grad!.storage);
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

describe("memory: a training step holds nothing into the next", () => {
  it("inside scratchScope every activation and interior gradient is released; the block stops growing after the first steps", async () => {
    const previous = getBackend();
    const backend = await createWasmBackend({ threads: 1 });
    setBackend(backend);
    try {
      const g = new Rng(1);
      const net = { ln: new nn.LayerNorm(16), fc1: new nn.Linear(16, 64, { generator: g }), fc2: new nn.Linear(64, 16, { generator: g }) };
      const params = [...net.ln.parameters(), ...net.fc1.parameters(), ...net.fc2.parameters()];
      const opt = new optim.AdamW(params, { lr: 1e-3 });
      const x = new Var(new Tensor(new Float32Array(32 * 16).map(() => g.normal()), [32, 16]));
      const used: number[] = [], scratch: number[] = [];
      for (let step = 0; step < 12; step++) {
        opt.zeroGrad();
        scratchScope(() => {
          const y = net.fc2.forward(F.gelu(net.fc1.forward(net.ln.forward(x))));
          F.mean(F.mul(y, y)).backward();
        });
        opt.step();
        used.push(backend.usedBytes);
        scratch.push(scratchBytes());
      }
      // the first steps size the block (and allocate the gradients and Adam moments once)
      expect(new Set(used.slice(3)).size).toBe(1);
      expect(new Set(scratch.slice(3)).size).toBe(1);
      expect(scratch[11]).toBeGreaterThan(0);
    } finally {
      setBackend(previous);
      await backend.dispose();
    }
  });

  it("outside a scope the graph is garbage once backward has run: live interior nodes do not pile up", async () => {
    const live = new Set<WeakRef<Var>>();
    const w = param(new Tensor(new Float32Array(64).fill(0.1), [8, 8]));
    for (let step = 0; step < 50; step++) {
      let h: Var = new Var(new Tensor(new Float32Array(8 * 8).fill(1), [8, 8]));
      for (let i = 0; i < 4; i++) {
        h = F.tanh(F.matmul(h, w));
        live.add(new WeakRef(h));
      }
      F.sum(h).backward();
      w.zeroGrad();
    }
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, "vitest.config.ts runs the tests with --expose-gc").toBeTypeOf("function");
    for (let i = 0; i < 3; i++) {
      gc!();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const alive = [...live].filter((ref) => ref.deref() !== undefined).length;
    expect(alive).toBeLessThanOrEqual(4); // at most the last step's nodes, still in scope here
  });
});

describe("pow", () => {
  it("pow(0) has gradient 0 everywhere, also at x = 0 (PyTorch's rule)", () => {
    const x = param(t([0, 2, -3]));
    F.sum(F.pow(x, 0)).backward();
    expect(Array.from(x.grad!.data)).toEqual([0, 0, 0]);
  });
});
