import { describe, expect, it } from "vitest";
import { AutogradError, Value, topologicalOrder } from "../src/index";

/** The documented rules of the engine (README "Semantics"), one test each. */

function expectAutogradError(fn: () => unknown, code: string, messagePart: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(AutogradError);
  expect((caught as AutogradError).code).toBe(code);
  expect((caught as AutogradError).message).toMatch(messagePart);
}

describe("gradient accumulation", () => {
  it("a value used twice receives the sum of both paths", () => {
    const a = new Value(3);
    const b = a.add(a); // db/da = 2
    b.backward();
    expect(a.grad).toBe(2);

    const x = new Value(-2);
    const y = x.mul(x).add(x.mul(5)); // x² + 5x, dy/dx = 2x + 5 = 1
    y.backward();
    expect(x.grad).toBe(1);
  });

  it("a shared interior node passes on the sum of its parents' contributions exactly once", () => {
    const x = new Value(0.5);
    const h = x.tanh();
    const y = h.mul(h).add(h.mul(3)); // h² + 3h, dy/dx = (2h + 3)(1 − h²)
    y.backward();
    const t = Math.tanh(0.5);
    expect(x.grad).toBeCloseTo((2 * t + 3) * (1 - t * t), 15);
    expect(h.grad).toBeCloseTo(2 * t + 3, 15);
  });
});

describe("a second backward() without zeroGrad()", () => {
  it("accumulates into leaves (PyTorch retain_graph) and recomputes interior grads", () => {
    const x = new Value(1.5);
    const w = new Value(-2);
    const y = x.mul(w).tanh().mul(4);
    y.backward();
    const [gx, gw] = [x.grad, w.grad];
    const interior = y.children[0].grad;
    y.backward();
    expect(x.grad).toBe(2 * gx);
    expect(w.grad).toBe(2 * gw);
    expect(y.children[0].grad).toBe(interior); // interior grads describe the latest pass only
    expect(y.grad).toBe(1);
  });

  it("zeroGrad() on the output clears every node below it; Module-free graphs need nothing else", () => {
    const x = new Value(1.5);
    const y = x.mul(x).exp();
    y.backward();
    y.zeroGrad();
    for (const v of topologicalOrder(y)) expect(v.grad).toBe(0);
    y.backward();
    expect(x.grad).toBeCloseTo(2 * 1.5 * Math.exp(2.25), 12);
  });

  it("two outputs sharing a subgraph: backward from each adds both derivatives, without double counting", () => {
    const x = new Value(0.3);
    const h = x.exp();
    const l1 = h.mul(2);
    const l2 = h.pow(2);
    l1.backward();
    l2.backward();
    // dl1/dx + dl2/dx = 2eˣ + 2e²ˣ
    expect(x.grad).toBeCloseTo(2 * Math.exp(0.3) + 2 * Math.exp(0.6), 14);
  });
});

describe("backward() on a Value that is not the graph's root", () => {
  it("treats that Value as the output: only its subgraph is touched", () => {
    const a = new Value(2);
    const b = new Value(3);
    const c = a.mul(b); // interior node
    const d = c.add(new Value(10)).tanh();
    d.backward();
    const dGradOfC = c.grad;
    c.backward(); // dc/da = b, dc/db = a, added to what d.backward() left
    expect(a.grad).toBeCloseTo(3 * dGradOfC + 3, 14);
    expect(b.grad).toBeCloseTo(2 * dGradOfC + 2, 14);
    expect(c.grad).toBe(1);
    expect(d.grad).toBe(1); // above c: untouched
  });

  it("on a leaf: seeds its own grad, accumulating like any leaf", () => {
    const a = new Value(2);
    a.backward();
    a.backward();
    expect(a.grad).toBe(2);
  });
});

describe("deep graphs", () => {
  it("backward through a chain 100,000 nodes deep does not overflow the stack", () => {
    const x = new Value(0.5);
    let y = x;
    for (let i = 0; i < 100_000; i++) y = y.mul(1.00001).add(1e-6);
    y.backward();
    expect(x.grad).toBeCloseTo(1.00001 ** 100_000, 8);
    expect(topologicalOrder(y).length).toBe(1 + 2 * 100_000 + 2 * 100_000); // x, the constants, the ops
  });

  it("a deep chain where every node is reused (diamond at each level) stays linear", () => {
    const x = new Value(0.1);
    let y = x;
    for (let i = 0; i < 50_000; i++) y = y.add(y).mul(0.5); // identity with two paths per level
    y.backward();
    expect(y.data).toBeCloseTo(0.1, 12);
    expect(x.grad).toBeCloseTo(1, 12);
  });
});

describe("bad input", () => {
  it("non-finite or non-number leaves throw AUTOGRAD_NON_FINITE / AUTOGRAD_NOT_A_NUMBER", () => {
    expectAutogradError(() => new Value(NaN), "AUTOGRAD_NON_FINITE", /expected a finite number, found NaN/);
    expectAutogradError(() => new Value(Infinity), "AUTOGRAD_NON_FINITE", /found Infinity/);
    expectAutogradError(() => new Value(1).add(-Infinity), "AUTOGRAD_NON_FINITE", /add: expected a finite number, found -Infinity/);
    expectAutogradError(() => new Value(1).mul("2" as unknown as number), "AUTOGRAD_NOT_A_NUMBER", /mul: expected a number or a Value, found string/);
    expectAutogradError(() => Value.sum([1, NaN]), "AUTOGRAD_NON_FINITE", /Value.sum term 1/);
  });

  it("pow(0) is constant: its gradient is 0 everywhere, also at x = 0 (not 0·0⁻¹ = NaN), as PyTorch", () => {
    for (const x0 of [0, 2, -3]) {
      const x = new Value(x0);
      x.pow(0).backward();
      expect(x.grad).toBe(0);
    }
  });
  it("pow by a Value (or a non-finite exponent) throws AUTOGRAD_POW_EXPONENT", () => {
    const x = new Value(2);
    expectAutogradError(() => x.pow(new Value(3) as unknown as number), "AUTOGRAD_POW_EXPONENT", /expected the exponent to be a plain number, found Value/);
    expectAutogradError(() => x.pow(NaN), "AUTOGRAD_POW_EXPONENT", /expected a finite exponent, found NaN/);
  });

  it("op results follow IEEE-754 and propagate through backward (no error)", () => {
    const zero = new Value(0);
    const l = zero.log();
    expect(l.data).toBe(-Infinity);
    l.backward();
    expect(zero.grad).toBe(Infinity); // d ln x/dx = 1/x at 0

    const neg = new Value(-1);
    const y = neg.log().mul(2);
    y.backward();
    expect(Number.isNaN(y.data)).toBe(true);
    expect(neg.grad).toBe(-2); // the local rule 1/x is still finite at −1

    const big = new Value(1000);
    const e = big.exp();
    expect(e.data).toBe(Infinity);
    const q = new Value(0).div(new Value(0));
    expect(Number.isNaN(q.data)).toBe(true);
    const inf = e.sub(e); // ∞ − ∞
    inf.backward();
    expect(Number.isNaN(inf.data)).toBe(true);
    // d(e − e)/de = 1 − 1 = 0, then d/d(big) = eᵇⁱᵍ·0 = ∞·0 = NaN, as PyTorch computes it.
    expect(Number.isNaN(big.grad)).toBe(true);
  });

  it("sigmoid is stable at large |x| (no NaN from e^-x overflow)", () => {
    const a = new Value(-800);
    const s = a.sigmoid();
    s.backward();
    expect(s.data).toBe(0);
    expect(a.grad).toBe(0);
    expect(new Value(800).sigmoid().data).toBe(1);
  });
});

describe("small conveniences", () => {
  it("Value.sum of nothing is a leaf 0; toString shows data, grad and op", () => {
    const empty = Value.sum([]);
    expect(empty.op).toBe("leaf");
    expect(empty.data).toBe(0);
    const y = new Value(2).mul(3);
    expect(y.toString()).toBe("Value(data=6, grad=0, op=mul)");
  });
});
